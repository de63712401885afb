//! Conditions as kubectl, Argo CD and Flux read them: `Validated`, `Published` and `Ready`, each a
//! `metav1.Condition` with a CamelCase reason and the generation it describes; and kstatus's
//! abnormal-true pair, `Reconciling` (working toward the spec: retrying, deleting) and `Stalled`
//! (no progress without a change by someone), present only while `True`, as Flux's own objects
//! do, so that kstatus (Flux, kpt) tells a doomed model from one getting there.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

pub const VALIDATED: &str = "Validated";
pub const PUBLISHED: &str = "Published";
pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// Conditions that are there only while `True`: an update to `False` removes them.
const ABNORMAL_TRUE: [&str; 2] = [RECONCILING, STALLED];

/// Condition reasons that are not errors (errors carry their own, see `Error::reason`).
pub mod reason {
    pub const VALID: &str = "Valid";
    pub const PUBLISHED: &str = "Published";
    pub const READY: &str = "Ready";
    pub const NOT_VALIDATED: &str = "NotValidated";
}

/// One condition's new state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// Applies `updates` to `current`, keeping `lastTransitionTime` where the status did not change,
/// so that an unchanged object yields an identical list (and costs no write).
pub fn set_conditions(
    current: &[Condition],
    updates: &[ConditionUpdate],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut conditions: Vec<Condition> = current
        .iter()
        .filter(|c| !updates.iter().any(|u| u.type_ == c.type_))
        .cloned()
        .collect();
    for update in updates {
        if !update.status && ABNORMAL_TRUE.contains(&update.type_) {
            continue;
        }
        let status = if update.status { "True" } else { "False" };
        let previous = current.iter().find(|c| c.type_ == update.type_);
        let last_transition_time = match previous {
            Some(p) if p.status == status => p.last_transition_time.clone(),
            _ => Time(now),
        };
        conditions.push(Condition {
            type_: update.type_.to_owned(),
            status: status.to_owned(),
            reason: update.reason.clone(),
            // metav1.Condition caps the message at 32768 characters.
            message: truncate(&update.message, 32_768),
            observed_generation: generation,
            last_transition_time,
        });
    }
    let order = |t: &str| {
        [VALIDATED, PUBLISHED, READY, RECONCILING, STALLED]
            .iter()
            .position(|x| *x == t)
            .unwrap_or(usize::MAX)
    };
    conditions.sort_by_key(|c| order(&c.type_));
    conditions
}

fn truncate(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_owned();
    }
    let mut end = max - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

/// The condition of a type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid timestamp")
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let first = set_conditions(
            &[],
            &[ConditionUpdate::new(READY, false, "Throttled", "slow down")],
            Some(1),
            at(10),
        );
        let same = set_conditions(
            &first,
            &[ConditionUpdate::new(
                READY,
                false,
                "PinpointUnavailable",
                "down",
            )],
            Some(2),
            at(20),
        );
        assert_eq!(same[0].last_transition_time, Time(at(10)));
        assert_eq!(same[0].reason, "PinpointUnavailable");
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = set_conditions(
            &same,
            &[ConditionUpdate::new(READY, true, "Ready", "ok")],
            Some(2),
            at(30),
        );
        assert_eq!(flipped[0].last_transition_time, Time(at(30)));
    }

    #[test]
    fn unchanged_input_gives_identical_output() {
        let updates = [
            ConditionUpdate::new(READY, true, "Ready", "ok"),
            ConditionUpdate::new(VALIDATED, true, "Valid", "ok"),
        ];
        let once = set_conditions(&[], &updates, Some(1), at(10));
        let twice = set_conditions(&once, &updates, Some(1), at(99));
        assert_eq!(once, twice);
        assert_eq!(once[0].type_, VALIDATED);
    }

    #[test]
    fn reconciling_and_stalled_are_there_only_while_true() {
        let stalled = set_conditions(
            &[],
            &[
                ConditionUpdate::new(RECONCILING, false, "InvalidSpec", ""),
                ConditionUpdate::new(STALLED, true, "InvalidSpec", "bad"),
            ],
            Some(1),
            at(10),
        );
        assert_eq!(stalled.len(), 1);
        assert_eq!(
            (stalled[0].type_.as_str(), stalled[0].status.as_str()),
            (STALLED, "True")
        );
        let cleared = set_conditions(
            &stalled,
            &[
                ConditionUpdate::new(RECONCILING, false, "Ready", ""),
                ConditionUpdate::new(STALLED, false, "Ready", ""),
                ConditionUpdate::new(READY, true, "Ready", "ok"),
            ],
            Some(2),
            at(20),
        );
        assert_eq!(cleared.len(), 1, "{cleared:?}");
        assert_eq!(cleared[0].type_, READY);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(20_000);
        let cut = truncate(&long, 32_768);
        assert!(cut.len() <= 32_768);
        assert!(cut.ends_with("..."));
    }
}
