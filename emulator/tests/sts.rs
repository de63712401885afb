//! Drives the emulator's STS with the real `aws-sdk-sts` client: AssumeRole across accounts, the
//! trust policy and its external ID, STS's input checks, temporary credentials on every service
//! until they expire, GetCallerIdentity, and injected STS faults.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sts::error::ProvideErrorMetadata;
use common::*;
use serde_json::json;

/// Seconds since the epoch, now.
fn now() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_secs()).expect("seconds fit")
}

/// Seconds until temporary credentials expire.
fn seconds_left(credentials: &aws_sdk_sts::types::Credentials) -> i64 {
    credentials.expiration().secs() - now()
}

#[tokio::test]
async fn assume_role_returns_credentials_that_act_in_the_roles_account() {
    let addr = start(settings()).await;
    let assumed = assume(addr, default_credentials(), CROSS_ROLE, Some(EXTERNAL_ID))
        .await
        .expect("the role trusts the default account with this external ID");
    let credentials = assumed.credentials().expect("credentials");
    assert!(
        credentials.access_key_id().starts_with("ASIA"),
        "{credentials:?}"
    );
    assert_eq!(credentials.access_key_id().len(), 20);
    assert!(!credentials.secret_access_key().is_empty());
    assert!(!credentials.session_token().is_empty());
    // The default session is one hour.
    let left = seconds_left(credentials);
    assert!((3590..=3600).contains(&left), "expires in {left} s");
    let user = assumed.assumed_role_user().expect("the assumed role user");
    assert_eq!(
        user.arn(),
        "arn:aws:sts::210987654321:assumed-role/CrossAccount/session-1"
    );
    assert!(user.assumed_role_id().starts_with("AROA"), "{user:?}");
    assert!(user.assumed_role_id().ends_with(":session-1"), "{user:?}");

    // Pinpoint with the temporary credentials: the configuration is the role's account's.
    let temporary = temporary(credentials);
    create(&pinpoint(addr, temporary.clone()), "in-the-role-account")
        .await
        .expect("created with temporary credentials");
    assert_eq!(
        names(addr, &format!("/_emulator/configurations?account={OTHER}")).await,
        ["in-the-role-account"]
    );
    assert!(names(addr, "/_emulator/configurations").await.is_empty());
    assert!(
        names(
            addr,
            &format!("/_emulator/configurations?account={DEFAULT}")
        )
        .await
        .is_empty()
    );

    // IAM too: the role's account's roles, and a role created there.
    let iam = iam(addr, temporary.clone());
    iam.get_role()
        .role_name("CrossAccount")
        .send()
        .await
        .expect("the role account's own role");
    let err = iam
        .get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("a role of the caller's account")
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");

    // Personalize and Lambda: the role's account's campaign and function.
    personalize(addr, temporary.clone())
        .describe_campaign()
        .campaign_arn(OTHER_CAMPAIGN)
        .send()
        .await
        .expect("the role account's campaign");
    lambda(addr, temporary.clone())
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect("the role account's function");

    // AssumeRole is counted for the caller's account, the rest for the role's.
    let calls = admin_get(addr, &format!("/_emulator/calls?account={DEFAULT}")).await;
    assert_eq!(calls, json!({ "AssumeRole": 1 }));
    let calls = admin_get(addr, &format!("/_emulator/calls?account={OTHER}")).await;
    assert_eq!(calls["CreateRecommenderConfiguration"], 1, "{calls}");
    assert_eq!(calls["GetRole"], 2, "{calls}");
    assert_eq!(calls.get("AssumeRole"), None, "{calls}");
    // Without ?account=, every account's calls.
    let all = admin_get(addr, "/_emulator/calls").await;
    assert_eq!(all["AssumeRole"], 1, "{all}");
    assert_eq!(all["GetRole"], 2, "{all}");

    // The admin API lists the session.
    let state = admin_get(addr, &format!("/_emulator/sts?account={OTHER}")).await;
    assert_eq!(state["sessionSeconds"], json!(null));
    let sessions = state["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1, "{state}");
    assert_eq!(sessions[0]["roleArn"], CROSS_ROLE);
    assert_eq!(
        sessions[0]["sourceArn"],
        "arn:aws:iam::123456789012:user/emulator"
    );
}

#[tokio::test]
async fn the_trust_policy_decides_who_may_assume() {
    let addr = start(settings()).await;
    let denied = |role: &str| {
        format!(
            "User: arn:aws:iam::123456789012:user/emulator is not authorized to perform: \
             sts:AssumeRole on resource: {role}"
        )
    };
    let missing = "arn:aws:iam::210987654321:role/Missing";
    let default_missing = "arn:aws:iam::123456789012:role/CrossAccount";
    for (role, external_id, why) in [
        (CROSS_ROLE, None, "no external ID"),
        (CROSS_ROLE, Some("ext-2"), "the wrong external ID"),
        (STRANGER_ROLE, None, "trusts another account"),
        (SERVICE_ROLE, None, "trusts a service only"),
        (missing, None, "no such role"),
        (
            default_missing,
            Some(EXTERNAL_ID),
            "no such role in the account the ARN names",
        ),
        (
            "arn:aws:iam::210987654321:role/Open",
            None,
            "the role's path is /ops/",
        ),
    ] {
        let err = assume(addr, default_credentials(), role, external_id)
            .await
            .expect_err(why);
        assert_refused(&err, 403, "AccessDenied");
        assert_eq!(err.message(), Some(denied(role).as_str()), "{why}");
    }
    // The same role, asked right; and a role trusting the account by ID without a condition,
    // with or without an external ID.
    assume(addr, default_credentials(), CROSS_ROLE, Some(EXTERNAL_ID))
        .await
        .expect("the right external ID");
    for external_id in [None, Some("anything")] {
        assume(addr, default_credentials(), OPEN_ROLE, external_id)
            .await
            .expect("trusted by account ID");
    }
    // The other account's own user is not the default account's root.
    let err = assume(addr, other_credentials(), CROSS_ROLE, Some(EXTERNAL_ID))
        .await
        .expect_err("the role's own account is not trusted");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    assert!(
        err.message()
            .is_some_and(|m| m.starts_with("User: arn:aws:iam::210987654321:user/emulator ")),
        "{err:?}"
    );
}

#[tokio::test]
async fn assume_role_checks_its_input_as_sts_does() {
    let addr = start(settings()).await;
    let client = sts(addr, default_credentials());
    let long_name = "n".repeat(65);
    let beyond_maximum =
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";
    let user = "arn:aws:iam::210987654321:user/someone";
    for (role, name, external_id, duration, expected) in [
        (
            OPEN_ROLE,
            "x",
            None,
            None,
            "Member must have length greater than or equal to 2",
        ),
        (
            OPEN_ROLE,
            "has space",
            None,
            None,
            "Member must satisfy regular expression pattern",
        ),
        (
            OPEN_ROLE,
            &long_name,
            None,
            None,
            "less than or equal to 64",
        ),
        (
            OPEN_ROLE,
            "ok",
            None,
            Some(899),
            "greater than or equal to 900",
        ),
        (
            OPEN_ROLE,
            "ok",
            None,
            Some(43_201),
            "less than or equal to 43200",
        ),
        (OPEN_ROLE, "ok", Some("x"), None, "at 'externalId'"),
        (OPEN_ROLE, "ok", Some("no spaces"), None, "at 'externalId'"),
        // Beyond the role's maxSessionDuration (7200), and the default maximum (3600).
        (OPEN_ROLE, "too-long", None, Some(7201), beyond_maximum),
        (
            CROSS_ROLE,
            "s1",
            Some(EXTERNAL_ID),
            Some(3601),
            beyond_maximum,
        ),
        // An ARN that is not a role's.
        (user, "s1", None, None, "is invalid"),
    ] {
        let err = assume_role(&client, role, name, external_id, duration)
            .await
            .expect_err(expected);
        assert_refused(&err, 400, "ValidationError");
        assert!(
            err.message().is_some_and(|m| m.contains(expected)),
            "{expected}: {err:?}"
        );
    }
    // Up to the role's maxSessionDuration.
    let assumed = assume_role(&client, OPEN_ROLE, "two-hours", None, Some(7200))
        .await
        .expect("within the role's maximum");
    let left = seconds_left(assumed.credentials().expect("credentials"));
    assert!((7190..=7200).contains(&left), "expires in {left} s");
}

#[tokio::test]
async fn temporary_credentials_need_their_session_token() {
    let addr = start(settings()).await;
    let session = role_session(addr, OPEN_ROLE, None).await;
    let (key, secret) = (session.access_key_id(), session.secret_access_key());
    for token in [None, Some("not-the-token".to_owned())] {
        let forged = aws_credential_types::Credentials::new(key, secret, token, None, "test");
        let err = create(&pinpoint(addr, forged.clone()), "forged")
            .await
            .expect_err("the session token is required");
        assert_refused(&err, 403, "UnrecognizedClientException");
        let err = caller_identity(addr, forged)
            .await
            .expect_err("the session token is required");
        assert_eq!(err.code(), Some("InvalidClientTokenId"), "{err:?}");
    }
    assert!(
        names(addr, &format!("/_emulator/configurations?account={OTHER}"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn expired_credentials_are_refused_on_every_protocol() {
    let addr = start(pinpoint_emulator::Settings {
        sts_max_session_seconds: Some(3),
        ..settings()
    })
    .await;
    let state = admin_get(addr, "/_emulator/sts").await;
    assert_eq!(state["sessionSeconds"], 3, "{state}");
    let assumed = assume(addr, default_credentials(), OPEN_ROLE, None)
        .await
        .expect("assumed");
    let credentials = assumed.credentials().expect("credentials");
    // The Expiration tells the capped truth.
    let expires = credentials.expiration().secs();
    let left = seconds_left(credentials);
    assert!((1..=3).contains(&left), "expires in {left} s");
    let temporary = temporary(credentials);
    create(&pinpoint(addr, temporary.clone()), "before-expiry")
        .await
        .expect("the session is live");

    let wait = u64::try_from(expires - now()).unwrap_or(0) * 1000 + 1100;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let message = "The security token included in the request is expired";
    let err = create(&pinpoint(addr, temporary.clone()), "after-expiry")
        .await
        .expect_err("expired");
    assert_refused(&err, 403, "ExpiredTokenException");
    assert_eq!(err.message(), Some(message));
    let err = caller_identity(addr, temporary.clone())
        .await
        .expect_err("expired");
    assert_refused(&err, 403, "ExpiredToken");
    assert_eq!(err.message(), Some(message));
    let err = iam(addr, temporary.clone())
        .get_role()
        .role_name("Open")
        .send()
        .await
        .expect_err("expired");
    assert_eq!(err.code(), Some("ExpiredToken"), "{err:?}");
    let err = personalize(addr, temporary.clone())
        .describe_campaign()
        .campaign_arn(OTHER_CAMPAIGN)
        .send()
        .await
        .expect_err("expired");
    assert_eq!(err.code(), Some("ExpiredTokenException"), "{err:?}");
    let err = lambda(addr, temporary)
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect_err("expired");
    assert_eq!(err.code(), Some("ExpiredTokenException"), "{err:?}");
    let state = admin_get(addr, "/_emulator/sts").await;
    assert_eq!(state["sessions"][0]["expired"], true, "{state}");

    // The cap moves at run time, and null lifts it.
    for (cap, expected) in [(json!(60), 58..=60), (json!(null), 3590..=3600)] {
        admin_post(addr, "/_emulator/sts", json!({ "sessionSeconds": cap })).await;
        let assumed = assume(addr, default_credentials(), OPEN_ROLE, None)
            .await
            .expect("assumed");
        let left = seconds_left(assumed.credentials().expect("credentials"));
        assert!(expected.contains(&left), "cap {cap}: expires in {left} s");
    }
    for bad in [json!({ "sessionSeconds": 0 }), json!({ "seconds": 5 })] {
        let answer = admin(addr, "POST", "/_emulator/sts", Some(bad.clone())).await;
        assert_eq!(answer.status, 400, "{bad}: {answer:?}");
    }
}

#[tokio::test]
async fn get_caller_identity_names_the_account_and_the_arn() {
    let addr = start(settings()).await;
    for (credentials, account) in [
        (default_credentials(), DEFAULT),
        (other_credentials(), OTHER),
    ] {
        let me = caller_identity(addr, credentials)
            .await
            .expect("long-term credentials");
        assert_eq!(me.account(), Some(account));
        assert_eq!(
            me.arn(),
            Some(format!("arn:aws:iam::{account}:user/emulator").as_str())
        );
        assert!(
            me.user_id().is_some_and(|id| id.starts_with("AIDA")),
            "{me:?}"
        );
    }
    let assumed = assume(addr, default_credentials(), CROSS_ROLE, Some(EXTERNAL_ID))
        .await
        .expect("assumed");
    let session = temporary(assumed.credentials().expect("credentials"));
    let me = caller_identity(addr, session.clone())
        .await
        .expect("temporary credentials");
    assert_eq!(me.account(), Some(OTHER));
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::210987654321:assumed-role/CrossAccount/session-1")
    );
    assert_eq!(
        me.user_id(),
        assumed.assumed_role_user().map(|u| u.assumed_role_id())
    );
    assert_eq!(
        admin_get(addr, &format!("/_emulator/calls?account={OTHER}")).await,
        json!({ "GetCallerIdentity": 2 })
    );

    // Role chaining: the session assumes a role that trusts the first role, for at most 1 h.
    let client = sts(addr, session);
    let chained = assume_role(&client, CHAINED_ROLE, "chained", None, None)
        .await
        .expect("the chained role trusts CrossAccount");
    assert_eq!(
        chained.assumed_role_user().map(|u| u.arn()),
        Some("arn:aws:sts::210987654321:assumed-role/Chained/chained")
    );
    let err = assume_role(&client, CHAINED_ROLE, "chained", None, Some(3601))
        .await
        .expect_err("role chaining is limited to an hour");
    assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
}

#[tokio::test]
async fn an_injected_assume_role_fault_is_an_sts_outage() {
    let addr = start(settings()).await;
    for (status, code) in [(503, "ServiceUnavailable"), (500, "InternalFailure")] {
        admin_post(
            addr,
            "/_emulator/faults",
            json!({ "operation": "AssumeRole", "status": status, "count": 1 }),
        )
        .await;
        let err = assume(addr, default_credentials(), OPEN_ROLE, None)
            .await
            .expect_err("STS is down");
        assert_refused(&err, status, code);
        assume(addr, default_credentials(), OPEN_ROLE, None)
            .await
            .expect("the fault has passed");
    }
    // A fault naming an account hits that account's callers only.
    admin_post(
        addr,
        &format!("/_emulator/faults?account={OTHER}"),
        json!({ "operation": "GetCallerIdentity", "status": 503 }),
    )
    .await;
    let faults = admin_get(addr, "/_emulator/faults").await;
    assert_eq!(faults[0]["account"], OTHER, "{faults}");
    caller_identity(addr, default_credentials())
        .await
        .expect("the default account is not hit");
    let err = caller_identity(addr, other_credentials())
        .await
        .expect_err("the other account is hit");
    assert_eq!(err.code(), Some("ServiceUnavailable"), "{err:?}");
    // So are temporary credentials of its roles.
    let session = role_session(addr, OPEN_ROLE, None).await;
    let err = caller_identity(addr, session)
        .await
        .expect_err("a session in the other account is hit");
    assert_eq!(err.code(), Some("ServiceUnavailable"), "{err:?}");
    assert_eq!(
        admin_get(addr, &format!("/_emulator/calls?account={DEFAULT}")).await["AssumeRole"],
        5
    );
}

#[tokio::test]
async fn answers_are_sts_xml() {
    let addr = start(settings()).await;
    let form = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=raw&ExternalId={EXTERNAL_ID}",
        CROSS_ROLE.replace(':', "%3A").replace('/', "%2F")
    );
    let answer = raw(addr, "POST", "/", &signed_form(addr, &form), &form).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = &answer.body;
    assert!(
        body.starts_with(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
             <AssumeRoleResult>\n    <Credentials>\n      <AccessKeyId>ASIA"
        ),
        "{body}"
    );
    for part in [
        "<SessionToken>",
        "<Expiration>",
        "</Credentials>\n    <AssumedRoleUser>\n      <AssumedRoleId>AROA",
        ":raw</AssumedRoleId>\n      \
         <Arn>arn:aws:sts::210987654321:assumed-role/CrossAccount/raw</Arn>",
        "</AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }

    let form = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2FStranger&RoleSessionName=raw";
    let answer = raw(addr, "POST", "/", &signed_form(addr, form), form).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(
        answer.body.starts_with(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
             <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    <Message>User: \
             arn:aws:iam::123456789012:user/emulator is not authorized to perform: \
             sts:AssumeRole on resource: arn:aws:iam::210987654321:role/Stranger</Message>"
        ),
        "{answer:?}"
    );

    // An STS action the emulator does not serve, signed for STS: InvalidAction in STS's XML.
    let form = "Action=GetSessionToken&Version=2011-06-15";
    let answer = raw(addr, "POST", "/", &signed_form(addr, form), form).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("<Code>InvalidAction</Code>")
            && answer.body.contains("sts.amazonaws.com"),
        "{answer:?}"
    );
}
