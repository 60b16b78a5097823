//! `vrg-testenv serve STATE_DIR`: runs the control plane in the foreground until SIGINT/SIGTERM,
//! writing `kubeconfig` and `ready` into STATE_DIR once it is up. `hack/dev-cluster.sh` runs it in
//! the background; every component dies with this process, however it ends.

use std::path::PathBuf;
use std::process::ExitCode;

use vrg_testenv::{ControlPlane, Options};

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
