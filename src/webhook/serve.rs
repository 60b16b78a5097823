//! The webhook's HTTPS endpoint: every replica serves it, leader or not. A VRG's request reads
//! the Recipe it references, a Recipe's lists the VRGs that may reference it (reads the
//! operator's RBAC already allows), then `decide` answers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use axum_server::tls_rustls::RustlsConfig;
use kube::api::{Api, ApiResource, ListParams};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube::core::{DynamicObject, TypeMeta};

use super::certs::files;
use super::certs::keeper::{self, Managed};
use super::decide::{Found, Subject, decide, referrer_namespaces, subject};
use super::{RECIPE_PATH, VRG_PATH};
use crate::api::VolumeReplicationGroup;
use crate::recipe::Settings;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Files(#[from] files::Error),
    #[error("the webhook cannot serve on {addr}: {source}")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Where the serving certificate comes from.
#[derive(Debug, Clone)]
pub enum Certificates {
    /// `tls.crt` and `tls.key` in this directory, as a Kubernetes TLS Secret mounts them.
    Files(PathBuf),
    /// The operator's own, kept in a Secret.
    Managed(Managed),
}

/// Where to serve and with which certificate.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub certificates: Certificates,
}

struct Shared {
    client: kube::Client,
    settings: Settings,
}

/// What must be there before the operator starts at all: files it is told to serve.
pub async fn check(options: &Options) -> Result<(), Error> {
    if let Certificates::Files(dir) = &options.certificates {
        files::load(dir).await?;
    }
    Ok(())
}

/// Serves until the process ends, keeping the certificate current.
pub async fn serve(
    client: kube::Client,
    settings: Settings,
    options: Options,
) -> Result<(), Error> {
    let tls = match options.certificates {
        Certificates::Files(dir) => {
            let tls = files::load(&dir).await?;
            tokio::spawn(files::keep(dir, tls.clone()));
            tls
        }
        Certificates::Managed(managed) => {
            let mut state = keeper::Keeper::default();
            let (tls, loaded) = keeper::first(&client, &managed, &mut state).await;
            let keep = keeper::keep(client.clone(), managed, state, tls.clone(), loaded);
            tokio::spawn(keep);
            tls
        }
    };
    serve_with(client, settings, options.addr, tls).await
}

/// Serves on `addr` with `tls` until the process ends.
pub async fn serve_with(
    client: kube::Client,
    settings: Settings,
    addr: SocketAddr,
    tls: RustlsConfig,
) -> Result<(), Error> {
    let shared = Arc::new(Shared { client, settings });
    let app = axum::Router::new()
        .route(VRG_PATH, post(review))
        .route(RECIPE_PATH, post(review))
        .with_state(shared);
    tracing::info!(%addr, "serving the admission webhook");
    axum_server::bind_rustls(addr, tls)
        .serve(app.into_make_service())
        .await
        .map_err(|source| Error::Serve { addr, source })
}

async fn review(
    State(shared): State<Arc<Shared>>,
    Json(review): Json<AdmissionReview<DynamicObject>>,
) -> Json<AdmissionReview<DynamicObject>> {
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(e) => {
            // No request to answer: say why, as the API server expects a review back.
            return Json(AdmissionResponse::invalid(e.to_string()).into_review());
        }
    };
    let mut found = Found::default();
    let mut response = None;
    let subject = subject(&request, &shared.settings);
    if subject == Subject::Recipe {
        let ns = request.namespace.as_deref().unwrap_or_default();
        found.vrgs = vrg_documents(&shared.client, ns, &shared.settings).await;
    }
    if let Subject::Vrg {
        recipe: Some((ns, name)),
    } = &subject
    {
        let (ns, name) = (ns.clone(), name.clone());
        match crate::controller::recipe_documents(&shared.client, &ns)
            .get_opt(&name)
            .await
        {
            Ok(Some(recipe)) => {
                if let Ok(doc) = serde_json::to_value(recipe) {
                    found.recipes.insert((ns, name), doc);
                }
            }
            Ok(None) => {}
            // Never block an apply on the operator's own trouble reading: the controller
            // checks again, and the VRG's status says what it finds.
            Err(e) => {
                let mut allowed = AdmissionResponse::from(&request);
                allowed.warnings = Some(vec![format!(
                    "Recipe {ns}/{name} could not be read ({e}), so it was not checked"
                )]);
                response = Some(allowed);
            }
        }
    }
    let response = response.unwrap_or_else(|| decide(&request, &subject, &found, &shared.settings));
    Json(response.into_review())
}

/// The VRGs, as documents, of every namespace whose VRGs may reference a Recipe in `namespace`;
/// a failure is said, not raised: the operator's own trouble never blocks an apply.
async fn vrg_documents(
    client: &kube::Client,
    namespace: &str,
    settings: &Settings,
) -> Result<Vec<serde_json::Value>, String> {
    let resource = ApiResource::erase::<VolumeReplicationGroup>(&());
    let mut documents = vec![];
    for ns in referrer_namespaces(namespace, settings) {
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing VolumeReplicationGroups in {ns}: {e}"))?;
        for mut vrg in list.items {
            // List items may come without their kind; validation reads it.
            vrg.types.get_or_insert_with(|| TypeMeta {
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
            });
            documents.push(serde_json::to_value(vrg).map_err(|e| e.to_string())?);
        }
    }
    Ok(documents)
}
