//! AWS STS on the query protocol (form-encoded `Action=...` in, XML out, signed for `sts`):
//! AssumeRole and GetCallerIdentity, and the role sessions AssumeRole opens, whose temporary
//! credentials every service accepts as the role's account until they expire.

use std::{collections::HashMap, sync::LazyLock};

use axum::{http::StatusCode, response::Response};
use chrono::{DateTime, SecondsFormat, Utc};
use regex::Regex;
use serde_json::{Value, json};

use crate::{
    Catalog, Shared,
    accounts::{Caller, Identity},
    iam_rules::ROLE_ARN,
    protocol::{Protocol, sts_ok, xml_element},
    query::{self, Form, QueryError, check_length, check_pattern, constraint},
    rules::re,
    sigv4::AuthError,
    trust,
};

/// The STS actions the emulator serves.
pub const ACTIONS: [&str; 2] = ["AssumeRole", "GetCallerIdentity"];

/// STS's API version, the `Version` of every call.
pub const VERSION: &str = "2011-06-15";

/// STS as `query::admit` admits its calls.
pub const SERVICE: query::Service = query::Service {
    catalog: Catalog {
        protocol: Protocol::Sts,
        operations: &ACTIONS,
    },
    version: VERSION,
};

/// One role session: its temporary credentials and who they are.
pub struct Session {
    access_key_id: String,
    secret: String,
    token: String,
    identity: Identity,
    expires: DateTime<Utc>,
    /// The ARN of the caller that assumed the role.
    source_arn: String,
}

/// Every session opened so far (expired ones stay, to be told from unknown keys), and the cap
/// on their lifetime.
#[derive(Default)]
pub struct Sessions {
    cap: Option<u64>,
    by_key: HashMap<String, Session>,
}

impl Sessions {
    pub fn new(cap: Option<u64>) -> Self {
        Self {
            cap,
            by_key: HashMap::new(),
        }
    }

    /// The cap on every session's lifetime, in seconds.
    pub fn cap(&self) -> Option<u64> {
        self.cap
    }

    pub fn set_cap(&mut self, cap: Option<u64>) {
        self.cap = cap;
    }

    /// The account a session's access key serves in, valid or not.
    pub fn account_of(&self, access_key_id: &str) -> Option<String> {
        self.by_key
            .get(access_key_id)
            .map(|s| s.identity.account.clone())
    }

    /// The secret and identity of temporary credentials, when the request carries the session's
    /// token and the session has not expired.
    pub fn identify(
        &self,
        access_key_id: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(String, Identity), AuthError> {
        let session = self
            .by_key
            .get(access_key_id)
            .ok_or(AuthError::UnknownKey)?;
        if token != Some(session.token.as_str()) {
            return Err(AuthError::UnknownKey);
        }
        if now >= session.expires {
            return Err(AuthError::ExpiredToken);
        }
        Ok((session.secret.clone(), session.identity.clone()))
    }

    /// Forgets the sessions of roles in `account`.
    pub fn forget_account(&mut self, account: &str) {
        self.by_key.retain(|_, s| s.identity.account != account);
    }

    /// The sessions (of roles in `account`, or all) as `GET /_emulator/sts` lists them.
    pub fn admin(&self, account: Option<&str>) -> Vec<Value> {
        let now = Utc::now();
        let mut sessions: Vec<&Session> = self
            .by_key
            .values()
            .filter(|s| account.is_none_or(|a| s.identity.account == a))
            .collect();
        sessions.sort_by_key(|s| s.expires);
        sessions
            .into_iter()
            .map(|s| {
                json!({
                    "accessKeyId": s.access_key_id,
                    "account": s.identity.account,
                    "arn": s.identity.arn,
                    "roleArn": s.identity.role_arn,
                    "sourceArn": s.source_arn,
                    "expiration": timestamp(s.expires),
                    "expired": now >= s.expires,
                })
            })
            .collect()
    }

    /// Opens a session of `identity` for `duration` seconds (or the cap, when shorter).
    fn open(&mut self, identity: Identity, source_arn: &str, duration: u64) -> &Session {
        let lifetime = self.cap.map_or(duration, |cap| cap.min(duration));
        // Whole seconds, as STS answers: the Expiration the caller reads is the real one.
        let now = Utc::now().timestamp();
        let expires = i64::try_from(lifetime)
            .ok()
            .and_then(|l| now.checked_add(l))
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let access_key_id = format!("ASIA{}", &hex(1)[..16]);
        let session = Session {
            access_key_id: access_key_id.clone(),
            secret: hex(2)[..40].to_owned(),
            token: format!("IQoJb3JpZ2luX2VtdWxhdG9y{}", hex(4)),
            identity,
            expires,
            source_arn: source_arn.to_owned(),
        };
        self.by_key
            .entry(access_key_id)
            .insert_entry(session)
            .into_mut()
    }
}

/// `n` random UUIDs' worth of upper-case hex.
fn hex(n: usize) -> String {
    (0..n)
        .map(|_| uuid::Uuid::new_v4().simple().to_string().to_uppercase())
        .collect()
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// `\w` in STS's patterns is ASCII: letters, digits and underscore.
static SESSION_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9_+=,.@-]*$"));
static EXTERNAL_ID: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9_+=,.@:/-]*$"));

