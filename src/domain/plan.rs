//! What applying a model would do in Pinpoint, decided as data from what the cluster recorded and
//! what Pinpoint holds: the steps of `pipeline::publish`, without taking them (the `plan`
//! command).

use std::fmt;

use crate::domain::desired::{Change, RecommenderConfig, changes};

/// What the cluster recorded for a model: its configuration and that configuration's Region.
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    pub id: &'a str,
    pub region: &'a str,
}

/// One model's step in Pinpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Pinpoint holds exactly the desired configuration; `adopt` when the model takes it over
    /// (the adoption annotation), which writes nothing to Pinpoint.
    NoChange {
        id: String,
        region: String,
        adopt: bool,
    },
    /// The configuration is replaced with the desired one; these fields change.
    Update {
        id: String,
        region: String,
        adopt: bool,
        changes: Vec<Change>,
    },
    /// A new configuration; `replaces` the recorded one when it was deleted outside the operator.
    Create {
        region: String,
        replaces: Option<String>,
    },
    /// The campaign moved Region: the old configuration is deleted, `then` the new Region's step
    /// (a create, or an adoption by annotation).
    Move {
        id: String,
        from: String,
        then: Box<Action>,
    },
    /// Applying it would fail: the adoption annotation names a configuration that is not there.
    AdoptMissing { id: String, region: String },
    /// Applying it would fail: another model manages the configuration it names.
    InUse { id: String, by: String },
}

/// The configuration to read from Pinpoint before deciding: the recorded one when it is still in
/// the desired Region, else the one the adoption annotation names.
pub fn lookup<'a>(
    recorded: Option<Recorded<'a>>,
    adopt: Option<&'a str>,
    region: &str,
) -> Option<&'a str> {
    match recorded {
        Some(r) if r.region == region => Some(r.id),
        // A move: the old configuration is deleted, and the annotation may name one to adopt.
        Some(_) | None => adopt,
    }
}

/// The step for a model whose desired configuration is `desired` in `region`; `found` is what
/// Pinpoint holds for the ID `lookup` named (`None` when it has nothing, or nothing was named);
/// `claimed_by` is the other model that manages that ID, if any.
pub fn decide(
    desired: &RecommenderConfig,
    region: &str,
    recorded: Option<Recorded<'_>>,
    adopt: Option<&str>,
    found: Option<&RecommenderConfig>,
    claimed_by: Option<&str>,
) -> Action {
    if let Some(r) = recorded
        && r.region != region
    {
        return Action::Move {
            id: r.id.to_owned(),
            from: r.region.to_owned(),
            then: Box::new(decide(desired, region, None, adopt, found, claimed_by)),
        };
    }
    let region = region.to_owned();
    let (id, adopting) = match (recorded, adopt) {
        (Some(r), _) => (r.id, false),
        (None, Some(id)) => (id, true),
        (None, None) => {
            return Action::Create {
                region,
                replaces: None,
            };
        }
    };
    let id = id.to_owned();
    if adopting && let Some(by) = claimed_by {
        return Action::InUse {
            id,
            by: by.to_owned(),
        };
    }
    match found {
        None if adopting => Action::AdoptMissing { id, region },
        None => Action::Create {
            region,
            replaces: Some(id),
        },
        Some(actual) if actual == desired => Action::NoChange {
            id,
            region,
            adopt: adopting,
        },
        Some(actual) => Action::Update {
            id,
            region,
            adopt: adopting,
            changes: changes(desired, actual),
        },
    }
}

