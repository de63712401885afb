//! The rest of the AWS account the wizard touches: IAM (the role it can create), Personalize
//! (the campaign) and Lambda (the function). One small trait, like `Pinpoint`, so the reconciler
//! is tested with fakes and the emulator, and an implementation over the AWS SDKs.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use aws_config::{Region, SdkConfig};

use crate::{
    aws::{
        AwsError, AwsErrorKind, IAM, LAMBDA, PERSONALIZE, classify,
        clients::{ClientSettings, Observe, regional_client},
    },
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

/// The IAM, Personalize and Lambda calls the operator makes. Object-safe (`async_trait`), like
/// `Pinpoint`, so the context holds one `Box<dyn Account>` whatever implements it.
#[async_trait::async_trait]
pub trait Account: Send + Sync + 'static {
    /// `Ok(None)` when the campaign does not exist in `region`.
    async fn describe_campaign(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<Option<Campaign>, AwsError>;

    /// Whether the function (a name or an unqualified ARN) exists in `region`.
    async fn function_exists(&self, region: &str, function: &str) -> Result<bool, AwsError>;

    /// The function's resource policy (JSON text); `Ok(None)` when it has none.
    async fn function_policy(
        &self,
        region: &str,
        function: &str,
    ) -> Result<Option<String>, AwsError>;

    /// `Ok(None)` when no role has that name.
    async fn get_role(&self, name: &str) -> Result<Option<Role>, AwsError>;

    async fn create_role(&self, role: &NewRole) -> Result<Role, AwsError>;

    /// Creates or replaces an inline policy of the role.
    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), AwsError>;

    /// Deletes the role and its inline policies; `Ok(false)` when it was already gone.
    async fn delete_role(&self, name: &str) -> Result<bool, AwsError>;
}

/// `Account` over aws-sdk-iam, aws-sdk-personalize and aws-sdk-lambda; regional clients are
/// built on first use.
pub struct SdkAccount {
    settings: ClientSettings,
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
        iam = iam.interceptor(Observe::new(IAM, metrics.clone()));
        Self {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            settings: ClientSettings {
                base,
                endpoint_url,
                metrics,
            },
            personalize: Mutex::default(),
            lambda: Mutex::default(),
        }
    }

    fn personalize(&self, region: &str) -> aws_sdk_personalize::Client {
        regional_client!(
            &self.settings,
            &self.personalize,
            aws_sdk_personalize,
            PERSONALIZE,
            region
        )
    }

    fn lambda(&self, region: &str) -> aws_sdk_lambda::Client {
        regional_client!(&self.settings, &self.lambda, aws_sdk_lambda, LAMBDA, region)
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

#[async_trait::async_trait]
impl Account for SdkAccount {
    async fn describe_campaign(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<Option<Campaign>, AwsError> {
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
    }

    async fn function_exists(&self, region: &str, function: &str) -> Result<bool, AwsError> {
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
    }

    async fn function_policy(
        &self,
        region: &str,
        function: &str,
    ) -> Result<Option<String>, AwsError> {
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
    }

    async fn get_role(&self, name: &str) -> Result<Option<Role>, AwsError> {
        match self.iam.get_role().role_name(name).send().await {
            Ok(output) => Ok(output.role().map(role_from)),
            Err(e) => absent(classify(IAM, "GetRole", e)),
        }
    }

    async fn create_role(&self, role: &NewRole) -> Result<Role, AwsError> {
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
    }

    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| classify(IAM, "PutRolePolicy", e))?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<bool, AwsError> {
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
    }
}

/// Refuses every call: no account at all.
pub struct Unconfigured;

fn refused<T>(operation: &'static str) -> Result<T, AwsError> {
    Err(AwsError {
        service: IAM,
        operation,
        kind: AwsErrorKind::AccessDenied,
        code: String::new(),
        message: "no AWS account is configured for IAM, Personalize and Lambda".to_owned(),
    })
}

#[async_trait::async_trait]
impl Account for Unconfigured {
    async fn describe_campaign(&self, _: &str, _: &str) -> Result<Option<Campaign>, AwsError> {
        refused("DescribeCampaign")
    }
    async fn function_exists(&self, _: &str, _: &str) -> Result<bool, AwsError> {
        refused("GetFunction")
    }
    async fn function_policy(&self, _: &str, _: &str) -> Result<Option<String>, AwsError> {
        refused("GetPolicy")
    }
    async fn get_role(&self, _: &str) -> Result<Option<Role>, AwsError> {
        refused("GetRole")
    }
    async fn create_role(&self, _: &NewRole) -> Result<Role, AwsError> {
        refused("CreateRole")
    }
    async fn put_role_policy(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
        refused("PutRolePolicy")
    }
    async fn delete_role(&self, _: &str) -> Result<bool, AwsError> {
        refused("DeleteRole")
    }
}
