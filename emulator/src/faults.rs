//! Faults injected through the admin API: an error, added latency, or a dropped connection, for
//! the next N calls of one operation (or of every operation, `"*"`).

use std::collections::BTreeMap;

use axum::{http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};

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
    /// HTTP status of the error to answer with.
    #[serde(default)]
    pub status: Option<u16>,
    /// AWS error type for the `x-amzn-ErrorType` header; derived from the status when absent.
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
}

fn any_operation() -> String {
    "*".to_owned()
}

impl Fault {
    /// The response that replaces the real one, if the fault is more than latency.
    pub fn response(&self) -> Option<Response> {
        if self.drop {
            return Some(super::dropped_connection());
        }
        let status = StatusCode::from_u16(self.status?).ok()?;
        let error_type = self.error_type.clone().unwrap_or_else(|| {
            match status.as_u16() {
                400 => "BadRequestException",
                403 => "ForbiddenException",
                404 => "NotFoundException",
                405 => "MethodNotAllowedException",
                413 => "PayloadTooLargeException",
                429 => "TooManyRequestsException",
                _ => "InternalServerErrorException",
            }
            .to_owned()
        });
        let message = self.message.clone().unwrap_or_else(|| format!("injected fault: {error_type}"));
        Some(super::aws_error(status, &error_type, message))
    }
}

#[derive(Default)]
pub struct Faults {
    pending: Vec<Fault>,
    calls: BTreeMap<String, u64>,
}

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.pending.push(fault);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    pub fn pending(&self) -> &[Fault] {
        &self.pending
    }

    pub fn count_call(&mut self, operation: &str) {
        *self.calls.entry(operation.to_owned()).or_default() += 1;
    }

    pub fn calls(&self) -> &BTreeMap<String, u64> {
        &self.calls
    }

    /// The first fault that applies to `operation`, counting it down.
    pub fn take(&mut self, operation: &str) -> Option<Fault> {
        let index = self
            .pending
            .iter()
            .position(|f| f.operation == "*" || f.operation == operation)?;
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
