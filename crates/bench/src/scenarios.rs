//! The four scenarios. Each returns its rows of the table.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, AttachParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event, watcher};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::progress::{RunPhase, StepPhase};
use vrg_operator::controller::CAPTURE_NOW;
use vrg_operator::recipe::{self, Loaded, Settings, render};
use vrg_testenv::ControlPlane;

use crate::Args;
use crate::driver::Driver;
use crate::process::{self, Operator, cpu_seconds, memory_mib};
use crate::stats::Row;

type Result<T> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A primary VRG capturing hourly (so only the first capture and capture-now run) with `recipe`.
fn vrg(name: &str, recipe: Value) -> VolumeReplicationGroup {
    serde_json::from_value(json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": "VolumeReplicationGroup",
        "metadata": {"name": name},
        "spec": {
            "replicationState": "primary",
            "s3Profiles": ["east"],
            "kubeObjectProtection": {"captureInterval": "1h", "recipe": recipe},
        },
    }))
    .expect("a valid VRG")
}

/// Four groups, backed up in order: one Backup per group step.
fn four_groups() -> Value {
    json!({
        "groups": [{"name": "g1"}, {"name": "g2"}, {"name": "g3"}, {"name": "g4"}],
        "workflows": [{"name": "backup", "sequence": [
            {"group": "g1"}, {"group": "g2"}, {"group": "g3"}, {"group": "g4"}]}],
    })
}

fn vrg_name(i: usize) -> String {
    format!("app-{i:05}")
}

async fn create_vrgs(api: &Api<VolumeReplicationGroup>, n: usize, recipe: &Value) -> Result<()> {
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let object = vrg(&vrg_name(i), recipe.clone());
            async move { api.create(&PostParams::default(), &object).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results
        .into_iter()
        .find_map(|r| r.err())
        .map_or(Ok(()), |e| Err(err(e)))
}

async fn capture_now(api: &Api<VolumeReplicationGroup>, n: usize, round: usize) -> Result<()> {
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| async move {
            let patch = json!({"metadata": {"annotations": {CAPTURE_NOW: round.to_string()}}});
            api.patch(&vrg_name(i), &PatchParams::default(), &Patch::Merge(&patch))
                .await
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results
        .into_iter()
        .find_map(|r| r.err())
        .map_or(Ok(()), |e| Err(err(e)))
}

/// The capture number and phase of a VRG's current run.
fn run_of(v: &VolumeReplicationGroup) -> Option<(i64, RunPhase)> {
    let run = v
        .status
        .as_ref()?
        .kube_object_protection
        .as_ref()?
        .run
        .as_ref()?;
    (run.workflow == "backup").then_some((run.capture, run.phase))
}

/// Waits until `n` VRGs of `api` have finished capture `capture` (or a later one).
async fn wait_captures(
    api: &Api<VolumeReplicationGroup>,
    n: usize,
    capture: i64,
    timeout: Duration,
) -> Result<()> {
    let mut state: BTreeMap<String, (i64, RunPhase)> = BTreeMap::new();
    let done = |s: &BTreeMap<String, (i64, RunPhase)>| {
        s.values()
            .filter(|(c, p)| *c >= capture && *p != RunPhase::Running)
            .count()
    };
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| {
                format!(
                    "timed out: {} of {n} VRGs finished capture {capture}",
                    done(&state)
                )
            })?;
        match event {
            Some(Ok(Event::Apply(v) | Event::InitApply(v))) => {
                if let Some(run) = run_of(&v) {
                    state.insert(v.name_any(), run);
                }
            }
            Some(Ok(_)) | Some(Err(_)) => {}
            None => return Err("the VRG watch ended".into()),
        }
        if done(&state) >= n {
            let failed = state
                .values()
                .filter(|(c, p)| *c >= capture && *p != RunPhase::Succeeded)
                .count();
            if failed > 0 {
                return Err(format!("{failed} captures did not succeed"));
            }
            return Ok(());
        }
    }
}

