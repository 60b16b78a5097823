//! A namespace, Velero, and the controller watching the namespace: what each controller test
//! starts with. Velero is the real server and object store of this test binary
//! (`vrg_testenv::dr::shared_velero`), shared by its tests as VRGs share one in a real cluster;
//! tests that inject failures the real server cannot produce on demand (a Backup that fails or
//! hangs, a DeleteBackupRequest Velero refuses, another cluster's capture in a given shape) get a
//! Velero namespace of their own with the stand-in (`Env::with_stand_in`).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::velero::{Backup, BackupSpec};
use vrg_operator::controller;
use vrg_operator::recipe::Settings;
use vrg_operator::velero::names::LABEL_VRG_NAMESPACE;
use vrg_operator::velero::{self, ObjectIdentity};
use vrg_testenv::dr::{SharedVelero, VELERO_NAMESPACE, shared_velero};
use vrg_testenv::shared;
use vrg_testenv::velero::StandIn;

/// The controller's options in tests: this test's namespaces, `vrg-admin` as admin namespace,
/// capture intervals down to a second.
pub fn options(velero_ns: &str, ns: &str) -> controller::Options {
    controller::Options {
        settings: Settings {
            admin_namespaces: vec!["vrg-admin".into()],
            // Periodic-capture tests use intervals of seconds.
            min_capture_interval: Duration::from_secs(1),
            ..Settings::default()
        },
        velero_namespace: velero_ns.to_owned(),
        watch_namespace: Some(ns.to_owned()),
        on_delete: controller::OnDelete::KeepCaptures,
        cluster_id: None,
        metrics: Default::default(),
    }
}

