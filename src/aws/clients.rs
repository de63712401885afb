//! What every AWS SDK client of the operator is built from: the shared configuration, an
//! optional endpoint (an emulator, or whatever succeeds Pinpoint), and the one interceptor that
//! counts each HTTP attempt. `regional_client!` builds and caches one client per Region.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_pinpoint::config::ConfigBag;
use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::FinalizerInterceptorContextRef},
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
};

use crate::telemetry::Metrics;

/// The settings every client shares.
#[derive(Clone)]
pub struct ClientSettings {
    pub base: SdkConfig,
    pub endpoint_url: Option<String>,
    /// Counts every HTTP attempt, the SDK's own retries included.
    pub metrics: Option<Arc<Metrics>>,
}

/// The client of `$region` from the `Mutex<HashMap<String, Client>>` `$cache`, built on first use
/// from `$settings` (a `ClientSettings`). A macro: each SDK has its own builder type.
macro_rules! regional_client {
    ($settings:expr, $cache:expr, $sdk:ident, $service:expr, $region:expr) => {{
        let settings: &$crate::aws::clients::ClientSettings = $settings;
        $crate::lock::lock($cache)
            .entry($region.to_owned())
            .or_insert_with(|| {
                let mut config = $sdk::config::Builder::from(&settings.base)
                    .region(aws_config::Region::new($region.to_owned()));
                if let Some(url) = &settings.endpoint_url {
                    config = config.endpoint_url(url);
                }
                if let Some(metrics) = &settings.metrics {
                    config = config
                        .interceptor($crate::aws::clients::CountAttempts::new($service, metrics));
                }
                $sdk::Client::from_conf(config.build())
            })
            .clone()
    }};
}

/// Counts each HTTP attempt with the status it got (`none`: no answer). One type serves every
/// SDK: their interceptor traits are the same smithy trait.
pub struct CountAttempts {
    service: &'static str,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for CountAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CountAttempts({})", self.service)
    }
}

impl CountAttempts {
    pub fn new(service: &'static str, metrics: &Arc<Metrics>) -> Self {
        Self {
            service,
            metrics: metrics.clone(),
        }
    }
}

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let status = context
            .response()
            .map(|r| r.status().as_u16().to_string())
            .unwrap_or_else(|| "none".to_owned());
        self.metrics.aws_attempt(self.service, operation, status);
        Ok(())
    }
}

pub(crate) use regional_client;
