//! Logs, metrics and traces. Metric names follow controller-runtime's, so existing operator
//! dashboards work unchanged.

mod logs;
mod process;
mod rest_client;
mod traces;
mod workqueue;

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use kube::ResourceExt;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::{
    api::{RecommenderModel, RecommenderModelStatus},
    domain::conditions::{READY, find},
    lock::lock,
};

pub use self::{
    logs::{LogFormat, ZapJson, log_filter},
    rest_client::RestClientLayer,
    workqueue::WorkQueue,
};

/// Sends the spans still buffered when dropped (at exit).
pub struct TelemetryGuard(Option<opentelemetry_sdk::trace::SdkTracerProvider>);

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: the last traces were not sent: {e}");
        }
    }
}

/// Logs on stderr (see `logs`), and traces to `otlp_endpoint` when set (see `traces`). Called
/// outside the async runtime: the OTLP exporter's blocking HTTP client has a runtime of its own.
pub fn init(
    format: LogFormat,
    level: &str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<TelemetryGuard> {
    use tracing_subscriber::prelude::*;
    let (otlp, provider) = match traces::otlp_layer(otlp_endpoint)? {
        Some((layer, provider)) => (Some(layer), Some(provider)),
        None => (None, None),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs::log_layer(format, level))
        .with(otlp)
        .try_init();
    Ok(TelemetryGuard(provider))
}

const CONTROLLER: &str = "recommendermodel";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    outcome: &'static str,
    /// Empty for the operator's own account (so single-account queries need no change).
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsAttemptLabels {
    service: &'static str,
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabels {
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadyLabels {
    ready: &'static str,
    reason: String,
    account: String,
}

/// The operator's metrics and readiness.
pub struct Metrics {
    registry: Registry,
    reconcile_total: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ControllerLabels, Counter>,
    reconcile_errors_by_reason: Family<ReasonLabels, Counter>,
    reconcile_time: Family<ControllerLabels, Histogram>,
    models: Family<ReadyLabels, Gauge>,
    pinpoint_requests: Family<CallLabels, Counter>,
    aws_attempts: Family<AwsAttemptLabels, Counter>,
    leader: Family<LeaseLabels, Gauge>,
    rest_client: rest_client::RestClientMetrics,
    /// The controller's queue, as controller-runtime's workqueue metrics see it.
    pub workqueue: WorkQueue,
    pinpoint_latency: Family<OperationLabels, Histogram>,
    /// Each model's (Ready status, reason), to keep the gauge exact.
    model_states: Mutex<HashMap<String, ReadyLabels>>,
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<ResultLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconcile_total.clone(),
        );
        let reconcile_errors = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            reconcile_errors.clone(),
        );
        let reconcile_errors_by_reason = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "recommender_operator_reconcile_errors_by_reason",
            "Reconciliation errors by condition reason",
            reconcile_errors_by_reason.clone(),
        );
        let reconcile_time = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
        });
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            reconcile_time.clone(),
        );
        let models = Family::<ReadyLabels, Gauge>::default();
        registry.register(
            "recommender_operator_models",
            "RecommenderModels by Ready status and reason",
            models.clone(),
        );
        let pinpoint_requests = Family::<CallLabels, Counter>::default();
        registry.register(
            "recommender_operator_pinpoint_requests",
            "Pinpoint API calls by operation and outcome (success, or the error kind)",
            pinpoint_requests.clone(),
        );
        let pinpoint_latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
        });
        registry.register(
            "recommender_operator_pinpoint_request_duration_seconds",
            "Pinpoint API call latency, SDK retries included",
            pinpoint_latency.clone(),
        );
        let aws_attempts = Family::<AwsAttemptLabels, Counter>::default();
        registry.register(
            "recommender_operator_aws_attempts",
            "HTTP attempts to Pinpoint, IAM, Personalize and Lambda by service, operation and HTTP status (none: no answer), the SDK's own retries included",
            aws_attempts.clone(),
        );
        let leader = Family::<LeaseLabels, Gauge>::default();
        registry.register(
            "leader_election_master_status",
            "1 while this replica holds the leader-election lease named `name` (or runs without election), 0 while it waits for it",
            leader.clone(),
        );
        let rest_client = rest_client::RestClientMetrics::new(&mut registry);
        let workqueue = WorkQueue::new(CONTROLLER, &mut registry);
        registry.register_collector(Box::new(process::ProcessCollector));
        Self {
            registry,
            leader,
            rest_client,
            workqueue,
            pinpoint_requests,
            aws_attempts,
            pinpoint_latency,
            reconcile_total,
            reconcile_errors,
            reconcile_errors_by_reason,
            reconcile_time,
            models,
            model_states: Mutex::default(),
            ready: AtomicBool::new(false),
        }
    }
}

