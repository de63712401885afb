//! Which IAM roles each namespace may hand to Pinpoint. Configurations are account-wide, so a
//! platform team can keep tenants to their own roles: `--allowed-roles NAMESPACE=PATTERN`
//! (repeatable; `*` as the namespace applies to all, `*` in the pattern matches any run of
//! characters). Without any rule every role is allowed; with rules, a namespace may use only the
//! roles its rules (or the `*` rules) match.

use std::str::FromStr;

/// One `NAMESPACE=PATTERN` rule.
#[derive(Clone, Debug)]
pub struct RoleRule {
    namespace: String,
    pattern: glob::Pattern,
}

impl FromStr for RoleRule {
    type Err = String;

    fn from_str(rule: &str) -> Result<Self, Self::Err> {
        let (namespace, pattern) = rule
            .split_once('=')
            .ok_or_else(|| format!("{rule:?} is not NAMESPACE=ROLE_ARN_PATTERN"))?;
        if namespace.is_empty() {
            return Err(format!("{rule:?} names no namespace (use * for all)"));
        }
        let pattern = glob::Pattern::new(pattern).map_err(|e| format!("{rule:?}: {e}"))?;
        Ok(Self {
            namespace: namespace.to_owned(),
            pattern,
        })
    }
}

/// The rules, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct RolePolicy {
    rules: Vec<RoleRule>,
}

impl RolePolicy {
    pub fn new(rules: Vec<RoleRule>) -> Self {
        Self { rules }
    }

    /// Whether `namespace` may use `role_arn`.
    pub fn allows(&self, namespace: &str, role_arn: &str) -> bool {
        self.rules.is_empty()
            || self
                .rules
                .iter()
                .filter(|r| r.namespace == "*" || r.namespace == namespace)
                .any(|r| r.pattern.matches(role_arn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> RolePolicy {
        RolePolicy::new(
            rules
                .iter()
                .map(|r| r.parse().expect("valid rule"))
                .collect(),
        )
    }

    #[test]
    fn no_rules_allow_everything() {
        assert!(policy(&[]).allows("any", "arn:aws:iam::123456789012:role/x"));
    }

    #[test]
    fn a_namespace_gets_its_own_and_the_shared_patterns_only() {
        let p = policy(&[
            "team-a=arn:aws:iam::123456789012:role/team-a-*",
            "*=arn:aws:iam::123456789012:role/shared",
        ]);
        assert!(p.allows("team-a", "arn:aws:iam::123456789012:role/team-a-recs"));
        assert!(p.allows("team-a", "arn:aws:iam::123456789012:role/shared"));
        assert!(p.allows("team-b", "arn:aws:iam::123456789012:role/shared"));
        assert!(!p.allows("team-b", "arn:aws:iam::123456789012:role/team-a-recs"));
        assert!(!p.allows("team-c", "arn:aws:iam::999999999999:role/shared"));
    }

    #[test]
    fn malformed_rules_are_refused() {
        assert!("no-equals-sign".parse::<RoleRule>().is_err());
        assert!("=arn:*".parse::<RoleRule>().is_err());
        assert!("ns=[".parse::<RoleRule>().is_err());
    }
}
