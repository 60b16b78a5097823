//! Packaging: the kustomize layout (`config/`) and the Helm chart (`charts/vrg-operator/`).
//!
//! Without a cluster: the copies of the CRDs and samples equal their sources, the chart's RBAC
//! rules equal `config/rbac/`'s, `helm lint` passes and the chart refuses unsafe values. Against
//! the real API server: `kubectl apply --server-side -k config/default` and `helm install` install
//! everything, the ReplicaSet's pods pass the Pod Security "restricted" admission, and the
//! operator's binary, run with the installed Deployment's arguments and environment as the
//! installed ServiceAccount, takes the leader Lease.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, Subject};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use vrg_operator::webhook::{RECIPE_PATH, VRG_PATH};
use vrg_testenv::dr::VELERO_NAMESPACE;
use vrg_testenv::{Binaries, ControlPlane, shared};

const TIMEOUT: Duration = Duration::from_secs(60);

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn binaries() -> Binaries {
    Binaries::locate().unwrap_or_else(|e| panic!("{e}"))
}

/// helm, as hack/testbin.sh built it.
fn helm() -> Command {
    let helm = binaries()
        .helm
        .expect("the testbin env file names no HELM: rerun ./hack/testbin.sh");
    let mut cmd = Command::new(helm);
    // Keep helm's caches and settings out of $HOME.
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("helm-home");
    cmd.env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .current_dir(repo(""));
    cmd
}

fn kubectl() -> Command {
    let mut cmd = Command::new(binaries().kubectl);
    cmd.current_dir(repo(""));
    cmd
}

/// Runs `cmd`; its stdout on success, its stderr on failure.
fn output(mut cmd: Command) -> Result<String, String> {
    let described = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{described}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{described} failed ({}):\n{stderr}{stdout}",
            out.status
        ))
    }
}

