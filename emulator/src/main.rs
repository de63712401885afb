use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use anyhow::Context;

use clap::Parser;
use pinpoint_emulator::{Account, Settings};

/// An in-memory Amazon Pinpoint recommender-configuration API (with the IAM, Personalize, Lambda
/// and STS calls around it) for tests and local demos, in one or more AWS accounts.
///
/// Every request is served in the account of the credentials that signed it: --credentials for
/// the default account, --account for the others, or temporary credentials from STS AssumeRole
/// (the role's account). The admin API under /_emulator/ takes ?account=ID.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// The default account's credentials, ACCESS_KEY_ID:SECRET_ACCESS_KEY (repeatable).
    #[arg(long = "credentials", default_value = "test:test")]
    credentials: Vec<String>,
    /// Recommender configurations allowed per account and Region (Pinpoint's quota).
    #[arg(long, default_value_t = 100)]
    max_configurations: usize,
    /// The default account: the one --credentials sign for, and the one the admin API means
    /// without ?account=ID.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// A JSON seed document (Personalize campaigns, Lambda functions, IAM roles) of the default
    /// account, applied at start and on every POST /_emulator/reset.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// A further account with its own long-term credentials, configurations, roles, campaigns
    /// and functions, ID=ACCESS_KEY_ID:SECRET_ACCESS_KEY (repeatable). Requests signed with its
    /// key, or with temporary credentials of one of its roles (STS AssumeRole), are served in it.
    #[arg(long = "account", value_name = "ID=ACCESS_KEY_ID:SECRET")]
    accounts: Vec<String>,
    /// A JSON seed document of a further account, ID=FILE (repeatable): its ARNs name that
    /// account.
    #[arg(long = "account-seed", value_name = "ID=FILE")]
    account_seeds: Vec<String>,
    /// Caps the lifetime of every STS session (temporary credentials) at N seconds, below the
    /// DurationSeconds asked for; the Expiration answered is the capped one. Also
    /// POST /_emulator/sts {"sessionSeconds": N}.
    #[arg(long = "sts-session-seconds", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    sts_session_seconds: Option<u64>,
}

/// Reads and checks a seed file for `account_id`.
fn read_seed(path: &PathBuf, account_id: &str) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seed file {}", path.display()))?;
    let seed: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("the seed file {} is not valid JSON", path.display()))?;
    pinpoint_emulator::check_seed(&seed, account_id).map_err(|e| {
        anyhow::anyhow!("the seed file {} is not a valid seed: {e}", path.display())
    })?;
    Ok(seed)
}

/// The further accounts of `--account`, with their `--account-seed`s.
fn accounts(args: &Args) -> anyhow::Result<Vec<Account>> {
    let mut accounts = args
        .accounts
        .iter()
        .map(|text| Account::parse(text).map_err(|e| anyhow::anyhow!("--account: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for text in &args.account_seeds {
        let (id, path) = text
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--account-seed takes ID=FILE, got {text:?}"))?;
        let account = accounts
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| anyhow::anyhow!("--account-seed {text:?}: no --account {id}"))?;
        account.seed = Some(read_seed(&PathBuf::from(path), id)?);
    }
    Ok(accounts)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut credentials = HashMap::new();
    for pair in &args.credentials {
        let (key, secret) = pair.split_once(':').ok_or_else(|| {
            anyhow::anyhow!("--credentials takes ACCESS_KEY_ID:SECRET_ACCESS_KEY, got {pair:?}")
        })?;
        credentials.insert(key.to_owned(), secret.to_owned());
    }
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("--account-id takes 12 digits, got {:?}", args.account_id);
    }
    let seed = args
        .seed
        .as_ref()
        .map(|path| read_seed(path, &args.account_id))
        .transpose()?;
    let accounts = accounts(&args)?;
    let settings = Settings {
        credentials,
        max_configurations: args.max_configurations,
        account_id: args.account_id,
        seed,
        accounts,
        sts_max_session_seconds: args.sts_session_seconds,
    };
    let addr = pinpoint_emulator::spawn(args.listen, settings).await?;
    // Tests and scripts wait for this exact line.
    println!("listening on http://{addr}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
