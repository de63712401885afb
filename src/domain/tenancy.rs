//! Who may do what on a cluster that several teams share: which IAM roles each namespace may hand
//! to Pinpoint, and which existing configurations each namespace may adopt. Configurations are
//! account-wide, so without these rules any namespace could publish with another team's role or
//! take over (and, with `deletionPolicy: Delete`, later delete) another team's configuration.
//!
//! The settings come from one YAML file (`--tenancy-config`, reloaded while running):
//!
//! ```yaml
//! allowedRoles:                     # absent: every role; present (even empty): only matches
//!   - namespace: team-a             # a name or a pattern (`*` matches any run of characters)
//!     roleArn: arn:aws:iam::123456789012:role/team-a-*
//! adoption:                         # absent: any namespace, any unclaimed configuration;
//!   - namespace: team-a             # present (even empty): only what a rule lists
//!     configurationIds: ["*"]
//! ```
//!
//! or, for roles only, from `--allowed-roles NAMESPACE=PATTERN` flags. Its `accounts` section
//! binds namespaces to AWS accounts (`domain::accounts`).

use std::str::FromStr;

use serde::Deserialize;

use crate::domain::accounts::{AccountBindings, AccountChoice, Section as AccountsSection};

/// A namespace (or namespace pattern) and what it may use.
#[derive(Clone, Debug)]
struct Rule {
    namespace: glob::Pattern,
    allowed: Vec<glob::Pattern>,
}

impl Rule {
    fn applies_to(&self, namespace: &str) -> bool {
        self.namespace.matches(namespace)
    }

    fn allows(&self, value: &str) -> bool {
        self.allowed.iter().any(|p| p.matches(value))
    }
}

/// One `NAMESPACE=PATTERN` rule of `--allowed-roles`.
#[derive(Clone, Debug)]
pub struct RoleRule(Rule);

impl FromStr for RoleRule {
    type Err = String;

    fn from_str(rule: &str) -> Result<Self, Self::Err> {
        let (namespace, pattern) = rule
            .split_once('=')
            .ok_or_else(|| format!("{rule:?} is not NAMESPACE=ROLE_ARN_PATTERN"))?;
        if namespace.is_empty() {
            return Err(format!("{rule:?} names no namespace (use * for all)"));
        }
        Ok(Self(Rule {
            namespace: pattern_of(namespace).map_err(|e| format!("{rule:?}: {e}"))?,
            allowed: vec![pattern_of(pattern).map_err(|e| format!("{rule:?}: {e}"))?],
        }))
    }
}

/// The tenancy settings. `None` for a kind of rule means that kind is not restricted.
#[derive(Clone, Debug, Default)]
pub struct Tenancy {
    roles: Option<Vec<Rule>>,
    adoption: Option<Vec<Rule>>,
    accounts: AccountBindings,
}

/// The file's layout; unknown keys are refused, so a typo cannot open what it meant to close.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    allowed_roles: Option<Vec<RoleEntry>>,
    adoption: Option<Vec<AdoptionEntry>>,
    accounts: Option<AccountsSection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleEntry {
    namespace: String,
    role_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdoptionEntry {
    namespace: String,
    configuration_ids: Vec<String>,
}

impl Tenancy {
    /// The rules of `--allowed-roles`; none means every role, and adoption stays open.
    pub fn from_role_flags(rules: Vec<RoleRule>) -> Self {
        Self {
            roles: (!rules.is_empty()).then(|| rules.into_iter().map(|r| r.0).collect()),
            adoption: None,
            accounts: AccountBindings::default(),
        }
    }

    /// Parses the tenancy file. The error names the entry and the field at fault.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let file: Option<File> = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let Some(file) = file else {
            return Ok(Self::default());
        };
        let roles = rules(file.allowed_roles, "allowedRoles", |at, e: &RoleEntry| {
            Ok(Rule {
                namespace: field_pattern(at, "namespace", &e.namespace)?,
                allowed: vec![field_pattern(at, "roleArn", &e.role_arn)?],
            })
        })?;
        let adoption = rules(file.adoption, "adoption", |at, e: &AdoptionEntry| {
            if e.configuration_ids.is_empty() {
                return Err(format!(
                    "{at}.configurationIds: empty; list IDs, or \"*\" for any"
                ));
            }
            let allowed = e
                .configuration_ids
                .iter()
                .enumerate()
                .map(|(j, id)| field_pattern(at, &format!("configurationIds[{j}]"), id))
                .collect::<Result<_, _>>()?;
            Ok(Rule {
                namespace: field_pattern(at, "namespace", &e.namespace)?,
                allowed,
            })
        })?;
        let accounts = file
            .accounts
            .map(AccountBindings::from_section)
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            roles,
            adoption,
            accounts,
        })
    }

    /// The account `namespace`'s models publish into.
    pub fn account_for(&self, namespace: &str) -> AccountChoice<'_> {
        self.accounts.choose(namespace)
    }

    /// Whether `namespace` may use `role_arn`.
    pub fn allows_role(&self, namespace: &str, role_arn: &str) -> bool {
        permits(self.roles.as_deref(), namespace, role_arn)
    }

    /// Whether `namespace` may adopt the configuration `id` (one no other model manages).
    pub fn allows_adoption(&self, namespace: &str, id: &str) -> bool {
        permits(self.adoption.as_deref(), namespace, id)
    }

    /// One line for the log: what is restricted.
    pub fn summary(&self) -> String {
        let describe = |rules: &Option<Vec<Rule>>| match rules {
            None => "open".to_owned(),
            Some(r) => format!("{} rule(s)", r.len()),
        };
        format!(
            "roles {}, adoption {}, {}",
            describe(&self.roles),
            describe(&self.adoption),
            self.accounts.summary()
        )
    }
}

