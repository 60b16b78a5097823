//! `kubectl vrg dashboard` in headless Chromium (Debian's `chromium`, installed by `.ci/run`)
//! against the real API server and Velero: the page lists the VRG with its protection, RPO and
//! run, and shows the next capture once the watch has seen it, without restarting anything.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::env::{Env, is};
use support::net::free_port;
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(60);

struct Dashboard(Child);

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: install Debian's chromium (apt-get install chromium; .ci/run does), or set CHROMIUM",
        path.display()
    );
    path
}

/// Chromium, headless, with the flags this network needs (no background connections).
fn browser(profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    cmd
}

/// The page's DOM as Chromium rendered it.
fn dump_dom(profile: &Path, url: &str) -> String {
    let out = browser(profile).args(["--dump-dom", url]).output().unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_every_vrg_live_in_a_browser() {
    let env = Env::start("dashboard").await;
    env.apply(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {name: shop}
spec:
  replicationState: primary
  s3Profiles: [east]
  kubeObjectProtection: {captureInterval: 1h, kubeObjectSelector: {matchLabels: {app: shop}}}
",
    )
    .await;
    env.wait("shop", "the first capture", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True") && support::hooks::finished(v).is_some()
    })
    .await;

    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let _dashboard = Dashboard(
        Command::new(env!("CARGO_BIN_EXE_kubectl-vrg"))
            .arg("--kubeconfig")
            .arg(&shared().kubeconfig)
            .args(["-n", &env.ns, "dashboard", "--address", &address])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://{address}/");
    let deadline = Instant::now() + TIMEOUT;
    while support::http::get(address.parse().unwrap(), "/healthz")
        .await
        .0
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "the dashboard never answered on {address}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{}", env.ns));
    let row = format!("data-name=\"{}/shop\"", env.ns);
    let wait_for = |want: &'static str| {
        let (profile, url, row) = (profile.clone(), url.clone(), row.clone());
        async move {
            let deadline = Instant::now() + TIMEOUT;
            loop {
                let dom = tokio::task::spawn_blocking({
                    let (profile, url) = (profile.clone(), url.clone());
                    move || dump_dom(&profile, &url)
                })
                .await
                .unwrap();
                let line = dom.lines().find(|l| l.contains(&row)).map(str::to_owned);
                if let Some(line) = line.filter(|l| l.contains(want)) {
                    return (dom, line);
                }
                assert!(
                    Instant::now() < deadline,
                    "the page never showed {want:?}:\n{dom}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let (dom, line) = wait_for("backup-1 Succeeded").await;
    assert!(dom.contains("VRGs: 1 of 1 protected"), "{dom}");
    assert!(
        line.contains("<td>primary</td><td class=\"ok\">yes</td>"),
        "{line}"
    );
    assert!(
        line.contains("<progress max=\"1\" value=\"1\"></progress> 1/1"),
        "{line}"
    );

    // A capture later, the page says so: the watch saw the change.
    env.capture_now("shop").await;
    let (_, line) = wait_for("backup-2 Succeeded").await;
    assert!(line.contains("class=\"ok\">yes</td>"), "{line}");

    // The picture in the user guide: written here, copied to docs/images/ by hand.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let out = browser(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1100,260", "--hide-scrollbars", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
}
