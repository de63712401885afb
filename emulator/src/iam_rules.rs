//! IAM's own rules on role names, paths, descriptions, boundaries, tags, policy documents and
//! their size quotas, with the errors IAM answers when one is broken. Apart from the handlers
//! because seeding (`resources`) applies the same rules to the roles it creates.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::{
    query::{QueryError, check_length, check_pattern, constraint},
    rules::re,
};

// `\w` in IAM's patterns is ASCII: letters, digits and underscore.
const NAME_CHARS: &str = r"[A-Za-z0-9_+=,.@-]";
static ROLE_NAME: LazyLock<Regex> = LazyLock::new(|| re(&format!("^{NAME_CHARS}+$")));
static PATH: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:/|/[\x21-\x7E]+/)$"));
static BOUNDARY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^arn:aws:iam::(?:aws|\d{{12}}):policy/(?:[\x21-\x7E]*/)?{NAME_CHARS}{{1,128}}$"
    ))
});
static TAG_CHARS: LazyLock<Regex> = LazyLock::new(|| re(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"));
static DESCRIPTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[\x09\x0A\x0D\x20-\x7E\x{A1}-\x{FF}]*$"));
/// A role ARN: account, path, name.
pub static ROLE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^arn:aws:iam::(\d{{12}}):role(/|/[\x21-\x7E]+/)({NAME_CHARS}{{1,64}})$"
    ))
});

pub fn check_role_name(name: &str) -> Result<(), QueryError> {
    check_length(name, "roleName", 1, 64)?;
    check_pattern(name, "roleName", &ROLE_NAME, r"[\w+=,.@-]+")
}

pub fn check_policy_name(name: &str) -> Result<(), QueryError> {
    check_length(name, "policyName", 1, 128)?;
    check_pattern(name, "policyName", &ROLE_NAME, r"[\w+=,.@-]+")
}

pub fn check_path(path: &str) -> Result<(), QueryError> {
    check_length(path, "path", 1, 512)?;
    check_pattern(
        path,
        "path",
        &PATH,
        r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
    )
}

pub fn check_description(description: &str) -> Result<(), QueryError> {
    check_length(description, "description", 0, 1000)?;
    check_pattern(
        description,
        "description",
        &DESCRIPTION,
        r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
    )
}

pub fn check_boundary(arn: &str) -> Result<(), QueryError> {
    check_length(arn, "permissionsBoundary", 20, 2048)?;
    if !BOUNDARY.is_match(arn) {
        return Err(QueryError::invalid_input(format!(
            "ARN {arn} is not valid: a permissions boundary must be a managed policy ARN \
             (arn:aws:iam::aws:policy/... or arn:aws:iam::ACCOUNT:policy/...)."
        )));
    }
    Ok(())
}

pub fn check_max_session_duration(seconds: i64) -> Result<(), QueryError> {
    if !(3600..=43200).contains(&seconds) {
        return Err(constraint(
            &seconds.to_string(),
            "maxSessionDuration",
            "must have value between 3600 and 43200",
        ));
    }
    Ok(())
}

pub fn check_tags(tags: &[(String, String)]) -> Result<(), QueryError> {
    if tags.len() > 50 {
        return Err(QueryError::limit(format!(
            "The number of tags ({}) exceeds the limit of 50 tags per role.",
            tags.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, (key, value)) in tags.iter().enumerate() {
        let n = i + 1;
        check_length(key, &format!("tags.{n}.member.key"), 1, 128)?;
        check_length(value, &format!("tags.{n}.member.value"), 0, 256)?;
        for (text, field) in [(key, "key"), (value, "value")] {
            check_pattern(
                text,
                &format!("tags.{n}.member.{field}"),
                &TAG_CHARS,
                r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            )?;
        }
        if key.to_lowercase().starts_with("aws:") {
            return Err(QueryError::invalid_input(format!(
                "User-defined tag keys can't start with 'aws:' ({key})."
            )));
        }
        if !seen.insert(key.to_lowercase()) {
            return Err(QueryError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// Which kind of policy a document is: a role's trust policy names principals, a permissions
/// policy names resources instead.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Trust,
    Permissions,
}

/// Parses and checks a policy document the way IAM does (MalformedPolicyDocument otherwise).
pub fn check_policy_document(text: &str, kind: PolicyKind) -> Result<Value, QueryError> {
    let field = match kind {
        PolicyKind::Trust => "assumeRolePolicyDocument",
        PolicyKind::Permissions => "policyDocument",
    };
    check_length(text, field, 1, 131_072)?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| QueryError::malformed(format!("This policy contains invalid Json: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(QueryError::malformed(
            "This policy contains invalid Json: the document must be a JSON object",
        ));
    };
    match object.get("Version") {
        None => return Err(QueryError::malformed("Missing required field Version")),
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => {
            return Err(QueryError::malformed(
                "The policy failed legacy parsing: Version must be 2012-10-17 or 2008-10-17",
            ));
        }
    }
    let statements: Vec<&Value> = match object.get("Statement") {
        None => return Err(QueryError::malformed("Missing required field Statement")),
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        Some(_) => {
            return Err(QueryError::malformed(
                "Statement must be an object or a non-empty list of objects",
            ));
        }
    };
    for statement in statements {
        let Some(statement) = statement.as_object() else {
            return Err(QueryError::malformed(
                "Each Statement must be a JSON object",
            ));
        };
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            Some(other) => return Err(QueryError::malformed(format!("Invalid effect: {other}"))),
            None => return Err(QueryError::malformed("Missing required field Effect")),
        }
        if !statement.contains_key("Action") && !statement.contains_key("NotAction") {
            return Err(QueryError::malformed(
                "Policy statement must contain actions.",
            ));
        }
        let has_principal =
            statement.contains_key("Principal") || statement.contains_key("NotPrincipal");
        match kind {
            PolicyKind::Trust if !has_principal => {
                return Err(QueryError::malformed("Missing required field Principal"));
            }
            PolicyKind::Permissions if has_principal => {
                return Err(QueryError::malformed(
                    "Policy document should not specify a principal.",
                ));
            }
            PolicyKind::Permissions
                if !statement.contains_key("Resource")
                    && !statement.contains_key("NotResource") =>
            {
                return Err(QueryError::malformed(
                    "Policy statement must contain resources.",
                ));
            }
            _ => {}
        }
    }
    Ok(value)
}

/// Characters counted against IAM's policy size quotas: everything but whitespace.
fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// IAM's quota on a role's trust policy.
pub fn check_trust_size(text: &str) -> Result<(), QueryError> {
    if policy_size(text) > 2048 {
        return Err(QueryError::limit(
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ));
    }
    Ok(())
}

/// IAM's quota on the inline policies of one role, together.
pub fn check_inline_size<'a>(
    role: &str,
    documents: impl Iterator<Item = &'a str>,
) -> Result<(), QueryError> {
    if documents.map(policy_size).sum::<usize>() > 10_240 {
        return Err(QueryError::limit(format!(
            "Maximum policy size of 10240 bytes exceeded for role {role}"
        )));
    }
    Ok(())
}