/// A namespace for the VRGs, one for Velero, the driver and the operator.
async fn setup(
    plane: &ControlPlane,
    client: &kube::Client,
    prefix: &str,
    backup_time: Duration,
) -> Result<(String, Driver, Operator)> {
    let ns = plane.namespace(client, prefix).await.map_err(err)?;
    let velero_ns = plane
        .namespace(client, &format!("{prefix}-velero"))
        .await
        .map_err(err)?;
    let driver = Driver::start(client.clone(), &velero_ns, 32, backup_time);
    let operator = Operator::start(&plane.kubeconfig, &plane.dir, &ns, &velero_ns).await?;
    Ok((ns, driver, operator))
}

/// Step transition latency: Backup N `Completed` -> Backup N+1 exists.
pub async fn latency(plane: &ControlPlane, args: &Args, n: usize) -> Result<Vec<Row>> {
    let client = plane.client().await.map_err(err)?;
    let (ns, driver, operator) = setup(
        plane,
        &client,
        &format!("bench-latency{n}"),
        Duration::from_millis(args.backup_ms),
    )
    .await?;
    let api: Api<VolumeReplicationGroup> = Api::namespaced(client.clone(), &ns);
    eprintln!("vrg-bench: latency: {n} VRGs x 4 groups, rounds of captures");
    let served0 = apiserver_requests(&client).await;
    let scrape0 = operator.scrape().await;
    let (cpu0, plane0, started) = (
        cpu_seconds(operator.pid()),
        plane_cpu(plane),
        Instant::now(),
    );
    create_vrgs(&api, n, &four_groups()).await?;
    wait_captures(&api, n, 1, Duration::from_secs(300)).await?;
    let mut capture = 1;
    while driver.transitions().len() < args.transitions {
        capture += 1;
        capture_now(&api, n, capture as usize).await?;
        wait_captures(&api, n, capture, Duration::from_secs(300)).await?;
    }
    print_apiserver_delta(
        &format!("latency {n}"),
        &served0,
        &apiserver_requests(&client).await,
    );
    let ops = process::delta(
        &process::requests(&scrape0),
        &process::requests(&operator.scrape().await),
    );
    eprintln!("vrg-bench: latency {n}: operator requests {ops:?}");
    let wall = started.elapsed().as_secs_f64();
    let (cpu1, plane1) = (cpu_seconds(operator.pid()), plane_cpu(plane));
    let busy = |name: &str| {
        (plane1.get(name).copied().unwrap_or(f64::NAN)
            - plane0.get(name).copied().unwrap_or(f64::NAN))
            / wall
            * 100.0
    };
    let samples = driver.transitions();
    for (ms, (vrg, capture, group), done) in driver.slowest(5) {
        eprintln!(
            "vrg-bench: latency {n}: slow transition {ms:.1} ms to {vrg} capture {capture} {group} (previous group completed {done})"
        );
    }
    let row = Row::samples(
        "latency",
        format!(
            "step transition ({n} VRGs in parallel, {capture} captures, Backups take {} ms)",
            args.backup_ms
        ),
        "ms",
        &samples,
    );
    // One VRG shows the operator's own delay; more share a saturated API server (issue 17).
    let (target, met) = if n == 1 {
        ("p50 ≤ 10, p99 ≤ 50", row.median <= 10.0 && row.p99 <= 50.0)
    } else {
        ("p50 ≤ 50", row.median <= 50.0)
    };
    Ok(vec![
        row.target(target, met),
        Row::value(
            "latency",
            format!("… operator CPU during the run ({n} VRGs)"),
            "% of a core",
            (cpu1 - cpu0) / wall * 100.0,
        ),
        Row::value(
            "latency",
            format!("… kube-apiserver CPU during the run ({n} VRGs)"),
            "% of a core",
            busy("kube-apiserver"),
        ),
    ])
}

