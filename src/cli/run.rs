//! `run`: the operator itself. Its flags (each with an environment variable, as
//! controller-runtime's are), and the start-up that wires the parts together: the tenancy file,
//! the API server client, each account's AWS clients, the HTTP endpoints, leader election, and
//! the controller.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use crate::{
    aws::{
        self,
        account::SdkAccount,
        listing::ListedReads,
        pinpoint::{Metered, Pinpoint, RateLimited, SdkPinpoint},
    },
    cli::{AwsArgs, bind_address, role_path},
    controller::{
        self,
        context::{Context, Settings, SharedTenancy},
    },
    domain::tenancy::{RoleRule, Tenancy},
    pipeline::{
        accounts::{Accounts, MakeClients, Reach},
        services::{AccountServices, AccountSettings},
    },
    runtime::{http, leader, metrics_auth::ScrapeAuth, tenancy_file},
    telemetry::{self, LogFormat, Metrics, TelemetryGuard},
};

/// Every flag can also be set through the environment variable named in its help; a flag given
/// twice (the chart's `extraArgs` after its own) takes the last value, as Go's flags do.
#[derive(clap::Args)]
#[command(args_override_self = true)]
pub struct RunArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// Check the campaign, the Lambda function and the role before publishing (false: for
    /// accounts where the operator may not read Personalize, Lambda or IAM).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "PREPUBLISH_CHECKS")]
    prepublish_checks: bool,
    /// IAM path of the roles the operator creates (spec.role.create), such as /pinpoint/.
    /// The operator's IAM permissions (deploy/iam/) allow writes under this path only.
    #[arg(long, default_value = "/recommender-operator/", value_parser = role_path, env = "ROLE_PATH")]
    role_path: String,
    /// Managed policy ARN set as the permissions boundary of the roles the operator creates.
    #[arg(long, env = "ROLE_PERMISSIONS_BOUNDARY")]
    role_permissions_boundary: Option<String>,
    /// Watch only these namespaces, comma-separated (default: all).
    #[arg(long, env = "WATCH_NAMESPACE", value_delimiter = ',')]
    namespace: Vec<String>,
    /// How many models are reconciled at once.
    #[arg(long, default_value_t = 8, env = "CONCURRENCY")]
    concurrency: u16,
    /// How often a published configuration is re-read from Pinpoint (e.g. 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "RESYNC")]
    resync: Duration,
    /// Address for /metrics; `:8080` means every interface.
    #[arg(
        long,
        alias = "metrics-addr",
        default_value = "0.0.0.0:8080",
        value_parser = bind_address,
        env = "METRICS_BIND_ADDRESS"
    )]
    metrics_bind_address: SocketAddr,
    /// Serve /metrics over HTTPS and let only callers whose bearer token may `get` the
    /// non-resource URL /metrics read it (TokenReview, SubjectAccessReview). false: plain HTTP
    /// for anyone, for local use.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "METRICS_SECURE")]
    metrics_secure: bool,
    /// Directory of the metrics certificate (default: a self-signed one made at start).
    #[arg(long, env = "METRICS_CERT_PATH")]
    metrics_cert_path: Option<std::path::PathBuf>,
    /// File name of the certificate in --metrics-cert-path.
    #[arg(long, default_value = "tls.crt", env = "METRICS_CERT_NAME")]
    metrics_cert_name: String,
    /// File name of the key in --metrics-cert-path.
    #[arg(long, default_value = "tls.key", env = "METRICS_CERT_KEY")]
    metrics_cert_key: String,
    /// Address for /healthz and /readyz; `:8081` means every interface.
    #[arg(
        long,
        alias = "probe-addr",
        default_value = "0.0.0.0:8081",
        value_parser = bind_address,
        env = "HEALTH_PROBE_BIND_ADDRESS"
    )]
    health_probe_bind_address: SocketAddr,
    /// Elect a leader through a Lease, so that only one of several replicas reconciles.
    #[arg(long, env = "LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the leader-election Lease (default: $POD_NAMESPACE, else the watched
    /// namespace, else `default`).
    #[arg(long, env = "POD_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        default_value = "recommender-operator",
        env = "LEADER_ELECTION_LEASE"
    )]
    leader_election_lease: String,
    /// How long a leader's lease lasts without renewal (e.g. 15s).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration, env = "LEASE_DURATION")]
    lease_duration: Duration,
    /// Limit the IAM roles a namespace may use: NAMESPACE=ROLE_ARN_PATTERN, repeatable (`*` for
    /// all namespaces; `*` in a pattern matches anything). Without rules, every role is allowed.
    /// The tenancy file says the same and more. ALLOWED_ROLES holds one rule (a role name may
    /// contain commas, so there is no separator); more need the flag or the tenancy file.
    #[arg(
        long = "allowed-roles",
        value_name = "NAMESPACE=PATTERN",
        env = "ALLOWED_ROLES"
    )]
    allowed_roles: Vec<RoleRule>,
    /// The tenancy settings: which roles each namespace may use and which configurations it may
    /// adopt (YAML; see the README's "Sharing one operator"). Reloaded when it changes.
    #[arg(long, env = "TENANCY_CONFIG", conflicts_with = "allowed_roles")]
    tenancy_config: Option<std::path::PathBuf>,
    /// Pinpoint calls per second, across all models (client-side rate limit).
    #[arg(long, default_value = "50", env = "PINPOINT_RATE")]
    pinpoint_rate: std::num::NonZeroU32,
    /// Pinpoint calls allowed in a burst above the rate.
    #[arg(long, default_value = "100", env = "PINPOINT_BURST")]
    pinpoint_burst: std::num::NonZeroU32,
    /// Log level: debug, info, warn, error, or a RUST_LOG-style filter such as
    /// `info,recommender_operator=debug`. RUST_LOG, when set, wins over this flag.
    #[arg(long, default_value = "info", value_parser = telemetry::log_filter, env = "LOG_LEVEL")]
    zap_log_level: String,
    /// Log format: json writes one object per line with ts, level, logger, msg and the fields at
    /// the top level, as controller-runtime's zap logger does.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "LOG_FORMAT")]
    log_format: LogFormat,
    /// Send traces (a span per reconcile, with its AWS calls and API server requests) over
    /// OTLP/HTTP to this base URL, e.g. http://otel-collector:4318 (`/v1/traces` is added).
    /// Unset: no tracing. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a whole URL) also turns it on.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

