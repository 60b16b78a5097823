//! `vrg-testenv serve [--pair] STATE_DIR`: runs local clusters in the foreground until
//! SIGINT/SIGTERM, each a control plane with a real Velero server, all sharing one S3 bucket served
//! by versitygw from `STATE_DIR/s3`. Alone it is one cluster (`STATE_DIR/kubeconfig`); with
//! `--pair` two, `east` and `west` (`STATE_DIR/east/kubeconfig`, `STATE_DIR/west/kubeconfig`).
//! Once everything is up it writes `STATE_DIR/ready`. `hack/dev-cluster.sh` runs it in the
//! background; every component dies with this process, however it ends.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use vrg_testenv::dr::{BUCKET, ObjectStore, Velero};
use vrg_testenv::{ControlPlane, Options};

/// The storage locations every cluster gets: the s3 profiles the example VRGs name.
const LOCATIONS: [&str; 2] = ["default", "secondary-site"];

const USAGE: &str = "usage: vrg-testenv serve [--pair] STATE_DIR";

/// One running cluster: its control plane and Velero server.
struct Cluster {
    name: &'static str,
    plane: ControlPlane,
    _velero: Velero,
}

async fn cluster(
    name: &'static str,
    store: &ObjectStore,
    plane: ControlPlane,
) -> Result<Cluster, String> {
    let velero = Velero::start(&plane, store, &LOCATIONS)
        .await
        .map_err(|e| format!("{name}: starting Velero: {e}"))?;
    Ok(Cluster {
        name,
        plane,
        _velero: velero,
    })
}

async fn start(
    state: &Path,
    names: &[&'static str],
) -> Result<(ObjectStore, Vec<Cluster>), String> {
    let mut planes = vec![];
    for name in names {
        let plane = ControlPlane::start(Options::default())
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        planes.push((*name, plane));
    }
    let store = ObjectStore::start(&planes[0].1.binaries, state)
        .map_err(|e| format!("starting the object store: {e}"))?;
    let mut clusters = vec![];
    for (name, plane) in planes {
        clusters.push(cluster(name, &store, plane).await?);
    }
    Ok((store, clusters))
}

/// Where a cluster's kubeconfig goes: `STATE_DIR/kubeconfig` alone, `STATE_DIR/NAME/` in a pair.
fn home(state: &Path, cluster: &Cluster, pair: bool) -> PathBuf {
    if pair {
        state.join(cluster.name)
    } else {
        state.to_path_buf()
    }
}

fn write_ready(
    state: &Path,
    store: &ObjectStore,
    clusters: &[Cluster],
    pair: bool,
    took: f64,
) -> std::io::Result<()> {
    let mut summary = format!(
        "bucket={}\ns3={}\nstartup_seconds={took:.1}\n",
        store.root.join(BUCKET).display(),
        store.url
    );
    for c in clusters {
        let dir = home(state, c, pair);
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(&c.plane.kubeconfig, dir.join("kubeconfig"))?;
        let prefix = if pair {
            format!("{}_", c.name)
        } else {
            String::new()
        };
        summary.push_str(&format!(
            "{prefix}server={}\n{prefix}dir={}\n{prefix}velero_log={}\n",
            c.plane.server,
            c.plane.dir.display(),
            c.plane.dir.join("velero-1.log").display()
        ));
        for (n, p) in c.plane.pids() {
            summary.push_str(&format!("{prefix}pid_{}={p}\n", n.replace('-', "_")));
        }
    }
    std::fs::write(state.join("ready"), summary)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pair, state) = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", state] => (false, PathBuf::from(state)),
        ["serve", "--pair", state] => (true, PathBuf::from(state)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let names: &[&'static str] = if pair { &["east", "west"] } else { &["local"] };
    let (store, clusters) = match start(&state, names).await {
        Ok(up) => up,
        Err(e) => {
            eprintln!("vrg-testenv: {e}");
            return ExitCode::from(1);
        }
    };
    let took = started.elapsed().as_secs_f64();
    if let Err(e) = write_ready(&state, &store, &clusters, pair, took) {
        eprintln!("vrg-testenv: writing {}: {e}", state.display());
        return ExitCode::from(1);
    }
    for c in &clusters {
        eprintln!(
            "vrg-testenv: {} up at {} with Velero",
            c.name, c.plane.server
        );
    }
    eprintln!(
        "vrg-testenv: up in {took:.1}s; bucket {}",
        store.root.join(BUCKET).display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    drop(clusters);
    drop(store);
    ExitCode::SUCCESS
}
