//! A configuration found in Pinpoint, written back as the `RecommenderModel` that publishes
//! exactly it: the inverse of `desired::desired_configuration`, checked against it, so that an
//! imported model costs no Pinpoint write when the operator first reconciles it.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::ObjectMeta;

use crate::{
    api::{
        ADOPT_CONFIGURATION_ID, Attribute, DeletionPolicy, Identifier, LambdaProcessing,
        ModelValue, Processing, RecommenderModel, RecommenderModelSpec, RoleSource,
    },
    domain::{
        arn::region_of,
        desired::{ENDPOINT_ID, RecommenderConfig, USER_ID, changes, desired_configuration},
        validation::{bare_attribute_name, validate},
    },
};

/// A model written from a configuration, and every reason it cannot be applied as it is.
#[derive(Debug)]
pub struct Imported {
    pub model: RecommenderModel,
    /// Each names a field and what to change; empty when the model is ready to apply.
    pub problems: Vec<String>,
}

/// A configuration as `import` found it.
pub struct Found<'a> {
    pub id: &'a str,
    pub region: &'a str,
    pub config: &'a RecommenderConfig,
}

/// The model that adopts `found` (its ID in the adoption annotation), without an object name:
/// `spec.name` carries the configuration's, so the problems do not depend on it, and the caller
/// names the objects (see `object_names`).
pub fn model_from_configuration(
    found: &Found<'_>,
    namespace: Option<&str>,
    deletion_policy: DeletionPolicy,
) -> Imported {
    // Not used while spec.name is set, as it always is here.
    let object_name = "";
    let config = found.config;
    let mut problems = Vec::new();
    let identifier = match config.id_type.as_str() {
        USER_ID => Identifier::UserId,
        ENDPOINT_ID => Identifier::EndpointId,
        other => {
            problems.push(format!(
                "spec.identifier: Pinpoint holds RecommendationProviderIdType {other:?}, which has no spec value; choose EndpointId or UserId"
            ));
            Identifier::EndpointId
        }
    };
    let processing = match &config.lambda {
        Some(function) => Processing {
            model_value: None,
            lambda: Some(LambdaProcessing {
                function: function.clone(),
                attributes: config
                    .attributes
                    .iter()
                    .map(|(key, display_name)| Attribute {
                        name: bare_attribute_name(key).to_owned(),
                        display_name: display_name.clone(),
                    })
                    .collect(),
            }),
        },
        None => Processing {
            model_value: Some(ModelValue {
                display_name: config.display_name.clone().unwrap_or_default(),
            }),
            lambda: None,
        },
    };
    let spec = RecommenderModelSpec {
        // Always written: the object's name is a DNS name, the configuration's need not be.
        name: Some(config.name.clone()),
        description: config.description.clone(),
        role: RoleSource {
            arn: Some(config.role_arn.clone()),
            create: None,
        },
        campaign_arn: config.campaign_arn.clone(),
        identifier,
        recommendations_per_message: config.recommendations_per_message,
        processing,
        deletion_policy,
    };
    problems.extend(
        validate(&spec, object_name)
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message)),
    );
    if let Some(campaign_region) = region_of(&config.campaign_arn)
        && campaign_region != found.region
    {
        problems.push(format!(
            "spec.campaignArn: the campaign is in {campaign_region} but the configuration in {}; the operator keeps a configuration in its campaign's Region",
            found.region
        ));
    }
    // The round trip, with the operator's own mapping: anything it would publish differently.
    let published = desired_configuration(&spec, object_name, &config.role_arn);
    problems.extend(changes(&published, config).into_iter().map(|c| {
        format!(
            "{}: applying this model would change it in Pinpoint from {} to {}",
            c.field, c.old, c.new
        )
    }));
    let model = RecommenderModel {
        metadata: ObjectMeta {
            namespace: namespace.map(str::to_owned),
            annotations: Some(BTreeMap::from([(
                ADOPT_CONFIGURATION_ID.to_owned(),
                found.id.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    };
    Imported { model, problems }
}

/// Kubernetes object names for configurations, given as `(name, id)`, in the same order: the
/// name in lower case with every run of other characters a hyphen, at most 63 characters. When
/// several configurations would get one name (the same name in two Regions, or `Movie_Recs` and
/// `movie-recs`), each of them gets the start of its ID added, so that no name depends on which
/// others exist or in what order they come, and a re-import names every object as before.
pub fn object_names(configurations: &[(&str, &str)]) -> Vec<String> {
    let bases: Vec<String> = configurations
        .iter()
        .map(|(name, _)| dns_name(name))
        .collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for base in &bases {
        *count.entry(base).or_default() += 1;
    }
    let mut taken = BTreeSet::new();
    let mut names: Vec<String> = configurations
        .iter()
        .zip(&bases)
        .map(|((_, id), base)| {
            if count[base.as_str()] == 1 {
                base.clone()
            } else {
                with_suffix(base, &short_id(id, 8))
            }
        })
        .collect();
    // Two IDs with the same start: the whole ID tells them apart.
    for (i, (_, id)) in configurations.iter().enumerate() {
        if !taken.insert(names[i].clone()) {
            names[i] = with_suffix(&bases[i], id);
            let mut n = 2;
            while !taken.insert(names[i].clone()) {
                names[i] = with_suffix(&bases[i], &format!("{}-{n}", short_id(id, 8)));
                n += 1;
            }
        }
    }
    names
}

/// The name in lower case, every run of other characters a hyphen, at most 63 characters.
fn dns_name(name: &str) -> String {
    let mut base = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            base.push(c);
        } else if !base.ends_with('-') {
            base.push('-');
        }
    }
    let base = fit(base.trim_matches('-'), 63);
    if base.is_empty() {
        "model".to_owned()
    } else {
        base
    }
}

/// `base-suffix` in 63 characters: the base is cut, never the suffix.
fn with_suffix(base: &str, suffix: &str) -> String {
    let suffix = dns_name(suffix);
    let room = 63usize.saturating_sub(suffix.len() + 1);
    let base = fit(base, room);
    if base.is_empty() {
        suffix
    } else {
        format!("{base}-{suffix}")
    }
}

fn short_id(id: &str, len: usize) -> String {
    id.chars().take(len).collect()
}

/// `name` cut to `max` characters, never ending in a hyphen.
fn fit(name: &str, max: usize) -> String {
    name.chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::desired::attribute_key;

    const CAMPAIGN: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";
    const ROLE: &str = "arn:aws:iam::123456789012:role/PinpointRecs";

    fn model_value(name: &str) -> RecommenderConfig {
        RecommenderConfig {
            name: name.into(),
            description: Some("Top picks".into()),
            campaign_arn: CAMPAIGN.into(),
            role_arn: ROLE.into(),
            id_type: USER_ID.into(),
            lambda: None,
            display_name: Some("Top picks".into()),
            recommendations_per_message: 1,
            attributes: BTreeMap::new(),
        }
    }

    fn import(config: &RecommenderConfig) -> Imported {
        let found = Found {
            id: "abc123",
            region: "us-east-1",
            config,
        };
        model_from_configuration(&found, Some("team"), DeletionPolicy::Retain)
    }

    #[test]
    fn a_model_value_configuration_round_trips() {
        let config = model_value("Movie_Recs");
        let imported = import(&config);
        assert!(imported.problems.is_empty(), "{:?}", imported.problems);
        let model = &imported.model;
        assert_eq!(model.spec.name.as_deref(), Some("Movie_Recs"));
        assert_eq!(model.spec.deletion_policy, DeletionPolicy::Retain);
        assert_eq!(
            model
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ADOPT_CONFIGURATION_ID)),
            Some(&"abc123".to_owned())
        );
        assert_eq!(desired_configuration(&model.spec, "", ROLE), config);
    }

    #[test]
    fn lambda_attributes_lose_the_prefix_and_round_trip() {
        let mut config = model_value("enriched");
        config.lambda = Some("enrich".into());
        config.display_name = None;
        config.recommendations_per_message = 5;
        config.attributes = (0..10)
            .map(|i| (attribute_key(&format!("A{i}")), format!("Attribute {i}")))
            .collect();
        let imported = import(&config);
        assert!(imported.problems.is_empty(), "{:?}", imported.problems);
        let lambda = imported
            .model
            .spec
            .processing
            .lambda
            .as_ref()
            .expect("lambda");
        assert_eq!(lambda.attributes.len(), 10);
        assert_eq!(lambda.attributes[0].name, "A0");
        assert_eq!(
            desired_configuration(&imported.model.spec, "", ROLE),
            config
        );
    }

    #[test]
    fn a_name_with_a_space_is_written_with_the_rule_it_breaks() {
        let imported = import(&model_value("Movie recs"));
        assert!(
            imported
                .problems
                .iter()
                .any(|p| p.starts_with("spec.name:")),
            "{:?}",
            imported.problems
        );
    }

    #[test]
    fn what_the_operator_would_publish_differently_is_a_problem() {
        let mut config = model_value("both");
        config.lambda = Some("enrich".into());
        config.attributes = BTreeMap::from([(attribute_key("A"), "A".into())]);
        // A display name beside a Lambda: the operator does not send one.
        let imported = import(&config);
        assert!(
            imported
                .problems
                .iter()
                .any(|p| p.starts_with("RecommendationsDisplayName:")),
            "{:?}",
            imported.problems
        );
    }

    #[test]
    fn object_names_are_dns_names_unique_and_independent_of_order() {
        let configurations = [
            ("Movie_Recs", "aaaaaaaa1111"),
            ("movie-recs", "bbbbbbbb2222"),
            ("Top picks", "cccccccc3333"),
            ("__", "dddddddd4444"),
        ];
        let names = object_names(&configurations);
        assert_eq!(
            names,
            [
                "movie-recs-aaaaaaaa",
                "movie-recs-bbbbbbbb",
                "top-picks",
                "model"
            ]
        );
        let mut reversed = configurations;
        reversed.reverse();
        let mut again = object_names(&reversed);
        again.reverse();
        assert_eq!(again, names, "a name does not depend on the order");
    }

    #[test]
    fn long_names_that_collide_still_get_distinct_names() {
        let long = "a".repeat(128);
        let same_start = [
            (long.as_str(), "0123456789abcdef"),
            (long.as_str(), "0123456789fedcba"),
            (long.as_str(), "fedcba9876543210"),
        ];
        let names = object_names(&same_start);
        let distinct: BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), 3, "{names:?}");
        assert!(
            names.iter().all(|n| n.len() <= 63 && !n.ends_with('-')),
            "{names:?}"
        );
    }
}
