//! The benchmark's own watch on the models, which marks each one Ready and counts the writes to
//! it, and the waits built on what it saw.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Result, ensure};
use futures::StreamExt;
use kube::{
    api::{Api, DynamicObject},
    runtime::{WatchStreamExt, watcher},
};
use recommender_operator::lock::lock;
use serde_json::Value;

use crate::support::cluster::{Process, tail};

/// What the benchmark's watch saw.
#[derive(Default)]
pub struct Tracker {
    /// How many of the watches (one per namespace) have listed what is there.
    synced: usize,
    /// The last resourceVersion of each object; a new one is one write.
    versions: HashMap<String, String>,
    pub writes: HashMap<String, u32>,
    pub total_writes: u64,
    last_write: Option<Instant>,
    /// When each object was first seen Ready.
    pub ready_at: HashMap<String, Instant>,
    /// The newest generation each object was seen Ready at, and when.
    pub ready_generation: HashMap<String, (i64, Instant)>,
    /// Each object's configuration ID, from its status.
    pub ids: HashMap<String, String>,
    watch_errors: u64,
}

/// The watches of one run, one per namespace, feeding one tracker.
pub struct Watches(Vec<tokio::task::JoinHandle<()>>);

impl Watches {
    pub fn abort(&self) {
        for watch in &self.0 {
            watch.abort();
        }
    }
}

fn spawn_watch(
    api: Api<DynamicObject>,
    tracker: Arc<Mutex<Tracker>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        let mut synced = false;
        while let Some(event) = stream.next().await {
            let now = Instant::now();
            match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    observe(&mut lock(&tracker), &object, now);
                }
                Ok(watcher::Event::InitDone) if !synced => {
                    synced = true;
                    lock(&tracker).synced += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    lock(&tracker).watch_errors += 1;
                    eprintln!("watch error (retrying): {e}");
                }
            }
        }
    })
}

/// The benchmark's watches on `apis`, once each has listed what is there.
pub async fn synced_watch<'a>(
    apis: impl IntoIterator<Item = &'a Api<DynamicObject>>,
) -> Result<(Arc<Mutex<Tracker>>, Watches)> {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let watches: Vec<_> = apis
        .into_iter()
        .map(|api| spawn_watch(api.clone(), tracker.clone()))
        .collect();
    let count = watches.len();
    wait_for(
        Duration::from_secs(30),
        "the benchmark's watch is synced",
        || lock(&tracker).synced >= count,
    )
    .await?;
    Ok((tracker, Watches(watches)))
}

fn observe(t: &mut Tracker, object: &DynamicObject, now: Instant) {
    let name = object.metadata.name.clone().unwrap_or_default();
    let version = object.metadata.resource_version.clone().unwrap_or_default();
    // A relist repeats objects with their current version: not a write.
    if let Some(previous) = t.versions.insert(name.clone(), version.clone())
        && previous != version
    {
        *t.writes.entry(name.clone()).or_default() += 1;
        t.total_writes += 1;
        t.last_write = Some(now);
    }
    if let Some(id) = object.data["status"]["configurationId"].as_str() {
        t.ids.insert(name.clone(), id.to_owned());
    }
    if is_ready(&object.data) {
        let generation = object.data["status"]["observedGeneration"]
            .as_i64()
            .unwrap_or(0);
        let newer = t
            .ready_generation
            .get(&name)
            .is_none_or(|(g, _)| *g < generation);
        if newer {
            t.ready_generation.insert(name.clone(), (generation, now));
        }
        t.ready_at.entry(name).or_insert(now);
    }
}

fn is_ready(data: &Value) -> bool {
    data["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

pub async fn wait_all_ready(
    tracker: &Mutex<Tracker>,
    n: usize,
    operator: &mut Process,
    t0: Instant,
) -> Result<()> {
    let timeout = Duration::from_secs(120) + Duration::from_millis(500 * n as u64);
    let mut reported = Instant::now();
    loop {
        let ready = lock(tracker).ready_at.len();
        if ready >= n {
            return Ok(());
        }
        ensure!(
            operator.is_running(),
            "the operator exited with {ready} of {n} Ready:\n{}",
            tail(&operator.output(), 60)
        );
        ensure!(
            t0.elapsed() < timeout,
            "only {ready} of {n} models Ready after {timeout:?}"
        );
        if reported.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {ready}/{n} Ready after {:.0} s",
                t0.elapsed().as_secs_f64()
            );
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no write has been seen for `quiet`, at most `limit`.
pub async fn settle(tracker: &Mutex<Tracker>, quiet: Duration, limit: Duration) {
    let start = Instant::now();
    loop {
        let last = lock(tracker).last_write;
        let quiet_since = last.map_or(start, |l| l.max(start));
        if quiet_since.elapsed() >= quiet || start.elapsed() >= limit {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn wait_for(
    timeout: Duration,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        ensure!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
