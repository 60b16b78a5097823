//! `vrg-testenv serve STATE_DIR`: runs the control plane in the foreground until SIGINT/SIGTERM,
//! writing `kubeconfig` and `ready` into STATE_DIR once it is up, with the Velero stand-in serving
//! the `velero` namespace. `hack/dev-cluster.sh` runs it in the background; every component dies
//! with this process, however it ends.

use std::path::PathBuf;
use std::process::ExitCode;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use vrg_testenv::velero::StandIn;
use vrg_testenv::{ControlPlane, Options};

/// Where the stand-in plays Velero, as a default Velero install.
const VELERO_NAMESPACE: &str = "velero";

async fn velero_stand_in(plane: &ControlPlane) -> Result<StandIn, String> {
    let client = plane.client().await.map_err(|e| e.to_string())?;
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": VELERO_NAMESPACE}}))
            .map_err(|e| e.to_string())?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(|e| e.to_string())?;
    Ok(StandIn::start(client, VELERO_NAMESPACE))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, command, state] = args.as_slice() else {
        eprintln!("usage: vrg-testenv serve STATE_DIR");
        return ExitCode::from(2);
    };
    if command != "serve" {
        eprintln!("usage: vrg-testenv serve STATE_DIR");
        return ExitCode::from(2);
    }
    let state = PathBuf::from(state);
    let plane = match ControlPlane::start(Options::default()).await {
        Ok(plane) => plane,
        Err(e) => {
            eprintln!("vrg-testenv: {e}");
            return ExitCode::from(1);
        }
    };
    let _stand_in = match velero_stand_in(&plane).await {
        Ok(stand_in) => stand_in,
        Err(e) => {
            eprintln!("vrg-testenv: starting the Velero stand-in: {e}");
            return ExitCode::from(1);
        }
    };
    let summary = format!(
        "server={}\nkubeconfig={}\ndir={}\nstartup_seconds={:.1}\n{}\n",
        plane.server,
        plane.kubeconfig.display(),
        plane.dir.display(),
        plane.startup.as_secs_f64(),
        plane
            .pids()
            .iter()
            .map(|(n, p)| format!("pid_{}={p}", n.replace('-', "_")))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let written = std::fs::copy(&plane.kubeconfig, state.join("kubeconfig"))
        .and_then(|_| std::fs::write(state.join("ready"), summary));
    if let Err(e) = written {
        eprintln!("vrg-testenv: writing {}: {e}", state.display());
        return ExitCode::from(1);
    }
    eprintln!(
        "vrg-testenv: up at {} in {:.1}s",
        plane.server,
        plane.startup.as_secs_f64()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    drop(plane);
    ExitCode::SUCCESS
}
