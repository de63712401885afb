//! Reads by listing: one paged `GetRecommenderConfigurations` per Region answers every model's
//! read there for a while, instead of one `GetRecommenderConfiguration` per model. At resync and
//! after a restart that turns N reads into about N/100 (an account holds at most 100
//! configurations per Region, so one page often holds them all), and leaves Pinpoint's per-account
//! rate for real changes.
//!
//! What stays exact:
//! - The operator's own writes go through to the snapshot, so its next read sees them.
//! - A configuration the snapshot lacks (made since, or gone) is asked for alone.
//! - A snapshot serves reads for `max_age` (half the resync period), so a change made outside the
//!   operator is seen within one and a half resync periods. Update is a full replace, so a stale
//!   "unchanged" only delays putting drift back; a stale "exists" for a configuration deleted
//!   since leads to an Update that finds it gone, and then to the recreate path as before.
//! - Decisions that a stale "exists" would make wrong (adopting by ID) use `get_fresh`.
//! - `list` itself is always fresh (finding an unrecorded Create must not miss it), and renews
//!   the snapshot.
//! - A list that fails (throttled, unavailable) fails no read: each is asked for alone until a
//!   list succeeds, tried again after `LIST_RETRY` at most.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    aws::{
        AwsError, AwsErrorKind,
        pinpoint::{Pinpoint, Published},
    },
    domain::desired::RecommenderConfig,
    lock::lock,
};

/// How long after a failed list reads go to Pinpoint one by one before a list is tried again.
const LIST_RETRY: Duration = Duration::from_secs(30);

/// One Region's configurations as of `taken`. A Region may hold thousands (the quota can be
/// raised), and the snapshot lives beside the watch cache, so each is kept packed: one allocation
/// per configuration instead of a dozen strings in a wide struct (at 3,000 models the unpacked
/// map was the largest item of the heap after the watch cache).
struct Snapshot {
    taken: Instant,
    by_id: HashMap<Box<str>, Packed>,
}

impl Snapshot {
    fn of<'a>(taken: Instant, all: impl IntoIterator<Item = &'a Published>) -> Self {
        Self {
            taken,
            by_id: all
                .into_iter()
                .map(|p| (Box::from(p.id.as_str()), Packed::pack(p)))
                .collect(),
        }
    }
}

/// A configuration as one byte string: each text length-prefixed, an optional one flagged.
struct Packed(Box<[u8]>);

impl Packed {
    fn pack(p: &Published) -> Self {
        let c = &p.config;
        let mut out = Vec::with_capacity(256);
        let length = |out: &mut Vec<u8>, n: usize| {
            out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
        };
        let text = |out: &mut Vec<u8>, s: &str| {
            length(out, s.len());
            out.extend_from_slice(s.as_bytes());
        };
        let optional = |out: &mut Vec<u8>, s: Option<&str>| match s {
            Some(s) => {
                out.push(1);
                text(out, s);
            }
            None => out.push(0),
        };
        text(&mut out, &c.name);
        optional(&mut out, c.description.as_deref());
        text(&mut out, &c.campaign_arn);
        text(&mut out, &c.role_arn);
        text(&mut out, &c.id_type);
        optional(&mut out, c.lambda.as_deref());
        optional(&mut out, c.display_name.as_deref());
        out.extend_from_slice(&c.recommendations_per_message.to_le_bytes());
        length(&mut out, c.attributes.len());
        for (key, value) in &c.attributes {
            text(&mut out, key);
            text(&mut out, value);
        }
        text(&mut out, &p.creation_date);
        text(&mut out, &p.last_modified_date);
        Self(out.into_boxed_slice())
    }

