//! Drives the emulator's IAM, Personalize and Lambda operations with the real SDK clients, each
//! on its own wire protocol, on the same listener as Pinpoint.

mod common;

use std::{net::SocketAddr, time::SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_iam::{error::ProvideErrorMetadata, types::Tag};
use common::{admin, assert_refused, raw, signed_headers, start};
use pinpoint_emulator::Settings;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const CAMPAIGN: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";
const CAMPAIGN_WEST: &str = "arn:aws:personalize:us-west-2:123456789012:campaign/shows";
const CAMPAIGN_PENDING: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/pending";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:enrich";
const FUNCTION_BARE: &str = "arn:aws:lambda:us-east-1:123456789012:function:bare";
const FUNCTION_WEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:west";
const SEEDED_ROLE: &str = "arn:aws:iam::123456789012:role/service/PinpointPersonalize";

fn trust() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "pinpoint.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "aws:SourceAccount": ACCOUNT } },
        }],
    })
}

fn permissions() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["personalize:GetRecommendations"],
            "Resource": CAMPAIGN,
        }],
    })
}

fn lambda_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [{
            "Sid": "pinpoint",
            "Effect": "Allow",
            "Principal": { "Service": "pinpoint.us-east-1.amazonaws.com" },
            "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION,
        }],
    })
}

fn seed() -> Value {
    json!({
        "campaigns": [
            { "arn": CAMPAIGN },
            { "arn": CAMPAIGN_WEST, "status": "ACTIVE" },
            { "arn": CAMPAIGN_PENDING, "status": "CREATE IN_PROGRESS",
              "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/s/abc" },
        ],
        "functions": [
            { "arn": FUNCTION, "policy": lambda_policy() },
            { "arn": FUNCTION_BARE, "policy": null },
            { "arn": FUNCTION_WEST },
        ],
        "roles": [
            { "arn": SEEDED_ROLE, "assumeRolePolicyDocument": trust(), "tags": { "team": "growth" },
              "inlinePolicies": { "personalize": permissions() } },
        ],
    })
}

async fn start_seeded() -> SocketAddr {
    start(Settings {
        seed: Some(seed()),
        ..Default::default()
    })
    .await
}

fn credentials(secret: &str) -> Credentials {
    Credentials::new("test", secret, None, None, "test")
}

fn iam_with(addr: SocketAddr, secret: &str) -> aws_sdk_iam::Client {
    common::iam(addr, credentials(secret))
}

fn iam(addr: SocketAddr) -> aws_sdk_iam::Client {
    iam_with(addr, "test")
}

fn personalize_with(addr: SocketAddr, region: &str, secret: &str) -> aws_sdk_personalize::Client {
    common::personalize_in(addr, region, credentials(secret))
}

fn personalize(addr: SocketAddr, region: &str) -> aws_sdk_personalize::Client {
    personalize_with(addr, region, "test")
}

fn lambda_with(addr: SocketAddr, region: &str, secret: &str) -> aws_sdk_lambda::Client {
    common::lambda_in(addr, region, credentials(secret))
}

fn lambda(addr: SocketAddr, region: &str) -> aws_sdk_lambda::Client {
    lambda_with(addr, region, "test")
}

