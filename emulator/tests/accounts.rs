//! Several accounts on one emulator, driven with the real SDK clients: each with its own
//! credentials, configurations, quota, roles, campaigns and functions, none seeing the others';
//! and the admin API's `?account=`.

mod common;

use aws_sdk_sts::error::ProvideErrorMetadata;
use common::*;
use pinpoint_emulator::{Account, Settings};
use serde_json::json;

#[tokio::test]
async fn each_account_holds_its_own_configurations() {
    let addr = start(settings()).await;
    let mine = pinpoint(addr, default_credentials());
    let theirs = pinpoint(addr, other_credentials());
    let my_id = create(&mine, "same-name").await.expect("created");
    let their_id = create(&theirs, "same-name").await.expect("created");
    assert_ne!(my_id, their_id);

    assert_eq!(
        names(addr, "/_emulator/configurations").await,
        ["same-name"]
    );
    for account in [DEFAULT, OTHER] {
        let path = format!("/_emulator/configurations?account={account}");
        assert_eq!(names(addr, &path).await, ["same-name"], "{account}");
    }
    let listed = admin_get(addr, &format!("/_emulator/configurations?account={OTHER}")).await;
    assert_eq!(listed[0]["id"], their_id.as_str());

    // Each account lists only its own, and another account's ID is not found.
    let page = theirs
        .get_recommender_configurations()
        .send()
        .await
        .expect("list");
    let items = page
        .list_recommender_configurations_response()
        .map(|r| r.item())
        .unwrap_or_default();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id(), Some(their_id.as_str()));
    for (client, id) in [(&theirs, &my_id), (&mine, &their_id)] {
        let err = client
            .get_recommender_configuration()
            .recommender_id(id)
            .send()
            .await
            .expect_err("another account's configuration")
            .into_service_error();
        assert!(err.is_not_found_exception(), "{err:?}");
        let err = client
            .delete_recommender_configuration()
            .recommender_id(id)
            .send()
            .await
            .expect_err("another account's configuration")
            .into_service_error();
        assert!(err.is_not_found_exception(), "{err:?}");
    }
    assert_eq!(
        admin_get(addr, &format!("/_emulator/calls?account={OTHER}")).await,
        json!({
            "CreateRecommenderConfiguration": 1,
            "GetRecommenderConfigurations": 1,
            "GetRecommenderConfiguration": 1,
            "DeleteRecommenderConfiguration": 1,
        })
    );
}

#[tokio::test]
async fn the_quota_is_per_account() {
    let addr = start(Settings {
        max_configurations: 2,
        ..settings()
    })
    .await;
    let mine = pinpoint(addr, default_credentials());
    let theirs = pinpoint(addr, other_credentials());
    for name in ["one", "two"] {
        create(&mine, name).await.expect("within the quota");
    }
    let err = create(&mine, "three")
        .await
        .expect_err("over the default account's quota")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert!(
        err.message().is_some_and(|m| m.contains("limit of 2")),
        "{err:?}"
    );
    for name in ["one", "two"] {
        create(&theirs, name)
            .await
            .expect("the other account has its own quota");
    }
    create(&theirs, "three")
        .await
        .expect_err("over the other account's quota");
}

