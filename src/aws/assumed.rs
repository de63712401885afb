//! Credentials of a role in another account, assumed through STS (`AssumeRoleProvider`, the
//! SDK's own), cached until shortly before they expire so that no call is made with credentials
//! about to lapse, and a failure remembered for a few seconds so that an account whose role
//! cannot be assumed is not asked again by every model that waits on it.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use aws_config::{SdkConfig, sts::AssumeRoleProvider};
use aws_credential_types::{
    Credentials,
    provider::{ProvideCredentials, error::CredentialsError, future},
};
use aws_sdk_sts::{
    error::{DisplayErrorContext, ProvideErrorMetadata},
    operation::assume_role::AssumeRoleError,
};
use aws_smithy_runtime_api::{client::result::SdkError, http::Response as HttpResponse};
use tokio::sync::Mutex;

/// How long a failure to assume the role is remembered (and answered without asking STS).
const FAILURE_MEMORY: Duration = Duration::from_secs(5);
/// At most this long before expiry the credentials are replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

enum State {
    Empty,
    Held {
        credentials: Credentials,
        refresh_at: SystemTime,
    },
    Failed {
        message: String,
        until: Instant,
    },
}

/// The role's credentials, shared by every client of its account.
#[derive(Clone)]
pub struct AssumedRole {
    provider: Arc<AssumeRoleProvider>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for AssumedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AssumedRole")
    }
}

impl AssumedRole {
    /// `base` holds the operator's own credentials and Region; `sts_endpoint` replaces STS's
    /// (an emulator). The session name shows in the account's CloudTrail.
    pub async fn new(
        base: &SdkConfig,
        sts_endpoint: Option<&str>,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Self {
        let mut config = base.clone().into_builder();
        if let Some(url) = sts_endpoint {
            config = config.endpoint_url(url);
        }
        let mut builder = AssumeRoleProvider::builder(role_arn)
            .session_name(session_name)
            .configure(&config.build());
        if let Some(id) = external_id {
            builder = builder.external_id(id);
        }
        Self {
            provider: Arc::new(builder.build().await),
            state: Arc::new(Mutex::new(State::Empty)),
        }
    }

    /// Valid credentials: the held ones, or new ones from STS. `Err` is STS's answer.
    pub async fn credentials(&self) -> Result<Credentials, String> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Held {
                credentials,
                refresh_at,
            } if SystemTime::now() < *refresh_at => return Ok(credentials.clone()),
            State::Failed { message, until } if Instant::now() < *until => {
                return Err(message.clone());
            }
            _ => {}
        }
        match self.provider.provide_credentials().await {
            Ok(credentials) => {
                *state = State::Held {
                    refresh_at: refresh_time(&credentials, SystemTime::now()),
                    credentials: credentials.clone(),
                };
                Ok(credentials)
            }
            Err(e) => {
                let message = sts_message(&e);
                *state = State::Failed {
                    message: message.clone(),
                    until: Instant::now() + FAILURE_MEMORY,
                };
                Err(message)
            }
        }
    }
}

/// STS's code and message (`AccessDenied: User: ... is not authorized ...`); the SDK's whole
/// chain when STS did not answer.
fn sts_message(e: &CredentialsError) -> String {
    use std::error::Error as _;
    let sdk = e
        .source()
        .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>());
    match sdk.map(SdkError::as_service_error) {
        Some(Some(refusal)) => format!(
            "{}: {}",
            refusal.code().unwrap_or("error"),
            refusal.message().unwrap_or_default()
        ),
        _ => DisplayErrorContext(e).to_string(),
    }
}

/// When credentials issued `now` are replaced: a quarter of their lifetime before they expire,
/// at most five minutes before (short sessions, as in tests, get refreshed early enough too).
fn refresh_time(credentials: &Credentials, now: SystemTime) -> SystemTime {
    let Some(expiry) = credentials.expiry() else {
        return SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
    };
    let lifetime = expiry.duration_since(now).unwrap_or_default();
    expiry - (lifetime / 4).min(REFRESH_MARGIN)
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_well_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let expiring = |secs| {
            Credentials::new(
                "a",
                "b",
                Some("t".into()),
                Some(now + Duration::from_secs(secs)),
                "t",
            )
        };
        // An hour: five minutes before. Eight seconds: two seconds before.
        assert_eq!(
            refresh_time(&expiring(3600), now),
            now + Duration::from_secs(3300)
        );
        assert_eq!(
            refresh_time(&expiring(8), now),
            now + Duration::from_secs(6)
        );
    }
}