fn decoded(text: &str) -> Value {
    let text = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .expect("URL-encoded UTF-8");
    serde_json::from_str(&text).expect("a JSON document")
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

// ---------------------------------------------------------------------------------------------
// IAM
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_role_then_get_role_round_trips() {
    let addr = start(Settings::default()).await;
    let client = iam(addr);
    let boundary = "arn:aws:iam::aws:policy/PowerUserAccess";
    let created = client
        .create_role()
        .role_name("PinpointRecommender")
        .path("/pinpoint/")
        .assume_role_policy_document(trust().to_string())
        .description("Lets Pinpoint read recommendations")
        .permissions_boundary(boundary)
        .tags(tag("team", "growth"))
        .tags(tag("cost-center", "42"))
        .send()
        .await
        .expect("CreateRole succeeds");
    let role = created.role().expect("CreateRole returns the role");
    assert_eq!(
        role.arn(),
        "arn:aws:iam::123456789012:role/pinpoint/PinpointRecommender"
    );
    assert!(role.role_id().starts_with("AROA"), "{}", role.role_id());

    let got = client
        .get_role()
        .role_name("PinpointRecommender")
        .send()
        .await
        .expect("GetRole succeeds");
    let role = got.role().expect("GetRole returns the role");
    assert_eq!(role.role_name(), "PinpointRecommender");
    assert_eq!(role.path(), "/pinpoint/");
    assert_eq!(
        role.arn(),
        "arn:aws:iam::123456789012:role/pinpoint/PinpointRecommender"
    );
    let created_at = SystemTime::try_from(*role.create_date()).expect("a time");
    let age = SystemTime::now()
        .duration_since(created_at)
        .unwrap_or_default();
    assert!(age.as_secs() < 60, "CreateDate is now: {age:?}");
    // Real IAM returns the document URL-encoded.
    let document = role.assume_role_policy_document().expect("trust document");
    assert!(document.starts_with("%7B"), "{document}");
    assert_eq!(decoded(document), trust());
    assert_eq!(
        role.description(),
        Some("Lets Pinpoint read recommendations")
    );
    assert_eq!(role.max_session_duration(), Some(3600));
    let attached = role.permissions_boundary().expect("boundary");
    assert_eq!(attached.permissions_boundary_arn(), Some(boundary));
    assert_eq!(
        attached.permissions_boundary_type().map(|t| t.as_str()),
        Some("Policy")
    );
    let tags: Vec<(&str, &str)> = role.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "growth"), ("cost-center", "42")]);

    // Role names do not distinguish case.
    let got = client
        .get_role()
        .role_name("pinpointrecommender")
        .send()
        .await
        .expect("GetRole ignores case");
    assert_eq!(got.role().unwrap().role_name(), "PinpointRecommender");

    // The admin API shows the role.
    let roles = admin(addr, "GET", "/_emulator/iam/roles", None)
        .await
        .json();
    let roles = roles.as_array().expect("a list");
    assert_eq!(roles.len(), 1);
    let role = &roles[0];
    assert_eq!(role["roleName"], "PinpointRecommender");
    assert_eq!(role["path"], "/pinpoint/");
    assert_eq!(role["assumeRolePolicyDocument"], trust());
    assert_eq!(role["permissionsBoundary"], boundary);
    assert_eq!(role["description"], "Lets Pinpoint read recommendations");
    assert_eq!(
        role["tags"],
        json!({ "team": "growth", "cost-center": "42" })
    );
    assert_eq!(role["inlinePolicies"], json!({}));
}

#[tokio::test]
async fn iam_refuses_what_iam_refuses() {
    let addr = start(Settings::default()).await;
    let client = iam(addr);
    client
        .create_role()
        .role_name("Existing")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect("CreateRole succeeds");

    let err = client
        .create_role()
        .role_name("EXISTING")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect_err("a second role of the same name");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(409));
    let err = err.into_service_error();
    assert!(err.is_entity_already_exists_exception(), "{err:?}");
    assert_eq!(err.code(), Some("EntityAlreadyExists"));

    let err = client
        .get_role()
        .role_name("Missing")
        .send()
        .await
        .expect_err("no such role");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = err.into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("The role with name Missing cannot be found.")
    );

    let err = client
        .delete_role()
        .role_name("Missing")
        .send()
        .await
        .expect_err("no such role")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");

    for bad in ["has space", "slash/name", &"x".repeat(65)] {
        let err = client
            .create_role()
            .role_name(bad)
            .assume_role_policy_document(trust().to_string())
            .send()
            .await
            .expect_err("a bad role name");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        assert_eq!(err.code(), Some("ValidationError"), "{bad}: {err:?}");
        assert!(
            err.message().unwrap_or_default().contains("roleName"),
            "{err:?}"
        );
    }

    for (document, why) in [
        ("not json".to_owned(), "invalid JSON"),
        ("[]".to_owned(), "not an object"),
        (
            json!({ "Statement": trust()["Statement"] }).to_string(),
            "no Version",
        ),
        (
            json!({ "Version": "2012-10-17" }).to_string(),
            "no Statement",
        ),
        (
            permissions().to_string(),
            "a trust policy without Principal",
        ),
    ] {
        let err = client
            .create_role()
            .role_name("Malformed")
            .assume_role_policy_document(document)
            .send()
            .await
            .expect_err(why)
            .into_service_error();
        assert!(
            err.is_malformed_policy_document_exception(),
            "{why}: {err:?}"
        );
    }

    let err = client
        .create_role()
        .role_name("BadPath")
        .path("no-slashes")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect_err("a bad path");
    assert_eq!(err.code(), Some("ValidationError"));

    let err = client
        .create_role()
        .role_name("BadBoundary")
        .permissions_boundary("arn:aws:iam::123456789012:role/NotAPolicy")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect_err("a boundary that is not a policy");
    assert_eq!(err.code(), Some("InvalidInput"));

    let err = client
        .create_role()
        .role_name("BadTag")
        .tags(tag("bad*key", "v"))
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect_err("a bad tag key");
    assert_eq!(err.code(), Some("ValidationError"));

    let mut too_many = client
        .create_role()
        .role_name("ManyTags")
        .assume_role_policy_document(trust().to_string());
    for n in 0..51 {
        too_many = too_many.tags(tag(&format!("k{n}"), "v"));
    }
    let err = too_many.send().await.expect_err("51 tags");
    assert_eq!(err.code(), Some("LimitExceeded"));

    // Nothing refused was stored.
    let roles = admin(addr, "GET", "/_emulator/iam/roles", None)
        .await
        .json();
    assert_eq!(roles.as_array().map(Vec::len), Some(1), "{roles}");
}

