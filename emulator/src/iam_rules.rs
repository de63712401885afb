//! IAM's own rules on role names, paths, descriptions, boundaries, tags, policy documents and
//! their size quotas, with the errors IAM answers when one is broken. Apart from the handlers
//! because seeding (`resources`) applies the same rules to the roles it creates.

use std::sync::LazyLock;

use axum::{http::StatusCode, response::Response};
use regex::Regex;
use serde_json::Value;

use crate::protocol::Protocol;

/// An IAM error: status, code and message.
#[derive(Debug)]
pub struct IamError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl IamError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
    }

    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "LimitExceeded", message)
    }

    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
    }

    pub fn response(&self) -> Response {
        Protocol::Iam.error(self.status, self.code, self.message.clone())
    }
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static pattern")
}

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

fn pattern_error(value: &str, field: &str, pattern: &str) -> IamError {
    IamError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {pattern}"
    ))
}

fn length_error(value: &str, field: &str, min: usize, max: usize) -> IamError {
    let constraint = if value.chars().count() < min {
        format!("greater than or equal to {min}")
    } else {
        format!("less than or equal to {max}")
    };
    IamError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must have length {constraint}"
    ))
}

fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), IamError> {
    let n = value.chars().count();
    if n < min || n > max {
        Err(length_error(value, field, min, max))
    } else {
        Ok(())
    }
}

pub fn check_role_name(name: &str) -> Result<(), IamError> {
    check_length(name, "roleName", 1, 64)?;
    if !ROLE_NAME.is_match(name) {
        return Err(pattern_error(name, "roleName", r"[\w+=,.@-]+"));
    }
    Ok(())
}

pub fn check_policy_name(name: &str) -> Result<(), IamError> {
    check_length(name, "policyName", 1, 128)?;
    if !ROLE_NAME.is_match(name) {
        return Err(pattern_error(name, "policyName", r"[\w+=,.@-]+"));
    }
    Ok(())
}

pub fn check_path(path: &str) -> Result<(), IamError> {
    check_length(path, "path", 1, 512)?;
    if !PATH.is_match(path) {
        return Err(pattern_error(
            path,
            "path",
            r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        ));
    }
    Ok(())
}

pub fn check_description(description: &str) -> Result<(), IamError> {
    check_length(description, "description", 0, 1000)?;
    if !DESCRIPTION.is_match(description) {
        return Err(pattern_error(
            description,
            "description",
            r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
        ));
    }
    Ok(())
}

pub fn check_boundary(arn: &str) -> Result<(), IamError> {
    check_length(arn, "permissionsBoundary", 20, 2048)?;
    if !BOUNDARY.is_match(arn) {
        return Err(IamError::invalid_input(format!(
            "ARN {arn} is not valid: a permissions boundary must be a managed policy ARN \
             (arn:aws:iam::aws:policy/... or arn:aws:iam::ACCOUNT:policy/...)."
        )));
    }
    Ok(())
}

pub fn check_max_session_duration(seconds: i64) -> Result<(), IamError> {
    if !(3600..=43200).contains(&seconds) {
        return Err(IamError::validation(format!(
            "1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed to \
             satisfy constraint: Member must have value between 3600 and 43200"
        )));
    }
    Ok(())
}

pub fn check_tags(tags: &[(String, String)]) -> Result<(), IamError> {
    if tags.len() > 50 {
        return Err(IamError::limit(format!(
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
            if !TAG_CHARS.is_match(text) {
                return Err(pattern_error(
                    text,
                    &format!("tags.{n}.member.{field}"),
                    r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
                ));
            }
        }
        if key.to_lowercase().starts_with("aws:") {
            return Err(IamError::invalid_input(format!(
                "User-defined tag keys can't start with 'aws:' ({key})."
            )));
        }
        if !seen.insert(key.to_lowercase()) {
            return Err(IamError::invalid_input(
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
pub fn check_policy_document(text: &str, kind: PolicyKind) -> Result<Value, IamError> {
    let field = match kind {
        PolicyKind::Trust => "assumeRolePolicyDocument",
        PolicyKind::Permissions => "policyDocument",
    };
    check_length(text, field, 1, 131_072)?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| IamError::malformed(format!("This policy contains invalid Json: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(IamError::malformed(
            "This policy contains invalid Json: the document must be a JSON object",
        ));
    };
    match object.get("Version") {
        None => return Err(IamError::malformed("Missing required field Version")),
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => {
            return Err(IamError::malformed(
                "The policy failed legacy parsing: Version must be 2012-10-17 or 2008-10-17",
            ));
        }
    }
    let statements: Vec<&Value> = match object.get("Statement") {
        None => return Err(IamError::malformed("Missing required field Statement")),
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        Some(_) => {
            return Err(IamError::malformed(
                "Statement must be an object or a non-empty list of objects",
            ));
        }
    };
    for statement in statements {
        let Some(statement) = statement.as_object() else {
            return Err(IamError::malformed("Each Statement must be a JSON object"));
        };
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            Some(other) => return Err(IamError::malformed(format!("Invalid effect: {other}"))),
            None => return Err(IamError::malformed("Missing required field Effect")),
        }
        if !statement.contains_key("Action") && !statement.contains_key("NotAction") {
            return Err(IamError::malformed(
                "Policy statement must contain actions.",
            ));
        }
        let has_principal =
            statement.contains_key("Principal") || statement.contains_key("NotPrincipal");
        match kind {
            PolicyKind::Trust if !has_principal => {
                return Err(IamError::malformed("Missing required field Principal"));
            }
            PolicyKind::Permissions if has_principal => {
                return Err(IamError::malformed(
                    "Policy document should not specify a principal.",
                ));
            }
            PolicyKind::Permissions
                if !statement.contains_key("Resource")
                    && !statement.contains_key("NotResource") =>
            {
                return Err(IamError::malformed(
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
pub fn check_trust_size(text: &str) -> Result<(), IamError> {
    if policy_size(text) > 2048 {
        return Err(IamError::limit(
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ));
    }
    Ok(())
}

/// IAM's quota on the inline policies of one role, together.
pub fn check_inline_size<'a>(
    role: &str,
    documents: impl Iterator<Item = &'a str>,
) -> Result<(), IamError> {
    if documents.map(policy_size).sum::<usize>() > 10_240 {
        return Err(IamError::limit(format!(
            "Maximum policy size of 10240 bytes exceeded for role {role}"
        )));
    }
    Ok(())
}
