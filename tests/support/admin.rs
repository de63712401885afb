//! The one client of the emulator's admin API (`/_emulator/...`), and the one way to start the
//! `pinpoint-emulator` binary for a test. Blocking; the in-process `Emulator` drives it from
//! async tests on a blocking thread.

use std::{path::Path, time::Duration};

use serde_json::Value;

use super::cluster::{Process, workspace_bin};

/// The emulator's admin API at `url`.
#[derive(Clone, Debug)]
pub struct EmulatorAdmin {
    pub url: String,
}

impl EmulatorAdmin {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
        }
    }

    /// Every stored configuration.
    pub fn configurations(&self) -> Vec<Value> {
        array(self.get("configurations"))
    }

    /// Calls of one operation the emulator answered (faults included).
    pub fn calls(&self, operation: &str) -> u64 {
        self.get("calls")
            .get(operation)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// Every IAM role in the emulated account.
    pub fn roles(&self) -> Vec<Value> {
        array(self.get("iam/roles"))
    }

    pub fn fault(&self, fault: Value) {
        self.post("faults", &fault);
    }

    pub fn clear_faults(&self) {
        let response = client()
            .delete(format!("{}/_emulator/faults", self.url))
            .send()
            .expect("the emulator's admin API answers");
        assert!(response.status().is_success(), "clearing faults refused");
    }

    /// Adds or replaces campaigns, roles and functions in the emulated account.
    pub fn seed(&self, seed: Value) {
        self.post("seed", &seed);
    }

    /// `seed` in another account (the emulator's `--account`).
    pub fn seed_in(&self, account: &str, seed: Value) {
        self.post(&format!("seed?account={account}"), &seed);
    }

    /// The configurations of another account.
    pub fn configurations_in(&self, account: &str) -> Vec<Value> {
        array(self.get(&format!("configurations?account={account}")))
    }

    /// Calls of `operation` signed by another account's credentials (its own or a role's).
    pub fn calls_in(&self, account: &str, operation: &str) -> u64 {
        self.get(&format!("calls?account={account}"))
            .get(operation)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn get(&self, what: &str) -> Value {
        client()
            .get(format!("{}/_emulator/{what}", self.url))
            .send()
            .and_then(|r| r.json())
            .expect("the emulator's admin API answers with JSON")
    }

    fn post(&self, what: &str, body: &Value) {
        let response = client()
            .post(format!("{}/_emulator/{what}", self.url))
            .json(body)
            .send()
            .expect("the emulator's admin API answers");
        let status = response.status();
        assert!(
            status.is_success(),
            "{what} {body} refused ({status}): {}",
            response.text().unwrap_or_default()
        );
    }
}

/// A client per call: a blocking client may be neither made nor dropped on an async thread, and
/// the in-process `Emulator` hands each call to a blocking thread of its own.
fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn array(v: Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Starts the `pinpoint-emulator` binary on a free loopback port, seeded with the examples'
/// account (its campaigns, roles and functions), logging to `log`; `args` are added.
pub fn start_emulator_process(log: &Path, args: &[String]) -> (Process, EmulatorAdmin) {
    let seed = format!(
        "{}/examples/emulator/account.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut all: Vec<String> = ["--listen", "127.0.0.1:0", "--seed", &seed]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    all.extend_from_slice(args);
    let mut emulator = Process::start(
        "pinpoint-emulator",
        &workspace_bin("pinpoint-emulator"),
        &all,
        &[],
        log.to_path_buf(),
    );
    let line = emulator.wait_for_log("listening on http://", Duration::from_secs(30));
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the emulator prints its URL")
        .to_owned();
    (emulator, EmulatorAdmin::new(&url))
}
