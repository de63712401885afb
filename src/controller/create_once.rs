//! The create-once protocol, Kubernetes side: no duplicate configuration and nothing leaked,
//! across crashes, lost answers and failovers.
//!
//! The invariant: for every model at most one configuration exists in Pinpoint that no other
//! model manages and that this model does not record, and that one is found (adopted before any
//! further Create; deleted or named on deletion) by `pipeline::unrecorded::find_unrecorded`:
//! the model's name, in its Region, created since the model's create marker.
//!
//! Every case:
//! - The operator adds the finalizer itself: that first write also carries the marker
//!   `api::CREATE_REQUESTED_AT`, before any Create is sent (`add_finalizer`).
//! - The install's admission policy added the finalizer: no marker is written, and the object
//!   counts as marked from its creation.
//! - A model this process saw arrive on its watch after its first list (`note_arrival`) cannot
//!   have been sent a Create by anyone else: it is `fresh`, and its first Create needs no look-up.
//!   A Create refused outright (throttled, rejected) keeps it fresh; an unknown outcome (5xx,
//!   timeout, broken connection) ends that.
//! - A Create whose ID could not be written to the status is remembered (`unrecorded`) and
//!   reused by this process; after a restart the look-up finds it.
//! - Deletion of a model that is not fresh and records no configuration in its campaign's Region
//!   looks for what an unrecorded Create made (`pipeline::deletion`).

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        reflector::{self, ObjectRef},
        watcher,
    },
};
use serde_json::json;

use crate::{
    api::{CREATE_REQUESTED_AT, FINALIZER, RecommenderModel},
    controller::cached::CachedModel,
    lock::lock,
    pipeline::error::Error,
};

/// What this process knows about Creates of its own.
#[derive(Default)]
pub struct CreateOnce {
    /// Objects this process saw arrive (or wrote the marker of) and whose first Create it has not
    /// tried yet: nothing can have been created for them, so that attempt needs no look-up first.
    pub fresh: Mutex<HashSet<String>>,
    /// Configurations this process created whose ID is not yet in the object's status (the
    /// status write failed): `(region, id)` by object UID, reused instead of creating a second.
    pub unrecorded: Mutex<HashMap<String, (String, String)>>,
}

impl CreateOnce {
    /// Takes the object's fresh mark: true if it had one.
    pub fn take_fresh(&self, uid: &str) -> bool {
        lock(&self.fresh).remove(uid)
    }

    pub fn mark_fresh(&self, uid: &str) {
        lock(&self.fresh).insert(uid.to_owned());
    }

    pub fn is_fresh(&self, uid: &str) -> bool {
        lock(&self.fresh).contains(uid)
    }

    pub fn unrecorded(&self, uid: &str) -> Option<(String, String)> {
        lock(&self.unrecorded).get(uid).cloned()
    }

    pub fn remember_unrecorded(&self, uid: &str, region: String, id: String) {
        lock(&self.unrecorded).insert(uid.to_owned(), (region, id));
    }

    pub fn recorded(&self, uid: &str) {
        lock(&self.unrecorded).remove(uid);
    }

    /// The object is gone: nothing about it is needed any more.
    pub fn forget(&self, uid: &str) {
        lock(&self.fresh).remove(uid);
        lock(&self.unrecorded).remove(uid);
    }

    /// Sets the model's `since` for the pipeline's look-up: none for a fresh model (returns
    /// whether it was fresh), the creation time for one whose finalizer came without a marker.
    pub fn prepare(&self, model: &mut RecommenderModel, uid: &str, has_id: bool) -> bool {
        let fresh = self.take_fresh(uid);
        if fresh {
            // This process saw the object arrive (or wrote its marker) and no Create with an
            // unknown outcome followed: nothing can exist for this object yet.
            model.annotations_mut().remove(CREATE_REQUESTED_AT);
        } else if !has_id && !model.annotations().contains_key(CREATE_REQUESTED_AT) {
            // The finalizer came with the object (the admission policy), so no marker was
            // written: another process may have sent a Create at any time since its creation.
            if let Some(created) = &model.metadata.creation_timestamp {
                let created = created.0.to_string();
                model
                    .annotations_mut()
                    .insert(CREATE_REQUESTED_AT.to_owned(), created);
            }
        }
        fresh
    }
}

/// Marks an unpublished object as fresh when it first appears after the initial list: it was
/// created while this process watched, so no other process can have sent a Create for it. (One
/// first seen in a list may have been handled by a previous process, and gets the look-up; so
/// does one that already carries another process's create marker.)
pub fn note_arrival(
    event: &watcher::Event<CachedModel>,
    seen: &reflector::Store<CachedModel>,
    memory: &CreateOnce,
) {
    let watcher::Event::Apply(object) = event else {
        return;
    };
    // Nearly every event is for a known object (our own status writes among them): the store
    // look-up goes first, so the status is parsed only for a new one.
    if seen.get(&ObjectRef::from_obj(object)).is_none()
        && object.metadata.deletion_timestamp.is_none()
        && !object.annotations().contains_key(CREATE_REQUESTED_AT)
        && object.status_str("configurationId").is_none()
        && let Some(uid) = &object.metadata.uid
    {
        memory.mark_fresh(uid);
    }
}

/// Adds the finalizer and, for an object not yet published, the create marker (then returns
/// true). Conditional on the resourceVersion, so a concurrent change makes it fail and retry
/// instead of losing either.
pub async fn add_finalizer(
    api: &Api<CachedModel>,
    model: &RecommenderModel,
) -> Result<bool, Error> {
    let mut finalizers = model.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    let mut metadata = json!({
        "resourceVersion": model.resource_version(),
        "finalizers": finalizers,
    });
    let published = model
        .status
        .as_ref()
        .is_some_and(|s| s.configuration_id.is_some());
    if !published {
        metadata["annotations"] = json!({ CREATE_REQUESTED_AT: Timestamp::now().to_string() });
    }
    api.patch(
        &model.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": metadata })),
    )
    .await
    .map_err(Error::KubernetesError)?;
    Ok(!published)
}
