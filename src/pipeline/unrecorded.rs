//! Finding what a Create whose result was never recorded made, so that neither a second Create
//! (a duplicate) nor a deletion without it (an orphan) follows. Create is not idempotent:
//! Pinpoint has no client token. The Kubernetes side of the protocol (the marker, the objects a
//! process saw arrive) is `controller::create_once`.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::ObjectMeta, jiff::Timestamp};

use crate::{
    api::CREATE_REQUESTED_AT,
    aws::pinpoint::{Pinpoint, Published},
    domain::desired::RecommenderConfig,
    pipeline::error::Error,
};

/// Which other object, if any, manages a configuration ID: `NAMESPACE/NAME`.
pub type Claims<'a> = &'a (dyn Fn(&str) -> Option<String> + std::marker::Sync);

/// How far Pinpoint's clock may be behind ours when matching an unrecorded Create by time.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(120);

/// Since when an object's first Create may have been sent: its create marker, never earlier than
/// the object itself. The marker is an annotation the object's author can write too; without the
/// floor, a back-dated marker would make the look-up take over (and, on deletion, delete) a
/// configuration of the same name that another team made before the object existed.
pub fn create_requested_at(metadata: &ObjectMeta) -> Option<Timestamp> {
    let marker = metadata
        .annotations
        .as_ref()?
        .get(CREATE_REQUESTED_AT)?
        .parse::<Timestamp>()
        .ok()?;
    Some(match &metadata.creation_timestamp {
        Some(created) => marker.max(created.0),
        None => marker,
    })
}

/// Creates the configuration, unless an earlier attempt already did. Create is not idempotent
/// (Pinpoint has no client token), so when a Create may have been sent before without its result
/// being recorded (the operator died, or the connection dropped), `since` says from when, and
/// the configuration that attempt made (see `find_unrecorded`) is adopted instead of making a
/// second one. Returns whether it adopted.
pub async fn create_once(
    pinpoint: &dyn Pinpoint,
    claims: Claims<'_>,
    region: &str,
    desired: &RecommenderConfig,
    since: Option<Timestamp>,
) -> Result<(Published, bool), Error> {
    if let Some(since) = since
        && let Some(earlier) = find_unrecorded(
            pinpoint,
            claims,
            region,
            &desired.name,
            Some(desired),
            since,
        )
        .await?
    {
        return Ok((earlier, true));
    }
    failpoint("before-create");
    let published = pinpoint.create(region, desired).await?;
    failpoint("after-create");
    Ok((published, false))
}

/// The configuration an unrecorded Create of this model may have made: in its Region, managed by
/// no other model, with the model's name, and created since `since` (less the clock skew). The
/// name, not the whole content, is matched, so a spec edited after the lost Create still finds
/// it; among several, one with exactly the desired content wins, then the oldest. Used both
/// before a Create and before the finalizer is removed, so neither a duplicate nor an orphan is
/// left.
pub async fn find_unrecorded(
    pinpoint: &dyn Pinpoint,
    claims: Claims<'_>,
    region: &str,
    name: &str,
    desired: Option<&RecommenderConfig>,
    since: Timestamp,
) -> Result<Option<Published>, Error> {
    let earliest = since - CLOCK_SKEW;
    let mut candidates: Vec<Published> = pinpoint
        .list(region)
        .await?
        .into_iter()
        .filter(|p| {
            claims(&p.id).is_none()
                && p.config.name == name
                && p.creation_date
                    .parse::<Timestamp>()
                    .is_ok_and(|t| t >= earliest)
        })
        .collect();
    candidates.sort_by(|a, b| {
        let exact = |p: &Published| Some(&p.config) != desired;
        (exact(a), &a.creation_date).cmp(&(exact(b), &b.creation_date))
    });
    Ok(candidates.into_iter().next())
}

/// A test hook: with `RECOMMENDER_OPERATOR_FAILPOINT=NAME` the process aborts at that point, as
/// if killed there (the crash-safety tests use it).
fn failpoint(name: &str) {
    static ARMED: std::sync::LazyLock<Option<String>> =
        std::sync::LazyLock::new(|| std::env::var("RECOMMENDER_OPERATOR_FAILPOINT").ok());
    if ARMED.as_deref() == Some(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn meta(marker: &str, created: &str) -> ObjectMeta {
        ObjectMeta {
            annotations: Some([(CREATE_REQUESTED_AT.to_owned(), marker.to_owned())].into()),
            creation_timestamp: Some(Time(created.parse().expect("a time"))),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_back_dated_marker_never_reaches_before_the_object() {
        let created = "2026-12-02T10:00:00Z";
        assert_eq!(
            create_requested_at(&meta("2020-01-01T00:00:00Z", created)),
            created.parse().ok()
        );
        let later = "2026-12-02T10:00:00.250Z";
        assert_eq!(
            create_requested_at(&meta(later, created)),
            later.parse().ok()
        );
        assert_eq!(create_requested_at(&ObjectMeta::default()), None);
    }
}
