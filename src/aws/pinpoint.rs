//! The one door to Amazon Pinpoint: a small trait the reconciler depends on, and its
//! implementation over `aws-sdk-pinpoint`. Keeping the service behind this interface is what lets
//! the operator outlive Pinpoint's end of support (point the endpoint elsewhere, or swap the
//! implementation) and lets tests count and fake calls.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Instant,
};

use aws_sdk_pinpoint::{
    Client,
    config::retry::RetryConfig,
    types::{
        CreateRecommenderConfigurationShape, RecommenderConfigurationResponse,
        UpdateRecommenderConfigurationShape,
    },
};

use crate::{
    aws::{
        AwsError, AwsErrorKind, PINPOINT, classify,
        clients::{ClientSettings, regional_client},
    },
    domain::desired::{RecommenderConfig, attribute_key},
    telemetry::Metrics,
};

/// A configuration as Pinpoint returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub id: String,
    pub config: RecommenderConfig,
    pub creation_date: String,
    pub last_modified_date: String,
}

/// The recommender-configuration operations the operator uses, per AWS Region. Object-safe
/// (`async_trait`), like `Account`, so the context holds one `Box<dyn Pinpoint>`.
#[async_trait::async_trait]
pub trait Pinpoint: Send + Sync + 'static {
    async fn create(&self, region: &str, config: &RecommenderConfig)
    -> Result<Published, AwsError>;

    /// `Ok(None)` when Pinpoint has no configuration with that ID. May be answered from a recent
    /// list of the Region (`aws::listing`).
    async fn get(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError>;

    /// `get` from Pinpoint itself, never from a list: for decisions that a stale answer would
    /// make wrong, such as taking over a configuration by its ID.
    async fn get_fresh(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError> {
        self.get(region, id).await
    }

    /// A full replace of the configuration.
    async fn update(
        &self,
        region: &str,
        id: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError>;

    /// `Ok(false)` when it was already gone.
    async fn delete(&self, region: &str, id: &str) -> Result<bool, AwsError>;

    /// Every configuration in the Region (all pages).
    async fn list(&self, region: &str) -> Result<Vec<Published>, AwsError>;
}

/// The Create and Update request shapes are distinct types with the same fields: one
/// definition fills either from a `RecommenderConfig`, the whole desired object every time.
macro_rules! shape {
    ($shape:ident, $config:expr) => {{
        let config: &RecommenderConfig = $config;
        $shape::builder()
            .set_name(Some(config.name.clone()))
            .set_description(config.description.clone())
            .recommendation_provider_uri(&config.campaign_arn)
            .recommendation_provider_role_arn(&config.role_arn)
            .recommendation_provider_id_type(&config.id_type)
            .set_recommendation_transformer_uri(config.lambda.clone())
            .set_recommendations_display_name(config.display_name.clone())
            .recommendations_per_message(config.recommendations_per_message)
            .set_attributes(attributes(config))
            .build()
    }};
}

/// `Pinpoint` over `aws-sdk-pinpoint`, one client per Region, built on first use.
pub struct SdkPinpoint {
    settings: ClientSettings,
    clients: Mutex<HashMap<String, Client>>,
}

impl SdkPinpoint {
    /// Credentials come from `base` (the standard AWS chain); `endpoint_url` replaces Pinpoint's
    /// public endpoint, for emulators and whatever succeeds Pinpoint.
    pub fn new(base: aws_config::SdkConfig, endpoint_url: Option<String>) -> Self {
        Self {
            settings: ClientSettings {
                base,
                endpoint_url,
                metrics: None,
            },
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts every HTTP attempt, the SDK's own retries included, in `metrics`.
    pub fn count_attempts(mut self, metrics: Arc<Metrics>) -> Self {
        self.settings.metrics = Some(metrics);
        self
    }

    fn client(&self, region: &str) -> Client {
        regional_client!(
            &self.settings,
            &self.clients,
            aws_sdk_pinpoint,
            PINPOINT,
            region
        )
    }
}

#[async_trait::async_trait]
impl Pinpoint for SdkPinpoint {
    async fn create(
        &self,
        region: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        const OP: &str = "CreateRecommenderConfiguration";
        let shape = shape!(CreateRecommenderConfigurationShape, config);
        // Create is not idempotent: a retried Create whose first attempt reached Pinpoint makes a
        // second configuration. The SDK must not retry it; the reconciler retries after looking
        // for the first attempt's result (see `pipeline::unrecorded` and `controller::create_once`).
        let output = self
            .client(region)
            .create_recommender_configuration()
            .create_recommender_configuration(shape)
            .customize()
            .config_override(
                aws_sdk_pinpoint::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| classify(PINPOINT, OP, e))?;
        published(OP, output.recommender_configuration_response())
    }

    async fn get(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError> {
        const OP: &str = "GetRecommenderConfiguration";
        match self
            .client(region)
            .get_recommender_configuration()
            .recommender_id(id)
            .send()
            .await
        {
            Ok(output) => published(OP, output.recommender_configuration_response()).map(Some),
            Err(e) => match classify(PINPOINT, OP, e) {
                e if e.kind == AwsErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn update(
        &self,
        region: &str,
        id: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        const OP: &str = "UpdateRecommenderConfiguration";
        let shape = shape!(UpdateRecommenderConfigurationShape, config);
        let output = self
            .client(region)
            .update_recommender_configuration()
            .recommender_id(id)
            .update_recommender_configuration(shape)
            .send()
            .await
            .map_err(|e| classify(PINPOINT, OP, e))?;
        published(OP, output.recommender_configuration_response())
    }

    async fn delete(&self, region: &str, id: &str) -> Result<bool, AwsError> {
        const OP: &str = "DeleteRecommenderConfiguration";
        match self
            .client(region)
            .delete_recommender_configuration()
            .recommender_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match classify(PINPOINT, OP, e) {
                e if e.kind == AwsErrorKind::NotFound => Ok(false),
                e => Err(e),
            },
        }
    }

    async fn list(&self, region: &str) -> Result<Vec<Published>, AwsError> {
        const OP: &str = "GetRecommenderConfigurations";
        let client = self.client(region);
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = client
                .get_recommender_configurations()
                .page_size("100")
                .set_token(token.take())
                .send()
                .await
                .map_err(|e| classify(PINPOINT, OP, e))?;
            let Some(page) = output.list_recommender_configurations_response() else {
                break;
            };
            for item in page.item() {
                all.push(published(OP, Some(item))?);
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(all)
    }
}

/// Spaces the calls of the `Pinpoint` it wraps out to at most `rate` per second, with bursts of
/// up to `burst`, across all models: one account's API limits are shared by every model.
pub struct RateLimited<P> {
    inner: P,
    limiter: governor::DefaultDirectRateLimiter,
}

impl<P> RateLimited<P> {
    pub fn new(inner: P, rate: std::num::NonZeroU32, burst: std::num::NonZeroU32) -> Self {
        let quota = governor::Quota::per_second(rate).allow_burst(burst);
        Self {
            inner,
            limiter: governor::RateLimiter::direct(quota),
        }
    }
}

#[async_trait::async_trait]
impl<P: Pinpoint> Pinpoint for RateLimited<P> {
    async fn create(
        &self,
        region: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        self.limiter.until_ready().await;
        self.inner.create(region, config).await
    }

    async fn get(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError> {
        self.limiter.until_ready().await;
        self.inner.get(region, id).await
    }

    async fn update(
        &self,
        region: &str,
        id: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        self.limiter.until_ready().await;
        self.inner.update(region, id, config).await
    }

    async fn delete(&self, region: &str, id: &str) -> Result<bool, AwsError> {
        self.limiter.until_ready().await;
        self.inner.delete(region, id).await
    }

    async fn list(&self, region: &str) -> Result<Vec<Published>, AwsError> {
        self.limiter.until_ready().await;
        self.inner.list(region).await
    }
}

/// Counts and times every call of the `Pinpoint` it wraps, labelled with its account.
pub struct Metered<P> {
    inner: P,
    metrics: Arc<Metrics>,
    account: String,
}

impl<P> Metered<P> {
    /// `account`: the account's ID, empty for the operator's own.
    pub fn new(inner: P, metrics: Arc<Metrics>, account: &str) -> Self {
        Self {
            inner,
            metrics,
            account: account.to_owned(),
        }
    }

    async fn observe<T: Send>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, AwsError>> + Send,
    ) -> Result<T, AwsError> {
        let start = Instant::now();
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.kind.as_str(),
        };
        self.metrics.pinpoint_call(
            &self.account,
            operation,
            outcome,
            start.elapsed().as_secs_f64(),
        );
        result
    }
}

#[async_trait::async_trait]
impl<P: Pinpoint> Pinpoint for Metered<P> {
    async fn create(
        &self,
        region: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        self.observe(
            "CreateRecommenderConfiguration",
            self.inner.create(region, config),
        )
        .await
    }

    async fn get(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError> {
        self.observe("GetRecommenderConfiguration", self.inner.get(region, id))
            .await
    }

    async fn update(
        &self,
        region: &str,
        id: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        self.observe(
            "UpdateRecommenderConfiguration",
            self.inner.update(region, id, config),
        )
        .await
    }

    async fn delete(&self, region: &str, id: &str) -> Result<bool, AwsError> {
        self.observe(
            "DeleteRecommenderConfiguration",
            self.inner.delete(region, id),
        )
        .await
    }

    async fn list(&self, region: &str) -> Result<Vec<Published>, AwsError> {
        self.observe("GetRecommenderConfigurations", self.inner.list(region))
            .await
    }
}

fn attributes(config: &RecommenderConfig) -> Option<HashMap<String, String>> {
    (!config.attributes.is_empty()).then(|| config.attributes.clone().into_iter().collect())
}

fn published(
    operation: &'static str,
    response: Option<&RecommenderConfigurationResponse>,
) -> Result<Published, AwsError> {
    let malformed = |what: &str| AwsError {
        service: PINPOINT,
        kind: AwsErrorKind::Unavailable,
        code: String::new(),
        operation,
        message: format!("the response has no {what}"),
    };
    let r = response.ok_or_else(|| malformed("body"))?;
    Ok(Published {
        id: r.id().ok_or_else(|| malformed("Id"))?.to_owned(),
        creation_date: r.creation_date().unwrap_or_default().to_owned(),
        last_modified_date: r.last_modified_date().unwrap_or_default().to_owned(),
        config: RecommenderConfig {
            name: r.name().unwrap_or_default().to_owned(),
            description: r.description().filter(|d| !d.is_empty()).map(str::to_owned),
            campaign_arn: r
                .recommendation_provider_uri()
                .unwrap_or_default()
                .to_owned(),
            role_arn: r
                .recommendation_provider_role_arn()
                .unwrap_or_default()
                .to_owned(),
            id_type: r
                .recommendation_provider_id_type()
                .unwrap_or(crate::domain::desired::ENDPOINT_ID)
                .to_owned(),
            lambda: r.recommendation_transformer_uri().map(str::to_owned),
            display_name: r.recommendations_display_name().map(str::to_owned),
            recommendations_per_message: r.recommendations_per_message().unwrap_or(5),
            attributes: r
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (attribute_key(k), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod rate_limit_tests {
    use std::{
        num::NonZeroU32,
        sync::atomic::{AtomicU32, Ordering},
        time::Duration,
    };

    use super::*;

    /// Answers every call at once and counts them.
    #[derive(Default)]
    struct Counting(AtomicU32);

    #[async_trait::async_trait]
    impl Pinpoint for Counting {
        async fn create(&self, _: &str, _: &RecommenderConfig) -> Result<Published, AwsError> {
            unreachable!("not used")
        }
        async fn get(&self, _: &str, _: &str) -> Result<Option<Published>, AwsError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
        async fn update(
            &self,
            _: &str,
            _: &str,
            _: &RecommenderConfig,
        ) -> Result<Published, AwsError> {
            unreachable!("not used")
        }
        async fn delete(&self, _: &str, _: &str) -> Result<bool, AwsError> {
            unreachable!("not used")
        }
        async fn list(&self, _: &str) -> Result<Vec<Published>, AwsError> {
            unreachable!("not used")
        }
    }

    #[tokio::test]
    async fn calls_beyond_the_burst_wait_for_the_rate() {
        let n = |v| NonZeroU32::new(v).expect("non-zero");
        let limited = RateLimited::new(Counting::default(), n(20), n(5));
        let start = Instant::now();
        for _ in 0..15 {
            limited.get("us-east-1", "x").await.expect("answer");
        }
        // 5 at once, then 10 more at 20 per second: at least half a second.
        assert!(
            start.elapsed() >= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(limited.inner.0.load(Ordering::SeqCst), 15);
    }
}
