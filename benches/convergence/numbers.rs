//! Numbers: percentiles, call-count deltas, and the Pinpoint operations they are counted by.

use std::collections::BTreeMap;

use serde::Serialize;

pub const CREATE: &str = "CreateRecommenderConfiguration";
const GET: &str = "GetRecommenderConfiguration";
const LIST: &str = "GetRecommenderConfigurations";
pub const UPDATE: &str = "UpdateRecommenderConfiguration";
pub const DELETE: &str = "DeleteRecommenderConfiguration";

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0).min(*v)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

pub fn delta_i64(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .collect()
}

/// Pinpoint reads: single `Get`s and list pages.
pub fn reads(calls: &BTreeMap<String, u64>) -> u64 {
    [GET, LIST]
        .iter()
        .map(|op| calls.get(*op).copied().unwrap_or(0))
        .sum()
}

/// Percentiles of single edits, apply to Ready.
#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct EditTimes {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl EditTimes {
    pub fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self {
            count: ms.len(),
            p50_ms: percentile(&ms, 0.50),
            p99_ms: percentile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}
