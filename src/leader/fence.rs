//! Fencing: a leader acts only while a renewal it saw succeed still covers it.
//!
//! A Lease expires `duration` after its holder last renewed it, and a standby may take it from
//! then on. kube-lease-manager reports a lost lease only once it reads another holder, so a
//! leader whose renewals fail (Lease permissions revoked, the API server unreachable from this
//! replica alone) would keep acting while a standby already leads. The fence watches the Lease
//! writes themselves: each successful one moves the deadline, and the leader stops a margin
//! before a lease it last renewed at that moment could expire.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use tokio::sync::watch;
use tokio::time::Instant;

/// When this replica last saw a write to its Lease (a lock or a renewal) succeed.
#[derive(Clone)]
pub(super) struct Fence {
    confirmed: Arc<watch::Sender<Option<Instant>>>,
    /// How long after the start of a confirmed renewal this replica may still act.
    covered_for: Duration,
}

impl Fence {
    pub(super) fn new(duration: Duration) -> Self {
        Self {
            confirmed: Arc::new(watch::Sender::new(None)),
            covered_for: duration.saturating_sub(margin(duration)),
        }
    }

    /// `client`, reporting each successful write it sends to the fence. The time taken is the
    /// moment the request left, at or after the renewal time the request carries.
    pub(super) fn observe(&self, client: kube::Client) -> kube::Client {
        let namespace = client.default_namespace().to_owned();
        kube::Client::new(
            Observed {
                client,
                fence: self.clone(),
            },
            namespace,
        )
    }

    /// Resolves once the last confirmed write no longer covers this replica.
    pub(super) async fn expired(&self) {
        let mut confirmed = self.confirmed.subscribe();
        loop {
            let Some(at) = *confirmed.borrow_and_update() else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep_until(at + self.covered_for) => {
                    if !confirmed.has_changed().unwrap_or(false) {
                        return;
                    }
                }
                changed = confirmed.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn confirm(&self, sent: Instant) {
        self.confirmed
            .send_modify(|at| *at = Some(at.map_or(sent, |at| at.max(sent))));
    }
}

/// What a leader keeps in hand before its lease could expire: a fifth of it, at least half a
/// second (for the clocks of two replicas and the time a stopping process takes).
fn margin(duration: Duration) -> Duration {
    (duration / 5).max(Duration::from_millis(500))
}

/// The lease manager's client, through which the fence sees each write succeed.
#[derive(Clone)]
struct Observed {
    client: kube::Client,
    fence: Fence,
}

impl tower::Service<Request<Body>> for Observed {
    type Response = Response<Body>;
    type Error = kube::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, kube::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), kube::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (client, fence) = (self.client.clone(), self.fence.clone());
        Box::pin(async move {
            // kube-lease-manager takes and renews the lease by a patch of the Lease.
            let write = request.method() == Method::PATCH;
            let sent = Instant::now();
            let response = client.send(request).await?;
            if write && response.status().is_success() {
                fence.confirm(sent);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_leader_is_covered_until_a_margin_before_its_last_renewal_expires() {
        let fence = Fence::new(Duration::from_secs(10));
        let start = Instant::now();
        fence.confirm(start);
        let expired = tokio::spawn({
            let fence = fence.clone();
            async move {
                fence.expired().await;
                Instant::now()
            }
        });
        // A renewal at 5 s moves the deadline to 5 + 10 - 2 s.
        tokio::time::sleep(Duration::from_secs(5)).await;
        fence.confirm(Instant::now());
        let at = expired.await.unwrap();
        assert_eq!(at - start, Duration::from_secs(13));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_confirmed_write_nothing_is_covered() {
        let fence = Fence::new(Duration::from_secs(10));
        let start = Instant::now();
        fence.expired().await;
        assert_eq!(Instant::now(), start);
    }

    #[test]
    fn the_margin_is_a_fifth_of_the_lease_and_at_least_half_a_second() {
        assert_eq!(margin(Duration::from_secs(15)), Duration::from_secs(3));
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(500));
    }
}
