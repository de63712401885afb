//! Pinpoint's recommender configurations over the wire with the real `aws-sdk-pinpoint` client:
//! create, get, list with its pages, update as a full replace, and delete.

mod common;

use std::time::Duration;

use aws_sdk_pinpoint::{error::ProvideErrorMetadata, types::UpdateRecommenderConfigurationShape};
use common::{
    CAMPAIGN, ROLE, configuration as basic,
    recommenders::{
        ClientOptions, Statuses, assert_iso8601, client, client_no_retry, client_with, create,
        id_of, start_default, stored,
    },
};

#[tokio::test]
async fn create_returns_201_and_get_returns_the_same_configuration() {
    let addr = start_default().await;
    let statuses = Statuses::default();
    let client = client_with(
        addr,
        ClientOptions {
            statuses: Some(statuses.clone()),
            ..Default::default()
        },
    );

    let created = create(
        &client,
        basic("movies")
            .description("Movie picks (daily), v1")
            .recommendations_per_message(3)
            .recommendation_provider_id_type("PINPOINT_USER_ID"),
    )
    .await;
    assert_eq!(statuses.take(), vec![201], "create answers 201 Created");
    let id = id_of(&created);
    assert!(!id.is_empty());
    assert_iso8601(created.creation_date(), "CreationDate");
    assert_iso8601(created.last_modified_date(), "LastModifiedDate");
    assert_eq!(created.name(), Some("movies"));
    assert_eq!(created.description(), Some("Movie picks (daily), v1"));
    assert_eq!(created.recommendation_provider_uri(), Some(CAMPAIGN));
    assert_eq!(created.recommendation_provider_role_arn(), Some(ROLE));
    assert_eq!(created.recommendations_display_name(), Some("Top picks"));
    assert_eq!(created.recommendations_per_message(), Some(3));
    assert_eq!(
        created.recommendation_provider_id_type(),
        Some("PINPOINT_USER_ID")
    );

    let got = client
        .get_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("get succeeds")
        .recommender_configuration_response
        .expect("get returns the configuration");
    assert_eq!(statuses.take(), vec![200]);
    assert_eq!(got, created, "get returns exactly what create returned");
}

#[tokio::test]
async fn create_fills_in_the_documented_defaults() {
    let addr = start_default().await;
    let created = create(&client(addr), basic("defaults")).await;
    assert_eq!(
        created.recommendation_provider_id_type(),
        Some("PINPOINT_ENDPOINT_ID")
    );
    assert_eq!(created.recommendations_per_message(), Some(5));
}

#[tokio::test]
async fn list_pages_with_next_token() {
    let addr = start_default().await;
    let client = client(addr);
    let mut created = Vec::new();
    for name in ["one", "two", "three"] {
        created.push(id_of(&create(&client, basic(name)).await));
    }

    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "pagination does not terminate");
        let page = client
            .get_recommender_configurations()
            .page_size("1")
            .set_token(token.clone())
            .send()
            .await
            .expect("list succeeds")
            .list_recommender_configurations_response
            .expect("list returns a page");
        assert_eq!(
            page.item().len(),
            1,
            "page size 1 returns one item per page"
        );
        seen.extend(page.item().iter().map(id_of));
        token = page.next_token().map(str::to_owned);
        match &token {
            Some(t) => tokens.push(t.clone()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        tokens.len(),
        2,
        "the first two pages carry a NextToken, the last does not"
    );
    assert_eq!(seen, created, "every configuration once, in creation order");

    // Without a page size, everything fits on one page.
    let all = client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list succeeds")
        .list_recommender_configurations_response
        .expect("list returns a page");
    assert_eq!(all.item().len(), 3);
    assert_eq!(all.next_token(), None);
}

