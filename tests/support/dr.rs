//! Two clusters through the real Velero server and object store (`vrg_testenv::dr`): each test
//! gets a namespace of its own on both, and an operator per cluster watching it.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::velero::{Backup, Restore};
use vrg_operator::controller;
use vrg_testenv::dr::{Pair, Site, VELERO_NAMESPACE, pair};

use super::env::options;

/// One cluster of the pair, as a test uses it.
pub struct Cluster {
    pub name: &'static str,
    pub site: &'static Site,
    pub client: kube::Client,
    pub ns: String,
    operator: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_operator();
    }
}

/// Both clusters, with the same test namespace on each.
pub struct Clusters {
    pub pair: &'static Pair,
    pub east: Cluster,
    pub west: Cluster,
}

impl Clusters {
    /// A namespace named `prefix-<random>` on both clusters; operators started on both.
    pub async fn start(prefix: &str) -> Self {
        let crds = [std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dr/widget-crd.yaml")];
        let pair = pair(&crds);
        let east_client = pair.east.plane.client().await.unwrap();
        let ns = pair
            .east
            .plane
            .namespace(&east_client, prefix)
            .await
            .unwrap();
        let west_client = pair.west.plane.client().await.unwrap();
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(ns.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(west_client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let mut clusters = Self {
            pair,
            east: Cluster::new("east", &pair.east, east_client, &ns),
            west: Cluster::new("west", &pair.west, west_client, &ns),
        };
        clusters.east.start_operator();
        clusters.west.start_operator();
        clusters
    }
}

impl Cluster {
    fn new(name: &'static str, site: &'static Site, client: kube::Client, ns: &str) -> Self {
        Self {
            name,
            site,
            client,
            ns: ns.to_owned(),
            operator: None,
        }
    }

    /// Starts this cluster's operator (in-process), watching the test namespace.
    pub fn start_operator(&mut self) {
        self.stop_operator();
        let run = controller::run(self.client.clone(), options(VELERO_NAMESPACE, &self.ns));
        self.operator = Some(tokio::spawn(async move {
            run.await.unwrap();
        }));
    }

    /// Stops the operator, as a lost cluster's would.
    pub fn stop_operator(&mut self) {
        if let Some(op) = self.operator.take() {
            op.abort();
        }
    }

    pub fn vrgs(&self) -> Api<VolumeReplicationGroup> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn backups(&self) -> Api<Backup> {
        Api::namespaced(self.client.clone(), VELERO_NAMESPACE)
    }

    pub fn restores(&self) -> Api<Restore> {
        Api::namespaced(self.client.clone(), VELERO_NAMESPACE)
    }

    /// Server-side applies every document of `yaml` into the test namespace (or cluster-wide).
    pub async fn apply(&self, yaml: &str) {
        let discovery = kube::Discovery::new(self.client.clone())
            .run()
            .await
            .unwrap();
        for doc in serde_saphyr::from_multiple::<Value>(yaml).unwrap() {
            let (group, version) = match doc["apiVersion"].as_str().unwrap().split_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (
                    String::new(),
                    doc["apiVersion"].as_str().unwrap().to_owned(),
                ),
            };
            let gvk =
                kube::api::GroupVersionKind::gvk(&group, &version, doc["kind"].as_str().unwrap());
            let (resource, caps) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{gvk:?}"));
            let api: Api<kube::api::DynamicObject> = match caps.scope {
                kube::discovery::Scope::Namespaced => {
                    Api::namespaced_with(self.client.clone(), &self.ns, &resource)
                }
                kube::discovery::Scope::Cluster => Api::all_with(self.client.clone(), &resource),
            };
            let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
            let object: kube::api::DynamicObject = serde_json::from_value(doc).unwrap();
            api.patch(
                &name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&object),
            )
            .await
            .unwrap();
        }
    }

    /// Merges `spec` into VRG `name`'s spec.
    pub async fn set_spec(&self, name: &str, spec: Value) {
        self.vrgs()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "spec": spec })),
            )
            .await
            .unwrap();
    }

    /// Waits until `check` holds for VRG `name`, returning it.
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&VolumeReplicationGroup) -> bool,
    ) -> VolumeReplicationGroup {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(vrg) = self.vrgs().get_opt(name).await.unwrap()
                && check(&vrg)
            {
                return vrg;
            }
            if Instant::now() > deadline {
                let vrg = self.vrgs().get_opt(name).await.unwrap();
                let log = std::fs::read_to_string(self.site.velero.log()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                panic!(
                    "{}: timed out waiting for {what}; VRG now:\n{}\nVelero log (newest first):\n{}",
                    self.name,
                    serde_json::to_string_pretty(&vrg.map(|v| v.status)).unwrap(),
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until a pod matching `selector` runs in the test namespace.
    pub async fn wait_running(&self, selector: &str, timeout: Duration) {
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), &self.ns);
        let deadline = Instant::now() + timeout;
        loop {
            let list = pods
                .list(&kube::api::ListParams::default().labels(selector))
                .await
                .unwrap();
            if list
                .items
                .iter()
                .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no pod {selector} ran",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The lines of `file` in this cluster's kwok work directory (where exec hooks run).
    pub fn trace(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.site.plane.kwok_workdir.join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
