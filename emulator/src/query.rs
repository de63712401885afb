//! What IAM and STS, the two services on the query protocol, share: the form a call's body is,
//! the admission of a call by its `Action`, and the errors both answer with (status, code and
//! message, in the service's XML).

use axum::{
    http::{HeaderMap, Method, StatusCode, Uri},
    response::Response,
};
use regex::Regex;

use crate::{
    Catalog, Shared,
    accounts::Caller,
    protocol::{Protocol, validation_message},
};

/// The form parameters of a query-protocol request.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The parameter `name`, which the action requires: `field` is its name in the service's
    /// model, as the error names it.
    pub fn required(&self, name: &str, field: &str) -> Result<&str, QueryError> {
        self.get(name).ok_or_else(|| missing(field))
    }

    /// Every parameter, in the body's order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// An error of a query service: status, code and message.
#[derive(Debug)]
pub struct QueryError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
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

    /// The error as the service on `protocol` answers it.
    pub fn response(&self, protocol: Protocol) -> Response {
        protocol.error(self.status, self.code, self.message.clone())
    }
}

/// A ValidationError: the parameter the model calls `field` is missing.
pub fn missing(field: &str) -> QueryError {
    QueryError::validation(validation_message(None, field, "must not be null"))
}

/// A ValidationError: `value` at `field` breaks `constraint` (`"must ..."`).
pub fn constraint(value: &str, field: &str, constraint: &str) -> QueryError {
    QueryError::validation(validation_message(Some(value), field, constraint))
}

/// Checks that `value` is `min` to `max` characters long.
pub fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), QueryError> {
    let n = value.chars().count();
    if n < min {
        Err(constraint(
            value,
            field,
            &format!("must have length greater than or equal to {min}"),
        ))
    } else if n > max {
        Err(constraint(
            value,
            field,
            &format!("must have length less than or equal to {max}"),
        ))
    } else {
        Ok(())
    }
}

/// Checks that `value` matches `re`, which the service's model writes as `shown`.
pub fn check_pattern(value: &str, field: &str, re: &Regex, shown: &str) -> Result<(), QueryError> {
    if re.is_match(value) {
        Ok(())
    } else {
        Err(constraint(
            value,
            field,
            &format!("must satisfy regular expression pattern: {shown}"),
        ))
    }
}

/// A query service: the actions it serves (on its protocol), and the API version a call that
/// names none is taken to ask for.
pub struct Service {
    pub catalog: Catalog,
    pub version: &'static str,
}

/// Admits a call of one of the service's actions, by the form's `Action`: the action and the
/// caller. Any other action is refused with the service's `InvalidAction`, once the call's
/// signature has been checked.
pub async fn admit(
    state: &Shared,
    service: &Service,
    form: &Form,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(&'static str, Caller), Response> {
    let action = form.get("Action").unwrap_or_default();
    match crate::admit_named(state, &service.catalog, action, method, uri, headers, body).await? {
        Some(admitted) => Ok(admitted),
        None => {
            let version = form.get("Version").unwrap_or(service.version);
            Err(service.catalog.protocol.error(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {action} for version {version}"),
            ))
        }
    }
}
