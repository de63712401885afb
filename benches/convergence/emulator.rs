//! The emulator of each run: started fresh, with the default account seeded with the examples
//! and, when the models are spread, the further accounts; and its call counts.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context as _, Result};

use crate::{
    accounts::{self, QUOTA},
    bench::Bench,
    support::cluster::Process,
};

impl Bench {
    /// A fresh emulator for `n` models: with one account, its quota raised to fit them; with
    /// more, every account of the spread, each with Pinpoint's quota.
    pub fn start_emulator(&self, label: &str, n: usize) -> Result<(Process, String)> {
        let quota = if self.accounts.is_empty() {
            n + 100
        } else {
            QUOTA
        };
        let mut args = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            format!("--max-configurations={quota}"),
            "--seed".into(),
            format!(
                "{}/examples/emulator/account.json",
                env!("CARGO_MANIFEST_DIR")
            ),
        ];
        args.extend(accounts::emulator_args(&self.accounts));
        let mut emulator = Process::start(
            "pinpoint-emulator",
            &self.emulator_bin,
            &args,
            &[],
            self.plane.dir.join(format!("{label}-emulator.log")),
        );
        let line = tokio::task::block_in_place(|| {
            emulator.wait_for_log("listening on http://", Duration::from_secs(30))
        });
        let url = line.trim().trim_start_matches("listening on ").to_owned();
        Ok((emulator, url))
    }

    /// The emulator's call counts per operation, every account's added up.
    pub async fn calls(&self, url: &str) -> Result<BTreeMap<String, u64>> {
        let response = self
            .http
            .get(format!("{url}/_emulator/calls"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .context("ask the emulator for its calls")?;
        response
            .json()
            .await
            .context("the emulator's calls are JSON")
    }
}
