//! The Pinpoint service's rules for a recommender configuration, each refused with a
//! BadRequestException that names it, and the quota of configurations.

mod common;

use std::collections::HashMap;

use aws_sdk_pinpoint::types::CreateRecommenderConfigurationShape;
use common::{
    CAMPAIGN, ROLE, configuration as basic,
    recommenders::{
        CAMPAIGN_WEST, ClientOptions, LAMBDA, LAMBDA_WEST, client, client_with, create, id_of,
        rejected, start_default, stored, with_transformer,
    },
    start,
};
use pinpoint_emulator::Settings;

#[tokio::test]
async fn display_name_is_required_without_a_transformer() {
    let addr = start_default().await;
    let shape = CreateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE);
    let message = rejected(&client(addr), shape).await;
    assert!(message.contains("RecommendationsDisplayName"), "{message}");
}

#[tokio::test]
async fn attributes_need_a_transformer() {
    let addr = start_default().await;
    let message = rejected(&client(addr), basic("attrs").attributes("Title", "Title")).await;
    assert!(message.contains("Attributes"), "{message}");
}

#[tokio::test]
async fn a_transformer_needs_attributes() {
    let addr = start_default().await;
    let shape = CreateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendation_transformer_uri(LAMBDA);
    let message = rejected(&client(addr), shape).await;
    assert!(message.contains("Attributes"), "{message}");
}

#[tokio::test]
async fn at_most_ten_attributes() {
    let addr = start_default().await;
    let client = client(addr);
    let mut ten = with_transformer("ten").set_attributes(None);
    for i in 0..10 {
        ten = ten.attributes(format!("Attr{i}"), format!("Attribute {i}"));
    }
    let created = create(&client, ten.clone()).await;
    assert_eq!(
        created.attributes().map(HashMap::len),
        Some(10),
        "ten attributes are fine"
    );

    let eleven = ten.attributes("Attr10", "Attribute 10");
    let message = rejected(&client, eleven).await;
    assert!(message.contains("Attributes"), "{message}");
    assert!(message.contains("11"), "{message}");
}

#[tokio::test]
async fn attribute_names_are_unique_with_or_without_the_prefix() {
    let addr = start_default().await;
    let client = client(addr);
    // The prefix is optional: prefixed and bare names mix freely while they differ.
    let created = create(&client, with_transformer("prefixes")).await;
    let attributes = created.attributes().expect("attributes are returned");
    assert_eq!(
        attributes.get("Recommendations.Title").map(String::as_str),
        Some("Title")
    );
    assert_eq!(attributes.get("Price").map(String::as_str), Some("Price"));

    let duplicate = with_transformer("duplicates").attributes("Title", "Also title");
    let message = rejected(&client, duplicate).await;
    assert!(message.contains("Attribute name"), "{message}");
    assert!(message.contains("Title"), "{message}");
    assert!(message.contains("not unique"), "{message}");
}

#[tokio::test]
async fn campaign_must_be_in_the_callers_region() {
    let addr = start_default().await;
    let message = rejected(
        &client(addr),
        basic("west").recommendation_provider_uri(CAMPAIGN_WEST),
    )
    .await;
    assert!(message.contains("RecommendationProviderUri"), "{message}");
    assert!(message.contains("us-east-1"), "{message}");

    // The same campaign is fine for a client in its own Region.
    let west = client_with(
        addr,
        ClientOptions {
            region: "us-west-2",
            ..Default::default()
        },
    );
    let created = create(
        &west,
        basic("west").recommendation_provider_uri(CAMPAIGN_WEST),
    )
    .await;
    assert_eq!(created.recommendation_provider_uri(), Some(CAMPAIGN_WEST));
}

#[tokio::test]
async fn lambda_must_be_in_the_callers_region() {
    let addr = start_default().await;
    let client = client(addr);
    let message = rejected(
        &client,
        with_transformer("west-lambda").recommendation_transformer_uri(LAMBDA_WEST),
    )
    .await;
    assert!(
        message.contains("RecommendationTransformerUri"),
        "{message}"
    );

    // A bare function name has no Region and is accepted.
    create(
        &client,
        with_transformer("by-name").recommendation_transformer_uri("transform"),
    )
    .await;
}

#[tokio::test]
async fn recommendations_per_message_is_one_to_five() {
    let addr = start_default().await;
    let client = client(addr);
    for bad in [0, 6] {
        let message = rejected(
            &client,
            basic("per-message").recommendations_per_message(bad),
        )
        .await;
        assert!(message.contains("RecommendationsPerMessage"), "{message}");
    }
    for good in [1, 5] {
        let created = create(
            &client,
            basic("per-message").recommendations_per_message(good),
        )
        .await;
        assert_eq!(created.recommendations_per_message(), Some(good));
    }
}

#[tokio::test]
async fn a_name_with_a_space_is_accepted() {
    // The API reference allows spaces in Name (the console guide does not); the emulator follows
    // the service's API.
    let addr = start_default().await;
    let created = create(&client(addr), basic("Movie picks")).await;
    assert_eq!(created.name(), Some("Movie picks"));
}

#[tokio::test]
async fn rules_report_every_problem_and_store_nothing() {
    let addr = start_default().await;
    let shape = CreateRecommenderConfigurationShape::builder()
        .name("-starts-with-hyphen")
        .recommendation_provider_uri("arn:aws:personalize:us-east-1:123456789012:recommender/r")
        .recommendation_provider_role_arn("arn:aws:iam::123456789012:user/me")
        .recommendation_provider_id_type("EMAIL")
        .recommendations_display_name("Picks");
    let message = rejected(&client(addr), shape).await;
    for field in [
        "Name",
        "RecommendationProviderUri",
        "RecommendationProviderRoleArn",
        "RecommendationProviderIdType",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
    assert!(stored(addr).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The quota
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn quota_limits_creates_until_a_delete() {
    let addr = start(Settings {
        max_configurations: 2,
        ..Default::default()
    })
    .await;
    let client = client(addr);
    let first = id_of(&create(&client, basic("one")).await);
    create(&client, basic("two")).await;

    let message = rejected(&client, basic("three")).await;
    assert!(message.contains("limit"), "{message}");
    assert!(message.contains('2'), "{message}");
    assert_eq!(stored(addr).await.len(), 2);

    client
        .delete_recommender_configuration()
        .recommender_id(&first)
        .send()
        .await
        .expect("delete succeeds");
    create(&client, basic("three")).await;
    assert_eq!(stored(addr).await.len(), 2);
}
