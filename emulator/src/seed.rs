//! The seed document (`POST /_emulator/seed`, `Settings::seed`, `--seed FILE`) that puts IAM
//! roles, Personalize campaigns and Lambda functions into an account, checked as the services
//! would check them: every ARN must name the account seeded.

use std::{collections::BTreeMap, sync::LazyLock};

use chrono::Utc;
use regex::{Captures, Regex};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    iam_rules::{self, PolicyKind},
    query::QueryError,
    resources::{Campaign, Document, Function, Role, Seed},
    rules::re,
};

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

static CAMPAIGN_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^arn:(aws[a-z-]*):personalize:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):campaign/([A-Za-z0-9][A-Za-z0-9_-]{0,62})$",
    )
});
static FUNCTION_ARN: LazyLock<Regex> = LazyLock::new(|| {
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

fn iam_problem(field: String) -> impl Fn(QueryError) -> String {
    move |e| format!("{field}: {} ({})", e.message, e.code)
}

/// Checks a seed document (see the crate docs) for `account`; every message names the field.
pub fn parse(seed: &Value, account: &str) -> Result<Seed, String> {
    let document: SeedDocument = serde_path_to_error::deserialize(seed).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("seed: {}", e.inner())
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    // Roles first: a seed for another account is told by its roles' ARNs.
    Ok(Seed {
        roles: roles(document.roles, account)?,
        campaigns: campaigns(document.campaigns, account)?,
        functions: functions(document.functions, account)?,
    })
}

/// The parts of `arn`, which `pattern` matches; else the problem, at `field`, that it is not
/// `what`.
fn arn_parts<'a>(
    pattern: &Regex,
    arn: &'a str,
    field: &str,
    what: &str,
) -> Result<Captures<'a>, String> {
    pattern
        .captures(arn)
        .ok_or_else(|| format!("{field}: {arn:?} is not {what}"))
}

/// The problem of an ARN that names another account than the one seeded.
fn other_account(field: String, kind: &str, found: &str, account: &str) -> Result<(), String> {
    if found == account {
        Ok(())
    } else {
        Err(format!(
            "{field}: the {kind} is in account {found}, not the seeded account {account}"
        ))
    }
}

fn campaigns(seeds: Vec<SeedCampaign>, account: &str) -> Result<Vec<Campaign>, String> {
    let epoch = Utc::now().timestamp_millis() as f64 / 1000.0;
    let mut campaigns = Vec::new();
    for (i, c) in seeds.into_iter().enumerate() {
        let field = |f: &str| format!("campaigns[{i}].{f}");
        let captures = arn_parts(
            &CAMPAIGN_ARN,
            &c.arn,
            &field("arn"),
            "a Personalize campaign ARN (arn:aws:personalize:REGION:ACCOUNT:campaign/NAME)",
        )?;
        let (partition, region, acct, name) =
            (&captures[1], &captures[2], &captures[3], &captures[4]);
        other_account(field("arn"), "campaign", acct, account)?;
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

    Ok(campaigns)
}

fn functions(seeds: Vec<SeedFunction>, account: &str) -> Result<Vec<Function>, String> {
    let now = Utc::now();
    let mut functions = Vec::new();
    for (i, f) in seeds.into_iter().enumerate() {
        let field = |n: &str| format!("functions[{i}].{n}");
        let captures = arn_parts(
            &FUNCTION_ARN,
            &f.arn,
            &field("arn"),
            "an unqualified Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
        )?;
        let (region, acct, name) = (&captures[2], &captures[3], &captures[4]);
        other_account(field("arn"), "function", acct, account)?;
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

    Ok(functions)
}

fn roles(seeds: Vec<SeedRole>, account: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for (i, r) in seeds.into_iter().enumerate() {
        let field = |n: &str| format!("roles[{i}].{n}");
        let captures = arn_parts(
            &iam_rules::ROLE_ARN,
            &r.arn,
            &field("arn"),
            "an IAM role ARN (arn:aws:iam::ACCOUNT:role/PATH/NAME)",
        )?;
        let (acct, path, name) = (&captures[1], &captures[2], &captures[3]);
        other_account(field("arn"), "role", acct, account)?;
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

    Ok(roles)
}
