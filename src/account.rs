//! The rest of the AWS account the wizard touches: IAM (the role it can create), Personalize
//! (the campaign) and Lambda (the function). One small trait, like `Pinpoint`, so the reconciler
//! is tested with fakes and the emulator, and an implementation over the AWS SDKs.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use aws_config::{Region, SdkConfig};
use futures::future::BoxFuture;

use crate::{
    aws::{AwsError, AwsErrorKind, IAM, LAMBDA, PERSONALIZE, classify},
    telemetry::Metrics,
};

/// A Personalize campaign, as far as the checks need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// `ACTIVE`, `CREATE PENDING`, `CREATE IN_PROGRESS`, `CREATE FAILED`, ...
    pub status: String,
    pub solution_version_arn: Option<String>,
}

/// An IAM role, as far as the operator needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub arn: String,
    /// The trust policy, decoded JSON text.
    pub trust_policy: String,
    pub tags: BTreeMap<String, String>,
}

/// A role to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    pub path: String,
    pub trust_policy: String,
    pub description: String,
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// The IAM, Personalize and Lambda calls the operator makes. Object-safe, so the context holds
/// one `Box<dyn Account>` whatever implements it.
pub trait Account: Send + Sync + 'static {
    /// `Ok(None)` when the campaign does not exist in `region`.
    fn describe_campaign<'a>(
        &'a self,
        region: &'a str,
        arn: &'a str,
    ) -> BoxFuture<'a, Result<Option<Campaign>, AwsError>>;

    /// Whether the function (a name or an unqualified ARN) exists in `region`.
    fn function_exists<'a>(
        &'a self,
        region: &'a str,
        function: &'a str,
    ) -> BoxFuture<'a, Result<bool, AwsError>>;

    /// The function's resource policy (JSON text); `Ok(None)` when it has none.
    fn function_policy<'a>(
        &'a self,
        region: &'a str,
        function: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AwsError>>;

    /// `Ok(None)` when no role has that name.
    fn get_role<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Role>, AwsError>>;

    fn create_role<'a>(&'a self, role: &'a NewRole) -> BoxFuture<'a, Result<Role, AwsError>>;

    /// Creates or replaces an inline policy of the role.
    fn put_role_policy<'a>(
        &'a self,
        role: &'a str,
        policy_name: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Deletes the role and its inline policies; `Ok(false)` when it was already gone.
    fn delete_role<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, AwsError>>;
}

/// The client of one Region from `cache`, built on first use with the shared settings. A macro:
/// each SDK has its own builder type.
macro_rules! regional_client {
    ($self:ident, $cache:ident, $sdk:ident, $service:expr, $region:expr) => {{
        let mut clients = $self.$cache.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry($region.to_owned())
            .or_insert_with(|| {
                let mut config = $sdk::config::Builder::from(&$self.base)
                    .region(Region::new($region.to_owned()));
                if let Some(url) = &$self.endpoint_url {
                    config = config.endpoint_url(url);
                }
                if let Some(metrics) = &$self.metrics {
                    config = config.interceptor(CountAttempts::new($service, metrics));
                }
                $sdk::Client::from_conf(config.build())
            })
            .clone()
    }};
}

/// `Account` over aws-sdk-iam, aws-sdk-personalize and aws-sdk-lambda; regional clients are
/// built on first use.
pub struct SdkAccount {
    base: SdkConfig,
    endpoint_url: Option<String>,
    metrics: Option<Arc<Metrics>>,
    iam: aws_sdk_iam::Client,
    personalize: Mutex<HashMap<String, aws_sdk_personalize::Client>>,
    lambda: Mutex<HashMap<String, aws_sdk_lambda::Client>>,
}

/// IAM is global; the SDK signs its calls for this Region.
const IAM_REGION: &str = "us-east-1";

