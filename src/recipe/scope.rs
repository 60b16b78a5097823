//! Tenancy (SPEC 8): which namespaces a VRG may read, back up, restore or exec into.
//!
//! A VRG acts only in its own namespace. A VRG in an admin namespace acts in the namespaces of its
//! `protectedNamespaces`, and only those. An empty `includedNamespaces` means those namespaces,
//! never "all namespaces".

use std::time::Duration;

use super::cluster_scoped::{self, ClusterScoped};
use super::model::{Group, Hook, HookKind, Recipe};
use super::problem::{Problems, index};
use super::vrg::{KOP_PATH, VrgView};

/// Operator settings that validation depends on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Namespaces whose VRGs may protect other namespaces (by default the operator's own).
    pub admin_namespaces: Vec<String>,
    /// Cluster-scoped types beyond the built-in ones (the controller fills it from discovery).
    pub cluster_scoped: Vec<ClusterScoped>,
    /// The shortest `captureInterval` a VRG may ask for: each capture costs Velero and the
    /// object store, and one tenant's schedule must not starve the others'.
    pub min_capture_interval: Duration,
    /// Whose recipes may run exec hooks (commands in the application's pods, as any user in them).
    pub exec_hooks: Allowed,
    /// Whose groups may set `restoreOverwriteResources` (a restore that replaces live objects).
    pub restore_overwrite: Allowed,
}

/// The shortest capture interval by default.
pub const DEFAULT_MIN_CAPTURE_INTERVAL: Duration = Duration::from_secs(60);

/// Which VRGs a feature is open to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allowed {
    /// Every VRG.
    #[default]
    All,
    /// VRGs in admin namespaces only.
    Admin,
    /// No VRG.
    None,
}

impl Allowed {
    fn permits(self, admin: bool) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Admin => admin,
            Allowed::None => false,
        }
    }

    /// The setting's value as its flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Allowed::All => "all",
            Allowed::Admin => "admin",
            Allowed::None => "none",
        }
    }
}

/// Namespace of the operator when nothing else says (the Helm chart and kustomize default).
pub const DEFAULT_OPERATOR_NAMESPACE: &str = "vrg-operator-system";

impl Default for Settings {
    fn default() -> Self {
        Self {
            admin_namespaces: vec![DEFAULT_OPERATOR_NAMESPACE.to_owned()],
            cluster_scoped: vec![],
            min_capture_interval: DEFAULT_MIN_CAPTURE_INTERVAL,
            exec_hooks: Allowed::All,
            restore_overwrite: Allowed::All,
        }
    }
}

/// The namespaces one VRG may act in.
#[derive(Debug, Clone)]
pub struct Scope {
    pub vrg_namespace: String,
    pub admin: bool,
    /// Where the VRG may act; also what an empty `includedNamespaces` means.
    pub allowed: Vec<String>,
    /// Discovered cluster-scoped types (see [`Settings::cluster_scoped`]).
    pub cluster_scoped: Vec<ClusterScoped>,
    /// The operator's admin namespaces, for messages.
    pub admin_namespaces: Vec<String>,
    pub exec_hooks: Allowed,
    pub restore_overwrite: Allowed,
}

impl Scope {
    pub fn new(vrg: &VrgView, settings: &Settings, p: &mut Problems) -> Self {
        let admin = settings.admin_namespaces.contains(&vrg.namespace);
        let allowed = match (&vrg.protected_namespaces, admin) {
            (Some(list), true) if !list.is_empty() => list.clone(),
            (Some(_), false) => {
                p.add(
                    "spec.protectedNamespaces",
                    format!(
                        "honoured only for VRGs in an admin namespace ({}); this VRG is in \"{}\" and protects only its own namespace",
                        settings.admin_namespaces.join(", "),
                        vrg.namespace
                    ),
                );
                vec![vrg.namespace.clone()]
            }
            _ => vec![vrg.namespace.clone()],
        };
        Self {
            vrg_namespace: vrg.namespace.clone(),
            admin,
            allowed,
            cluster_scoped: settings.cluster_scoped.clone(),
            admin_namespaces: settings.admin_namespaces.clone(),
            exec_hooks: settings.exec_hooks,
            restore_overwrite: settings.restore_overwrite,
        }
    }

    /// The namespaces a group's Velero object covers: its own list, or the allowed ones.
    pub fn group_namespaces(&self, group: &Group) -> Vec<String> {
        if group.included_namespaces.is_empty() {
            self.allowed.clone()
        } else {
            group.included_namespaces.clone()
        }
    }

    /// The namespace a hook acts in: its own, or the VRG's.
    pub fn hook_namespace(&self, hook: &Hook) -> String {
        hook.namespace
            .clone()
            .unwrap_or_else(|| self.vrg_namespace.clone())
    }

    fn allows(&self, namespace: &str) -> bool {
        self.allowed.iter().any(|a| a == namespace)
    }

    fn refuse(&self, path: &str, what: &str, namespace: &str, p: &mut Problems) {
        let why = if self.admin {
            "it is not in the VRG's protectedNamespaces"
        } else {
            "a VRG may only act in its own namespace"
        };
        p.add(
            path,
            format!(
                "{what} namespace \"{namespace}\" is not allowed: {why} ({})",
                self.allowed.join(", ")
            ),
        );
    }

