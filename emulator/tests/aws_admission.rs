//! Which IAM, Personalize and Lambda calls the emulator admits: a wrong secret, a signature scoped
//! for another service and an unsigned call are refused in each protocol's own format, and a
//! `POST /` of no served protocol is refused.

mod common;

use common::{
    CAMPAIGN, admin, assert_refused, raw,
    services::{iam_with, lambda_with, personalize_with, start_seeded},
    signed_headers, start,
};
use pinpoint_emulator::Settings;
use serde_json::json;

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
