//! Leader election over a `coordination.k8s.io` Lease, so that of several replicas exactly one
//! acts. Standbys wait for the lease; a leader that loses it stops at once (the process exits and
//! is restarted as a standby), because two replicas driving the same workflow could run a hook
//! twice. Locking, renewal and expiry are kube-lease-manager's (server-side apply on the Lease);
//! a leader whose renewals fail stops before its lease could expire ([`fence`]).

mod fence;

use std::time::Duration;

use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use fence::Fence;

/// Which lease, held by whom, for how long.
#[derive(Debug, Clone)]
pub struct Election {
    pub namespace: String,
    pub lease: String,
    /// Unique per replica: the pod name in a cluster.
    pub identity: String,
    /// How long a lease lasts without renewal: the longest a standby waits after the leader dies.
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("leader election on Lease {namespace}/{lease}: {source}")]
    Lease {
        namespace: String,
        lease: String,
        #[source]
        source: LeaseManagerError,
    },
    #[error("leader election on Lease {namespace}/{lease}: the renewal task stopped")]
    Stopped { namespace: String, lease: String },
    #[error("lease duration must be at least 2s, got {0:?}")]
    Duration(Duration),
}

/// The lease, held. Dropping it without [`Leadership::release`] lets it expire instead.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>,
    fence: Fence,
}

/// Why a leader must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    #[error("another replica holds the lease, or renewal stopped")]
    Taken,
    #[error("no renewal succeeded in time: the lease may expire and pass to another replica")]
    Unrenewed,
}

impl Election {
    /// Seconds before expiry at which the lease is renewed: half of it, so a failed renewal is
    /// retried well before the fence (a fifth of the lease before expiry) stops this replica.
    fn grace_seconds(&self) -> u64 {
        (self.duration.as_secs() / 2).max(1)
    }

    fn error(&self, source: LeaseManagerError) -> Error {
        Error::Lease {
            namespace: self.namespace.clone(),
            lease: self.lease.clone(),
            source,
        }
    }

    /// Waits until this replica holds the lease (creating the Lease if there is none), then keeps
    /// renewing it in the background.
    pub async fn acquire(&self, client: kube::Client) -> Result<Leadership, Error> {
        if self.duration.as_secs() < 2 {
            return Err(Error::Duration(self.duration));
        }
        let fence = Fence::new(self.duration);
        let manager = LeaseManagerBuilder::new(fence.observe(client), &self.lease)
            .with_namespace(&self.namespace)
            .with_identity(&self.identity)
            .with_duration(self.duration.as_secs())
            .with_grace(self.grace_seconds())
            .build()
            .await
            .map_err(|e| self.error(e))?;
        let (mut state, task) = manager.watch().await;
        while !*state.borrow_and_update() {
            if state.changed().await.is_err() {
                // The renewal task ended before we ever led: report why.
                return Err(match task.await {
                    Ok(Err(e)) => self.error(e),
                    _ => Error::Stopped {
                        namespace: self.namespace.clone(),
                        lease: self.lease.clone(),
                    },
                });
            }
        }
        Ok(Leadership { state, task, fence })
    }
}

impl Leadership {
    /// Resolves when this replica must stop acting: another replica took the lease, renewal
    /// stopped, or no renewal has succeeded for so long that the lease could soon expire.
    pub async fn lost(&mut self) -> Lost {
        let (state, fence) = (&mut self.state, &self.fence);
        let taken = async {
            loop {
                if !*state.borrow_and_update() || state.changed().await.is_err() {
                    return Lost::Taken;
                }
            }
        };
        tokio::select! {
            lost = taken => lost,
            () = fence.expired() => Lost::Unrenewed,
        }
    }

    /// Gives the lease up, so a standby takes over now rather than after it expires.
    pub async fn release(self) {
        let Leadership { state, task, .. } = self;
        // Closing the channel tells the renewal task to release the lease and end.
        drop(state);
        match task.await {
            Ok(Ok(_)) => tracing::info!("released the leader lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not release the leader lease"),
            Err(e) => tracing::warn!(error = %e, "the lease task failed"),
        }
    }
}

/// This replica's identity: `POD_NAME` in a cluster, else host name and process id.
pub fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "vrg-operator".to_owned());
    format!("{host}-{}", std::process::id())
}