    /// The configuration again; `None` only if the bytes are not what `pack` wrote.
    fn unpack(&self, id: &str) -> Option<Published> {
        let mut r = Reader(&self.0);
        let config = RecommenderConfig {
            name: r.text()?,
            description: r.optional()?,
            campaign_arn: r.text()?,
            role_arn: r.text()?,
            id_type: r.text()?,
            lambda: r.optional()?,
            display_name: r.optional()?,
            recommendations_per_message: i32::from_le_bytes(r.bytes(4)?.try_into().ok()?),
            attributes: {
                let n = r.u32()?;
                (0..n)
                    .map(|_| Some((r.text()?, r.text()?)))
                    .collect::<Option<_>>()?
            },
        };
        Some(Published {
            id: id.to_owned(),
            config,
            creation_date: r.text()?,
            last_modified_date: r.text()?,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let n = usize::try_from(self.u32()?).ok()?;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
    fn optional(&mut self) -> Option<Option<String>> {
        match self.bytes(1)?.first()? {
            0 => Some(None),
            _ => self.text().map(Some),
        }
    }
}

/// What is known of one Region.
#[derive(Default)]
struct Region {
    snapshot: Option<Snapshot>,
    list_failed: Option<Instant>,
}

/// A Region's state; the async lock makes concurrent reads wait for one list, not send many.
type Slot = Arc<tokio::sync::Mutex<Region>>;

/// `Pinpoint` whose `get` is served from a per-Region list.
pub struct ListedReads<P> {
    inner: P,
    max_age: Duration,
    regions: Mutex<HashMap<String, Slot>>,
}

impl<P: Pinpoint> ListedReads<P> {
    /// `max_age`: how long a list serves reads (at least a second).
    pub fn new(inner: P, max_age: Duration) -> Self {
        Self {
            inner,
            max_age: max_age.max(Duration::from_secs(1)),
            regions: Mutex::default(),
        }
    }

    fn slot(&self, region: &str) -> Slot {
        lock(&self.regions)
            .entry(region.to_owned())
            .or_default()
            .clone()
    }

    /// Records what a write just did to one configuration (`None`: it is gone).
    async fn learned(&self, region: &str, id: &str, published: Option<&Published>) {
        let slot = self.slot(region);
        let mut state = slot.lock().await;
        if let Some(snapshot) = state.snapshot.as_mut() {
            match published {
                Some(p) => snapshot.by_id.insert(id.into(), Packed::pack(p)),
                None => snapshot.by_id.remove(id),
            };
        }
    }

    /// Records a configuration a read found outside the snapshot, unless a write (which knows
    /// better) has recorded it meanwhile.
    async fn found(&self, region: &str, published: &Published) {
        let slot = self.slot(region);
        let mut state = slot.lock().await;
        if let Some(snapshot) = state.snapshot.as_mut() {
            snapshot
                .by_id
                .entry(published.id.as_str().into())
                .or_insert_with(|| Packed::pack(published));
        }
    }
}

#[async_trait::async_trait]
impl<P: Pinpoint> Pinpoint for ListedReads<P> {
    async fn create(
        &self,
        region: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        let published = self.inner.create(region, config).await?;
        self.learned(region, &published.id, Some(&published)).await;
        Ok(published)
    }

    async fn get(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError> {
        let slot = self.slot(region);
        {
            let mut state = slot.lock().await;
            let fresh = |state: &Region| {
                state
                    .snapshot
                    .as_ref()
                    .is_some_and(|s| s.taken.elapsed() < self.max_age)
            };
            let may_list = state
                .list_failed
                .is_none_or(|failed| failed.elapsed() >= LIST_RETRY.min(self.max_age));
            if !fresh(&state) && may_list {
                let taken = Instant::now();
                match self.inner.list(region).await {
                    Ok(all) => {
                        state.snapshot = Some(Snapshot::of(taken, &all));
                        state.list_failed = None;
                    }
                    Err(e) => {
                        tracing::warn!(region, error = %e, "listing the Region failed; reading configurations one by one meanwhile");
                        state.list_failed = Some(Instant::now());
                    }
                }
            }
            if fresh(&state)
                && let Some(found) = state
                    .snapshot
                    .as_ref()
                    .and_then(|s| s.by_id.get(id))
                    .and_then(|packed| packed.unpack(id))
            {
                return Ok(Some(found));
            }
        }
        self.get_fresh(region, id).await
    }

    async fn get_fresh(&self, region: &str, id: &str) -> Result<Option<Published>, AwsError> {
        let found = self.inner.get_fresh(region, id).await?;
        if let Some(published) = &found {
            self.found(region, published).await;
        }
        Ok(found)
    }

    async fn update(
        &self,
        region: &str,
        id: &str,
        config: &RecommenderConfig,
    ) -> Result<Published, AwsError> {
        match self.inner.update(region, id, config).await {
            Ok(published) => {
                self.learned(region, id, Some(&published)).await;
                Ok(published)
            }
            Err(e) => {
                if e.kind == AwsErrorKind::NotFound {
                    self.learned(region, id, None).await;
                }
                Err(e)
            }
        }
    }

    async fn delete(&self, region: &str, id: &str) -> Result<bool, AwsError> {
        let deleted = self.inner.delete(region, id).await?;
        self.learned(region, id, None).await;
        Ok(deleted)
    }

    async fn list(&self, region: &str) -> Result<Vec<Published>, AwsError> {
        let slot = self.slot(region);
        let mut state = slot.lock().await;
        let taken = Instant::now();
        let all = self.inner.list(region).await?;
        state.snapshot = Some(Snapshot::of(taken, &all));
        state.list_failed = None;
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Pinpoint in memory, counting reads.
    #[derive(Default)]
    struct Fake {
        stored: Mutex<HashMap<String, Published>>,
        gets: AtomicU32,
        lists: AtomicU32,
        fail_lists: std::sync::atomic::AtomicBool,
    }

    fn published(id: &str, per_message: i32) -> Published {
        Published {
            id: id.into(),
            config: RecommenderConfig {
                name: id.into(),
                recommendations_per_message: per_message,
                ..RecommenderConfig::default()
            },
            creation_date: String::new(),
            last_modified_date: String::new(),
        }
    }

    #[async_trait::async_trait]
    impl Pinpoint for Arc<Fake> {
        async fn create(&self, _: &str, c: &RecommenderConfig) -> Result<Published, AwsError> {
            let p = published(&c.name, c.recommendations_per_message);
            lock(&self.stored).insert(p.id.clone(), p.clone());
            Ok(p)
        }
        async fn get(&self, _: &str, id: &str) -> Result<Option<Published>, AwsError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            Ok(lock(&self.stored).get(id).cloned())
        }
        async fn update(
            &self,
            _: &str,
            id: &str,
            c: &RecommenderConfig,
        ) -> Result<Published, AwsError> {
            let p = published(id, c.recommendations_per_message);
            lock(&self.stored).insert(id.into(), p.clone());
            Ok(p)
        }
        async fn delete(&self, _: &str, id: &str) -> Result<bool, AwsError> {
            Ok(lock(&self.stored).remove(id).is_some())
        }
        async fn list(&self, _: &str) -> Result<Vec<Published>, AwsError> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            if self.fail_lists.load(Ordering::SeqCst) {
                return Err(AwsError {
                    service: crate::aws::PINPOINT,
                    operation: "GetRecommenderConfigurations",
                    kind: AwsErrorKind::Throttled,
                    code: "TooManyRequestsException".into(),
                    message: "slow down".into(),
                });
            }
            Ok(lock(&self.stored).values().cloned().collect())
        }
    }

    #[test]
    fn a_packed_configuration_unpacks_to_the_same() {
        let full = Published {
            id: "abc".into(),
            config: RecommenderConfig {
                name: "movie-recs".into(),
                description: Some("Weekly picks, ünïcode".into()),
                campaign_arn: "arn:aws:personalize:us-east-1:123456789012:campaign/movies".into(),
                role_arn: "arn:aws:iam::123456789012:role/PinpointPersonalize".into(),
                id_type: "PINPOINT_USER_ID".into(),
                lambda: Some("enrich".into()),
                display_name: Some(String::new()),
                recommendations_per_message: -3,
                attributes: [
                    ("Recommendations.Title".into(), "Title".into()),
                    ("Recommendations.Genre".into(), "Genre".into()),
                ]
                .into(),
            },
            creation_date: "2026-12-02T10:00:00.000Z".into(),
            last_modified_date: "2026-12-02T11:00:00.000Z".into(),
        };
        assert_eq!(Packed::pack(&full).unpack("abc"), Some(full.clone()));
        let bare = published("bare", 5);
        assert_eq!(Packed::pack(&bare).unpack("bare"), Some(bare));
        assert_eq!(Packed(Box::new([1, 2])).unpack("x"), None);
    }

    #[tokio::test]
    async fn many_reads_cost_one_list_and_own_writes_are_seen() {
        let fake = Arc::new(Fake::default());
        for i in 0..50 {
            lock(&fake.stored).insert(format!("c{i}"), published(&format!("c{i}"), 5));
        }
        let listed = ListedReads::new(fake.clone(), Duration::from_secs(60));
        for i in 0..50 {
            let found = listed.get("us-east-1", &format!("c{i}")).await;
            assert!(matches!(found, Ok(Some(_))));
        }
        assert_eq!(fake.lists.load(Ordering::SeqCst), 1);
        assert_eq!(fake.gets.load(Ordering::SeqCst), 0);

        let mut config = published("c1", 2).config;
        config.name = "c1".into();
        listed
            .update("us-east-1", "c1", &config)
            .await
            .expect("update");
        let read = listed.get("us-east-1", "c1").await.expect("read");
        assert_eq!(read.map(|p| p.config.recommendations_per_message), Some(2));
        listed.delete("us-east-1", "c2").await.expect("delete");
        // Not in the snapshot: asked for alone, and really gone.
        assert!(matches!(listed.get("us-east-1", "c2").await, Ok(None)));
        assert_eq!(fake.gets.load(Ordering::SeqCst), 1);
        assert_eq!(fake.lists.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_list_fails_no_read() {
        let fake = Arc::new(Fake::default());
        lock(&fake.stored).insert("c".into(), published("c", 5));
        fake.fail_lists.store(true, Ordering::SeqCst);
        let listed = ListedReads::new(fake.clone(), Duration::from_secs(60));
        for _ in 0..3 {
            assert!(matches!(listed.get("us-east-1", "c").await, Ok(Some(_))));
        }
        // One list tried, then reads one by one until the retry time.
        assert_eq!(fake.lists.load(Ordering::SeqCst), 1);
        assert_eq!(fake.gets.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_old_snapshot_is_listed_again_and_sees_outside_changes() {
        let fake = Arc::new(Fake::default());
        lock(&fake.stored).insert("c".into(), published("c", 5));
        let listed = ListedReads::new(fake.clone(), Duration::ZERO);
        assert!(listed.get("us-east-1", "c").await.is_ok());
        // Changed outside the operator, seen once the snapshot is older than its age (1 s).
        lock(&fake.stored).insert("c".into(), published("c", 1));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let read = listed.get("us-east-1", "c").await.expect("read");
        assert_eq!(read.map(|p| p.config.recommendations_per_message), Some(1));
        assert_eq!(fake.lists.load(Ordering::SeqCst), 2);
    }
}