impl Action {
    /// Whether applying the model writes to Pinpoint.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Action::Update { .. } | Action::Create { .. } | Action::Move { .. }
        )
    }

    /// Whether applying the model would fail.
    pub fn fails(&self) -> bool {
        match self {
            Action::AdoptMissing { .. } | Action::InUse { .. } => true,
            Action::Move { then, .. } => then.fails(),
            _ => false,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::NoChange { id, region, adopt } => {
                write!(f, "no change: configuration {id} in {region}")?;
                if *adopt {
                    write!(f, " (adopted as it is)")?;
                }
                Ok(())
            }
            Action::Update {
                id,
                region,
                adopt,
                changes,
            } => {
                let verb = if *adopt { "adopt and update" } else { "update" };
                write!(f, "{verb} configuration {id} in {region}")?;
                for c in changes {
                    write!(f, "\n    {}: {} -> {}", c.field, c.old, c.new)?;
                }
                Ok(())
            }
            Action::Create {
                region,
                replaces: None,
            } => write!(f, "create a configuration in {region}"),
            Action::Create {
                region,
                replaces: Some(id),
            } => write!(
                f,
                "create a configuration in {region} (configuration {id} was deleted outside the operator)"
            ),
            Action::Move { id, from, then } => {
                write!(f, "move: delete configuration {id} in {from}, then {then}")
            }
            Action::AdoptMissing { id, region } => write!(
                f,
                "cannot apply: the adoption annotation names configuration {id}, which does not exist in {region}"
            ),
            Action::InUse { id, by } => write!(
                f,
                "cannot apply: configuration {id} is managed by {by}; two models cannot manage one configuration"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_message: i32) -> RecommenderConfig {
        RecommenderConfig {
            name: "m".into(),
            recommendations_per_message: per_message,
            ..RecommenderConfig::default()
        }
    }

    const HERE: Recorded<'static> = Recorded {
        id: "a1",
        region: "us-east-1",
    };

    #[test]
    fn nothing_recorded_or_named_is_a_create() {
        assert_eq!(lookup(None, None, "us-east-1"), None);
        assert_eq!(
            decide(&config(5), "us-east-1", None, None, None, None),
            Action::Create {
                region: "us-east-1".into(),
                replaces: None
            }
        );
    }

    #[test]
    fn the_same_content_is_no_change_adopted_or_not() {
        let c = config(5);
        for (recorded, adopt) in [(Some(HERE), None), (None, Some("a1"))] {
            assert_eq!(lookup(recorded, adopt, "us-east-1"), Some("a1"));
            let action = decide(&c, "us-east-1", recorded, adopt, Some(&c), None);
            assert!(!action.writes(), "{action}");
        }
    }

    #[test]
    fn an_update_lists_each_changed_field_old_to_new() {
        let action = decide(
            &config(3),
            "us-east-1",
            Some(HERE),
            None,
            Some(&config(5)),
            None,
        );
        assert!(action.writes());
        assert_eq!(
            action.to_string(),
            "update configuration a1 in us-east-1\n    RecommendationsPerMessage: 5 -> 3"
        );
    }

    #[test]
    fn a_new_region_is_a_move_and_a_missing_configuration_a_create_or_a_failure() {
        assert_eq!(lookup(Some(HERE), None, "eu-west-1"), None);
        let moved = decide(&config(5), "eu-west-1", Some(HERE), None, None, None);
        assert_eq!(
            moved.to_string(),
            "move: delete configuration a1 in us-east-1, then create a configuration in eu-west-1"
        );
        assert!(moved.writes());
        assert!(matches!(
            decide(&config(5), "us-east-1", Some(HERE), None, None, None),
            Action::Create {
                replaces: Some(_),
                ..
            }
        ));
        assert!(decide(&config(5), "us-east-1", None, Some("zz"), None, None).fails());
    }

    #[test]
    fn a_move_may_adopt_and_another_models_configuration_cannot_be_taken() {
        let c = config(5);
        assert_eq!(lookup(Some(HERE), Some("b2"), "eu-west-1"), Some("b2"));
        let moved = decide(&c, "eu-west-1", Some(HERE), Some("b2"), Some(&c), None);
        assert!(
            moved
                .to_string()
                .ends_with("then no change: configuration b2 in eu-west-1 (adopted as it is)"),
            "{moved}"
        );
        let taken = decide(
            &c,
            "us-east-1",
            None,
            Some("b2"),
            Some(&c),
            Some("team/other"),
        );
        assert!(taken.fails(), "{taken}");
        // The model's own recorded configuration is never "another's".
        assert!(!decide(&c, "us-east-1", Some(HERE), None, Some(&c), None).fails());
    }
}
