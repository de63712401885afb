//! The accounts the models are spread over (`--accounts N`, issue 18): their IDs and keys, their
//! seeds (the examples' campaigns and roles rewritten to the account, plus the role the operator
//! assumes there, trusting the operator's own account), the emulator's arguments for them, the
//! operator's tenancy file that binds each namespace to its account's role, and the check that
//! no account is given more models than Pinpoint's quota lets it hold.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};

/// The emulator's default account: the operator's own (its `test`/`test` credentials sign for
/// it), and the only one with `--accounts 1`.
pub const OWN_ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// Pinpoint's quota of recommender configurations per account and Region, which the emulator
/// keeps when the models are spread over accounts.
pub const QUOTA: usize = 100;
/// The role the operator assumes in each account.
const TARGET_ROLE: &str = "recommender-operator-target";

/// One of the emulator's further accounts.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    /// Its long-term key, which the limit signs with.
    pub key: String,
    pub secret: String,
    /// Its seed file, for `--account-seed`.
    pub seed: PathBuf,
}

impl Account {
    /// The role the operator's tenancy file binds the account's namespace to.
    pub fn target_role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/{TARGET_ROLE}", self.id)
    }
}

/// The role the models publish with, in `account`.
pub fn role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/PinpointPersonalize")
}

/// The campaign the models recommend from, in `account`.
pub fn campaign_arn(account: &str) -> String {
    format!("arn:aws:personalize:{REGION}:{account}:campaign/movies")
}

/// Refuses a spread that would leave an account empty or put more models in one than
/// Pinpoint's quota allows. One account is never refused: its quota is raised above the count.
pub fn check_spread(models: &[usize], accounts: usize) -> Result<()> {
    ensure!(accounts > 0, "--accounts must be at least 1");
    if accounts == 1 {
        return Ok(());
    }
    for &n in models {
        ensure!(
            n >= accounts,
            "--accounts {accounts} with --models {n} would leave accounts without a model: use at most {n} accounts for {n} models"
        );
        let most = n.div_ceil(accounts);
        ensure!(
            most <= QUOTA,
            "--models {n} over --accounts {accounts} puts {most} models in an account, above Pinpoint's quota of {QUOTA} recommender configurations per account and Region (which the emulator keeps when the models are spread): use at least {} accounts for {n} models",
            n.div_ceil(QUOTA)
        );
    }
    Ok(())
}

/// How many models each account holds: `100`, or `33-34` when they do not divide evenly.
pub fn each(n: usize, accounts: usize) -> String {
    let (fewest, most) = (n / accounts, n.div_ceil(accounts));
    if fewest == most {
        most.to_string()
    } else {
        format!("{fewest}-{most}")
    }
}

/// `5000 models`, or `5000 models over 50 accounts (100 each)`.
pub fn models_phrase(n: usize, accounts: usize) -> String {
    format!("{n} models{}", spread_suffix(n, accounts))
}

/// The report's models column: `5000`, or `5000 over 50 accounts (100 each)`.
pub fn models_cell(n: usize, accounts: usize) -> String {
    format!("{n}{}", spread_suffix(n, accounts))
}

fn spread_suffix(n: usize, accounts: usize) -> String {
    if accounts == 1 {
        String::new()
    } else {
        format!(" over {accounts} accounts ({} each)", each(n, accounts))
    }
}

/// The further accounts for `--accounts count`, their seeds written under `dir`; none for one
/// account, which is the emulator's default account.
pub fn make(dir: &Path, count: usize) -> Result<Vec<Account>> {
    if count == 1 {
        return Ok(Vec::new());
    }
    let template_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/emulator/account.json"
    );
    let template = std::fs::read_to_string(template_path)
        .with_context(|| format!("read the examples' seed {template_path}"))?;
    let dir = dir.join("bench-accounts");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    (1..=count)
        .map(|k| {
            let id = (100_000_000_000 + k as u64).to_string();
            let seed = dir.join(format!("{id}.json"));
            let text = serde_json::to_string_pretty(&seed_for(&template, &id)?)?;
            std::fs::write(&seed, text).with_context(|| format!("write {}", seed.display()))?;
            Ok(Account {
                key: format!("AKIDBENCH{k:06}"),
                secret: format!("bench-secret-{k}"),
                id,
                seed,
            })
        })
        .collect()
}

/// The examples' campaigns, roles and functions made in `account`, and the role the operator
/// assumes there, trusting the operator's own account.
fn seed_for(template: &str, account: &str) -> Result<Value> {
    let mut seed: Value = serde_json::from_str(&template.replace(OWN_ACCOUNT, account))
        .context("the examples' seed is JSON")?;
    let roles = seed["roles"]
        .as_array_mut()
        .context("the examples' seed has roles")?;
    roles.push(json!({
        "arn": format!("arn:aws:iam::{account}:role/{TARGET_ROLE}"),
        "assumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{OWN_ACCOUNT}:root")},
                "Action": "sts:AssumeRole",
            }],
        },
    }));
    Ok(seed)
}

/// The emulator's arguments for `accounts`: each with its key and its seed.
pub fn emulator_args(accounts: &[Account]) -> Vec<String> {
    accounts
        .iter()
        .flat_map(|a| {
            [
                "--account".to_owned(),
                format!("{}={}:{}", a.id, a.key, a.secret),
                "--account-seed".to_owned(),
                format!("{}={}", a.id, a.seed.display()),
            ]
        })
        .collect()
}

/// The operator's tenancy file: each namespace bound to its account's role; any other namespace
/// refused.
pub fn tenancy_file<'a>(bindings: impl IntoIterator<Item = (&'a str, &'a Account)>) -> String {
    let mut text = String::from("accounts:\n  bindings:\n");
    for (namespace, account) in bindings {
        text.push_str(&format!(
            "    - namespace: {namespace}\n      roleArn: {}\n",
            account.target_role_arn()
        ));
    }
    text.push_str("  unbound: refuse\n");
    text
}
