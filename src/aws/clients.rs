//! What every AWS SDK client of the operator is built from: the shared configuration, an
//! optional endpoint (an emulator, or whatever succeeds Pinpoint), and the one interceptor that
//! counts each HTTP attempt and traces each call. `regional_client!` builds and caches one client
//! per Region.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_pinpoint::config::ConfigBag;
use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{
            Intercept,
            context::{
                BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
                FinalizerInterceptorContextRef,
            },
        },
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use tracing::{Span, field, info_span};

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
                config = config.interceptor($crate::aws::clients::Observe::new(
                    $service,
                    settings.metrics.clone(),
                ));
                $sdk::Client::from_conf(config.build())
            })
            .clone()
    }};
}

/// Counts each HTTP attempt with the status it got (`none`: no answer), and traces each call: a
/// span per call (service, operation, attempts, outcome) with a child span per attempt (its
/// number and HTTP status), inside whatever span the caller is in (a reconcile's). One type
/// serves every SDK: their interceptor traits are the same smithy trait.
pub struct Observe {
    service: &'static str,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for Observe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observe({})", self.service)
    }
}

impl Observe {
    pub fn new(service: &'static str, metrics: Option<Arc<Metrics>>) -> Self {
        Self { service, metrics }
    }
}

/// The call's span, kept in the call's config bag from the first hook to the last.
#[derive(Clone, Debug)]
struct CallSpan {
    span: Span,
    attempts: u32,
}

impl Storable for CallSpan {
    type Storer = StoreReplace<Self>;
}

/// The current attempt's span; replaced by an empty one when the attempt ends, which closes it.
#[derive(Clone, Debug)]
struct AttemptSpan(Span);

impl Storable for AttemptSpan {
    type Storer = StoreReplace<Self>;
}

fn operation_name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

impl Intercept for Observe {
    fn name(&self) -> &'static str {
        "Observe"
    }

    // The first hook after the operation's own settings (its name among them) are in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation_name(cfg);
        // OpenTelemetry's RPC conventions for AWS calls.
        let span = info_span!(
            "aws",
            otel.name = format!("{}.{operation}", self.service),
            otel.kind = "client",
            otel.status_code = field::Empty,
            rpc.system = "aws-api",
            rpc.service = self.service,
            rpc.method = operation,
            attempts = field::Empty,
            outcome = field::Empty,
            http.status_code = field::Empty,
            aws.error_type = field::Empty,
        );
        cfg.interceptor_state()
            .store_put(CallSpan { span, attempts: 0 });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(mut call) = cfg.load::<CallSpan>().cloned() else {
            return Ok(());
        };
        call.attempts += 1;
        let attempt = info_span!(
            parent: &call.span,
            "aws.attempt",
            otel.name = format!("{}.{} attempt", self.service, operation_name(cfg)),
            // i64: OpenTelemetry has no unsigned integers, and would make text of a u32.
            attempt = i64::from(call.attempts),
            http.status_code = field::Empty,
        );
        cfg.interceptor_state().store_put(AttemptSpan(attempt));
        cfg.interceptor_state().store_put(call);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = context.response().map(|r| r.status().as_u16());
        if let (Some(AttemptSpan(span)), Some(status)) = (cfg.load::<AttemptSpan>(), status) {
            span.record("http.status_code", i64::from(status));
        }
        cfg.interceptor_state().store_put(AttemptSpan(Span::none()));
        if let Some(metrics) = &self.metrics {
            let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
            metrics.aws_attempt(self.service, operation_name(cfg), status);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(CallSpan { span, attempts }) = cfg.load::<CallSpan>().cloned() else {
            return Ok(());
        };
        span.record("attempts", i64::from(attempts));
        let failed = !matches!(context.output_or_error(), Some(Ok(_)));
        span.record("outcome", if failed { "error" } else { "success" });
        if let Some(response) = context.response() {
            span.record("http.status_code", i64::from(response.status().as_u16()));
            // restJson1 and awsJson name the error in a header; awsQuery (IAM) only in the body.
            if let Some(kind) = response.headers().get("x-amzn-errortype") {
                span.record("aws.error_type", kind.split(':').next().unwrap_or_default());
            }
        }
        if failed {
            span.record("otel.status_code", "ERROR");
        }
        cfg.interceptor_state().store_put(CallSpan {
            span: Span::none(),
            attempts,
        });
        Ok(())
    }
}

pub(crate) use regional_client;
