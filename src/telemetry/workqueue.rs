//! controller-runtime's `workqueue_*` metrics. kube-runtime keeps its queue to itself, so this is
//! a shadow of it: fed with what enters the queue (watch events that pass the predicate,
//! reconcile-everything triggers, requeues after a success or an error) and what leaves it (a
//! reconcile gets a worker), deduplicated per object as the queue itself is. Objects are kept as
//! 64-bit hashes: a few dozen bytes per model.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Mutex, atomic::AtomicU64},
    time::{Duration, Instant},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::lock::lock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    controller: &'static str,
    name: &'static str,
}

/// An entry that stays due this long without a worker taking it is taken to be an object deleted
/// while the watch was down (the queue drops those silently); it no longer counts in the depth.
const STALE: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct State {
    /// Objects waiting, with the time they are due (later than now for a scheduled requeue).
    waiting: HashMap<u64, Instant>,
    /// Objects being reconciled, with the time their reconcile got a worker.
    running: HashMap<u64, Instant>,
}

pub struct WorkQueue {
    labels: QueueLabels,
    state: Mutex<State>,
    adds: Family<QueueLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    depth: Family<QueueLabels, Gauge>,
    queue_duration: Family<QueueLabels, Histogram>,
    work_duration: Family<QueueLabels, Histogram>,
    unfinished: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    longest: Family<QueueLabels, Gauge<f64, AtomicU64>>,
}

fn object_key(object: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    object.hash(&mut hasher);
    hasher.finish()
}

impl WorkQueue {
    /// The metrics of the queue `name`, registered in `registry`.
    pub fn new(name: &'static str, registry: &mut Registry) -> Self {
        // controller-runtime's buckets: 10 ns to 1000 s.
        let seconds = || Histogram::new(exponential_buckets(1e-8, 10.0, 12));
        let queue = Self {
            labels: QueueLabels {
                controller: name,
                name,
            },
            state: Mutex::default(),
            adds: Family::default(),
            retries: Family::default(),
            depth: Family::default(),
            queue_duration: Family::new_with_constructor(seconds),
            work_duration: Family::new_with_constructor(seconds),
            unfinished: Family::default(),
            longest: Family::default(),
        };
        registry.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            queue.adds.clone(),
        );
        registry.register(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            queue.retries.clone(),
        );
        registry.register(
            "workqueue_depth",
            "Current depth of workqueue",
            queue.depth.clone(),
        );
        registry.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            queue.queue_duration.clone(),
        );
        registry.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            queue.work_duration.clone(),
        );
        registry.register(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by work_duration",
            queue.unfinished.clone(),
        );
        registry.register(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running",
            queue.longest.clone(),
        );
        // Present from the start, as controller-runtime's are.
        let _ = queue.adds.get_or_create(&queue.labels);
        let _ = queue.retries.get_or_create(&queue.labels);
        queue
    }

    /// `object` is due at `due` (now, or later for a requeue). An object already waiting keeps the
    /// earlier time and is not added again, as in the queue itself.
    pub fn add(&self, object: &impl Hash, due: Instant) {
        let mut state = lock(&self.state);
        match state.waiting.entry(object_key(object)) {
            std::collections::hash_map::Entry::Occupied(mut waiting) => {
                if due < *waiting.get() {
                    waiting.insert(due);
                }
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(due);
                self.adds.get_or_create(&self.labels).inc();
            }
        }
    }

    /// A requeue after an error.
    pub fn retry(&self, object: &impl Hash, due: Instant) {
        self.retries.get_or_create(&self.labels).inc();
        self.add(object, due);
    }

    /// `object` was deleted: nothing of it waits any more.
    pub fn forget(&self, object: &impl Hash) {
        lock(&self.state).waiting.remove(&object_key(object));
    }

    /// A worker took `object`.
    pub fn started(&self, object: &impl Hash) {
        let key = object_key(object);
        let now = Instant::now();
        let mut state = lock(&self.state);
        let due = state.waiting.remove(&key).unwrap_or(now);
        state.running.insert(key, now);
        drop(state);
        self.queue_duration
            .get_or_create(&self.labels)
            .observe(now.saturating_duration_since(due).as_secs_f64());
    }

    /// The worker is done with `object`.
    pub fn finished(&self, object: &impl Hash) {
        let started = lock(&self.state).running.remove(&object_key(object));
        if let Some(started) = started {
            self.work_duration
                .get_or_create(&self.labels)
                .observe(started.elapsed().as_secs_f64());
        }
    }

    /// Brings the gauges up to now; called before each scrape.
    pub fn refresh(&self) {
        let now = Instant::now();
        let mut state = lock(&self.state);
        state
            .waiting
            .retain(|_, due| now.saturating_duration_since(*due) < STALE);
        let depth = state.waiting.values().filter(|due| **due <= now).count();
        let running: Vec<f64> = state
            .running
            .values()
            .map(|started| now.saturating_duration_since(*started).as_secs_f64())
            .collect();
        drop(state);
        self.depth
            .get_or_create(&self.labels)
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
        self.unfinished
            .get_or_create(&self.labels)
            .set(running.iter().sum());
        self.longest
            .get_or_create(&self.labels)
            .set(running.iter().copied().fold(0.0, f64::max));
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn scrape(registry: &Registry) -> String {
        let mut out = String::new();
        encode(&mut out, registry).expect("encode");
        out
    }

    fn value(text: &str, metric: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(metric)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {metric} in\n{text}"))
    }

    #[test]
    fn the_queue_counts_like_client_gos() {
        let mut registry = Registry::default();
        let queue = WorkQueue::new("recommendermodel", &mut registry);
        let labels = r#"{controller="recommendermodel",name="recommendermodel"}"#;
        let now = Instant::now();
        queue.add(&"a", now);
        queue.add(&"a", now); // deduplicated
        queue.add(&"b", now);
        queue.add(&"c", now + Duration::from_secs(600)); // a requeue, not due yet
        queue.refresh();
        let text = scrape(&registry);
        assert_eq!(value(&text, &format!("workqueue_adds_total{labels}")), 3.0);
        assert_eq!(value(&text, &format!("workqueue_depth{labels}")), 2.0);

        queue.started(&"a");
        queue.refresh();
        let text = scrape(&registry);
        assert_eq!(value(&text, &format!("workqueue_depth{labels}")), 1.0);
        assert_eq!(
            value(
                &text,
                &format!("workqueue_queue_duration_seconds_count{labels}")
            ),
            1.0
        );
        assert!(
            value(
                &text,
                &format!("workqueue_longest_running_processor_seconds{labels}")
            ) >= 0.0
        );

        queue.finished(&"a");
        queue.retry(&"a", now);
        queue.forget(&"b");
        queue.refresh();
        let text = scrape(&registry);
        assert_eq!(
            value(
                &text,
                &format!("workqueue_work_duration_seconds_count{labels}")
            ),
            1.0
        );
        assert_eq!(
            value(&text, &format!("workqueue_retries_total{labels}")),
            1.0
        );
        assert_eq!(value(&text, &format!("workqueue_adds_total{labels}")), 4.0);
        // a (retried) is due; b was deleted; c is not due.
        assert_eq!(value(&text, &format!("workqueue_depth{labels}")), 1.0);
        assert_eq!(
            value(&text, &format!("workqueue_unfinished_work_seconds{labels}")),
            0.0
        );
    }
}