/// Runs `cmd`, which must succeed; its stdout.
fn run(cmd: Command) -> String {
    output(cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// [`run`] off the async runtime's threads (a blocking process would starve its other tasks).
async fn run_async(cmd: Command) -> String {
    tokio::task::spawn_blocking(move || run(cmd)).await.unwrap()
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The document named `name` of `kind` (of several).
fn find_named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let mut found = docs.iter().filter(|d| d["kind"] == kind);
    let doc = found.next().unwrap_or_else(|| panic!("no {kind} rendered"));
    assert!(found.next().is_none(), "more than one {kind} rendered");
    doc
}

fn helm_template(release: &str, namespace: &str, sets: &[&str]) -> Result<String, String> {
    let mut cmd = helm();
    cmd.args([
        "template",
        release,
        "charts/vrg-operator",
        "--namespace",
        namespace,
    ]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    output(cmd)
}

// ---- without a cluster -------------------------------------------------------------------------

#[test]
fn crd_copies_equal_crds_yaml() {
    let generated = read("crds/crds.yaml");
    for copy in ["config/crd/crds.yaml", "charts/vrg-operator/crds/crds.yaml"] {
        assert!(
            read(copy) == generated,
            "{copy} differs from crds/crds.yaml: run `cp crds/crds.yaml {copy}`"
        );
    }
}

#[test]
fn samples_are_copies_of_examples() {
    let kustomization: Value =
        serde_saphyr::from_str(&read("config/samples/kustomization.yaml")).unwrap();
    let listed: Vec<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(!listed.is_empty());
    for sample in &listed {
        let copy = format!("config/samples/{sample}");
        let source = format!("examples/{sample}");
        assert!(
            read(&copy) == read(&source),
            "{copy} differs from {source}: run `cp {source} {copy}`"
        );
    }
    for entry in std::fs::read_dir(repo("config/samples")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name == "kustomization.yaml" || listed.contains(&name.as_str()),
            "config/samples/{name} is not listed in config/samples/kustomization.yaml"
        );
    }
}

#[test]
fn helm_lint_passes() {
    let mut cmd = helm();
    cmd.args(["lint", "--strict", "charts/vrg-operator"]);
    run(cmd);
    // And with every optional part switched on.
    let mut cmd = helm();
    cmd.args(["lint", "--strict", "charts/vrg-operator", "--set"])
        .arg(
            "replicas=1,leaderElection.enabled=false,adminNamespaces={a,b},watchNamespace=w,\
         onDelete=delete-own-captures,clusterId=east,serviceAccount.create=false,serviceAccount.name=sa,\
         rbac.create=false,metrics.service.enabled=false,nodeSelector.disk=ssd,\
         priorityClassName=high,extraArgs={--log=debug},minCaptureInterval=10m,execHooks=admin,\
         restoreOverwrite=none",
        );
    run(cmd);
}

#[test]
fn the_chart_refuses_unsafe_or_misspelt_values() {
    let err = helm_template("x", "ns", &["leaderElection.enabled=false"]).unwrap_err();
    assert!(
        err.contains("replicas > 1 needs leaderElection.enabled"),
        "{err}"
    );
    helm_template("x", "ns", &["leaderElection.enabled=false", "replicas=1"]).unwrap();
    let err = helm_template("x", "ns", &["replica=3"]).unwrap_err();
    assert!(err.contains("replica"), "{err}");
    let err = helm_template("x", "ns", &["logFormat=xml"]).unwrap_err();
    assert!(err.contains("logFormat"), "{err}");
    let err = helm_template("x", "ns", &["execHooks=sometimes"]).unwrap_err();
    assert!(err.contains("execHooks"), "{err}");
    let err = helm_template("x", "ns", &["minCaptureInterval=soon"]).unwrap_err();
    assert!(err.contains("minCaptureInterval"), "{err}");
    let err = helm_template("x", "ns", &["webhook.failurePolicy=Sometimes"]).unwrap_err();
    assert!(err.contains("failurePolicy"), "{err}");
    let err = helm_template("x", "ns", &["webhook.timeoutSeconds=60"]).unwrap_err();
    assert!(err.contains("timeoutSeconds"), "{err}");
    let docs = documents(&helm_template("x", "ns", &["execHooks=admin"]).unwrap());
    let args = &find(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    for arg in [
        "--exec-hooks=admin",
        "--restore-overwrite=all",
        "--min-capture-interval=1m",
    ] {
        assert!(
            args.as_array().unwrap().iter().any(|a| a == arg),
            "{arg} not in {args}"
        );
    }
}

#[test]
fn the_charts_rbac_rules_equal_config_rbac() {
    let docs = documents(&helm_template("rel", "ns", &[]).unwrap());
    let role: Value = serde_saphyr::from_str(&read("config/rbac/role.yaml")).unwrap();
    let cluster_role = find_named(&docs, "ClusterRole", "rel-vrg-operator");
    assert_eq!(
        cluster_role["rules"], role["rules"],
        "the chart's ClusterRole (charts/vrg-operator/templates/clusterrole.yaml) and \
         config/rbac/role.yaml differ"
    );
    let election: Value =
        serde_saphyr::from_str(&read("config/rbac/leader_election_role.yaml")).unwrap();
    assert_eq!(
        find_named(&docs, "Role", "rel-vrg-operator-leader-election")["rules"],
        election["rules"],
        "the chart's leader-election Role and config/rbac/leader_election_role.yaml differ"
    );
    let velero: Value = serde_saphyr::from_str(&read("config/rbac/velero_role.yaml")).unwrap();
    let charted = find_named(&docs, "Role", "rel-vrg-operator-velero");
    assert_eq!(
        charted["rules"], velero["rules"],
        "the chart's Velero Role (charts/vrg-operator/templates/velero-rbac.yaml) and \
         config/rbac/velero_role.yaml differ"
    );
    assert_eq!(charted["metadata"]["namespace"], "velero");
    let binding = find_named(&docs, "RoleBinding", "rel-vrg-operator-velero");
    assert_eq!(binding["metadata"]["namespace"], "velero");
    assert_eq!(binding["subjects"][0]["namespace"], "ns");
    // The webhook's: the same rules, naming the release's Secret and registration.
    for (kind, file, charted, resource_name) in [
        (
            "Role",
            "config/rbac/webhook_cert_role.yaml",
            "rel-vrg-operator-webhook-cert",
            "rel-vrg-operator-webhook-cert",
        ),
        (
            "ClusterRole",
            "config/rbac/webhook_configuration_role.yaml",
            "rel-vrg-operator-webhook",
            "rel-vrg-operator",
        ),
    ] {
        let shipped: Value = serde_saphyr::from_str(&read(file)).unwrap();
        let mut rules = shipped["rules"].clone();
        for rule in rules.as_array_mut().unwrap() {
            if rule.get("resourceNames").is_some() {
                rule["resourceNames"] = json!([resource_name]);
            }
        }
        assert_eq!(
            find_named(&docs, kind, charted)["rules"],
            rules,
            "the chart's {kind} {charted} (templates/webhook.yaml) and {file} differ"
        );
    }
    let without = documents(&helm_template("rel", "ns", &["webhook.enabled=false"]).unwrap());
    assert!(
        !without.iter().any(|d| d["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .contains("webhook")),
        "webhook.enabled=false still renders webhook objects"
    );
    // Velero's objects are granted in its namespace only, never cluster-wide.
    let cluster_wide = &find_named(&docs, "ClusterRole", "rel-vrg-operator")["rules"];
    assert!(
        !cluster_wide.to_string().contains("velero.io"),
        "{cluster_wide}"
    );
}

/// `ramenConfig` (and config/ramen, the kustomize component): the flag and a Role in Ramen's
/// namespace with the same rules; without it, neither.
#[test]
fn the_ramen_config_role_is_optional_and_equal_in_both_layouts() {
    let config = "ramen-system/ramen-dr-cluster-operator-config";
    let flag = format!("--ramen-config={config}");
    let args = |docs: &[Value]| {
        find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"].clone()
    };
    let plain = documents(&helm_template("rel", "ns", &[]).unwrap());
    assert!(!args(&plain).to_string().contains("--ramen-config"));
    assert!(
        !plain
            .iter()
            .any(|d| d["metadata"]["name"] == "rel-vrg-operator-ramen-config")
    );
    let shipped: Value = serde_saphyr::from_str(&read("config/ramen/role.yaml")).unwrap();
    let charted =
        documents(&helm_template("rel", "ns", &[&format!("ramenConfig={config}")]).unwrap());
    assert!(
        args(&charted)
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &flag)
    );
    let role = find_named(&charted, "Role", "rel-vrg-operator-ramen-config");
    assert_eq!(
        role["rules"], shipped["rules"],
        "the chart's Ramen Role (charts/vrg-operator/templates/ramen-config-rbac.yaml) and \
         config/ramen/role.yaml differ"
    );
    assert_eq!(role["metadata"]["namespace"], "ramen-system");
    let binding = find_named(&charted, "RoleBinding", "rel-vrg-operator-ramen-config");
    assert_eq!(binding["metadata"]["namespace"], "ramen-system");
    assert_eq!(binding["subjects"][0]["namespace"], "ns");
    let err = helm_template("x", "ns", &["ramenConfig=ramen-system"]).unwrap_err();
    assert!(err.contains("ramenConfig"), "{err}");
    // kustomize: config/with-ramen is config/default with the component.
    let kustomized = documents(&run({
        let mut cmd = kubectl();
        cmd.args(["kustomize", "config/with-ramen"]);
        cmd
    }));
    assert!(
        args(&kustomized)
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &flag)
    );
    let role = find_named(&kustomized, "Role", "vrg-operator-ramen-config");
    assert_eq!(role["rules"], shipped["rules"]);
    assert_eq!(role["metadata"]["namespace"], "ramen-system");
    assert_eq!(
        find_named(&kustomized, "RoleBinding", "vrg-operator-ramen-config")["subjects"][0]["namespace"],
        "vrg-operator-system"
    );
}

#[test]
fn the_velero_role_follows_the_velero_namespace() {
    let docs = documents(&helm_template("rel", "ns", &["veleroNamespace=backup"]).unwrap());
    for kind in ["Role", "RoleBinding"] {
        assert_eq!(
            find_named(&docs, kind, "rel-vrg-operator-velero")["metadata"]["namespace"],
            "backup"
        );
    }
    // The kustomize layout: into the namespace its Deployment's VELERO_NAMESPACE names, and
    // bound to the ServiceAccount in the operator's namespace.
    let docs = documents(&run({
        let mut cmd = kubectl();
        cmd.args(["kustomize", "config/default"]);
        cmd
    }));
    for kind in ["Role", "RoleBinding"] {
        assert_eq!(
            find_named(&docs, kind, "vrg-operator-velero")["metadata"]["namespace"],
            "velero"
        );
    }
    assert_eq!(
        find_named(&docs, "RoleBinding", "vrg-operator-velero")["subjects"][0]["namespace"],
        "vrg-operator-system"
    );
}

#[test]
fn kustomize_and_helm_render_the_same_deployment_settings() {
    let kustomized = documents(&run({
        let mut cmd = kubectl();
        cmd.args(["kustomize", "config/default"]);
        cmd
    }));
    let charted = documents(&helm_template("vrg-operator", "vrg-operator-system", &[]).unwrap());
    let pod = |docs: &[Value]| find(docs, "Deployment")["spec"]["template"]["spec"].clone();
    let (k, h) = (pod(&kustomized), pod(&charted));
    assert_eq!(k["securityContext"], h["securityContext"]);
    let (kc, hc) = (&k["containers"][0], &h["containers"][0]);
    for field in [
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "ports",
        "env",
        "image",
    ] {
        assert_eq!(kc[field], hc[field], "the containers' {field} differ");
    }
    assert_eq!(kc["image"], "ghcr.io/vrg-operator/vrg-operator:0.1.0");
    assert_eq!(
        find(&kustomized, "Deployment")["spec"]["replicas"],
        find(&charted, "Deployment")["spec"]["replicas"]
    );
    // The default release name gives the chart's objects the kustomize layout's names.
    let names = |docs: &[Value], kind: &str| {
        let mut names: Vec<String> = docs
            .iter()
            .filter(|d| d["kind"] == kind)
            .map(|d| {
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        names.sort();
        names
    };
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "ValidatingWebhookConfiguration",
    ] {
        assert_eq!(
            names(&kustomized, kind),
            names(&charted, kind),
            "{kind} names differ"
        );
    }
}

/// Monitoring is opt-in (its CRDs belong to the Prometheus Operator); the disruption budget is on
/// whenever there is a replica to spare.
#[test]
fn the_chart_renders_monitoring_on_request_and_a_disruption_budget() {
    let kinds = |sets: &[&str]| -> Vec<String> {
        documents(&helm_template("vrg", "dr", sets).unwrap())
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let default = kinds(&[]);
    assert!(
        default.contains(&"PodDisruptionBudget".to_owned()),
        "{default:?}"
    );
    assert!(
        !default.contains(&"ServiceMonitor".to_owned())
            && !default.contains(&"PrometheusRule".to_owned())
    );
    assert!(
        !kinds(&["replicas=1"]).contains(&"PodDisruptionBudget".to_owned()),
        "one replica: no budget to keep"
    );
    let docs = documents(
        &helm_template(
            "vrg",
            "dr",
            &[
                "metrics.serviceMonitor.enabled=true",
                "alerts.enabled=true",
                "alerts.failedCaptures=5",
            ],
        )
        .unwrap(),
    );
    let monitor = find_named(&docs, "ServiceMonitor", "vrg-vrg-operator");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let service = find_named(&docs, "Service", "vrg-vrg-operator-metrics");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(
            &service["metadata"]["labels"][key], value,
            "the monitor selects the metrics Service"
        );
    }
    let rules =
        &find_named(&docs, "PrometheusRule", "vrg-vrg-operator")["spec"]["groups"][0]["rules"];
    let alerts: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        alerts,
        [
            "VrgRpoTooOld",
            "VrgRecipeInvalid",
            "VrgCapturesFailing",
            "VrgRecoveryStuck"
        ]
    );
    assert!(
        rules[2]["expr"].as_str().unwrap().ends_with(">= 5"),
        "{}",
        rules[2]["expr"]
    );
    // tests/telemetry.rs checks that each expression names metrics the operator exports.
}

/// The registration is the same in both layouts (its documented defaults: `Ignore`, 5 seconds,
/// every namespace), and with cert-manager the chart asks it for the certificate instead.
#[test]
fn the_webhook_is_registered_alike_in_both_layouts() {
    let kustomized = documents(&run({
        let mut cmd = kubectl();
        cmd.args(["kustomize", "config/default"]);
        cmd
    }));
    let charted = documents(&helm_template("vrg-operator", "vrg-operator-system", &[]).unwrap());
    let hooks = |docs: &[Value]| {
        let config = find(docs, "ValidatingWebhookConfiguration");
        assert_eq!(config["metadata"]["name"], "vrg-operator");
        let mut hooks = config["webhooks"].clone();
        for hook in hooks.as_array_mut().unwrap() {
            // Names only need to be unique; their release part differs.
            hook.as_object_mut().unwrap().remove("name");
        }
        hooks
    };
    let (k, h) = (hooks(&kustomized), hooks(&charted));
    assert_eq!(k, h, "the registrations differ");
    for hook in k.as_array().unwrap() {
        assert_eq!(hook["failurePolicy"], "Ignore");
        assert_eq!(hook["timeoutSeconds"], 5);
        assert_eq!(hook["namespaceSelector"], json!({}));
        assert_eq!(
            hook["clientConfig"]["service"]["name"],
            "vrg-operator-webhook"
        );
    }
    let paths: Vec<&Value> = k
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["clientConfig"]["service"]["path"])
        .collect();
    assert_eq!(
        paths,
        [VRG_PATH, RECIPE_PATH],
        "the paths the operator serves"
    );
    let args = |docs: &[Value]| {
        find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"].clone()
    };
    for arg in [
        "--webhook-address=0.0.0.0:9443",
        "--webhook-cert-secret=vrg-operator-webhook-cert",
        "--webhook-configuration=vrg-operator",
        "--webhook-service=vrg-operator-webhook",
    ] {
        for (layout, docs) in [("kustomize", &kustomized), ("helm", &charted)] {
            let args = args(docs);
            assert!(
                args.as_array().unwrap().iter().any(|a| a == arg),
                "{layout}: {arg} not in {args}"
            );
        }
    }

    let cert_manager =
        documents(&helm_template("rel", "ns", &["webhook.certManager.enabled=true"]).unwrap());
    let config = find(&cert_manager, "ValidatingWebhookConfiguration");
    assert_eq!(
        config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "ns/rel-vrg-operator-webhook"
    );
    let certificate = find(&cert_manager, "Certificate");
    assert_eq!(
        certificate["spec"]["secretName"],
        "rel-vrg-operator-webhook-cert"
    );
    assert_eq!(
        certificate["spec"]["dnsNames"][0],
        "rel-vrg-operator-webhook.ns.svc"
    );
    assert_eq!(
        find(&cert_manager, "Issuer")["spec"],
        json!({"selfSigned": {}})
    );
    let args = args(&cert_manager);
    assert!(
        args.as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--webhook-cert-dir=/var/run/vrg-operator/webhook"),
        "{args}"
    );
    assert!(
        !args.to_string().contains("--webhook-cert-secret"),
        "{args}"
    );
    // cert-manager keeps the Secret: the operator is given no rights to it.
    assert!(
        !cert_manager.iter().any(
            |d| d["kind"] == "Role" && d["metadata"]["name"] == "rel-vrg-operator-webhook-cert"
        )
    );
    let own_issuer = documents(
        &helm_template(
            "rel",
            "ns",
            &[
                "webhook.certManager.enabled=true",
                "webhook.certManager.issuerRef.kind=ClusterIssuer",
                "webhook.certManager.issuerRef.name=corp-ca",
            ],
        )
        .unwrap(),
    );
    assert!(!own_issuer.iter().any(|d| d["kind"] == "Issuer"));
    assert_eq!(
        find(&own_issuer, "Certificate")["spec"]["issuerRef"],
        json!({"kind": "ClusterIssuer", "name": "corp-ca"})
    );
}

// ---- against the API server --------------------------------------------------------------------

/// What an install should have made, in `namespace`.
struct Installed<'a> {
    namespace: &'a str,
    deployment: &'a str,
    service_account: &'a str,
    cluster_role_binding: &'a str,
    leader_election_binding: &'a str,
    /// In Velero's namespace.
    velero_binding: &'a str,
    metrics_service: &'a str,
    webhook_configuration: &'a str,
}

/// Velero's namespace, as a cluster with Velero installed has it: the operator's Velero Role
/// goes there.
async fn velero_namespace(client: &kube::Client) {
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": VELERO_NAMESPACE}})).unwrap();
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("namespace {VELERO_NAMESPACE}: {e}"),
    }
}