/// The floor under any controller's step transition on this API server: one quorum GET of a VRG
/// and one POST of a Velero Backup, each timed alone, at rest.
pub async fn api_floor(plane: &ControlPlane, args: &Args) -> Result<Vec<Row>> {
    let client = plane.client().await.map_err(err)?;
    let ns = plane.namespace(&client, "bench-floor").await.map_err(err)?;
    let vrgs: Api<VolumeReplicationGroup> = Api::namespaced(client.clone(), &ns);
    let backups: Api<vrg_operator::api::velero::Backup> = Api::namespaced(client.clone(), &ns);
    create_vrgs(&vrgs, 1, &four_groups()).await?;
    let samples = (args.transitions / 4).max(50);
    let (mut get, mut post, mut seen) = (vec![], vec![], vec![]);
    // When a watch (as the operator's and the driver's) delivers each new Backup.
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<String, Instant>::new()));
    let (watch_api, record) = (backups.clone(), arrivals.clone());
    let watch = tokio::spawn(async move {
        let mut stream = watcher(watch_api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if let Ok(Event::Apply(b)) = event {
                record
                    .lock()
                    .unwrap()
                    .entry(b.name_any())
                    .or_insert_with(Instant::now);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..samples {
        let t = Instant::now();
        vrgs.get(&vrg_name(0)).await.map_err(err)?;
        get.push(ms(t.elapsed()));
        let backup: vrg_operator::api::velero::Backup = serde_json::from_value(json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": format!("floor-{i}"), "labels": {"bench": "floor"}},
            "spec": {"includedNamespaces": [ns.clone()], "storageLocation": "east"},
        }))
        .map_err(err)?;
        let t = Instant::now();
        backups
            .create(&PostParams::default(), &backup)
            .await
            .map_err(err)?;
        let returned = Instant::now();
        post.push(ms(returned - t));
        let name = format!("floor-{i}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(at) = arrivals.lock().unwrap().get(&name) {
                seen.push(ms(at.saturating_duration_since(returned)));
                break;
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    watch.abort();
    Ok(vec![
        Row::samples(
            "latency",
            "floor: one quorum GET of a VRG (bench, at rest)",
            "ms",
            &get,
        ),
        Row::samples(
            "latency",
            "floor: one POST of a Backup (bench, at rest)",
            "ms",
            &post,
        ),
        Row::samples(
            "latency",
            "floor: POST returned → a watch delivers the object (bench, at rest)",
            "ms",
            &seen,
        ),
    ])
}

/// Exec overhead: an exec hook running `true` against `kubectl exec POD -- true`.
pub async fn exec(plane: &ControlPlane, args: &Args) -> Result<Vec<Row>> {
    let client = plane.client().await.map_err(err)?;
    let (ns, _driver, _operator) = setup(plane, &client, "bench-exec", Duration::ZERO).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "bench-0", "labels": {"app": "bench"}},
        "spec": {"nodeName": plane.node_name, "containers": [{"name": "main", "image": "busybox"}]},
    }))
    .map_err(err)?;
    pods.create(&PostParams::default(), &pod)
        .await
        .map_err(err)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while pods
        .get("bench-0")
        .await
        .map_err(err)?
        .status
        .and_then(|s| s.phase)
        .as_deref()
        != Some("Running")
    {
        if Instant::now() > deadline {
            return Err("pod bench-0 never ran".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let samples = args.exec_samples;
    eprintln!("vrg-bench: exec: {samples} exec hooks, kubectl exec and API exec");
    let api: Api<VolumeReplicationGroup> = Api::namespaced(client.clone(), &ns);
    let recipe = json!({
        "hooks": [{"name": "app", "type": "exec", "labelSelector": "app=bench",
                   "ops": [{"name": "noop", "command": "[\"true\"]"}]}],
        "groups": [{"name": "data"}],
        "workflows": [{"name": "backup", "sequence": [{"hook": "app/noop"}, {"group": "data"}]}],
    });
    create_vrgs(&api, 1, &recipe).await?;
    wait_captures(&api, 1, 1, Duration::from_secs(60)).await?;

    // One watch for every sample: when the step is seen Running, and when Succeeded.
    let mut stream = watcher(
        api.clone(),
        watcher::Config::default().fields(&format!("metadata.name={}", vrg_name(0))),
    )
    .boxed();
    let (mut step, mut capture_total) = (vec![], vec![]);
    for capture in 2..(2 + samples as i64) {
        let asked = Instant::now();
        capture_now(&api, 1, capture as usize).await?;
        let (mut started, mut ended) = (None, None);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let event = tokio::time::timeout_at(deadline, stream.next())
                .await
                .map_err(|_| format!("capture {capture} did not finish"))?;
            let Some(Ok(Event::Apply(v) | Event::InitApply(v))) = event else {
                continue;
            };
            let Some(run) = v
                .status
                .and_then(|s| s.kube_object_protection)
                .and_then(|k| k.run)
            else {
                continue;
            };
            if run.capture != capture {
                continue;
            }
            let phase = run.steps.first().map(|s| s.phase);
            if phase == Some(StepPhase::Running) && started.is_none() {
                started = Some(Instant::now());
            }
            if phase == Some(StepPhase::Succeeded) && ended.is_none() {
                ended = Some(Instant::now());
            }
            if run.phase != RunPhase::Running {
                if run.phase != RunPhase::Succeeded {
                    return Err(format!("capture {capture}: {:?}", run.message));
                }
                let now = Instant::now();
                if let (Some(started), Some(ended)) = (started, ended) {
                    step.push(ms(ended - started));
                }
                capture_total.push(ms(now - asked));
                break;
            }
        }
    }

    let mut kubectl = vec![];
    for _ in 0..samples {
        let mut cmd = plane.kubectl();
        cmd.args(["exec", "-n", &ns, "bench-0", "--", "true"]);
        let took = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let out = cmd.output();
            (t.elapsed(), out)
        })
        .await
        .map_err(err)?;
        match took.1 {
            Ok(o) if o.status.success() => kubectl.push(ms(took.0)),
            Ok(o) => {
                return Err(format!(
                    "kubectl exec: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            Err(e) => return Err(format!("kubectl: {e}")),
        }
    }

    let mut api_exec = vec![];
    let params = AttachParams::default()
        .container("main")
        .stdin(false)
        .stdout(true)
        .stderr(true);
    for _ in 0..samples {
        let t = Instant::now();
        let mut process = pods.exec("bench-0", ["true"], &params).await.map_err(err)?;
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        let (mut stdout, mut stderr, status) =
            (process.stdout(), process.stderr(), process.take_status());
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut out).await;
        }
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut errs).await;
        }
        if let Some(status) = status {
            let _ = status.await;
        }
        let _ = process.join().await;
        api_exec.push(ms(t.elapsed()));
    }

    let kubectl_row = Row::samples(
        "exec",
        "`kubectl exec POD -- true` (process wall time)",
        "ms",
        &kubectl,
    );
    let step_row = Row::samples(
        "exec",
        "exec hook `true`: step seen Running → Succeeded (VRG watch)",
        "ms",
        &step,
    );
    let met = step_row.median <= kubectl_row.median;
    Ok(vec![
        step_row.target("≤ kubectl median", met),
        Row::samples(
            "exec",
            "capture with the exec hook and one group: capture-now → Succeeded",
            "ms",
            &capture_total,
        ),
        kubectl_row,
        Row::samples(
            "exec",
            "pod exec API `true` in-process (kube-rs, as the operator)",
            "ms",
            &api_exec,
        ),
    ])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU seconds of the named control plane components.