#[tokio::test]
async fn list_rejects_a_bad_page_size_and_token() {
    let addr = start_default().await;
    let client = client(addr);
    let err = client
        .get_recommender_configurations()
        .page_size("0")
        .send()
        .await
        .expect_err("page size 0 is rejected")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    let err = client
        .get_recommender_configurations()
        .token("not-a-token")
        .send()
        .await
        .expect_err("a made-up token is rejected")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
}

#[tokio::test]
async fn a_token_past_the_end_is_an_empty_page() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    create(&client, basic("only")).await;
    for token in ["5", "18446744073709551615"] {
        let page = client
            .get_recommender_configurations()
            .page_size("100")
            .token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list with token {token} fails: {e:?}"))
            .list_recommender_configurations_response
            .expect("list returns a page");
        assert!(page.item().is_empty(), "token {token}: {page:?}");
        assert_eq!(page.next_token(), None, "token {token}");
    }
}

#[tokio::test]
async fn update_is_a_full_replace() {
    let addr = start_default().await;
    let client = client(addr);
    let created = create(
        &client,
        basic("replace-me")
            .description("Will be dropped")
            .recommendations_per_message(2),
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created.description(), Some("Will be dropped"));

    // Let the clock move so the modification date can differ (millisecond precision).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let shape = UpdateRecommenderConfigurationShape::builder()
        .name("replaced")
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_display_name("New picks")
        .build();
    let updated = client
        .update_recommender_configuration()
        .recommender_id(&id)
        .update_recommender_configuration(shape)
        .send()
        .await
        .expect("update succeeds")
        .recommender_configuration_response
        .expect("update returns the configuration");
    assert_eq!(updated.id(), Some(id.as_str()));
    assert_eq!(updated.name(), Some("replaced"));
    assert_eq!(updated.recommendations_display_name(), Some("New picks"));
    assert_eq!(
        updated.description(),
        None,
        "a field omitted on update disappears"
    );
    assert_eq!(
        updated.recommendations_per_message(),
        Some(5),
        "an omitted field falls back to its default"
    );
    assert_eq!(
        updated.creation_date(),
        created.creation_date(),
        "CreationDate does not change"
    );
    assert_ne!(
        updated.last_modified_date(),
        created.last_modified_date(),
        "LastModifiedDate moves"
    );

    let got = client
        .get_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("get succeeds")
        .recommender_configuration_response
        .expect("get returns the configuration");
    assert_eq!(got, updated, "the replacement is what is stored");
}

#[tokio::test]
async fn update_of_a_missing_id_is_not_found_and_update_applies_the_rules() {
    let addr = start_default().await;
    let client = client(addr);
    let shape = UpdateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_display_name("Picks")
        .build();
    let err = client
        .update_recommender_configuration()
        .recommender_id("does-not-exist")
        .update_recommender_configuration(shape)
        .send()
        .await
        .expect_err("update of a missing id fails")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");

    let id = id_of(&create(&client, basic("rules-on-update")).await);
    let invalid = UpdateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_per_message(6)
        .recommendations_display_name("Picks")
        .build();
    let err = client
        .update_recommender_configuration()
        .recommender_id(&id)
        .update_recommender_configuration(invalid)
        .send()
        .await
        .expect_err("an invalid update is rejected")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("RecommendationsPerMessage"),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_returns_the_object_and_then_it_is_gone() {
    let addr = start_default().await;
    let client = client(addr);
    let created = create(&client, basic("short-lived")).await;
    let id = id_of(&created);

    let deleted = client
        .delete_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("delete succeeds")
        .recommender_configuration_response
        .expect("delete returns the deleted configuration");
    assert_eq!(deleted, created, "delete returns the object it removed");

    let err = client
        .get_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect_err("get after delete fails");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert!(err.into_service_error().is_not_found_exception());

    let err = client
        .delete_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect_err("a second delete fails")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");

    let err = client
        .delete_recommender_configuration()
        .recommender_id("never-existed")
        .send()
        .await
        .expect_err("delete of a missing id fails")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
    assert!(stored(addr).await.is_empty());
}
