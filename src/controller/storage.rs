//! `run --ramen-config`: keeps one BackupStorageLocation per s3 profile of Ramen's ConfigMap in
//! Velero's namespace, with the credentials Secret Ramen would write for it. What to write is
//! decided in `crate::storage`; this reads the cluster, writes, and reports.
//!
//! Runs only on the leader (it is started with the controller). The ConfigMap is watched, and
//! everything is read again every [`RESYNC`], so a changed s3 Secret is picked up too. Problems
//! are logged and published as Events on the ConfigMap, once each while they last; nothing here
//! ends the operator.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret};
use kube::api::{Api, DeleteParams, ListParams, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use super::recorder::Recorder;
use crate::api::velero::BackupStorageLocation;
use crate::storage::desired;
use crate::storage::{ConfigRef, Existing, Profile, ProfileError};

/// How often everything is read again without a change to the ConfigMap.
pub const RESYNC: Duration = Duration::from_secs(60);
/// Our field manager for server-side apply.
const FIELD_MANAGER: &str = "vrg-operator-ramen-config";

/// One thing to report: an Event reason and what to say.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Note {
    warning: bool,
    reason: &'static str,
    message: String,
}

impl Note {
    fn warning(reason: &'static str, message: String) -> Self {
        Self {
            warning: true,
            reason,
            message,
        }
    }
    fn normal(reason: &'static str, message: String) -> Self {
        Self {
            warning: false,
            reason,
            message,
        }
    }
}

/// Why a sync could not even start.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("ConfigMap {0} was not found; no BackupStorageLocation is changed until it exists")]
    Missing(ConfigRef),
    #[error("reading ConfigMap {0}: {1}")]
    Read(ConfigRef, kube::Error),
}

/// Watches `config` and keeps Velero's namespace in step, until the task is dropped.
pub async fn run(client: kube::Client, config: ConfigRef, velero_namespace: String) {
    let api = Api::<ConfigMap>::namespaced(client.clone(), &config.namespace);
    let watch = watcher::Config::default().fields(&format!("metadata.name={}", config.name));
    let mut changes = watcher(api, watch).default_backoff().boxed();
    let mut sync = Sync {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "vrg-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        client,
        config,
        velero_namespace,
        reported: BTreeSet::new(),
    };
    tracing::info!(config = %sync.config, "keeping BackupStorageLocations from Ramen's s3 profiles");
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            change = changes.next() => match change {
                Some(Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone)) => {}
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    tracing::warn!(config = %sync.config, error = %e, "cannot watch Ramen's ConfigMap; reading it every {RESYNC:?}");
                    continue;
                }
                None => return,
            },
        }
        sync.once().await;
        next = tokio::time::Instant::now() + RESYNC;
    }
}

struct Sync {
    client: kube::Client,
    config: ConfigRef,
    velero_namespace: String,
    recorder: Recorder,
    /// The warnings of the last sync, so that a lasting problem is reported once.
    reported: BTreeSet<String>,
}

impl Sync {
    async fn once(&mut self) {
        let (regarding, notes) = match self.sync().await {
            Ok(done) => done,
            Err(e) => (
                None,
                vec![Note::warning("RamenConfigUnreadable", e.to_string())],
            ),
        };
        let warnings: BTreeSet<String> = notes
            .iter()
            .filter(|n| n.warning)
            .map(|n| n.message.clone())
            .collect();
        for note in &notes {
            let new = !note.warning || !self.reported.contains(&note.message);
            if !new {
                continue;
            }
            if note.warning {
                tracing::warn!(config = %self.config, reason = note.reason, "{}", note.message);
            } else {
                tracing::info!(config = %self.config, reason = note.reason, "{}", note.message);
            }
            if let Some(regarding) = &regarding {
                self.publish(regarding, note).await;
            }
        }
        self.reported = warnings;
    }

    async fn publish(&self, regarding: &ObjectReference, note: &Note) {
        let event = KubeEvent {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.to_owned(),
            note: Some(super::status::truncate(&note.message, 1000)),
            // Events of one reason and action are one series that keeps its first note, so
            // each distinct message gets an action of its own (a label value: short, hashed).
            action: crate::velero::names::label_value(&note.message),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, regarding).await {
            tracing::warn!(config = %self.config, error = %e, "cannot publish event");
        }
    }

