//! The shared validation table (`tests/cases/validation.json`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Table {
    bases: BTreeMap<String, Value>,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCase {
    name: String,
    base: String,
    #[serde(default)]
    patch: Value,
    #[serde(default)]
    metadata_name: Option<String>,
    errors: Vec<String>,
    #[serde(default)]
    cel_errors: Option<Vec<String>>,
    #[serde(default)]
    controller_only: bool,
}

/// One case, ready to use.
pub struct Case {
    pub name: String,
    /// A whole RecommenderModel object (apiVersion, kind, metadata, spec).
    pub object: Value,
    /// Fields the Rust rules name.
    pub errors: BTreeSet<String>,
    /// Fields the CRD's rules name; empty when the CRD admits the object.
    pub cel_errors: BTreeSet<String>,
}

impl Case {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

pub fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/validation.json");
    let text = std::fs::read_to_string(path).expect("read tests/cases/validation.json");
    let table: Table =
        serde_json::from_str(&text).expect("tests/cases/validation.json is well-formed");
    table
        .cases
        .into_iter()
        .map(|c| {
            let mut spec = table
                .bases
                .get(&c.base)
                .unwrap_or_else(|| panic!("case {:?}: no base {:?}", c.name, c.base))
                .clone();
            if !c.patch.is_null() {
                json_patch::merge(&mut spec, &c.patch);
            }
            let object = json!({
                "apiVersion": "pinpoint.recommenders.dev/v1alpha1",
                "kind": "RecommenderModel",
                "metadata": {"name": c.metadata_name.as_deref().unwrap_or("movie-recs")},
                "spec": spec,
            });
            let errors: BTreeSet<String> = c.errors.into_iter().collect();
            let cel_errors = if c.controller_only {
                BTreeSet::new()
            } else {
                c.cel_errors
                    .map(|e| e.into_iter().collect())
                    .unwrap_or_else(|| errors.clone())
            };
            Case {
                name: c.name,
                object,
                errors,
                cel_errors,
            }
        })
        .collect()
}

/// The request body Pinpoint must hold for the base case "model value, every field set":
/// exactly the fields the spec implies, and nothing else.
pub fn model_value_wire_body() -> Value {
    json!({
        "Name": "movie-recs",
        "Description": "Weekly picks",
        "RecommendationProviderUri": "arn:aws:personalize:us-east-1:123456789012:campaign/movies",
        "RecommendationProviderRoleArn": "arn:aws:iam::123456789012:role/PinpointPersonalize",
        "RecommendationProviderIdType": "PINPOINT_ENDPOINT_ID",
        "RecommendationsDisplayName": "Top movies",
        "RecommendationsPerMessage": 3,
    })
}

/// A case's object, named `name`.
pub fn named(name: &str, case: &str) -> Value {
    let case = cases()
        .into_iter()
        .find(|c| c.name == case)
        .unwrap_or_else(|| panic!("no table case {case:?}"));
    let mut object = case.object;
    object["metadata"]["name"] = json!(name);
    object
}

/// A case as a typed model in namespace `marketing`, generation 1, as the API server would
/// hand it over.
pub fn typed(case: &str) -> recommender_operator::api::RecommenderModel {
    let case = cases()
        .into_iter()
        .find(|c| c.name == case)
        .unwrap_or_else(|| panic!("no table case {case:?}"));
    let mut model: recommender_operator::api::RecommenderModel =
        serde_json::from_value(case.object).expect("table case deserializes");
    model.metadata.namespace = Some("marketing".into());
    model.metadata.generation = Some(1);
    model
}