/// Observes the reconcile's duration when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .reconcile_time
            .get_or_create(&ControllerLabels {
                controller: CONTROLLER,
            })
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Metrics {
    pub fn reconcile_timer(&self) -> ReconcileTimer<'_> {
        ReconcileTimer {
            metrics: self,
            start: Instant::now(),
        }
    }

    pub fn reconcile_success(&self) {
        self.reconcile_total
            .get_or_create(&ResultLabels {
                controller: CONTROLLER,
                result: "success",
            })
            .inc();
    }

    pub fn reconcile_failure(&self, reason: &str) {
        self.reconcile_total
            .get_or_create(&ResultLabels {
                controller: CONTROLLER,
                result: "error",
            })
            .inc();
        self.reconcile_errors
            .get_or_create(&ControllerLabels {
                controller: CONTROLLER,
            })
            .inc();
        self.reconcile_errors_by_reason
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records one Pinpoint call in `account` (empty: the operator's own).
    pub fn pinpoint_call(
        &self,
        account: &str,
        operation: &'static str,
        outcome: &'static str,
        seconds: f64,
    ) {
        self.pinpoint_requests
            .get_or_create(&CallLabels {
                operation,
                outcome,
                account: account.to_owned(),
            })
            .inc();
        self.pinpoint_latency
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// Records one HTTP attempt to an AWS service (a call the SDK retried counts once per
    /// attempt).
    pub fn aws_attempt(&self, service: &'static str, operation: String, status: String) {
        self.aws_attempts
            .get_or_create(&AwsAttemptLabels {
                service,
                operation,
                status,
            })
            .inc();
    }

    /// Records a model's Ready condition (and account) for the models gauge.
    pub fn observe_ready(&self, model: &RecommenderModel, status: &RecommenderModelStatus) {
        let (ready, reason) = match find(&status.conditions, READY) {
            Some(c) if c.status == "True" => ("True", c.reason.clone()),
            Some(c) => ("False", c.reason.clone()),
            None => ("Unknown", String::new()),
        };
        let labels = ReadyLabels {
            ready,
            reason,
            account: status.account_id.clone().unwrap_or_default(),
        };
        let mut states = lock(&self.model_states);
        if let Some(old) = states.insert(key(model), labels.clone()) {
            self.models.get_or_create(&old).dec();
        }
        self.models.get_or_create(&labels).inc();
    }

    /// Drops a deleted model from the gauge.
    pub fn forget(&self, model: &RecommenderModel) {
        let mut states = lock(&self.model_states);
        if let Some(old) = states.remove(&key(model)) {
            self.models.get_or_create(&old).dec();
        }
    }

    /// Whether this replica holds the lease `lease`.
    pub fn set_leader(&self, lease: &str, leader: bool) {
        self.leader
            .get_or_create(&LeaseLabels {
                name: lease.to_owned(),
            })
            .set(i64::from(leader));
    }

    /// The layer that counts the API server requests of a client of `host` (host:port).
    pub fn rest_client_layer(&self, host: String) -> RestClientLayer {
        self.rest_client.layer(host)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.workqueue.refresh();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

fn key(model: &RecommenderModel) -> String {
    format!(
        "{}/{}",
        model.namespace().unwrap_or_default(),
        model.name_any()
    )
}
