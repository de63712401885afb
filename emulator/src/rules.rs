//! The service's own checks on a recommender configuration, written from the API reference and
//! independent of the operator's validation, so the emulator can catch the operator's mistakes.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A configuration as it travels on the wire (request body; the response adds Id and dates).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigurationBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_provider_id_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_provider_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_provider_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_transformer_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendations_display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendations_per_message: Option<i64>,
}

/// A pattern written in the emulator's source, which compiles.
pub(crate) fn re(p: &str) -> Regex {
    Regex::new(p).expect("static pattern")
}

// The API text allows spaces in names, and writes the description's hyphen as U+2010: both
// accepted here, as the service documents them.
static NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z0-9][a-zA-Z0-9 _-]{0,127}$"));
static DESCRIPTION: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z0-9 _;(),\-\x{2010}]{0,128}$"));
static ROLE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}$"));
static CAMPAIGN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^arn:aws[a-z-]*:personalize:([a-z0-9-]+):\d{12}:campaign/[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
});
static LAMBDA_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^arn:aws[a-z-]*:lambda:([a-z0-9-]+):\d{12}:function:[a-zA-Z0-9_-]{1,64}$")
});
static LAMBDA_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z0-9_-]{1,64}$"));
static DISPLAY: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z0-9 _-]{1,25}$"));
static ATTR_DISPLAY: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z0-9][a-zA-Z0-9 _-]{0,24}$"));
static ATTR_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,49}$"));

/// Every problem with `body` for a request in `region`; empty when it is acceptable.
pub fn check(body: &ConfigurationBody, region: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut require = |ok: bool, problem: String| {
        if !ok {
            problems.push(problem);
        }
    };
    if let Some(name) = &body.name {
        require(
            NAME.is_match(name),
            format!(
                "Name {name:?} must start with a letter or number and contain up to 128 letters, numbers, spaces, underscores or hyphens"
            ),
        );
    }
    if let Some(d) = &body.description {
        require(
            DESCRIPTION.is_match(d),
            format!(
                "Description {d:?} may contain up to 128 letters, numbers, spaces and _ ; ( ) , -"
            ),
        );
    }
    match &body.recommendation_provider_uri {
        None => require(false, "RecommendationProviderUri is required".into()),
        Some(uri) => match CAMPAIGN.captures(uri) {
            None => require(
                false,
                format!(
                    "RecommendationProviderUri {uri:?} is not an Amazon Personalize campaign ARN"
                ),
            ),
            Some(c) => require(
                &c[1] == region,
                format!("RecommendationProviderUri {uri:?} is not in {region}"),
            ),
        },
    }
    match &body.recommendation_provider_role_arn {
        None => require(false, "RecommendationProviderRoleArn is required".into()),
        Some(arn) => require(
            ROLE.is_match(arn),
            format!("RecommendationProviderRoleArn {arn:?} is not an IAM role ARN"),
        ),
    }
    if let Some(t) = &body.recommendation_provider_id_type {
        require(
            t == "PINPOINT_ENDPOINT_ID" || t == "PINPOINT_USER_ID",
            format!(
                "RecommendationProviderIdType {t:?} must be PINPOINT_ENDPOINT_ID or PINPOINT_USER_ID"
            ),
        );
    }
    if let Some(n) = body.recommendations_per_message {
        require(
            (1..=5).contains(&n),
            format!("RecommendationsPerMessage {n} must be between 1 and 5"),
        );
    }
    let attributes = body.attributes.as_ref().filter(|a| !a.is_empty());
    match &body.recommendation_transformer_uri {
        None => {
            match &body.recommendations_display_name {
                None => require(false, "RecommendationsDisplayName is required when RecommendationTransformerUri is not set".into()),
                Some(d) => require(DISPLAY.is_match(d), format!("RecommendationsDisplayName {d:?} must contain 1 to 25 letters, numbers, spaces, underscores or hyphens")),
            }
            require(
                attributes.is_none(),
                "Attributes can only be set with a RecommendationTransformerUri".into(),
            );
        }
        Some(uri) => {
            if uri.starts_with("arn:") {
                match LAMBDA_ARN.captures(uri) {
                    None => require(
                        false,
                        format!(
                            "RecommendationTransformerUri {uri:?} is not a Lambda function ARN"
                        ),
                    ),
                    Some(c) => require(
                        &c[1] == region,
                        format!("RecommendationTransformerUri {uri:?} must be in {region}"),
                    ),
                }
            } else {
                require(
                    LAMBDA_NAME.is_match(uri),
                    format!("RecommendationTransformerUri {uri:?} is not a Lambda function name"),
                );
            }
            match attributes {
                None => require(
                    false,
                    "Attributes is required with a RecommendationTransformerUri".into(),
                ),
                Some(a) => {
                    require(
                        a.len() <= 10,
                        format!(
                            "Attributes holds {} entries; at most 10 are allowed",
                            a.len()
                        ),
                    );
                    let mut seen = std::collections::BTreeSet::new();
                    for (key, display) in a {
                        let bare = key.strip_prefix("Recommendations.").unwrap_or(key);
                        require(
                            ATTR_NAME.is_match(bare),
                            format!(
                                "Attribute name {key:?} must start with a letter or number and contain up to 50 letters, numbers, underscores or hyphens"
                            ),
                        );
                        require(
                            seen.insert(bare.to_owned()),
                            format!("Attribute name {key:?} is not unique"),
                        );
                        require(
                            ATTR_DISPLAY.is_match(display),
                            format!(
                                "Attribute display name {display:?} must start with a letter or number and contain up to 25 letters, numbers, spaces, underscores or hyphens"
                            ),
                        );
                    }
                }
            }
        }
    }
    problems
}
