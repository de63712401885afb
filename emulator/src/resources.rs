//! The IAM roles, Personalize campaigns and Lambda functions the operator looks at, and the seed
//! document that puts them there (`POST /_emulator/seed`, `--seed FILE`).

use std::{collections::BTreeMap, sync::LazyLock};

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::iam_rules::{self, IamError, PolicyKind};

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

/// A checked seed document, ready to apply.
pub struct Seed {
    roles: Vec<Role>,
    campaigns: Vec<Campaign>,
    functions: Vec<Function>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedDocument {
    #[serde(default)]
    campaigns: Vec<SeedCampaign>,
    #[serde(default)]
    functions: Vec<SeedFunction>,
    #[serde(default)]
    roles: Vec<SeedRole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedCampaign {
    arn: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    solution_version_arn: Option<String>,
    #[serde(default, rename = "minProvisionedTPS")]
    min_provisioned_tps: Option<i64>,
    #[serde(default)]
    failure_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedFunction {
    arn: String,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    runtime: Option<String>,
    #[serde(default)]
    handler: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedRole {
    arn: String,
    #[serde(default)]
    assume_role_policy_document: Option<Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions_boundary: Option<String>,
    #[serde(default)]
    max_session_duration: Option<i64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    inline_policies: BTreeMap<String, Value>,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static pattern")
}

static CAMPAIGN_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^arn:(aws[a-z-]*):personalize:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):campaign/([A-Za-z0-9][A-Za-z0-9_-]{0,62})$",
    )
});
pub static FUNCTION_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^arn:(aws[a-z-]*):lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):function:([a-zA-Z0-9_-]{1,64})$",
    )
});

const CAMPAIGN_STATUSES: [&str; 6] = [
    "ACTIVE",
    "CREATE PENDING",
    "CREATE IN_PROGRESS",
    "CREATE FAILED",
    "DELETE PENDING",
    "DELETE IN_PROGRESS",
];

/// The trust policy a seeded role gets when the seed gives none: Pinpoint may assume it.
fn pinpoint_trust() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "pinpoint.amazonaws.com" },
            "Action": "sts:AssumeRole",
        }],
    })
}

fn iam_problem(field: String) -> impl Fn(IamError) -> String {
    move |e| format!("{field}: {} ({})", e.message, e.code)
}

