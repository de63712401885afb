//! Drives the emulator's IAM roles and inline policies with the real `aws-sdk-iam` client, on
//! IAM's query protocol on the same listener as Pinpoint.

mod common;

use std::time::SystemTime;

use aws_sdk_iam::error::ProvideErrorMetadata;
use common::{
    admin,
    services::{SEEDED_ROLE, decoded, iam, permissions, start_seeded, tag, trust},
    start,
};
use pinpoint_emulator::Settings;
use serde_json::json;

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
