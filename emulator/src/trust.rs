//! Whether a role's trust policy lets a caller assume it: what STS checks on AssumeRole (the
//! caller's own identity policies are not modelled: every caller may call AssumeRole).
//!
//! A statement applies when its `Action` names `sts:AssumeRole` (wildcards allowed), its
//! `Principal` is `"*"` or has an `AWS` entry that is `*`, the caller's account ID, the
//! account's root (`arn:aws:iam::ACCOUNT:root`), the caller's ARN, or for a role session the
//! role's ARN; and its `Condition`, if any, holds. The only condition understood is
//! `StringEquals` on `sts:ExternalId`: an Allow with any other condition does not apply, a Deny
//! with one does (fail closed). `NotPrincipal` and `NotAction` statements never match an Allow.
//! The policy allows when an Allow applies and no Deny does.

use serde_json::Value;

/// The request a trust policy is checked against.
pub struct Request<'a> {
    pub caller_account: &'a str,
    pub caller_arn: &'a str,
    /// The role of a caller that is a role session.
    pub caller_role_arn: Option<&'a str>,
    pub external_id: Option<&'a str>,
}

/// Whether `policy` (a parsed trust policy document) allows the request.
pub fn allows(policy: &Value, request: &Request<'_>) -> bool {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        _ => return false,
    };
    let mut allowed = false;
    for statement in statements {
        if !names_assume_role(statement) || !names_caller(statement, request) {
            continue;
        }
        let condition = condition_holds(statement.get("Condition"), request);
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") if condition != Some(false) => return false,
            Some("Allow") if condition == Some(true) => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// The strings of a string-or-list value.
fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn names_assume_role(statement: &Value) -> bool {
    strings(statement.get("Action"))
        .iter()
        .any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), "sts:assumerole"))
}

fn names_caller(statement: &Value, request: &Request<'_>) -> bool {
    let principals = match statement.get("Principal") {
        Some(Value::String(s)) if s == "*" => return true,
        Some(Value::Object(map)) => strings(map.get("AWS")),
        _ => return false,
    };
    let root = format!("arn:aws:iam::{}:root", request.caller_account);
    principals.iter().any(|p| {
        *p == "*"
            || *p == request.caller_account
            || *p == root
            || *p == request.caller_arn
            || Some(*p) == request.caller_role_arn
    })
}

/// `Some(true)` when the condition holds (or there is none), `Some(false)` when it does not,
/// `None` when it uses an operator or key this module does not know.
fn condition_holds(condition: Option<&Value>, request: &Request<'_>) -> Option<bool> {
    let operators = match condition {
        None => return Some(true),
        Some(Value::Object(operators)) => operators,
        Some(_) => return None,
    };
    let mut holds = true;
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            return None;
        };
        if operator != "StringEquals" {
            return None;
        }
        for (key, expected) in keys {
            if !key.eq_ignore_ascii_case("sts:ExternalId") {
                return None;
            }
            let expected = strings(Some(expected));
            holds &= request
                .external_id
                .is_some_and(|given| expected.contains(&given));
        }
    }
    Some(holds)
}

/// IAM's `*` and `?` wildcards.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CALLER: Request<'static> = Request {
        caller_account: "111111111111",
        caller_arn: "arn:aws:iam::111111111111:user/emulator",
        caller_role_arn: None,
        external_id: None,
    };

    fn policy(principal: Value, condition: Option<Value>) -> Value {
        let mut statement = json!({
            "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole",
        });
        if let Some(c) = condition {
            statement["Condition"] = c;
        }
        json!({ "Version": "2012-10-17", "Statement": [statement] })
    }

    #[test]
    fn principals_that_name_the_caller() {
        for principal in [
            json!("*"),
            json!({ "AWS": "*" }),
            json!({ "AWS": "111111111111" }),
            json!({ "AWS": "arn:aws:iam::111111111111:root" }),
            json!({ "AWS": ["arn:aws:iam::222222222222:root", "arn:aws:iam::111111111111:user/emulator"] }),
        ] {
            assert!(
                allows(&policy(principal.clone(), None), &CALLER),
                "{principal}"
            );
        }
        for principal in [
            json!({ "AWS": "arn:aws:iam::222222222222:root" }),
            json!({ "Service": "pinpoint.amazonaws.com" }),
            json!({ "AWS": "222222222222" }),
        ] {
            assert!(
                !allows(&policy(principal.clone(), None), &CALLER),
                "{principal}"
            );
        }
    }

    #[test]
    fn external_id_conditions() {
        let condition = json!({ "StringEquals": { "sts:ExternalId": "ext-1" } });
        let p = policy(json!({ "AWS": "111111111111" }), Some(condition));
        assert!(!allows(&p, &CALLER));
        let with = |id| Request {
            external_id: Some(id),
            ..CALLER
        };
        assert!(allows(&p, &with("ext-1")));
        assert!(!allows(&p, &with("ext-2")));
        let unknown = json!({ "StringLike": { "sts:ExternalId": "ext-*" } });
        let p = policy(json!({ "AWS": "111111111111" }), Some(unknown));
        assert!(!allows(&p, &with("ext-1")));
    }

    #[test]
    fn actions_and_denies() {
        let mut p = policy(json!({ "AWS": "111111111111" }), None);
        p["Statement"][0]["Action"] = json!(["sts:TagSession", "sts:*"]);
        assert!(allows(&p, &CALLER));
        p["Statement"][0]["Action"] = json!("sts:AssumeRoleWithWebIdentity");
        assert!(!allows(&p, &CALLER));
        p["Statement"][0]["Action"] = json!("sts:AssumeRole");
        p["Statement"]
            .as_array_mut()
            .expect("list")
            .push(json!({ "Effect": "Deny", "Principal": "*", "Action": "*" }));
        assert!(!allows(&p, &CALLER));
        assert!(wildcard_match("a?c*", "abcdef"));
        assert!(!wildcard_match("a?c", "abcd"));
    }
}
