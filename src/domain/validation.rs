//! Every rule of the console wizard and the Pinpoint API, as a pure function from a spec to the
//! full list of problems. The CRD's CEL rules (in `api.rs`) say the same wherever CEL can; the
//! shared table in `tests/cases/validation.json` keeps the two in step.
//!
//! Decisions where the console guide and the API text disagree (see the README):
//! - Model names: no spaces. The console guide forbids them, the API text allows them; a name
//!   valid under the stricter rule is valid under both, and it survives a round trip through the
//!   console.
//! - Attribute names: `Recommendations.Title` and `Title` are the same attribute. The console
//!   shows the prefix, AWS's API examples send it; we accept either and always send the prefixed
//!   form, so uniqueness and the 50-character limit apply to the part after the prefix.
//! - "Letters and numbers" means ASCII letters and digits, as in AWS's own patterns.

use std::{collections::HashMap, sync::LazyLock};

use regex::Regex;

use crate::api::{FieldError, RecommenderModelSpec};

/// The prefix Pinpoint shows before custom attribute names in message templates.
pub const ATTRIBUTE_PREFIX: &str = "Recommendations.";

/// Regions where Pinpoint offers recommender models. A service fact that can grow, so it is
/// checked here and not baked into the CRD schema.
pub const RECOMMENDER_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "ap-south-1",
    "ap-southeast-2",
    "eu-west-1",
];

fn re(pattern: &str) -> Regex {
    // The patterns are literals in this file, covered by the unit tests.
    Regex::new(pattern).expect("static pattern compiles")
}

static MODEL_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"));
static DESCRIPTION: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9 _;(),-]{0,128}$"));
static ROLE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([!-~]*/)?[A-Za-z0-9_+=,.@-]{1,64}$")
});
static ROLE_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9_+=,.@-]{1,64}$"));
static CAMPAIGN_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^arn:aws(-[a-z]+)*:personalize:([a-z]{2}(-[a-z]+)+-[0-9]):[0-9]{12}:campaign/[A-Za-z0-9][A-Za-z0-9_-]{0,62}$",
    )
});
static LAMBDA_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9_-]{1,64}$"));
static LAMBDA_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^arn:aws(-[a-z]+)*:lambda:([a-z]{2}(-[a-z]+)+-[0-9]):[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$",
    )
});
static DISPLAY_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9 _-]{1,25}$"));
static ATTRIBUTE_DISPLAY_NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,24}$"));
static ATTRIBUTE_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$"));

/// An attribute name without the optional `Recommendations.` prefix.
pub fn bare_attribute_name(name: &str) -> &str {
    name.strip_prefix(ATTRIBUTE_PREFIX).unwrap_or(name)
}