fn plane_cpu(plane: &ControlPlane) -> BTreeMap<String, f64> {
    plane
        .pids()
        .into_iter()
        .map(|(name, pid)| (name, cpu_seconds(pid)))
        .collect()
}

/// Scale: `n` VRGs with a 4-group backup workflow, started together.
pub async fn scale(plane: &ControlPlane, args: &Args, n: usize) -> Result<Vec<Row>> {
    let client = plane.client().await.map_err(err)?;
    let (ns, driver, operator) =
        setup(plane, &client, &format!("bench-scale{n}"), Duration::ZERO).await?;
    let api: Api<VolumeReplicationGroup> = Api::namespaced(client.clone(), &ns);
    eprintln!("vrg-bench: scale: {n} VRGs x 4 groups, started together");
    let pid = operator.pid();
    let me = std::process::id();
    let (cpu0, plane0, me0, scrape0) = (
        cpu_seconds(pid),
        plane_cpu(plane),
        cpu_seconds(me),
        operator.scrape().await,
    );
    let served0 = apiserver_requests(&client).await;
    let started = Instant::now();
    create_vrgs(&api, n, &four_groups()).await?;
    let created = started.elapsed();
    wait_captures(&api, n, 1, Duration::from_secs(60 + n as u64)).await?;
    let wall = started.elapsed();
    let (cpu1, plane1, me1, scrape1) = (
        cpu_seconds(pid),
        plane_cpu(plane),
        cpu_seconds(me),
        operator.scrape().await,
    );
    let peak = memory_mib(pid, "VmHWM");
    let steps = (n * 4) as f64;
    let requests = process::delta(&process::requests(&scrape0), &process::requests(&scrape1));
    let writes = process::writes(&requests);
    let reads = requests.get("GET").copied().unwrap_or(0.0);
    let completed = driver.record.lock().map(|r| r.completed).unwrap_or(0);
    let served1 = apiserver_requests(&client).await;
    print_apiserver_delta(&format!("scale {n}"), &served0, &served1);
    let served = process::delta(&served0, &served1);
    let events = served.get("PATCH events").copied().unwrap_or(0.0)
        + served.get("POST events").copied().unwrap_or(0.0);
    // The VRGs' metadata patches: each VRG's finalizer, added once in its life.
    let finalizers = served
        .get("PATCH volumereplicationgroups")
        .copied()
        .unwrap_or(0.0);

    // Idle: every capture done, the next one an hour away.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (idle_cpu0, idle_scrape0) = (cpu_seconds(pid), operator.scrape().await);
    let idle_plane0 = plane_cpu(plane);
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let (idle_cpu1, idle_scrape1) = (cpu_seconds(pid), operator.scrape().await);
    let idle_plane1 = plane_cpu(plane);
    let idle_requests = process::delta(
        &process::requests(&idle_scrape0),
        &process::requests(&idle_scrape1),
    );
    let idle_total: f64 = idle_requests.values().sum();
    let idle_rss = memory_mib(pid, "VmRSS");
    let idle_cpu_ms_per_s = (idle_cpu1 - idle_cpu0) * 1000.0 / args.idle_seconds as f64;

    let used = |name: &str| {
        plane1.get(name).copied().unwrap_or(f64::NAN)
            - plane0.get(name).copied().unwrap_or(f64::NAN)
    };
    let op_cpu = cpu1 - cpu0;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let total_cpu = op_cpu + used("kube-apiserver") + used("etcd") + (me1 - me0);
    let s = "scale";
    let label = |f: &str| format!("{f} ({n} VRGs)");
    let mut rows = vec![
        Row::value(
            s,
            label("wall time, first create → all 4-group captures Succeeded"),
            "s",
            wall.as_secs_f64(),
        ),
        Row::value(
            s,
            label("of which creating the VRGs (bench, 32 in flight)"),
            "s",
            created.as_secs_f64(),
        ),
        Row::value(
            s,
            label("group steps per second"),
            "1/s",
            steps / wall.as_secs_f64(),
        ),
        {
            // 100 MiB at 1,000 VRGs; 512 MiB, the chart's memory limit, at up to 10,000.
            let row = Row::value(s, label("operator peak RSS (VmHWM)"), "MiB", peak);
            if n <= 1000 {
                row.target("≤ 100", peak <= 100.0)
            } else if n <= 10_000 {
                row.target("≤ 512 (the chart's limit)", peak <= 512.0)
            } else {
                row
            }
        },
        Row::value(
            s,
            label("operator peak RSS per VRG"),
            "KiB",
            peak * 1024.0 / n as f64,
        ),
        Row::value(
            s,
            label("operator CPU per VRG (4-group capture)"),
            "ms",
            op_cpu * 1000.0 / n as f64,
        ),
        Row::value(s, label("operator CPU"), "s", op_cpu),
        Row::value(s, label("kube-apiserver CPU"), "s", used("kube-apiserver")),
        Row::value(s, label("etcd CPU"), "s", used("etcd")),
        Row::value(
            s,
            label("bench (Velero driver, watches) CPU"),
            "s",
            me1 - me0,
        ),
        Row::value(
            s,
            label(&format!(
                "CPU busy of {cores} cores (operator+apiserver+etcd+bench)"
            )),
            "%",
            total_cpu / (wall.as_secs_f64() * cores) * 100.0,
        ),
        Row::value(
            s,
            label("operator API writes per group step, first capture and the VRG's finalizer"),
            "req",
            writes / steps,
        ),
        Row::value(
            s,
            label("operator API writes per group step (the one-time finalizer apart)"),
            "req",
            (writes - finalizers) / steps,
        )
        .target("≤ 3", (writes - finalizers) / steps <= 3.0),
        Row::value(
            s,
            label("of which Events (one at each run's start and end)"),
            "req",
            events / steps,
        ),
        Row::value(
            s,
            label("operator API writes per group step, Events excluded"),
            "req",
            (writes - events) / steps,
        )
        .target("≤ 3", (writes - events) / steps <= 3.0),
        Row::value(
            s,
            label("operator API reads (GET, incl. watch opens) per group step"),
            "req",
            reads / steps,
        ),
        Row::value(s, label("idle: operator CPU"), "ms/s", idle_cpu_ms_per_s)
            .target("~0 (≤ 1 ms/s)", idle_cpu_ms_per_s <= 1.0),
        Row::value(
            s,
            label(&format!(
                "idle: operator API requests in {}s",
                args.idle_seconds
            )),
            "req",
            idle_total,
        ),
        Row::value(s, label("idle: operator RSS (VmRSS)"), "MiB", idle_rss),
        Row::value(
            s,
            label("idle: kube-apiserver CPU"),
            "ms/s",
            (idle_plane1
                .get("kube-apiserver")
                .copied()
                .unwrap_or(f64::NAN)
                - idle_plane0
                    .get("kube-apiserver")
                    .copied()
                    .unwrap_or(f64::NAN))
                * 1000.0
                / args.idle_seconds as f64,
        ),
    ];
    let detail: Vec<String> = requests
        .iter()
        .map(|(m, v)| format!("{m} {v:.0}"))
        .collect();
    eprintln!(
        "vrg-bench: scale {n}: operator requests {} ; Backups completed by the driver: {completed}",
        detail.join(", ")
    );
    rows.retain(|r| !r.median.is_nan());
    Ok(rows)
}

