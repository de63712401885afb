//! The commands: `run` (the operator), `validate` (offline), `import` and `plan` (read
//! Pinpoint, write nothing to it), and the AWS settings they share.

pub mod import;
pub mod plan;
pub mod run;
pub mod validate;

use std::net::{Ipv4Addr, SocketAddr};

use crate::aws::{self, pinpoint::SdkPinpoint};

/// Where the AWS services are: the same flags for every command that calls AWS. Credentials and
/// Region come from the standard AWS chain (environment, profile, web identity, IMDS).
#[derive(clap::Args, Clone, Debug)]
pub struct AwsArgs {
    /// One endpoint for every AWS service the operator calls (Pinpoint, IAM, Personalize,
    /// Lambda) instead of AWS's: an emulator.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// Pinpoint endpoint to use instead of AWS's (an emulator, or a successor service); wins
    /// over --aws-endpoint-url.
    #[arg(long, env = "AWS_ENDPOINT_URL_PINPOINT")]
    pub pinpoint_endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The Pinpoint endpoint to use, if not AWS's.
    pub fn pinpoint_url(&self) -> Option<String> {
        self.pinpoint_endpoint_url
            .clone()
            .or_else(|| self.aws_endpoint_url.clone())
    }

    /// A Pinpoint client for the one-shot commands (no rate limit, no metrics).
    pub async fn pinpoint(&self) -> SdkPinpoint {
        SdkPinpoint::new(aws::load_config().await, self.pinpoint_url())
    }
}

/// An IAM path: `/`, or `/` + segments + `/`, printable ASCII, up to 512 characters.
pub fn role_path(path: &str) -> Result<String, String> {
    let printable = path.chars().all(|c| ('!'..='~').contains(&c));
    if path.starts_with('/') && path.ends_with('/') && path.len() <= 512 && printable {
        Ok(path.to_owned())
    } else {
        Err("must be / or start and end with / (such as /pinpoint/), printable ASCII, up to 512 characters".to_owned())
    }
}

/// A listen address: `HOST:PORT`, or `:PORT` for every interface, the form controller-runtime's
/// `--metrics-bind-address=:8080` takes.
pub fn bind_address(address: &str) -> Result<SocketAddr, String> {
    let invalid = |e| format!("{e}: expected HOST:PORT (such as 0.0.0.0:8080) or :PORT");
    match address.strip_prefix(':') {
        Some(port) => port
            .parse()
            .map(|port| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
            .map_err(|e: std::num::ParseIntError| invalid(e.to_string())),
        None => address
            .parse()
            .map_err(|e: std::net::AddrParseError| invalid(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_address_takes_host_and_port_or_port_alone() {
        assert_eq!(
            bind_address(":8080"),
            Ok(SocketAddr::from(([0, 0, 0, 0], 8080)))
        );
        assert_eq!(
            bind_address("127.0.0.1:0"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        );
        assert_eq!(
            bind_address("[::1]:8081"),
            Ok("[::1]:8081".parse().expect("an address"))
        );
        for bad in ["8080", ":", ":http", "localhost:8080", ":70000"] {
            assert!(bind_address(bad).is_err(), "{bad}");
        }
    }
}
