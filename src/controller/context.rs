//! What every reconcile shares: the clients, the settings, the watched objects, the backoff
//! counts and the create-once memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use kube::{
    Client, ResourceExt,
    runtime::{
        events::{Recorder, Reporter},
        reflector::{self, ObjectRef},
    },
};

use crate::{
    aws::pinpoint::Pinpoint,
    controller::{cached::CachedModel, create_once::CreateOnce},
    domain::tenancy::RolePolicy,
    pipeline::services::AccountServices,
    telemetry::Metrics,
};

/// The field manager for status patches and the events' reporting controller.
pub const MANAGER: &str = "recommender-operator";

/// Settings of the controller loop.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch one namespace, or all.
    pub namespace: Option<String>,
    pub concurrency: u16,
    /// How often a published configuration is re-read from Pinpoint.
    pub resync: Duration,
    /// Which roles each namespace may use.
    pub allowed_roles: RolePolicy,
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub pinpoint: Box<dyn Pinpoint>,
    /// IAM, Personalize and Lambda: roles made for models, and the checks before publishing.
    pub account: AccountServices,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Consecutive failures per object, for exponential backoff.
    pub failures: Mutex<HashMap<ObjectRef<CachedModel>, u32>>,
    /// Every watched object, to tell which configuration another object already manages.
    pub objects: OnceLock<reflector::Store<CachedModel>>,
    /// What this process knows of its own Creates (`create_once`).
    pub create_once: CreateOnce,
}

impl Context {
    pub fn new(
        client: Client,
        pinpoint: impl Pinpoint,
        account: AccountServices,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let recorder = Recorder::new(client.clone(), Reporter::from(MANAGER));
        Self {
            client,
            pinpoint: Box::new(pinpoint),
            account,
            recorder,
            metrics,
            settings,
            failures: Mutex::default(),
            objects: OnceLock::new(),
            create_once: CreateOnce::default(),
        }
    }
}

/// Which watched object other than `uid` manages a configuration ID.
pub fn claims_except<'a>(
    objects: Option<&'a reflector::Store<CachedModel>>,
    uid: &'a str,
) -> impl Fn(&str) -> Option<String> + std::marker::Sync + 'a {
    move |id: &str| {
        objects?
            .state()
            .iter()
            .find(|o| {
                o.metadata.uid.as_deref() != Some(uid)
                    && o.status_str("configurationId").as_deref() == Some(id)
            })
            .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
    }
}