#[tokio::test]
async fn kustomize_install_applies_and_the_operator_leads() {
    let plane = shared();
    velero_namespace(&plane.client().await.unwrap()).await;
    let mut cmd = plane.kubectl();
    cmd.current_dir(repo(""))
        .args(["apply", "--server-side", "-k", "config/default"]);
    let applied = run_async(cmd).await;
    assert!(
        applied.contains("deployment.apps/vrg-operator serverside-applied"),
        "{applied}"
    );
    let client = plane.client().await.unwrap();
    let ns = Api::<Namespace>::all(client.clone())
        .get("vrg-operator-system")
        .await
        .unwrap();
    assert_eq!(
        ns.metadata.labels.unwrap()["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let installed = Installed {
        namespace: "vrg-operator-system",
        deployment: "vrg-operator",
        service_account: "vrg-operator",
        cluster_role_binding: "vrg-operator",
        leader_election_binding: "vrg-operator-leader-election",
        velero_binding: "vrg-operator-velero",
        metrics_service: "vrg-operator-metrics",
        webhook_configuration: "vrg-operator",
    };
    check_installed(plane, &client, &installed).await;

    // The samples are valid objects for the installed CRDs.
    let samples_ns = plane.namespace(&client, "samples").await.unwrap();
    let mut cmd = plane.kubectl();
    cmd.current_dir(repo("")).args([
        "apply",
        "--server-side",
        "-k",
        "config/samples",
        "-n",
        &samples_ns,
    ]);
    let applied = run_async(cmd).await;
    for object in [
        "volumereplicationgroup.ramendr.openshift.io/guestbook",
        "volumereplicationgroup.ramendr.openshift.io/mysql",
        "recipe.ramendr.openshift.io/mysql",
    ] {
        assert!(applied.contains(object), "{object} not applied:\n{applied}");
    }
}

#[tokio::test]
async fn helm_install_applies_and_the_operator_leads() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "helm").await.unwrap();
    velero_namespace(&client).await;
    // As the kustomize layout's namespace: Pod Security "restricted" enforced.
    Api::<Namespace>::all(client.clone())
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }}})),
        )
        .await
        .unwrap();
    let release = format!("r{}", &ns["helm-".len()..]);
    let mut cmd = helm();
    cmd.env("KUBECONFIG", &plane.kubeconfig).args([
        "install",
        &release,
        "charts/vrg-operator",
        "--namespace",
        &ns,
    ]);
    let installed = run_async(cmd).await;
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    let fullname = format!("{release}-vrg-operator");
    assert!(
        installed.contains(&format!("leader election on Lease {fullname}")),
        "NOTES.txt: {installed}"
    );
    let election = format!("{fullname}-leader-election");
    let velero_binding = format!("{fullname}-velero");
    let metrics = format!("{fullname}-metrics");
    check_installed(
        plane,
        &client,
        &Installed {
            namespace: &ns,
            deployment: &fullname,
            service_account: &fullname,
            cluster_role_binding: &fullname,
            leader_election_binding: &election,
            velero_binding: &velero_binding,
            metrics_service: &metrics,
            webhook_configuration: &fullname,
        },
    )
    .await;
}

