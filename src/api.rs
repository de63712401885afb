//! The `RecommenderModel` custom resource: one field for each setting of the Pinpoint console's
//! "Add recommender model" wizard.
//!
//! The CEL rules here are the server-side half of validation; `validation.rs` holds the same
//! rules in Rust (plus the few CEL cannot say). `tests/cases/validation.json` drives both.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group the resource lives in.
pub const GROUP: &str = "pinpoint.recommenders.dev";

/// Kept on every object whose configuration the operator may have to delete.
pub const FINALIZER: &str = "pinpoint.recommenders.dev/configuration";

/// Written with the finalizer, before the first Create is sent: from when a configuration with
/// exactly the desired content may be this object's, made by a Create whose result was never
/// recorded (see `controller::create_once`). An object whose finalizer came with it (the install's admission
/// policy) has no marker and counts as marked from its creation.
pub const CREATE_REQUESTED_AT: &str = "pinpoint.recommenders.dev/create-requested-at";

/// Set by the user to take over an existing configuration (one made in the console) instead of
/// creating one; also how a `Retain`ed configuration is picked back up.
pub const ADOPT_CONFIGURATION_ID: &str = "pinpoint.recommenders.dev/configuration-id";

/// A connection between Amazon Pinpoint and an Amazon Personalize campaign, published to
/// Pinpoint as a recommender configuration.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "pinpoint.recommenders.dev",
    version = "v1alpha1",
    kind = "RecommenderModel",
    namespaced,
    status = "RecommenderModelStatus",
    shortname = "recmodel",
    doc = "A recommender model: the link between an Amazon Pinpoint project and an Amazon Personalize campaign that the Pinpoint console's \"Add recommender model\" wizard makes, kept in Kubernetes. The operator validates it, publishes it to Pinpoint as a recommender configuration, and reports the configuration ID and every problem in status.",
    category = "pinpoint",
    printcolumn = r#"{"name":"Model","type":"string","jsonPath":".status.name"}"#,
    printcolumn = r#"{"name":"Configuration ID","type":"string","jsonPath":".status.configurationId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Account","type":"string","priority":1,"jsonPath":".status.accountId"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    cel,
    validation = Rule::new(
        "has(self.spec.name) || self.metadata.name.matches('^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$')"
    )
    .message("spec.name is not set and metadata.name is not a valid recommender model name (it may hold only letters, numbers, underscores and hyphens, up to 128 characters): set spec.name")
    .field_path(".spec.name")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(
        "!has(self.processing.lambda) || !self.processing.lambda.__function__.startsWith('arn:') || self.processing.lambda.__function__.split(':').size() < 4 || self.campaignArn.split(':').size() < 4 || self.processing.lambda.__function__.split(':')[3] == self.campaignArn.split(':')[3]"
    )
    .message("the Lambda function must be in the campaign's Region: Pinpoint, the campaign and the function share one Region")
    .field_path(".processing.lambda.function")
)]
pub struct RecommenderModelSpec {
    /// Recommender model name. Defaults to metadata.name. Starts with a letter or number; up to
    /// 128 letters, numbers, underscores and hyphens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$')").message("must start with a letter or number and hold up to 128 letters, numbers, underscores and hyphens"))]
    pub name: Option<String>,

    /// Recommender model description: up to 128 letters, numbers, spaces and `_ ; ( ) , -`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9 _;(),-]{0,128}$')").message("may hold up to 128 letters, numbers, spaces and the symbols _ ; ( ) , -"))]
    pub description: Option<String>,

    /// The IAM role that lets Pinpoint retrieve recommendations from the campaign.
    pub role: RoleSource,

    /// The Amazon Personalize campaign to retrieve recommendations from.
    #[schemars(length(max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws(-[a-z]+)*:personalize:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:campaign/[A-Za-z0-9][A-Za-z0-9_-]{0,62}$')").message("must be an Amazon Personalize campaign ARN: arn:aws:personalize:REGION:ACCOUNT:campaign/NAME"))]
    pub campaign_arn: String,

    /// Identifier to use for recommendations: Pinpoint endpoint IDs or user IDs.
    #[serde(default)]
    pub identifier: Identifier,

    /// Number of recommendations per message, 1 to 5.
    #[serde(default = "default_recommendations_per_message")]
    #[schemars(range(min = 1, max = 5))]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 5").message("must be from 1 to 5"))]
    pub recommendations_per_message: i32,

    /// How Pinpoint processes the recommendations it retrieves.
    pub processing: Processing,

    /// What happens to the Pinpoint configuration when this object is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn default_recommendations_per_message() -> i32 {
    5
}

/// Exactly one of `arn` ("Use an existing role") or `create` ("Automatically create a role").
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = Rule::new("has(self.arn) != has(self.create)").message("set exactly one of arn (use an existing role) or create (automatically create a role)"))]
pub struct RoleSource {
    /// The ARN of an existing IAM role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([!-~]*/)?[A-Za-z0-9_+=,.@-]{1,64}$')").message("must be an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME"))]
    pub arn: Option<String>,

