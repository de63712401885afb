//! The one ARN parser: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, and the few readings of
//! an ARN the operator makes (its Region, its partition and account, a role's name).

/// The parts of an ARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

/// The Region an ARN names; `None` for an ARN without one (IAM's) or a string that is no ARN.
pub fn region_of(arn: &str) -> Option<&str> {
    Arn::parse(arn).map(|a| a.region).filter(|r| !r.is_empty())
}

/// The partition and account an ARN names, `("aws", "")` for a string that is no ARN (the
/// spec's validation reports that; what is built from this then fails visibly, not silently).
pub fn partition_and_account(arn: &str) -> (&str, &str) {
    Arn::parse(arn)
        .map(|a| (a.partition, a.account))
        .unwrap_or(("aws", ""))
}

/// A role's name: the last part of its ARN's path.
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_an_arn_names() {
        let campaign = "arn:aws-cn:personalize:cn-north-1:123456789012:campaign/x";
        assert_eq!(region_of(campaign), Some("cn-north-1"));
        assert_eq!(partition_and_account(campaign), ("aws-cn", "123456789012"));
        assert_eq!(region_of("arn:aws:iam::123456789012:role/x"), None);
        assert_eq!(region_of("nonsense"), None);
        assert_eq!(partition_and_account("nonsense"), ("aws", ""));
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/team/a-role"),
            "a-role"
        );
        assert_eq!(
            Arn::parse("arn:aws:lambda:us-east-1:123456789012:function:f:live").map(|a| a.resource),
            Some("function:f:live")
        );
    }
}