/// The objects exist as they should, the Deployment's pods were admitted, and the binary run as
/// the Deployment would run it takes the leader Lease.
async fn check_installed(plane: &ControlPlane, client: &kube::Client, want: &Installed<'_>) {
    let ns = want.namespace;
    let deployment = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(want.deployment)
        .await
        .unwrap();
    let spec = deployment.spec.clone().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.clone().unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some(want.service_account)
    );
    let psc = pod.security_context.clone().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let container = &pod.containers[0];
    let sc = container.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_owned()]));
    let port = &container.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("metrics"), 8080)
    );
    for (probe, path) in [
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let get = probe.clone().unwrap().http_get.unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(
            get.port,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("metrics".into())
        );
    }
    let resources = container.resources.clone().unwrap();
    assert!(resources.requests.unwrap().contains_key("memory"));
    assert!(resources.limits.unwrap().contains_key("memory"));

    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .get(want.service_account)
        .await
        .unwrap();
    let service_account = Subject {
        kind: "ServiceAccount".into(),
        name: want.service_account.into(),
        namespace: Some(ns.into()),
        api_group: None,
    };
    let binding = Api::<ClusterRoleBinding>::all(client.clone())
        .get(want.cluster_role_binding)
        .await
        .unwrap();
    assert_eq!(binding.subjects, Some(vec![service_account.clone()]));
    let binding = Api::<RoleBinding>::namespaced(client.clone(), ns)
        .get(want.leader_election_binding)
        .await
        .unwrap();
    assert_eq!(binding.subjects, Some(vec![service_account.clone()]));
    let binding = Api::<RoleBinding>::namespaced(client.clone(), VELERO_NAMESPACE)
        .get(want.velero_binding)
        .await
        .unwrap();
    assert_eq!(binding.subjects, Some(vec![service_account]));
    let service = Api::<Service>::namespaced(client.clone(), ns)
        .get(want.metrics_service)
        .await
        .unwrap();
    assert_eq!(
        service.spec.unwrap().selector,
        spec.selector.match_labels,
        "the metrics Service selects the Deployment's pods"
    );

    wait_for_admitted_pods(client, ns, &deployment).await;
    run_as_the_deployment(plane, client, want, container).await;
}

