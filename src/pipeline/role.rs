//! The IAM role the operator creates for a model (`spec.role.create`, the console's
//! "Automatically create a role"): Pinpoint's trust policy, a least-privilege inline policy for
//! the model's campaign, and a tag that says which model it belongs to, so the operator never
//! takes over or deletes a role it did not make.

use std::collections::BTreeMap;

use crate::{
    aws::AwsError,
    aws::account::NewRole,
    domain::{
        arn::{partition_and_account, region_of, role_name},
        policies,
    },
    pipeline::checks::{Failure, Problem},
    pipeline::services::AccountServices,
};

/// Tag on every role the operator creates: `NAMESPACE/NAME` of the model it serves.
pub const OWNER_TAG: &str = "pinpoint.recommenders.dev/owner";
/// The inline policy holding the campaign permissions.
pub const POLICY_NAME: &str = "recommender-operator-personalize";
const FIELD: &str = "spec.role.create.name";

/// The value of the owner tag for a model: every path that creates, keeps or deletes a role
/// compares against this one spelling.
pub fn owner(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The ARN the role will have: in the campaign's account (the Pinpoint project's), under the
/// operator's role path.
pub fn expected_arn(campaign_arn: &str, path: &str, name: &str) -> String {
    let (partition, account) = partition_and_account(campaign_arn);
    format!("arn:{partition}:iam::{account}:role{path}{name}")
}

/// Creates the role, or brings the one it created before up to date; returns its ARN and
/// whether it was made now, or the problem that stops it. Idempotent: safe to repeat after any
/// failure.
pub async fn ensure(
    aws: &AccountServices,
    owner: &str,
    name: &str,
    campaign_arn: &str,
) -> Result<Result<(String, bool), Problem>, AwsError> {
    let account = aws.client.as_ref();
    let region = region_of(campaign_arn).unwrap_or_default();
    // The permissions name the campaign's solution.
    let Some(campaign) = account.describe_campaign(region, campaign_arn).await? else {
        return Ok(Err(Problem::new(
            Failure::CampaignNotFound,
            "spec.campaignArn",
            format!(
                "campaign {campaign_arn} does not exist in {region}, or the operator may not see it: the role the operator creates names the campaign, so the campaign must exist first"
            ),
        )));
    };
    let (role, created) = match account.get_role(name).await? {
        Some(role) => (role, false),
        None => {
            let (partition, account_id) = partition_and_account(campaign_arn);
            let new = NewRole {
                name: name.to_owned(),
                path: aws.settings.role_path.clone(),
                trust_policy: policies::trust_policy(partition, account_id),
                description: format!(
                    "Lets Amazon Pinpoint get recommendations for {owner} (made by recommender-operator)"
                ),
                permissions_boundary: aws.settings.permissions_boundary.clone(),
                tags: BTreeMap::from([
                    (OWNER_TAG.to_owned(), owner.to_owned()),
                    (
                        "app.kubernetes.io/managed-by".to_owned(),
                        "recommender-operator".to_owned(),
                    ),
                ]),
            };
            match account.create_role(&new).await {
                Ok(role) => (role, true),
                // Made meanwhile (by an earlier attempt whose answer was lost, or by someone
                // else): look at whose it is.
                Err(e) if e.code == "EntityAlreadyExists" => match account.get_role(name).await? {
                    Some(role) => (role, false),
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    };
    if role.tags.get(OWNER_TAG).map(String::as_str) != Some(owner) {
        let whose = match role.tags.get(OWNER_TAG) {
            Some(other) => format!("the operator created it for {other}"),
            None => "the operator did not create it".to_owned(),
        };
        return Ok(Err(Problem::new(
            Failure::RoleNotOwned,
            FIELD,
            format!(
                "role {name} already exists and {whose}: choose another name, or use that role with spec.role.arn"
            ),
        )));
    }
    let solution = policies::solution_arn(campaign_arn, campaign.solution_version_arn.as_deref());
    account
        .put_role_policy(
            name,
            POLICY_NAME,
            &policies::permissions_policy(campaign_arn, &solution),
        )
        .await?;
    Ok(Ok((role.arn, created)))
}

/// What deleting a created role did, for the event.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    AlreadyGone,
    /// The role by that name is not the one recorded (another ARN), or no longer carries this
    /// model's tag: it is not the operator's to delete.
    NotOurs,
}

/// Deletes a role the operator created for `owner`, if it still is that model's.
pub async fn delete(aws: &AccountServices, owner: &str, arn: &str) -> Result<Deleted, AwsError> {
    let account = aws.client.as_ref();
    let name = role_name(arn);
    match account.get_role(name).await? {
        None => Ok(Deleted::AlreadyGone),
        Some(role)
            if role.arn != arn || role.tags.get(OWNER_TAG).map(String::as_str) != Some(owner) =>
        {
            Ok(Deleted::NotOurs)
        }
        Some(_) => Ok(if account.delete_role(name).await? {
            Deleted::Deleted
        } else {
            Deleted::AlreadyGone
        }),
    }
}
