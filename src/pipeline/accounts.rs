//! The AWS accounts models publish into: the operator's own, and one per role the tenancy
//! settings bind namespaces to. Each account has clients of its own, so everything that is per
//! account in AWS is per account here too: the rate limit, the listing snapshot, the checks
//! that passed, the roles the operator made. An account whose role cannot be assumed fails its
//! own models only.

use std::{collections::HashMap, sync::Arc};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::{Mutex, OnceCell};

use crate::{
    aws::{assumed::AssumedRole, pinpoint::Pinpoint},
    domain::{accounts::AccountChoice, tenancy::Tenancy},
    pipeline::{error::Error, services::AccountServices},
};

/// Why a namespace's models cannot publish: no binding (and unbound namespaces are refused), or
/// the bound role cannot be assumed. Each is an `Error` of the same name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountRefusal {
    NotBound(String),
    Unavailable(String),
}

impl From<AccountRefusal> for Error {
    fn from(refusal: AccountRefusal) -> Self {
        match refusal {
            AccountRefusal::NotBound(m) => Error::AccountNotBound(m),
            AccountRefusal::Unavailable(m) => Error::AccountUnavailable(m),
        }
    }
}

/// One account's clients.
pub struct AccountStack {
    /// The account's ID: a bound role's, from its ARN; `None` for the operator's own until STS
    /// has said which it is.
    pub account_id: Option<String>,
    pub pinpoint: Box<dyn Pinpoint>,
    pub services: AccountServices,
    credentials: Option<AssumedRole>,
}

impl AccountStack {
    pub fn new(pinpoint: Box<dyn Pinpoint>, services: AccountServices) -> Self {
        Self {
            account_id: None,
            pinpoint,
            services,
            credentials: None,
        }
    }
}

/// Builds an account's Pinpoint and account clients from its SDK configuration (credentials
/// included); the string labels its metrics (the account ID; empty for the operator's own).
pub type MakeClients =
    Box<dyn Fn(SdkConfig, &str) -> (Box<dyn Pinpoint>, AccountServices) + Send + Sync>;

/// How to reach other accounts: the operator's SDK configuration, STS's endpoint (an
/// emulator's), and how to build an account's clients.
pub struct Reach {
    pub base: SdkConfig,
    pub sts_endpoint: Option<String>,
    pub make: MakeClients,
}

/// A bound role: its ARN and the external ID it is assumed with. One account stack per key.
type RoleKey = (String, Option<String>);

pub struct Accounts {
    own: Arc<AccountStack>,
    own_id: OnceCell<Option<String>>,
    reach: Option<Reach>,
    bound: Mutex<HashMap<RoleKey, Arc<AccountStack>>>,
}

impl Accounts {
    /// The operator's own account only: bindings are answered with `AccountUnavailable` (the
    /// CLI's commands and tests of one account).
    pub fn single(own: AccountStack) -> Self {
        Self {
            own: Arc::new(own),
            own_id: OnceCell::new(),
            reach: None,
            bound: Mutex::default(),
        }
    }

    /// The operator's own account, and every account a role can be assumed in.
    pub fn new(reach: Reach) -> Self {
        let (pinpoint, services) = (reach.make)(reach.base.clone(), "");
        Self {
            reach: Some(reach),
            ..Self::single(AccountStack::new(pinpoint, services))
        }
    }

    /// The operator's own account's clients.
    pub fn own(&self) -> &Arc<AccountStack> {
        &self.own
    }

    /// The account `namespace`'s models publish into, with credentials that work, and its ID
    /// when known; or why it cannot be used.
    pub async fn resolve(
        &self,
        namespace: &str,
        tenancy: &Tenancy,
    ) -> Result<(Arc<AccountStack>, Option<String>), AccountRefusal> {
        let binding = match tenancy.account_for(namespace) {
            AccountChoice::Operator => {
                let id = self.own_account_id().await;
                return Ok((self.own.clone(), id));
            }
            AccountChoice::Refused => {
                return Err(AccountRefusal::NotBound(format!(
                    "namespace {namespace} is bound to no AWS account, and the operator's tenancy settings refuse unbound namespaces (accounts.unbound: refuse); ask for a binding in accounts.bindings"
                )));
            }
            AccountChoice::Bound(binding) => binding,
        };
        let Some(reach) = &self.reach else {
            return Err(AccountRefusal::Unavailable(format!(
                "namespace {namespace} is bound to {}, but this command reaches no other account",
                binding.role_arn
            )));
        };
        let key = (binding.role_arn.clone(), binding.external_id.clone());
        let stack = {
            let mut bound = self.bound.lock().await;
            match bound.get(&key) {
                Some(stack) => stack.clone(),
                None => {
                    let credentials = AssumedRole::new(
                        &reach.base,
                        reach.sts_endpoint.as_deref(),
                        &binding.role_arn,
                        binding.external_id.as_deref(),
                        &session_name(namespace),
                    )
                    .await;
                    let config = reach
                        .base
                        .clone()
                        .into_builder()
                        .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
                        .build();
                    let (pinpoint, services) = (reach.make)(config, &binding.account_id);
                    let stack = Arc::new(AccountStack {
                        account_id: Some(binding.account_id.clone()),
                        pinpoint,
                        services,
                        credentials: Some(credentials),
                    });
                    bound.insert(key, stack.clone());
                    stack
                }
            }
        };
        if let Some(credentials) = &stack.credentials {
            credentials.credentials().await.map_err(|message| {
                AccountRefusal::Unavailable(format!(
                    "cannot assume {} for namespace {namespace}: {message}",
                    binding.role_arn
                ))
            })?;
        }
        let id = stack.account_id.clone();
        Ok((stack, id))
    }

    /// The operator's own account, asked of STS once (`None` when STS did not answer then,
    /// said in the log, or without AWS configuration): it is only reported, never relied on.
    async fn own_account_id(&self) -> Option<String> {
        let reach = self.reach.as_ref()?;
        self.own_id
            .get_or_init(|| async {
                let mut config = aws_sdk_sts::config::Builder::from(&reach.base);
                if let Some(url) = &reach.sts_endpoint {
                    config = config.endpoint_url(url);
                }
                let identity = aws_sdk_sts::Client::from_conf(config.build())
                    .get_caller_identity()
                    .send()
                    .await;
                match identity {
                    Ok(identity) => identity.account,
                    Err(e) => {
                        tracing::warn!(
                            error = %aws_sdk_sts::error::DisplayErrorContext(&e),
                            "cannot tell the operator's own AWS account (sts:GetCallerIdentity); status.accountId stays empty for its models"
                        );
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

/// `recommender-operator@NAMESPACE`, cut to STS's 64 characters: CloudTrail in the target
/// account shows which namespace the operator acted for (the first one that needed the role,
/// where several namespaces share one binding's role).
fn session_name(namespace: &str) -> String {
    let mut name = format!("recommender-operator@{namespace}");
    name.truncate(64);
    name
}
