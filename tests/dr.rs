//! The whole DR lifecycle on two clusters through the real Velero server, its AWS plugin and a
//! real S3 server (versitygw) sharing one bucket: capture on east (the objects really land in the
//! bucket), Velero's backup sync brings them to west, a failover on west restores them in order
//! with hooks once pods run (west never had the Recipe: the capture carries it), west captures,
//! the returning east is fenced, a relocation hands the application back to east with a final
//! capture, and a second failover to west recovers again. Rotation really removes older
//! captures' data from the bucket, and no cluster ever deletes the other's captures.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::json;
use support::dr::{Cluster, Clusters};
use support::env::condition;
use support::hooks::finished;
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::vrg::RecoveryPhase;
use vrg_operator::velero::names::{LABEL_CLUSTER, LABEL_EPOCH, vrg_selector};

const TIMEOUT: Duration = Duration::from_secs(120);

fn app() -> String {
    "apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: shop}}
data: {currency: EUR, theme: dark}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: catalog, labels: {app: shop}}
data: {items: 'hat,scarf,gloves'}
---
apiVersion: v1
kind: Secret
metadata: {name: payment, labels: {app: shop}}
stringData: {token: s3cr3t}
---
apiVersion: shop.example.test/v1
kind: Widget
metadata: {name: front-page, labels: {app: shop}}
spec: {size: 3, colour: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: shop}}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: web, image: shop:1}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: shop}}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80, targetPort: 8080}]
"
    .to_owned()
}

/// Three groups in order, quiesce/unquiesce around the capture, a warm-up hook after the restore.
fn recipe(trace: &str) -> String {
    let op = |name: &str| {
        format!("{{name: {name}, command: '[\"/bin/sh\", \"-c\", \"echo {name} >> {trace}\"]'}}")
    };
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {{name: shop}}
spec:
  appType: shop
  groups:
    - {{name: config, type: resource, includedResourceTypes: [configmaps, secrets], labelSelector: {{matchLabels: {{app: shop}}}}}}
    - {{name: data, type: resource, includedResourceTypes: [widgets.shop.example.test], labelSelector: {{matchLabels: {{app: shop}}}}}}
    - {{name: workload, type: resource, includedResourceTypes: [deployments.apps, services], labelSelector: {{matchLabels: {{app: shop}}}}}}
  hooks:
    - name: web
      type: exec
      labelSelector: {{matchLabels: {{app: shop}}}}
      ops: [{quiesce}, {unquiesce}, {warm}]
  workflows:
    - name: backup
      sequence: [{{hook: web/quiesce}}, {{group: config}}, {{group: data}}, {{group: workload}}, {{hook: web/unquiesce}}]
    - name: restore
      sequence: [{{group: config}}, {{group: data}}, {{group: workload}}, {{hook: web/warm}}]
",
        quiesce = op("quiesce"),
        unquiesce = op("unquiesce"),
        warm = op("warm"),
    )
}

fn vrg(state: &str, action: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: shop}}
spec:
  replicationState: {state}
  action: '{action}'
  s3Profiles: [default]
  kubeObjectProtection:
    captureInterval: 1h
    recipeRef: {{name: shop}}
"
    )
}

fn is(v: &VolumeReplicationGroup, type_: &str, status: &str) -> bool {
    support::env::is(v, type_, status)
}

fn protected_by(v: &VolumeReplicationGroup) -> Option<(i64, String, i64)> {
    let c = v
        .status
        .as_ref()?
        .kube_object_protection
        .as_ref()?
        .capture_to_recover_from
        .clone()?;
    Some((c.number, c.cluster?, c.epoch?))
}

fn widgets(c: &Cluster) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("shop.example.test", "v1", "Widget");
    Api::namespaced_with(c.client.clone(), &c.ns, &ApiResource::from_gvk(&gvk))
}