/// What `validate` does for one manifest text: parse, check Recipes, load (validate and plan)
/// every VRG. Returns the plans.
fn validate(text: &str, settings: &Settings) -> Vec<recipe::Plan> {
    let docs = serde_saphyr::from_multiple::<Value>(text).expect("valid YAML");
    let mut recipes = BTreeMap::new();
    for doc in &docs {
        if doc["kind"] == "Recipe" {
            assert!(recipe::check_recipe(doc).is_empty());
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            recipes.insert(("default".to_owned(), name), doc.clone());
        }
    }
    docs.iter()
        .filter(|d| d["kind"] == "VolumeReplicationGroup")
        .map(
            |d| match recipe::load_vrg(d, "default", &recipes, settings) {
                Ok(Loaded::Planned(plan)) => plan,
                other => panic!("the benchmark's recipe is invalid: {other:?}"),
            },
        )
        .collect()
}

/// A VRG with an inline recipe of `steps` steps: every fourth an exec hook op, the rest groups.
fn generated_recipe(steps: usize) -> String {
    let mut groups = String::new();
    let mut ops = String::new();
    let mut sequence = String::new();
    for i in 0..steps {
        if i % 4 == 0 {
            ops.push_str(&format!(
                "            - {{name: op{i}, command: '[\"/bin/sh\", \"-c\", \"echo {i}\"]', timeout: 60}}\n"
            ));
            sequence.push_str(&format!("            - hook: app/op{i}\n"));
        } else {
            groups.push_str(&format!(
                "        - name: g{i}\n          includedResourceTypes: [configmaps, secrets]\n          labelSelector: part=p{i}\n"
            ));
            sequence.push_str(&format!("            - group: g{i}\n"));
        }
    }
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: generated}}
spec:
  replicationState: primary
  s3Profiles: [east, west]
  kubeObjectProtection:
    captureInterval: 5m
    recipe:
      groups:
{groups}      hooks:
        - name: app
          type: exec
          labelSelector: app=db
          ops:
{ops}      workflows:
        - name: backup
          sequence:
{sequence}        - name: restore
          sequence:
{sequence}"
    )
}