pub struct Env {
    pub client: kube::Client,
    pub ns: String,
    pub velero_ns: String,
    /// Plays the Velero server's part in `velero_ns`, for tests that inject failures.
    stand_in: Option<StandIn>,
    controller: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

impl Env {
    /// This test's namespace and controller, with the real Velero server.
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, controller::OnDelete::KeepCaptures).await
    }

    /// [`Env::start`] with the controller's `--on-delete` choice.
    pub async fn start_with(prefix: &str, on_delete: controller::OnDelete) -> Self {
        // Started on first use: it blocks, so not on this test's runtime threads.
        tokio::task::spawn_blocking(shared_velero).await.unwrap();
        Self::begin(prefix, on_delete, VELERO_NAMESPACE.to_owned(), None).await
    }

    /// This test's namespace and controller, with a Velero namespace of its own served by the
    /// stand-in, whose [`Env::driver`] injects failures.
    pub async fn with_stand_in(prefix: &str) -> Self {
        Self::with_stand_in_and(prefix, controller::OnDelete::KeepCaptures).await
    }

    /// [`Env::with_stand_in`] with the controller's `--on-delete` choice.
    pub async fn with_stand_in_and(prefix: &str, on_delete: controller::OnDelete) -> Self {
        let plane = shared();
        let client = plane.client().await.unwrap();
        let velero_ns = plane.namespace(&client, "velero").await.unwrap();
        let stand_in = StandIn::start(client, &velero_ns);
        Self::begin(prefix, on_delete, velero_ns, Some(stand_in)).await
    }

    async fn begin(
        prefix: &str,
        on_delete: controller::OnDelete,
        velero_ns: String,
        stand_in: Option<StandIn>,
    ) -> Self {
        let plane = shared();
        let client = plane.client().await.unwrap();
        let ns = plane.namespace(&client, prefix).await.unwrap();
        let run = controller::run(
            client.clone(),
            controller::Options {
                on_delete,
                ..options(&velero_ns, &ns)
            },
        );
        let controller = tokio::spawn(async move {
            run.await.unwrap();
        });
        Self {
            client,
            ns,
            velero_ns,
            stand_in,
            controller,
        }
    }

    /// The stand-in of an [`Env::with_stand_in`] test.
    pub fn driver(&self) -> &StandIn {
        self.stand_in
            .as_ref()
            .expect("failure injection needs Env::with_stand_in")
    }

    /// The real Velero server and bucket of an [`Env::start`] test.
    pub fn real(&self) -> &'static SharedVelero {
        assert!(self.stand_in.is_none(), "this test runs with the stand-in");
        shared_velero()
    }

    /// Lists only this test's Velero objects (Velero's namespace may be shared).
    pub fn own(&self) -> ListParams {
        ListParams::default().labels(&format!("{LABEL_VRG_NAMESPACE}={}", self.ns))
    }

    /// [`Env::own`], narrowed by the label selector `selector`.
    pub fn own_and(&self, selector: &str) -> ListParams {
        ListParams::default().labels(&format!("{LABEL_VRG_NAMESPACE}={},{selector}", self.ns))
    }

    /// Stops the controller and starts one with `options`.
    pub fn restart_controller_with(&mut self, options: controller::Options) {
        let client = self.client.clone();
        self.restart_controller_as(client, options);
    }

    /// Stops the controller and starts one that talks to the API server through `client`.
    pub fn restart_controller_as(&mut self, client: kube::Client, options: controller::Options) {
        self.controller.abort();
        let run = controller::run(client, options);
        self.controller = tokio::spawn(async move {
            run.await.unwrap();
        });
    }

    /// Stops the in-process controller, for tests that run the operator binary instead.
    pub fn stop_controller(&mut self) {
        self.controller.abort();
    }

    /// Stops the controller (as a crash would) and starts a new one, with nothing in memory.
    pub fn restart_controller(&mut self) {
        self.controller.abort();
        let run = controller::run(self.client.clone(), options(&self.velero_ns, &self.ns));
        self.controller = tokio::spawn(async move {
            run.await.unwrap();
        });
    }

    /// Creates pod `name` on the kwok node in `ns` and waits until it runs (its exec'd commands
    /// run in kwok's work directory).
    pub async fn running_pod(&self, ns: &str, name: &str, labels: Value) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": shared().node_name, "containers": [{"name": "main", "image": "busybox"}]},
        }))
        .unwrap();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(40);
        while pods
            .get(name)
            .await
            .unwrap()
            .status
            .and_then(|s| s.phase)
            .as_deref()
            != Some("Running")
        {
            assert!(Instant::now() < deadline, "pod {ns}/{name} never ran");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Another cluster's Backup of VRG `vrg` (this namespace), as Velero's backup sync shows it
    /// here: capture `capture` of `group` for profile `east`, written by cluster `peer` in
    /// lineage 1, in `phase`. Returns its name.
    pub async fn synced_backup(&self, vrg: &str, capture: i64, group: &str, phase: &str) -> String {
        self.synced_backup_in(vrg, capture, group, phase, 1).await
    }

    /// [`Env::synced_backup`] in lineage `epoch`.
    pub async fn synced_backup_in(
        &self,
        vrg: &str,
        capture: i64,
        group: &str,
        phase: &str,
        epoch: i64,
    ) -> String {
        let id =
            ObjectIdentity::backup(&self.ns, vrg, capture, group, "east").written_by("peer", epoch);
        let mut backup: Backup =
            velero::spec::backup(&BackupSpec::default(), &id, "east", &self.velero_ns);
        // Velero's CRDs have no status subresource: the phase is written with the object.
        let done = k8s_openapi::jiff::Timestamp::now().to_string();
        backup.status = Some(
            serde_json::from_value(json!({"phase": phase, "completionTimestamp": done})).unwrap(),
        );
        self.backups()
            .create(&PostParams::default(), &backup)
            .await
            .unwrap();
        id.name()
    }

    /// Asks VRG `name` for a capture now (the capture-now annotation).
    pub async fn capture_now(&self, name: &str) {
        let patch = json!({"metadata": {"annotations": {controller::CAPTURE_NOW: ""}}});
        self.vrgs()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// The capture number of every Backup of this test's VRGs.
    pub async fn backup_captures(&self) -> Vec<String> {
        self.backups()
            .list(&self.own())
            .await
            .unwrap()
            .items
            .iter()
            .map(|b| {
                b.metadata.labels.as_ref().unwrap()["vrg.ramendr.openshift.io/capture"].clone()
            })
            .collect()
    }

    pub fn vrgs(&self) -> Api<VolumeReplicationGroup> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn backups(&self) -> Api<Backup> {
        Api::namespaced(self.client.clone(), &self.velero_ns)
    }

    pub async fn apply(&self, yaml: &str) {
        for doc in serde_saphyr::from_multiple::<Value>(yaml).unwrap() {
            let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
            let params = PatchParams::apply("test").force();
            match doc["kind"].as_str() {
                Some("VolumeReplicationGroup") => {
                    self.vrgs()
                        .patch(&name, &params, &Patch::Apply(&doc))
                        .await
                        .unwrap();
                }
                Some("Recipe") => {
                    // As a document: a Recipe may have no spec, which the typed Recipe requires.
                    controller::recipe_documents(&self.client, &self.ns)
                        .patch(&name, &params, &Patch::Apply(&doc))
                        .await
                        .unwrap();
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Waits until VRG `name`'s run is at a step whose description (`currentStep`, e.g.
    /// `backup-1 step 2/3: hook db/slow`) contains `step`.
    pub async fn wait_step(
        &self,
        name: &str,
        step: &str,
        timeout: Duration,
    ) -> VolumeReplicationGroup {
        self.wait(name, &format!("step {step} to run"), timeout, |v| {
            v.status
                .as_ref()
                .and_then(|s| s.kube_object_protection.as_ref())
                .and_then(|k| k.current_step.as_deref())
                .is_some_and(|s| s.contains(step))
        })
        .await
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
                panic!(
                    "timed out waiting for {what}; VRG now:\n{}",
                    serde_json::to_string_pretty(&vrg.map(|v| v.status)).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn condition<'a>(vrg: &'a VolumeReplicationGroup, type_: &str) -> Option<&'a Condition> {
    vrg.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

pub fn is(vrg: &VolumeReplicationGroup, type_: &str, status: &str) -> bool {
    condition(vrg, type_)
        .is_some_and(|c| c.status == status && c.observed_generation == vrg.metadata.generation)
}

pub fn recovered_capture(vrg: &VolumeReplicationGroup) -> Option<i64> {
    Some(
        vrg.status
            .as_ref()?
            .kube_object_protection
            .as_ref()?
            .capture_to_recover_from
            .as_ref()?
            .number,
    )
}

/// Whether VRG's current (or last) workflow run has ended.
pub fn run_ended(vrg: &VolumeReplicationGroup) -> bool {
    vrg.status
        .as_ref()
        .and_then(|s| s.kube_object_protection.as_ref())
        .and_then(|k| k.run.as_ref())
        .is_some_and(|r| r.phase != vrg_operator::api::progress::RunPhase::Running)
}
