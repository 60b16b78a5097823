//! Keeps the webhook's certificates current: reads the Secret, makes what `renew` decides,
//! writes it back (with the Secret's resourceVersion, so that of several replicas one write
//! wins and the others read it), gives the ValidatingWebhookConfiguration the CA bundle, and
//! loads the serving certificate into the running server. Every replica runs this.

use std::collections::BTreeSet;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use super::authority::{self, Stored};
use super::renew::{self, Change, Lifetimes};
use crate::storage::ConfigRef;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Secret {secret}: {source}")]
    Secret {
        secret: String,
        #[source]
        source: kube::Error,
    },
    #[error("ValidatingWebhookConfiguration {name}: {source}")]
    Configuration {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Make(#[from] authority::Error),
    #[error("Secret {0} kept changing under this replica's writes")]
    Contended(String),
    #[error("cannot load the serving certificate: {0}")]
    Load(#[source] std::io::Error),
}

/// The operator's own certificates: where they are kept, which registration trusts them, which
/// names they serve and how long they last.
#[derive(Debug, Clone)]
pub struct Managed {
    pub secret: ConfigRef,
    /// The ValidatingWebhookConfiguration whose `caBundle` is kept current (None: the user
    /// hands the CA to the API server some other way).
    pub configuration: Option<String>,
    pub hosts: BTreeSet<String>,
    pub lifetimes: Lifetimes,
}

impl Managed {
    /// How often to look: often enough that every replica loads a renewed certificate long
    /// before the old one ends.
    pub fn interval(&self) -> Duration {
        Duration::from_secs((self.lifetimes.serving / 30).clamp(1, 60) as u64)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Makes what `change` asks of `stored`; None when nothing changes.
fn make(
    change: &Change,
    stored: Option<&Stored>,
    managed: &Managed,
    now: i64,
) -> Result<Option<Stored>, authority::Error> {
    let Lifetimes { ca, serving } = managed.lifetimes;
    let issue = |cas: Vec<authority::Cert>, ca_key: String| {
        let (cert, key) = authority::issue(&cas[0], &ca_key, &managed.hosts, now, serving)?;
        Ok::<_, authority::Error>(Stored {
            cas,
            ca_key,
            serving: cert,
            serving_key: key,
        })
    };
    Ok(match (change, stored) {
        (Change::Keep, _) => None,
        (Change::Create, _) | (_, None) => {
            let (cert, key) = authority::new_ca(now, ca)?;
            Some(issue(vec![cert], key)?)
        }
        (Change::AddCa, Some(old)) => {
            let (cert, key) = authority::new_ca(now, ca)?;
            let mut new = old.clone();
            new.cas.insert(0, cert);
            new.ca_key = key;
            Some(new)
        }
        (Change::Issue, Some(old)) => Some(issue(old.cas.clone(), old.ca_key.clone())?),
        (Change::Trim(keep), Some(old)) => {
            let mut new = old.clone();
            new.cas.truncate(*keep);
            Some(new)
        }
    })
}

/// A replica's memory between looks: since when the API server has had the newest CA.
#[derive(Debug, Default)]
pub struct Keeper {
    published: Option<(String, std::time::Instant)>,
}

impl Keeper {
    /// Whether the API server has had `ca` for at least an interval: long enough that every API
    /// server has picked the new bundle up before a certificate from that CA is served.
    fn settled(&mut self, ca: &str, published: bool, managed: &Managed) -> bool {
        if !published {
            self.published = None;
            return false;
        }
        match &self.published {
            Some((seen, since)) if seen == ca => since.elapsed() >= managed.interval(),
            _ => {
                self.published = Some((ca.to_owned(), std::time::Instant::now()));
                false
            }
        }
    }

    /// One look: the certificates as they now stand in the Secret, renewed and published as
    /// needed.
    pub async fn tick(
        &mut self,
        client: &kube::Client,
        managed: &Managed,
    ) -> Result<Stored, Error> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &managed.secret.namespace);
        let secret_error = |source| Error::Secret {
            secret: managed.secret.to_string(),
            source,
        };
        for _ in 0..5 {
            let found = secrets
                .get_opt(&managed.secret.name)
                .await
                .map_err(secret_error)?;
            let stored = found.as_ref().and_then(|s| readable(s, managed));
            let published = match (&stored, &managed.configuration) {
                (Some(stored), Some(name)) => {
                    let ca = &stored.newest_ca().pem;
                    let given = bundle_of(client, name)
                        .await?
                        .is_some_and(|b| b.contains(ca));
                    self.settled(ca, given, managed)
                }
                _ => true,
            };
            let now = now();
            let change = renew::next(stored.as_ref(), published, &managed.hosts, now);
            let Some(new) = make(&change, stored.as_ref(), managed, now)? else {
                let stored = stored.expect("Keep is decided only for stored certificates");
                publish(client, managed, &stored).await?;
                return Ok(stored);
            };
            tracing::info!(secret = %managed.secret, ?change, "renewing the webhook's certificates");
            match write(&secrets, managed, found, &new).await {
                Ok(()) => {
                    publish(client, managed, &new).await?;
                    return Ok(new);
                }
                // Another replica wrote first: read what it wrote.
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(secret_error(e)),
            }
        }
        Err(Error::Contended(managed.secret.to_string()))
    }
}

/// Creates the Secret, or replaces the one `found` (with its resourceVersion, so that a
/// concurrent writer makes this fail with a conflict).
async fn write(
    secrets: &Api<Secret>,
    managed: &Managed,
    found: Option<Secret>,
    new: &Stored,
) -> Result<(), kube::Error> {
    match found {
        None => {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(managed.secret.name.clone()),
                    labels: Some(
                        [(
                            "app.kubernetes.io/managed-by".to_owned(),
                            "vrg-operator".to_owned(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                },
                type_: Some("kubernetes.io/tls".to_owned()),
                data: Some(byte_strings(new)),
                ..Default::default()
            };
            secrets.create(&PostParams::default(), &secret).await?;
        }
        Some(mut secret) => {
            secret.data = Some(byte_strings(new));
            secrets
                .replace(&managed.secret.name, &PostParams::default(), &secret)
                .await?;
        }
    }
    Ok(())
}

/// What the Secret holds, when it is readable: anything else is replaced, with a warning.
fn readable(secret: &Secret, managed: &Managed) -> Option<Stored> {
    let data = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    match authority::read(&data) {
        Ok(stored) => Some(stored),
        Err(e) => {
            tracing::warn!(secret = %managed.secret, "{e}: making new webhook certificates");
            None
        }
    }
}

fn byte_strings(stored: &Stored) -> std::collections::BTreeMap<String, ByteString> {
    authority::data(stored)
        .into_iter()
        .map(|(k, v)| (k, ByteString(v)))
        .collect()
}

/// The CA bundle every webhook of configuration `name` is given, when all agree.
async fn bundle_of(client: &kube::Client, name: &str) -> Result<Option<String>, Error> {
    let Some(config) = configurations(client)
        .get_opt(name)
        .await
        .map_err(|source| Error::Configuration {
            name: name.to_owned(),
            source,
        })?
    else {
        return Ok(None);
    };
    let bundles: BTreeSet<Option<Vec<u8>>> = config
        .webhooks
        .iter()
        .flatten()
        .map(|w| w.client_config.ca_bundle.as_ref().map(|b| b.0.clone()))
        .collect();
    Ok(match bundles.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(bundle)] => String::from_utf8(bundle.clone()).ok(),
        _ => None,
    })
}

fn configurations(client: &kube::Client) -> Api<ValidatingWebhookConfiguration> {
    Api::all(client.clone())
}

/// Gives every webhook of the configuration the stored bundle, when one differs.
async fn publish(client: &kube::Client, managed: &Managed, stored: &Stored) -> Result<(), Error> {
    let Some(name) = &managed.configuration else {
        return Ok(());
    };
    let error = |source| Error::Configuration {
        name: name.clone(),
        source,
    };
    let Some(config) = configurations(client).get_opt(name).await.map_err(error)? else {
        tracing::warn!(
            configuration = %name,
            "the ValidatingWebhookConfiguration is not there: the API server calls no webhook"
        );
        return Ok(());
    };
    let bundle = stored.bundle().into_bytes();
    let stale: Vec<_> = config
        .webhooks
        .iter()
        .flatten()
        .filter(|w| w.client_config.ca_bundle.as_ref().map(|b| &b.0) != Some(&bundle))
        .map(|w| json!({"name": w.name, "clientConfig": {"caBundle": ByteString(bundle.clone())}}))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    // Webhooks merge by name: only their caBundle changes.
    configurations(client)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"webhooks": stale})),
        )
        .await
        .map_err(error)?;
    tracing::info!(configuration = %name, "gave the API server the webhook's CA bundle");
    Ok(())
}