fn permits(rules: Option<&[Rule]>, namespace: &str, value: &str) -> bool {
    rules.is_none_or(|rules| {
        rules
            .iter()
            .filter(|r| r.applies_to(namespace))
            .any(|r| r.allows(value))
    })
}

/// One section of the file as rules; `None` (the section is absent) stays `None`. Each entry's
/// errors start with where it is (`adoption[2]`).
fn rules<E>(
    entries: Option<Vec<E>>,
    section: &str,
    rule: impl Fn(&str, &E) -> Result<Rule, String>,
) -> Result<Option<Vec<Rule>>, String> {
    entries
        .map(|entries| {
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| rule(&format!("{section}[{i}]"), e))
                .collect()
        })
        .transpose()
}

fn pattern_of(text: &str) -> Result<glob::Pattern, String> {
    if text.is_empty() {
        return Err("empty pattern (use * for any)".into());
    }
    glob::Pattern::new(text).map_err(|e| format!("{text:?} is not a valid pattern: {e}"))
}

fn field_pattern(at: &str, field: &str, text: &str) -> Result<glob::Pattern, String> {
    pattern_of(text).map_err(|e| format!("{at}.{field}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(rules: &[&str]) -> Tenancy {
        Tenancy::from_role_flags(
            rules
                .iter()
                .map(|r| r.parse().expect("valid rule"))
                .collect(),
        )
    }

    #[test]
    fn no_rules_allow_everything() {
        let open = flags(&[]);
        assert!(open.allows_role("any", "arn:aws:iam::123456789012:role/x"));
        assert!(open.allows_adoption("any", "abc"));
        assert!(
            Tenancy::from_yaml("")
                .expect("empty file")
                .allows_adoption("a", "b")
        );
    }

    #[test]
    fn a_namespace_gets_its_own_and_the_shared_patterns_only() {
        let p = flags(&[
            "team-a=arn:aws:iam::123456789012:role/team-a-*",
            "*=arn:aws:iam::123456789012:role/shared",
        ]);
        assert!(p.allows_role("team-a", "arn:aws:iam::123456789012:role/team-a-recs"));
        assert!(p.allows_role("team-a", "arn:aws:iam::123456789012:role/shared"));
        assert!(p.allows_role("team-b", "arn:aws:iam::123456789012:role/shared"));
        assert!(!p.allows_role("team-b", "arn:aws:iam::123456789012:role/team-a-recs"));
        assert!(!p.allows_role("team-c", "arn:aws:iam::999999999999:role/shared"));
    }

    #[test]
    fn malformed_rules_are_refused() {
        assert!("no-equals-sign".parse::<RoleRule>().is_err());
        assert!("=arn:*".parse::<RoleRule>().is_err());
        assert!("ns=[".parse::<RoleRule>().is_err());
    }

    #[test]
    fn the_file_closes_what_it_lists_even_when_empty() {
        let closed = Tenancy::from_yaml("allowedRoles: []\nadoption: []\n").expect("valid");
        assert!(!closed.allows_role("team-a", "arn:aws:iam::123456789012:role/x"));
        assert!(!closed.allows_adoption("team-a", "abc"));

        let t = Tenancy::from_yaml(
            "adoption:\n  - namespace: team-*\n    configurationIds: [abc, 'def*']\n",
        )
        .expect("valid");
        assert!(t.allows_adoption("team-a", "abc"));
        assert!(t.allows_adoption("team-b", "def123"));
        assert!(!t.allows_adoption("team-a", "xyz"));
        assert!(!t.allows_adoption("other", "abc"));
        // Roles not mentioned: still open.
        assert!(t.allows_role("other", "arn:aws:iam::123456789012:role/x"));
    }

    #[test]
    fn a_bad_file_names_the_field() {
        let err = Tenancy::from_yaml("allowedRoles:\n  - namespace: a\n    roleArn: '[x'\n")
            .expect_err("bad pattern");
        assert!(err.starts_with("allowedRoles[0].roleArn:"), "{err}");
        let err = Tenancy::from_yaml("adoption:\n  - namespace: a\n    configurationIds: []\n")
            .expect_err("no IDs");
        assert!(err.starts_with("adoption[0].configurationIds:"), "{err}");
        let err = Tenancy::from_yaml("allowedRole: []\n").expect_err("typo");
        assert!(err.contains("allowedRole"), "{err}");
    }
}