/// Checks a spec against every rule and returns every problem, in field order.
/// `object_name` is `metadata.name`, the default model name.
pub fn validate(spec: &RecommenderModelSpec, object_name: &str) -> Vec<FieldError> {
    let mut errors = Errors::default();

    match &spec.name {
        Some(name) => errors.check(
            "spec.name",
            MODEL_NAME.is_match(name),
            "must start with a letter or number and hold up to 128 letters, numbers, underscores and hyphens (no spaces)",
        ),
        None => errors.check(
            "spec.name",
            MODEL_NAME.is_match(object_name),
            &format!(
                "not set, and metadata.name {object_name:?} is not a valid recommender model name (letters, numbers, underscores and hyphens, up to 128): set spec.name"
            ),
        ),
    }

    if let Some(description) = &spec.description {
        errors.check(
            "spec.description",
            DESCRIPTION.is_match(description),
            "may hold up to 128 letters, numbers, spaces and the symbols _ ; ( ) , -",
        );
    }

    match (&spec.role.arn, &spec.role.create) {
        (Some(arn), None) => errors.check(
            "spec.role.arn",
            ROLE_ARN.is_match(arn),
            "must be an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME",
        ),
        (None, Some(create)) => errors.check(
            "spec.role.create.name",
            ROLE_NAME.is_match(&create.name),
            "must be an IAM role name: 1 to 64 letters, numbers and the symbols _ + = , . @ -",
        ),
        _ => errors.push(
            "spec.role",
            "set exactly one of arn (use an existing role) or create (automatically create a role)",
        ),
    }

    let campaign_region = CAMPAIGN_ARN
        .captures(&spec.campaign_arn)
        .and_then(|c| c.get(2))
        .map(|m| m.as_str());
    match campaign_region {
        None => errors.push(
            "spec.campaignArn",
            "must be an Amazon Personalize campaign ARN: arn:aws:personalize:REGION:ACCOUNT:campaign/NAME",
        ),
        Some(region) => errors.check(
            "spec.campaignArn",
            RECOMMENDER_REGIONS.contains(&region),
            &format!(
                "the campaign is in {region}, where Pinpoint does not offer recommender models; supported Regions: {}",
                RECOMMENDER_REGIONS.join(", ")
            ),
        ),
    }

    errors.check(
        "spec.recommendationsPerMessage",
        (1..=5).contains(&spec.recommendations_per_message),
        "must be from 1 to 5",
    );

    let processing = &spec.processing;
    match (&processing.model_value, &processing.lambda) {
        (Some(model_value), None) => errors.check(
            "spec.processing.modelValue.displayName",
            DISPLAY_NAME.is_match(&model_value.display_name),
            "must hold 1 to 25 letters, numbers, spaces, underscores and hyphens",
        ),
        (None, Some(lambda)) => {
            let field = "spec.processing.lambda.function";
            if lambda.function.starts_with("arn:") {
                match LAMBDA_ARN.captures(&lambda.function).and_then(|c| c.get(2)) {
                    None => errors.push(
                        field,
                        "must be a Lambda function name or its unqualified ARN: arn:aws:lambda:REGION:ACCOUNT:function:NAME (Pinpoint does not document qualified or partial ARNs)",
                    ),
                    Some(region) => {
                        if let Some(campaign_region) = campaign_region {
                            errors.check(
                                field,
                                region.as_str() == campaign_region,
                                &format!(
                                    "the function is in {}, the campaign in {campaign_region}: Pinpoint, the campaign and the function share one Region",
                                    region.as_str()
                                ),
                            );
                        }
                    }
                }
            } else {
                errors.check(
                    field,
                    LAMBDA_NAME.is_match(&lambda.function),
                    "must be a Lambda function name (1 to 64 letters, numbers, underscores and hyphens) or its unqualified ARN",
                );
            }

            errors.check(
                "spec.processing.lambda.attributes",
                (1..=10).contains(&lambda.attributes.len()),
                "must hold 1 to 10 attributes",
            );
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (i, attribute) in lambda.attributes.iter().enumerate() {
                let bare = bare_attribute_name(&attribute.name);
                let name_field = format!("spec.processing.lambda.attributes[{i}].name");
                if !ATTRIBUTE_NAME.is_match(bare) {
                    errors.push(
                        &name_field,
                        "must start with a letter or number and hold up to 50 letters, numbers, underscores and hyphens (after the optional Recommendations. prefix)",
                    );
                } else if let Some(first) = seen.insert(bare, i) {
                    errors.push(
                        &name_field,
                        &format!(
                            "duplicates attributes[{first}].name: attribute names must be unique (case-sensitive, ignoring the Recommendations. prefix)"
                        ),
                    );
                }
                errors.check(
                    &format!("spec.processing.lambda.attributes[{i}].displayName"),
                    ATTRIBUTE_DISPLAY_NAME.is_match(&attribute.display_name),
                    "must start with a letter or number and hold up to 25 letters, numbers, spaces, underscores and hyphens",
                );
            }
        }
        _ => errors.push(
            "spec.processing",
            "set exactly one of modelValue (use the value returned by the model) or lambda (use a Lambda function)",
        ),
    }

    errors.0
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        });
    }

    fn check(&mut self, field: &str, ok: bool, message: &str) {
        if !ok {
            self.push(field, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_stripped_once() {
        assert_eq!(bare_attribute_name("Recommendations.Title"), "Title");
        assert_eq!(bare_attribute_name("Title"), "Title");
        assert_eq!(
            bare_attribute_name("Recommendations.Recommendations.X"),
            "Recommendations.X"
        );
    }
}
