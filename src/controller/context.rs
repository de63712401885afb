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
    domain::tenancy::Tenancy,
    lock::lock,
    pipeline::{
        accounts::{AccountStack, Accounts},
        services::AccountServices,
    },
    telemetry::Metrics,
};

/// The field manager for status patches and the events' reporting controller.
pub const MANAGER: &str = "recommender-operator";

/// Settings of the controller loop.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch these namespaces; empty: all.
    pub namespaces: Vec<String>,
    pub concurrency: u16,
    /// How often a published configuration is re-read from Pinpoint.
    pub resync: Duration,
    /// Which roles each namespace may use and what it may adopt; replaced when its file changes.
    pub tenancy: SharedTenancy,
}

/// The tenancy settings in force, shared by the reconciler and the file watcher that replaces
/// them.
#[derive(Clone, Debug, Default)]
pub struct SharedTenancy(Arc<Mutex<Arc<Tenancy>>>);

impl SharedTenancy {
    pub fn new(tenancy: Tenancy) -> Self {
        Self(Arc::new(Mutex::new(Arc::new(tenancy))))
    }

    pub fn current(&self) -> Arc<Tenancy> {
        lock(&self.0).clone()
    }

    pub fn replace(&self, tenancy: Tenancy) {
        *lock(&self.0) = Arc::new(tenancy);
    }
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    /// Pinpoint, IAM, Personalize and Lambda of each account models publish into.
    pub accounts: Accounts,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Consecutive failures per object, for exponential backoff.
    pub failures: Mutex<HashMap<ObjectRef<CachedModel>, u32>>,
    /// Every watched object (a store per watch), to tell which configuration another object
    /// already manages.
    pub objects: OnceLock<Vec<reflector::Store<CachedModel>>>,
    /// What this process knows of its own Creates (`create_once`).
    pub create_once: CreateOnce,
}

impl Context {
    /// One account: the operator's own (tests).
    pub fn new(
        client: Client,
        pinpoint: impl Pinpoint,
        account: AccountServices,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let own = AccountStack::new(Box::new(pinpoint), account);
        Self::with_accounts(client, Accounts::single(own), metrics, settings)
    }

    pub fn with_accounts(
        client: Client,
        accounts: Accounts,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let recorder = Recorder::new(client.clone(), Reporter::from(MANAGER));
        Self {
            client,
            accounts,
            recorder,
            metrics,
            settings,
            failures: Mutex::default(),
            objects: OnceLock::new(),
            create_once: CreateOnce::default(),
        }
    }
}

/// Which watched object other than `uid` manages a configuration ID, in any watched namespace.
pub fn claims_except<'a>(
    objects: Option<&'a Vec<reflector::Store<CachedModel>>>,
    uid: &'a str,
) -> impl Fn(&str) -> Option<String> + std::marker::Sync + 'a {
    move |id: &str| {
        objects?.iter().find_map(|store| {
            store
                .state()
                .iter()
                .find(|o| {
                    o.metadata.uid.as_deref() != Some(uid)
                        && o.status_str("configurationId").as_deref() == Some(id)
                })
                .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
        })
    }
}