/// The application's objects as they matter, for comparing two clusters.
async fn snapshot(c: &Cluster) -> serde_json::Value {
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), &c.ns);
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), &c.ns);
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), &c.ns);
    let services: Api<Service> = Api::namespaced(c.client.clone(), &c.ns);
    let data = |cm: Option<ConfigMap>| cm.and_then(|c| c.data);
    let deployment = deployments
        .get_opt("web")
        .await
        .unwrap()
        .map(|d| d.spec.unwrap());
    json!({
        "settings": data(cms.get_opt("settings").await.unwrap()),
        "catalog": data(cms.get_opt("catalog").await.unwrap()),
        "payment": secrets.get_opt("payment").await.unwrap().and_then(|s| s.data),
        "widget": widgets(c).get_opt("front-page").await.unwrap().map(|w| w.data["spec"].clone()),
        "web": deployment.map(|d| json!({"replicas": d.replicas, "labels": d.template.metadata.and_then(|m| m.labels)})),
        "service": services.get_opt("web").await.unwrap().and_then(|s| s.spec).map(|s| json!(s.ports)),
    })
}

/// The keys of Backup `name`'s data in the bucket.
fn stored(clusters: &Clusters, backup: &str) -> Vec<String> {
    clusters.pair.store.keys(&format!("backups/{backup}/"))
}