    /// Let the operator create the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<RoleCreate>,
}

/// A role the operator creates for this model.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RoleCreate {
    /// The IAM role name: 1 to 64 letters, numbers and `_ + = , . @ -`.
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_+=,.@-]{1,64}$')").message("must be an IAM role name: 1 to 64 letters, numbers and the symbols _ + = , . @ -"))]
    pub name: String,
}

/// Which Pinpoint identifier the campaign's users map to.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Identifier {
    /// Endpoint ID (`PINPOINT_ENDPOINT_ID`).
    #[default]
    EndpointId,
    /// User ID (`PINPOINT_USER_ID`).
    UserId,
}

/// Exactly one processing method.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.modelValue) != has(self.lambda)").message("set exactly one of modelValue (use the value returned by the model) or lambda (use a Lambda function)"))]
pub struct Processing {
    /// "Use the value returned by the model": one standard attribute, `RecommendationItems`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_value: Option<ModelValue>,

    /// "Use a Lambda function": up to 10 custom attributes filled by the function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaProcessing>,
}

/// Settings for the standard `RecommendationItems` attribute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModelValue {
    /// Display name in the template editor's attribute finder: 1 to 25 letters, numbers, spaces,
    /// underscores and hyphens.
    #[schemars(length(max = 25))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9 _-]{1,25}$')").message("must hold 1 to 25 letters, numbers, spaces, underscores and hyphens"))]
    pub display_name: String,
}

/// Settings for processing recommendations with a Lambda function.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LambdaProcessing {
    /// The function's name or unqualified ARN.
    #[schemars(length(max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^([A-Za-z0-9_-]{1,64}|arn:aws(-[a-z]+)*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:function:[A-Za-z0-9_-]{1,64})$')").message("must be a Lambda function name (1 to 64 letters, numbers, underscores and hyphens) or its unqualified ARN: arn:aws:lambda:REGION:ACCOUNT:function:NAME"))]
    pub function: String,

    /// The custom recommended attributes, 1 to 10.
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new("self.size() >= 1 && self.size() <= 10").message("must hold 1 to 10 attributes"))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, (b.name.startsWith('Recommendations.') ? b.name.substring(16) : b.name) == (a.name.startsWith('Recommendations.') ? a.name.substring(16) : a.name)))").message("attribute names must be unique (case-sensitive, ignoring the optional Recommendations. prefix)"))]
    pub attributes: Vec<Attribute>,
}

/// One custom recommended attribute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    /// The attribute's name as the Lambda function writes it, with or without the
    /// `Recommendations.` prefix: starts with a letter or number, up to 50 letters, numbers,
    /// underscores and hyphens.
    #[schemars(length(max = 66))]
    #[x_kube(validation = Rule::new("self.matches('^(Recommendations[.])?[A-Za-z0-9][A-Za-z0-9_-]{0,49}$')").message("must start with a letter or number and hold up to 50 letters, numbers, underscores and hyphens (after the optional Recommendations. prefix)"))]
    pub name: String,

    /// Display name in the template editor: starts with a letter or number, up to 25 letters,
    /// numbers, spaces, underscores and hyphens.
    #[schemars(length(max = 25))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9][A-Za-z0-9 _-]{0,24}$')").message("must start with a letter or number and hold up to 25 letters, numbers, spaces, underscores and hyphens"))]
    pub display_name: String,
}

/// Whether deleting the object deletes the Pinpoint configuration.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Delete the configuration from Pinpoint.
    #[default]
    Delete,
    /// Leave the configuration in Pinpoint.
    Retain,
}

/// What the operator last saw and did.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
// The API server shows a model nobody has reconciled yet with `observedGeneration: 0`, so that
// kstatus (Flux, kpt) reads it as InProgress from its first moment instead of Current: kstatus
// takes an object without status for one that needs none.
#[schemars(extend("default" = {"observedGeneration": 0}))]
pub struct RecommenderModelStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The recommender model name published to Pinpoint: spec.name, or metadata.name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Pinpoint's ID for the recommender configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_id: Option<String>,
    /// The AWS Region the configuration lives in (the campaign's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The AWS account the model publishes into: the one its namespace is bound to in the
    /// operator's tenancy settings, or the operator's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The IAM role in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The IAM roles the operator created for this model (`spec.role.create`), recorded the
    /// moment they exist: under deletionPolicy Delete, deleted with the model, or once the model
    /// has published with another role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_role_arns: Vec<String>,
    /// When Pinpoint created the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    /// When Pinpoint last changed the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date: Option<String>,
    /// Every problem with the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<FieldError>,
    /// Validated, Published and Ready; Reconciling and Stalled while they hold (kstatus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// One problem with one field.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldError {
    /// The field's path, such as `spec.processing.lambda.attributes[2].displayName`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl RecommenderModelSpec {
    /// The name published to Pinpoint: `spec.name`, or the object's name.
    pub fn model_name<'a>(&'a self, object_name: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(object_name)
    }
}
