use std::{collections::HashMap, net::SocketAddr};

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
    let settings = Settings {
        credentials,
        max_configurations: args.max_configurations,
    };
    let addr = pinpoint_emulator::spawn(args.listen, settings).await?;
    // Tests and scripts wait for this exact line.
    println!("listening on http://{addr}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