    /// Only an admin VRG may capture or restore cluster-scoped objects: Velero acts as
    /// cluster-admin, so a tenant's group of ClusterRoleBindings would be an escalation.
    fn check_cluster_scope(&self, group: &Group, p: &mut Problems) {
        if self.admin {
            return;
        }
        let why = format!(
            "only a VRG in an admin namespace ({}) may capture or restore cluster-scoped objects",
            self.admin_list()
        );
        if group.include_cluster_resources == Some(true) {
            p.add(
                &group.include_cluster_resources_path,
                format!("cluster-scoped resources are not allowed: {why}"),
            );
        }
        for (i, resource) in group.included_resources.iter().enumerate() {
            if let Some(kind) = cluster_scoped::lookup(resource, &self.cluster_scoped) {
                p.add(
                    index(&group.included_resources_path, i),
                    format!("\"{resource}\" ({kind}) is cluster-scoped: {why}"),
                );
            }
        }
    }

    /// What the operator's settings close to this VRG: exec hooks, overwriting restores.
    fn check_settings(&self, recipe: &Recipe, p: &mut Problems) {
        let closed = |allowed: Allowed, flag: &str| {
            let whom = match allowed {
                Allowed::Admin => {
                    format!("to VRGs outside an admin namespace ({})", self.admin_list())
                }
                _ => "to every VRG".to_owned(),
            };
            format!(
                "the operator closes this {whom} (--{flag}={})",
                allowed.as_str()
            )
        };
        if !self.exec_hooks.permits(self.admin) {
            for hook in &recipe.hooks {
                // A Job runs commands of the recipe's choosing, as an exec does.
                let kind = match hook.kind {
                    HookKind::Exec(_) => "exec hooks are",
                    HookKind::Job(_) => "job hooks (which run commands, as exec hooks do) are",
                    HookKind::Check(_) | HookKind::Scale => continue,
                };
                p.add(
                    format!("{}.type", hook.path),
                    format!(
                        "{kind} not allowed here: {}",
                        closed(self.exec_hooks, "exec-hooks")
                    ),
                );
            }
        }
        if !self.restore_overwrite.permits(self.admin) {
            for group in recipe.groups.iter().filter(|g| g.restore_overwrite) {
                p.add(
                    format!("{}.restoreOverwriteResources", group.path),
                    format!(
                        "restoreOverwriteResources is not allowed here: {}",
                        closed(self.restore_overwrite, "restore-overwrite")
                    ),
                );
            }
        }
    }

    fn admin_list(&self) -> String {
        if self.admin_namespaces.is_empty() {
            "none configured".to_owned()
        } else {
            self.admin_namespaces.join(", ")
        }
    }

    /// Reports every namespace the recipe names that the VRG may not touch, and every
    /// cluster-scoped type a tenant VRG asks for.
    pub fn check_recipe(&self, recipe: &Recipe, p: &mut Problems) {
        self.check_settings(recipe, p);
        for group in recipe.groups.iter().chain(&recipe.volumes) {
            self.check_cluster_scope(group, p);
            for (i, ns) in group.included_namespaces.iter().enumerate() {
                if !self.allows(ns) {
                    self.refuse(
                        &index(&format!("{}.includedNamespaces", group.path), i),
                        "group",
                        ns,
                        p,
                    );
                }
            }
        }
        for hook in &recipe.hooks {
            let ns = self.hook_namespace(hook);
            if !self.allows(&ns) {
                let path = if hook.namespace.is_some() {
                    format!("{}.namespace", hook.path)
                } else {
                    hook.path.clone()
                };
                let what = if hook.namespace.is_some() {
                    "hook"
                } else {
                    "hook (default: the VRG's)"
                };
                self.refuse(&path, what, &ns, p);
            }
        }
    }

    /// Refuses a `recipeRef` into a namespace this VRG may not read Recipes from (see
    /// [`recipe_ref_allowed`]); returns whether the reference is allowed.
    pub fn check_recipe_ref(&self, namespace: &str, p: &mut Problems) -> bool {
        if recipe_ref_allowed(&self.admin_namespaces, &self.vrg_namespace, namespace) {
            return true;
        }
        let message = if self.admin {
            format!(
                "a VRG in an admin namespace may only use a Recipe in an admin namespace ({}), not \"{namespace}\"",
                self.admin_namespaces.join(", ")
            )
        } else {
            format!(
                "a VRG may only use a Recipe in its own namespace (\"{}\"), not \"{namespace}\"",
                self.vrg_namespace
            )
        };
        p.add(format!("{KOP_PATH}.recipeRef.namespace"), message);
        false
    }
}

/// Whether a VRG in `vrg_namespace` may use a Recipe in `namespace`: its own namespace, or, for
/// a VRG in an admin namespace, another admin namespace. Decided before the Recipe is read, so
/// that a refused reference learns nothing of what is there (not even whether it exists).
pub fn recipe_ref_allowed(
    admin_namespaces: &[String],
    vrg_namespace: &str,
    namespace: &str,
) -> bool {
    namespace == vrg_namespace
        || (admin_namespaces.iter().any(|a| a == vrg_namespace)
            && admin_namespaces.iter().any(|a| a == namespace))
}
