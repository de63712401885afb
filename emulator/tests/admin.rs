//! The admin API's state and the settings behind it: call counts, reset, configurations kept
//! per Region, the seed (validated, upserted, restored on reset) and the account ID.

mod common;

use common::{
    CAMPAIGN, DEFAULT as ACCOUNT, FUNCTION, admin, configuration as basic,
    recommenders::{
        CAMPAIGN_WEST, ClientOptions, add_fault, calls, client, client_with, create, id_of, raw,
        start_default, stored,
    },
    services::{SEEDED_ROLE, iam, lambda, permissions, personalize, seed, start_seeded, trust},
    start,
};
use pinpoint_emulator::Settings;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Calls, reset and Regions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn calls_are_counted_by_operation() {
    let addr = start_default().await;
    let client = client(addr);
    let id = id_of(&create(&client, basic("counted")).await);
    for _ in 0..2 {
        client
            .get_recommender_configuration()
            .recommender_id(&id)
            .send()
            .await
            .expect("get");
    }
    client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list");
    client
        .delete_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        calls(addr).await,
        json!({
            "CreateRecommenderConfiguration": 1,
            "GetRecommenderConfiguration": 2,
            "GetRecommenderConfigurations": 1,
            "DeleteRecommenderConfiguration": 1,
        })
    );
}

#[tokio::test]
async fn reset_empties_state() {
    let addr = start_default().await;
    let client = client(addr);
    create(&client, basic("doomed")).await;
    add_fault(
        addr,
        json!({"operation": "GetRecommenderConfiguration", "status": 500}),
    )
    .await;

    let response = raw(addr, "POST", "/_emulator/reset", None).await;
    assert_eq!(response.status, 204, "{response:?}");
    assert!(stored(addr).await.is_empty());
    assert_eq!(
        raw(addr, "GET", "/_emulator/faults", None).await.json(),
        json!([])
    );
    assert_eq!(calls(addr).await, json!({}));
    let page = client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list")
        .list_recommender_configurations_response
        .expect("page");
    assert!(page.item().is_empty());
}

#[tokio::test]
async fn configurations_are_kept_per_region() {
    let addr = start_default().await;
    let east = client(addr);
    let west = client_with(
        addr,
        ClientOptions {
            region: "us-west-2",
            ..Default::default()
        },
    );
    let east_id = id_of(&create(&east, basic("east")).await);
    let west_id = id_of(
        &create(
            &west,
            basic("west").recommendation_provider_uri(CAMPAIGN_WEST),
        )
        .await,
    );

    let items = stored(addr).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let region_of = |id: &str| {
        items
            .iter()
            .find(|item| item["id"] == id)
            .map(|item| item["region"].clone())
            .unwrap_or_else(|| panic!("{id} is not stored: {items:?}"))
    };
    assert_eq!(region_of(&east_id), "us-east-1");
    assert_eq!(region_of(&west_id), "us-west-2");
    assert_eq!(items[0]["configuration"]["Name"], "east", "{items:?}");

    // Each Region sees only its own configurations.
    let east_page = east
        .get_recommender_configurations()
        .send()
        .await
        .expect("list")
        .list_recommender_configurations_response
        .expect("page");
    assert_eq!(
        east_page.item().iter().map(id_of).collect::<Vec<_>>(),
        vec![east_id.clone()]
    );
    let err = west
        .get_recommender_configuration()
        .recommender_id(&east_id)
        .send()
        .await
        .expect_err("another Region's id is not found")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Seed and settings
// ---------------------------------------------------------------------------------------------

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