/// Recipe throughput: `validate` and `plan` in-process, per call.
pub fn recipe(args: &Args) -> Vec<Row> {
    let settings = Settings {
        admin_namespaces: vec!["vrg-operator-system".into()],
        ..Settings::default()
    };
    let seed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/seed-inline-recipe.yaml"),
    )
    .expect("examples/seed-inline-recipe.yaml");
    let generated = generated_recipe(args.recipe_steps);
    let mut rows = vec![];
    for (name, text, iterations) in [
        (
            "seed inline recipe (examples/seed-inline-recipe.yaml)".to_owned(),
            seed,
            args.recipe_iterations,
        ),
        (
            format!("generated {}-step recipe", args.recipe_steps),
            generated,
            (args.recipe_iterations / 10).max(20),
        ),
    ] {
        let (mut validate_ms, mut plan_ms) = (vec![], vec![]);
        let steps = validate(&text, &settings)[0]
            .backup
            .as_ref()
            .map_or(0, |w| render::text(w).lines().count());
        for _ in 0..iterations {
            let t = Instant::now();
            std::hint::black_box(validate(&text, &settings));
            validate_ms.push(ms(t.elapsed()));
            let t = Instant::now();
            let plans = validate(&text, &settings);
            let mut out = 0;
            for plan in plans {
                for w in [&plan.backup, &plan.restore].into_iter().flatten() {
                    out += render::text(w).len();
                }
            }
            std::hint::black_box(out);
            plan_ms.push(ms(t.elapsed()));
        }
        eprintln!("vrg-bench: recipe: {name}: {steps} plan lines, {iterations} iterations");
        rows.push(Row::samples(
            "recipe",
            format!("validate: {name}"),
            "ms",
            &validate_ms,
        ));
        rows.push(Row::samples(
            "recipe",
            format!("plan (text): {name}"),
            "ms",
            &plan_ms,
        ));
    }
    rows
}

