//! The controller: one reconciler with a finalizer. `sync` is the pipeline (validate, build the
//! desired configuration, publish, report) and needs only a `Pinpoint`, so it runs in tests
//! without a cluster; the rest is the Kubernetes glue around it.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        Controller, PredicateConfig, WatchStreamExt,
        controller::{Action, Config as ControllerConfig},
        events::{Event as KubeEvent, EventType, Recorder, Reporter},
        finalizer::{Error as FinalizerError, Event as FinalizerEvent, finalizer},
        reflector::{self, ObjectRef},
        watcher,
    },
};
use serde_json::json;
use tracing::{Instrument, field, info, info_span, warn};

use crate::{
    account::AccountServices,
    api::{DeletionPolicy, FieldError, RecommenderModel, RecommenderModelStatus},
    aws::{AwsError, AwsErrorKind, PINPOINT},
    cached::CachedModel,
    checks::{self, Failure, Problem},
    desired::{desired_configuration, differences},
    pinpoint::{Pinpoint, Published},
    role,
    status::{ConditionUpdate, PUBLISHED, READY, VALIDATED, reason, set_conditions},
    telemetry::Metrics,
    tenancy::RolePolicy,
    validation::{arn_region, validate},
};

/// Kept on every object whose configuration the operator may have to delete.
pub const FINALIZER: &str = "pinpoint.recommenders.dev/configuration";
/// Written with the finalizer, before the first Create is sent: from when a configuration with
/// exactly the desired content may be this object's, made by a Create whose result was never
/// recorded (see `create_once`). An object whose finalizer came with it (the install's admission
/// policy) has no marker and counts as marked from its creation.
pub const CREATE_REQUESTED_AT: &str = "pinpoint.recommenders.dev/create-requested-at";
/// Set by the user to take over an existing configuration (one made in the console) instead of
/// creating one; also how a `Retain`ed configuration is picked back up.
pub const ADOPT_CONFIGURATION_ID: &str = "pinpoint.recommenders.dev/configuration-id";
/// The field manager for status patches and the events' reporting controller.
pub const MANAGER: &str = "recommender-operator";

