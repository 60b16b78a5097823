//! Scale and job hooks end to end, with Ramen's semantics: kube-controller-manager really scales
//! the Deployments and StatefulSets (kwok runs and deletes their pods) and really runs the Jobs
//! (kwok completes their pods; a test fails one as a kubelet would). Group steps go through the
//! real Velero server.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::env::Env;
use support::hooks::finished;
use vrg_operator::api::progress::{RunPhase, StepPhase, WorkflowRun};
use vrg_operator::hooks::scale::ANNOTATION_REPLICAS;
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A VRG in the test's namespace with Recipe `r` of `spec` (YAML indented by 2).
fn with_recipe(spec: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {{name: r}}
{spec}---
apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: app}}
spec:
  replicationState: primary
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipeRef: {{name: r}}
"
    )
}

fn pod_template(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"nodeName": shared().node_name, "containers": [{"name": "main", "image": "busybox"}]},
    })
}

async fn workloads(env: &Env) -> (Api<Deployment>, Api<StatefulSet>) {
    let deployments = Api::<Deployment>::namespaced(env.client.clone(), &env.ns);
    let sets = Api::<StatefulSet>::namespaced(env.client.clone(), &env.ns);
    let web: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"tier": "app"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template("web")},
    }))
    .unwrap();
    let db: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": pod_template("db")},
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &web)
        .await
        .unwrap();
    sets.create(&PostParams::default(), &db).await.unwrap();
    (deployments, sets)
}

/// `(spec.replicas, status.readyReplicas, the replicas annotation)` of a workload.
fn replicas_of(object: &impl serde::Serialize) -> (i64, i64, Option<String>) {
    let v = serde_json::to_value(object).unwrap();
    (
        v["spec"]["replicas"].as_i64().unwrap_or(-1),
        v["status"]["readyReplicas"].as_i64().unwrap_or(0),
        v["metadata"]["annotations"][ANNOTATION_REPLICAS]
            .as_str()
            .map(str::to_owned),
    )
}

fn results(run: &WorkflowRun, step: usize) -> Vec<(String, Option<i32>)> {
    run.steps[step]
        .results
        .iter()
        .map(|r| (r.target.clone(), r.replicas))
        .collect()
}

const SCALE_RECIPE: &str = "spec:
  groups: [{name: data, type: resource}]
  hooks:
    - {name: web, type: scale, selectResource: deployment, labelSelector: {matchLabels: {tier: app}}, timeout: 40}
    - {name: db, type: scale, selectResource: statefulset, nameSelector: db, timeout: 40}
    - {name: gate, type: check, selectResource: v1/configmaps, nameSelector: gate, timeout: 60, chks: [{name: open, condition: '{$.data.open} == {yes}'}]}
  workflows:
    - name: backup
      sequence: [{hook: web/down}, {hook: db/down}, {hook: web/sync}, {hook: db/sync}, {hook: gate}, {group: data}, {hook: web/up}, {hook: db/up}, {hook: web/sync}, {hook: db/sync}]
";

/// down, sync, capture, up, sync: the workloads really go to zero during the capture and come
/// back to their own counts; a restart between down and up still restores them, from status
/// (the annotation on the workload, tampered with meanwhile, does not decide).
#[tokio::test]
async fn scale_hooks_remember_each_workloads_replicas_across_a_restart() {
    let mut env = Env::start("scale-hooks").await;
    let (deployments, sets) = workloads(&env).await;
    env.apply(&with_recipe(SCALE_RECIPE)).await;
    // Waiting at the gate, after both workloads were scaled to zero and synced.
    env.wait_step("app", "hook gate", TIMEOUT).await;
    let web = deployments.get("web").await.unwrap();
    let db = sets.get("db").await.unwrap();
    assert_eq!(replicas_of(&web), (0, 0, Some("3".into())), "web is down");
    assert_eq!(replicas_of(&db), (0, 0, Some("2".into())), "db is down");
    // A crash, and someone edits the annotation: status is what up restores from.
    env.restart_controller();
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {ANNOTATION_REPLICAS: "7"}}})),
        )
        .await
        .unwrap();
    let gate: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "gate"}, "data": {"open": "yes"}}))
            .unwrap();
    Api::<ConfigMap>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &gate)
        .await
        .unwrap();
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:#?}");
    assert_eq!(results(&run, 0), [("deployment/web".into(), Some(3))]);
    assert_eq!(results(&run, 1), [("statefulset/db".into(), Some(2))]);
    assert_eq!(results(&run, 6), [("deployment/web".into(), Some(3))]);
    assert_eq!(results(&run, 7), [("statefulset/db".into(), Some(2))]);
    let synced = run.steps[8].results[0].message.clone().unwrap_or_default();
    assert_eq!(synced, "3 of 3 replicas ready");
    assert_eq!(
        replicas_of(&deployments.get("web").await.unwrap()),
        (3, 3, None),
        "web is back at its own count, every replica ready, the annotation gone"
    );
    assert_eq!(replicas_of(&sets.get("db").await.unwrap()), (2, 2, None));
}