/// Loads the serving certificate into `tls` when it is not the one loaded.
pub async fn load(tls: &RustlsConfig, stored: &Stored, loaded: &mut String) -> Result<(), Error> {
    if *loaded == stored.serving.pem {
        return Ok(());
    }
    tls.reload_from_pem(
        stored.serving.pem.clone().into_bytes(),
        stored.serving_key.clone().into_bytes(),
    )
    .await
    .map_err(Error::Load)?;
    loaded.clone_from(&stored.serving.pem);
    Ok(())
}

/// The first look, retried until it succeeds (the webhook serves nothing without a
/// certificate, and the operator's other work goes on meanwhile).
pub async fn first(
    client: &kube::Client,
    managed: &Managed,
    keeper: &mut Keeper,
) -> (RustlsConfig, String) {
    loop {
        match keeper.tick(client, managed).await {
            Ok(stored) => {
                match RustlsConfig::from_pem(
                    stored.serving.pem.clone().into_bytes(),
                    stored.serving_key.clone().into_bytes(),
                )
                .await
                {
                    Ok(tls) => return (tls, stored.serving.pem),
                    Err(e) => tracing::error!("{}", Error::Load(e)),
                }
            }
            Err(e) => tracing::error!("the webhook's certificates: {e}"),
        }
        tokio::time::sleep(managed.interval()).await;
    }
}

/// Looks again every [`Managed::interval`], for as long as the webhook serves.
pub async fn keep(
    client: kube::Client,
    managed: Managed,
    mut keeper: Keeper,
    tls: RustlsConfig,
    mut loaded: String,
) {
    loop {
        tokio::time::sleep(managed.interval()).await;
        let result = match keeper.tick(&client, &managed).await {
            Ok(stored) => load(&tls, &stored, &mut loaded).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::error!("the webhook's certificates: {e}");
        }
    }
}
