//! client-go's `rest_client_requests_total` (by code, method and host) and
//! `rest_client_request_duration_seconds` for the operator's API server client: a tower layer
//! around kube's HTTP stack.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    code: String,
    method: String,
    host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    verb: String,
    host: String,
}

#[derive(Clone)]
pub struct RestClientMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<DurationLabels, Histogram>,
}

impl RestClientMetrics {
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                // client-go's buckets.
                Histogram::new([
                    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0,
                ])
            }),
        };
        registry.register(
            "rest_client_requests",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            metrics.requests.clone(),
        );
        registry.register(
            "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.",
            metrics.duration.clone(),
        );
        metrics
    }

    /// The layer for a client of the API server at `host` (host:port, as client-go labels it).
    pub fn layer(&self, host: String) -> RestClientLayer {
        RestClientLayer {
            metrics: self.clone(),
            host,
        }
    }
}

#[derive(Clone)]
pub struct RestClientLayer {
    metrics: RestClientMetrics,
    host: String,
}

impl<S> tower::Layer<S> for RestClientLayer {
    type Service = RestClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RestClientService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RestClientService<S> {
    inner: S,
    layer: RestClientLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for RestClientService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.method().as_str().to_owned();
        let layer = self.layer.clone();
        let start = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            // client-go's label for a request that got no answer.
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "<error>".to_owned(),
            };
            let metrics = &layer.metrics;
            metrics
                .duration
                .get_or_create(&DurationLabels {
                    verb: method.clone(),
                    host: layer.host.clone(),
                })
                .observe(start.elapsed().as_secs_f64());
            metrics
                .requests
                .get_or_create(&RequestLabels {
                    code,
                    method,
                    host: layer.host,
                })
                .inc();
            result
        })
    }
}