impl RunArgs {
    /// Logs and traces as the flags say. Called outside the async runtime (see
    /// `telemetry::init`); the guard sends the last traces when dropped.
    pub fn init_telemetry(&self) -> anyhow::Result<TelemetryGuard> {
        telemetry::init(
            self.log_format,
            &self.zap_log_level,
            self.otlp_endpoint.as_deref(),
        )
    }
}

/// Runs the controller until SIGTERM (or the loss of the leader lease).
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // A bad tenancy file stops the start, before anything is watched or called.
    let (tenancy, tenancy_text) = match &args.tenancy_config {
        Some(path) => {
            let (tenancy, text) = tenancy_file::load(path)?;
            (tenancy, Some(text))
        }
        None => (Tenancy::from_role_flags(args.allowed_roles), None),
    };
    tracing::info!(settings = %tenancy.summary(), "tenancy settings");
    let tenancy = SharedTenancy::new(tenancy);
    let (reloads, _) = tokio::sync::broadcast::channel(4);
    if let (Some(path), Some(text)) = (args.tenancy_config.clone(), tenancy_text) {
        tokio::spawn(tenancy_file::watch(
            path,
            text,
            tenancy.clone(),
            reloads.clone(),
        ));
    }
    let metrics = Arc::new(Metrics::default());
    let client = kube_client(&metrics).await?;
    let aws_config = aws::load_config().await;
    let pinpoint_url = args.aws.pinpoint_url();
    let endpoint_url = args.aws.aws_endpoint_url.clone();
    let clients_metrics = metrics.clone();
    let (resync, rate, burst) = (args.resync, args.pinpoint_rate, args.pinpoint_burst);
    let account_settings = AccountSettings {
        checks: args.prepublish_checks,
        role_path: args.role_path,
        permissions_boundary: args.role_permissions_boundary,
    };
    // Each account's clients: Pinpoint read by listing (a snapshot serves for half a resync
    // period, so drift is seen within one and a half), under the account's own rate limit; and
    // its IAM, Personalize and Lambda.
    let make: MakeClients = Box::new(move |config, account| {
        let metrics = clients_metrics.clone();
        let pinpoint = ListedReads::new(
            RateLimited::new(
                Metered::new(
                    SdkPinpoint::new(config.clone(), pinpoint_url.clone())
                        .count_attempts(metrics.clone()),
                    metrics.clone(),
                    account,
                ),
                rate,
                burst,
            ),
            resync / 2,
        );
        let services = AccountServices::new(
            Box::new(SdkAccount::new(config, endpoint_url.clone(), Some(metrics))),
            account_settings.clone(),
        );
        (Box::new(pinpoint) as Box<dyn Pinpoint>, services)
    });
    let accounts = Accounts::new(Reach {
        base: aws_config,
        sts_endpoint: args.aws.aws_endpoint_url.clone(),
        make,
    });
    let settings = Settings {
        namespaces: watched_namespaces(args.namespace),
        concurrency: args.concurrency,
        resync: args.resync,
        tenancy,
    };
    let security = if args.metrics_secure {
        http::MetricsSecurity::Secure {
            auth: ScrapeAuth::new(client.clone()),
            certificate: match &args.metrics_cert_path {
                Some(dir) => http::Certificate::Files {
                    cert: dir.join(&args.metrics_cert_name),
                    key: dir.join(&args.metrics_cert_key),
                },
                None => http::Certificate::SelfSigned,
            },
        }
    } else {
        http::MetricsSecurity::Plain
    };
    let server = tokio::spawn(http::serve(
        args.metrics_bind_address,
        args.health_probe_bind_address,
        metrics.clone(),
        security,
    ));

    let mut leadership = None;
    if args.leader_elect {
        let lease = leader::Settings {
            namespace: args
                .leader_election_namespace
                .or_else(|| settings.namespaces.first().cloned())
                .unwrap_or_else(|| "default".to_owned()),
            lease_name: args.leader_election_lease.clone(),
            identity: format!(
                "{}-{:08x}",
                std::env::var("POD_NAME").unwrap_or_else(|_| format!("pid{}", std::process::id())),
                rand::random::<u32>()
            ),
            duration: args.lease_duration,
        };
        // A standby is healthy and ready; it only does not reconcile.
        metrics.set_ready(true);
        metrics.set_leader(&args.leader_election_lease, false);
        leadership = Some(leader::acquire(client.clone(), &lease).await?);
    }
    metrics.set_leader(&args.leader_election_lease, true);

    let ctx = Arc::new(Context::with_accounts(client, accounts, metrics, settings));
    let result = tokio::select! {
        result = controller::run(ctx, reloads) => result,
        result = server => result.map_err(anyhow::Error::from).and_then(|r| r),
        () = lost(&mut leadership) => Err(anyhow::anyhow!("lost the leader-election lease; exiting so that another replica takes over")),
    };
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    result
}

