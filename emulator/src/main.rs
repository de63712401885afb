use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use anyhow::Context;

use clap::Parser;
use pinpoint_emulator::Settings;

/// An in-memory Amazon Pinpoint recommender-configuration API for tests and local demos.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// Accepted credentials, ACCESS_KEY_ID:SECRET_ACCESS_KEY (repeatable).
    #[arg(long = "credentials", default_value = "test:test")]
    credentials: Vec<String>,
    /// Recommender configurations allowed per Region (Pinpoint's quota).
    #[arg(long, default_value_t = 100)]
    max_configurations: usize,
    /// The AWS account the callers are in (IAM role ARNs, Lambda function names).
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// A JSON seed document (Personalize campaigns, Lambda functions, IAM roles), applied at
    /// start and on every POST /_emulator/reset.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
}

/// Reads and checks the seed file.
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
    let settings = Settings {
        credentials,
        max_configurations: args.max_configurations,
        account_id: args.account_id,
        seed,
    };
    let addr = pinpoint_emulator::spawn(args.listen, settings).await?;
    // Tests and scripts wait for this exact line.
    println!("listening on http://{addr}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
