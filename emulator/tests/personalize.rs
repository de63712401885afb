//! Drives the emulator's Personalize campaigns with the real `aws-sdk-personalize` client, on
//! awsJson on the same listener as Pinpoint.

mod common;

use common::{
    CAMPAIGN,
    services::{CAMPAIGN_PENDING, CAMPAIGN_WEST, personalize, start_seeded},
};

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