impl SdkAccount {
    /// `endpoint_url` replaces every one of the three services' endpoints (an emulator);
    /// `metrics` counts every HTTP attempt.
    pub fn new(
        base: SdkConfig,
        endpoint_url: Option<String>,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        let mut iam = aws_sdk_iam::config::Builder::from(&base).region(Region::new(IAM_REGION));
        if let Some(url) = &endpoint_url {
            iam = iam.endpoint_url(url);
        }
        if let Some(metrics) = &metrics {
            iam = iam.interceptor(CountAttempts::new(IAM, metrics));
        }
        Self {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            base,
            endpoint_url,
            metrics,
            personalize: Mutex::default(),
            lambda: Mutex::default(),
        }
    }

    fn personalize(&self, region: &str) -> aws_sdk_personalize::Client {
        regional_client!(self, personalize, aws_sdk_personalize, PERSONALIZE, region)
    }

    fn lambda(&self, region: &str) -> aws_sdk_lambda::Client {
        regional_client!(self, lambda, aws_sdk_lambda, LAMBDA, region)
    }
}

/// Counts each HTTP attempt with the status it got. One type serves the three SDKs: their
/// interceptor traits are the same smithy trait.
struct CountAttempts {
    service: &'static str,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for CountAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CountAttempts({})", self.service)
    }
}

impl CountAttempts {
    fn new(service: &'static str, metrics: &Arc<Metrics>) -> Self {
        Self {
            service,
            metrics: metrics.clone(),
        }
    }
}

impl aws_sdk_iam::config::Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_after_attempt(
        &self,
        context: &aws_sdk_iam::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_iam::config::RuntimeComponents,
        cfg: &mut aws_sdk_iam::config::ConfigBag,
    ) -> Result<(), aws_sdk_iam::error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
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

/// `Ok(None)` for a not-found error, the error otherwise.
fn absent<T>(error: AwsError) -> Result<Option<T>, AwsError> {
    if error.kind == AwsErrorKind::NotFound {
        Ok(None)
    } else {
        Err(error)
    }
}

fn role_from(role: &aws_sdk_iam::types::Role) -> Role {
    // IAM returns the trust policy URL-encoded.
    let encoded = role.assume_role_policy_document().unwrap_or_default();
    let trust_policy = percent_encoding::percent_decode_str(encoded)
        .decode_utf8_lossy()
        .into_owned();
    Role {
        arn: role.arn().to_owned(),
        trust_policy,
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    }
}

impl Account for SdkAccount {
    fn describe_campaign<'a>(
        &'a self,
        region: &'a str,
        arn: &'a str,
    ) -> BoxFuture<'a, Result<Option<Campaign>, AwsError>> {
        Box::pin(async move {
            match self
                .personalize(region)
                .describe_campaign()
                .campaign_arn(arn)
                .send()
                .await
            {
                Ok(output) => Ok(output.campaign().map(|c| Campaign {
                    status: c.status().unwrap_or_default().to_owned(),
                    solution_version_arn: c.solution_version_arn().map(str::to_owned),
                })),
                Err(e) => absent(classify(PERSONALIZE, "DescribeCampaign", e)),
            }
        })
    }

    fn function_exists<'a>(
        &'a self,
        region: &'a str,
        function: &'a str,
    ) -> BoxFuture<'a, Result<bool, AwsError>> {
        Box::pin(async move {
            match self
                .lambda(region)
                .get_function()
                .function_name(function)
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e) => absent::<()>(classify(LAMBDA, "GetFunction", e)).map(|_| false),
            }
        })
    }

    fn function_policy<'a>(
        &'a self,
        region: &'a str,
        function: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        Box::pin(async move {
            match self
                .lambda(region)
                .get_policy()
                .function_name(function)
                .send()
                .await
            {
                Ok(output) => Ok(output.policy().map(str::to_owned)),
                Err(e) => absent(classify(LAMBDA, "GetPolicy", e)),
            }
        })
    }

    fn get_role<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Role>, AwsError>> {
        Box::pin(async move {
            match self.iam.get_role().role_name(name).send().await {
                Ok(output) => Ok(output.role().map(role_from)),
                Err(e) => absent(classify(IAM, "GetRole", e)),
            }
        })
    }

    fn create_role<'a>(&'a self, role: &'a NewRole) -> BoxFuture<'a, Result<Role, AwsError>> {
        Box::pin(async move {
            let tags = role
                .tags
                .iter()
                .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AwsError {
                    service: IAM,
                    operation: "CreateRole",
                    kind: AwsErrorKind::Rejected,
                    code: String::new(),
                    message: e.to_string(),
                })?;
            let output = self
                .iam
                .create_role()
                .role_name(&role.name)
                .path(&role.path)
                .assume_role_policy_document(&role.trust_policy)
                .description(&role.description)
                .set_permissions_boundary(role.permissions_boundary.clone())
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| classify(IAM, "CreateRole", e))?;
            output.role().map(role_from).ok_or_else(|| AwsError {
                service: IAM,
                operation: "CreateRole",
                kind: AwsErrorKind::Unavailable,
                code: String::new(),
                message: "the response has no Role".to_owned(),
            })
        })
    }

    fn put_role_policy<'a>(
        &'a self,
        role: &'a str,
        policy_name: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            self.iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .map_err(|e| classify(IAM, "PutRolePolicy", e))?;
            Ok(())
        })
    }

    fn delete_role<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, AwsError>> {
        Box::pin(async move {
            // IAM refuses to delete a role that still has inline policies.
            let policies = match self.iam.list_role_policies().role_name(name).send().await {
                Ok(output) => output.policy_names().to_vec(),
                Err(e) => {
                    return absent::<()>(classify(IAM, "ListRolePolicies", e)).map(|_| false);
                }
            };
            for policy in &policies {
                if let Err(e) = self
                    .iam
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                {
                    absent::<()>(classify(IAM, "DeleteRolePolicy", e))?;
                }
            }
            match self.iam.delete_role().role_name(name).send().await {
                Ok(_) => Ok(true),
                Err(e) => absent::<()>(classify(IAM, "DeleteRole", e)).map(|_| false),
            }
        })
    }
}

