//! Checks AWS Signature Version 4 on incoming requests the way AWS does: recompute the signature
//! over the headers the client says it signed, with the secret the emulator knows for that key.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use axum::http::{HeaderMap, Method};

/// The service name Pinpoint signs with.
pub const SIGNING_NAME: &str = "mobiletargeting";

/// Why a request was refused; each maps to an AWS error type (all 403).
#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed(String),
    UnknownKey,
    BadSignature,
    Expired,
    /// Temporary credentials past their expiration.
    ExpiredToken,
    /// The credential scope names another service than the one the request is for.
    WrongService {
        expected: String,
        found: String,
    },
}

impl AuthError {
    pub fn error_type(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Malformed(_) => "IncompleteSignatureException",
            AuthError::UnknownKey => "UnrecognizedClientException",
            AuthError::BadSignature => "InvalidSignatureException",
            AuthError::Expired => "InvalidSignatureException",
            AuthError::ExpiredToken => "ExpiredTokenException",
            AuthError::WrongService { .. } => "InvalidSignatureException",
        }
    }

    /// The error code the query protocol (IAM, STS) uses.
    pub fn query_code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationToken",
            AuthError::ExpiredToken => "ExpiredToken",
            AuthError::Malformed(_) => "IncompleteSignature",
            AuthError::UnknownKey => "InvalidClientTokenId",
            AuthError::BadSignature | AuthError::Expired | AuthError::WrongService { .. } => {
                "SignatureDoesNotMatch"
            }
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthError::Missing => "Missing Authentication Token".into(),
            AuthError::Malformed(why) => format!("Authorization header is malformed: {why}"),
            AuthError::UnknownKey => "The security token included in the request is invalid.".into(),
            AuthError::BadSignature => "The request signature we calculated does not match the signature you provided.".into(),
            AuthError::Expired => "Signature expired: the request time is more than 15 minutes from the server's time.".into(),
            AuthError::ExpiredToken => "The security token included in the request is expired".into(),
            AuthError::WrongService { expected, found } => format!("Credential should be scoped to correct service: '{expected}', not '{found}'."),
        }
    }
}

/// A verified request's signing scope.
#[derive(Debug)]
pub struct Scope {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| AuthError::Malformed("only AWS4-HMAC-SHA256 is supported".into()))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let missing = |what: &str| AuthError::Malformed(format!("no {what}"));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(AuthError::Malformed(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request".into(),
        ));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed
            .ok_or_else(|| missing("SignedHeaders"))?
            .split(';')
            .collect(),
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

/// The access key ID the request's Authorization header names, before any check of the
/// signature: what call counts and account-scoped faults go by.
pub fn claimed_access_key(headers: &HeaderMap) -> Option<&str> {
    claimed(headers).map(|a| a.access_key_id)
}

/// The service the request's credential scope names, before any check of the signature.
pub fn claimed_service(headers: &HeaderMap) -> Option<&str> {
    claimed(headers).map(|a| a.service)
}

fn claimed(headers: &HeaderMap) -> Option<Authorization<'_>> {
    let value = headers.get("authorization")?.to_str().ok()?;
    parse_authorization(value).ok()
}

fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let t = chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ").ok()?;
    let seconds = u64::try_from(t.and_utc().timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Verifies the request's signature with `secret_for(access_key_id)`; the credential scope must
/// name `service` (the signing name: `mobiletargeting`, `iam`, `personalize`, `lambda`, `sts`).
pub fn verify(
    service: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    secret_for: impl Fn(&str) -> Option<String>,
) -> Result<Scope, AuthError> {
    verify_with(service, method, path_and_query, headers, body, |key, _| {
        secret_for(key)
            .map(|s| (s, ()))
            .ok_or(AuthError::UnknownKey)
    })
    .map(|(scope, ())| scope)
}

/// Like `verify`, with `resolve(access_key_id, security_token)` answering the secret and what
/// the caller knows of the key (or why the key or its token is refused), after the request's
/// shape is checked and before its signature is.
pub fn verify_with<T>(
    service: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    resolve: impl FnOnce(&str, Option<&str>) -> Result<(String, T), AuthError>,
) -> Result<(Scope, T), AuthError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let auth = parse_authorization(header("authorization").ok_or(AuthError::Missing)?)?;
    if auth.service != service {
        return Err(AuthError::WrongService {
            expected: service.to_owned(),
            found: auth.service.to_owned(),
        });
    }
    let amz_date =
        header("x-amz-date").ok_or_else(|| AuthError::Malformed("no X-Amz-Date header".into()))?;
    if !amz_date.starts_with(auth.date) {
        return Err(AuthError::Malformed(
            "the credential scope's date is not the X-Amz-Date's".into(),
        ));
    }
    let time = parse_amz_date(amz_date)
        .ok_or_else(|| AuthError::Malformed("X-Amz-Date is not YYYYMMDDTHHMMSSZ".into()))?;
    let skew = SystemTime::now()
        .duration_since(time)
        .unwrap_or_else(|e| e.duration());
    if skew > Duration::from_secs(15 * 60) {
        return Err(AuthError::Expired);
    }
    if !auth.signed_headers.contains(&"host") {
        return Err(AuthError::Malformed(
            "the host header must be signed".into(),
        ));
    }
    let token = header("x-amz-security-token");
    let (secret, known) = resolve(auth.access_key_id, token)?;

    let mut signed = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let value = header(name)
            .ok_or_else(|| AuthError::Malformed(format!("signed header {name} is missing")))?;
        signed.push((*name, value));
    }
    let identity = Credentials::new(
        auth.access_key_id,
        secret,
        token.map(str::to_owned),
        None,
        "emulator",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Sign exactly what the client listed, nothing more and nothing less.
    settings.excluded_headers = None;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| AuthError::Malformed(e.to_string()))?
        .into();
    let request = SignableRequest::new(
        method.as_str(),
        path_and_query,
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| AuthError::Malformed(e.to_string()))?;
    let expected = sign(request, &params).map_err(|e| AuthError::Malformed(e.to_string()))?;
    if expected.signature() != auth.signature {
        return Err(AuthError::BadSignature);
    }
    Ok((
        Scope {
            access_key_id: auth.access_key_id.to_owned(),
            region: auth.region.to_owned(),
            service: auth.service.to_owned(),
        },
        known,
    ))
}
