//! The plugin's commands: read the cluster, draw with the pure parts, and for the DR operations
//! set the fields the user guide names, after the safety check.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use super::connect::connect;
use super::tree::{self, VeleroObject};
use super::{Cli, Command, EXIT_FAILED, EXIT_OK, Error, rows, safety};
use crate::api::VolumeReplicationGroup;
use crate::api::progress::{RunPhase, WorkflowRun};
use crate::api::velero::{Backup, BackupPhase, Extra, Restore, RestorePhase};
use crate::api::vrg::VrgAction;
use crate::lifecycle::Capture;
use crate::recipe::{Loaded, Settings};
use crate::velero::names::vrg_selector;

/// How often a followed VRG and its Velero objects are read again.
const POLL: Duration = Duration::from_secs(1);

/// What a command needs of the cluster.
struct Target {
    client: kube::Client,
    namespace: String,
    velero_namespace: String,
}

impl Target {
    fn vrgs(&self) -> Api<VolumeReplicationGroup> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn vrg(&self, name: &str) -> Result<VolumeReplicationGroup, Error> {
        self.vrgs()
            .get_opt(name)
            .await
            .map_err(|source| Error::Api {
                what: format!(
                    "cannot read VolumeReplicationGroup {}/{name}",
                    self.namespace
                ),
                source,
            })?
            .ok_or_else(|| Error::NotFound(format!("{}/{name}", self.namespace)))
    }

    /// The VRG's Backups or Restores in the Velero namespace (Backups: its own and those
    /// Velero's sync brought).
    async fn velero<K>(&self, name: &str) -> Result<Vec<K>, Error>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let selector = vrg_selector(&self.namespace, name);
        Api::<K>::namespaced(self.client.clone(), &self.velero_namespace)
            .list(&ListParams::default().labels(&selector))
            .await
            .map(|l| l.items)
            .map_err(|source| Error::Api {
                what: format!("cannot list {}s in {}", K::kind(&()), self.velero_namespace),
                source,
            })
    }

    /// Merge-patches VRG `name`; `what` says what the patch does, for its error.
    async fn patch(
        &self,
        name: &str,
        patch: &serde_json::Value,
        what: String,
    ) -> Result<(), Error> {
        self.vrgs()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(drop)
            .map_err(|source| Error::Api { what, source })
    }

    /// The VRG drawn as `get` draws it, now; and drawn at a fixed time, which changes only when
    /// something but the clock did.
    async fn frame(&self, name: &str) -> Result<(VolumeReplicationGroup, String, String), Error> {
        let vrg = self.vrg(name).await?;
        let mut objects = BTreeMap::new();
        for b in self.velero::<Backup>(name).await? {
            let key = b.name_any();
            let s = b.status.unwrap_or_default();
            let phase = s.phase.as_ref().map(BackupPhase::as_str);
            let object = velero_object(
                "Backup",
                phase,
                s.errors,
                s.warnings,
                &s.extra,
                "itemsBackedUp",
            );
            objects.insert(key, object);
        }
        for r in self.velero::<Restore>(name).await? {
            let key = r.name_any();
            let s = r.status.unwrap_or_default();
            let phase = s.phase.as_ref().map(RestorePhase::as_str);
            let object = velero_object(
                "Restore",
                phase,
                s.errors,
                s.warnings,
                &s.extra,
                "itemsRestored",
            );
            objects.insert(key, object);
        }
        let text = tree::render(&vrg, &objects, Timestamp::now());
        let key = tree::render(&vrg, &objects, Timestamp::UNIX_EPOCH);
        Ok((vrg, text, key))
    }

    /// The VRG's plan from the live VRG and its Recipe, with the operator's `settings`, or why
    /// there is none.
    async fn plan(
        &self,
        vrg: &VolumeReplicationGroup,
        settings: &Settings,
    ) -> Result<crate::recipe::Plan, String> {
        let docs = self.documents(vrg).await.map_err(|e| e.to_string())?;
        let recipes = crate::cli::recipes(&docs, &self.namespace);
        match crate::recipe::load_vrg(&docs[0].value, &self.namespace, &recipes, settings) {
            Ok(Loaded::Planned(plan)) => Ok(plan),
            Ok(Loaded::Unprotected) => Err("it has no spec.kubeObjectProtection".to_owned()),
            Err(problems) => Err(problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }

    /// The VRG, then its Recipe when it names one that exists, as documents.
    async fn documents(
        &self,
        vrg: &VolumeReplicationGroup,
    ) -> Result<Vec<crate::cli::documents::Document>, Error> {
        let mut value = serde_json::to_value(vrg).unwrap_or_default();
        if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("managedFields");
        }
        let mut docs = vec![crate::cli::documents::Document {
            file: format!(
                "VolumeReplicationGroup {}/{}",
                self.namespace,
                vrg.name_any()
            ),
            value,
        }];
        let reference = vrg
            .spec
            .kube_object_protection
            .as_ref()
            .and_then(|k| k.recipe_ref.as_ref());
        if let Some(r) = reference {
            let ns = r
                .namespace
                .clone()
                .unwrap_or_else(|| self.namespace.clone());
            let recipe = crate::controller::recipe_documents(&self.client, &ns)
                .get_opt(&r.name)
                .await
                .map_err(|source| Error::Api {
                    what: format!("cannot read Recipe {ns}/{}", r.name),
                    source,
                })?;
            if let Some(recipe) = recipe {
                docs.push(crate::cli::documents::Document {
                    file: format!("Recipe {ns}/{}", r.name),
                    value: serde_json::to_value(recipe).unwrap_or_default(),
                });
            }
        }
        Ok(docs)
    }

    /// The VRG's captures and what recovery needs of one (groups, profiles), as the operator
    /// with `settings` judges them.
    async fn captures(
        &self,
        vrg: &VolumeReplicationGroup,
        settings: &Settings,
    ) -> Result<(Vec<Capture>, Vec<String>, Vec<String>), Error> {
        let (needed, profiles) = match self.plan(vrg, settings).await {
            Ok(plan) => {
                let lifecycle = crate::controller::lifecycle_vrg(vrg, &plan);
                (lifecycle.needed_groups().to_vec(), plan.s3_profiles.clone())
            }
            Err(_) => (vec![], vrg.spec.s3_profiles.clone()),
        };
        let backups = self.velero::<Backup>(&vrg.name_any()).await?;
        let captures = crate::controller::captures(backups.iter(), &needed, &profiles);
        Ok((captures, needed, profiles))
    }
}