/// kube-controller-manager creates the ReplicaSet's pods, which the namespace's Pod Security
/// "restricted" admission refuses unless the security contexts satisfy it. (No scheduler runs,
/// so the pods stay Pending, and no image could be pulled here anyway.)
async fn wait_for_admitted_pods(client: &kube::Client, ns: &str, deployment: &Deployment) {
    let labels = deployment
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone();
    let selector = labels
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let sets = Api::<ReplicaSet>::namespaced(client.clone(), ns);
    let params = ListParams::default().labels(&selector);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let count = pods.list(&params).await.unwrap().items.len();
        if count == 2 {
            return;
        }
        // A refused pod shows as the ReplicaSet's ReplicaFailure condition.
        let failures: Vec<String> = sets
            .list(&params)
            .await
            .unwrap()
            .items
            .iter()
            .flat_map(|rs| rs.status.iter().flat_map(|s| s.conditions.iter().flatten()))
            .filter(|c| c.type_ == "ReplicaFailure")
            .map(|c| c.message.clone().unwrap_or_default())
            .collect();
        if !failures.is_empty() || Instant::now() > deadline {
            panic!("{count} of 2 pods of the Deployment in {ns}; refused: {failures:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kills the operator process when the test ends, however it ends.
struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the operator's binary with the container's arguments and environment, as its
/// ServiceAccount (through impersonation), watching only `ns`; it must take the leader Lease,
/// and its webhook must refuse a bad VRG through the installed registration.
async fn run_as_the_deployment(
    plane: &ControlPlane,
    client: &kube::Client,
    want: &Installed<'_>,
    container: &k8s_openapi::api::core::v1::Container,
) {
    let (ns, service_account) = (want.namespace, want.service_account);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(ns);
    std::fs::create_dir_all(&tmp).unwrap();
    // The admin kubeconfig, impersonating the ServiceAccount.
    let mut kubeconfig: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&plane.kubeconfig).unwrap()).unwrap();
    for user in kubeconfig["users"].as_array_mut().unwrap() {
        user["user"]["as"] = json!(format!("system:serviceaccount:{ns}:{service_account}"));
        user["user"]["as-groups"] = json!([
            "system:serviceaccounts",
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated"
        ]);
    }
    let kubeconfig_path = tmp.join("kubeconfig");
    std::fs::write(&kubeconfig_path, kubeconfig.to_string()).unwrap();

    let pod_name = format!("{ns}-operator-0");
    let mut args: Vec<String> = container
        .args
        .clone()
        .unwrap()
        .into_iter()
        .filter(|a| !a.starts_with("--metrics-address") && !a.starts_with("--webhook-address"))
        .collect();
    // No Service routes to a process here: the API server calls the webhook by URL instead,
    // for this namespace only (other tests share the API server).
    let webhook_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    args.extend([
        "--metrics-address=127.0.0.1:0".to_owned(),
        format!("--watch-namespace={ns}"),
        format!("--webhook-address=127.0.0.1:{webhook_port}"),
        "--webhook-host=127.0.0.1".to_owned(),
    ]);
    reach_by_url(client, want.webhook_configuration, ns, webhook_port).await;
    let lease = args
        .iter()
        .find_map(|a| a.strip_prefix("--leader-election-lease="))
        .unwrap_or("vrg-operator")
        .to_owned();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vrg-operator"));
    cmd.args(&args)
        .env_clear()
        .env("KUBECONFIG", &kubeconfig_path)
        .env("POD_NAMESPACE", ns)
        .env("POD_NAME", &pod_name);
    for var in container.env.iter().flatten() {
        if let Some(value) = &var.value {
            cmd.env(&var.name, value);
        }
    }
    let log_path = tmp.join("operator.log");
    let log = std::fs::File::create(&log_path).unwrap();
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    let mut operator = Operator(cmd.spawn().unwrap());
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let leases = Api::<Lease>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = operator.0.try_wait().unwrap() {
            panic!("the operator ({args:?}) exited with {status}:\n{}", log());
        }
        let holder = leases
            .get_opt(&lease)
            .await
            .unwrap()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity);
        if holder.as_deref() == Some(pod_name.as_str()) {
            break;
        }
        if Instant::now() > deadline {
            panic!(
                "the operator ({args:?}) did not take Lease {ns}/{lease} within {TIMEOUT:?} \
                 (holder: {holder:?}); its log:\n{}",
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Leading, it runs the controller as the ServiceAccount: still running a moment later, and
    // refused nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(status) = operator.0.try_wait().unwrap() {
        panic!(
            "the operator exited with {status} after taking the lease:\n{}",
            log()
        );
    }
    assert!(
        !log().to_lowercase().contains("forbidden"),
        "the ServiceAccount was refused something:\n{}",
        log()
    );
    admits_and_refuses(client, want, &log).await;
}

/// Points the installed registration's webhooks at `port` on 127.0.0.1, for namespace `ns`.
async fn reach_by_url(client: &kube::Client, configuration: &str, ns: &str, port: u16) {
    let configs = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let installed = configs.get(configuration).await.unwrap();
    // Strategic merge keys webhooks by name; a null `service` removes it beside the new `url`.
    let webhooks: Vec<_> = installed
        .webhooks
        .iter()
        .flatten()
        .map(|hook| {
            let path = hook.client_config.service.as_ref().unwrap().path.clone().unwrap();
            json!({"name": hook.name,
                   "clientConfig": {"service": null, "url": format!("https://127.0.0.1:{port}{path}")},
                   "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
        })
        .collect();
    configs
        .patch(
            configuration,
            &PatchParams::default(),
            &Patch::Strategic(json!({"webhooks": webhooks})),
        )
        .await
        .unwrap();
}

/// The running operator's webhook, registered as installed: a VRG with a too-short interval is
/// refused with validate's line, a good one admitted; the operator made its certificate Secret
/// and gave the registration its CA.
async fn admits_and_refuses(client: &kube::Client, want: &Installed<'_>, log: &dyn Fn() -> String) {
    let gvk = kube::api::GroupVersionKind::gvk(
        "ramendr.openshift.io",
        "v1alpha1",
        "VolumeReplicationGroup",
    );
    let vrgs: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        want.namespace,
        &kube::api::ApiResource::from_gvk(&gvk),
    );
    let vrg = |name: &str, interval: &str| -> kube::api::DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
            "metadata": {"name": name},
            "spec": {"replicationState": "primary", "s3Profiles": ["east"],
                     "kubeObjectProtection": {"captureInterval": interval}},
        }))
        .unwrap()
    };
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match vrgs.create(&dry_run, &vrg("bad", "10s")).await {
            Err(e) if e.to_string().contains("denied the request") => {
                assert!(e.to_string().contains("captureInterval"), "{e}");
                break;
            }
            other => assert!(
                Instant::now() < deadline,
                "the installed webhook never refused a bad VRG ({other:?}); the operator's log:\n{}",
                log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    vrgs.create(&dry_run, &vrg("good", "1h")).await.unwrap();
    let config = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(want.webhook_configuration)
        .await
        .unwrap();
    for hook in config.webhooks.iter().flatten() {
        assert!(
            hook.client_config.ca_bundle.is_some(),
            "{}: no caBundle",
            hook.name
        );
    }
    let secret = format!("{}-webhook-cert", want.deployment);
    let secret =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), want.namespace)
            .get(&secret)
            .await
            .unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
}

