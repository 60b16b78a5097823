//! `run --ramen-config`: Ramen's s3 profiles become BackupStorageLocations that the real Velero
//! server validates and that captures use; a profile removed from the ConfigMap takes its
//! location with it, a user's own location is never touched, and a broken ConfigMap is an Event,
//! not a crash. The operator binary runs as its ServiceAccount with the shipped Roles only.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;
use support::env::{Env, is};
use support::operator::Operator;
use support::rbac::{bind_role, impersonating_kubeconfig, shipped_role_client};
use vrg_testenv::dr::{BUCKET, location};

const TIMEOUT: Duration = Duration::from_secs(90);
const CONFIG: &str = "ramen-dr-cluster-operator-config";

fn locations(env: &Env) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "velero.io",
        "v1",
        "BackupStorageLocation",
    ));
    Api::namespaced_with(env.client.clone(), &env.velero_ns, &resource)
}

/// Ramen's ConfigMap in the test's namespace (standing for ramen-system), with Ramen's other
/// keys, which are ignored.
async fn ramen_config(env: &Env, document: &str) {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": CONFIG},
        "data": {"ramen_manager_config.yaml": document},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(env.client.clone(), &env.ns)
        .patch(
            CONFIG,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&cm),
        )
        .await
        .unwrap();
}

fn document(profiles: &[(&str, &str)]) -> String {
    let mut doc = "apiVersion: ramendr.openshift.io/v1alpha1
kind: RamenConfig
ramenControllerType: dr-cluster
kubeObjectProtection: {veleroNamespaceName: velero}
s3StoreProfiles:
"
    .to_owned();
    if profiles.is_empty() {
        doc.push_str("  []\n");
    }
    for (name, secret) in profiles {
        doc.push_str(&format!(
            "  - s3ProfileName: {name}
    s3Bucket: {BUCKET}
    s3CompatibleEndpoint: {url}
    s3Region: us-east-1
    s3SecretRef: {{name: {secret}, namespace: ''}}
",
            url = vrg_testenv::dr::shared_velero().store.url
        ));
    }
    doc
}

async fn wait_for<T>(
    what: &str,
    operator: &Operator,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; operator log:\n{}",
            operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn phase(env: &Env, name: &str) -> Option<String> {
    let bsl = locations(env).get_opt(name).await.unwrap()?;
    bsl.data["status"]["phase"].as_str().map(str::to_owned)
}

/// The same spec and labels, and never written by our field manager (Velero writes its status).
fn untouched(before: &DynamicObject, after: &DynamicObject) {
    assert_eq!(before.data["spec"], after.data["spec"]);
    assert_eq!(before.metadata.labels, after.metadata.labels);
    let managers: Vec<_> = after
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    assert!(
        !managers.contains(&"vrg-operator-ramen-config"),
        "{managers:?}"
    );
}

#[tokio::test]
async fn ramens_s3_profiles_become_the_locations_captures_use() {
    let mut env = Env::start("ramen").await;
    env.stop_controller();
    let store = &env.real().store;
    let (east, west, users) = (
        format!("{}-east", env.ns),
        format!("{}-west", env.ns),
        format!("{}-users", env.ns),
    );
    let s3_secret = format!("{}-s3", env.ns);
    // Ramen's s3 Secret, with the object store's keys (the harness's credentials file).
    let file = std::fs::read_to_string(&store.credentials).unwrap();
    let key = |k: &str| {
        file.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim_start_matches([' ', '='])
            .to_owned()
    };
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": s3_secret},
        "stringData": {
            "AWS_ACCESS_KEY_ID": key("aws_access_key_id"),
            "AWS_SECRET_ACCESS_KEY": key("aws_secret_access_key"),
        },
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.client.clone(), &env.ns)
        .patch(
            &s3_secret,
            &PatchParams::apply("test"),
            &Patch::Apply(&secret),
        )
        .await
        .unwrap();
    // A user's own location, whose name a profile also uses.
    let own: DynamicObject = serde_json::from_value(location(&users, store, false)).unwrap();
    locations(&env)
        .patch(&users, &PatchParams::apply("user"), &Patch::Apply(&own))
        .await
        .unwrap();
    let own_before = locations(&env).get(&users).await.unwrap();
    ramen_config(
        &env,
        &document(&[
            (&east, &s3_secret),
            (&west, &s3_secret),
            (&users, &s3_secret),
        ]),
    )
    .await;

    // As the ServiceAccount, with the shipped Roles and config/ramen's Role in "Ramen's" namespace.
    shipped_role_client(&env, |_| {}).await;
    let ramen_role = include_str!("../config/ramen/role.yaml");
    bind_role(&env, &env.ns, "ramen-config", ramen_role).await;
    let kubeconfig = impersonating_kubeconfig(&env);
    let flag = format!("{}/{CONFIG}", env.ns);
    let mut operator = Operator::start_as("ramen", &env, &kubeconfig, &["--ramen-config", &flag]);

    for name in [&east, &west] {
        wait_for(&format!("{name} to be Available"), &operator, async || {
            (phase(&env, name).await.as_deref() == Some("Available")).then_some(())
        })
        .await;
    }
    let bsl = locations(&env).get(&east).await.unwrap();
    assert_eq!(bsl.data["spec"]["config"]["s3Url"], store.url.as_str());
    assert_eq!(
        bsl.data["spec"]["credential"],
        json!({"name": format!("v{s3_secret}"), "key": "ramengenerated"})
    );
    let generated = Api::<Secret>::namespaced(env.client.clone(), &env.velero_ns)
        .get(&format!("v{s3_secret}"))
        .await
        .unwrap();
    assert_eq!(
        generated.data.unwrap()["ramengenerated"].0,
        std::fs::read(&store.credentials).unwrap()
    );
    // The user's location is left as it was, and the refusal says why.
    untouched(&own_before, &locations(&env).get(&users).await.unwrap());
    let events = Api::<Event>::namespaced(env.client.clone(), &env.ns);
    let event = |reason: &'static str| {
        let events = events.clone();
        async move || {
            events
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(CONFIG)
                })
        }
    };
    let refused = wait_for(
        "the refusal of the user's name",
        &operator,
        event("S3ProfileRefused"),
    )
    .await;
    assert!(
        refused.note.as_deref().unwrap().contains(&users),
        "{refused:?}"
    );

    // A Ramen VRG names the profile in s3Profiles: the capture goes through that location.
    env.apply(&format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: app}}
