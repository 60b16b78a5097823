//! Recipe objects as Ramen reads them (`frontend/ramen.rs`): accepted where Ramen accepts them,
//! with what vrg-operator does instead said in the plan's notes.

use super::plan::Action;
use super::tests::{assert_problem, load, vrg};

/// A VRG in namespace `app` referencing Recipe `r`, and Recipe `r` with `spec` (YAML, indented
/// by 2).
fn with_recipe(spec: &str) -> String {
    format!(
        "{}---\napiVersion: ramendr.openshift.io/v1alpha1\nkind: Recipe\nmetadata: {{name: r, namespace: app}}\n{spec}",
        vrg("    recipeRef: {name: r}\n")
    )
}

fn notes(plan: &super::Plan) -> Vec<String> {
    plan.notes.iter().map(ToString::to_string).collect()
}

fn groups_of(workflow: Option<&super::WorkflowPlan>) -> Vec<(String, String)> {
    workflow
        .map(|w| &w.steps)
        .into_iter()
        .flatten()
        .filter_map(|s| match &s.action {
            Action::Backup { group, .. } => Some((group.clone(), group.clone())),
            Action::Restore {
                group,
                backup_group,
                ..
            } => Some((group.clone(), backup_group.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_null_or_empty_spec_protects_the_namespace_as_no_recipe_would() {
    for spec in ["spec: null\n", "spec: {}\n", ""] {
        let plan = load(&with_recipe(spec)).unwrap_or_else(|p| panic!("{spec:?}: {p:?}"));
        let objects = vec![("objects".to_owned(), "objects".to_owned())];
        assert_eq!(groups_of(plan.backup.as_ref()), objects, "{spec:?}");
        assert_eq!(groups_of(plan.restore.as_ref()), objects, "{spec:?}");
        assert_eq!(
            notes(&plan),
            [
                "Recipe/r: spec.workflows: no backup or restore workflow: the default capture and \
              recovery of the VRG's namespace apply, as with no recipe"
            ],
            "{spec:?}"
        );
    }
}

#[test]
fn a_restore_only_recipe_captures_by_default_and_restores_from_that_capture() {
    let plan = load(&with_recipe(
        "spec:
  groups: [{name: rg1, type: resource, includedResourceTypes: [configmaps]}]
  workflows:
    - {name: restore, sequence: [{group: rg1}]}
",
    ))
    .unwrap();
    assert_eq!(
        groups_of(plan.backup.as_ref()),
        [("objects".to_owned(), "objects".to_owned())]
    );
    assert_eq!(
        groups_of(plan.restore.as_ref()),
        [("rg1".to_owned(), "objects".to_owned())],
        "rg1 restores its configmaps from the default capture"
    );
    assert!(notes(&plan)[0].contains("no backup workflow: captures are the default capture"));
}

#[test]
fn an_empty_sequence_counts_as_no_workflow() {
    let plan = load(&with_recipe(
        "spec:
  groups: [{name: rg1, type: resource}]
  workflows:
    - {name: backup, sequence: [{group: rg1}]}
    - {name: restore, sequence: []}
",
    ))
    .unwrap();
    assert_eq!(
        groups_of(plan.backup.as_ref()),
        [("rg1".to_owned(), "rg1".to_owned())]
    );
    assert!(plan.restore.is_none(), "{:?}", plan.restore);
    assert_eq!(
        notes(&plan),
        [
            "Recipe/r: spec.workflows[1].sequence: workflow \"restore\" has no steps: it counts as \
             absent, so a recovery restores nothing"
        ]
    );
}

#[test]
fn volume_groups_are_kept_and_scope_checked_but_never_acted_on() {
    let spec = "spec:
  volumes: {name: vols, type: volume, includedNamespaces: [app], labelSelector: {matchLabels: {app: db}}}
  groups:
    - {name: rg1, type: resource}
    - {name: pvcs, type: volume, selectResource: pvc, labelSelector: {matchLabels: {app: db}}}
  workflows:
    - {name: backup, sequence: [{group: pvcs}, {group: rg1}, {group: vols}]}
    - {name: restore, sequence: [{group: rg1}]}
";
    let plan = load(&with_recipe(spec)).unwrap();
    assert_eq!(
        groups_of(plan.backup.as_ref()),
        [("rg1".to_owned(), "rg1".to_owned())],
        "the volume groups' steps are skipped"
    );
    let notes = notes(&plan);
    assert_eq!(notes.len(), 4, "{notes:#?}");
    assert!(
        notes.contains(
            &"Recipe/r: spec.groups[1].type: a volume group selects PVCs for volume replication, \
          which vrg-operator does not do: kept, not acted on"
                .to_owned()
        )
    );
    assert!(
        notes.contains(
            &"Recipe/r: spec.workflows[0].sequence[0]: group \"pvcs\" is a volume group, which \
          vrg-operator does not act on: the step is skipped"
                .to_owned()
        )
    );
    // spec.volumes names namespaces like any group: a tenant's may not reach past its own.
    let escape = spec.replace(
        "includedNamespaces: [app]",
        "includedNamespaces: [kube-system]",
    );
    assert_problem(
        &load(&with_recipe(&escape)).unwrap_err(),
        "Recipe/r: spec.volumes.includedNamespaces[0]: group namespace \"kube-system\" is not allowed",
    );
}

#[test]
fn an_unset_essential_is_not_essential_as_ramen_reads_it() {
    let plan = load(&with_recipe(
        "spec:
  groups: [{name: a, type: resource}, {name: b, type: resource, essential: true}]
  hooks: [{name: h, type: exec, namespace: app, labelSelector: {matchLabels: {app: db}}, ops: [{name: o, command: /bin/true}]}]
  workflows:
    - {name: backup, failOn: essential-error, sequence: [{hook: h/o}, {group: a}, {group: b}]}
",
    ))
    .unwrap();
    let essential: Vec<bool> = plan
        .backup
        .unwrap()
        .steps
        .iter()
        .map(|s| s.essential)
        .collect();
    assert_eq!(essential, [false, false, true]);
}

#[test]
fn group_backups_leave_out_what_ramen_leaves_out_unless_named_and_restores_do_not_filter() {
    let plan = load(&with_recipe(
        "spec:
  groups:
    - {name: data, type: resource, includedResourceTypes: [configmaps, persistentvolumeclaims]}
  workflows:
    - {name: backup, sequence: [{group: data}]}
    - {name: restore, sequence: [{group: data}]}
",
    ))
    .unwrap();
    let Action::Backup { spec, .. } = &plan.backup.unwrap().steps[0].action else {
        panic!("a Backup")
    };
    let excluded = &spec.filter.excluded_resources;
    for resource in [
        "persistentvolumes",
        "volumereplications.replication.storage.openshift.io",
        "replicationsources.volsync.backube",
        "volumesnapshots.snapshot.storage.k8s.io",
        "endpoints",
        "endpointslices.discovery.k8s.io",
    ] {
        assert!(
            excluded.contains(&resource.to_owned()),
            "{resource}: {excluded:?}"
        );
    }
    assert!(
        !excluded.contains(&"persistentvolumeclaims".to_owned()),
        "named by the group, so captured"
    );
    let Action::Restore { spec, .. } = &plan.restore.unwrap().steps[0].action else {
        panic!("a Restore")
    };
    assert!(spec.filter.excluded_resources.is_empty());
}

/// An admin VRG (namespace `ops`) protecting `vm1` and `vm2` with Ramen's built-in VM recipe,
/// recipe parameters `params` (YAML, indented by 6).
fn vm_vrg(protected: &str, params: &str) -> String {
    vrg(&format!(
        "    recipeRef: {{name: vm-recipe, namespace: ops}}\n    recipeParameters:\n{params}"
    ))
    .replace("  name: v\n", "  name: v\n  namespace: ops\n")
    .replace(
        "  s3Profiles",
        &format!("  protectedNamespaces: {protected}\n  s3Profiles"),
    )
}

#[test]
fn ramens_vm_recipe_protects_the_labelled_objects_of_the_protected_namespaces() {
    let plan = load(&vm_vrg(
        "[vm1, vm2]",
        "      K8S_RESOURCE_SELECTOR: [vm-a]\n      PVC_RESOURCE_SELECTOR: [vm-a-disks]\n",
    ))
    .unwrap();
    assert_eq!(plan.source, "built-in recipe vm-recipe");
    let Action::Backup { group, spec } = &plan.backup.as_ref().unwrap().steps[0].action else {
        panic!("a Backup")
    };
    assert_eq!(group, "vm-backup");
    assert_eq!(spec.filter.included_namespaces, ["vm1", "vm2"]);
    assert_eq!(spec.filter.include_cluster_resources, Some(true));
    let expression = &spec
        .filter
        .label_selector
        .as_ref()
        .unwrap()
        .match_expressions
        .as_ref()
        .unwrap()[0];
    assert_eq!(expression.key, "ramendr.openshift.io/k8s-resource-selector");
    assert_eq!(expression.values.as_deref(), Some(&["vm-a".to_owned()][..]));
    assert_eq!(
        groups_of(plan.restore.as_ref()),
        [("vm-backup".to_owned(), "vm-backup".to_owned())]
    );
    assert!(
        notes(&plan)
            .iter()
            .any(|n| n.contains("spec.volumes: selects PVCs")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn the_vm_recipe_needs_protected_namespaces_and_an_admin_vrg() {
    assert_problem(
        &load(&vm_vrg(
            "[]",
            "      K8S_RESOURCE_SELECTOR: [vm-a]\n      PVC_RESOURCE_SELECTOR: [d]\n",
        ))
        .unwrap_err(),
        "the built-in vm-recipe protects the VMs of the VRG's protectedNamespaces: list at least one",
    );
    // A tenant's VRG has no built-in recipe: vm-recipe in its own namespace is a Recipe like any.
    assert_problem(
        &load(&vrg("    recipeRef: {name: vm-recipe}\n")).unwrap_err(),
        "Recipe app/vm-recipe not found",
    );
}

#[test]
fn scale_hooks_resolve_to_down_up_and_sync_steps() {
    let plan = load(&with_recipe(
        "spec:\n  groups: [{name: g, type: resource}]\n  hooks:\n    - {name: s, type: scale, selectResource: statefulset, labelSelector: {matchLabels: {app: db}}}\n  workflows:\n    - {name: backup, sequence: [{hook: s/down}, {group: g}, {hook: s/up}, {hook: s/sync}]}\n",
    ))
    .unwrap();
    let ops: Vec<_> = plan
        .backup
        .iter()
        .flat_map(|w| &w.steps)
        .filter_map(|s| match &s.action {
            Action::Scale(scale) => Some((scale.op, scale.target.namespace.clone())),
            _ => None,
        })
        .collect();
    use super::plan::ScaleOp::*;
    assert_eq!(
        ops,
        [
            (Down, "app".into()),
            (Up, "app".into()),
            (Sync, "app".into())
        ]
    );
}

#[test]
fn scale_and_job_hook_mistakes_are_named() {
    let problems = load(&with_recipe(
        "spec:\n  groups: [{name: g, type: resource}]\n  hooks:\n    - {name: s, type: scale, nameSelector: web, ops: [{name: o, command: x}]}\n    - {name: j, type: job, jobs: [{name: missing}, {name: bad, inverseOp: bad}]}\n  workflows:\n    - {name: backup, sequence: [{hook: s/scale}, {hook: j/missing}, {group: g}]}\n",
    ))
    .unwrap_err();
    for expected in [
        "spec.hooks[0].ops: \"ops\" belongs to an exec hook, not a scale hook",
        "spec.hooks[0].selectResource: a scale hook scales Deployments or StatefulSets",
        "spec.hooks[1].jobs[1].inverseOp: an op cannot be its own inverse",
        "spec.workflows[0].sequence[0]: hook \"s\" has no op \"scale\"",
        "spec.workflows[0].sequence[1]: hook \"j\" runs job \"missing\", but spec.jobs has no template of that name",
    ] {
        assert_problem(&problems, expected);
    }
}

#[test]
fn a_job_step_runs_its_template_named_and_placed_as_ramen_does() {
    let plan = load(&with_recipe(
        "spec:\n  groups: [{name: g, type: resource}]\n  hooks:\n    - {name: j, type: job, namespace: app, jobs: [{name: dump, timeout: 30, forceCreate: true}]}\n  jobs:\n    - dump: \"{metadata: {name: other, namespace: elsewhere}, spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}}\"\n  workflows:\n    - {name: backup, sequence: [{hook: j/dump}, {group: g}]}\n",
    ))
    .unwrap();
    let step = &plan.backup.as_ref().unwrap().steps[0];
    let Action::Job(job) = &step.action else {
        panic!("{step:?}")
    };
    assert_eq!(step.timeout, std::time::Duration::from_secs(30));
    assert!(job.run.force_create);
    assert_eq!(job.run.job["metadata"]["name"], "dump");
    assert_eq!(job.run.job["metadata"]["namespace"], "app");
    assert_eq!(
        job.run.job["metadata"]["labels"]["ramendr.openshift.io/hook-name"],
        "j"
    );
    assert_eq!(job.run.job["kind"], "Job");
}
