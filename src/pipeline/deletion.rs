//! One deletion path for every object, typed or unreadable: what the model left in AWS (the
//! recorded configuration, one an unrecorded Create made, the roles made for it), read from raw
//! JSON so a bad spec never blocks deletion, deleted under `Delete` or named under `Retain`.

use k8s_openapi::jiff::Timestamp;
use tracing::warn;

use crate::{
    api::{DeletionPolicy, RecommenderModel},
    aws::pinpoint::Pinpoint,
    domain::arn::region_of,
    pipeline::{
        error::{Error, Note},
        role,
        services::AccountServices,
        unrecorded::{Claims, create_requested_at, find_unrecorded},
    },
};

/// Deletes a role the operator created, and says what happened.
pub async fn delete_role_note(
    aws: &AccountServices,
    owner: &str,
    arn: &str,
) -> Result<Option<Note>, Error> {
    Ok(role_note(arn, role::delete(aws, owner, arn).await?))
}

/// What deleting a created role did, as an event.
fn role_note(arn: &str, deleted: role::Deleted) -> Option<Note> {
    match deleted {
        role::Deleted::Deleted => Some(Note::normal(
            "RoleDeleted",
            format!("deleted IAM role {arn}, which the operator created"),
        )),
        role::Deleted::AlreadyGone => None,
        role::Deleted::NotOurs => Some(Note::warning(
            "RoleKept",
            format!(
                "kept IAM role {arn}: the role of that name is no longer the one the operator created for this model (another ARN, or no {} tag for it)",
                role::OWNER_TAG
            ),
        )),
    }
}

/// Everything deleting a model may have to clean up, read from the few fields deletion needs
/// (as raw JSON, so a bad spec, or an object this version cannot decode, never blocks its
/// deletion). Typed and unreadable objects take this one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Leftovers {
    /// `NAMESPACE/NAME`: the owner tag of the roles made for the model.
    pub owner: String,
    pub retain: bool,
    /// `(region, id)` of the configuration in the status.
    pub recorded: Option<(String, String)>,
    /// Where a Create whose result was never recorded may have made a configuration.
    pub unrecorded: Option<UnrecordedCreate>,
    /// `status.createdRoleArns`.
    pub created_roles: Vec<String>,
    /// The role `spec.role.create` names: perhaps made by a pass whose status write was lost.
    pub spec_role: Option<String>,
}

/// Where to look for a configuration an unrecorded Create made: see `find_unrecorded`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnrecordedCreate {
    pub region: String,
    /// The published name.
    pub name: String,
    /// The create marker, or the object's creation.
    pub since: Timestamp,
}

impl Leftovers {
    pub fn of(model: &RecommenderModel, role_path: &str) -> Self {
        let spec = serde_json::to_value(&model.spec).unwrap_or_default();
        let status = serde_json::to_value(&model.status).unwrap_or_default();
        Self::read(&model.metadata, &spec, &status, role_path)
    }