/// Everything that can stop a model from being Ready; each variant is one condition reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the spec is invalid: {}", summarize(.0))]
    InvalidSpec(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    CampaignNotFound(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    CampaignNotActive(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    LambdaNotFound(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    LambdaNotInvokable(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    RoleNotFound(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    RoleNotTrusted(Vec<FieldError>),
    #[error("{}", summarize(.0))]
    RoleNotOwned(Vec<FieldError>),
    #[error("{0}")]
    Rejected(AwsError),
    #[error("{0}")]
    AccessDenied(AwsError),
    #[error("{0}")]
    Throttled(AwsError),
    #[error(
        "{0} (Pinpoint holds at most 100 recommender configurations per account and Region; this model proceeds when one is deleted)"
    )]
    QuotaExceeded(AwsError),
    #[error("{0}")]
    PinpointUnavailable(AwsError),
    /// IAM, Personalize or Lambda did not answer.
    #[error("{0}")]
    AwsUnavailable(AwsError),
    #[error("{0}")]
    RoleNotAllowed(String),
    #[error("{0}")]
    ConfigurationInUse(String),
    #[error("{0}")]
    ConfigurationNotFound(String),
    #[error("the object cannot be read as a RecommenderModel of this version: {0}")]
    Unreadable(String),
    #[error("Kubernetes API request failed: {0}")]
    KubernetesError(#[source] kube::Error),
    #[error("finalizer handling failed: {0}")]
    FinalizerError(String),
}

impl Error {
    /// The condition reason, the variant's name.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::CampaignNotFound(_) => "CampaignNotFound",
            Error::CampaignNotActive(_) => "CampaignNotActive",
            Error::LambdaNotFound(_) => "LambdaNotFound",
            Error::LambdaNotInvokable(_) => "LambdaNotInvokable",
            Error::RoleNotFound(_) => "RoleNotFound",
            Error::RoleNotTrusted(_) => "RoleNotTrusted",
            Error::RoleNotOwned(_) => "RoleNotOwned",
            Error::Rejected(_) => "Rejected",
            Error::AccessDenied(_) => "AccessDenied",
            Error::Throttled(_) => "Throttled",
            Error::QuotaExceeded(_) => "QuotaExceeded",
            Error::PinpointUnavailable(_) => "PinpointUnavailable",
            Error::AwsUnavailable(_) => "AwsUnavailable",
            Error::RoleNotAllowed(_) => "RoleNotAllowed",
            Error::ConfigurationInUse(_) => "ConfigurationInUse",
            Error::ConfigurationNotFound(_) => "ConfigurationNotFound",
            Error::Unreadable(_) => "Unreadable",
            Error::KubernetesError(_) => "KubernetesError",
            Error::FinalizerError(_) => "FinalizerError",
        }
    }

    /// Errors that only a change to the object can fix: no retry loop.
    pub fn waits_for_change(&self) -> bool {
        matches!(
            self,
            Error::InvalidSpec(_) | Error::RoleNotAllowed(_) | Error::Unreadable(_)
        )
    }
}

impl Error {
    /// The error for failed checks, named for the first; every problem is in it.
    pub fn from_problems(problems: Vec<Problem>) -> Self {
        let first = problems.first().map(|p| p.failure);
        let errors = problems.into_iter().map(|p| p.error).collect();
        match first {
            Some(Failure::CampaignNotFound) | None => Error::CampaignNotFound(errors),
            Some(Failure::CampaignNotActive) => Error::CampaignNotActive(errors),
            Some(Failure::LambdaNotFound) => Error::LambdaNotFound(errors),
            Some(Failure::LambdaNotInvokable) => Error::LambdaNotInvokable(errors),
            Some(Failure::RoleNotFound) => Error::RoleNotFound(errors),
            Some(Failure::RoleNotTrusted) => Error::RoleNotTrusted(errors),
            Some(Failure::RoleNotOwned) => Error::RoleNotOwned(errors),
        }
    }

    /// The field problems this error reports in `status.validationErrors`: the spec's, or what
    /// the checks before publishing found.
    pub fn field_errors(&self) -> Option<&[FieldError]> {
        match self {
            Error::InvalidSpec(e)
            | Error::CampaignNotFound(e)
            | Error::CampaignNotActive(e)
            | Error::LambdaNotFound(e)
            | Error::LambdaNotInvokable(e)
            | Error::RoleNotFound(e)
            | Error::RoleNotTrusted(e)
            | Error::RoleNotOwned(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AwsError> for Error {
    fn from(e: AwsError) -> Self {
        let message = e.message.to_lowercase();
        match e.kind {
            AwsErrorKind::Rejected
                if e.operation == "CreateRecommenderConfiguration"
                    && (message.contains("limit") || message.contains("quota")) =>
            {
                Error::QuotaExceeded(e)
            }
            AwsErrorKind::Rejected | AwsErrorKind::NotFound => Error::Rejected(e),
            AwsErrorKind::AccessDenied => Error::AccessDenied(e),
            AwsErrorKind::Throttled => Error::Throttled(e),
            AwsErrorKind::Unavailable if e.service == PINPOINT => Error::PinpointUnavailable(e),
            AwsErrorKind::Unavailable => Error::AwsUnavailable(e),
        }
    }
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a pass did or found, for an event (or only the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
    /// Published as a Kubernetes Event; otherwise only logged.
    pub event: bool,
}

impl Note {
    fn normal(reason: &'static str, message: String) -> Self {
        Self {
            warning: false,
            reason,
            message,
            event: true,
        }
    }

    fn warning(reason: &'static str, message: String) -> Self {
        Self {
            warning: true,
            ..Self::normal(reason, message)
        }
    }

    /// The routine outcome of a new model: logged, not an Event, so that a new model costs the
    /// API server no write beyond the finalizer and the status; the status says the same.
    fn logged(reason: &'static str, message: String) -> Self {
        Self {
            event: false,
            ..Self::normal(reason, message)
        }
    }
}

/// What one pass of `sync` decided: the status to record, the events to publish, and whether it
/// ended well.
#[derive(Debug)]
pub struct Sync {
    pub status: RecommenderModelStatus,
    pub notes: Vec<Note>,
    pub result: Result<(), Error>,
}

/// Brings Pinpoint in line with one model: validate, build the desired configuration, create or
/// update it, and compute the status that reports it. Writes nothing to Kubernetes.
pub async fn sync<P: Pinpoint>(model: &RecommenderModel, pinpoint: &P, now: Timestamp) -> Sync {
    let guards = Guards {
        claims: &|_| None,
        roles: &RolePolicy::default(),
        account: &AccountServices::unconfigured(),
    };
    sync_with(model, pinpoint, now, &guards).await
}

/// Which other object, if any, manages a configuration ID: `NAMESPACE/NAME`.
pub type Claims<'a> = &'a (dyn Fn(&str) -> Option<String> + std::marker::Sync);

/// What keeps models from stepping on each other and from publishing what cannot work: which
/// configurations other objects manage, which roles each namespace may use, and the account
/// whose campaign, function and role are checked (and where roles are created).
pub struct Guards<'a> {
    pub claims: Claims<'a>,
    pub roles: &'a RolePolicy,
    pub account: &'a AccountServices,
}

/// `sync`, with the guards.
pub async fn sync_with<P: Pinpoint>(
    model: &RecommenderModel,
    pinpoint: &P,
    now: Timestamp,
    guards: &Guards<'_>,
) -> Sync {
    let generation = model.metadata.generation;
    let current = model.status.clone().unwrap_or_default();
    let mut status = current.clone();
    status.observed_generation = generation;
    let mut notes = Vec::new();

    let result = publish(
        model,
        pinpoint,
        guards,
        current.observed_generation,
        &mut status,
        &mut notes,
    )
    .await;
    // An update while the spec stayed the same puts back a change made outside the operator.
    if current.observed_generation == generation {
        for note in notes.iter_mut().filter(|n| n.reason == "Updated") {
            note.reason = "DriftCorrected";
            note.warning = true;
            note.message = format!("changed outside the operator, put back: {}", note.message);
        }
    }
    let updates = match &result {
        Ok(()) => vec![
            ConditionUpdate::new(
                VALIDATED,
                true,
                reason::VALID,
                "the spec passed every check",
            ),
            published_condition(&current, generation, &status, &notes),
            ConditionUpdate::new(
                READY,
                true,
                reason::READY,
                "the recommender model is ready to use in messages",
            ),
        ],
        Err(e) if e.field_errors().is_some() => {
            let mut message = e.to_string();
            if status.configuration_id.is_some() {
                message.push_str(" (Pinpoint keeps the configuration published last)");
            }
            vec![
                ConditionUpdate::new(VALIDATED, false, e.reason(), e.to_string()),
                ConditionUpdate::new(
                    PUBLISHED,
                    false,
                    reason::NOT_VALIDATED,
                    if matches!(e, Error::InvalidSpec(_)) {
                        "not published: the spec is invalid"
                    } else {
                        "not published: a check before publishing failed"
                    },
                ),
                ConditionUpdate::new(READY, false, e.reason(), message),
            ]
        }
        Err(e) => vec![
            ConditionUpdate::new(
                VALIDATED,
                true,
                reason::VALID,
                "the spec passed every check",
            ),
            ConditionUpdate::new(PUBLISHED, false, e.reason(), e.to_string()),
            ConditionUpdate::new(READY, false, e.reason(), e.to_string()),
        ],
    };
    status.conditions = set_conditions(&current.conditions, &updates, generation, now);

    if let Err(e) = &result {
        // Warn once per distinct problem, not on every retry.
        let previous = crate::status::find(&current.conditions, READY);
        let repeated = previous
            .is_some_and(|c| c.reason == e.reason() && c.message == e.to_string())
            && current.observed_generation == generation;
        if !repeated {
            notes.push(Note::warning(e.reason(), e.to_string()));
        }
    }
    Sync {
        status,
        notes,
        result,
    }
}

/// Published=True, with the reason of what this pass did: drift put back or a configuration
/// recreated say so until the next change; a pass that changed nothing keeps the condition as it
/// was, so it costs no status write.
fn published_condition(
    current: &RecommenderModelStatus,
    generation: Option<i64>,
    status: &RecommenderModelStatus,
    notes: &[Note],
) -> ConditionUpdate {
    let previous = crate::status::find(&current.conditions, PUBLISHED);
    if let Some(note) = notes
        .iter()
        .find(|n| matches!(n.reason, "DriftCorrected" | "Recreated"))
    {
        return ConditionUpdate::new(PUBLISHED, true, note.reason, note.message.clone());
    }
    if notes.is_empty()
        && current.observed_generation == generation
        && let Some(p) = previous.filter(|p| p.status == "True")
    {
        return ConditionUpdate::new(PUBLISHED, true, &p.reason, p.message.clone());
    }
    ConditionUpdate::new(
        PUBLISHED,
        true,
        reason::PUBLISHED,
        format!(
            "recommender configuration {} is published in {}",
            status.configuration_id.as_deref().unwrap_or_default(),
            status.region.as_deref().unwrap_or_default()
        ),
    )
}

/// The pipeline: validate, resolve the role (creating it if asked), build the desired
/// configuration, check the account before publishing, and create or update.
async fn publish<P: Pinpoint>(
    model: &RecommenderModel,
    pinpoint: &P,
    guards: &Guards<'_>,
    known_generation: Option<i64>,
    status: &mut RecommenderModelStatus,
    notes: &mut Vec<Note>,
) -> Result<(), Error> {
    let spec = &model.spec;
    let object_name = model.name_any();
    status.validation_errors = validate(spec, &object_name);
    if !status.validation_errors.is_empty() {
        return Err(Error::InvalidSpec(status.validation_errors.clone()));
    }
    let namespace = model.namespace().unwrap_or_default();
    let owner = role::owner(&namespace, &object_name);
    let aws = guards.account;
    let role_arn = match (&spec.role.arn, &spec.role.create) {
        (Some(arn), _) => arn.clone(),
        (None, Some(create)) => {
            let expected =
                role::expected_arn(&spec.campaign_arn, &aws.settings.role_path, &create.name);
            // Asked before the role is made, so a namespace cannot make roles it may not use.
            allowed(guards.roles, &namespace, &expected)?;
            // Made or checked on an earlier pass of this generation: IAM is not asked again.
            let known = status.role_arn.clone().filter(|arn| {
                known_generation == model.metadata.generation
                    && role::name_of(arn) == create.name
                    && status.created_role_arns.contains(arn)
            });
            if let Some(arn) = known {
                arn
            } else {
                match role::ensure(aws, &owner, &create.name, &spec.campaign_arn).await? {
                    Ok((arn, created)) => {
                        // Recorded at once, so no later failure can orphan it.
                        if !status.created_role_arns.contains(&arn) {
                            status.created_role_arns.push(arn.clone());
                        }
                        if created {
                            notes.push(Note::normal(
                                "RoleCreated",
                                format!("created IAM role {arn} for Pinpoint"),
                            ));
                        }
                        arn
                    }
                    Err(problem) => return Err(failed_checks(vec![problem], status)),
                }
            }
        }
        (None, None) => return Err(Error::InvalidSpec(status.validation_errors.clone())),
    };
    let role_arn = role_arn.as_str();
    allowed(guards.roles, &namespace, role_arn)?;
    let claims = guards.claims;
    // Validation guarantees a campaign ARN with a Region.
    let region = arn_region(&spec.campaign_arn)
        .unwrap_or_default()
        .to_owned();
    let desired = desired_configuration(spec, &object_name, role_arn);
    status.role_arn = Some(role_arn.to_owned());

    // A new campaign Region means a new home: Pinpoint configurations are regional.
    let mut moved = false;
    if let (Some(id), Some(old_region)) = (&status.configuration_id, &status.region)
        && *old_region != region
    {
        moved = true;
        pinpoint.delete(old_region, id).await?;
        notes.push(Note::normal(
            "Moved",
            format!("deleted configuration {id} in {old_region}: the campaign is now in {region}"),
        ));
        status.configuration_id = None;
    }

    if status.configuration_id.is_none()
        && let Some(id) = model.annotations().get(ADOPT_CONFIGURATION_ID)
    {
        if let Some(owner) = claims(id) {
            return Err(Error::ConfigurationInUse(format!(
                "configuration {id} is managed by {owner}; two models cannot manage one configuration"
            )));
        }
        if pinpoint.get(&region, id).await?.is_none() {
            return Err(Error::ConfigurationNotFound(format!(
                "the annotation {ADOPT_CONFIGURATION_ID} names configuration {id}, which does not exist in {region}"
            )));
        }
        notes.push(Note::normal(
            "Adopted",
            format!("took over configuration {id}"),
        ));
        status.configuration_id = Some(id.clone());
        status.region = Some(region.clone());
    }

    let last_seen = status.last_modified_date.clone();
    let last_seen = last_seen.as_deref();
    let published = match status.configuration_id.clone() {
        Some(id) => match pinpoint.get(&region, &id).await? {
            Some(actual) if actual.config == desired => actual,
            Some(actual) => {
                check_account(model, guards, status).await?;
                let changed = differences(&desired, &actual.config).join(", ");
                match pinpoint.update(&region, &id, &desired).await {
                    Ok(p) => {
                        notes.push(Note::normal(
                            "Updated",
                            format!("updated configuration {id}: {changed}"),
                        ));
                        p
                    }
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        recreate(pinpoint, claims, &region, &id, last_seen, &desired, notes).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                check_account(model, guards, status).await?;
                recreate(pinpoint, claims, &region, &id, last_seen, &desired, notes).await?
            }
        },
        None => {
            check_account(model, guards, status).await?;
            let since = model
                .annotations()
                .get(CREATE_REQUESTED_AT)
                .and_then(|t| t.parse::<Timestamp>().ok())
                // The Create of a move cut in half (old deleted, new never recorded) may have
                // happened too: the status still names the old Region.
                .or_else(|| {
                    moved
                        .then(|| model.metadata.creation_timestamp.as_ref().map(|t| t.0))
                        .flatten()
                });
            match create_once(pinpoint, claims, &region, &desired, since).await? {
                (p, false) => {
                    notes.push(Note::logged(
                        "Created",
                        format!("created configuration {} in {region}", p.id),
                    ));
                    p
                }
                (p, true) => {
                    notes.push(Note::normal("Adopted", adopted_message(&p.id)));
                    p
                }
            }
        }
    };
    record(status, &region, published);
    retire_created_role(model, aws, &owner, status, notes).await
}

/// The error for an `--allowed-roles` rule that does not let the namespace use the role.
fn allowed(roles: &RolePolicy, namespace: &str, role_arn: &str) -> Result<(), Error> {
    if roles.allows(namespace, role_arn) {
        Ok(())
    } else {
        Err(Error::RoleNotAllowed(format!(
            "namespace {namespace} may not use role {role_arn}: the operator's --allowed-roles rules do not match it"
        )))
    }
}

/// Records the problems in the status and names the error for them.
fn failed_checks(problems: Vec<Problem>, status: &mut RecommenderModelStatus) -> Error {
    let error = Error::from_problems(problems);
    status.validation_errors = error.field_errors().unwrap_or_default().to_vec();
    error
}

/// The console's checks on Publish (unless turned off): the campaign, the function and a role
/// the user named.
async fn check_account(
    model: &RecommenderModel,
    guards: &Guards<'_>,
    status: &mut RecommenderModelStatus,
) -> Result<(), Error> {
    let aws = guards.account;
    if !aws.settings.checks {
        return Ok(());
    }
    let problems = checks::check(
        aws.client.as_ref(),
        &aws.passed,
        &model.spec,
        model.spec.role.arn.as_deref(),
    )
    .await?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(failed_checks(problems, status))
    }
}

/// Once the configuration is published with the role in use, the roles the operator created
/// earlier for this model and no longer uses (the spec switched roles) are deleted under
/// `Delete` (kept under `Retain`).
async fn retire_created_role(
    model: &RecommenderModel,
    aws: &AccountServices,
    owner: &str,
    status: &mut RecommenderModelStatus,
    notes: &mut Vec<Note>,
) -> Result<(), Error> {
    if model.spec.deletion_policy == DeletionPolicy::Retain {
        return Ok(());
    }
    let unused: Vec<String> = status
        .created_role_arns
        .iter()
        .filter(|arn| Some(*arn) != status.role_arn.as_ref())
        .cloned()
        .collect();
    for arn in unused {
        notes.extend(delete_role_note(aws, owner, &arn).await?);
        status.created_role_arns.retain(|a| *a != arn);
    }
    Ok(())
}

/// Deletes a role the operator created, and says what happened.
async fn delete_role_note(
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

async fn recreate<P: Pinpoint>(
    pinpoint: &P,
    claims: Claims<'_>,
    region: &str,
    old_id: &str,
    last_seen: Option<&str>,
    desired: &crate::desired::RecommenderConfig,
    notes: &mut Vec<Note>,
) -> Result<Published, Error> {
    let since = last_seen.and_then(|t| t.parse::<Timestamp>().ok());
    let (p, adopted) = create_once(pinpoint, claims, region, desired, since).await?;
    let message = if adopted {
        format!(
            "configuration {old_id} was deleted outside the operator; {}",
            adopted_message(&p.id)
        )
    } else {
        format!(
            "configuration {old_id} was deleted outside the operator; created {} in its place",
            p.id
        )
    };
    notes.push(Note::warning("Recreated", message));
    Ok(p)
}

fn adopted_message(id: &str) -> String {
    format!(
        "adopted configuration {id}: an earlier Create made it, but its result was never recorded"
    )
}

/// How far Pinpoint's clock may be behind ours when matching an unrecorded Create by time.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(120);

/// Creates the configuration, unless an earlier attempt already did. Create is not idempotent
/// (Pinpoint has no client token), so when a Create may have been sent before without its result
/// being recorded (the operator died, or the connection dropped), `since` says from when, and
/// the configuration that attempt made (see `find_unrecorded`) is adopted instead of making a
/// second one. Returns whether it adopted.
async fn create_once<P: Pinpoint>(
    pinpoint: &P,
    claims: Claims<'_>,
    region: &str,
    desired: &crate::desired::RecommenderConfig,
    since: Option<Timestamp>,
) -> Result<(Published, bool), Error> {
    if let Some(since) = since
        && let Some(earlier) =
            find_unrecorded(pinpoint, claims, region, &desired.name, Some(desired), since).await?
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
async fn find_unrecorded<P: Pinpoint>(
    pinpoint: &P,
    claims: Claims<'_>,
    region: &str,
    name: &str,
    desired: Option<&crate::desired::RecommenderConfig>,
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

fn record(status: &mut RecommenderModelStatus, region: &str, published: Published) {
    status.configuration_id = Some(published.id);
    status.name = Some(published.config.name);
    status.region = Some(region.to_owned());
    status.creation_date = Some(published.creation_date).filter(|d| !d.is_empty());
    status.last_modified_date = Some(published.last_modified_date).filter(|d| !d.is_empty());
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
        let spec_region = arn_region(&campaign).map(str::to_owned);
        let recorded = text(status, "/configurationId").and_then(|id| {
            let region = text(status, "/region").or_else(|| spec_region.clone())?;
            Some((region, id))
        });
        let since = metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CREATE_REQUESTED_AT))
            .and_then(|t| t.parse::<Timestamp>().ok())
            .or_else(|| metadata.creation_timestamp.as_ref().map(|t| t.0));
        let unrecorded = match (spec_region, since) {
            (Some(region), Some(since))
                if recorded.as_ref().is_none_or(|(r, _)| *r != region) =>
            {
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
pub async fn delete_leftovers<P: Pinpoint>(
    leftovers: &Leftovers,
    pinpoint: &P,
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
        && leftovers.recorded.as_ref().is_none_or(|(_, id)| *id != found.id)
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
    delete_roles(
        &Leftovers::of(model, &account.settings.role_path),
        account,
    )
    .await
}

async fn delete_roles(leftovers: &Leftovers, account: &AccountServices) -> Result<Vec<Note>, Error> {
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
async fn delete_recorded<P: Pinpoint>(
    retain: bool,
    region: &str,
    id: &str,
    pinpoint: &P,
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
pub async fn delete_configuration<P: Pinpoint>(
    model: &RecommenderModel,
    pinpoint: &P,
) -> Result<Note, Error> {
    match Leftovers::of(model, "/").recorded {
        Some((region, id)) => delete_recorded(
            model.spec.deletion_policy == DeletionPolicy::Retain,
            &region,
            &id,
            pinpoint,
        )
        .await,
        None => Ok(Note::normal(
            "Deleted",
            "nothing was published; nothing to delete".to_owned(),
        )),
    }
}

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
pub struct Context<P> {
    pub client: Client,
    pub pinpoint: P,
    /// IAM, Personalize and Lambda: roles made for models, and the checks before publishing.
    pub account: AccountServices,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Consecutive failures per object, for exponential backoff.
    failures: Mutex<HashMap<ObjectRef<CachedModel>, u32>>,
    /// Every watched object, to tell which configuration another object already manages.
    objects: std::sync::OnceLock<reflector::Store<CachedModel>>,
    /// Objects whose create marker this process wrote and whose first Create it has not tried
    /// yet: nothing can have been created for them, so that attempt needs no look-up first.
    fresh: Mutex<std::collections::HashSet<String>>,
    /// Configurations this process created whose ID is not yet in the object's status (the
    /// status write failed): reused instead of creating a second one. Keyed by object UID.
    unrecorded: Mutex<HashMap<String, (String, String)>>,
}

impl<P: Pinpoint> Context<P> {
    pub fn new(
        client: Client,
        pinpoint: P,
        account: AccountServices,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let recorder = Recorder::new(client.clone(), Reporter::from(MANAGER));
        Self {
            client,
            pinpoint,
            account,
            recorder,
            metrics,
            settings,
            failures: Mutex::default(),
            fresh: Mutex::default(),
            objects: std::sync::OnceLock::new(),
            unrecorded: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which watched object other than `uid` manages a configuration ID.
fn claims_except<'a>(
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

async fn reconcile<P: Pinpoint>(
    object: Arc<CachedModel>,
    ctx: Arc<Context<P>>,
) -> Result<Action, Error> {
    // Objects are cached as raw JSON, so one that this version cannot read (written under an
    // older schema, say) is reported on itself instead of stopping the watch for all.
    let model = match object.decode() {
        Ok(model) => Arc::new(model),
        Err(problem) => return unreadable(&object, problem, &ctx).await,
    };
    reconcile_model(model, ctx).await
}

async fn reconcile_model<P: Pinpoint>(
    model: Arc<RecommenderModel>,
    ctx: Arc<Context<P>>,
) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_timer();
    let namespace = model.namespace().unwrap_or_default();
    let api: Api<RecommenderModel> = Api::namespaced(ctx.client.clone(), &namespace);
    // Our own writes answer with the whole object; read back in the cached form, which skips
    // the managed fields instead of parsing them.
    let writes: Api<CachedModel> = Api::namespaced(ctx.client.clone(), &namespace);
    if model.metadata.deletion_timestamp.is_none()
        && !model.finalizers().iter().any(|f| f == FINALIZER)
    {
        // First sight: the finalizer and the create marker in one write, before any Create.
        if add_finalizer(&writes, &model).await? {
            lock(&ctx.fresh).insert(model.uid().unwrap_or_default());
        }
        return Ok(Action::await_change());
    }
    finalizer(&api, FINALIZER, model, |event| async {
        match event {
            FinalizerEvent::Apply(model) => apply(&model, &writes, &ctx).await,
            FinalizerEvent::Cleanup(model) => cleanup(&model, &writes, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => e,
        FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => {
            Error::KubernetesError(e)
        }
        other => Error::FinalizerError(other.to_string()),
    })
}

async fn apply<P: Pinpoint>(
    model: &RecommenderModel,
    api: &Api<CachedModel>,
    ctx: &Context<P>,
) -> Result<Action, Error> {
    let uid = model.uid().unwrap_or_default();
    let mut model = model.clone();
    let has_id = model
        .status
        .as_ref()
        .is_some_and(|s| s.configuration_id.is_some());
    if !has_id && let Some((region, id)) = lock(&ctx.unrecorded).get(&uid).cloned() {
        let status = model.status.get_or_insert_with(Default::default);
        status.configuration_id = Some(id);
        status.region = Some(region);
    }
    let fresh = lock(&ctx.fresh).remove(&uid);
    if fresh {
        // This process saw the object arrive (or wrote its marker) and no Create with an unknown
        // outcome followed: nothing can exist for this object yet, so skip the look-up.
        model.annotations_mut().remove(CREATE_REQUESTED_AT);
    } else if !has_id && !model.annotations().contains_key(CREATE_REQUESTED_AT) {
        // The finalizer came with the object (the admission policy), so no marker was written:
        // another process may have sent a Create at any time since the object was created.
        if let Some(created) = &model.metadata.creation_timestamp {
            let created = created.0.to_string();
            model
                .annotations_mut()
                .insert(CREATE_REQUESTED_AT.to_owned(), created);
        }
    }

    let claims = claims_except(ctx.objects.get(), &uid);
    let guards = Guards {
        claims: &claims,
        roles: &ctx.settings.allowed_roles,
        account: &ctx.account,
    };
    let outcome = sync_with(&model, &ctx.pinpoint, Timestamp::now(), &guards).await;
    // A refused Create (throttled, rejected, denied, over quota) made nothing; only an unknown
    // outcome (5xx, timeout, broken connection) may have, and needs the look-up next time.
    let outcome_unknown = matches!(
        outcome.result,
        Err(Error::PinpointUnavailable(_) | Error::KubernetesError(_))
    );
    if fresh && outcome.status.configuration_id.is_none() && !outcome_unknown {
        lock(&ctx.fresh).insert(uid.clone());
    }
    publish_notes(&model, &outcome.notes, ctx).await;
    if outcome.status.configuration_id.is_some() && !has_id {
        let entry = (
            outcome.status.region.clone().unwrap_or_default(),
            outcome.status.configuration_id.clone().unwrap_or_default(),
        );
        lock(&ctx.unrecorded).insert(uid.clone(), entry);
    }
    if model.status.as_ref() != Some(&outcome.status) {
        patch_status(api, &model.name_any(), &outcome.status).await?;
    }
    lock(&ctx.unrecorded).remove(&uid);
    ctx.metrics.observe_ready(&model, &outcome.status);

    match outcome.result {
        Ok(()) => Ok(Action::requeue(ctx.settings.resync)),
        Err(e) if e.waits_for_change() => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}

async fn cleanup<P: Pinpoint>(
    model: &RecommenderModel,
    api: &Api<CachedModel>,
    ctx: &Context<P>,
) -> Result<Action, Error> {
    let uid = model.uid().unwrap_or_default();
    let mut leftovers = Leftovers::of(model, &ctx.account.settings.role_path);
    if leftovers.recorded.is_none() {
        leftovers.recorded = lock(&ctx.unrecorded).get(&uid).cloned();
    }
    if lock(&ctx.fresh).contains(&uid) {
        // Seen arriving by this process, which has sent it no Create.
        leftovers.unrecorded = None;
    }
    let claims = claims_except(ctx.objects.get(), &uid);
    let deleted = delete_leftovers(&leftovers, &ctx.pinpoint, &ctx.account, &claims);
    match deleted.await {
        Ok(notes) => {
            publish_notes(model, &notes, ctx).await;
            // Deleted before its first Create was tried: the entry would outlive the object.
            lock(&ctx.fresh).remove(&uid);
            lock(&ctx.unrecorded).remove(&uid);
            ctx.metrics.forget(model);
            Ok(Action::await_change())
        }
        Err(e) => {
            // Say why deletion is held up; the finalizer stays until Pinpoint answers.
            let mut status = model.status.clone().unwrap_or_default();
            let update =
                ConditionUpdate::new(READY, false, e.reason(), format!("deleting failed: {e}"));
            status.conditions = set_conditions(
                &status.conditions,
                &[update],
                model.metadata.generation,
                Timestamp::now(),
            );
            if model.status.as_ref() != Some(&status) {
                patch_status(api, &model.name_any(), &status).await?;
            }
            publish_notes(
                model,
                &[Note::warning(e.reason(), format!("deleting failed: {e}"))],
                ctx,
            )
            .await;
            Err(e)
        }
    }
}

/// An object this version cannot read: say so on it (once), publish nothing, and still let it
/// be deleted, reading just the few fields deletion needs from the raw object.
async fn unreadable<P: Pinpoint>(
    object: &CachedModel,
    problem: String,
    ctx: &Context<P>,
) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    // The cached form: the answers to these patches do not decode as a model either.
    let api: Api<CachedModel> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = object.name_any();
    let spec = object.spec_value().unwrap_or_default();
    let status = object.status_value().unwrap_or_default();
    let reference = object.object_ref(&());

    if object.metadata.deletion_timestamp.is_some() {
        if !object.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        let leftovers = Leftovers::read(
            &object.metadata,
            &spec,
            &status,
            &ctx.account.settings.role_path,
        );
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let claims = claims_except(ctx.objects.get(), &uid);
        let notes = delete_leftovers(&leftovers, &ctx.pinpoint, &ctx.account, &claims).await?;
        for note in &notes {
            log_note(&name, note);
            publish_event(&reference, note, ctx).await;
        }
        let finalizers: Vec<&String> = object
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .collect();
        let patch = json!({ "metadata": { "resourceVersion": object.resource_version(), "finalizers": finalizers } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(Error::KubernetesError)?;
        return Ok(Action::await_change());
    }

    let error = Error::Unreadable(problem);
    let message = error.to_string();
    let ready = status
        .get("conditions")
        .and_then(|c| c.as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(READY))
        });
    let already_said = ready.is_some_and(|c| {
        c.get("reason").and_then(|r| r.as_str()) == Some(error.reason())
            && c.get("message").and_then(|m| m.as_str()) == Some(message.as_str())
    });
    if !already_said {
        let now = Timestamp::now().to_string();
        let condition = |type_: &str| {
            json!({
                "type": type_, "status": "False", "reason": error.reason(), "message": message,
                "observedGeneration": object.metadata.generation, "lastTransitionTime": now,
            })
        };
        // A merge patch: it leaves the rest of the status (the configuration ID) alone.
        let patch = json!({ "status": {
            "observedGeneration": object.metadata.generation,
            "conditions": [condition(VALIDATED), condition(READY)],
        }});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(Error::KubernetesError)?;
        publish_event(&reference, &Note::warning(error.reason(), message), ctx).await;
    }
    warn!(object = %name, error = %error, "cannot read the object; waiting for it to change");
    Ok(Action::await_change())
}

/// Marks an unpublished object as fresh when it first appears after the initial list: it was
/// created while this process watched, so no other process can have sent a Create for it. (One
/// first seen in a list may have been handled by a previous process, and gets the look-up; so
/// does one that already carries another process's create marker.)
fn note_arrival(
    event: &watcher::Event<CachedModel>,
    seen: &reflector::Store<CachedModel>,
    fresh: &Mutex<std::collections::HashSet<String>>,
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
        lock(fresh).insert(uid.clone());
    }
}

/// Adds the finalizer and, for an object not yet published, the create marker (then returns
/// true). Conditional on the resourceVersion, so a concurrent change makes it fail and retry
/// instead of losing either.
async fn add_finalizer(api: &Api<CachedModel>, model: &RecommenderModel) -> Result<bool, Error> {
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

async fn patch_status(
    api: &Api<CachedModel>,
    name: &str,
    status: &RecommenderModelStatus,
) -> Result<(), Error> {
    let patch = json!({
        "apiVersion": RecommenderModel::api_version(&()),
        "kind": RecommenderModel::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::KubernetesError)?;
    Ok(())
}

async fn publish_notes<P: Pinpoint>(model: &RecommenderModel, notes: &[Note], ctx: &Context<P>) {
    let reference = model.object_ref(&());
    let name = model.name_any();
    for note in notes {
        log_note(&name, note);
        if note.event {
            publish_event(&reference, note, ctx).await;
        }
    }
}

/// Every note is logged, evented or not: what was deleted or kept is in the log too.
fn log_note(object: &str, note: &Note) {
    if note.warning {
        warn!(object, reason = note.reason, "{}", note.message);
    } else {
        info!(object, reason = note.reason, "{}", note.message);
    }
}

async fn publish_event<P: Pinpoint>(
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    note: &Note,
    ctx: &Context<P>,
) {
    let event = KubeEvent {
        type_: if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: note.reason.to_owned(),
        note: Some(note.message.chars().take(1000).collect()),
        action: note.reason.to_owned(),
        secondary: None,
    };
    // Events are best effort: a lost event must not fail the reconcile.
    if let Err(e) = ctx.recorder.publish(&event, reference).await {
        warn!(error = %e, reason = note.reason, "could not publish event");
    }
}

fn error_policy<P: Pinpoint>(
    model: Arc<CachedModel>,
    error: &Error,
    ctx: Arc<Context<P>>,
) -> Action {
    let key = ObjectRef::from_obj(&*model);
    let attempt = {
        let mut failures = lock(&ctx.failures);
        let n = failures.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    ctx.metrics.reconcile_failure(error.reason());
    // Throttling passes quickly, and the client-side rate limit already spaces calls out: retry
    // it within half a minute rather than letting the backoff grow to minutes.
    let cap = match error {
        Error::Throttled(_) => Duration::from_secs(30),
        _ => Duration::from_secs(300),
    };
    let delay = backoff(attempt, cap);
    warn!(error = %error, reason = error.reason(), attempt, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Exponential backoff from 1 s up to `cap`, with ±20% jitter so retries of many objects spread
/// out.
pub fn backoff(attempt: u32, cap: Duration) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(1 << attempt.saturating_sub(1).min(9));
    let capped = base.min(cap);
    capped.mul_f64(rand::random_range(0.8..1.2))
}

/// Reconcile only when something the reconciler acts on changed: the spec (generation), the
/// deletion mark, or the finalizers. Our own status writes do not come back as work.
fn relevant_change(model: &CachedModel) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    model.metadata.generation.hash(&mut hasher);
    model
        .metadata
        .deletion_timestamp
        .is_some()
        .hash(&mut hasher);
    model.metadata.finalizers.hash(&mut hasher);
    Some(hasher.finish())
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run<P: Pinpoint>(ctx: Arc<Context<P>>) -> anyhow::Result<()> {
    let api: Api<CachedModel> = match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    // Fail fast with a clear message when the CRD is missing or RBAC forbids listing.
    api.list(&kube::api::ListParams::default().limit(1)).await.map_err(|e| {
        anyhow::anyhow!("cannot list RecommenderModels ({e}); is the CRD installed (kubectl apply -f crds/) and may the operator list them?")
    })?;
    ctx.metrics.set_ready(true);

    let writer = reflector::store::Writer::default();
    let reader = writer.as_reader();
    let _ = ctx.objects.set(reader.clone());
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_ok({
            let (reader, ctx) = (reader.clone(), ctx.clone());
            move |event| note_arrival(event, &reader, &ctx.fresh)
        })
        .reflect(writer)
        .applied_objects()
        .predicate_filter(relevant_change, PredicateConfig::default());
    let config = ControllerConfig::default().concurrency(ctx.settings.concurrency);
    info!(namespace = ?ctx.settings.namespace, concurrency = ctx.settings.concurrency, "controller started");
    Controller::for_stream_with(stream, reader, ())
        .with_config(config)
        .shutdown_on_signal()
        .run(
            move |model, ctx: Arc<Context<P>>| {
                let key = ObjectRef::from_obj(&*model);
                let span = info_span!("reconcile", object = %key, reason = field::Empty);
                async move {
                    let result = reconcile(model, ctx.clone()).await;
                    match &result {
                        Ok(_) => {
                            lock(&ctx.failures).remove(&key);
                            ctx.metrics.reconcile_success();
                        }
                        Err(e) => {
                            tracing::Span::current().record("reason", e.reason());
                        }
                    }
                    result
                }
                .instrument(span)
            },
            error_policy,
            ctx.clone(),
        )
        .for_each(|result| {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile failed"),
            }
            futures::future::ready(())
        })
        .await;
    info!("controller stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let cap = Duration::from_secs(300);
        for (attempt, base) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (9, 256.0),
            (10, 300.0),
            (50, 300.0),
        ] {
            let d = backoff(attempt, cap).as_secs_f64();
            assert!(d >= base * 0.8 && d <= base * 1.2, "attempt {attempt}: {d}");
        }
        assert!(backoff(20, Duration::from_secs(30)) <= Duration::from_secs(36));
    }
}