    /// Reads the ConfigMap and its Secrets, applies and deletes; returns what to report.
    async fn sync(&self) -> Result<(Option<ObjectReference>, Vec<Note>), SyncError> {
        let cm = Api::<ConfigMap>::namespaced(self.client.clone(), &self.config.namespace)
            .get_opt(&self.config.name)
            .await
            .map_err(|e| SyncError::Read(self.config.clone(), e))?
            .ok_or_else(|| SyncError::Missing(self.config.clone()))?;
        let regarding = cm.object_ref(&());
        let mut notes = vec![];
        let parsed = match crate::storage::parse(
            cm.data.as_ref().unwrap_or(&BTreeMap::new()),
            &self.config.namespace,
        ) {
            Ok(parsed) => parsed,
            Err(e) => {
                let message = format!(
                    "ConfigMap {}: {e}; no BackupStorageLocation is changed until it is fixed",
                    self.config
                );
                return Ok((
                    Some(regarding),
                    vec![Note::warning("RamenConfigInvalid", message)],
                ));
            }
        };
        let mut refused = parsed.refused.clone();
        let mut keep = parsed.mentioned.clone();
        let mut profiles = vec![];
        let mut secrets: BTreeMap<String, (Secret, &Profile)> = BTreeMap::new();
        for profile in &parsed.profiles {
            match self.credentials(profile, &secrets).await {
                Ok(Some(secret)) => {
                    secrets.insert(secret.name_any(), (secret, profile));
                    profiles.push(profile);
                }
                Ok(None) => profiles.push(profile),
                Err(reason) => refused.push(ProfileError {
                    profile: profile.name.clone(),
                    reason,
                }),
            }
        }

        // Secrets first, so that a new location can read its credentials when Velero checks it.
        let velero = &self.velero_namespace;
        let secret_api = Api::<Secret>::namespaced(self.client.clone(), velero);
        let wanted: Vec<String> = secrets.keys().cloned().collect();
        // While a profile is refused its location is kept, and so are its credentials.
        let secret_plan = match self.existing::<Secret>().await {
            Ok(existing) => {
                let keep: Vec<String> = if refused.is_empty() {
                    wanted.clone()
                } else {
                    existing.iter().map(|e| e.name.clone()).collect()
                };
                crate::storage::plan(&wanted, &keep, &existing, &self.config)
            }
            Err(e) => {
                notes.push(Note::warning(
                    "StorageSyncFailed",
                    format!("listing Secrets in {velero}: {e}"),
                ));
                return Ok((Some(regarding), notes));
            }
        };
        for name in &secret_plan.foreign {
            let (_, profile) = &secrets[name];
            refused.push(ProfileError {
                profile: profile.name.clone(),
                reason: format!(
                    "Secret {velero}/{name} exists and was not made by vrg-operator from {}; it is \
                     left as it is: delete it, or name it in veleroNamespaceSecretKeyRef",
                    self.config
                ),
            });
        }
        for name in &secret_plan.apply {
            let (secret, profile) = &secrets[name];
            if let Err(e) = secret_api
                .patch(name, &apply(), &Patch::Apply(secret))
                .await
            {
                refused.push(ProfileError {
                    profile: profile.name.clone(),
                    reason: format!("writing Secret {velero}/{name}: {e}"),
                });
            }
        }

        let bsl_api = Api::<BackupStorageLocation>::namespaced(self.client.clone(), velero);
        let refused_names: BTreeSet<&str> = refused.iter().map(|r| r.profile.as_str()).collect();
        let usable: Vec<&Profile> = profiles
            .into_iter()
            .filter(|p| !refused_names.contains(p.name.as_str()))
            .collect();
        let wanted: Vec<String> = usable.iter().map(|p| p.name.clone()).collect();
        keep.extend(refused.iter().map(|r| r.profile.clone()));
        let existing = match self.existing::<BackupStorageLocation>().await {
            Ok(existing) => existing,
            Err(e) => {
                notes.push(Note::warning(
                    "StorageSyncFailed",
                    format!("listing BackupStorageLocations in {velero}: {e}"),
                ));
                return Ok((Some(regarding), notes));
            }
        };
        let bsl_plan = crate::storage::plan(&wanted, &keep, &existing, &self.config);
        for name in &bsl_plan.foreign {
            notes.push(Note::warning(
                "S3ProfileRefused",
                format!(
                    "s3 profile {name}: BackupStorageLocation {velero}/{name} exists and was not \
                     made by vrg-operator from {}; it is left as it is",
                    self.config
                ),
            ));
        }
        for profile in usable.iter().filter(|p| bsl_plan.apply.contains(&p.name)) {
            let location = desired::location(profile, velero, &self.config);
            let before = existing
                .iter()
                .find(|e| e.name == profile.name)
                .map(|e| e.version.clone());
            match bsl_api
                .patch(&profile.name, &apply(), &Patch::Apply(&location))
                .await
            {
                Ok(after) if before.as_ref() != Some(&after.resource_version()) => {
                    notes.push(Note::normal(
                        "StorageLocationApplied",
                        format!(
                            "BackupStorageLocation {velero}/{} for s3 profile {} (bucket {} at {})",
                            profile.name, profile.name, profile.bucket, profile.endpoint
                        ),
                    ));
                }
                Ok(_) => {}
                Err(e) => notes.push(Note::warning(
                    "S3ProfileRefused",
                    format!(
                        "s3 profile {}: writing BackupStorageLocation {velero}/{}: {e}",
                        profile.name, profile.name
                    ),
                )),
            }
        }
        for name in &bsl_plan.delete {
            notes.push(match bsl_api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Note::normal(
                    "StorageLocationDeleted",
                    format!(
                        "BackupStorageLocation {velero}/{name}: its s3 profile is no longer in {}",
                        self.config
                    ),
                ),
                Err(e) => Note::warning(
                    "StorageSyncFailed",
                    format!("deleting BackupStorageLocation {velero}/{name}: {e}"),
                ),
            });
        }
        // After the locations, so that none is left pointing at deleted credentials.
        for name in &secret_plan.delete {
            if let Err(e) = secret_api.delete(name, &DeleteParams::default()).await {
                notes.push(Note::warning(
                    "StorageSyncFailed",
                    format!("deleting Secret {velero}/{name}: {e}"),
                ));
            }
        }
        notes.extend(
            refused
                .iter()
                .map(|r| Note::warning("S3ProfileRefused", r.to_string())),
        );
        Ok((Some(regarding), notes))
    }

    /// The generated credentials Secret of `profile` (`None`: it names one of its own), from its
    /// s3 Secret. Two profiles whose s3 Secrets differ but would share a generated name are
    /// refused after the first.
    async fn credentials(
        &self,
        profile: &Profile,
        so_far: &BTreeMap<String, (Secret, &Profile)>,
    ) -> Result<Option<Secret>, String> {
        let Some(name) = desired::generated_secret_name(profile) else {
            return Ok(None);
        };
        let source = &profile.secret;
        if let Some((_, other)) = so_far.get(&name)
            && other.secret != *source
        {
            return Err(format!(
                "its s3SecretRef {}/{} and s3 profile {}'s {}/{} would both be written to Secret {}/{name}; \
                 rename one of them",
                source.namespace,
                source.name,
                other.name,
                other.secret.namespace,
                other.secret.name,
                self.velero_namespace
            ));
        }
        let secret = Api::<Secret>::namespaced(self.client.clone(), &source.namespace)
            .get_opt(&source.name)
            .await
            .map_err(|e| format!("reading Secret {}/{}: {e}", source.namespace, source.name))?
            .ok_or_else(|| {
                format!(
                    "Secret {}/{} (s3SecretRef) was not found",
                    source.namespace, source.name
                )
            })?;
        desired::credentials(
            profile,
            secret.data.as_ref().unwrap_or(&BTreeMap::new()),
            &self.velero_namespace,
            &self.config,
        )
        .map(Some)
    }

    /// Every object of kind `K` in Velero's namespace, metadata only (a Secret's data is never
    /// read here).
    async fn existing<K>(&self) -> Result<Vec<Existing>, kube::Error>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
        K::DynamicType: Default,
    {
        let api = Api::<K>::namespaced(self.client.clone(), &self.velero_namespace);
        let list = api.list_metadata(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .map(|m: PartialObjectMeta<K>| Existing {
                name: m.name_any(),
                labels: m.labels().clone(),
                version: m.resource_version(),
            })
            .collect())
    }
}

/// Server-side apply as our field manager; forced, since only our own objects are applied.
fn apply() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}
