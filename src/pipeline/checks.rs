//! The checks the console makes on Publish, made before each Create or Update: the campaign
//! exists and is ACTIVE in the model's Region, the Lambda function exists there and Pinpoint may
//! invoke it, and the role exists and trusts Pinpoint. Every failure is one `Problem` naming the
//! field to fix.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{
    api::{FieldError, RecommenderModelSpec},
    aws::account::Account,
    aws::{AwsError, AwsErrorKind},
    domain::{
        arn::{partition_and_account, region_of, role_name},
        policies,
    },
    lock::lock,
};

/// What a failed check found; each is one condition reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    CampaignNotFound,
    CampaignNotActive,
    LambdaNotFound,
    LambdaNotInvokable,
    RoleNotFound,
    RoleNotTrusted,
    /// A role named in `spec.role.create` exists, and the operator did not create it for this
    /// model.
    RoleNotOwned,
}

/// One failed check: which, and the field and message to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub failure: Failure,
    pub error: FieldError,
}

impl Problem {
    pub fn new(failure: Failure, field: &str, message: String) -> Self {
        Self {
            failure,
            error: FieldError {
                field: field.to_owned(),
                message,
            },
        }
    }
}

/// How long a passed check is trusted: many models share one campaign, function or role, and
/// one look a minute is enough to catch a typo. Failures are never remembered, so a fix is
/// seen on the next retry.
const PASSED_FOR: Duration = Duration::from_secs(60);

/// Checks that passed recently, by what they looked at.
#[derive(Default)]
pub struct Passed(Mutex<HashMap<String, Instant>>);

impl Passed {
    fn recently(&self, key: &str) -> bool {
        let passed = lock(&self.0);
        passed.get(key).is_some_and(|t| t.elapsed() < PASSED_FOR)
    }

    fn remember(&self, key: String) {
        let mut passed = lock(&self.0);
        passed.retain(|_, t| t.elapsed() < PASSED_FOR);
        passed.insert(key, Instant::now());
    }

    /// Runs `check` unless the check of `key` passed recently; remembers a pass.
    async fn unless_passed(
        &self,
        key: String,
        check: impl Future<Output = Result<Option<Problem>, AwsError>>,
    ) -> Result<Option<Problem>, AwsError> {
        if self.recently(&key) {
            return Ok(None);
        }
        let problem = check.await.map_err(explain)?;
        if problem.is_none() {
            self.remember(key);
        }
        Ok(problem)
    }
}

/// Adds what the operator can do about an access-denied answer.
fn explain(mut e: AwsError) -> AwsError {
    if e.kind == AwsErrorKind::AccessDenied {
        e.message.push_str(
            " (the operator checks the campaign, function and role before publishing: grant it the read permissions in deploy/iam/, or turn the checks off with --prepublish-checks=false)",
        );
    }
    e
}

/// Runs every check for `spec` and returns every problem found. `existing_role` is the role
/// ARN to check (`spec.role.arn`); a role the operator made is not checked again.
pub async fn check(
    account: &dyn Account,
    passed: &Passed,
    spec: &RecommenderModelSpec,
    existing_role: Option<&str>,
) -> Result<Vec<Problem>, AwsError> {
    let mut problems = Vec::new();
    if let Some(role_arn) = existing_role {
        let key = format!("role {role_arn}");
        problems.extend(
            passed
                .unless_passed(key, check_role(account, role_arn))
                .await?,
        );
    }
    let campaign = &spec.campaign_arn;
    let key = format!("campaign {campaign}");
    problems.extend(
        passed
            .unless_passed(key, check_campaign(account, campaign))
            .await?,
    );
    if let Some(lambda) = &spec.processing.lambda {
        let region = region_of(campaign).unwrap_or_default();
        let (_, account_id) = partition_and_account(campaign);
        let function = &lambda.function;
        let key = format!("function {region} {function}");
        let found = check_function(account, region, account_id, function);
        problems.extend(passed.unless_passed(key, found).await?);
    }
    Ok(problems)
}

async fn check_role(account: &dyn Account, role_arn: &str) -> Result<Option<Problem>, AwsError> {
    const FIELD: &str = "spec.role.arn";
    let name = role_name(role_arn);
    Ok(match account.get_role(name).await? {
        None => Some(Problem::new(
            Failure::RoleNotFound,
            FIELD,
            format!(
                "role {name} does not exist in the operator's AWS account: create it with a trust policy for {} (see deploy/iam/), or let the operator create one with spec.role.create",
                policies::PINPOINT_PRINCIPAL
            ),
        )),
        Some(role) if role.arn != role_arn => Some(Problem::new(
            Failure::RoleNotFound,
            FIELD,
            format!(
                "no role has the ARN {role_arn}; the role named {name} is {}: fix the ARN (account and path)",
                role.arn
            ),
        )),
        Some(role) if !policies::trusts_pinpoint(&role.trust_policy) => Some(Problem::new(
            Failure::RoleNotTrusted,
            FIELD,
            format!(
                "role {role_arn} does not trust Pinpoint: its trust policy must allow {} to call sts:AssumeRole (see deploy/iam/)",
                policies::PINPOINT_PRINCIPAL
            ),
        )),
        Some(_) => None,
    })
}

async fn check_campaign(
    account: &dyn Account,
    campaign_arn: &str,
) -> Result<Option<Problem>, AwsError> {
    const FIELD: &str = "spec.campaignArn";
    let region = region_of(campaign_arn).unwrap_or_default();
    Ok(
        match account.describe_campaign(region, campaign_arn).await? {
            None => Some(Problem::new(
                Failure::CampaignNotFound,
                FIELD,
                format!(
                    "campaign {campaign_arn} does not exist in {region}, or the operator may not see it: check the name, account and Region in the ARN"
                ),
            )),
            Some(c) if c.status != "ACTIVE" => Some(Problem::new(
                Failure::CampaignNotActive,
                FIELD,
                if c.status.contains("FAILED") {
                    format!(
                        "campaign {campaign_arn} is {}: Pinpoint can use only an ACTIVE campaign; fix or re-create it in Amazon Personalize",
                        c.status
                    )
                } else {
                    format!(
                        "campaign {campaign_arn} is {}, not ACTIVE: Pinpoint can use only an ACTIVE campaign; the model is published when it becomes ACTIVE",
                        c.status
                    )
                },
            )),
            Some(_) => None,
        },
    )
}

async fn check_function(
    account: &dyn Account,
    region: &str,
    account_id: &str,
    function: &str,
) -> Result<Option<Problem>, AwsError> {
    const FIELD: &str = "spec.processing.lambda.function";
    if !account.function_exists(region, function).await? {
        return Ok(Some(Problem::new(
            Failure::LambdaNotFound,
            FIELD,
            format!(
                "Lambda function {function} does not exist in {region}, the campaign's Region: Pinpoint, the campaign and the function share one Region"
            ),
        )));
    }
    let principal = format!("pinpoint.{region}.amazonaws.com");
    let invokable = account
        .function_policy(region, function)
        .await?
        .is_some_and(|p| policies::pinpoint_may_invoke(&p, region));
    if !invokable {
        return Ok(Some(Problem::new(
            Failure::LambdaNotInvokable,
            FIELD,
            format!(
                "the resource policy of Lambda function {function} does not let {principal} invoke it: aws lambda add-permission --region {region} --function-name {function} --statement-id pinpoint --action lambda:InvokeFunction --principal {principal} --source-arn 'arn:aws:mobiletargeting:{region}:{account_id}:/apps/*'"
            ),
        )));
    }
    Ok(None)
}
