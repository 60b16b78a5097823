//! Command lines of the control plane's components, and the files they need.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, PostParams};

use crate::certs::Certs;
use crate::process::{Process, free_port};
use crate::{Binaries, Error};

/// The node kwok runs pods on; tests set `spec.nodeName` to it.
pub const KWOK_NODE: &str = "kwok-node";

/// A fresh directory for one control plane, under `$TMPDIR/vrg-testenv/`. Directories of
/// processes that are gone are removed first, so killed test runs leave nothing behind for long.
pub fn run_dir() -> Result<PathBuf, Error> {
    let base = std::env::temp_dir().join("vrg-testenv");
    std::fs::create_dir_all(&base).map_err(|e| Error::Io(base.clone(), e))?;
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{}-{:08x}", std::process::id(), crate::random()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io(dir.clone(), e))?;
    Ok(dir)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Starts etcd; returns its client URL once it accepts connections.
pub fn etcd(
    binaries: &Binaries,
    dir: &Path,
    processes: &mut Vec<Process>,
) -> Result<String, Error> {
    let (client, peer) = (free_port()?, free_port()?);
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut a = args(&[
        "--name=default",
        "--unsafe-no-fsync",
        "--log-level=warn",
        "--quota-backend-bytes=8589934592",
    ]);
    a.push(format!("--data-dir={}", path(&dir.join("etcd"))));
    a.push(format!("--listen-client-urls={client_url}"));
    a.push(format!("--advertise-client-urls={client_url}"));
    a.push(format!("--listen-peer-urls={peer_url}"));
    a.push(format!("--initial-advertise-peer-urls={peer_url}"));
    a.push(format!("--initial-cluster=default={peer_url}"));
    let mut process = Process::spawn("etcd", &binaries.etcd, &a, dir.join("etcd.log"), &[])?;
    wait_for_port(&mut process, client, Duration::from_secs(30))?;
    processes.push(process);
    Ok(client_url)
}

/// Starts kube-apiserver and writes an admin kubeconfig for it; returns (server URL, kubeconfig).
/// The audit log's file name in the control plane's directory.
pub const AUDIT_LOG: &str = "audit.log";

/// Every request's metadata, once, when its response is complete (watches: when they end).
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n- level: Metadata\n";

pub fn apiserver(
    binaries: &Binaries,
    dir: &Path,
    certs: &Certs,
    etcd_url: &str,
    audit: bool,
    processes: &mut Vec<Process>,
) -> Result<(String, PathBuf), Error> {
    let port = free_port()?;
    let mut a = args(&[
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--service-account-issuer=https://kubernetes.default.svc",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        // kwok serves the kubelet API on 127.0.0.1 with a self-signed certificate: no kubelet CA.
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        "--enable-priority-and-fairness=false",
        // No Service endpoints for the API server: a loopback address is not a valid endpoint.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
    ]);
    a.push(format!("--secure-port={port}"));
    a.push(format!("--etcd-servers={etcd_url}"));
    a.push(format!("--cert-dir={}", path(&dir.join("apiserver-certs"))));
    a.push(format!("--tls-cert-file={}", path(&certs.serving_cert)));
    a.push(format!(
        "--tls-private-key-file={}",
        path(&certs.serving_key)
    ));
    a.push(format!("--client-ca-file={}", path(&certs.ca_cert)));
    if audit {
        let policy = dir.join("audit-policy.yaml");
        std::fs::write(&policy, AUDIT_POLICY).map_err(|e| Error::Io(policy.clone(), e))?;
        a.push(format!("--audit-policy-file={}", path(&policy)));
        a.push(format!("--audit-log-path={}", path(&dir.join(AUDIT_LOG))));
        a.push("--audit-log-format=json".to_owned());
        // Written as requests complete, not in batches: a benchmark reads it right after.
        a.push("--audit-log-mode=blocking".to_owned());
    }
    a.push(format!(
        "--service-account-key-file={}",
        path(&certs.sa_public)
    ));
    a.push(format!(
        "--service-account-signing-key-file={}",
        path(&certs.sa_private)
    ));
    let process = Process::spawn(
        "kube-apiserver",
        &binaries.kube_apiserver,
        &a,
        dir.join("kube-apiserver.log"),
        &[],
    )?;
    processes.push(process);
    let server = format!("https://127.0.0.1:{port}");
    let kubeconfig = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: vrg-testenv\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: vrg-testenv\n  context:\n    cluster: vrg-testenv\n    user: admin\n    namespace: default\ncurrent-context: vrg-testenv\n",
        ca = path(&certs.ca_cert),
        cert = path(&certs.admin_cert),
        key = path(&certs.admin_key),
    );
    std::fs::write(&kubeconfig, text).map_err(|e| Error::Io(kubeconfig.clone(), e))?;
    Ok((server, kubeconfig))
}