/// Checks a seed document (see the crate docs) for `account`; every message names the field.
pub fn parse_seed(seed: &Value, account: &str) -> Result<Seed, String> {
    let document: SeedDocument = serde_path_to_error::deserialize(seed).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("seed: {}", e.inner())
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    let now = Utc::now();
    let epoch = now.timestamp_millis() as f64 / 1000.0;

    let mut campaigns = Vec::new();
    for (i, c) in document.campaigns.into_iter().enumerate() {
        let field = |f: &str| format!("campaigns[{i}].{f}");
        let captures = CAMPAIGN_ARN.captures(&c.arn).ok_or_else(|| {
            format!(
                "{}: {:?} is not a Personalize campaign ARN (arn:aws:personalize:REGION:ACCOUNT:campaign/NAME)",
                field("arn"),
                c.arn
            )
        })?;
        let (partition, region, acct, name) =
            (&captures[1], &captures[2], &captures[3], &captures[4]);
        let status = c.status.unwrap_or_else(|| "ACTIVE".to_owned());
        if !CAMPAIGN_STATUSES.contains(&status.as_str()) {
            return Err(format!(
                "{}: {status:?} is not one of {}",
                field("status"),
                CAMPAIGN_STATUSES.join(", ")
            ));
        }
        let tps = c.min_provisioned_tps.unwrap_or(1);
        if tps < 1 {
            return Err(format!(
                "{}: must be at least 1",
                field("minProvisionedTPS")
            ));
        }
        campaigns.push(Campaign {
            solution_version_arn: c.solution_version_arn.unwrap_or_else(|| {
                format!("arn:{partition}:personalize:{region}:{acct}:solution/{name}/1a2b3c4d")
            }),
            name: name.to_owned(),
            region: region.to_owned(),
            arn: c.arn,
            status,
            min_provisioned_tps: tps,
            failure_reason: c.failure_reason,
            created: epoch,
        });
    }

    let mut functions = Vec::new();
    for (i, f) in document.functions.into_iter().enumerate() {
        let field = |n: &str| format!("functions[{i}].{n}");
        let captures = FUNCTION_ARN.captures(&f.arn).ok_or_else(|| {
            format!(
                "{}: {:?} is not an unqualified Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                field("arn"),
                f.arn
            )
        })?;
        let (region, acct, name) = (&captures[2], &captures[3], &captures[4]);
        let policy = match f.policy {
            None | Some(Value::Null) => None,
            Some(policy @ Value::Object(_)) => Some(policy.to_string()),
            Some(_) => {
                return Err(format!(
                    "{}: the resource policy must be a JSON object (or null for none)",
                    field("policy")
                ));
            }
        };
        functions.push(Function {
            name: name.to_owned(),
            region: region.to_owned(),
            account: acct.to_owned(),
            runtime: f.runtime.unwrap_or_else(|| "python3.12".to_owned()),
            handler: f
                .handler
                .unwrap_or_else(|| "lambda_function.lambda_handler".to_owned()),
            role: f
                .role
                .unwrap_or_else(|| format!("arn:aws:iam::{acct}:role/service-role/{name}-role")),
            arn: f.arn,
            policy,
            revision_id: uuid::Uuid::new_v4().to_string(),
            last_modified: now.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
        });
    }

    let mut roles = Vec::new();
    for (i, r) in document.roles.into_iter().enumerate() {
        let field = |n: &str| format!("roles[{i}].{n}");
        let captures = iam_rules::ROLE_ARN.captures(&r.arn).ok_or_else(|| {
            format!(
                "{}: {:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/PATH/NAME)",
                field("arn"),
                r.arn
            )
        })?;
        let (acct, path, name) = (&captures[1], &captures[2], &captures[3]);
        if acct != account {
            return Err(format!(
                "{}: the role is in account {acct}, not the emulator's account {account}",
                field("arn")
            ));
        }
        iam_rules::check_role_name(name).map_err(iam_problem(field("arn")))?;
        iam_rules::check_path(path).map_err(iam_problem(field("arn")))?;
        let trust = r.assume_role_policy_document.unwrap_or_else(pinpoint_trust);
        let trust_text = trust.to_string();
        iam_rules::check_policy_document(&trust_text, PolicyKind::Trust)
            .and_then(|_| iam_rules::check_trust_size(&trust_text))
            .map_err(iam_problem(field("assumeRolePolicyDocument")))?;
        if let Some(d) = &r.description {
            iam_rules::check_description(d).map_err(iam_problem(field("description")))?;
        }
        if let Some(b) = &r.permissions_boundary {
            iam_rules::check_boundary(b).map_err(iam_problem(field("permissionsBoundary")))?;
        }
        let max_session_duration = r.max_session_duration.unwrap_or(3600);
        iam_rules::check_max_session_duration(max_session_duration)
            .map_err(iam_problem(field("maxSessionDuration")))?;
        let tags: Vec<(String, String)> = r.tags.into_iter().collect();
        iam_rules::check_tags(&tags).map_err(iam_problem(field("tags")))?;
        let mut role = Role::new(
            account,
            name,
            path,
            Document {
                text: trust_text,
                value: trust,
            },
            r.description,
            max_session_duration,
            r.permissions_boundary,
            tags,
        );
        for (policy_name, document) in r.inline_policies {
            let problem = iam_problem(field(&format!("inlinePolicies.{policy_name}")));
            iam_rules::check_policy_name(&policy_name).map_err(&problem)?;
            let text = document.to_string();
            iam_rules::check_policy_document(&text, PolicyKind::Permissions).map_err(&problem)?;
            role.inline.insert(
                policy_name,
                Document {
                    text,
                    value: document,
                },
            );
        }
        iam_rules::check_inline_size(name, role.inline.values().map(|d| d.text.as_str()))
            .map_err(iam_problem(field("inlinePolicies")))?;
        roles.push(role);
    }

    Ok(Seed {
        roles,
        campaigns,
        functions,
    })
}
