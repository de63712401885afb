//! The IAM roles, Personalize campaigns and Lambda functions of one account, which the operator
//! looks at (the seed document that puts them there is read in `seed`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// A policy document as submitted, and parsed.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: String,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    pub trust: Document,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    pub inline: BTreeMap<String, Document>,
}

impl Role {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        account: &str,
        name: &str,
        path: &str,
        trust: Document,
        description: Option<String>,
        max_session_duration: i64,
        boundary: Option<String>,
        tags: Vec<(String, String)>,
    ) -> Self {
        let id: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_uppercase()
            .chars()
            .take(17)
            .collect();
        Self {
            name: name.to_owned(),
            path: path.to_owned(),
            id: format!("AROA{id}"),
            arn: format!("arn:aws:iam::{account}:role{path}{name}"),
            created: Utc::now(),
            trust,
            description,
            max_session_duration,
            boundary,
            tags,
            inline: BTreeMap::new(),
        }
    }

    /// ISO 8601, as IAM answers.
    pub fn create_date(&self) -> String {
        self.created
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// The role as `GET /_emulator/iam/roles` shows it.
    pub fn admin(&self) -> Value {
        let tags: serde_json::Map<String, Value> = self
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let inline: serde_json::Map<String, Value> = self
            .inline
            .iter()
            .map(|(k, d)| (k.clone(), d.value.clone()))
            .collect();
        json!({
            "roleName": self.name,
            "path": self.path,
            "arn": self.arn,
            "roleId": self.id,
            "createDate": self.create_date(),
            "assumeRolePolicyDocument": self.trust.value,
            "permissionsBoundary": self.boundary,
            "description": self.description,
            "maxSessionDuration": self.max_session_duration,
            "tags": tags,
            "inlinePolicies": inline,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Campaign {
    pub arn: String,
    pub name: String,
    pub region: String,
    pub solution_version_arn: String,
    pub status: String,
    pub min_provisioned_tps: i64,
    pub failure_reason: Option<String>,
    pub created: f64,
}

impl Campaign {
    /// The `campaign` member of DescribeCampaign's answer.
    pub fn describe(&self) -> Value {
        let mut value = json!({
            "campaignArn": self.arn,
            "name": self.name,
            "solutionVersionArn": self.solution_version_arn,
            "minProvisionedTPS": self.min_provisioned_tps,
            "status": self.status,
            "creationDateTime": self.created,
            "lastUpdatedDateTime": self.created,
        });
        if let Some(reason) = &self.failure_reason {
            value["failureReason"] = json!(reason);
        }
        value
    }

    fn admin(&self) -> Value {
        let mut value = self.describe();
        value["region"] = json!(self.region);
        value
    }
}

#[derive(Clone, Debug)]
pub struct Function {
    pub arn: String,
    pub name: String,
    pub region: String,
    pub account: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    /// The resource-based policy, as the JSON text GetPolicy returns.
    pub policy: Option<String>,
    pub revision_id: String,
    pub last_modified: String,
}

impl Function {
    /// GetFunction's answer.
    pub fn get_function(&self) -> Value {
        json!({
            "Configuration": {
                "FunctionName": self.name,
                "FunctionArn": self.arn,
                "Runtime": self.runtime,
                "Role": self.role,
                "Handler": self.handler,
                "CodeSize": 1024,
                "Description": "",
                "Timeout": 3,
                "MemorySize": 128,
                "LastModified": self.last_modified,
                "CodeSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                "Version": "$LATEST",
                "TracingConfig": { "Mode": "PassThrough" },
                "RevisionId": self.revision_id,
                "State": "Active",
                "LastUpdateStatus": "Successful",
                "PackageType": "Zip",
                "Architectures": ["x86_64"],
                "EphemeralStorage": { "Size": 512 },
            },
            "Code": {
                "RepositoryType": "S3",
                "Location": format!(
                    "https://awslambda-{region}-tasks.s3.{region}.amazonaws.com/snapshots/{}/{}-{}",
                    self.account,
                    self.name,
                    self.revision_id,
                    region = self.region,
                ),
            },
        })
    }

    fn admin(&self) -> Value {
        json!({
            "arn": self.arn,
            "name": self.name,
            "region": self.region,
            "runtime": self.runtime,
            "handler": self.handler,
            "role": self.role,
            "policy": self.policy.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok()),
        })
    }
}

/// Everything but the Pinpoint configurations.
#[derive(Default)]
pub struct Resources {
    /// By lower-cased name: IAM role names are unique regardless of case.
    roles: BTreeMap<String, Role>,
    campaigns: BTreeMap<String, Campaign>,
    functions: BTreeMap<String, Function>,
}

impl Resources {
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&name.to_lowercase())
    }

    pub fn role_mut(&mut self, name: &str) -> Option<&mut Role> {
        self.roles.get_mut(&name.to_lowercase())
    }

    pub fn put_role(&mut self, role: Role) {
        self.roles.insert(role.name.to_lowercase(), role);
    }

    pub fn remove_role(&mut self, name: &str) -> Option<Role> {
        self.roles.remove(&name.to_lowercase())
    }

    pub fn roles(&self) -> Vec<Value> {
        self.roles.values().map(Role::admin).collect()
    }

    pub fn campaign(&self, arn: &str) -> Option<&Campaign> {
        self.campaigns.get(arn)
    }

    pub fn campaigns(&self) -> Vec<Value> {
        self.campaigns.values().map(Campaign::admin).collect()
    }

    pub fn function(&self, arn: &str) -> Option<&Function> {
        self.functions.get(arn)
    }

    pub fn functions(&self) -> Vec<Value> {
        self.functions.values().map(Function::admin).collect()
    }

    /// Upserts everything in `seed`.
    pub fn apply(&mut self, seed: Seed) {
        for role in seed.roles {
            self.put_role(role);
        }
        for campaign in seed.campaigns {
            self.campaigns.insert(campaign.arn.clone(), campaign);
        }
        for function in seed.functions {
            self.functions.insert(function.arn.clone(), function);
        }
    }
}

/// A checked seed document, ready to apply (`seed::parse` makes one).
pub struct Seed {
    pub roles: Vec<Role>,
    pub campaigns: Vec<Campaign>,
    pub functions: Vec<Function>,
}
