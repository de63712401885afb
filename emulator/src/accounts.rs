//! The AWS accounts the emulator serves: the default one (`Settings::account_id` with
//! `Settings::credentials`) and the further ones of `Settings::accounts`, each with long-term
//! credentials; and who a verified request comes from.

use std::collections::HashMap;

use serde_json::Value;

/// A further account: its 12-digit ID, the long-term credentials of its IAM user, and the seed
/// document its roles, campaigns and functions start from (applied at start and on reset).
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// A seed document as `POST /_emulator/seed?account=ID` takes; its ARNs name this account.
    pub seed: Option<Value>,
}

impl Account {
    /// An account without a seed.
    pub fn new(
        id: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            seed: None,
        }
    }

    /// The command line's `ID=ACCESS_KEY_ID:SECRET_ACCESS_KEY`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let problem = || format!("an account is ID=ACCESS_KEY_ID:SECRET_ACCESS_KEY, not {text:?}");
        let (id, credentials) = text.split_once('=').ok_or_else(problem)?;
        let (key, secret) = credentials.split_once(':').ok_or_else(problem)?;
        if key.is_empty() || secret.is_empty() {
            return Err(problem());
        }
        if !is_account_id(id) {
            return Err(format!("the account ID {id:?} is not 12 digits"));
        }
        Ok(Self::new(id, key, secret))
    }
}

pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The IAM user whose long-term credentials sign an account's requests.
pub const USER_NAME: &str = "emulator";

/// A long-term access key: its secret and its account.
pub struct LongTermKey {
    pub secret: String,
    pub account: String,
}

/// Every long-term access key of every account; refuses an account ID that is not 12 digits or
/// is given twice, and an access key that two accounts share.
pub fn long_term_keys(
    default_account: &str,
    default_credentials: &HashMap<String, String>,
    accounts: &[Account],
) -> Result<HashMap<String, LongTermKey>, String> {
    if !is_account_id(default_account) {
        return Err(format!(
            "the account ID {default_account:?} is not 12 digits"
        ));
    }
    let mut keys: HashMap<String, LongTermKey> = default_credentials
        .iter()
        .map(|(key, secret)| {
            let account = default_account.to_owned();
            let secret = secret.clone();
            (key.clone(), LongTermKey { secret, account })
        })
        .collect();
    let mut ids = vec![default_account];
    for account in accounts {
        if !is_account_id(&account.id) {
            return Err(format!("the account ID {:?} is not 12 digits", account.id));
        }
        if ids.contains(&account.id.as_str()) {
            return Err(format!("the account {} is given twice", account.id));
        }
        ids.push(&account.id);
        if account.access_key_id.is_empty() || account.secret_access_key.is_empty() {
            return Err(format!(
                "the account {} needs an access key ID and a secret",
                account.id
            ));
        }
        let key = LongTermKey {
            secret: account.secret_access_key.clone(),
            account: account.id.clone(),
        };
        if keys.insert(account.access_key_id.clone(), key).is_some() {
            return Err(format!(
                "the access key {} belongs to two accounts",
                account.access_key_id
            ));
        }
    }
    Ok(keys)
}

/// Who signed a request, as GetCallerIdentity answers.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The account the request is served in: the key's, or for temporary credentials the
    /// role's.
    pub account: String,
    /// `arn:aws:iam::ACCOUNT:user/emulator` or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// `AIDA...` for the user, `AROA...:SESSION` for a role session.
    pub user_id: String,
    /// The role ARN of a role session.
    pub role_arn: Option<String>,
}

impl Identity {
    /// The IAM user of `account`'s long-term key `access_key_id`.
    pub fn user(account: &str, access_key_id: &str) -> Self {
        Self {
            account: account.to_owned(),
            arn: format!("arn:aws:iam::{account}:user/{USER_NAME}"),
            user_id: format!("AIDA{:017X}", fnv1a(&format!("{account}/{access_key_id}"))),
            role_arn: None,
        }
    }

    /// Whether the caller is a role session (whose AssumeRole is role chaining).
    pub fn is_role_session(&self) -> bool {
        self.role_arn.is_some()
    }
}

/// A verified caller in the Region its signature names.
#[derive(Clone, Debug)]
pub struct Caller {
    pub identity: Identity,
    pub region: String,
}

/// A stable, unremarkable hash for IDs derived from names.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_line_form() {
        let account = Account::parse("210987654321=AKIDB:s3cr:et").expect("valid");
        assert_eq!(
            (account.id.as_str(), account.access_key_id.as_str()),
            ("210987654321", "AKIDB")
        );
        assert_eq!(account.secret_access_key, "s3cr:et");
        for bad in [
            "210987654321",
            "2109=AK:S",
            "210987654321=AK",
            "210987654321=:S",
        ] {
            assert!(Account::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_and_ids_are_unique() {
        let default = HashMap::from([("test".to_owned(), "test".to_owned())]);
        let ok = [Account::new("210987654321", "AKIDB", "b")];
        let keys = long_term_keys("123456789012", &default, &ok).expect("valid");
        assert_eq!(keys["AKIDB"].account, "210987654321");
        assert_eq!(keys["test"].account, "123456789012");
        for bad in [
            vec![Account::new("123456789012", "AKIDB", "b")],
            vec![Account::new("210987654321", "test", "b")],
            vec![Account::new("21098765432", "AKIDB", "b")],
            vec![
                Account::new("210987654321", "AKIDB", "b"),
                Account::new("210987654321", "AKIDC", "c"),
            ],
        ] {
            assert!(long_term_keys("123456789012", &default, &bad).is_err());
        }
        assert!(long_term_keys("1234", &default, &[]).is_err());
    }

    #[test]
    fn a_user_has_a_stable_id() {
        let a = Identity::user("123456789012", "test");
        assert_eq!(a.arn, "arn:aws:iam::123456789012:user/emulator");
        assert_eq!(a.user_id, Identity::user("123456789012", "test").user_id);
        assert_eq!(a.user_id.len(), 21);
        assert!(a.user_id.starts_with("AIDA"));
    }
}
