//! Drives the emulator's Lambda functions and their resource policies with the real
//! `aws-sdk-lambda` client, on Lambda's REST protocol on the same listener as Pinpoint.

mod common;

use aws_sdk_iam::error::ProvideErrorMetadata;
use common::{
    FUNCTION,
    services::{FUNCTION_WEST, lambda, lambda_policy, start_seeded},
};
use serde_json::Value;

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
