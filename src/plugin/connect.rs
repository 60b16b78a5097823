//! The client and namespace from kubectl's flags, as kubectl resolves them.

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{ClusterFlags, Error};

/// A client for the chosen context, and the namespace commands act in.
pub async fn connect(flags: &ClusterFlags) -> Result<(kube::Client, String), Error> {
    let kubeconfig = match &flags.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        // `KUBECONFIG` (several files merged, as kubectl merges them), else ~/.kube/config.
        None => Kubeconfig::read(),
    }
    .map_err(Error::Kubeconfig)?;
    let options = KubeConfigOptions {
        context: flags.context.clone(),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(Error::Kubeconfig)?;
    let namespace = flags
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(Error::Connect)?;
    Ok((client, namespace))
}