#[tokio::test]
async fn another_accounts_resources_are_out_of_reach() {
    let addr = start(settings()).await;
    let theirs = other_credentials();

    // Personalize: no cross-account access at all.
    let client = personalize(addr, theirs.clone());
    client
        .describe_campaign()
        .campaign_arn(OTHER_CAMPAIGN)
        .send()
        .await
        .expect("its own campaign");
    let err = client
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("the default account's campaign");
    assert_refused(&err, 400, "AccessDeniedException");
    assert_eq!(
        err.message(),
        Some(
            "User: arn:aws:iam::210987654321:user/emulator is not authorized to perform: \
             personalize:DescribeCampaign on resource: \
             arn:aws:personalize:us-east-1:123456789012:campaign/movies"
        )
    );

    // Lambda: a name is the caller's own function; another account's ARN is denied.
    let client = lambda(addr, theirs.clone());
    let got = client
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect("its own function");
    assert_eq!(
        got.configuration().and_then(|c| c.function_arn()),
        Some(OTHER_FUNCTION)
    );
    for name in [FUNCTION, "123456789012:function:enrich"] {
        let err = client
            .get_policy()
            .function_name(name)
            .send()
            .await
            .expect_err("the default account's function");
        assert_refused(&err, 403, "AccessDeniedException");
        assert!(
            err.message()
                .is_some_and(|m| m.contains("lambda:GetPolicy")),
            "{err:?}"
        );
    }

    // IAM: roles by name are the caller's account's; a created role lands there.
    let client = iam(addr, theirs.clone());
    let err = client
        .get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("the default account's role")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");
    let created = client
        .create_role()
        .role_name("PinpointPersonalize")
        .assume_role_policy_document(
            other_seed()["roles"][0]["assumeRolePolicyDocument"].to_string(),
        )
        .send()
        .await
        .expect("the same name in another account");
    assert_eq!(
        created.role().map(|r| r.arn()),
        Some("arn:aws:iam::210987654321:role/PinpointPersonalize")
    );
    let roles = admin_get(addr, "/_emulator/iam/roles").await;
    assert_eq!(roles.as_array().map(Vec::len), Some(1), "{roles}");
    let roles = admin_get(addr, &format!("/_emulator/iam/roles?account={OTHER}")).await;
    assert_eq!(roles.as_array().map(Vec::len), Some(6), "{roles}");

    // A key no account has.
    let stranger = aws_credential_types::Credentials::new("AKIDNOBODY", "x", None, None, "t");
    let err = caller_identity(addr, stranger.clone())
        .await
        .expect_err("unknown key");
    assert_eq!(err.code(), Some("InvalidClientTokenId"), "{err:?}");
    let err = create(&pinpoint(addr, stranger), "nobody")
        .await
        .expect_err("unknown key");
    assert_eq!(err.code(), Some("UnrecognizedClientException"), "{err:?}");
}