/// A scale hook that selects nothing fails with what it looked for, as Ramen's does.
#[tokio::test]
async fn a_scale_hook_that_selects_nothing_fails_and_says_so() {
    let env = Env::start("scale-none").await;
    env.apply(&with_recipe(
        "spec:
  groups: [{name: data, type: resource}]
  hooks:
    - {name: web, type: scale, selectResource: deployment, nameSelector: absent}
  workflows:
    - {name: backup, sequence: [{hook: web/down}, {group: data}]}
",
    ))
    .await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Failed, "{run:#?}");
    let message = run.steps[0].message.clone().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "no deployments in namespace {} matches the hook's selector",
            env.ns
        )),
        "{message}"
    );
}

const JOB_RECIPE: &str = "spec:
  groups: [{name: data, type: resource}]
  hooks:
    - name: db
      type: job
      jobs:
        - {name: dump, timeout: 40}
        - {name: stuck, timeout: 40, inverseOp: resume}
        - {name: resume, timeout: 40}
  jobs:
    - dump: |
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              nodeName: NODE
              containers: [{name: dump, image: busybox}]
      stuck: |
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              nodeSelector: {nowhere: 'true'}
              containers: [{name: stuck, image: busybox}]
      resume: |
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              nodeName: NODE
              containers: [{name: resume, image: busybox}]
  workflows:
    - name: backup
      sequence: [{hook: db/dump}, {group: data}, {hook: db/stuck}]
";

/// A Job that completes passes its step; one whose pod fails fails its step and runs its
/// inverse Job; each Job the operator created is deleted once it ended. A Job of the same name
/// that the user made is waited on, never deleted.
#[tokio::test]
async fn job_hooks_complete_or_fail_and_leave_no_job_behind() {
    let env = Env::start("job-hooks").await;
    let jobs = Api::<Job>::namespaced(env.client.clone(), &env.ns);
    let pods = Api::<Pod>::namespaced(env.client.clone(), &env.ns);
    env.apply(&with_recipe(
        &JOB_RECIPE.replace("NODE", &shared().node_name),
    ))
    .await;
    // The stuck Job's pod is never scheduled; fail it, as a kubelet reports a failed container.
    let pod = loop {
        let listed = pods
            .list(&ListParams::default().labels("batch.kubernetes.io/job-name=stuck"))
            .await
            .unwrap();
        if let Some(pod) = listed.items.into_iter().next() {
            break pod;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let name = pod.metadata.name.clone().unwrap();
    pods.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"phase": "Failed", "reason": "Error", "message": "exit 3"}}),
        ),
    )
    .await
    .unwrap();
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Failed, "{run:#?}");
    assert_eq!(run.steps[0].phase, StepPhase::Succeeded, "{run:#?}");
    let done = run.steps[0].results[0].message.clone().unwrap_or_default();
    assert_eq!(
        (run.steps[0].results[0].target.as_str(), done.as_str()),
        ("job/dump", "complete: 1 pod(s) succeeded, 0 failed")
    );
    assert_eq!(run.steps[2].phase, StepPhase::Failed);
    let failed = run.steps[2].message.clone().unwrap_or_default();
    assert!(
        failed.contains("job/stuck: failed (BackoffLimitExceeded")
            && failed.contains("the Job was deleted"),
        "{failed}"
    );
    let inverse = run.steps[2].inverse.clone().expect("the inverse job ran");
    assert_eq!(
        (inverse.op.as_str(), inverse.phase),
        ("resume", StepPhase::Succeeded)
    );
    // Every Job the operator made is gone (the stuck one's pods with it, in the background).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<String> = jobs
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .filter_map(|j| j.metadata.name.clone())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Jobs left: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Job of the hook's name that the user made is waited on, as Ramen does, and kept.
#[tokio::test]
async fn a_users_job_of_that_name_is_waited_on_and_kept() {
    let env = Env::start("job-users").await;
    let jobs = Api::<Job>::namespaced(env.client.clone(), &env.ns);
    let theirs: Job = serde_json::from_value(json!({
        "metadata": {"name": "dump", "labels": {"owner": "user"}},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "nodeName": shared().node_name, "containers": [{"name": "theirs", "image": "busybox"}]}}},
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &theirs).await.unwrap();
    env.apply(&with_recipe(
        &JOB_RECIPE
            .replace("NODE", &shared().node_name)
            .replace(", {group: data}, {hook: db/stuck}]", ", {group: data}]"),
    ))
    .await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:#?}");
    let kept = jobs.get("dump").await.unwrap();
    assert_eq!(
        kept.metadata
            .labels
            .unwrap()
            .get("owner")
            .map(String::as_str),
        Some("user"),
        "the user's Job is the one that ran, and it is still there"
    );
}
