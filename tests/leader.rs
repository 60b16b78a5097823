//! Leader election across two operator processes (the real binary) sharing one Lease: only the
//! holder acts; when it is killed the other takes over within the lease duration and finishes
//! the workflow the first one started, without repeating its step. The stand-in holds the step's
//! Backup in progress, so the kill always lands mid-step. A leader whose renewals are refused
//! stops before its lease could pass to the standby.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, ListParams};
use support::env::{Env, is};
use support::http::get;
use support::operator::Operator;
use support::rbac::{impersonating_kubeconfig, lease_role, shipped_role_client};

const LEASE_DURATION: Duration = Duration::from_secs(4);
const TIMEOUT: Duration = Duration::from_secs(60);

fn replica(name: &'static str, env: &Env) -> Operator {
    replica_as(name, env, &vrg_testenv::shared().kubeconfig)
}

/// A replica with the credentials of `kubeconfig`.
fn replica_as(name: &'static str, env: &Env, kubeconfig: &std::path::Path) -> Operator {
    let lease = format!("{}s", LEASE_DURATION.as_secs());
    Operator::start_as(
        name,
        env,
        kubeconfig,
        &[
            "--leader-elect",
            "--log",
            "info,kube_lease_manager=debug",
            "--leader-election-namespace",
            &env.ns,
            "--lease-duration",
            &lease,
        ],
    )
}

async fn holder(env: &Env) -> Option<String> {
    let lease = Api::<Lease>::namespaced(env.client.clone(), &env.ns)
        .get_opt("vrg-operator")
        .await
        .unwrap()?;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

/// Waits for the lease holder to satisfy `check`, returning it.
async fn wait_holder(
    env: &Env,
    what: &str,
    check: impl Fn(Option<&str>) -> bool,
) -> Option<String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = holder(env).await;
        if check(now.as_deref()) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; holder now {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_of_two_replicas_acts_and_the_other_takes_over_when_it_dies() {
    let mut env = Env::with_stand_in("leader").await;
    env.stop_controller();
    env.driver().behaviour.lock().unwrap().hold = true;
    let mut operators = vec![replica("replica-a", &env), replica("replica-b", &env)];

    let first = wait_holder(&env, "a leader", |h| h.is_some())
        .await
        .unwrap();
    env.apply(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {name: app}
spec:
  replicationState: primary
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipe:
      groups: [{name: first}, {name: second}]
      workflows: [{name: backup, sequence: [{group: first}, {group: second}]}]
",
    )
    .await;
    env.wait_step("app", "group first", TIMEOUT).await;

    // Only the holder acts; the standby answers its probes and has reconciled nothing.
    let (leader, standby) = match operators.iter().position(|o| o.name == first) {
        Some(0) => (0, 1),
        Some(1) => (1, 0),
        _ => panic!("the lease is held by {first:?}, neither replica"),
    };
    assert_eq!(
        operators[leader].scrape("vrg_operator_leader").await,
        Some(1.0)
    );
    assert!(
        operators[leader]
            .scrape("vrg_operator_reconciles_total")
            .await
            > Some(0.0)
    );
    assert_eq!(
        operators[standby].scrape("vrg_operator_leader").await,
        Some(0.0)
    );
    assert_eq!(
        operators[standby]
            .scrape("vrg_operator_reconciles_total")
            .await,
        Some(0.0),
        "the standby acted; its log:\n{}",
        operators[standby].log_tail()
    );
    assert_eq!(get(operators[standby].metrics, "/readyz").await.0, 200);

    // Kill the leader as a node failure would: no chance to release the lease.
    let killed = Instant::now();
    operators[leader].child.kill().unwrap();
    operators[leader].child.wait().unwrap();
    env.driver().behaviour.lock().unwrap().hold = false;
    let next = operators[standby].name;
    wait_holder(&env, "the standby to take over", |h| h == Some(next)).await;
    let takeover = killed.elapsed();
    println!("takeover after the leader was killed: {takeover:?} (lease {LEASE_DURATION:?})");
    assert!(
        takeover <= LEASE_DURATION + Duration::from_secs(3),
        "the standby took {takeover:?} to take over a {LEASE_DURATION:?} lease; its log:\n{}",
        operators[standby].log_tail()
    );

    // The new leader finishes the run the old one started, creating nothing twice.
    let vrg = env
        .wait("app", "the capture to finish", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert!(run.steps.iter().all(|s| s.attempt == 1), "{:?}", run.steps);
    assert_eq!(
        env.backups()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2,
        "one Backup per group, none repeated"
    );

    // A leader that stops gracefully hands the lease over at once instead of letting it expire.
    let survivor = operators.swap_remove(standby);
    let pid = survivor.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    wait_holder(&env, "the lease to be released", |h| h.is_none()).await;
    drop(survivor);
}

/// Fencing: the leader runs as a ServiceAccount with the shipped rules; revoking its Lease
/// permissions makes every renewal fail. It must stop (exit 3, "lease lost") within the lease
/// duration, and before the standby holds the lease, so two replicas never act at once.
#[tokio::test]
async fn a_leader_whose_renewals_fail_stops_before_the_standby_takes_over() {
    let mut env = Env::start("leader-fence").await;
    env.stop_controller();
    shipped_role_client(&env, |_| {}).await;
    let binding = lease_role(&env).await;
    let mut leader = replica_as("replica-a", &env, &impersonating_kubeconfig(&env));
    wait_holder(&env, "replica-a to lead", |h| h == Some("replica-a")).await;
    let standby = replica("replica-b", &env);
    // Several renewals as the ServiceAccount: it leads with the shipped Lease Role.
    tokio::time::sleep(LEASE_DURATION * 2).await;
    assert_eq!(holder(&env).await.as_deref(), Some("replica-a"));
    assert_eq!(leader.scrape("vrg_operator_leader").await, Some(1.0));

    Api::<RoleBinding>::namespaced(env.client.clone(), &env.ns)
        .delete(&binding, &DeleteParams::default())
        .await
        .unwrap();
    let revoked = Instant::now();
    let mut stopped = None;
    let taken_over = loop {
        if stopped.is_none()
            && let Some(status) = leader.child.try_wait().unwrap()
        {
            stopped = Some((revoked.elapsed(), status));
        }
        if holder(&env).await.as_deref() == Some("replica-b") {
            break revoked.elapsed();
        }
        assert!(
            revoked.elapsed() < TIMEOUT,
            "the standby never took over; its log:\n{}",
            standby.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let Some((stopped_after, status)) = stopped else {
        panic!(
            "the standby leads ({taken_over:?} after the revocation) while the old leader still \
             runs; its log:\n{}",
            leader.log_tail()
        );
    };
    println!(
        "renewals refused: the leader stopped after {stopped_after:?}, the standby led after \
         {taken_over:?} (lease {LEASE_DURATION:?})"
    );
    assert_eq!(status.code(), Some(3), "exit 3: the lease was lost");
    assert!(
        stopped_after <= LEASE_DURATION,
        "the leader acted {stopped_after:?} after its renewals began to fail, longer than \
         the {LEASE_DURATION:?} lease"
    );
    assert!(
        leader.log_tail().contains("lost the leader lease"),
        "{}",
        leader.log_tail()
    );
}
