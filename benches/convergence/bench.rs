//! What every run of every size shares: the control plane, the clients, the binaries and the
//! settings. The runs and their parts are `impl Bench` blocks in their own modules.

use std::{path::PathBuf, time::Duration};

use kube::Client;

use crate::{accounts::Account, support::cluster::ControlPlane};

/// Everything one size's runs share.
pub struct Bench {
    pub plane: &'static ControlPlane,
    pub client: Client,
    pub http: reqwest::Client,
    pub operator_bin: PathBuf,
    pub emulator_bin: PathBuf,
    pub concurrency: usize,
    pub operator_args: Vec<String>,
    pub idle: Duration,
    /// Single edits timed under load.
    pub edits: usize,
    pub resync: Duration,
    pub clk_tck: f64,
    /// etcd and kube-apiserver, to measure what each side costs the control plane.
    pub plane_pids: Vec<u32>,
    /// Whether the install's finalizer policy is bound to the operator runs' namespaces.
    pub finalizer_policy: bool,
    /// The emulator's further accounts the models are spread over; none with `--accounts 1`,
    /// where every model is in the default account (the operator's own).
    pub accounts: Vec<Account>,
}
