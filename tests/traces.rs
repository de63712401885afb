//! OpenTelemetry traces, end to end: an operator on the real API server with an OTLP endpoint
//! set sends, to an OTLP/HTTP receiver run by this test, one span per reconcile with a child span
//! per AWS call (service, operation, attempts, outcome), a child per attempt (with its HTTP
//! status), and a child per API server request the reconcile made (its status write among them).
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`.

mod support;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, any_value::Value as Any},
    trace::v1::Span,
};
use prost::Message;
use serde_json::json;
use support::{cluster::wait_until, env::TestEnv, table::named};

type Spans = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP (protobuf) trace receiver on a port of its own, in a thread of its own.
fn start_receiver() -> (SocketAddr, Spans) {
    let spans = Spans::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let addr = listener.local_addr().expect("the receiver's address");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let received = spans.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the receiver's runtime");
        runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/v1/traces",
                axum::routing::post(move |body: axum::body::Bytes| {
                    let received = received.clone();
                    async move {
                        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                            return axum::http::StatusCode::BAD_REQUEST;
                        };
                        let mut spans = received.lock().expect("the span list");
                        for resource in request.resource_spans {
                            for scope in resource.scope_spans {
                                spans.extend(scope.spans);
                            }
                        }
                        axum::http::StatusCode::OK
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            axum::serve(listener, app).await.expect("serve OTLP");
        });
    });
    (addr, spans)
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}

fn text<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(span, key) {
        Some(Any::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// An integer attribute; kube records its status codes as text (tracing-opentelemetry turns
/// unsigned integers into strings).
fn number(span: &Span, key: &str) -> Option<i64> {
    match attribute(span, key) {
        Some(Any::IntValue(n)) => Some(*n),
        Some(Any::StringValue(s)) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn a_reconcile_is_one_trace_with_its_aws_calls_attempts_and_api_requests() {
    let (receiver, spans) = start_receiver();
    let env = TestEnv::without_operator("traces");
    let endpoint = format!("http://{receiver}");
    let mut operator = env.spawn_operator_with_env(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // Batches go out every 200 ms instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    operator.wait_for_log("controller started", Duration::from_secs(60));
    // The first Create fails with a 500 (Create is never retried by the SDK: the next reconcile
    // does it); after Ready, an edit's Update fails once with a 500 and the SDK's retry succeeds.
    env.fault(json!({"operation": "CreateRecommenderConfiguration", "status": 500, "count": 1}));
    env.apply_ok(&named("traced", "model value, every field set"));
    env.wait_condition("traced", "Ready", 120);
    env.fault(json!({"operation": "UpdateRecommenderConfiguration", "status": 500, "count": 1}));
    env.kubectl_ok(&[
        "patch",
        "recmodel",
        "traced",
        "--type=merge",
        "-p",
        r#"{"spec":{"description":"Traced picks"}}"#,
    ]);
    wait_until(Duration::from_secs(120), "the edit is published", || {
        env.model("traced")["status"]["observedGeneration"] == 2
    });

    let calls = |method: &str| -> Vec<Span> {
        spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| text(s, "rpc.method") == Some(method))
            .cloned()
            .collect()
    };
    wait_until(
        Duration::from_secs(60),
        "both Creates' and the Update's spans arrive",
        || {
            calls("CreateRecommenderConfiguration").len() == 2
                && !calls("UpdateRecommenderConfiguration").is_empty()
        },
    );
    let mut creates = calls("CreateRecommenderConfiguration");
    creates.sort_by_key(|s| s.start_time_unix_nano);
    for (create, outcome, status) in [(&creates[0], "error", 500), (&creates[1], "success", 201)] {
        assert_eq!(create.name, "Pinpoint.CreateRecommenderConfiguration");
        assert_eq!(text(create, "rpc.system"), Some("aws-api"));
        assert_eq!(text(create, "rpc.service"), Some("Pinpoint"));
        assert_eq!(text(create, "outcome"), Some(outcome));
        assert_eq!(number(create, "attempts"), Some(1));
        assert_eq!(number(create, "http.status_code"), Some(status));
    }
    let first = &creates[0];
    assert_eq!(
        first.status.as_ref().map(|s| s.code),
        Some(opentelemetry_proto::tonic::trace::v1::status::StatusCode::Error as i32),
        "a failed call is an error span"
    );
    assert_eq!(
        text(first, "aws.error_type"),
        Some("InternalServerErrorException")
    );

    let updates = calls("UpdateRecommenderConfiguration");
    let [update] = updates.as_slice() else {
        panic!("one Update call: {updates:?}");
    };
    assert_eq!(text(update, "outcome"), Some("success"));
    assert_eq!(number(update, "attempts"), Some(2));

    // Everything of that trace; the attempts may come in a later batch than their call.
    let trace = |spans: &Spans| -> Vec<Span> {
        spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s.trace_id == update.trace_id)
            .cloned()
            .collect()
    };
    let children = |of: &Span, all: &[Span]| -> Vec<Span> {
        all.iter()
            .filter(|s| s.parent_span_id == of.span_id)
            .cloned()
            .collect()
    };
    wait_until(
        Duration::from_secs(30),
        "both attempts' spans arrive",
        || children(update, &trace(&spans)).len() == 2,
    );
    let all = trace(&spans);
    let mut attempts: Vec<(i64, i64)> = children(update, &all)
        .iter()
        .map(|a| {
            (
                number(a, "attempt").expect("an attempt number"),
                number(a, "http.status_code").expect("an attempt's status"),
            )
        })
        .collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [(1, 500), (2, 200)]);

    // The call's parent is the reconcile of the edit, the root of the trace.
    let by_id: HashMap<&[u8], &Span> = all.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let reconcile = by_id
        .get(update.parent_span_id.as_slice())
        .expect("the Update call's parent is in the trace");
    assert_eq!(reconcile.name, "reconcile");
    assert!(reconcile.parent_span_id.is_empty(), "a reconcile is a root");
    assert_eq!(text(reconcile, "name"), Some("traced"));
    assert_eq!(text(reconcile, "namespace"), Some(env.namespace.as_str()));
    assert!(text(reconcile, "reconcileID").is_some_and(|id| id.len() == 36));

    // Its other children: the API server requests, the status write among them.
    let requests = children(reconcile, &all);
    let writes: Vec<(&str, i64)> = requests
        .iter()
        .filter_map(|s| Some((text(s, "http.method")?, number(s, "http.status_code")?)))
        .collect();
    assert!(
        writes.contains(&("PATCH", 200)),
        "the status write is a child of the reconcile: {writes:?}"
    );

    // The first reconcile checked the campaign and the role before its Create
    // (later ones reuse those results): its trace has their calls.
    let created = &creates[0];
    let everything = spans.lock().expect("spans").clone();
    let services: Vec<&str> = everything
        .iter()
        .filter(|s| s.parent_span_id == created.parent_span_id)
        .filter_map(|s| text(s, "rpc.service"))
        .collect();
    for service in ["Pinpoint", "Personalize", "IAM"] {
        assert!(
            services.contains(&service),
            "no {service} call in {services:?}"
        );
    }

    // The watches are not traced: every API server request belongs to a reconcile.
    for span in spans.lock().expect("spans").iter() {
        if text(span, "http.method").is_some() {
            assert!(
                !span.parent_span_id.is_empty(),
                "a request outside a reconcile: {span:?}"
            );
        }
    }
    operator.stop();
}
