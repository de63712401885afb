//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless an endpoint is set: a span per
//! reconcile, with the AWS calls (`aws::clients::Observe`) and the API server requests it makes
//! (kube's own `HTTP` spans) as its children.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::{
    Layer,
    filter::{DynFilterFn, dynamic_filter_fn},
    layer::Context,
    registry::LookupSpan,
};

/// The standard variable for the traces endpoint alone (the whole URL, path included).
const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const SERVICE_NAME: &str = "recommender-operator";

/// The layer that sends spans to `endpoint` (a base URL such as http://collector:4318, to which
/// `/v1/traces` is added, as for OTEL_EXPORTER_OTLP_ENDPOINT), and the provider to shut down at
/// exit so that the last batch is sent. None when neither an endpoint nor
/// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
pub fn otlp_layer<S>(
    endpoint: Option<&str>,
) -> anyhow::Result<Option<(impl Layer<S> + use<S>, SdkTracerProvider)>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let signal_endpoint = std::env::var(TRACES_ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.is_empty());
    let builder = SpanExporter::builder().with_http();
    let exporter = match (endpoint.filter(|e| !e.is_empty()), signal_endpoint) {
        // The exporter reads the signal's own variable itself.
        (_, Some(_)) => builder.build()?,
        (Some(base), None) => builder
            .with_endpoint(format!("{}/v1/traces", base.trim_end_matches('/')))
            .build()?,
        (None, None) => return Ok(None),
    };
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, are read by the default
    // detectors; otherwise the service is named here.
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_filter(exported());
    Ok(Some((layer, provider)))
}

/// What becomes a span: the operator's own spans and events at info and above, and kube's
/// per-request `HTTP` spans (debug level) when they are made inside one of ours, so a reconcile's
/// reads and writes are in its trace while the long-running watches stay out.
fn exported<S>() -> DynFilterFn<S, impl Fn(&Metadata<'_>, &Context<'_, S>) -> bool>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    dynamic_filter_fn(|meta, cx| {
        let target = meta.target();
        if target.starts_with("recommender_operator") {
            *meta.level() <= Level::INFO
        } else if target.starts_with("kube_client") && meta.is_span() {
            cx.lookup_current().is_some()
        } else {
            false
        }
    })
}
