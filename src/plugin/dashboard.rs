//! `kubectl vrg dashboard`: serves the fleet page on a local address, from a watch of the VRGs
//! (a reflector: one list, then changes), so every reload shows the cluster as it is now without
//! a request per view. Read-only: it never writes to the cluster.

use std::net::SocketAddr;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use futures::StreamExt as _;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};

use super::{EXIT_OK, Error};
use crate::api::VolumeReplicationGroup;

/// Serves the page at `address` for the VRGs of `api` until the process is stopped.
pub async fn serve(
    api: Api<VolumeReplicationGroup>,
    scope: String,
    address: SocketAddr,
) -> Result<u8, Error> {
    let (store, writer) = reflector::store();
    let watch = reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects()
        .for_each(|event| async move {
            if let Err(e) = event {
                eprintln!("dashboard: watch: {e} (retrying)");
            }
        });
    tokio::spawn(watch);
    let page_store = store.clone();
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let store = page_store.clone();
                let scope = scope.clone();
                async move {
                    let vrgs: Vec<VolumeReplicationGroup> =
                        store.state().iter().map(|v| (**v).clone()).collect();
                    Html(super::page::render(&vrgs, Timestamp::now(), &scope))
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Error::Serve(address, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Serve(address, e))?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "dashboard: warning: {bound} is reachable from other machines; the page shows every \
             VRG this kubeconfig can read"
        );
    }
    println!("Serving the VRG dashboard on http://{bound}/ (Ctrl-C stops it)");
    axum::serve(listener, app)
        .await
        .map_err(|e| Error::Serve(bound, e))?;
    Ok(EXIT_OK)
}