#[tokio::test]
async fn inline_policies_block_role_deletion_until_deleted() {
    let addr = start(Settings::default()).await;
    let client = iam(addr);
    client
        .create_role()
        .role_name("WithPolicy")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect("CreateRole");
    for name in ["personalize", "lambda"] {
        client
            .put_role_policy()
            .role_name("WithPolicy")
            .policy_name(name)
            .policy_document(permissions().to_string())
            .send()
            .await
            .expect("PutRolePolicy");
    }

    let got = client
        .get_role_policy()
        .role_name("WithPolicy")
        .policy_name("personalize")
        .send()
        .await
        .expect("GetRolePolicy");
    assert_eq!(got.role_name(), "WithPolicy");
    assert_eq!(got.policy_name(), "personalize");
    assert_eq!(decoded(got.policy_document()), permissions());

    let listed = client
        .list_role_policies()
        .role_name("WithPolicy")
        .send()
        .await
        .expect("ListRolePolicies");
    assert_eq!(listed.policy_names(), ["lambda", "personalize"]);
    assert!(!listed.is_truncated());
    let page = client
        .list_role_policies()
        .role_name("WithPolicy")
        .max_items(1)
        .send()
        .await
        .expect("ListRolePolicies, one per page");
    assert_eq!(page.policy_names(), ["lambda"]);
    assert!(page.is_truncated());
    let rest = client
        .list_role_policies()
        .role_name("WithPolicy")
        .marker(page.marker().expect("a marker"))
        .send()
        .await
        .expect("the next page");
    assert_eq!(rest.policy_names(), ["personalize"]);

    let err = client
        .put_role_policy()
        .role_name("WithPolicy")
        .policy_name("principal")
        .policy_document(trust().to_string())
        .send()
        .await
        .expect_err("a permissions policy with a Principal")
        .into_service_error();
    assert!(err.is_malformed_policy_document_exception(), "{err:?}");

    let err = client
        .put_role_policy()
        .role_name("Missing")
        .policy_name("p")
        .policy_document(permissions().to_string())
        .send()
        .await
        .expect_err("no such role")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");

    let err = client
        .delete_role()
        .role_name("WithPolicy")
        .send()
        .await
        .expect_err("inline policies remain");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(409));
    let err = err.into_service_error();
    assert!(err.is_delete_conflict_exception(), "{err:?}");

    for name in ["personalize", "lambda"] {
        client
            .delete_role_policy()
            .role_name("WithPolicy")
            .policy_name(name)
            .send()
            .await
            .expect("DeleteRolePolicy");
    }
    let err = client
        .get_role_policy()
        .role_name("WithPolicy")
        .policy_name("personalize")
        .send()
        .await
        .expect_err("deleted")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");
    let err = client
        .delete_role_policy()
        .role_name("WithPolicy")
        .policy_name("personalize")
        .send()
        .await
        .expect_err("deleted twice")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");

    client
        .delete_role()
        .role_name("WithPolicy")
        .send()
        .await
        .expect("DeleteRole once the policies are gone");
    let err = client
        .get_role()
        .role_name("WithPolicy")
        .send()
        .await
        .expect_err("deleted")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");
}

