//! What the controller keeps of each watched model. The cache holds every model for the life of
//! the process, so it keeps only what the reconciler reads, in the smallest form that still lets
//! an unreadable object be reported and deleted:
//!
//! - the metadata without the managed fields and kubectl's last-applied copy (together larger
//!   than the spec and status);
//! - the spec and status as the JSON text the API server sent, parsed only when reconciling (a
//!   parsed JSON tree takes several times the memory of its text).
//!
//! It is a type of its own with a static kind, so the controller's per-object references carry
//! no copy of the API resource's names.

use std::borrow::Cow;

use k8s_openapi::{
    NamespaceResourceScope,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
};
use kube::Resource;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, value::RawValue};

use crate::api::{RecommenderModel, RecommenderModelSpec, RecommenderModelStatus};

/// kubectl's copy of the whole object as last applied client-side.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A watched `RecommenderModel`, kept compact.
#[derive(Deserialize, Clone, Debug)]
pub struct CachedModel {
    #[serde(deserialize_with = "slim_metadata")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<Box<RawValue>>,
    #[serde(default)]
    pub status: Option<Box<RawValue>>,
}

/// The metadata fields the reconciler reads; the rest (managed fields above all) are skipped
/// while parsing, so they never take memory.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatchedMetadata {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    annotations: Option<std::collections::BTreeMap<String, String>>,
    labels: Option<std::collections::BTreeMap<String, String>>,
}

fn slim_metadata<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let m = WatchedMetadata::deserialize(deserializer)?;
    let annotations = m.annotations.map(|mut a| {
        a.remove(LAST_APPLIED);
        a
    });
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        generation: m.generation,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        finalizers: m.finalizers,
        annotations: annotations.filter(|a| !a.is_empty()),
        labels: m.labels,
        ..ObjectMeta::default()
    })
}

impl Resource for CachedModel {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        RecommenderModel::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        RecommenderModel::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        RecommenderModel::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        RecommenderModel::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl CachedModel {
    /// The typed model, or what is wrong with it, field path first (`spec.recommendationsPerMessage:
    /// invalid type ...`).
    pub fn decode(&self) -> Result<RecommenderModel, String> {
        let spec: RecommenderModelSpec = parse("spec", self.spec.as_deref())?;
        let status: Option<RecommenderModelStatus> = match self.status.as_deref() {
            Some(raw) => Some(parse("status", Some(raw))?),
            None => None,
        };
        Ok(RecommenderModel {
            metadata: self.metadata.clone(),
            spec,
            status,
        })
    }

    /// One string field of the status (`configurationId`, `region`), read without parsing the
    /// rest.
    pub fn status_str(&self, field: &str) -> Option<String> {
        self.status_value()?.get(field)?.as_str().map(str::to_owned)
    }

    /// The spec as a JSON tree, for an object that does not decode.
    pub fn spec_value(&self) -> Option<Value> {
        serde_json::from_str(self.spec.as_deref()?.get()).ok()
    }

    /// The status as a JSON tree, for an object that does not decode.
    pub fn status_value(&self) -> Option<Value> {
        serde_json::from_str(self.status.as_deref()?.get()).ok()
    }
}

fn parse<T: serde::de::DeserializeOwned>(field: &str, raw: Option<&RawValue>) -> Result<T, String> {
    let text = raw.map_or("null", RawValue::get);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("{field}: {}", e.inner())
        } else {
            format!("{field}.{path}: {}", e.inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn watched(object: Value) -> CachedModel {
        serde_json::from_str(&object.to_string()).expect("a cached model")
    }

    fn object(spec: Value) -> Value {
        json!({
            "apiVersion": "pinpoint.recommenders.dev/v1alpha1",
            "kind": "RecommenderModel",
            "metadata": {
                "name": "movie-recs", "namespace": "team", "uid": "u-1", "resourceVersion": "7",
                "generation": 2, "finalizers": ["f"],
                "annotations": {
                    LAST_APPLIED: "{\"a\":1}",
                    "pinpoint.recommenders.dev/adopt-configuration-id": "abc",
                },
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
            },
            "spec": spec,
            "status": {"configurationId": "c-1", "region": "us-east-1", "observedGeneration": 1},
        })
    }

    fn spec() -> Value {
        json!({
            "campaignArn": "arn:aws:personalize:us-east-1:123456789012:campaign/movies",
            "role": {"arn": "arn:aws:iam::123456789012:role/PinpointPersonalize"},
            "identifier": "EndpointId",
            "recommendationsPerMessage": 3,
            "processing": {"modelValue": {"displayName": "Top movies"}},
        })
    }

    #[test]
    fn keeps_what_the_reconciler_reads_and_drops_the_rest() {
        let cached = watched(object(spec()));
        assert_eq!(cached.metadata.name.as_deref(), Some("movie-recs"));
        assert_eq!(cached.metadata.generation, Some(2));
        assert_eq!(cached.metadata.finalizers, Some(vec!["f".to_owned()]));
        assert!(cached.metadata.managed_fields.is_none());
        let annotations = cached.metadata.annotations.clone().unwrap_or_default();
        assert!(!annotations.contains_key(LAST_APPLIED));
        assert_eq!(annotations.len(), 1);
        assert_eq!(cached.status_str("configurationId").as_deref(), Some("c-1"));

        let model = cached.decode().expect("decodes");
        assert_eq!(model.spec.recommendations_per_message, 3);
        assert_eq!(model.metadata.uid.as_deref(), Some("u-1"));
        let status = model.status.expect("a status");
        assert_eq!(status.configuration_id.as_deref(), Some("c-1"));
        assert_eq!(status.observed_generation, Some(1));
    }

    #[test]
    fn names_the_field_it_cannot_read() {
        let mut bad = spec();
        bad["recommendationsPerMessage"] = json!("five");
        let cached = watched(object(bad));
        let message = cached.decode().expect_err("does not decode");
        assert!(
            message.starts_with("spec.recommendationsPerMessage: "),
            "{message}"
        );
        assert_eq!(
            cached
                .spec_value()
                .and_then(|s| s["recommendationsPerMessage"].as_str().map(str::to_owned)),
            Some("five".to_owned())
        );
    }

    #[test]
    fn reads_from_watch_events_and_list_pages() {
        // The raw spec and status must survive kube's own envelopes.
        let line = json!({"type": "MODIFIED", "object": object(spec())}).to_string();
        let event: kube::api::WatchEvent<CachedModel> =
            serde_json::from_str(&line).expect("a watch event");
        let kube::api::WatchEvent::Modified(cached) = event else {
            panic!("not a MODIFIED event");
        };
        assert!(cached.decode().is_ok());
        let page = json!({
            "apiVersion": "pinpoint.recommenders.dev/v1alpha1", "kind": "RecommenderModelList",
            "metadata": {"resourceVersion": "9"}, "items": [object(spec()), object(spec())],
        })
        .to_string();
        let list: kube::core::ObjectList<CachedModel> =
            serde_json::from_str(&page).expect("a list page");
        assert_eq!(list.items.len(), 2);
        assert!(list.items.iter().all(|m| m.decode().is_ok()));
    }

    #[test]
    fn an_object_without_a_status_decodes() {
        let mut o = object(spec());
        o.as_object_mut().map(|o| o.remove("status"));
        let cached = watched(o);
        assert!(cached.status.is_none());
        assert!(cached.decode().expect("decodes").status.is_none());
    }
}
