//! Which AWS account each namespace's models publish into: the `accounts` section of the tenancy
//! file. A binding names a role in the account, which the operator assumes for the namespace's
//! models (ACK's cross-account resource management does the same), with the external ID the
//! role's trust policy asks for:
//!
//! ```yaml
//! accounts:
//!   bindings:                       # the first binding whose namespace matches wins
//!     - namespace: team-a           # a name or a pattern (`*` matches any run of characters)
//!       roleArn: arn:aws:iam::111111111111:role/recommender-operator
//!       externalId: team-a-7f3c     # optional
//!   unbound: operator               # operator (default): the operator's own account; refuse
//! ```

use serde::Deserialize;

use crate::domain::arn::Arn;

/// One binding: the namespaces, the role assumed for them, and its account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountBinding {
    namespace: glob::Pattern,
    pub role_arn: String,
    pub external_id: Option<String>,
    /// The account the role is in (from its ARN).
    pub account_id: String,
}

/// What a namespace's models publish with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountChoice<'a> {
    /// The operator's own credentials and account.
    Operator,
    /// The role of this binding.
    Bound(&'a AccountBinding),
    /// No binding, and unbound namespaces are refused.
    Refused,
}

/// The bindings in force; by default none, and every namespace uses the operator's account.
#[derive(Clone, Debug, Default)]
pub struct AccountBindings {
    bindings: Vec<AccountBinding>,
    refuse_unbound: bool,
}

/// The section's layout; unknown keys are refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Section {
    #[serde(default)]
    bindings: Vec<Entry>,
    #[serde(default)]
    unbound: Unbound,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    namespace: String,
    role_arn: String,
    external_id: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Unbound {
    #[default]
    Operator,
    Refuse,
}

impl AccountBindings {
    /// The section as bindings; each error starts with where it is (`accounts.bindings[1]`).
    pub(super) fn from_section(section: Section) -> Result<Self, String> {
        let bindings = section
            .bindings
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let at = format!("accounts.bindings[{i}]");
                let namespace = glob::Pattern::new(&e.namespace)
                    .ok()
                    .filter(|_| !e.namespace.is_empty())
                    .ok_or_else(|| {
                        format!("{at}.namespace: {:?} is not a namespace or pattern", e.namespace)
                    })?;
                let account_id = role_account(&e.role_arn).ok_or_else(|| {
                    format!(
                        "{at}.roleArn: {:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                        e.role_arn
                    )
                })?;
                if let Some(id) = &e.external_id {
                    external_id(id).map_err(|m| format!("{at}.externalId: {m}"))?;
                }
                Ok(AccountBinding {
                    namespace,
                    account_id: account_id.to_owned(),
                    role_arn: e.role_arn,
                    external_id: e.external_id,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            bindings,
            refuse_unbound: matches!(section.unbound, Unbound::Refuse),
        })
    }

    /// The account `namespace`'s models publish into.
    pub fn choose(&self, namespace: &str) -> AccountChoice<'_> {
        match self
            .bindings
            .iter()
            .find(|b| b.namespace.matches(namespace))
        {
            Some(binding) => AccountChoice::Bound(binding),
            None if self.refuse_unbound => AccountChoice::Refused,
            None => AccountChoice::Operator,
        }
    }

    /// For the log line.
    pub fn summary(&self) -> String {
        format!(
            "{} account binding(s), unbound namespaces {}",
            self.bindings.len(),
            if self.refuse_unbound {
                "refused"
            } else {
                "use the operator's account"
            }
        )
    }
}

/// The account of an IAM role ARN in any partition.
fn role_account(arn: &str) -> Option<&str> {
    let arn = Arn::parse(arn)?;
    let named = arn
        .resource
        .strip_prefix("role/")
        .is_some_and(|n| !n.is_empty());
    let account = arn.account.len() == 12 && arn.account.bytes().all(|b| b.is_ascii_digit());
    (arn.service == "iam" && arn.region.is_empty() && named && account).then_some(arn.account)
}

/// STS's rule for an external ID: 2 to 1224 characters of `[\w+=,.@:/-]`.
fn external_id(id: &str) -> Result<(), String> {
    let valid = (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
    if valid {
        Ok(())
    } else {
        Err("2 to 1224 letters, digits and _+=,.@:/- (STS's rule)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(yaml: &str) -> Result<AccountBindings, String> {
        let section: Section = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        AccountBindings::from_section(section)
    }

    #[test]
    fn the_first_matching_binding_wins_and_the_rest_follow_unbound() {
        let b = bindings(
            "bindings:\n\
             - {namespace: team-a, roleArn: 'arn:aws:iam::111111111111:role/ops', externalId: ext-a}\n\
             - {namespace: 'team-*', roleArn: 'arn:aws-cn:iam::222222222222:role/path/ops'}\n",
        )
        .expect("valid");
        let AccountChoice::Bound(a) = b.choose("team-a") else {
            panic!("team-a is bound")
        };
        assert_eq!(
            (a.account_id.as_str(), a.external_id.as_deref()),
            ("111111111111", Some("ext-a"))
        );
        let AccountChoice::Bound(other) = b.choose("team-b") else {
            panic!("team-b is bound")
        };
        assert_eq!(other.account_id, "222222222222");
        assert_eq!(b.choose("shop"), AccountChoice::Operator);
        let refusing = bindings("unbound: refuse\n").expect("valid");
        assert_eq!(refusing.choose("shop"), AccountChoice::Refused);
    }

    #[test]
    fn a_bad_binding_names_its_field() {
        for (yaml, field) in [
            (
                "bindings: [{namespace: a, roleArn: 'arn:aws:iam::12:role/x'}]",
                "accounts.bindings[0].roleArn",
            ),
            (
                "bindings: [{namespace: a, roleArn: 'arn:aws:iam::111111111111:user/x'}]",
                "accounts.bindings[0].roleArn",
            ),
            (
                "bindings: [{namespace: '', roleArn: 'arn:aws:iam::111111111111:role/x'}]",
                "accounts.bindings[0].namespace",
            ),
            (
                "bindings: [{namespace: a, roleArn: 'arn:aws:iam::111111111111:role/x', externalId: 'a b'}]",
                "accounts.bindings[0].externalId",
            ),
        ] {
            let err = bindings(yaml).expect_err(yaml);
            assert!(err.starts_with(field), "{yaml}: {err}");
        }
        assert!(bindings("unbound: sometimes\n").is_err());
    }
}
