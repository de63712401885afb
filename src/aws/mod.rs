//! What every AWS client of the operator shares: the configuration chain and one error type,
//! classified by the service's error code (or the HTTP status when the code is unknown).

pub mod account;
pub mod assumed;
pub mod clients;
pub mod listing;
pub mod pinpoint;

use std::time::Duration;

use aws_config::{SdkConfig, timeout::TimeoutConfig};
use aws_sdk_pinpoint::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_smithy_runtime_api::{client::result::SdkError, http::Response as HttpResponse};

/// Service names, as errors and messages show them.
pub const PINPOINT: &str = "Pinpoint";
pub const IAM: &str = "IAM";
pub const PERSONALIZE: &str = "Personalize";
pub const LAMBDA: &str = "Lambda";

/// What kind of failure an AWS call ended in; each maps to one condition reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// 400 and other client errors: the request itself is wrong.
    Rejected,
    /// 403: the operator's credentials may not do this, or may not pass the role.
    AccessDenied,
    /// 404: no such resource.
    NotFound,
    /// 429, or the service's throttling code.
    Throttled,
    /// 5xx, timeouts, refused or dropped connections.
    Unavailable,
}

impl AwsErrorKind {
    /// A metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            AwsErrorKind::Rejected => "rejected",
            AwsErrorKind::AccessDenied => "access_denied",
            AwsErrorKind::NotFound => "not_found",
            AwsErrorKind::Throttled => "throttled",
            AwsErrorKind::Unavailable => "unavailable",
        }
    }
}

/// A failed AWS call, with the service's own message.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{service} {operation} failed: {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    /// The service's error code (`EntityAlreadyExists`), empty when there was no answer.
    pub code: String,
    pub message: String,
}

/// Loads the standard AWS configuration chain (environment, profile, web identity, IMDS), with
/// timeouts so that a hung connection fails the call instead of the reconcile.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        // One HTTPS client (TLS settings, trusted roots, connection pool) for every SDK client
        // built from this configuration: without it each client (four services and STS, again
        // for every bound account) built its own; 50 accounts cost 30 MiB more that way.
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}

/// Maps an SDK error to a kind by the service's error code, falling back to the HTTP status.
pub fn classify<E>(
    service: &'static str,
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, code, message) = match &error {
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default().to_owned();
            let status = context.raw().status().as_u16();
            let kind = kind_for(&code, status);
            let message = context
                .err()
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{code} (HTTP {status})"));
            (kind, code, message)
        }
        _ => (
            AwsErrorKind::Unavailable,
            String::new(),
            DisplayErrorContext(&error).to_string(),
        ),
    };
    AwsError {
        service,
        operation,
        kind,
        code,
        message,
    }
}

/// The kind for a service error code (Pinpoint's, IAM's, Personalize's and Lambda's), or for
/// the HTTP status when the code is unknown.
pub fn kind_for(code: &str, status: u16) -> AwsErrorKind {
    match code {
        "BadRequestException"
        | "MethodNotAllowedException"
        | "PayloadTooLargeException"
        | "InvalidInputException"
        | "InvalidParameterValueException"
        | "ValidationError"
        | "MalformedPolicyDocument"
        | "EntityAlreadyExists"
        | "DeleteConflict"
        | "LimitExceeded" => AwsErrorKind::Rejected,
        "ForbiddenException" | "AccessDeniedException" | "AccessDenied" => {
            AwsErrorKind::AccessDenied
        }
        "NotFoundException" | "NoSuchEntity" | "ResourceNotFoundException" => {
            AwsErrorKind::NotFound
        }
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" => {
            AwsErrorKind::Throttled
        }
        "InternalServerErrorException"
        | "ServiceUnavailableException"
        | "ServiceFailure"
        | "ServiceException" => AwsErrorKind::Unavailable,
        _ => match status {
            403 => AwsErrorKind::AccessDenied,
            404 => AwsErrorKind::NotFound,
            429 => AwsErrorKind::Throttled,
            400..=499 => AwsErrorKind::Rejected,
            _ => AwsErrorKind::Unavailable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_statuses() {
        for (code, status, kind) in [
            ("TooManyRequestsException", 400, AwsErrorKind::Throttled),
            ("Throttling", 400, AwsErrorKind::Throttled),
            ("BadRequestException", 500, AwsErrorKind::Rejected),
            ("ForbiddenException", 400, AwsErrorKind::AccessDenied),
            ("NotFoundException", 200, AwsErrorKind::NotFound),
            ("NoSuchEntity", 400, AwsErrorKind::NotFound),
            ("ResourceNotFoundException", 400, AwsErrorKind::NotFound),
            (
                "InternalServerErrorException",
                400,
                AwsErrorKind::Unavailable,
            ),
            ("EntityAlreadyExists", 409, AwsErrorKind::Rejected),
        ] {
            assert_eq!(kind_for(code, status), kind, "{code} {status}");
        }
    }

    #[test]
    fn statuses_decide_unknown_codes() {
        assert_eq!(kind_for("", 403), AwsErrorKind::AccessDenied);
        assert_eq!(kind_for("Weird", 404), AwsErrorKind::NotFound);
        assert_eq!(kind_for("", 429), AwsErrorKind::Throttled);
        assert_eq!(kind_for("", 413), AwsErrorKind::Rejected);
        assert_eq!(kind_for("", 502), AwsErrorKind::Unavailable);
        assert_eq!(kind_for("", 200), AwsErrorKind::Unavailable);
    }
}