#[tokio::test]
async fn seeded_roles_are_iam_roles() {
    let addr = start_seeded().await;
    let client = iam(addr);
    let role = client
        .get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect("the seeded role");
    let role = role.role().unwrap();
    assert_eq!(role.arn(), SEEDED_ROLE);
    assert_eq!(role.path(), "/service/");
    assert_eq!(
        decoded(role.assume_role_policy_document().unwrap()),
        trust()
    );
    assert_eq!(role.tags()[0].key(), "team");
    let listed = client
        .list_role_policies()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.policy_names(), ["personalize"]);
}

// ---------------------------------------------------------------------------------------------
// Personalize
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn describe_campaign_sees_campaigns_in_its_region() {
    let addr = start_seeded().await;
    let east = personalize(addr, "us-east-1");
    let described = east
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect("DescribeCampaign");
    let campaign = described.campaign().expect("a campaign");
    assert_eq!(campaign.campaign_arn(), Some(CAMPAIGN));
    assert_eq!(campaign.name(), Some("movies"));
    assert_eq!(campaign.status(), Some("ACTIVE"));
    assert_eq!(campaign.min_provisioned_tps(), Some(1));
    assert_eq!(
        campaign.solution_version_arn(),
        Some("arn:aws:personalize:us-east-1:123456789012:solution/movies/1a2b3c4d")
    );
    assert!(campaign.creation_date_time().is_some());
    assert!(campaign.last_updated_date_time().is_some());

    let pending = east
        .describe_campaign()
        .campaign_arn(CAMPAIGN_PENDING)
        .send()
        .await
        .expect("DescribeCampaign");
    let pending = pending.campaign().unwrap();
    assert_eq!(pending.status(), Some("CREATE IN_PROGRESS"));
    assert_eq!(
        pending.solution_version_arn(),
        Some("arn:aws:personalize:us-east-1:123456789012:solution/s/abc")
    );

    let err = east
        .describe_campaign()
        .campaign_arn("arn:aws:personalize:us-east-1:123456789012:campaign/nothing")
        .send()
        .await
        .expect_err("no such campaign");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let err = err.into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    // A campaign in us-west-2 is not seen from us-east-1, and the other way round.
    let err = east
        .describe_campaign()
        .campaign_arn(CAMPAIGN_WEST)
        .send()
        .await
        .expect_err("another Region")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let west = personalize(addr, "us-west-2");
    let err = west
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("another Region")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    west.describe_campaign()
        .campaign_arn(CAMPAIGN_WEST)
        .send()
        .await
        .expect("its own Region");

    let err = east
        .describe_campaign()
        .campaign_arn("not-an-arn")
        .send()
        .await
        .expect_err("a malformed ARN")
        .into_service_error();
    assert!(err.is_invalid_input_exception(), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Lambda
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_function_by_name_or_arn_in_its_region() {
    let addr = start_seeded().await;
    let east = lambda(addr, "us-east-1");
    for name in [
        "enrich",
        FUNCTION,
        "123456789012:function:enrich",
        "enrich:$LATEST",
    ] {
        let got = east
            .get_function()
            .function_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetFunction {name}: {e:?}"));
        let configuration = got.configuration().expect("configuration");
        assert_eq!(configuration.function_name(), Some("enrich"));
        assert_eq!(configuration.function_arn(), Some(FUNCTION));
        assert_eq!(
            configuration.runtime().map(|r| r.as_str()),
            Some("python3.12")
        );
        assert_eq!(configuration.state().map(|s| s.as_str()), Some("Active"));
        assert!(
            configuration
                .role()
                .is_some_and(|r| r.starts_with("arn:aws:iam::"))
        );
        assert!(configuration.handler().is_some());
        assert!(configuration.last_modified().is_some());
        let code = got.code().expect("code location");
        assert_eq!(code.repository_type(), Some("S3"));
        assert!(code.location().is_some_and(|l| l.starts_with("https://")));
    }

    let err = east
        .get_function()
        .function_name("missing")
        .send()
        .await
        .expect_err("no such function");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = err.into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing")
    );

    // us-west-2's function is not seen from us-east-1, by name or by ARN.
    for name in ["west", FUNCTION_WEST] {
        let err = east
            .get_function()
            .function_name(name)
            .send()
            .await
            .expect_err("another Region")
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{name}: {err:?}");
    }
    let west = lambda(addr, "us-west-2");
    west.get_function()
        .function_name("west")
        .send()
        .await
        .expect("its own Region");
    let err = west
        .get_function()
        .function_name(FUNCTION)
        .send()
        .await
        .expect_err("another Region")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    let err = east
        .get_function()
        .function_name("enrich:live")
        .send()
        .await
        .expect_err("no such alias")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn get_policy_returns_the_resource_policy_or_not_found() {
    let addr = start_seeded().await;
    let east = lambda(addr, "us-east-1");
    for name in ["enrich", FUNCTION] {
        let got = east
            .get_policy()
            .function_name(name)
            .send()
            .await
            .expect("GetPolicy");
        let policy: Value = serde_json::from_str(got.policy().expect("a policy")).unwrap();
        assert_eq!(policy, lambda_policy());
        assert!(got.revision_id().is_some());
    }
    let err = east
        .get_policy()
        .function_name("bare")
        .send()
        .await
        .expect_err("no policy");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = err.into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("The resource you requested does not exist.")
    );
    let err = east
        .get_policy()
        .function_name("missing")
        .send()
        .await
        .expect_err("no function")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_secret_is_refused_on_every_protocol() {
    let addr = start_seeded().await;
    let err = iam_with(addr, "wrong")
        .get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("a wrong secret");
    assert_refused(&err, 403, "SignatureDoesNotMatch");

    let err = personalize_with(addr, "us-east-1", "wrong")
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("a wrong secret");
    assert_refused(&err, 403, "InvalidSignatureException");

    let err = lambda_with(addr, "us-east-1", "wrong")
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect_err("a wrong secret");
    assert_refused(&err, 403, "InvalidSignatureException");
}

#[tokio::test]
async fn a_scope_for_another_service_is_refused_in_the_protocol_format() {
    let addr = start_seeded().await;
    let form = "Action=GetRole&Version=2010-05-08&RoleName=PinpointPersonalize";
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";

    // Signed for IAM: accepted.
    let headers = signed_headers("iam", "POST", addr, "/", content_type, &[], form);
    let ok = raw(addr, "POST", "/", &headers, form).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.body.contains("<GetRoleResponse"), "{ok:?}");

    // The same call signed for Personalize: refused in IAM's XML.
    let headers = signed_headers("personalize", "POST", addr, "/", content_type, &[], form);
    let refused = raw(addr, "POST", "/", &headers, form).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(
        refused.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{refused:?}"
    );
    assert!(refused.body.contains("<ErrorResponse"), "{refused:?}");

    // A Personalize call signed for IAM: refused in awsJson.
    let body = json!({ "campaignArn": CAMPAIGN }).to_string();
    let target = [("x-amz-target", "AmazonPersonalize.DescribeCampaign")];
    let json_type = "application/x-amz-json-1.1";
    let headers = signed_headers("iam", "POST", addr, "/", json_type, &target, &body);
    let refused = raw(addr, "POST", "/", &headers, &body).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.json()["__type"], "InvalidSignatureException");
    let headers = signed_headers("personalize", "POST", addr, "/", json_type, &target, &body);
    let ok = raw(addr, "POST", "/", &headers, &body).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["campaign"]["status"], "ACTIVE");

    // A Lambda call signed for Pinpoint: refused with x-amzn-ErrorType.
    let path = "/2015-03-31/functions/enrich";
    let headers = signed_headers("mobiletargeting", "GET", addr, path, json_type, &[], "");
    let refused = raw(addr, "GET", path, &headers, "").await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
    assert_eq!(refused.json()["Type"], "User");

    // Unsigned: refused too.
    let unsigned = raw(
        addr,
        "POST",
        "/",
        &format!("Content-Type: {content_type}\r\n"),
        form,
    )
    .await;
    assert_eq!(unsigned.status, 403, "{unsigned:?}");
    assert!(
        unsigned
            .body
            .contains("<Code>MissingAuthenticationToken</Code>"),
        "{unsigned:?}"
    );
}

