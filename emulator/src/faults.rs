//! Faults injected through the admin API: an error, added latency, or a dropped connection, for
//! the next N calls of one operation (or of every operation, `"*"`), of every account or of one.
//! Also the call counts, kept per account.

use std::collections::BTreeMap;

use axum::{http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};

use crate::protocol::Protocol;

/// One injected fault.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// The operation name, such as `CreateRecommenderConfiguration`, or `*` for all.
    #[serde(default = "any_operation")]
    pub operation: String,
    /// How many calls it applies to; absent: until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    /// HTTP status of the error to answer with. IAM and Personalize never answer 429: there it
    /// becomes a 400 throttling error (`Throttling`, `ThrottlingException`).
    #[serde(default)]
    pub status: Option<u16>,
    /// AWS error type (the `x-amzn-ErrorType` header, IAM's `Code`, Personalize's `__type`);
    /// derived from the status and the operation's protocol when absent.
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Delay before answering (or before the error).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Break the connection instead of answering.
    #[serde(default)]
    pub drop: bool,
    /// Carry the call out, then break the connection before the answer: the client cannot
    /// tell whether it took effect (a lost Create response).
    #[serde(default)]
    pub drop_response: bool,
    /// Apply to every Nth matching call only (2: half of them), deterministically.
    #[serde(default)]
    pub every: Option<u32>,
    /// Apply only to calls signed with credentials of this account (for temporary credentials,
    /// the role's account; for AssumeRole, the caller's); absent: every account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Matching calls seen so far, for `every`.
    #[serde(skip)]
    seen: u32,
}

fn any_operation() -> String {
    "*".to_owned()
}

/// Pinpoint's recommender-configuration operations.
const PINPOINT: [&str; 5] = [
    "CreateRecommenderConfiguration",
    "GetRecommenderConfiguration",
    "GetRecommenderConfigurations",
    "UpdateRecommenderConfiguration",
    "DeleteRecommenderConfiguration",
];

/// Every operation the emulator serves, by the names faults and call counts use: each
/// service's own list.
pub fn operations() -> impl Iterator<Item = &'static str> {
    PINPOINT
        .into_iter()
        .chain(crate::iam::ACTIONS)
        .chain(crate::personalize::OPERATIONS)
        .chain(crate::lambda::OPERATIONS)
        .chain(crate::sts::ACTIONS)
}

impl Fault {
    /// Refuses a fault that would silently never fire, or not fire as asked.
    pub fn validate(&self) -> Result<(), String> {
        if self.operation != "*" && !operations().any(|o| o == self.operation) {
            return Err(format!(
                "unknown operation {:?}; use \"*\" or one of {}",
                self.operation,
                operations().collect::<Vec<_>>().join(", ")
            ));
        }
        if self.every == Some(0) {
            return Err("every must be at least 1".into());
        }
        if self.count == Some(0) {
            return Err(
                "count must be at least 1 (omit it for a fault that lasts until cleared)".into(),
            );
        }
        if let Some(status) = self.status
            && !(400..=599).contains(&status)
        {
            return Err(format!(
                "status {status} is not an error status (400 to 599)"
            ));
        }
        if self.drop_response && (self.status.is_some() || self.drop) {
            return Err(
                "dropResponse carries the call out; it cannot be combined with status or drop"
                    .into(),
            );
        }
        if self.status.is_none() && self.latency_ms.is_none() && !self.drop && !self.drop_response {
            return Err("a fault needs a status, a latencyMs, drop or dropResponse".into());
        }
        Ok(())
    }

    /// The response that replaces the real one, if the fault is more than latency, in the
    /// operation's own protocol.
    pub fn response(&self, protocol: Protocol) -> Option<Response> {
        if self.drop {
            return Some(super::dropped_connection());
        }
        let status = StatusCode::from_u16(self.status?).ok()?;
        let (status, error_type) = protocol.fault_error(status, self.error_type.as_deref());
        let message = self
            .message
            .clone()
            .unwrap_or_else(|| format!("injected fault: {error_type}"));
        Some(protocol.error(status, &error_type, message))
    }
}

/// Call counts by operation.
pub type Calls = BTreeMap<String, u64>;