/// Starts kube-controller-manager (Deployments, ReplicaSets, ServiceAccounts, garbage collection).
pub fn controller_manager(
    binaries: &Binaries,
    dir: &Path,
    certs: &Certs,
    kubeconfig: &Path,
    processes: &mut Vec<Process>,
) -> Result<(), Error> {
    let mut a = args(&[
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=false",
        "--controllers=*,-nodeipam,-nodelifecycle",
    ]);
    a.push(format!("--kubeconfig={}", path(kubeconfig)));
    a.push(format!(
        "--service-account-private-key-file={}",
        path(&certs.sa_private)
    ));
    a.push(format!("--root-ca-file={}", path(&certs.ca_cert)));
    a.push(format!(
        "--cluster-signing-cert-file={}",
        path(&certs.ca_cert)
    ));
    a.push(format!(
        "--cluster-signing-key-file={}",
        path(&certs.ca_key)
    ));
    let process = Process::spawn(
        "kube-controller-manager",
        &binaries.kube_controller_manager,
        &a,
        dir.join("kube-controller-manager.log"),
        &[],
    )?;
    processes.push(process);
    Ok(())
}

/// Starts kube-scheduler, so pods without a node (Velero clears `spec.nodeName` of the pods it
/// restores) are placed on the kwok node.
pub fn scheduler(
    binaries: &Binaries,
    dir: &Path,
    kubeconfig: &Path,
    processes: &mut Vec<Process>,
) -> Result<(), Error> {
    let program = Binaries::need(&binaries.kube_scheduler, "KUBE_SCHEDULER")?;
    let mut a = args(&["--leader-elect=false", "--secure-port=0"]);
    for flag in [
        "kubeconfig",
        "authentication-kubeconfig",
        "authorization-kubeconfig",
    ] {
        a.push(format!("--{flag}={}", path(kubeconfig)));
    }
    let process = Process::spawn(
        "kube-scheduler",
        &program,
        &a,
        dir.join("kube-scheduler.log"),
        &[],
    )?;
    processes.push(process);
    Ok(())
}

/// Starts kwok: it manages every node, moves their pods to Running, and serves `exec` by running
/// the command on this machine in `workdir`.
pub fn kwok(
    binaries: &Binaries,
    dir: &Path,
    kubeconfig: &Path,
    workdir: &Path,
    processes: &mut Vec<Process>,
) -> Result<(), Error> {
    let port = free_port()?;
    let mut config = format!(
        "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterExec\nmetadata:\n  name: local\nspec:\n  execs:\n  - local:\n      workDir: {}\n",
        path(workdir)
    );
    let stages = std::fs::read_dir(&binaries.kwok_stages)
        .map_err(|e| Error::Io(binaries.kwok_stages.clone(), e))?;
    let mut stage_files: Vec<PathBuf> = stages.filter_map(|e| e.ok().map(|e| e.path())).collect();
    stage_files.sort();
    for stage in stage_files {
        let text = std::fs::read_to_string(&stage).map_err(|e| Error::Io(stage.clone(), e))?;
        config.push_str("---\n");
        config.push_str(&text);
        config.push('\n');
    }
    let config_file = dir.join("kwok.yaml");
    std::fs::write(&config_file, config).map_err(|e| Error::Io(config_file.clone(), e))?;
    let mut a = args(&[
        "--manage-all-nodes=true",
        // A node lease, as a kubelet keeps one.
        "--node-lease-duration-seconds=40",
        "--node-ip=127.0.0.1",
        "--node-name=localhost",
    ]);
    a.push(format!("--kubeconfig={}", path(kubeconfig)));
    a.push(format!("--config={}", path(&config_file)));
    a.push(format!("--node-port={port}"));
    a.push(format!("--server-address=127.0.0.1:{port}"));
    // KWOK_WORKDIR keeps kwok from reading a user's ~/.kwok configuration.
    let env = [("KWOK_WORKDIR", path(&dir.join("kwok-home")))];
    let process = Process::spawn("kwok", &binaries.kwok, &a, dir.join("kwok.log"), &env)?;
    processes.push(process);
    Ok(())
}

/// Creates the node kwok manages, and waits until kwok reports it Ready.
pub async fn create_node(client: &kube::Client) -> Result<(), Error> {
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": KWOK_NODE,
            "labels": {"kubernetes.io/hostname": KWOK_NODE, "type": "kwok"},
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
    }))
    .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let api: Api<Node> = Api::all(client.clone());
    api.create(&PostParams::default(), &node).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let node = api.get(KWOK_NODE).await?;
        let ready = node
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready {
            // Without the node lifecycle controller nothing lifts the `not-ready` taint the API
            // server put on the new node, and the scheduler would never place a pod on it.
            let patch = serde_json::json!({"spec": {"taints": null}});
            api.patch(
                KWOK_NODE,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await?;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::NotReady {
                component: format!("node {KWOK_NODE} (kwok)"),
                seconds: 30,
                log: String::new(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `port` on 127.0.0.1 accepts connections, or the process exits.
pub(crate) fn wait_for_port(
    process: &mut Process,
    port: u16,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = process.exited() {
            return Err(Error::NotReady {
                component: format!("{} (exited: {status})", process.name),
                seconds: 0,
                log: process.log_tail(30),
            });
        }
        if Instant::now() > deadline {
            return Err(Error::NotReady {
                component: process.name.clone(),
                seconds: timeout.as_secs(),
                log: process.log_tail(30),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
