//! The publish pipeline, with no Kubernetes in it: validate, resolve the role (creating it if
//! asked), build the desired configuration, run the console's checks, then create, update or
//! adopt, and compute the status and notes that report it. Deletion is `deletion`.

pub mod accounts;
pub mod checks;
pub mod deletion;
pub mod error;
pub mod role;
pub mod services;
pub mod unrecorded;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::{
    api::{ADOPT_CONFIGURATION_ID, DeletionPolicy, RecommenderModel, RecommenderModelStatus},
    aws::{
        AwsErrorKind,
        pinpoint::{Pinpoint, Published},
    },
    domain::{
        arn::{partition_and_account, region_of, role_name},
        conditions::{
            self, ConditionUpdate, PUBLISHED, READY, RECONCILING, STALLED, VALIDATED, reason,
            set_conditions,
        },
        desired::{RecommenderConfig, desired_configuration, differences},
        tenancy::Tenancy,
        validation::validate,
    },
    pipeline::{
        accounts::AccountRefusal,
        checks::Problem,
        deletion::delete_role_note,
        error::{Error, Note},
        services::AccountServices,
        unrecorded::{Claims, create_once, create_requested_at},
    },
};

/// What one pass of `sync` decided: the status to record, the events to publish, and whether it
/// ended well.
#[derive(Debug)]
pub struct Outcome {
    pub status: RecommenderModelStatus,
    pub notes: Vec<Note>,
    pub result: Result<(), Error>,
}

/// `sync` without guards: no other models, every role allowed, no account checks (tests, and
/// Pinpoint on its own).
pub async fn sync_unguarded(
    model: &RecommenderModel,
    pinpoint: &dyn Pinpoint,
    now: Timestamp,
) -> Outcome {
    let guards = Guards {
        claims: &|_| None,
        tenancy: &Tenancy::default(),
        account: &AccountServices::unconfigured(),
        target: Ok(None),
    };
    sync(model, pinpoint, now, &guards).await
}

/// What keeps models from stepping on each other and from publishing what cannot work: which
/// configurations other objects manage, which roles each namespace may use, and the account
/// whose campaign, function and role are checked (and where roles are created).
pub struct Guards<'a> {
    pub claims: Claims<'a>,
    pub tenancy: &'a Tenancy,
    pub account: &'a AccountServices,
    /// The account the namespace publishes into (`None`: the operator's own, not known), or why
    /// it cannot publish.
    pub target: Result<Option<String>, AccountRefusal>,
}

/// Brings Pinpoint in line with one model: validate, build the desired configuration, create or
/// update it, and compute the status that reports it. Writes nothing to Kubernetes.
pub async fn sync(
    model: &RecommenderModel,
    pinpoint: &dyn Pinpoint,
    now: Timestamp,
    guards: &Guards<'_>,
) -> Outcome {
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
            ConditionUpdate::new(RECONCILING, false, reason::READY, ""),
            ConditionUpdate::new(STALLED, false, reason::READY, ""),
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
            .into_iter()
            .chain(e.progress_conditions("publishing"))
            .collect()
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
        ]
        .into_iter()
        .chain(e.progress_conditions("publishing"))
        .collect(),
    };
    status.conditions = set_conditions(&current.conditions, &updates, generation, now);

    if let Err(e) = &result {
        // Warn once per distinct problem, not on every retry.
        let previous = conditions::find(&current.conditions, READY);
        let repeated = previous
            .is_some_and(|c| c.reason == e.reason() && c.message == e.to_string())
            && current.observed_generation == generation;
        if !repeated {
            notes.push(Note::warning(e.reason(), e.to_string()));
        }
    }
    Outcome {
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
    let previous = conditions::find(&current.conditions, PUBLISHED);
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
async fn publish(
    model: &RecommenderModel,
    pinpoint: &dyn Pinpoint,
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
    let account_id = guards.target.clone()?;
    if let Some(account) = &account_id {
        same_account(&spec.campaign_arn, account, &namespace)?;
    }
    status.account_id = account_id;
    let owner = role::owner(&namespace, &object_name);
    let aws = guards.account;
    let role_arn = match (&spec.role.arn, &spec.role.create) {
        (Some(arn), _) => arn.clone(),
        (None, Some(create)) => {
            let expected =
                role::expected_arn(&spec.campaign_arn, &aws.settings.role_path, &create.name);
            // Asked before the role is made, so a namespace cannot make roles it may not use.
            allowed(guards.tenancy, &namespace, &expected)?;
            // Made or checked on an earlier pass of this generation: IAM is not asked again.
            let known = status.role_arn.clone().filter(|arn| {
                known_generation == model.metadata.generation
                    && role_name(arn) == create.name
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
    allowed(guards.tenancy, &namespace, role_arn)?;
    let claims = guards.claims;
    // Validation guarantees a campaign ARN with a Region.
    let region = region_of(&spec.campaign_arn).unwrap_or_default().to_owned();
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
        if !guards.tenancy.allows_adoption(&namespace, id) {
            return Err(Error::AdoptionNotAllowed(format!(
                "namespace {namespace} may not adopt configuration {id}: the operator's tenancy settings (adoption) do not list it for this namespace; nothing was changed in Pinpoint"
            )));
        }
        // Read fresh: a list up to half a resync old may still hold one deleted since.
        let Some(found) = pinpoint.get_fresh(&region, id).await? else {
            return Err(Error::ConfigurationNotFound(format!(
                "the annotation {ADOPT_CONFIGURATION_ID} names configuration {id}, which does not exist in {region}"
            )));
        };
        // Whose configuration it was: what a team reviewing the event needs to recognise it.
        notes.push(Note::normal(
            "Adopted",
            format!(
                "took over configuration {id} ({:?}, created {}); deletionPolicy {:?} applies to it from now on",
                found.config.name,
                found.creation_date,
                spec.deletion_policy
            ),
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
            let since = create_requested_at(&model.metadata)
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
fn allowed(tenancy: &Tenancy, namespace: &str, role_arn: &str) -> Result<(), Error> {
    if tenancy.allows_role(namespace, role_arn) {
        Ok(())
    } else {
        Err(Error::RoleNotAllowed(format!(
            "namespace {namespace} may not use role {role_arn}: the operator's tenancy settings (allowedRoles) do not match it"
        )))
    }
}

/// Records the problems in the status and names the error for them.
/// A model publishes into its namespace's account only: a campaign of another account would need
/// that account's Pinpoint, and there the namespace has no binding.
fn same_account(campaign_arn: &str, account: &str, namespace: &str) -> Result<(), Error> {
    let (_, campaign_account) = partition_and_account(campaign_arn);
    if campaign_account == account {
        return Ok(());
    }
    Err(Error::AccountMismatch(format!(
        "spec.campaignArn is in account {campaign_account}, but models in namespace {namespace} publish into account {account} (the operator's account binding for the namespace); use a campaign of account {account}, or ask for the namespace to be bound to account {campaign_account}"
    )))
}

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

async fn recreate(
    pinpoint: &dyn Pinpoint,
    claims: Claims<'_>,
    region: &str,
    old_id: &str,
    last_seen: Option<&str>,
    desired: &RecommenderConfig,
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

fn record(status: &mut RecommenderModelStatus, region: &str, published: Published) {
    status.configuration_id = Some(published.id);
    status.name = Some(published.config.name);
    status.region = Some(region.to_owned());
    status.creation_date = Some(published.creation_date).filter(|d| !d.is_empty());
    status.last_modified_date = Some(published.last_modified_date).filter(|d| !d.is_empty());
}