fn settings(admin_namespaces: &[String]) -> Settings {
    Settings {
        admin_namespaces: if admin_namespaces.is_empty() {
            vec![crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE.to_owned()]
        } else {
            admin_namespaces.to_vec()
        },
        ..Default::default()
    }
}

/// A Velero object's phase and item progress from its status: `progress` is not a field of our
/// types, so it is read from the fields they keep as is (`extra`).
fn velero_object(
    kind: &str,
    phase: Option<&str>,
    errors: Option<i64>,
    warnings: Option<i64>,
    extra: &Extra,
    done_key: &str,
) -> VeleroObject {
    let progress = |key: &str| {
        extra
            .get("progress")
            .and_then(|p| p.get(key))
            .and_then(serde_json::Value::as_i64)
    };
    VeleroObject {
        kind: kind.to_owned(),
        phase: phase.unwrap_or_default().to_owned(),
        items_done: progress(done_key),
        items_total: progress("totalItems"),
        errors,
        warnings,
    }
}

pub async fn run(cli: Cli) -> Result<u8, Error> {
    let (client, namespace) = connect(&cli.cluster).await?;
    let target = Target {
        client,
        namespace,
        velero_namespace: cli.cluster.velero_namespace.clone(),
    };
    match cli.command {
        Command::Get { name, watch } => get(&target, &name, watch).await,
        Command::List => list(&target, cli.cluster.all_namespaces).await,
        Command::Captures {
            name,
            admin_namespaces,
        } => captures(&target, &name, &settings(&admin_namespaces)).await,
        Command::Capture { name, wait } => capture(&target, &name, wait).await,
        Command::Failover {
            name,
            wait,
            admin_namespaces,
        } => {
            let settings = settings(&admin_namespaces);
            move_here(&target, &name, VrgAction::Failover, wait, &settings).await
        }
        Command::Relocate {
            name,
            wait,
            admin_namespaces,
        } => {
            let settings = settings(&admin_namespaces);
            move_here(&target, &name, VrgAction::Relocate, wait, &settings).await
        }
        Command::Logs { name, step } => logs(&target, &name, step).await,
        Command::Dashboard { address } => {
            let (api, scope) = if cli.cluster.all_namespaces {
                (Api::all(target.client.clone()), "all namespaces".to_owned())
            } else {
                (target.vrgs(), format!("namespace {}", target.namespace))
            };
            super::dashboard::serve(api, scope, address).await
        }
        Command::Plan {
            name,
            workflow,
            format,
            admin_namespaces,
        } => {
            let vrg = target.vrg(&name).await?;
            let docs = target.documents(&vrg).await?;
            let scope =
                crate::cli::Scope::new(target.namespace.clone(), settings(&admin_namespaces));
            let source = format!("VolumeReplicationGroup {}/{name}", target.namespace);
            Ok(crate::cli::plan::run_documents(
                &docs,
                &source,
                Some(&name),
                workflow,
                format,
                &target.velero_namespace,
                &scope,
            ))
        }
    }
}

