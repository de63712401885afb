//! An in-process Pinpoint emulator and an `SdkPinpoint` pointed at it.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::{Credentials, provider::SharedCredentialsProvider};
use recommender_operator::{
    account::{AccountServices, AccountSettings, SdkAccount},
    pinpoint::SdkPinpoint,
};
use serde_json::Value;

pub struct Emulator {
    pub url: String,
    http: reqwest::Client,
}

impl Emulator {
    pub async fn start() -> Self {
        Self::start_with(Default::default()).await
    }

    pub async fn start_with(settings: pinpoint_emulator::Settings) -> Self {
        let addr = pinpoint_emulator::spawn("127.0.0.1:0".parse().expect("address"), settings)
            .await
            .expect("start the emulator");
        Self {
            url: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    /// A client with the emulator's credentials; `attempts` 1 turns the SDK's retries off.
    pub fn pinpoint(&self, attempts: u32) -> SdkPinpoint {
        SdkPinpoint::new(sdk_config(attempts), Some(self.url.clone()))
    }

    /// Every stored configuration, as the admin API lists them.
    pub async fn configurations(&self) -> Vec<Value> {
        let v: Value = self.admin_get("configurations").await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Calls per operation so far.
    pub async fn calls(&self, operation: &str) -> u64 {
        let v: Value = self.admin_get("calls").await;
        v.get(operation).and_then(Value::as_u64).unwrap_or(0)
    }

    pub async fn fault(&self, fault: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/faults", self.url))
            .json(&fault)
            .send()
            .await
            .expect("add fault");
        assert!(
            r.status().is_success(),
            "fault rejected: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// IAM, Personalize and Lambda of the emulated account, with the operator's default
    /// settings except `checks`.
    pub fn account(&self, checks: bool) -> AccountServices {
        AccountServices::new(
            Box::new(SdkAccount::new(sdk_config(1), Some(self.url.clone()), None)),
            AccountSettings {
                checks,
                ..AccountSettings::default()
            },
        )
    }

    /// Adds or replaces campaigns, roles and functions in the emulated account.
    pub async fn seed(&self, seed: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/seed", self.url))
            .json(&seed)
            .send()
            .await
            .expect("seed the emulator");
        assert!(
            r.status().is_success(),
            "seed refused: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// Every IAM role in the emulated account.
    pub async fn roles(&self) -> Vec<Value> {
        let v: Value = self.admin_get("iam/roles").await;
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/_emulator/faults", self.url))
            .send()
            .await
            .expect("clear faults");
    }

    async fn admin_get(&self, what: &str) -> Value {
        self.http
            .get(format!("{}/_emulator/{what}", self.url))
            .send()
            .await
            .expect("admin API answers")
            .json()
            .await
            .expect("admin API returns JSON")
    }
}

pub fn sdk_config(attempts: u32) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "tests",
        )))
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        )
        .build()
}
