//! IAM policy documents: the ones the operator writes for a role it creates, and the reading of
//! the ones it checks (a role's trust policy, a Lambda function's resource policy). Pure.

use serde_json::{Value, json};

use crate::domain::arn::Arn;

/// The service principal Pinpoint assumes roles as.
pub const PINPOINT_PRINCIPAL: &str = "pinpoint.amazonaws.com";

/// The trust policy of a role Pinpoint assumes for projects of `account`, in any Region (so a
/// campaign moving Region does not need a new role), as the Pinpoint guide writes it.
pub fn trust_policy(partition: &str, account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": PINPOINT_PRINCIPAL },
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": { "AWS:SourceAccount": account },
                // Projects (as the API reference writes it) and recommender configurations (as
                // some of the Pinpoint guide does): either form of source ARN matches.
                "ArnLike": { "AWS:SourceArn": [
                    format!("arn:{partition}:mobiletargeting:*:{account}:apps/*"),
                    format!("arn:{partition}:mobiletargeting:*:{account}:recommenders/*"),
                ] }
            }
        }]
    })
    .to_string()
}

/// Least privilege for one campaign: describe its solution, describe it and get
/// recommendations from it.
pub fn permissions_policy(campaign_arn: &str, solution_arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeSolution",
                "Effect": "Allow",
                "Action": "personalize:DescribeSolution",
                "Resource": solution_arn
            },
            {
                "Sid": "UseCampaign",
                "Effect": "Allow",
                "Action": ["personalize:DescribeCampaign", "personalize:GetRecommendations"],
                "Resource": campaign_arn
            }
        ]
    })
    .to_string()
}

/// The solution a campaign serves, from its solution version ARN
/// (`...:solution/NAME/VERSION`); without one, every solution of the campaign's account and
/// Region.
pub fn solution_arn(campaign_arn: &str, solution_version_arn: Option<&str>) -> String {
    if let Some(version) = solution_version_arn
        && let Some((solution, _)) = version.rsplit_once('/')
        && solution.contains(":solution/")
    {
        return solution.to_owned();
    }
    match Arn::parse(campaign_arn) {
        Some(a) => format!(
            "arn:{}:personalize:{}:{}:solution/*",
            a.partition, a.region, a.account
        ),
        None => "*".to_owned(),
    }
}

/// Whether a role's trust policy lets Pinpoint assume it.
pub fn trusts_pinpoint(trust_policy: &str) -> bool {
    allows(trust_policy, PINPOINT_PRINCIPAL, &["sts:AssumeRole"])
}

/// Whether a function's resource policy lets Pinpoint in `region` invoke it.
pub fn pinpoint_may_invoke(resource_policy: &str, region: &str) -> bool {
    allows(
        resource_policy,
        &format!("pinpoint.{region}.amazonaws.com"),
        &["lambda:InvokeFunction"],
    )
}

/// Whether some Allow statement, and no Deny statement, grants `principal` one of `actions`.
/// Conditions are not evaluated: they narrow who may call (the source ARN), which the checks
/// cannot know.
fn allows(policy: &str, principal: &str, actions: &[&str]) -> bool {
    let Ok(policy) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements = match policy.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    let matching = |effect: &str| {
        statements.iter().any(|s| {
            s.get("Effect").and_then(Value::as_str) == Some(effect)
                && names_principal(s.get("Principal"), principal)
                && names_action(s.get("Action"), actions)
        })
    };
    matching("Allow") && !matching("Deny")
}

fn names_principal(value: Option<&Value>, principal: &str) -> bool {
    match value {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => map.get("Service").is_some_and(|v| one_of(v, principal)),
        _ => false,
    }
}

fn names_action(value: Option<&Value>, actions: &[&str]) -> bool {
    let service = actions
        .first()
        .and_then(|a| a.split_once(':'))
        .map(|(s, _)| s)
        .unwrap_or_default();
    let wildcard = format!("{service}:*");
    value.is_some_and(|v| {
        actions.iter().any(|a| one_of(v, a)) || one_of(v, "*") || one_of(v, &wildcard)
    })
}

/// A policy value is a string or a list of strings; IAM compares action names without case.
fn one_of(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s.eq_ignore_ascii_case(wanted),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case(wanted))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_policy_it_writes_trusts_pinpoint_for_the_account() {
        let policy = trust_policy("aws", "123456789012");
        assert!(trusts_pinpoint(&policy));
        let v: Value = serde_json::from_str(&policy).expect("json");
        let condition = &v["Statement"][0]["Condition"];
        assert_eq!(
            condition["StringEquals"]["AWS:SourceAccount"],
            "123456789012"
        );
        assert_eq!(
            condition["ArnLike"]["AWS:SourceArn"],
            json!([
                "arn:aws:mobiletargeting:*:123456789012:apps/*",
                "arn:aws:mobiletargeting:*:123456789012:recommenders/*"
            ])
        );
    }

    #[test]
    fn other_trust_policies_are_read_as_iam_does() {
        let ec2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert!(!trusts_pinpoint(ec2));
        let listed = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","pinpoint.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"]}}"#;
        assert!(trusts_pinpoint(listed));
        let denied = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"pinpoint.amazonaws.com"},"Action":"sts:*"},{"Effect":"Deny","Principal":"*","Action":"*"}]}"#;
        assert!(!trusts_pinpoint(denied));
        assert!(!trusts_pinpoint("not json"));
    }

    #[test]
    fn lambda_policies_must_name_the_regional_principal() {
        let policy = r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"pinpoint","Effect":"Allow","Principal":{"Service":"pinpoint.us-east-1.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:enrich","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:mobiletargeting:us-east-1:123456789012:apps/*"}}}]}"#;
        assert!(pinpoint_may_invoke(policy, "us-east-1"));
        assert!(!pinpoint_may_invoke(policy, "eu-west-1"));
        let global = policy.replace("pinpoint.us-east-1.amazonaws.com", "pinpoint.amazonaws.com");
        assert!(!pinpoint_may_invoke(&global, "us-east-1"));
    }

    #[test]
    fn the_permissions_name_the_solution_and_the_campaign() {
        let campaign = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";
        let solution = solution_arn(
            campaign,
            Some("arn:aws:personalize:us-east-1:123456789012:solution/movies/1a2b3c4d"),
        );
        assert_eq!(
            solution,
            "arn:aws:personalize:us-east-1:123456789012:solution/movies"
        );
        assert_eq!(
            solution_arn(campaign, None),
            "arn:aws:personalize:us-east-1:123456789012:solution/*"
        );
        let v: Value =
            serde_json::from_str(&permissions_policy(campaign, &solution)).expect("json");
        assert_eq!(v["Statement"][0]["Resource"], solution);
        assert_eq!(v["Statement"][1]["Resource"], campaign);
        assert_eq!(
            v["Statement"][1]["Action"],
            json!([
                "personalize:DescribeCampaign",
                "personalize:GetRecommendations"
            ])
        );
    }
}
