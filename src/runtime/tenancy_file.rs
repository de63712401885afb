//! The tenancy file (`--tenancy-config`): read at start, where a bad file stops the operator with
//! the entry and field at fault, and read again every few seconds while running. Polling the
//! content sees every kind of update, including a ConfigMap volume's (the kubelet swaps a
//! symlink, which file-change notifications on the file itself miss). A bad edit while running is
//! logged and counted, and the settings in force stay.

use std::{path::PathBuf, time::Duration};

use tokio::sync::broadcast;
use tracing::{error, info};

use crate::{controller::context::SharedTenancy, domain::tenancy::Tenancy};

/// How often the file is read again.
const POLL: Duration = Duration::from_secs(3);

/// Reads and checks the file; the text is returned too, to tell a later change.
pub fn load(path: &PathBuf) -> anyhow::Result<(Tenancy, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the tenancy settings {}: {e}", path.display()))?;
    let tenancy = Tenancy::from_yaml(&text)
        .map_err(|e| anyhow::anyhow!("the tenancy settings {} are invalid: {e}", path.display()))?;
    Ok((tenancy, text))
}

/// Replaces the settings in `shared` whenever the file's content changes to a valid one, and then
/// asks for every model to be reconciled again (`reloads`). Runs until the process ends.
pub async fn watch(
    path: PathBuf,
    mut last: String,
    shared: SharedTenancy,
    reloads: broadcast::Sender<()>,
) {
    loop {
        tokio::time::sleep(POLL).await;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                error!(path = %path.display(), error = %e, "cannot read the tenancy settings; keeping the ones in force");
                continue;
            }
        };
        if text == last {
            continue;
        }
        match Tenancy::from_yaml(&text) {
            Ok(tenancy) => {
                info!(path = %path.display(), settings = %tenancy.summary(), "tenancy settings reloaded; reconciling every model");
                shared.replace(tenancy);
                let _ = reloads.send(());
            }
            Err(e) => {
                error!(path = %path.display(), error = %e, "the changed tenancy settings are invalid; keeping the ones in force");
            }
        }
        last = text;
    }
}