#[tokio::test]
async fn the_admin_api_takes_an_account() {
    let addr = start(settings()).await;
    assert_eq!(
        admin_get(addr, "/_emulator/accounts").await,
        json!([
            { "accountId": DEFAULT, "accessKeyIds": ["test"], "default": true },
            { "accountId": OTHER, "accessKeyIds": [OTHER_KEY], "default": false },
        ])
    );
    for path in [
        "/_emulator/configurations?account=999999999999",
        "/_emulator/iam/roles?account=999999999999",
        "/_emulator/calls?account=nope",
    ] {
        assert_eq!(admin(addr, "GET", path, None).await.status, 404, "{path}");
    }
    let typo = admin(addr, "GET", "/_emulator/configurations?acount=1", None).await;
    assert_eq!(typo.status, 400, "{typo:?}");

    // Seeds: per account, and their ARNs must name it.
    let path = format!("/_emulator/seed?account={OTHER}");
    for wrong in [
        json!({ "campaigns": [{ "arn": CAMPAIGN }] }),
        json!({ "functions": [{ "arn": FUNCTION }] }),
        json!({ "roles": [{ "arn": ROLE }] }),
    ] {
        let answer = admin(addr, "POST", &path, Some(wrong.clone())).await;
        assert_eq!(answer.status, 400, "{wrong}: {answer:?}");
        assert!(answer.body.contains("210987654321"), "{answer:?}");
    }
    let added = "arn:aws:personalize:us-east-1:210987654321:campaign/added";
    admin_post(addr, &path, json!({ "campaigns": [{ "arn": added }] })).await;
    let campaigns = admin_get(
        addr,
        &format!("/_emulator/personalize/campaigns?account={OTHER}"),
    )
    .await;
    assert_eq!(campaigns.as_array().map(Vec::len), Some(2), "{campaigns}");
    let campaigns = admin_get(addr, "/_emulator/personalize/campaigns").await;
    assert_eq!(campaigns.as_array().map(Vec::len), Some(1), "{campaigns}");
    let functions = admin_get(
        addr,
        &format!("/_emulator/lambda/functions?account={OTHER}"),
    )
    .await;
    assert_eq!(functions[0]["arn"], OTHER_FUNCTION);

    // Faults may name an account, by body or query, not both differently, and a known one.
    admin_post(
        addr,
        "/_emulator/faults",
        json!({ "operation": "CreateRecommenderConfiguration", "status": 500, "account": OTHER }),
    )
    .await;
    for (path, fault) in [
        (
            format!("/_emulator/faults?account={DEFAULT}"),
            json!({ "status": 500, "account": OTHER }),
        ),
        (
            "/_emulator/faults".to_owned(),
            json!({ "status": 500, "account": "999999999999" }),
        ),
    ] {
        let answer = admin(addr, "POST", &path, Some(fault.clone())).await;
        assert_eq!(answer.status, 400, "{fault}: {answer:?}");
    }
    create(&pinpoint(addr, default_credentials()), "mine")
        .await
        .expect("the fault names the other account");
    let err = create(&pinpoint(addr, other_credentials()), "theirs")
        .await
        .expect_err("the fault hits the other account")
        .into_service_error();
    assert!(err.is_internal_server_error_exception(), "{err:?}");
    let faults = admin_get(addr, &format!("/_emulator/faults?account={DEFAULT}")).await;
    assert_eq!(faults, json!([]));

    // Reset of one account: its state only, back to its seed.
    create(&pinpoint(addr, default_credentials()), "mine-too")
        .await
        .expect("created");
    admin_post(
        addr,
        &format!("/_emulator/reset?account={OTHER}"),
        json!({}),
    )
    .await;
    assert_eq!(admin_get(addr, "/_emulator/faults").await, json!([]));
    let campaigns = admin_get(
        addr,
        &format!("/_emulator/personalize/campaigns?account={OTHER}"),
    )
    .await;
    assert_eq!(campaigns.as_array().map(Vec::len), Some(1), "{campaigns}");
    assert_eq!(
        admin_get(addr, &format!("/_emulator/calls?account={OTHER}")).await,
        json!({})
    );
    assert_eq!(
        names(addr, "/_emulator/configurations").await,
        ["mine", "mine-too"]
    );
    assert_eq!(
        admin_get(addr, "/_emulator/calls").await,
        json!({ "CreateRecommenderConfiguration": 2 })
    );
    // Reset without an account: everything.
    admin_post(addr, "/_emulator/reset", json!({})).await;
    assert!(names(addr, "/_emulator/configurations").await.is_empty());
    assert_eq!(admin_get(addr, "/_emulator/calls").await, json!({}));
}

#[tokio::test]
async fn invalid_account_settings_fail_to_start() {
    let addr = "127.0.0.1:0".parse().expect("address");
    for (accounts, cap, expected) in [
        (
            vec![Account::new(DEFAULT, "AKIDX", "x")],
            None,
            "given twice",
        ),
        (vec![Account::new(OTHER, "test", "x")], None, "two accounts"),
        (
            vec![Account::new("21098765432", "AKIDX", "x")],
            None,
            "12 digits",
        ),
        (
            vec![Account {
                seed: Some(json!({ "roles": [{ "arn": ROLE }] })),
                ..Account::new(OTHER, "AKIDX", "x")
            }],
            None,
            "roles[0].arn",
        ),
        (Vec::new(), Some(0), "at least 1"),
    ] {
        let settings = Settings {
            accounts,
            sts_max_session_seconds: cap,
            ..Default::default()
        };
        let err = pinpoint_emulator::spawn(addr, settings)
            .await
            .expect_err(expected);
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}