/// Serves one STS query call (`POST /` with a form body) that `query::admit` admitted.
pub async fn call(state: &Shared, operation: &str, caller: Caller, form: &Form) -> Response {
    let result = match operation {
        "AssumeRole" => assume_role(state, &caller, form).await,
        _ => Ok(caller_identity(&caller.identity)),
    };
    match result {
        Ok(xml) => sts_ok(operation, xml),
        Err(e) => e.response(Protocol::Sts),
    }
}

fn caller_identity(identity: &Identity) -> String {
    format!(
        "    {}\n    {}\n    {}\n",
        xml_element("Arn", &identity.arn),
        xml_element("UserId", &identity.user_id),
        xml_element("Account", &identity.account),
    )
}

/// What AssumeRole needs of the role.
struct Assumable {
    name: String,
    id: String,
    arn: String,
    trust: Value,
    max_session_duration: i64,
}

async fn assume_role(state: &Shared, caller: &Caller, form: &Form) -> Result<String, QueryError> {
    let role_arn = form.required("RoleArn", "roleArn")?;
    let session_name = form.required("RoleSessionName", "roleSessionName")?;
    check_length(role_arn, "roleArn", 20, 2048)?;
    check_length(session_name, "roleSessionName", 2, 64)?;
    check_pattern(
        session_name,
        "roleSessionName",
        &SESSION_NAME,
        r"[\w+=,.@-]*",
    )?;
    let external_id = form.get("ExternalId");
    if let Some(id) = external_id {
        check_length(id, "externalId", 2, 1224)?;
        check_pattern(id, "externalId", &EXTERNAL_ID, r"[\w+=,.@:\/-]*")?;
    }
    let duration = match form.get("DurationSeconds") {
        None => None,
        Some(text) => {
            let seconds = text.parse::<i64>().map_err(|_| {
                constraint(
                    text,
                    "durationSeconds",
                    "must be an integer between 900 and 43200",
                )
            })?;
            if seconds < 900 {
                return Err(constraint(
                    text,
                    "durationSeconds",
                    "must have value greater than or equal to 900",
                ));
            }
            if seconds > 43_200 {
                return Err(constraint(
                    text,
                    "durationSeconds",
                    "must have value less than or equal to 43200",
                ));
            }
            Some(seconds)
        }
    };
    let captures = ROLE_ARN
        .captures(role_arn)
        .ok_or_else(|| QueryError::validation(format!("{role_arn} is invalid")))?;
    let (account, path, name) = (&captures[1], &captures[2], &captures[3]);
    if caller.identity.is_role_session() && duration.is_some_and(|d| d > 3600) {
        return Err(QueryError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed \
             by role chaining.",
        ));
    }
    let denied = || {
        QueryError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.identity.arn
            ),
        )
    };
    // A role that does not exist is refused as one that does not trust the caller.
    let role = state
        .resources
        .lock()
        .await
        .get(account)
        .and_then(|resources| resources.role(name))
        .filter(|role| role.path == path)
        .map(|role| Assumable {
            name: role.name.clone(),
            id: role.id.clone(),
            arn: role.arn.clone(),
            trust: role.trust.value.clone(),
            max_session_duration: role.max_session_duration,
        })
        .ok_or_else(denied)?;
    let request = trust::Request {
        caller_account: &caller.identity.account,
        caller_arn: &caller.identity.arn,
        caller_role_arn: caller.identity.role_arn.as_deref(),
        external_id,
    };
    if !trust::allows(&role.trust, &request) {
        return Err(denied());
    }
    let duration = duration.unwrap_or(3600);
    if duration > role.max_session_duration {
        return Err(QueryError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let identity = Identity {
        account: account.to_owned(),
        arn: format!(
            "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
            role.name
        ),
        user_id: format!("{}:{session_name}", role.id),
        role_arn: Some(role.arn),
    };
    let mut sessions = state.sessions.lock().await;
    let session = sessions.open(
        identity,
        &caller.identity.arn,
        u64::try_from(duration).unwrap_or(3600),
    );
    Ok(format!(
        "    <Credentials>\n      {}\n      {}\n      {}\n      {}\n    </Credentials>\n    \
         <AssumedRoleUser>\n      {}\n      {}\n    </AssumedRoleUser>\n",
        xml_element("AccessKeyId", &session.access_key_id),
        xml_element("SecretAccessKey", &session.secret),
        xml_element("SessionToken", &session.token),
        xml_element("Expiration", &timestamp(session.expires)),
        xml_element("AssumedRoleId", &session.identity.user_id),
        xml_element("Arn", &session.identity.arn),
    ))
}
