//! What a pass can end in: `Error`, whose variants are the condition reasons, and `Note`, what a
//! pass did or found, for an event or the log.

use crate::{
    api::FieldError,
    aws::{AwsError, AwsErrorKind, PINPOINT},
    domain::conditions::{ConditionUpdate, RECONCILING, STALLED},
    pipeline::checks::{Failure, Problem},
};

/// Everything that can stop a model from being Ready; each variant is one condition reason, and
/// its name is the reason (`strum::IntoStaticStr`).
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum Error {
    #[error("the spec is invalid: {}", summarize(.0))]
    InvalidSpec(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    CampaignNotFound(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    CampaignNotActive(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    LambdaNotFound(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    LambdaNotInvokable(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    RoleNotFound(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    RoleNotTrusted(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    RoleNotOwned(Vec<FieldError>),
    #[error("{0}")]
    Rejected(AwsError),
    #[error("{0}")]
    AccessDenied(AwsError),
    #[error("{0}")]
    Throttled(AwsError),
    #[error(
        "{0} (Pinpoint holds at most 100 recommender configurations per account and Region; this model proceeds when one is deleted)"
    )]
    QuotaExceeded(AwsError),
    #[error("{0}")]
    PinpointUnavailable(AwsError),
    /// IAM, Personalize or Lambda did not answer.
    #[error("{0}")]
    AwsUnavailable(AwsError),
    #[error("{0}")]
    RoleNotAllowed(String),
    #[error("{0}")]
    AdoptionNotAllowed(String),
    /// The namespace has no account binding, and the tenancy settings refuse unbound namespaces.
    #[error("{0}")]
    AccountNotBound(String),
    /// The spec names a resource in another account than the namespace publishes into.
    #[error("{0}")]
    AccountMismatch(String),
    /// The role bound to the namespace could not be assumed (STS's answer).
    #[error("{0}")]
    AccountUnavailable(String),
    #[error("{0}")]
    ConfigurationInUse(String),
    #[error("{0}")]
    ConfigurationNotFound(String),
    #[error("the object cannot be read as a RecommenderModel of this version: {0}")]
    Unreadable(String),
    #[error("Kubernetes API request failed: {0}")]
    KubernetesError(#[source] kube::Error),
    #[error("finalizer handling failed: {0}")]
    FinalizerError(String),
}

impl Error {
    /// The condition reason: the variant's name.
    pub fn reason(&self) -> &'static str {
        self.into()
    }

    /// Whether the model cannot progress without a change by someone (to the spec, to IAM, to
    /// the account): kstatus's `Stalled`, which Flux reports as failed at once. Every other error
    /// is retried by the operator on its own: `Reconciling`. The Argo CD health check
    /// (`deploy/argocd`) names the same set for operators that predate `Stalled`.
    pub fn stalls(&self) -> bool {
        !matches!(
            self,
            Error::CampaignNotActive(_)
                | Error::Throttled(_)
                | Error::PinpointUnavailable(_)
                | Error::AwsUnavailable(_)
                | Error::AccountUnavailable(_)
                | Error::KubernetesError(_)
                | Error::FinalizerError(_)
        )
    }

    /// `Reconciling` and `Stalled` for a pass that ended in this error while `doing` (publishing,
    /// deleting); the one of the two that does not hold is removed. The message starts with the
    /// reason: kstatus reports only the message, and Flux shows it as the failure.
    pub fn progress_conditions(&self, doing: &str) -> [ConditionUpdate; 2] {
        let reason = self.reason();
        let stalls = self.stalls();
        [
            ConditionUpdate::new(
                RECONCILING,
                !stalls,
                reason,
                format!("{reason}: {doing}, retrying: {self}"),
            ),
            ConditionUpdate::new(
                STALLED,
                stalls,
                reason,
                format!("{reason}: {doing} needs a change: {self}"),
            ),
        ]
    }

    /// Errors that only a change to the object can fix: no retry loop.
    pub fn waits_for_change(&self) -> bool {
        matches!(
            self,
            Error::InvalidSpec(_)
                | Error::RoleNotAllowed(_)
                | Error::AdoptionNotAllowed(_)
                | Error::AccountNotBound(_)
                | Error::AccountMismatch(_)
                | Error::Unreadable(_)
        )
    }
}

impl Error {
    /// The error for failed checks, named for the first; every problem is in it.
    pub fn from_problems(problems: Vec<Problem>) -> Self {
        let first = problems.first().map(|p| p.failure);
        let errors = problems.into_iter().map(|p| p.error).collect();
        match first {
            Some(Failure::CampaignNotFound) | None => Error::CampaignNotFound(errors),
            Some(Failure::CampaignNotActive) => Error::CampaignNotActive(errors),
            Some(Failure::LambdaNotFound) => Error::LambdaNotFound(errors),
            Some(Failure::LambdaNotInvokable) => Error::LambdaNotInvokable(errors),
            Some(Failure::RoleNotFound) => Error::RoleNotFound(errors),
            Some(Failure::RoleNotTrusted) => Error::RoleNotTrusted(errors),
            Some(Failure::RoleNotOwned) => Error::RoleNotOwned(errors),
        }
    }

    /// The field problems this error reports in `status.validationErrors`: the spec's, or what
    /// the checks before publishing found.
    pub fn field_errors(&self) -> Option<&[FieldError]> {
        match self {
            Error::InvalidSpec(e)
            | Error::CampaignNotFound(e)
            | Error::CampaignNotActive(e)
            | Error::LambdaNotFound(e)
            | Error::LambdaNotInvokable(e)
            | Error::RoleNotFound(e)
            | Error::RoleNotTrusted(e)
            | Error::RoleNotOwned(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AwsError> for Error {
    fn from(e: AwsError) -> Self {
        let message = e.message.to_lowercase();
        match e.kind {
            AwsErrorKind::Rejected
                if e.operation == "CreateRecommenderConfiguration"
                    && (message.contains("limit") || message.contains("quota")) =>
            {
                Error::QuotaExceeded(e)
            }
            AwsErrorKind::Rejected | AwsErrorKind::NotFound => Error::Rejected(e),
            AwsErrorKind::AccessDenied => Error::AccessDenied(e),
            AwsErrorKind::Throttled => Error::Throttled(e),
            AwsErrorKind::Unavailable if e.service == PINPOINT => Error::PinpointUnavailable(e),
            AwsErrorKind::Unavailable => Error::AwsUnavailable(e),
        }
    }
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a pass did or found, for an event (or only the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
    /// Emitted as a Kubernetes Event; otherwise only logged.
    pub event: bool,
}

impl Note {
    pub fn normal(reason: &'static str, message: String) -> Self {
        Self {
            warning: false,
            reason,
            message,
            event: true,
        }
    }

    pub fn warning(reason: &'static str, message: String) -> Self {
        Self {
            warning: true,
            ..Self::normal(reason, message)
        }
    }

    /// The routine outcome of a new model: logged, not an Event, so that a new model costs the
    /// API server no write beyond the finalizer and the status; the status says the same.
    pub fn logged(reason: &'static str, message: String) -> Self {
        Self {
            event: false,
            ..Self::normal(reason, message)
        }
    }
}