/// The API server's request counters (`apiserver_request_total`), by `VERB resource[/subresource]`.
pub async fn apiserver_requests(client: &kube::Client) -> BTreeMap<String, f64> {
    let request = http_get("/metrics");
    let body = client.request_text(request).await.unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |key: &str| {
            series
                .split(&format!("{key}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_owned()
        };
        let sub = label("subresource");
        let key = format!(
            "{} {}{}",
            label("verb"),
            label("resource"),
            if sub.is_empty() {
                String::new()
            } else {
                format!("/{sub}")
            }
        );
        *out.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    out
}

fn http_get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path)
        .body(Vec::new())
        .expect("a static request")
}

/// Prints the requests the API server served between two scrapes, most frequent first.
pub fn print_apiserver_delta(
    what: &str,
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) {
    let mut delta: Vec<(String, f64)> = process::delta(before, after)
        .into_iter()
        .filter(|(_, v)| *v > 0.0)
        .collect();
    delta.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = delta.iter().map(|(_, v)| v).sum();
    let top: Vec<String> = delta
        .iter()
        .take(14)
        .map(|(k, v)| format!("{k}={v:.0}"))
        .collect();
    eprintln!(
        "vrg-bench: {what}: API server served {total:.0} requests: {}",
        top.join(", ")
    );
}