/// Our CRDs' `spec` fields as `(kind, path) -> (type, required)`, walked as the Ramen table
/// (tests/fixtures/ramen/crd-fields.tsv) was: `[]` for array items, `int-or-string`, and
/// `object(free)` for an object whose unknown fields the API server keeps.
fn our_spec_fields() -> std::collections::BTreeMap<(String, String), (String, bool)> {
    fn walk(
        kind: &str,
        path: &str,
        schema: &Value,
        required: bool,
        out: &mut std::collections::BTreeMap<(String, String), (String, bool)>,
    ) {
        let kind_of = if schema["x-kubernetes-int-or-string"] == true {
            "int-or-string".to_owned()
        } else if schema["x-kubernetes-preserve-unknown-fields"] == true
            && schema.get("properties").is_none()
        {
            "object(free)".to_owned()
        } else {
            schema["type"].as_str().unwrap_or("").to_owned()
        };
        out.insert((kind.to_owned(), path.to_owned()), (kind_of, required));
        if let Some(properties) = schema["properties"].as_object() {
            let needed: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, child) in properties {
                walk(
                    kind,
                    &format!("{path}.{name}"),
                    child,
                    needed.contains(&name.as_str()),
                    out,
                );
            }
        }
        if schema.get("items").is_some() {
            walk(kind, &format!("{path}[]"), &schema["items"], false, out);
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for crd in documents(&read("crds/crds.yaml")) {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_owned();
        let version = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "v1alpha1")
            .unwrap();
        let root = &version["schema"]["openAPIV3Schema"];
        let required = root["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|n| n == "spec"));
        walk(
            &kind,
            "spec",
            &root["properties"]["spec"],
            required,
            &mut out,
        );
    }
    out
}

/// Field by field against Ramen's CRDs (the table in tests/fixtures/ramen/crd-fields.tsv): every
/// field Ramen's API has is one of ours with the same type, or a type that accepts more (an
/// integer-or-string where Ramen says integer), or lies under an object whose fields the API
/// server keeps as written (Ramen's volume replication settings). docs/recipe-reference.md
/// section 15 explains each difference.
#[test]
fn every_field_of_ramens_crds_is_kept_by_ours() {
    let ours = our_spec_fields();
    let table = read("tests/fixtures/ramen/crd-fields.tsv");
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let [kind, path, ramen_type, _required] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("a row of four columns: {line:?}")
        };
        rows += 1;
        let key = (kind.to_owned(), path.to_owned());
        if let Some((our_type, _)) = ours.get(&key) {
            let wider = matches!(
                (ramen_type, our_type.as_str()),
                ("integer", "int-or-string") | ("object", "object(free)")
            );
            assert!(
                our_type == ramen_type || wider,
                "{kind} {path}: Ramen's type is {ramen_type}, ours {our_type}"
            );
            continue;
        }
        // Not a field of ours: some ancestor must keep it as written.
        let kept = path
            .match_indices(['.', '['])
            .map(|(i, _)| &path[..i])
            .any(|ancestor| {
                ours.get(&(kind.to_owned(), ancestor.to_owned()))
                    .is_some_and(|(t, _)| t == "object(free)")
            });
        assert!(
            kept,
            "{kind} {path} ({ramen_type}): neither a field of our CRD nor kept under a free-form object"
        );
    }
    assert!(rows > 400, "{rows} rows");
}