/// How the operator uses the account: whether it checks before publishing, and how it makes
/// roles.
#[derive(Clone, Debug)]
pub struct AccountSettings {
    /// Check the campaign, the function and the role before each Create or Update.
    pub checks: bool,
    /// The IAM path of roles the operator creates (`/` or `/a/b/`).
    pub role_path: String,
    /// A managed policy ARN set as the permissions boundary of roles the operator creates.
    pub permissions_boundary: Option<String>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            checks: true,
            role_path: "/recommender-operator/".to_owned(),
            permissions_boundary: None,
        }
    }
}

/// The account client with its settings, and what recent checks found.
pub struct AccountServices {
    pub client: Box<dyn Account>,
    pub settings: AccountSettings,
    pub passed: crate::checks::Passed,
}

impl AccountServices {
    pub fn new(client: Box<dyn Account>, settings: AccountSettings) -> Self {
        Self {
            client,
            settings,
            passed: Default::default(),
        }
    }

    /// No account at all: checks off, and every call refused (for tests of Pinpoint alone).
    pub fn unconfigured() -> Self {
        Self::new(
            Box::new(Unconfigured),
            AccountSettings {
                checks: false,
                ..AccountSettings::default()
            },
        )
    }
}

/// Refuses every call.
struct Unconfigured;

fn refused<'a, T: Send + 'a>(operation: &'static str) -> BoxFuture<'a, Result<T, AwsError>> {
    Box::pin(async move {
        Err(AwsError {
            service: IAM,
            operation,
            kind: AwsErrorKind::AccessDenied,
            code: String::new(),
            message: "no AWS account is configured for IAM, Personalize and Lambda".to_owned(),
        })
    })
}

impl Account for Unconfigured {
    fn describe_campaign<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Campaign>, AwsError>> {
        refused("DescribeCampaign")
    }
    fn function_exists<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<bool, AwsError>> {
        refused("GetFunction")
    }
    fn function_policy<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        refused("GetPolicy")
    }
    fn get_role<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Role>, AwsError>> {
        refused("GetRole")
    }
    fn create_role<'a>(&'a self, _: &'a NewRole) -> BoxFuture<'a, Result<Role, AwsError>> {
        refused("CreateRole")
    }
    fn put_role_policy<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        refused("PutRolePolicy")
    }
    fn delete_role<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, AwsError>> {
        refused("DeleteRole")
    }
}