async fn get(target: &Target, name: &str, watch: bool) -> Result<u8, Error> {
    if !watch {
        let (_, text, _) = target.frame(name).await?;
        print!("{text}");
        return Ok(EXIT_OK);
    }
    follow(target, name, |_| false).await.map(|_| EXIT_OK)
}

/// Draws the VRG every time it changes until `done` says so; the last VRG seen.
async fn follow(
    target: &Target,
    name: &str,
    done: impl Fn(&VolumeReplicationGroup) -> bool,
) -> Result<VolumeReplicationGroup, Error> {
    let terminal = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        let (vrg, text, key) = target.frame(name).await?;
        // On a terminal the frame is redrawn in place every time (durations tick); otherwise a
        // frame is printed when anything but the clock changed.
        if terminal {
            print!("\x1b[H\x1b[2J{text}");
        } else if key != last {
            println!("--- {}", super::format::time(Timestamp::now()));
            print!("{text}");
        }
        last = key;
        if done(&vrg) {
            return Ok(vrg);
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn list(target: &Target, all: bool) -> Result<u8, Error> {
    let api: Api<VolumeReplicationGroup> = if all {
        Api::all(target.client.clone())
    } else {
        target.vrgs()
    };
    let vrgs = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Api {
            what: "cannot list VolumeReplicationGroups".to_owned(),
            source,
        })?;
    if vrgs.items.is_empty() {
        let scope = if all {
            "any namespace".to_owned()
        } else {
            format!("namespace {}", target.namespace)
        };
        eprintln!("No VolumeReplicationGroups found in {scope}.");
        return Ok(EXIT_OK);
    }
    let now = Timestamp::now();
    let rows: Vec<_> = vrgs.items.iter().map(|v| rows::list_row(v, now)).collect();
    print!("{}", rows::table(&rows::LIST_HEADER, &rows));
    Ok(EXIT_OK)
}

async fn captures(target: &Target, name: &str, settings: &Settings) -> Result<u8, Error> {
    let vrg = target.vrg(name).await?;
    let (captures, needed, profiles) = target.captures(&vrg, settings).await?;
    if captures.is_empty() {
        eprintln!(
            "No captures of {}/{name} are visible in this cluster (Velero namespace {}).",
            target.namespace, target.velero_namespace
        );
        return Ok(EXIT_OK);
    }
    let rows = rows::capture_rows(&captures, &needed, &profiles, Timestamp::now());
    print!("{}", rows::table(&rows::CAPTURES_HEADER, &rows));
    Ok(EXIT_OK)
}

fn run_of(vrg: &VolumeReplicationGroup) -> Option<&WorkflowRun> {
    vrg.status
        .as_ref()
        .and_then(|s| s.kube_object_protection.as_ref())
        .and_then(|k| k.run.as_ref())
}

/// `(id, start)` of a run, to tell a new run from the one before.
fn run_key(vrg: &VolumeReplicationGroup) -> Option<(String, Timestamp)> {
    run_of(vrg).map(|r| (r.id.clone(), r.start_time.0))
}

async fn capture(target: &Target, name: &str, wait: bool) -> Result<u8, Error> {
    let before = target.vrg(name).await?;
    let previous = run_key(&before);
    let patch = json!({"metadata": {"annotations": {crate::controller::CAPTURE_NOW: Timestamp::now().to_string()}}});
    let what = format!(
        "cannot annotate VolumeReplicationGroup {}/{name}",
        target.namespace
    );
    target.patch(name, &patch, what).await?;
    println!("Capture of {}/{name} requested.", target.namespace);
    if !wait {
        return Ok(EXIT_OK);
    }
    let vrg = follow(target, name, |vrg| {
        let new = run_key(vrg) != previous;
        let requested = vrg
            .annotations()
            .contains_key(crate::controller::CAPTURE_NOW);
        !requested
            && new
            && run_of(vrg).is_some_and(|r| r.workflow == "backup" && r.phase != RunPhase::Running)
    })
    .await?;
    Ok(conclude(run_of(&vrg)))
}

/// Exit 0 for a run that succeeded, else 1 with the run's message.
fn conclude(run: Option<&WorkflowRun>) -> u8 {
    match run {
        Some(r) if r.phase == RunPhase::Succeeded => {
            println!("Run {} succeeded.", r.id);
            EXIT_OK
        }
        Some(r) => {
            let why = r.message.as_deref().unwrap_or("see the steps above");
            println!("Run {} ended {:?}: {why}", r.id, r.phase);
            EXIT_FAILED
        }
        None => EXIT_FAILED,
    }
}

async fn move_here(
    target: &Target,
    name: &str,
    action: VrgAction,
    wait: bool,
    settings: &Settings,
) -> Result<u8, Error> {
    let vrg = target.vrg(name).await?;
    let (captures, needed, profiles) = target.captures(&vrg, settings).await?;
    let verb = crate::lifecycle::action_name(action);
    if let Some(why) = safety::refusal(&vrg, action, &captures, &needed, &profiles) {
        eprintln!("refused: {verb} of {}/{name}: {why}", target.namespace);
        return Ok(EXIT_FAILED);
    }
    let patch = json!({"spec": {"replicationState": "primary", "action": verb}});
    let what = format!(
        "cannot set {}/{name} primary with action {verb}",
        target.namespace
    );
    target.patch(name, &patch, what).await?;
    println!(
        "{}/{name}: replicationState primary, action {verb}: recovering on this cluster.",
        target.namespace
    );
    if !wait {
        return Ok(EXIT_OK);
    }
    let vrg = follow(target, name, |vrg| recovery_ended(vrg).is_some()).await?;
    Ok(match recovery_ended(&vrg) {
        Some(true) => {
            println!("Recovered.");
            EXIT_OK
        }
        _ => EXIT_FAILED,
    })
}

/// `Some(true)` once recovered, `Some(false)` once the recovery failed, `None` while it runs.
fn recovery_ended(vrg: &VolumeReplicationGroup) -> Option<bool> {
    let ready = vrg
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "KubeObjectsReady")?;
    let current = ready
        .observed_generation
        .is_none_or(|g| Some(g) >= vrg.metadata.generation);
    match (current, ready.status.as_str(), ready.reason.as_str()) {
        (true, "True", _) => Some(true),
        (true, "False", "KubeObjectsRecoveryError") => Some(false),
        _ => None,
    }
}

async fn logs(target: &Target, name: &str, only: Option<usize>) -> Result<u8, Error> {
    let vrg = target.vrg(name).await?;
    let Some(run) = run_of(&vrg) else {
        eprintln!("{}/{name} has no run yet.", target.namespace);
        return Ok(EXIT_OK);
    };
    if let Some(n) = only
        && (n == 0 || n > run.steps.len())
    {
        eprintln!("error: run {} has steps 1 to {}", run.id, run.steps.len());
        return Ok(super::EXIT_USAGE);
    }
    print!("{}", tree::logs(run, only));
    Ok(EXIT_OK)
}
