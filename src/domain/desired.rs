//! The recommender configuration a valid spec asks for: pure data, compared field for field with
//! what Pinpoint holds to decide whether an update is due.

use std::collections::BTreeMap;

use crate::{
    api::{Identifier, RecommenderModelSpec},
    domain::validation::{ATTRIBUTE_PREFIX, bare_attribute_name},
};

/// Pinpoint's `RecommendationProviderIdType` values.
pub const ENDPOINT_ID: &str = "PINPOINT_ENDPOINT_ID";
pub const USER_ID: &str = "PINPOINT_USER_ID";

/// A recommender configuration as Pinpoint stores it, every optional field spelled out, so that
/// "what we want" and "what Pinpoint has" compare with `==`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RecommenderConfig {
    pub name: String,
    pub description: Option<String>,
    /// `RecommendationProviderUri`: the Personalize campaign ARN.
    pub campaign_arn: String,
    /// `RecommendationProviderRoleArn`.
    pub role_arn: String,
    /// `RecommendationProviderIdType`.
    pub id_type: String,
    /// `RecommendationTransformerUri`: the Lambda name or ARN.
    pub lambda: Option<String>,
    /// `RecommendationsDisplayName`.
    pub display_name: Option<String>,
    pub recommendations_per_message: i32,
    /// `Attributes`: `Recommendations.NAME` -> display name. Empty without a Lambda.
    pub attributes: BTreeMap<String, String>,
}

/// The key an attribute has in Pinpoint's `Attributes`: always with the `Recommendations.`
/// prefix, as templates name it. Pinpoint takes a key with or without the prefix for the same
/// attribute, so keys read back from Pinpoint are put in this form too: a configuration made
/// without the prefix (in the console, or imported) is not rewritten for that alone.
pub fn attribute_key(name: &str) -> String {
    format!("{ATTRIBUTE_PREFIX}{}", bare_attribute_name(name))
}

/// The configuration for a spec that passed validation. `role_arn` is the role in use (the
/// spec's, or one the operator manages).
pub fn desired_configuration(
    spec: &RecommenderModelSpec,
    object_name: &str,
    role_arn: &str,
) -> RecommenderConfig {
    let (lambda, display_name, attributes) =
        match (&spec.processing.lambda, &spec.processing.model_value) {
            (Some(lambda), _) => (
                Some(lambda.function.clone()),
                None,
                lambda
                    .attributes
                    .iter()
                    .map(|a| (attribute_key(&a.name), a.display_name.clone()))
                    .collect(),
            ),
            (None, Some(model_value)) => (
                None,
                Some(model_value.display_name.clone()),
                BTreeMap::new(),
            ),
            (None, None) => (None, None, BTreeMap::new()),
        };
    RecommenderConfig {
        name: spec.model_name(object_name).to_owned(),
        // Pinpoint cannot tell an empty description from none.
        description: spec.description.clone().filter(|d| !d.is_empty()),
        campaign_arn: spec.campaign_arn.clone(),
        role_arn: role_arn.to_owned(),
        id_type: match spec.identifier {
            Identifier::EndpointId => ENDPOINT_ID,
            Identifier::UserId => USER_ID,
        }
        .to_owned(),
        lambda,
        display_name,
        recommendations_per_message: spec.recommendations_per_message,
        attributes,
    }
}

/// One field in which two configurations differ: its Pinpoint name and both values, as a person
/// reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

