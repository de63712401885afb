//! An in-process Pinpoint emulator, the SDK clients pointed at it, and its admin API.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::{Credentials, provider::SharedCredentialsProvider};
use recommender_operator::{
    aws::{account::SdkAccount, pinpoint::SdkPinpoint},
    pipeline::services::{AccountServices, AccountSettings},
};
use serde_json::Value;

use super::admin::EmulatorAdmin;

pub struct Emulator {
    pub url: String,
    admin: EmulatorAdmin,
}

impl Emulator {
    pub async fn start() -> Self {
        Self::start_with(Default::default()).await
    }

    pub async fn start_with(settings: pinpoint_emulator::Settings) -> Self {
        let addr = pinpoint_emulator::spawn("127.0.0.1:0".parse().expect("address"), settings)
            .await
            .expect("start the emulator");
        let url = format!("http://{addr}");
        Self {
            admin: EmulatorAdmin::new(&url),
            url,
        }
    }

    /// A client with the emulator's credentials; `attempts` 1 turns the SDK's retries off.
    pub fn pinpoint(&self, attempts: u32) -> SdkPinpoint {
        SdkPinpoint::new(sdk_config(attempts), Some(self.url.clone()))
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

    /// Every stored configuration, as the admin API lists them.
    pub async fn configurations(&self) -> Vec<Value> {
        self.admin(|a| a.configurations()).await
    }

    /// Calls per operation so far.
    pub async fn calls(&self, operation: &str) -> u64 {
        let operation = operation.to_owned();
        self.admin(move |a| a.calls(&operation)).await
    }

    pub async fn fault(&self, fault: Value) {
        self.admin(move |a| a.fault(fault)).await
    }

    pub async fn clear_faults(&self) {
        self.admin(|a| a.clear_faults()).await
    }

    /// Adds or replaces campaigns, roles and functions in the emulated account.
    pub async fn seed(&self, seed: Value) {
        self.admin(move |a| a.seed(seed)).await
    }

    /// Every IAM role in the emulated account.
    pub async fn roles(&self) -> Vec<Value> {
        self.admin(|a| a.roles()).await
    }

    /// The one admin client is blocking: it runs on a blocking thread, off the test's runtime.
    async fn admin<T: Send + 'static>(
        &self,
        call: impl FnOnce(EmulatorAdmin) -> T + Send + 'static,
    ) -> T {
        let admin = self.admin.clone();
        match tokio::task::spawn_blocking(move || call(admin)).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
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