#[derive(Default)]
pub struct Faults {
    pending: Vec<Fault>,
    /// By the account of the credentials that signed the call; `None`: unsigned, or signed with
    /// an unknown key.
    calls: BTreeMap<Option<String>, Calls>,
}

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.pending.push(fault);
    }

    /// Clears the faults naming `account`, or every fault.
    pub fn clear(&mut self, account: Option<&str>) {
        match account {
            None => self.pending.clear(),
            Some(a) => self.pending.retain(|f| f.account.as_deref() != Some(a)),
        }
    }

    /// The faults naming `account`, or every fault.
    pub fn pending(&self, account: Option<&str>) -> Vec<Fault> {
        self.pending
            .iter()
            .filter(|f| account.is_none() || f.account.as_deref() == account)
            .cloned()
            .collect()
    }

    pub fn count_call(&mut self, operation: &str, account: Option<&str>) {
        let calls = self.calls.entry(account.map(str::to_owned)).or_default();
        *calls.entry(operation.to_owned()).or_default() += 1;
    }

    /// The calls of `account`, or of everyone (unsigned calls and unknown keys included).
    pub fn calls(&self, account: Option<&str>) -> Calls {
        let mut total = Calls::new();
        for (owner, calls) in &self.calls {
            if account.is_some() && owner.as_deref() != account {
                continue;
            }
            for (operation, n) in calls {
                *total.entry(operation.clone()).or_default() += n;
            }
        }
        total
    }

    /// Forgets one account's calls and the faults naming it.
    pub fn reset_account(&mut self, account: &str) {
        self.calls.remove(&Some(account.to_owned()));
        self.clear(Some(account));
    }

    /// The first fault that applies to `operation` by `account` before it is carried out,
    /// counting it down.
    pub fn take(&mut self, operation: &str, account: Option<&str>) -> Option<Fault> {
        self.take_where(operation, account, false)
    }

    /// Whether a `dropResponse` fault applies to this call of `operation` (counting it down).
    pub fn take_drop_response(&mut self, operation: &str, account: Option<&str>) -> bool {
        self.take_where(operation, account, true).is_some()
    }

    fn take_where(
        &mut self,
        operation: &str,
        account: Option<&str>,
        drop_response: bool,
    ) -> Option<Fault> {
        let index = self.pending.iter().position(|f| {
            (f.operation == "*" || f.operation == operation)
                && f.drop_response == drop_response
                && (f.account.is_none() || f.account.as_deref() == account)
        })?;
        let entry = &mut self.pending[index];
        entry.seen = entry.seen.wrapping_add(1);
        if entry.every.is_some_and(|n| !entry.seen.is_multiple_of(n)) {
            return None;
        }
        let fault = self.pending[index].clone();
        if let Some(count) = &mut self.pending[index].count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.pending.remove(index);
            }
        }
        Some(fault)
    }
}

/// The operation a request is, by method, path, and for `POST /` the X-Amz-Target header or the
/// form body's Action.
pub fn operation_for(
    method: &axum::http::Method,
    path: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Option<&'static str> {
    use axum::http::Method;
    if path == "/" && method == Method::POST {
        return match super::root_call(headers, body) {
            super::RootCall::Query(form) => {
                let action = form.get("Action")?;
                crate::iam::ACTIONS
                    .iter()
                    .chain(&crate::sts::ACTIONS)
                    .copied()
                    .find(|a| *a == action)
            }
            super::RootCall::Personalize(target) => {
                let operation = target.strip_prefix(crate::personalize::TARGET_PREFIX)?;
                crate::personalize::OPERATIONS
                    .iter()
                    .copied()
                    .find(|o| *o == operation)
            }
            super::RootCall::OtherTarget(_) | super::RootCall::Unknown => None,
        };
    }
    if let Some(rest) = path.strip_prefix(crate::lambda::FUNCTIONS) {
        if method != Method::GET {
            return None;
        }
        return match rest.split('/').collect::<Vec<_>>()[..] {
            [name] if !name.is_empty() => Some("GetFunction"),
            [name, "policy"] if !name.is_empty() => Some("GetPolicy"),
            _ => None,
        };
    }
    let rest = path.strip_prefix("/v1/recommenders")?;
    let has_id = rest.len() > 1 && rest.starts_with('/');
    match (method, rest.is_empty(), has_id) {
        (&Method::POST, true, _) => Some("CreateRecommenderConfiguration"),
        (&Method::GET, true, _) => Some("GetRecommenderConfigurations"),
        (&Method::GET, _, true) => Some("GetRecommenderConfiguration"),
        (&Method::PUT, _, true) => Some("UpdateRecommenderConfiguration"),
        (&Method::DELETE, _, true) => Some("DeleteRecommenderConfiguration"),
        _ => None,
    }
}
