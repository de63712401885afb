//! Leader election on a `coordination.k8s.io` Lease: with more than one replica, exactly one
//! reconciles; the others wait, ready to take over when the leader's lease runs out.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::{sync::watch, task::JoinHandle};
use tracing::info;

/// Where the lease lives and how long it lasts.
#[derive(Clone, Debug)]
pub struct Settings {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
    /// How long a lease stays valid after its last renewal; a new leader takes over at most this
    /// long after the old one stops renewing.
    pub duration: Duration,
}

/// The lease, once held. Dropping it releases the lease.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
}

/// Waits until this process holds the lease.
pub async fn acquire(client: Client, settings: &Settings) -> anyhow::Result<Leadership> {
    let seconds = settings.duration.as_secs().max(2);
    let manager = LeaseManagerBuilder::new(client, &settings.lease_name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(seconds)
        // Renew well before expiry: a third of the duration, at least a second.
        .with_grace((seconds / 3).max(1))
        .build()
        .await?;
    let (mut state, task) = manager.watch().await;
    info!(lease = %settings.lease_name, namespace = %settings.namespace, identity = %settings.identity, "waiting for leadership");
    while !*state.borrow_and_update() {
        state
            .changed()
            .await
            .map_err(|_| anyhow::anyhow!("the lease manager stopped"))?;
    }
    info!(identity = %settings.identity, "became the leader");
    Ok(Leadership { state, task })
}

impl Leadership {
    /// Resolves when the lease is lost (or its manager stops).
    pub async fn lost(&mut self) {
        while *self.state.borrow_and_update() {
            if self.state.changed().await.is_err() {
                return;
            }
        }
    }

    /// Gives the lease up, so that a standby takes over at once instead of after the duration.
    pub async fn release(self) {
        drop(self.state);
        let _ = self.task.await;
    }
}