/// This VRG's Backups in `c`, as (name, writer cluster, lineage).
async fn backups(c: &Cluster) -> Vec<(String, String, String)> {
    let selector = ListParams::default().labels(&vrg_selector(&c.ns, "shop"));
    c.backups()
        .list(&selector)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|b| {
            let labels = b.metadata.labels.unwrap_or_default();
            (
                b.metadata.name.unwrap_or_default(),
                labels.get(LABEL_CLUSTER).cloned().unwrap_or_default(),
                labels.get(LABEL_EPOCH).cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Prints what the bucket holds: each Backup's directory with its object count and size.
fn print_bucket(clusters: &Clusters) {
    let mut dirs: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    let bucket = clusters.pair.store.root.join(vrg_testenv::dr::BUCKET);
    for key in clusters.pair.store.keys("backups/") {
        let dir = key.split('/').nth(1).unwrap_or_default().to_owned();
        let size = std::fs::metadata(bucket.join(&key)).map_or(0, |m| m.len());
        let entry = dirs.entry(dir).or_default();
        entry.0 += 1;
        entry.1 += size;
    }
    eprintln!("dr: bucket holds {} Backups:", dirs.len());
    for (dir, (objects, bytes)) in dirs {
        eprintln!("dr:   {dir}: {objects} objects, {bytes} bytes");
    }
}

/// Prints how long the test has run at each milestone, so slow phases show in CI logs.
fn milestone(start: std::time::Instant, what: &str) {
    eprintln!("dr: {:6.1}s {what}", start.elapsed().as_secs_f64());
}

#[tokio::test]
async fn capture_failover_relocate_and_failover_again_through_real_velero() {
    let start = std::time::Instant::now();
    let mut clusters = Clusters::start("shop").await;
    milestone(start, "two clusters up");
    let trace = format!("trace-{}", clusters.east.ns);
    let east_id = {
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(clusters.east.client.clone());
        ns.get("kube-system").await.unwrap().metadata.uid.unwrap()
    };
    let east = &clusters.east;
    east.apply(&app()).await;
    east.apply(&recipe(&trace)).await;
    east.wait_running("app=shop", TIMEOUT).await; // the pod the hooks run in
    east.apply(&vrg("primary", "")).await;
    let v = east
        .wait("shop", "east's first capture to end", TIMEOUT, |v| {
            // The capture is restorable once its Backups complete, before the unquiesce hook
            // after them has run: wait for the whole run.
            is(v, "ClusterDataProtected", "True") && finished(v).is_some()
        })
        .await;
    let (first, writer, epoch) = protected_by(&v).unwrap();
    assert_eq!((first, writer.as_str(), epoch), (1, east_id.as_str(), 1));
    assert_eq!(
        east.trace(&trace),
        ["quiesce", "unquiesce"],
        "hooks ran once each"
    );
    // The capture is really in the bucket: one Backup per group, each with its data.
    let east_backups = backups(east).await;
    assert_eq!(east_backups.len(), 3, "{east_backups:?}");
    for (name, _, _) in &east_backups {
        let keys = stored(&clusters, name);
        assert!(
            keys.iter().any(|k| k.ends_with(".tar.gz"))
                && keys.iter().any(|k| k.ends_with("velero-backup.json")),
            "{name}: {keys:?}"
        );
    }
    let original = snapshot(east).await;
    milestone(start, "captured on east");

    // East is lost. West, which never had the Recipe, fails over.
    clusters.east.stop_operator();
    let west = &clusters.west;
    west.apply(&vrg("secondary", "")).await;
    west.wait("shop", "west to stand by", TIMEOUT, |v| {
        condition(v, "ClusterDataProtected").is_some_and(|c| c.reason == "Secondary")
    })
    .await;
    milestone(start, "west stands by");
    west.set_spec(
        "shop",
        json!({"replicationState": "primary", "action": "Failover"}),
    )
    .await;
    let v = west
        .wait("shop", "the failover", TIMEOUT, |v| {
            is(v, "KubeObjectsReady", "True")
        })
        .await;
    let kop = v.status.clone().unwrap().kube_object_protection.unwrap();
    let rec = kop.recovery.clone().unwrap();
    assert_eq!(rec.phase, RecoveryPhase::Recovered);
    assert_eq!(rec.source.as_ref().map(|s| s.number), Some(1));
    assert!(
        rec.recipe
            .as_deref()
            .is_some_and(|r| r.contains("carried by capture 1")),
        "{rec:?}"
    );
    assert_eq!(
        snapshot(west).await,
        original,
        "the restored objects equal the originals"
    );
    milestone(start, "failed over to west");
    // The restore hook ran once, once pods ran, before anything else (west's first capture
    // may have begun since).
    let hooks = west.trace(&trace);
    assert_eq!(hooks.first().map(String::as_str), Some("warm"), "{hooks:?}");
    assert_eq!(
        hooks.iter().filter(|h| *h == "warm").count(),
        1,
        "{hooks:?}"
    );
    // In order: each Restore started after the one before it completed.
    let mut restores = west
        .restores()
        .list(&ListParams::default().labels(&vrg_selector(&west.ns, "shop")))
        .await
        .unwrap()
        .items;
    restores.sort_by_key(|r| r.metadata.creation_timestamp.clone().map(|t| t.0));
    assert_eq!(restores.len(), 3);
    for pair in restores.windows(2) {
        let done = pair[0]
            .status
            .as_ref()
            .and_then(|s| s.completion_timestamp.clone());
        let next = pair[1].metadata.creation_timestamp.clone();
        assert!(
            matches!((&done, &next), (Some(d), Some(n)) if d.0 <= n.0),
            "{} ended at {done:?}, {} began at {next:?}",
            pair[0].metadata.name.as_deref().unwrap_or_default(),
            pair[1].metadata.name.as_deref().unwrap_or_default()
        );
    }

    // West captures in a new lineage, above east's numbers.
    let v = west
        .wait("shop", "west's first capture", TIMEOUT, |v| {
            protected_by(v).is_some_and(|(_, c, _)| c != east_id)
        })
        .await;
    let (second, writer, epoch) = protected_by(&v).unwrap();
    assert_eq!((second, epoch), (2, 2));
    milestone(start, "west captured");
    assert_ne!(writer, east_id);
    // West's first capture keeps east's: it is west's recovery record, and not west's to delete.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (name, _, _) in &east_backups {
        assert!(!stored(&clusters, name).is_empty(), "{name} was deleted");
    }

    // East comes back, still primary: it sees west's newer captures and fences itself.
    clusters.east.start_operator();
    let east = &clusters.east;
    let v = east
        .wait("shop", "east to fence itself", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected").is_some_and(|c| c.reason == "Fenced")
        })
        .await;
    assert!(
        condition(&v, "ClusterDataProtected")
            .unwrap()
            .message
            .contains("capture 2")
    );
    milestone(start, "east fenced");

    // The application changes on west.
    let catalog = json!({"data": {"items": "hat,scarf,gloves,socks"}});
    Api::<ConfigMap>::namespaced(clusters.west.client.clone(), &clusters.west.ns)
        .patch(
            "catalog",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&catalog),
        )
        .await
        .unwrap();

    // Relocate back to east: east stands by, west hands over with a final capture, east waits
    // for it and restores it over the stale application still there.
    east.set_spec("shop", json!({"replicationState": "secondary"}))
        .await;
    east.set_spec(
        "shop",
        json!({"replicationState": "primary", "action": "Relocate"}),
    )
    .await;
    let west = &clusters.west;
    west.set_spec(
        "shop",
        json!({"replicationState": "secondary", "action": "Relocate"}),
    )
    .await;
    let v = west
        .wait("shop", "west's final capture", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected")
                .is_some_and(|c| c.message.contains("final capture") && c.status == "True")
        })
        .await;
    assert!(
        condition(&v, "KubeObjectsReady").is_none(),
        "a secondary has no recovery"
    );
    milestone(start, "west's final capture");
    let v = east
        .wait("shop", "the relocation", TIMEOUT, |v| {
            is(v, "KubeObjectsReady", "True")
        })
        .await;
    let ready = condition(&v, "KubeObjectsReady").unwrap();
    let rec = v
        .status
        .clone()
        .unwrap()
        .kube_object_protection
        .unwrap()
        .recovery
        .unwrap();
    assert_eq!(
        rec.source.as_ref().map(|s| s.number),
        Some(3),
        "west's final capture"
    );
    assert!(
        ready.message.contains("warning"),
        "existing objects were kept, and it says so: {}",
        ready.message
    );
    let v = east
        .wait("shop", "east's capture after relocating", TIMEOUT, |v| {
            protected_by(v).is_some_and(|(_, _, e)| e == 3)
        })
        .await;
    let (third, writer, _) = protected_by(&v).unwrap();
    assert_eq!((third, writer.as_str()), (4, east_id.as_str()));
    milestone(start, "relocated to east, east captured");
    // Rotation: east's capture 4 supersedes its capture 1, whose data really leaves the bucket.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while east_backups
        .iter()
        .any(|(name, _, _)| !stored(&clusters, name).is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "capture 1's data stayed in the bucket: {:?}",
            clusters.pair.store.keys("backups/")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Never the other cluster's: west's captures 2 and 3 are still there.
    let west_backups: Vec<_> = backups(east)
        .await
        .into_iter()
        .filter(|(_, c, _)| *c != east_id)
        .collect();
    assert_eq!(west_backups.len(), 6, "{west_backups:?}");
    milestone(start, "east rotated capture 1 out of the bucket");
    print_bucket(&clusters);

    // And fail over to west again: it recovers again (its earlier recovery is not taken for
    // this one), from east's newest capture.
    west.set_spec("shop", json!({"action": ""})).await;
    west.wait("shop", "west to stand by", TIMEOUT, |v| {
        condition(v, "ClusterDataProtected").is_some_and(|c| c.reason == "Secondary")
    })
    .await;
    let restores_before = west
        .restores()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    west.set_spec(
        "shop",
        json!({"replicationState": "primary", "action": "Failover"}),
    )
    .await;
    let v = west
        .wait("shop", "the second failover", TIMEOUT, |v| {
            is(v, "KubeObjectsReady", "True")
                && v.status
                    .as_ref()
                    .and_then(|s| s.kube_object_protection.as_ref())
                    .and_then(|k| k.recovery.as_ref())
                    .and_then(|r| r.source.as_ref())
                    .is_some_and(|s| s.number == 4)
        })
        .await;
    let restores_after = west
        .restores()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    assert!(
        restores_after > restores_before,
        "the second failover really restored"
    );
    milestone(start, "failed over to west again");
    assert_eq!(
        v.status.unwrap().kube_object_protection.unwrap().epoch,
        Some(4)
    );
    east.set_spec(
        "shop",
        json!({"replicationState": "secondary", "action": ""}),
    )
    .await;
}
