//! The IAM, Personalize and Lambda tests' world: the default account seeded with roles,
//! campaigns and functions in two Regions, and clients of those services with a chosen secret.

use std::net::SocketAddr;

use aws_credential_types::Credentials;
use aws_sdk_iam::types::Tag;
use pinpoint_emulator::Settings;
use serde_json::{Value, json};

use super::{CAMPAIGN, DEFAULT as ACCOUNT, FUNCTION, start};

pub const CAMPAIGN_WEST: &str = "arn:aws:personalize:us-west-2:123456789012:campaign/shows";
pub const CAMPAIGN_PENDING: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/pending";
pub const FUNCTION_BARE: &str = "arn:aws:lambda:us-east-1:123456789012:function:bare";
pub const FUNCTION_WEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:west";
pub const SEEDED_ROLE: &str = "arn:aws:iam::123456789012:role/service/PinpointPersonalize";

pub fn trust() -> Value {
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

pub fn permissions() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["personalize:GetRecommendations"],
            "Resource": CAMPAIGN,
        }],
    })
}

pub fn lambda_policy() -> Value {
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

pub fn seed() -> Value {
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

pub async fn start_seeded() -> SocketAddr {
    start(Settings {
        seed: Some(seed()),
        ..Default::default()
    })
    .await
}

pub fn credentials(secret: &str) -> Credentials {
    Credentials::new("test", secret, None, None, "test")
}

pub fn iam_with(addr: SocketAddr, secret: &str) -> aws_sdk_iam::Client {
    super::iam(addr, credentials(secret))
}

pub fn iam(addr: SocketAddr) -> aws_sdk_iam::Client {
    iam_with(addr, "test")
}

pub fn personalize_with(
    addr: SocketAddr,
    region: &str,
    secret: &str,
) -> aws_sdk_personalize::Client {
    super::personalize_in(addr, region, credentials(secret))
}

pub fn personalize(addr: SocketAddr, region: &str) -> aws_sdk_personalize::Client {
    personalize_with(addr, region, "test")
}

pub fn lambda_with(addr: SocketAddr, region: &str, secret: &str) -> aws_sdk_lambda::Client {
    super::lambda_in(addr, region, credentials(secret))
}

pub fn lambda(addr: SocketAddr, region: &str) -> aws_sdk_lambda::Client {
    lambda_with(addr, region, "test")
}

pub fn decoded(text: &str) -> Value {
    let text = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .expect("URL-encoded UTF-8");
    serde_json::from_str(&text).expect("a JSON document")
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}