    /// From the raw spec and status. A Create may be unrecorded when the status names no
    /// configuration in the spec's Region (never recorded, or a Region move cut in half); the
    /// caller drops `unrecorded` when it knows no Create was sent.
    pub fn read(
        metadata: &kube::api::ObjectMeta,
        spec: &serde_json::Value,
        status: &serde_json::Value,
        role_path: &str,
    ) -> Self {
        let text = |value: &serde_json::Value, pointer: &str| {
            value
                .pointer(pointer)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let object_name = metadata.name.clone().unwrap_or_default();
        let campaign = text(spec, "/campaignArn").unwrap_or_default();
        let spec_region = region_of(&campaign).map(str::to_owned);
        let recorded = text(status, "/configurationId").and_then(|id| {
            let region = text(status, "/region").or_else(|| spec_region.clone())?;
            Some((region, id))
        });
        let since = create_requested_at(metadata)
            .or_else(|| metadata.creation_timestamp.as_ref().map(|t| t.0));
        let unrecorded = match (spec_region, since) {
            (Some(region), Some(since)) if recorded.as_ref().is_none_or(|(r, _)| *r != region) => {
                Some(UnrecordedCreate {
                    region,
                    name: text(spec, "/name").unwrap_or_else(|| object_name.clone()),
                    since,
                })
            }
            _ => None,
        };
        let created_roles = status
            .get("createdRoleArns")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        Self {
            owner: role::owner(
                metadata.namespace.as_deref().unwrap_or_default(),
                &object_name,
            ),
            retain: text(spec, "/deletionPolicy").as_deref() == Some("Retain"),
            recorded,
            unrecorded,
            created_roles,
            spec_role: text(spec, "/role/create/name")
                .map(|name| role::expected_arn(&campaign, role_path, &name)),
        }
    }
}

/// Deletes what the model left in AWS under `Delete`, or names what stays under `Retain`: the
/// recorded configuration, the one an unrecorded Create made, and the roles the operator made
/// for it. Safe to repeat after any failure; the finalizer is removed only once it succeeds.
pub async fn delete_leftovers(
    leftovers: &Leftovers,
    pinpoint: &dyn Pinpoint,
    account: &AccountServices,
    claims: Claims<'_>,
) -> Result<Vec<Note>, Error> {
    let mut notes = Vec::new();
    if let Some((region, id)) = &leftovers.recorded {
        notes.push(delete_recorded(leftovers.retain, region, id, pinpoint).await?);
    }
    if let Some(u) = &leftovers.unrecorded
        && let Some(found) =
            find_unrecorded(pinpoint, claims, &u.region, &u.name, None, u.since).await?
        && leftovers
            .recorded
            .as_ref()
            .is_none_or(|(_, id)| *id != found.id)
    {
        let (id, region) = (found.id, &u.region);
        let why = "made by a Create whose result was never recorded";
        notes.push(if leftovers.retain {
            Note::normal(
                "Retained",
                format!("deletionPolicy is Retain: configuration {id} in {region} ({why}) stays in Pinpoint"),
            )
        } else {
            pinpoint.delete(region, &id).await?;
            Note::normal(
                "Deleted",
                format!("deleted configuration {id} in {region}, {why}"),
            )
        });
    }
    if notes.is_empty() {
        notes.push(Note::normal(
            "Deleted",
            "nothing was published; nothing to delete".to_owned(),
        ));
    }
    notes.extend(delete_roles(leftovers, account).await?);
    Ok(notes)
}

/// Deletes the roles the operator created for a model being deleted under `Delete`: the ones in
/// the status, and the one the spec names (made, but not yet recorded, when a pass failed).
pub async fn delete_created_roles(
    model: &RecommenderModel,
    account: &AccountServices,
) -> Result<Vec<Note>, Error> {
    delete_roles(&Leftovers::of(model, &account.settings.role_path), account).await
}

async fn delete_roles(
    leftovers: &Leftovers,
    account: &AccountServices,
) -> Result<Vec<Note>, Error> {
    let mut notes = Vec::new();
    if leftovers.retain {
        return Ok(notes);
    }
    for arn in &leftovers.created_roles {
        notes.extend(delete_role_note(account, &leftovers.owner, arn).await?);
    }
    // Best effort: the role may never have been made, and IAM may not be reachable at all.
    if let Some(arn) = leftovers
        .spec_role
        .as_ref()
        .filter(|arn| !leftovers.created_roles.contains(arn))
    {
        match role::delete(account, &leftovers.owner, arn).await {
            Ok(deleted @ role::Deleted::Deleted) => notes.extend(role_note(arn, deleted)),
            Ok(_) => {}
            Err(e) => warn!(error = %e, role = %arn, "could not look for an unrecorded role"),
        }
    }
    Ok(notes)
}

/// Deletes the recorded configuration, or keeps it under `Retain`.
async fn delete_recorded(
    retain: bool,
    region: &str,
    id: &str,
    pinpoint: &dyn Pinpoint,
) -> Result<Note, Error> {
    if retain {
        return Ok(Note::normal(
            "Retained",
            format!("deletionPolicy is Retain: configuration {id} in {region} stays in Pinpoint"),
        ));
    }
    let existed = pinpoint.delete(region, id).await?;
    Ok(Note::normal(
        "Deleted",
        if existed {
            format!("deleted configuration {id} in {region}")
        } else {
            format!("configuration {id} in {region} was already gone")
        },
    ))
}

/// Deletes the model's recorded configuration when its policy says so (the whole clean-up is
/// `delete_leftovers`). Reads only the status and the deletion policy.
pub async fn delete_configuration(
    model: &RecommenderModel,
    pinpoint: &dyn Pinpoint,
) -> Result<Note, Error> {
    match Leftovers::of(model, "/").recorded {
        Some((region, id)) => {
            delete_recorded(
                model.spec.deletion_policy == DeletionPolicy::Retain,
                &region,
                &id,
                pinpoint,
            )
            .await
        }
        None => Ok(Note::normal(
            "Deleted",
            "nothing was published; nothing to delete".to_owned(),
        )),
    }
}