/// The namespaces to watch, each once, in the order given: a namespace named twice (a flag and
/// the chart's `extraArgs`, say) would get two watches, and two reconciles of one model could
/// run at once.
fn watched_namespaces(named: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    named
        .into_iter()
        .filter(|ns| !ns.is_empty() && seen.insert(ns.clone()))
        .collect()
}

/// The API server client (from the kubeconfig or the pod's service account), its requests
/// counted as client-go counts them.
async fn kube_client(metrics: &Metrics) -> anyhow::Result<kube::Client> {
    let config = kube::Config::infer().await?;
    let host = match (config.cluster_url.host(), config.cluster_url.port_u16()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    };
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&metrics.rest_client_layer(host))
        .build())
}

/// Resolves when leadership is lost; never without leader election.
async fn lost(leadership: &mut Option<leader::Leadership>) {
    match leadership {
        Some(l) => l.lost().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn run_args(args: &[&str]) -> Result<RunArgs, clap::Error> {
        use clap::Parser;
        Ok(Run::try_parse_from(["run"].iter().chain(args))?.args)
    }

    #[test]
    fn old_flag_names_still_work() {
        let args = run_args(&["--metrics-addr=127.0.0.1:9090", "--probe-addr", ":9091"])
            .expect("the old names parse");
        assert_eq!(
            args.metrics_bind_address,
            "127.0.0.1:9090".parse().expect("an address")
        );
        assert_eq!(
            args.health_probe_bind_address,
            "0.0.0.0:9091".parse().expect("an address")
        );
    }

    /// The chart's extraArgs come after its own arguments and must be able to change them.
    #[test]
    fn a_repeated_flag_takes_the_last_value_and_lists_still_add_up() {
        let args = run_args(&[
            "--concurrency=8",
            "--leader-elect",
            "--metrics-bind-address=:8080",
            "--namespace=a",
            "--allowed-roles=a=*",
            "--concurrency=2",
            "--leader-elect",
            "--metrics-addr=127.0.0.1:0",
            "--namespace=b,c",
            "--allowed-roles=b=*",
        ])
        .expect("repeats parse");
        assert_eq!(args.concurrency, 2);
        assert!(args.leader_elect);
        assert_eq!(
            args.metrics_bind_address,
            "127.0.0.1:0".parse().expect("an address")
        );
        assert_eq!(args.namespace, ["a", "b", "c"]);
        assert_eq!(args.allowed_roles.len(), 2);
    }

    #[test]
    fn a_namespace_named_twice_is_watched_once() {
        let args = run_args(&["--namespace=a,b", "--namespace=a,,c,b"]).expect("namespaces");
        assert_eq!(watched_namespaces(args.namespace), ["a", "b", "c"]);
    }

    #[test]
    fn log_level_takes_levels_and_filters_and_rejects_typos() {
        assert_eq!(run_args(&[]).expect("defaults").zap_log_level, "info");
        let args =
            run_args(&["--zap-log-level=info,recommender_operator=debug"]).expect("a filter");
        assert_eq!(args.zap_log_level, "info,recommender_operator=debug");
        assert!(run_args(&["--zap-log-level=warning"]).is_err());
    }
}