/// Every field in which `actual` (what Pinpoint has) differs from `desired`, in Pinpoint's field
/// order: for events, logs and `plan`.
pub fn changes(desired: &RecommenderConfig, actual: &RecommenderConfig) -> Vec<Change> {
    fn text(value: &str) -> String {
        format!("{value:?}")
    }
    fn optional(value: &Option<String>) -> String {
        value.as_deref().map_or_else(|| "(none)".to_owned(), text)
    }
    fn map(value: &BTreeMap<String, String>) -> String {
        let entries: Vec<String> = value.iter().map(|(k, v)| format!("{k}: {v:?}")).collect();
        format!("{{{}}}", entries.join(", "))
    }
    let mut found = Vec::new();
    let mut note = |field: &'static str, old: String, new: String| {
        if old != new {
            found.push(Change { field, old, new });
        }
    };
    note("Name", text(&actual.name), text(&desired.name));
    note(
        "Description",
        optional(&actual.description),
        optional(&desired.description),
    );
    note(
        "RecommendationProviderUri",
        text(&actual.campaign_arn),
        text(&desired.campaign_arn),
    );
    note(
        "RecommendationProviderRoleArn",
        text(&actual.role_arn),
        text(&desired.role_arn),
    );
    note(
        "RecommendationProviderIdType",
        text(&actual.id_type),
        text(&desired.id_type),
    );
    note(
        "RecommendationTransformerUri",
        optional(&actual.lambda),
        optional(&desired.lambda),
    );
    note(
        "RecommendationsDisplayName",
        optional(&actual.display_name),
        optional(&desired.display_name),
    );
    note(
        "RecommendationsPerMessage",
        actual.recommendations_per_message.to_string(),
        desired.recommendations_per_message.to_string(),
    );
    note(
        "Attributes",
        map(&actual.attributes),
        map(&desired.attributes),
    );
    found
}

/// The names of the fields in which `actual` differs from `desired`.
pub fn differences(desired: &RecommenderConfig, actual: &RecommenderConfig) -> Vec<&'static str> {
    changes(desired, actual)
        .into_iter()
        .map(|c| c.field)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Attribute, LambdaProcessing, ModelValue, Processing, RoleSource};

    fn spec(processing: Processing) -> RecommenderModelSpec {
        RecommenderModelSpec {
            name: None,
            description: Some(String::new()),
            role: RoleSource {
                arn: Some("arn:aws:iam::123456789012:role/R".into()),
                create: None,
            },
            campaign_arn: "arn:aws:personalize:us-east-1:123456789012:campaign/movies".into(),
            identifier: Identifier::UserId,
            recommendations_per_message: 2,
            processing,
            deletion_policy: Default::default(),
        }
    }

    #[test]
    fn model_value_maps_to_display_name_and_no_attributes() {
        let s = spec(Processing {
            model_value: Some(ModelValue {
                display_name: "Top".into(),
            }),
            lambda: None,
        });
        let c = desired_configuration(&s, "movie-recs", "arn:aws:iam::123456789012:role/R");
        assert_eq!(c.name, "movie-recs");
        assert_eq!(c.description, None, "an empty description is not sent");
        assert_eq!(c.id_type, USER_ID);
        assert_eq!(c.display_name.as_deref(), Some("Top"));
        assert_eq!(c.lambda, None);
        assert!(c.attributes.is_empty());
        assert_eq!(c.recommendations_per_message, 2);
    }

    #[test]
    fn lambda_attributes_are_sent_with_one_prefix() {
        let s = spec(Processing {
            model_value: None,
            lambda: Some(LambdaProcessing {
                function: "enrich".into(),
                attributes: vec![
                    Attribute {
                        name: "Title".into(),
                        display_name: "Movie title".into(),
                    },
                    Attribute {
                        name: "Recommendations.Poster".into(),
                        display_name: "Poster".into(),
                    },
                ],
            }),
        });
        let c = desired_configuration(&s, "x", "arn:aws:iam::123456789012:role/R");
        assert_eq!(c.lambda.as_deref(), Some("enrich"));
        assert_eq!(c.display_name, None);
        let keys: Vec<&str> = c.attributes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["Recommendations.Poster", "Recommendations.Title"]);
    }

    #[test]
    fn differences_name_the_changed_fields() {
        let s = spec(Processing {
            model_value: Some(ModelValue {
                display_name: "Top".into(),
            }),
            lambda: None,
        });
        let a = desired_configuration(&s, "x", "r");
        let mut b = a.clone();
        b.display_name = Some("Other".into());
        b.recommendations_per_message = 5;
        assert_eq!(
            differences(&a, &b),
            ["RecommendationsDisplayName", "RecommendationsPerMessage"]
        );
        assert!(differences(&a, &a).is_empty());
        assert_eq!(
            changes(&a, &b),
            [
                Change {
                    field: "RecommendationsDisplayName",
                    old: "\"Other\"".into(),
                    new: "\"Top\"".into()
                },
                Change {
                    field: "RecommendationsPerMessage",
                    old: "5".into(),
                    new: "2".into()
                }
            ]
        );
    }
}