spec:
  replicationState: primary
  s3Profiles: [{east}]
  kubeObjectProtection:
    captureInterval: 1h
    kubeObjectSelector: {{matchLabels: {{app: web}}}}
"
    ))
    .await;
    env.wait("app", "the first capture", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True")
    })
    .await;
    let backups = env.backups().list(&env.own()).await.unwrap().items;
    assert!(!backups.is_empty());
    for b in &backups {
        assert_eq!(b.spec.storage_location.as_deref(), Some(east.as_str()));
        let name = b.metadata.name.clone().unwrap();
        assert!(
            !store.keys(&format!("backups/{name}/")).is_empty(),
            "{name} is not in the bucket"
        );
    }

    // A profile removed from the ConfigMap takes its location with it; nothing else moves.
    ramen_config(
        &env,
        &document(&[(&east, &s3_secret), (&users, &s3_secret)]),
    )
    .await;
    wait_for("west's location to go", &operator, async || {
        locations(&env)
            .get_opt(&west)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(locations(&env).get_opt(&east).await.unwrap().is_some());

    // A broken ConfigMap: an Event, nothing changed, and the operator keeps running.
    ramen_config(&env, "s3StoreProfiles: [unclosed").await;
    let invalid = wait_for(
        "an Event for the broken ConfigMap",
        &operator,
        event("RamenConfigInvalid"),
    )
    .await;
    assert!(
        invalid.note.as_deref().unwrap().contains("not valid YAML"),
        "{invalid:?}"
    );
    assert!(locations(&env).get_opt(&east).await.unwrap().is_some());
    assert!(
        operator.child.try_wait().unwrap().is_none(),
        "the operator exited"
    );

    // No profiles: our location and credentials go, the user's location stays.
    ramen_config(&env, &document(&[])).await;
    wait_for("east's location to go", &operator, async || {
        locations(&env)
            .get_opt(&east)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    wait_for("the generated Secret to go", &operator, async || {
        Api::<Secret>::namespaced(env.client.clone(), &env.velero_ns)
            .get_opt(&format!("v{s3_secret}"))
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    untouched(&own_before, &locations(&env).get(&users).await.unwrap());
    operator.kill();
}
