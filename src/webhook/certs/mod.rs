//! The webhook's serving certificate. Either the operator keeps its own CA and certificate in
//! a Secret, renews them and hands the CA to the API server (`keeper`, deciding with `renew`,
//! making with `authority`), or it serves files another tool keeps current (cert-manager's
//! mounted Secret), reloaded when they change (`files`).

pub mod authority;
pub mod files;
pub mod keeper;
pub mod renew;

pub use keeper::Managed;
pub use renew::Lifetimes;

/// The names the API server may use for Service `service` in `namespace`: it calls
/// `SERVICE.NAMESPACE.svc`, and the others cover clients inside the cluster.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}
