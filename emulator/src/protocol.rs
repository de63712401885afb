//! The five wire protocols the emulator answers on, and how each one spells an error.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::sigv4::AuthError;

/// IAM's XML namespace.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// STS's XML namespace.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Pinpoint: restJson1, error type in `x-amzn-ErrorType` and `__type`.
    Pinpoint,
    /// IAM: the query protocol, XML `ErrorResponse`.
    Iam,
    /// Personalize: awsJson1_1, `{"__type", "message"}`.
    Personalize,
    /// Lambda: restJson1, `x-amzn-ErrorType` and `{"Type", "message"}`.
    Lambda,
    /// STS: the query protocol, XML `ErrorResponse` in STS's namespace.
    Sts,
}

impl Protocol {
    /// The protocol an operation (by its AWS name) is served on.
    pub fn of(operation: &str) -> Self {
        match operation {
            "CreateRole" | "GetRole" | "DeleteRole" | "PutRolePolicy" | "GetRolePolicy"
            | "DeleteRolePolicy" | "ListRolePolicies" => Protocol::Iam,
            "DescribeCampaign" => Protocol::Personalize,
            "GetFunction" | "GetPolicy" => Protocol::Lambda,
            "AssumeRole" | "GetCallerIdentity" => Protocol::Sts,
            _ => Protocol::Pinpoint,
        }
    }

    /// The SigV4 signing name (the credential scope's service).
    pub fn signing_name(self) -> &'static str {
        match self {
            Protocol::Pinpoint => crate::sigv4::SIGNING_NAME,
            Protocol::Iam => "iam",
            Protocol::Personalize => "personalize",
            Protocol::Lambda => "lambda",
            Protocol::Sts => "sts",
        }
    }

    /// The error response in this protocol.
    pub fn error(self, status: StatusCode, code: &str, message: impl Into<String>) -> Response {
        let message = message.into();
        match self {
            Protocol::Pinpoint => crate::aws_error(status, code, message),
            Protocol::Iam => xml_error(IAM_XMLNS, status, code, &message),
            Protocol::Sts => xml_error(STS_XMLNS, status, code, &message),
            Protocol::Personalize => {
                let request_id = request_id();
                (
                    status,
                    [
                        ("content-type", "application/x-amz-json-1.1".to_owned()),
                        ("x-amzn-requestid", request_id),
                    ],
                    json!({ "__type": code, "message": message }).to_string(),
                )
                    .into_response()
            }
            Protocol::Lambda => {
                let kind = if status.is_server_error() {
                    "Service"
                } else {
                    "User"
                };
                (
                    status,
                    [
                        ("x-amzn-errortype", code.to_owned()),
                        ("x-amzn-requestid", request_id()),
                    ],
                    Json(json!({ "Type": kind, "message": message })),
                )
                    .into_response()
            }
        }
    }

    /// The refusal of a request whose signature does not verify (403).
    pub fn auth_error(self, error: &AuthError) -> Response {
        let code = match self {
            Protocol::Iam | Protocol::Sts => error.query_code(),
            _ => error.error_type(),
        };
        self.error(StatusCode::FORBIDDEN, code, error.message())
    }

    /// The status and error code an injected fault answers with, when the fault names only a
    /// status (or names both: the status is adjusted where the service never uses it).
    pub fn fault_error(self, status: StatusCode, code: Option<&str>) -> (StatusCode, String) {
        let s = status.as_u16();
        let (status, default) = match self {
            Protocol::Pinpoint => (
                status,
                match s {
                    400 => "BadRequestException",
                    403 => "ForbiddenException",
                    404 => "NotFoundException",
                    405 => "MethodNotAllowedException",
                    413 => "PayloadTooLargeException",
                    429 => "TooManyRequestsException",
                    _ => "InternalServerErrorException",
                },
            ),
            // IAM throttles with HTTP 400 and the code Throttling; it never answers 429.
            Protocol::Iam => match s {
                429 => (StatusCode::BAD_REQUEST, "Throttling"),
                400 => (status, "InvalidInput"),
                403 => (status, "AccessDenied"),
                404 => (status, "NoSuchEntity"),
                409 => (status, "ConcurrentModification"),
                503 => (status, "ServiceUnavailable"),
                _ if status.is_client_error() => (status, "InvalidInput"),
                _ => (status, "ServiceFailure"),
            },
            // STS, like IAM, throttles with 400 Throttling.
            Protocol::Sts => match s {
                429 => (StatusCode::BAD_REQUEST, "Throttling"),
                403 => (status, "AccessDenied"),
                503 => (status, "ServiceUnavailable"),
                _ if status.is_client_error() => (status, "ValidationError"),
                _ => (status, "InternalFailure"),
            },
            // Personalize answers every client error with 400.
            Protocol::Personalize => match s {
                429 => (StatusCode::BAD_REQUEST, "ThrottlingException"),
                400 => (status, "InvalidInputException"),
                403 => (status, "AccessDeniedException"),
                404 => (status, "ResourceNotFoundException"),
                409 => (status, "ResourceInUseException"),
                503 => (status, "ServiceUnavailable"),
                _ if status.is_client_error() => (status, "InvalidInputException"),
                _ => (status, "InternalFailure"),
            },
            Protocol::Lambda => (
                status,
                match s {
                    400 => "InvalidParameterValueException",
                    403 => "AccessDeniedException",
                    404 => "ResourceNotFoundException",
                    409 => "ResourceConflictException",
                    413 => "RequestTooLargeException",
                    429 => "TooManyRequestsException",
                    _ if status.is_client_error() => "InvalidParameterValueException",
                    _ => "ServiceException",
                },
            ),
        };
        (status, code.unwrap_or(default).to_owned())
    }
}

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Escapes text for an XML element's content.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// An XML element with `value` as its text.
pub fn xml_element(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", xml_escape(value))
}

/// AWS's message for a field that breaks a constraint of the service's model: `value` (`None`:
/// the field is missing) at `field`, and what it must be (`"must not be null"`).
pub fn validation_message(value: Option<&str>, field: &str, constraint: &str) -> String {
    let value = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
    format!(
        "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: \
         Member {constraint}"
    )
}

fn xml_error(xmlns: &str, status: StatusCode, code: &str, message: &str) -> Response {
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let request_id = request_id();
    let body = format!(
        "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{kind}</Type>\n    \
         <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message)
    );
    (
        status,
        [
            ("content-type", "text/xml".to_owned()),
            ("x-amzn-requestid", request_id),
        ],
        body,
    )
        .into_response()
}

/// A successful IAM answer: `<{action}Response>` with an optional `<{action}Result>`.
pub fn iam_ok(action: &str, result: Option<String>) -> Response {
    xml_ok(IAM_XMLNS, action, result)
}

/// A successful STS answer, shaped as IAM's.
pub fn sts_ok(action: &str, result: String) -> Response {
    xml_ok(STS_XMLNS, action, Some(result))
}

fn xml_ok(xmlns: &str, action: &str, result: Option<String>) -> Response {
    let request_id = request_id();
    let result = result
        .map(|inner| format!("  <{action}Result>\n{inner}  </{action}Result>\n"))
        .unwrap_or_default();
    let body = format!(
        "<{action}Response xmlns=\"{xmlns}\">\n{result}  <ResponseMetadata>\n    \
         <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    );
    (
        StatusCode::OK,
        [
            ("content-type", "text/xml".to_owned()),
            ("x-amzn-requestid", request_id),
        ],
        body,
    )
        .into_response()
}