#[tokio::test]
async fn post_root_that_is_neither_iam_nor_personalize_is_refused() {
    let addr = start(Settings::default()).await;
    let response = admin(addr, "POST", "/", Some(json!({ "Action": "GetRole" }))).await;
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.json()["__type"], "UnknownOperationException");
    let response = raw(
        addr,
        "POST",
        "/",
        "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n",
        "{}",
    )
    .await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(
        response.json()["Message"]
            .as_str()
            .unwrap()
            .contains("Kinesis_20131202.PutRecord")
    );

    // An IAM action the emulator does not serve, signed: InvalidAction in XML.
    let form = "Action=ListRoles&Version=2010-05-08";
    let headers = signed_headers(
        "iam",
        "POST",
        addr,
        "/",
        "application/x-www-form-urlencoded",
        &[],
        form,
    );
    let response = raw(addr, "POST", "/", &headers, form).await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(
        response.body.contains("<Code>InvalidAction</Code>"),
        "{response:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Faults, calls, seed and reset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn throttling_faults_speak_each_protocol() {
    let addr = start_seeded().await;
    for operation in ["GetRole", "DescribeCampaign", "GetFunction"] {
        let response = admin(
            addr,
            "POST",
            "/_emulator/faults",
            Some(json!({ "operation": operation, "status": 429, "count": 1 })),
        )
        .await;
        assert_eq!(response.status, 204, "{response:?}");
    }

    let iam = iam(addr);
    let err = iam
        .get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("Throttling"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    iam.get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect("the fault was for one call");

    let personalize = personalize(addr, "us-east-1");
    let err = personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect("the fault was for one call");

    let lambda = lambda(addr, "us-east-1");
    let err = lambda
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("TooManyRequestsException"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(429));
    lambda
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect("the fault was for one call");

    // Explicit error types, and "*" for every operation.
    admin(
        addr,
        "POST",
        "/_emulator/faults",
        Some(json!({ "operation": "*", "status": 500, "errorType": "ServiceFailure", "count": 3 })),
    )
    .await;
    let err = iam
        .list_role_policies()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("a server error");
    assert_eq!(err.code(), Some("ServiceFailure"));
    let err = lambda
        .get_policy()
        .function_name("enrich")
        .send()
        .await
        .expect_err("a server error");
    assert_eq!(err.code(), Some("ServiceFailure"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let err = personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("a server error");
    assert_eq!(err.code(), Some("ServiceFailure"));

    let calls = admin(addr, "GET", "/_emulator/calls", None).await.json();
    assert_eq!(calls["GetRole"], 2, "{calls}");
    assert_eq!(calls["ListRolePolicies"], 1, "{calls}");
    assert_eq!(calls["DescribeCampaign"], 3, "{calls}");
    assert_eq!(calls["GetFunction"], 2, "{calls}");
    assert_eq!(calls["GetPolicy"], 1, "{calls}");
}

#[tokio::test]
async fn drop_response_faults_apply_to_post_root_calls() {
    let addr = start(Settings::default()).await;
    admin(
        addr,
        "POST",
        "/_emulator/faults",
        Some(json!({ "operation": "CreateRole", "dropResponse": true, "count": 1 })),
    )
    .await;
    let client = iam(addr);
    client
        .create_role()
        .role_name("Lost")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect_err("the answer is lost");
    // The call took effect all the same.
    client
        .get_role()
        .role_name("Lost")
        .send()
        .await
        .expect("the role exists");
}

#[tokio::test]
async fn seed_validates_and_upserts_and_reset_restores_the_settings_seed() {
    let addr = start_seeded().await;

    for (bad, field) in [
        (
            json!({ "campaigns": [{ "arn": "nope" }] }),
            "campaigns[0].arn",
        ),
        (
            json!({ "campaigns": [{ "arn": CAMPAIGN, "status": "SLEEPING" }] }),
            "campaigns[0].status",
        ),
        (
            json!({ "functions": [{ "arn": FUNCTION, "policy": "text" }] }),
            "functions[0].policy",
        ),
        (
            json!({ "roles": [{ "arn": "arn:aws:iam::999999999999:role/Other" }] }),
            "roles[0].arn",
        ),
        (
            json!({ "roles": [{ "arn": "arn:aws:iam::123456789012:role/R",
                                "assumeRolePolicyDocument": { "Version": "2012-10-17" } }] }),
            "roles[0].assumeRolePolicyDocument",
        ),
        (
            json!({ "roles": [{ "arn": "arn:aws:iam::123456789012:role/R", "tags": { "k": 1 } }] }),
            "roles[0].tags",
        ),
        (json!({ "buckets": [] }), "buckets"),
    ] {
        let response = admin(addr, "POST", "/_emulator/seed", Some(bad.clone())).await;
        assert_eq!(response.status, 400, "{bad}: {response:?}");
        assert!(response.body.contains(field), "{bad}: {}", response.body);
    }

    // Upsert: the campaign changes status, a new function appears.
    let response = admin(
        addr,
        "POST",
        "/_emulator/seed",
        Some(json!({
            "campaigns": [{ "arn": CAMPAIGN, "status": "CREATE FAILED", "failureReason": "bad data" }],
            "functions": [{ "arn": "arn:aws:lambda:us-east-1:123456789012:function:added" }],
        })),
    )
    .await;
    assert_eq!(response.status, 204, "{response:?}");
    let personalize = personalize(addr, "us-east-1");
    let described = personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.campaign().unwrap().status(),
        Some("CREATE FAILED")
    );
    assert_eq!(
        described.campaign().unwrap().failure_reason(),
        Some("bad data")
    );
    let lambda = lambda(addr, "us-east-1");
    lambda
        .get_function()
        .function_name("added")
        .send()
        .await
        .expect("the seeded function");
    lambda
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect("the earlier function stays");

    // A role created through IAM.
    let iam = iam(addr);
    iam.create_role()
        .role_name("Created")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .unwrap();
    let roles = admin(addr, "GET", "/_emulator/iam/roles", None)
        .await
        .json();
    assert_eq!(roles.as_array().map(Vec::len), Some(2), "{roles}");

    let response = admin(addr, "POST", "/_emulator/reset", None).await;
    assert_eq!(response.status, 204, "{response:?}");
    let calls = admin(addr, "GET", "/_emulator/calls", None).await.json();
    assert_eq!(calls, json!({}), "reset clears the call counts");

    // Back to the Settings seed exactly.
    let roles = admin(addr, "GET", "/_emulator/iam/roles", None)
        .await
        .json();
    let roles = roles.as_array().unwrap();
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(roles[0]["arn"], SEEDED_ROLE);
    assert_eq!(roles[0]["tags"], json!({ "team": "growth" }));
    assert_eq!(
        roles[0]["inlinePolicies"],
        json!({ "personalize": permissions() })
    );
    assert_eq!(roles[0]["permissionsBoundary"], Value::Null);
    let described = personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .unwrap();
    assert_eq!(described.campaign().unwrap().status(), Some("ACTIVE"));
    let err = lambda
        .get_function()
        .function_name("added")
        .send()
        .await
        .expect_err("gone after reset")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    // Without a Settings seed, reset empties everything.
    let bare = start(Settings::default()).await;
    admin(bare, "POST", "/_emulator/seed", Some(seed())).await;
    admin(bare, "POST", "/_emulator/reset", None).await;
    let roles = admin(bare, "GET", "/_emulator/iam/roles", None)
        .await
        .json();
    assert_eq!(roles, json!([]));
}

#[tokio::test]
async fn an_invalid_settings_seed_fails_to_start() {
    let err = pinpoint_emulator::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Settings {
            seed: Some(json!({ "roles": [{ "arn": "not-a-role" }] })),
            ..Default::default()
        },
    )
    .await
    .expect_err("an invalid seed");
    assert!(err.to_string().contains("roles[0].arn"), "{err}");
    assert!(
        pinpoint_emulator::check_seed(&seed(), ACCOUNT).is_ok(),
        "the test seed is valid"
    );
    // Another account: the role ARNs must follow.
    let err = pinpoint_emulator::check_seed(&seed(), "210987654321").expect_err("other account");
    assert!(err.contains("roles[0].arn"), "{err}");
}

#[tokio::test]
async fn the_account_id_setting_names_created_roles() {
    let addr = start(Settings {
        account_id: "210987654321".to_owned(),
        ..Default::default()
    })
    .await;
    let created = iam(addr)
        .create_role()
        .role_name("Mine")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.role().unwrap().arn(),
        "arn:aws:iam::210987654321:role/Mine"
    );
}
