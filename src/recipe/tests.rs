//! The recipe model end to end: documents in, plan or problems out. One test per validation rule.

use std::collections::BTreeMap;

use serde_json::Value;

use super::plan::Action;
use super::{Loaded, Plan, Settings, check_recipe, load_vrg};
use crate::recipe::model::{FailOn, OnError};

fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml).expect("valid YAML")
}

/// Loads the first VRG of `yaml` (Recipes in `yaml` are visible to it) in namespace `app`.
pub(super) fn load(yaml: &str) -> Result<Plan, Vec<String>> {
    let docs = docs(yaml);
    let recipes: BTreeMap<(String, String), Value> = docs
        .iter()
        .filter(|d| d["kind"] == "Recipe")
        .map(|d| {
            let ns = d["metadata"]["namespace"]
                .as_str()
                .unwrap_or("app")
                .to_owned();
            (
                (ns, d["metadata"]["name"].as_str().unwrap().to_owned()),
                d.clone(),
            )
        })
        .collect();
    let vrg = docs
        .iter()
        .find(|d| d["kind"] == "VolumeReplicationGroup")
        .expect("a VRG");
    match load_vrg(
        vrg,
        "app",
        &recipes,
        &Settings {
            admin_namespaces: vec!["ops".into()],
            ..Settings::default()
        },
    ) {
        Ok(Loaded::Planned(plan)) => Ok(plan),
        Ok(Loaded::Unprotected) => panic!("VRG is unprotected"),
        Err(problems) => Err(problems.iter().map(ToString::to_string).collect()),
    }
}

/// A VRG in namespace `app` whose `kubeObjectProtection` is `kop` (YAML, indented by 4).
pub(super) fn vrg(kop: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1\nkind: VolumeReplicationGroup\nmetadata:\n  name: v\nspec:\n  replicationState: primary\n  s3Profiles: [default]\n  kubeObjectProtection:\n{kop}"
    )
}

/// A VRG with an inline recipe (YAML of the recipe body, indented by 6).
fn inline(recipe: &str) -> String {
    vrg(&format!("    recipe:\n{recipe}"))
}

const GROUPS_AND_WORKFLOWS: &str = "      groups:
        - name: config
          includedResourceTypes: [configmaps]
      workflows:
        - name: backup
          sequence:
            - group: config
        - name: restore
          sequence:
            - group: config
";

fn problems(yaml: &str) -> Vec<String> {
    match load(yaml) {
        Ok(_) => panic!("expected problems in:\n{yaml}"),
        Err(p) => p,
    }
}

#[track_caller]
pub(super) fn assert_problem(problems: &[String], expected: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "no problem containing {expected:?} in {problems:#?}"
    );
}

// ---- the seed's samples, fixed: valid, with the plans one would expect --------------------

#[test]
fn seed_capture_order_plans_pre_group_post() {
    let plan = load(include_str!("../../examples/seed-capture-order.yaml")).unwrap();
    let backup = plan.backup.unwrap();
    let names: Vec<&str> = backup.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "hook checkpoint/pre",
            "group capture-0",
            "hook checkpoint/post"
        ]
    );
    let Action::Exec(pre) = &backup.steps[0].action else {
        panic!()
    };
    assert_eq!(pre.commands.len(), 2, "each command is its own exec");
    assert_eq!(pre.container.as_deref(), Some("app-container"));
    assert_eq!(backup.steps[0].timeout.as_secs(), 1800);
    assert_eq!(backup.steps[0].on_error, OnError::Fail);
    let Action::Backup { spec, .. } = &backup.steps[1].action else {
        panic!()
    };
    assert_eq!(
        spec.filter.included_namespaces,
        ["app"],
        "namespaces are never empty"
    );
    assert_eq!(
        spec.filter.included_resources,
        ["Pod", "ConfigMap", "Secret"]
    );
    assert!(plan.restore.is_none());
}

#[test]
fn seed_recover_exec_runs_once_pods_are_running() {
    let plan = load(include_str!("../../examples/seed-recover-exec.yaml")).unwrap();
    let restore = plan.restore.unwrap();
    assert_eq!(restore.steps.len(), 2);
    let Action::Restore { backup_group, .. } = &restore.steps[0].action else {
        panic!()
    };
    assert_eq!(backup_group, "checkpoint");
    let Action::Exec(exec) = &restore.steps[1].action else {
        panic!()
    };
    assert!(exec.wait_for_running);
    assert_eq!(restore.steps[1].timeout.as_secs(), 600);
}

#[test]
fn seed_recover_init_containers_go_on_the_restore() {
    let plan = load(include_str!(
        "../../examples/seed-recover-init-containers.yaml"
    ))
    .unwrap();
    let restore = plan.restore.unwrap();
    assert_eq!(
        restore.steps.len(),
        1,
        "an init-container hook adds no step of its own"
    );
    let Action::Restore { spec, .. } = &restore.steps[0].action else {
        panic!()
    };
    let hook = &spec.hooks.as_ref().unwrap().resources[0];
    assert_eq!(hook.name, "restore-hook-1");
    assert_eq!(hook.included_namespaces, ["app"]);
    let init = hook.post_hooks[0].init.as_ref().unwrap();
    assert_eq!(init.init_containers[0]["image"], "my-container-image");
}

#[test]
fn seed_inline_recipe_plans_both_workflows() {
    let plan = load(include_str!("../../examples/seed-inline-recipe.yaml")).unwrap();
    let backup: Vec<String> = plan
        .backup
        .unwrap()
        .steps
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(
        backup,
        [
            "hook checkpoint/checkpoint",
            "hook pre-backup/pre-backup",
            "group cpd-instance-volumes",
            "hook post-backup/post-backup",
            "group cpd-instance-resources"
        ]
    );
    let restore = plan.restore.unwrap();
    assert_eq!(restore.steps.len(), 6);
    let Action::Restore {
        backup_group, spec, ..
    } = &restore.steps[1].action
    else {
        panic!()
    };
    assert_eq!(
        backup_group, "cpd-instance-resources",
        "backupName is the seed's backupRef"
    );
    assert!(spec.filter.excluded_resources.contains(&"pods".to_owned()));
    let Action::Backup { spec, .. } =
        &plan_backup_step(include_str!("../../examples/seed-inline-recipe.yaml"), 2)
    else {
        panic!()
    };
    assert_eq!(
        spec.filter.include_cluster_resources,
        Some(false),
        "isClusterScoped is includeClusterResources"
    );
    let selector = spec.filter.label_selector.as_ref().unwrap();
    assert_eq!(
        selector.match_expressions.as_ref().unwrap()[0].operator,
        "Exists",
        "a bare key selects by existence"
    );
}

fn plan_backup_step(yaml: &str, i: usize) -> Action {
    load(yaml).unwrap().backup.unwrap().steps[i].action.clone()
}

// ---- the seed's samples exactly as written: errors point at their mistakes ------------------

#[test]
fn seed_samples_as_written_report_their_mistakes() {
    let capture = problems(include_str!("../../tests/fixtures/seed/capture-order.yaml"));
    assert_problem(&capture, "apiVersion: missing");
    assert_problem(
        &capture,
        "spec: missing required field \"replicationState\"",
    );
    assert_problem(
        &capture,
        "captureOrder[0].hooks[0].pre.command[0]: \"/cpdbr-scripts/cpbdr/checkpoint_create.sh;\" is shell syntax",
    );
    let exec = problems(include_str!("../../tests/fixtures/seed/recover-exec.yaml"));
    assert_problem(
        &exec,
        "recoverOrder[0]: unknown field \"includeResources\" (did you mean \"includedResources\"?)",
    );
    assert_problem(&exec, "recoverOrder[0].backupName: no group \"checkpoint\"");
    let init = problems(include_str!(
        "../../tests/fixtures/seed/recover-init-containers.yaml"
    ));
    assert_problem(&init, "recoverOrder[0]: unknown field \"includeResources\"");
    let err = serde_saphyr::from_multiple::<Value>(include_str!(
        "../../tests/fixtures/seed/inline-recipe.yaml"
    ))
    .unwrap_err();
    let location = err.location().expect("a syntax error has a location");
    assert_eq!(
        (location.line(), location.column()),
        (11, 10),
        "at the misindented includedResoures"
    );
}

#[test]
fn seed_inline_recipe_with_indentation_fixed_but_typos_kept() {
    let yaml = include_str!("../../examples/seed-inline-recipe.yaml")
        .replace(
            "          includedResources:\n            - pv",
            "          includedResoures:\n            - pv",
        )
        .replace(
            "- group: cpd-instance-resources\n        - name: restore",
            "- group_ cpd-instance-resources\n        - name: restore",
        );
    let p = problems(&yaml);
    assert_problem(
        &p,
        "recipe.groups[0]: unknown field \"includedResoures\" (did you mean \"includedResources\"?)",
    );
    assert_problem(
        &p,
        "recipe.workflows[0].sequence[4]: unknown step kind \"group_\" (expected \"group\" or \"hook\"); did you mean \"group: cpd-instance-resources\"?",
    );
}

// ---- Ramen-style recipes ---------------------------------------------------------------------

#[test]
fn ramen_recipe_with_parameters_and_checks() {
    let plan = load(include_str!("../../examples/recipe-mysql.yaml")).unwrap();
    assert_eq!(plan.source, "Recipe app/mysql");
    assert_eq!(plan.capture_interval.as_secs(), 600);
    let backup = plan.backup.unwrap();
    let Action::Backup { spec, .. } = &backup.steps[2].action else {
        panic!()
    };
    assert_eq!(
        spec.filter
            .label_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app"],
        "mysql",
        "the APP_LABEL parameter is expanded"
    );
    let Action::Exec(quiesce) = &backup.steps[1].action else {
        panic!()
    };
    assert_eq!(quiesce.inverse.as_ref().unwrap().op, "unquiesce");
    assert!(quiesce.single_pod_only);
    assert_eq!(quiesce.commands[0][0], "/bin/sh");
    assert!(
        quiesce.commands[0][2].contains("$MYSQL_ROOT_PASSWORD"),
        "$NAME that is no parameter is kept"
    );
    let restore = plan.restore.unwrap();
    assert_eq!(restore.fail_on, FailOn::EssentialError);
    let Action::Check(check) = &restore.steps[2].action else {
        panic!()
    };
    assert_eq!(
        check.condition.to_string(),
        "{$.status.readyReplicas} == {$.spec.replicas}"
    );
    assert!(!restore.steps[3].essential);
}

#[test]
fn ramen_recipe_missing_parameter_is_reported_on_the_recipe() {
    let yaml = include_str!("../../examples/recipe-mysql.yaml")
        .replace("APP_LABEL: [mysql]", "OTHER: [x]");
    let p = problems(&yaml);
    assert_problem(
        &p,
        "Recipe/mysql: spec.groups[1].labelSelector.matchLabels.app: undefined parameter \"${APP_LABEL}\"",
    );
}

#[test]
fn standalone_recipes_validate_without_parameters() {
    for d in docs(include_str!("../../examples/recipe-web-app.yaml"))
        .iter()
        .filter(|d| d["kind"] == "Recipe")
    {
        assert_eq!(check_recipe(d), vec![]);
    }
}

#[test]
fn default_recipe_protects_the_vrg_namespace() {
    let plan = load(include_str!("../../examples/vrg-default-recipe.yaml")).unwrap();
    let Action::Backup { spec, .. } = &plan.backup.unwrap().steps[0].action else {
        panic!()
    };
    assert_eq!(spec.filter.included_namespaces, ["app"]);
    assert!(spec.filter.label_selector.is_some());
    assert_eq!(plan.capture_interval.as_secs(), 900);
}

#[test]
fn unprotected_vrg_has_nothing_to_do() {
    let yaml = "apiVersion: ramendr.openshift.io/v1alpha1\nkind: VolumeReplicationGroup\nmetadata: {name: v}\nspec: {replicationState: secondary}";
    let r = load_vrg(
        &docs(yaml)[0],
        "app",
        &BTreeMap::new(),
        &Settings::default(),
    );
    assert_eq!(r, Ok(Loaded::Unprotected));
}

#[test]
fn stop_recipe_reconcile_pauses() {
    let yaml = vrg("    recipeParameters:\n      STOP_RECIPE_RECONCILE: [\"true\"]\n");
    assert!(load(&yaml).unwrap().paused);
}

// ---- one test per rule ----------------------------------------------------------------------

#[test]
fn rule_unknown_fields_everywhere() {
    let p = problems(&vrg("    captureInterval: 5m\n    colour: red\n"));
    assert_problem(&p, "spec.kubeObjectProtection: unknown field \"colour\"");
    let p = problems(&inline(&format!("{GROUPS_AND_WORKFLOWS}      hookz: []\n")));
    assert_problem(
        &p,
        "spec.kubeObjectProtection.recipe: unknown field \"hookz\" (did you mean \"hooks\"?)",
    );
}

#[test]
fn rule_duplicate_names() {
    let p = problems(&inline(&GROUPS_AND_WORKFLOWS.replace(
        "      workflows:",
        "        - name: config\n      workflows:",
    )));
    assert_problem(
        &p,
        "spec.kubeObjectProtection.recipe.groups: duplicate name \"config\"",
    );
}

#[test]
fn rule_steps_name_existing_groups_hooks_and_ops() {
    let recipe = "      groups:
        - name: config
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops:
            - {name: quiesce, command: /bin/true}
            - {name: unquiesce, command: /bin/true}
      workflows:
        - name: backup
          sequence:
            - group: confg
            - hook: dbb/quiesce
            - hook: db/quiese
            - hook: db
            - group: config
";
    let p = problems(&inline(recipe));
    assert_problem(
        &p,
        "sequence[0]: no group \"confg\" (did you mean \"config\"?)",
    );
    assert_problem(&p, "sequence[1]: no hook \"dbb\" (did you mean \"db\"?)");
    assert_problem(
        &p,
        "sequence[2]: hook \"db\" has no op \"quiese\" (did you mean \"quiesce\"?)",
    );
    assert_problem(
        &p,
        "sequence[3]: hook \"db\" has 2 entries; name one: db/quiesce, db/unquiesce",
    );
}

#[test]
fn rule_hook_needs_selector_or_container() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "      workflows:",
        "      hooks:\n        - name: h\n          type: exec\n          ops: [{name: o, command: x}]\n      workflows:",
    );
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.hooks[0]: an exec hook needs a labelSelector or nameSelector, or a container on every op",
    );
}

#[test]
fn rule_on_error_is_fail_or_continue_in_any_case() {
    let hook = |on_error: &str| {
        GROUPS_AND_WORKFLOWS.replace(
            "      workflows:",
            &format!("      hooks:\n        - name: h\n          type: exec\n          onError: {on_error}\n          ops: [{{name: o, command: x, container: c}}]\n      workflows:"),
        )
    };
    assert!(load(&inline(&hook("Continue"))).is_ok());
    assert!(load(&inline(&hook("FAIL"))).is_ok());
    assert_problem(
        &problems(&inline(&hook("ignore"))),
        "recipe.hooks[0].onError: unknown onError \"ignore\"",
    );
}

#[test]
fn rule_label_selectors() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "includedResourceTypes: [configmaps]",
        "labelSelector: \"tier in (a,\"",
    );
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.groups[0].labelSelector: in selector",
    );
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "includedResourceTypes: [configmaps]",
        "labelSelector: {matchLabels: {app: \"-bad\"}}",
    );
    assert_problem(&problems(&inline(&recipe)), "is not a valid label value");
}

#[test]
fn rule_durations_and_timeouts() {
    assert_problem(
        &problems(&vrg("    captureInterval: often\n")),
        "spec.kubeObjectProtection.captureInterval: \"often\" is not a duration",
    );
    assert_problem(
        &problems(&vrg("    captureInterval: 0s\n")),
        "captureInterval: must be greater than 0",
    );
    let recipe =
        GROUPS_AND_WORKFLOWS.replace("includedResourceTypes: [configmaps]", "timeout: 100h");
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.groups[0].timeout: 4days 4h is longer than the maximum of 24h",
    );
    let recipe = GROUPS_AND_WORKFLOWS.replace("includedResourceTypes: [configmaps]", "timeout: 0");
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.groups[0].timeout: must be greater than 0",
    );
}

#[test]
fn rule_resource_names() {
    let recipe = GROUPS_AND_WORKFLOWS
        .replace("- name: config", "- name: Config_1")
        .replace("group: config", "group: Config_1");
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.groups[0].name: group name \"Config_1\" is not a valid name",
    );
    let recipe = GROUPS_AND_WORKFLOWS.replace("[configmaps]", "[\"configmaps, secrets\"]");
    assert_problem(
        &problems(&inline(&recipe)),
        "includedResourceTypes[0]: \"configmaps, secrets\" is not a resource type",
    );
}

#[test]
fn rule_restore_groups_restore_from_a_backup_group() {
    let recipe = GROUPS_AND_WORKFLOWS
        .replace("      workflows:", "        - name: apps\n          backupRef: configs\n        - name: other\n      workflows:")
        .replace("            - group: config\n", "            - group: config\n            - group: apps\n            - group: other\n");
    let p = problems(&inline(&recipe));
    assert_problem(
        &p,
        "recipe.groups[1].backupRef: no group \"configs\" (did you mean \"config\"?)",
    );
    assert_problem(
        &p,
        "restores from another group's capture, so the backup workflow cannot capture it",
    );
}

#[test]
fn rule_workflow_needs_a_group_step() {
    let recipe = "      groups: [{name: g}]\n      hooks: [{name: h, type: exec, labelSelector: a=b, ops: [{name: o, command: x}]}]\n      workflows:\n        - name: backup\n          sequence: [{hook: h}]\n";
    assert_problem(
        &problems(&inline(recipe)),
        "recipe.workflows[0]: workflow \"backup\" has no group step",
    );
}

#[test]
fn rule_unknown_workflow_name_and_fail_on() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "name: restore",
        "name: restor\n          failOn: some-error",
    );
    let p = problems(&inline(&recipe));
    assert_problem(
        &p,
        "recipe.workflows[1].name: workflow \"restor\" is never run (did you mean \"restore\"?)",
    );
    assert_problem(
        &p,
        "recipe.workflows[1].failOn: unknown failOn \"some-error\"",
    );
}

#[test]
fn rule_namespaces_the_vrg_may_not_touch() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "includedResourceTypes: [configmaps]",
        "includedNamespaces: [app, other]",
    );
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.groups[0].includedNamespaces[1]: group namespace \"other\" is not allowed: a VRG may only act in its own namespace (app)",
    );
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "      workflows:",
        "      hooks: [{name: h, namespace: kube-system, type: exec, labelSelector: a=b, ops: [{name: o, command: x}]}]\n      workflows:",
    );
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.hooks[0].namespace: hook namespace \"kube-system\" is not allowed",
    );
    let p = problems(&vrg("    recipeRef: {name: r, namespace: elsewhere}\n"));
    assert_problem(
        &p,
        "recipeRef.namespace: a VRG may only use a Recipe in its own namespace",
    );
    let p = problems(
        &vrg("    captureInterval: 5m\n")
            .replace("  s3Profiles", "  protectedNamespaces: [a]\n  s3Profiles"),
    );
    assert_problem(
        &p,
        "spec.protectedNamespaces: honoured only for VRGs in an admin namespace (ops)",
    );
}

#[test]
fn admin_namespace_vrg_protects_its_protected_namespaces() {
    let yaml = inline(GROUPS_AND_WORKFLOWS)
        .replace("  name: v\n", "  name: v\n  namespace: ops\n")
        .replace(
            "  s3Profiles",
            "  protectedNamespaces: [a, b]\n  s3Profiles",
        );
    let Action::Backup { spec, .. } = &load(&yaml).unwrap().backup.unwrap().steps[0].action else {
        panic!()
    };
    assert_eq!(spec.filter.included_namespaces, ["a", "b"]);
    let denied = yaml.replace(
        "includedResourceTypes: [configmaps]",
        "includedNamespaces: [c]",
    );
    assert_problem(
        &problems(&denied),
        "group namespace \"c\" is not allowed: it is not in the VRG's protectedNamespaces (a, b)",
    );
}

#[test]
fn rule_cluster_scoped_objects_only_for_admin_vrgs() {
    let groups = |group: &str| {
        inline(&GROUPS_AND_WORKFLOWS.replace("includedResourceTypes: [configmaps]", group))
    };
    let why =
        "only a VRG in an admin namespace (ops) may capture or restore cluster-scoped objects";
    assert_problem(
        &problems(&groups("isClusterScoped: true")),
        &format!(
            "recipe.groups[0].isClusterScoped: cluster-scoped resources are not allowed: {why}"
        ),
    );
    assert_problem(
        &problems(&groups("includeClusterResources: true")),
        "recipe.groups[0].includeClusterResources: cluster-scoped resources are not allowed",
    );
    let p = problems(&groups(
        "includedResourceTypes: [configmaps, ClusterRoleBinding, ns]",
    ));
    assert_problem(
        &p,
        &format!(
            "recipe.groups[0].includedResourceTypes[1]: \"ClusterRoleBinding\" (clusterrolebindings.rbac.authorization.k8s.io) is cluster-scoped: {why}"
        ),
    );
    assert_problem(
        &p,
        "recipe.groups[0].includedResourceTypes[2]: \"ns\" (namespaces) is cluster-scoped",
    );
    // The seed's captureOrder shape, and a Recipe object, are checked alike.
    let orders = vrg(
        "    captureOrder:\n      - name: all\n        includedResources: [clusterroles]\n        includeClusterResources: true\n",
    );
    let p = problems(&orders);
    assert_problem(&p, "captureOrder[0].includedResources[0]: \"clusterroles\"");
    assert_problem(
        &p,
        "captureOrder[0].includeClusterResources: cluster-scoped",
    );
    // Excluding a cluster-scoped type asks for nothing.
    load(&groups("excludedResourceTypes: [clusterrolebindings]")).unwrap();
    // An admin VRG may, and its Velero objects say so.
    let admin =
        groups("includedResourceTypes: [clusterrolebindings]\n          isClusterScoped: true")
            .replace("  name: v\n", "  name: v\n  namespace: ops\n");
    let plan = load(&admin).unwrap();
    let Action::Backup { spec, .. } = &plan.backup.unwrap().steps[0].action else {
        panic!()
    };
    assert_eq!(spec.filter.include_cluster_resources, Some(true));
    let Action::Restore { spec, .. } = &plan.restore.unwrap().steps[0].action else {
        panic!()
    };
    assert_eq!(spec.filter.include_cluster_resources, Some(true));
}

#[test]
fn every_velero_object_says_whether_it_includes_cluster_resources() {
    // Unset, Velero would decide by its own default; every plan sets it.
    for yaml in [
        inline(GROUPS_AND_WORKFLOWS),
        vrg("    captureInterval: 5m\n"),
        vrg("    captureOrder: [{name: all}]\n    recoverOrder: [{backupName: all}]\n"),
    ] {
        let plan = load(&yaml).unwrap();
        for step in plan
            .backup
            .iter()
            .chain(&plan.restore)
            .flat_map(|w| &w.steps)
        {
            let filter = match &step.action {
                Action::Backup { spec, .. } => &spec.filter,
                Action::Restore { spec, .. } => &spec.filter,
                _ => continue,
            };
            assert_eq!(filter.include_cluster_resources, Some(false), "{yaml}");
        }
    }
}

#[test]
fn rule_unresolved_and_multi_valued_parameters() {
    let yaml =
        inline(&GROUPS_AND_WORKFLOWS.replace("[configmaps]", "[\"${KINDS}\", \"x-${ONE}\"]"))
            .replace(
                "    recipe:",
                "    recipeParameters:\n      ONE: [a, b]\n    recipe:",
            );
    let p = problems(&yaml);
    assert_problem(
        &p,
        "includedResourceTypes[0]: undefined parameter \"${KINDS}\"",
    );
    assert_problem(
        &p,
        "includedResourceTypes[1]: parameter \"ONE\" has 2 values",
    );
}

#[test]
fn rule_one_recipe_source() {
    let p = problems(&vrg("    recipeRef: {name: r}\n    captureOrder: []\n"));
    assert_problem(
        &p,
        "spec.kubeObjectProtection: set at most one recipe source; found recipeRef and captureOrder/recoverOrder",
    );
}

#[test]
fn rule_recipe_ref_must_exist() {
    assert_problem(
        &problems(&vrg("    recipeRef: {name: nowhere}\n")),
        "recipeRef: Recipe app/nowhere not found",
    );
}

#[test]
fn rule_inverse_op_names_an_op_of_the_hook() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "      workflows:",
        "      hooks: [{name: h, type: exec, labelSelector: a=b, ops: [{name: o, command: x, inverseOp: undo}]}]\n      workflows:",
    );
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.hooks[0].ops[0].inverseOp: no op \"undo\" in hook \"h\"",
    );
}

#[test]
fn rule_check_conditions_parse_at_validation_time() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "      workflows:",
        "      hooks: [{name: h, type: check, labelSelector: a=b, chks: [{name: c, condition: \"{$.status.phase} = {Running}\"}]}]\n      workflows:",
    );
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.hooks[0].chks[0].condition: unexpected \"=\"",
    );
}

#[test]
fn rule_hook_types() {
    let recipe = GROUPS_AND_WORKFLOWS.replace(
        "      workflows:",
        "      hooks: [{name: h, type: exce, labelSelector: a=b, ops: [{name: o, command: x}]}, {name: s, type: scale}]\n      workflows:",
    );
    let p = problems(&inline(&recipe));
    assert_problem(
        &p,
        "recipe.hooks[0].type: unknown hook type \"exce\" (did you mean \"exec\"?)",
    );
    assert_problem(
        &p,
        "recipe.hooks[1].selectResource: a scale hook scales Deployments or StatefulSets",
    );
    assert_problem(
        &p,
        "recipe.hooks[1]: a scale hook needs a labelSelector or nameSelector",
    );
}

#[test]
fn rule_init_containers_follow_a_restore_group() {
    let recipe = GROUPS_AND_WORKFLOWS
        .replace("      workflows:", "      hooks: [{name: h, labelSelector: a=b, initContainers: [{name: i, image: busybox}]}]\n      workflows:")
        .replace("        - name: backup\n          sequence:\n", "        - name: backup\n          sequence:\n            - hook: h\n");
    assert_problem(
        &problems(&inline(&recipe)),
        "recipe.workflows[0].sequence[0]: hook \"h\" has init containers, so it must directly follow a group step of the restore workflow",
    );
}

#[test]
fn rule_vrg_fields() {
    let p = problems(
        &vrg("    captureInterval: 5m\n")
            .replace(
                "replicationState: primary",
                "replicationState: primery\n  action: failover",
            )
            .replace("  s3Profiles: [default]\n", ""),
    );
    assert_problem(
        &p,
        "spec.replicationState: \"primery\" is not primary or secondary (did you mean \"primary\"?)",
    );
    assert_problem(&p, "spec.action: \"failover\" is not Failover or Relocate");
    assert_problem(&p, "spec.s3Profiles: at least one s3 profile");
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(include_str!("../../tests/fixtures/seed/recover-exec.yaml"));
    assert_eq!(p.len(), 5, "{p:#?}");
}

#[test]
fn a_group_runs_once_per_workflow() {
    let problems = problems(&inline(
        "      groups: [{name: config}, {name: data}]
      workflows:
        - name: backup
          sequence: [{group: config}, {group: data}, {group: config}]
",
    ));
    assert_problem(
        &problems,
        "spec.kubeObjectProtection.recipe.workflows[0].sequence[2]: group \"config\" is already step 1 of workflow \"backup\"",
    );
}

#[test]
fn label_selector_and_or_label_selectors_exclude_each_other() {
    let problems = problems(&inline(
        "      groups:
        - name: config
          labelSelector: {matchLabels: {app: db}}
          orLabelSelectors: [{matchLabels: {app: web}}]
      workflows:
        - {name: backup, sequence: [{group: config}]}
",
    ));
    assert_problem(
        &problems,
        "spec.kubeObjectProtection.recipe.groups[0].orLabelSelectors: Velero refuses a labelSelector together with orLabelSelectors",
    );
}

/// Records every Recipe looked up.
struct Watched(std::cell::RefCell<Vec<(String, String)>>, Value);

impl crate::recipe::RecipeLookup for Watched {
    fn recipe(&self, namespace: &str, name: &str) -> Option<&Value> {
        self.0.borrow_mut().push((namespace.into(), name.into()));
        Some(&self.1)
    }
}

fn lookups(vrg_namespace: &str, kop: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut doc = docs(&vrg(kop)).remove(0);
    doc["metadata"]["namespace"] = vrg_namespace.into();
    let watched = Watched(
        Default::default(),
        serde_json::json!({"kind": "Recipe", "spec": 3}),
    );
    let settings = Settings {
        admin_namespaces: vec!["ops".into(), "ops-2".into()],
        ..Settings::default()
    };
    let problems = match load_vrg(&doc, vrg_namespace, &watched, &settings) {
        Ok(_) => vec![],
        Err(p) => p.iter().map(ToString::to_string).collect(),
    };
    (watched.0.into_inner(), problems)
}

#[test]
fn a_refused_recipe_ref_is_never_looked_up() {
    let (looked, problems) = lookups("app", "    recipeRef: {name: r, namespace: elsewhere}\n");
    assert!(looked.is_empty(), "{looked:?}");
    assert_eq!(
        problems.len(),
        1,
        "only the refusal, nothing of the Recipe: {problems:#?}"
    );
    assert_problem(
        &problems,
        "a VRG may only use a Recipe in its own namespace",
    );
    let (looked, _) = lookups("app", "    recipeRef: {name: r}\n");
    assert_eq!(
        looked,
        [("app".into(), "r".into())],
        "its own namespace is read"
    );
}

#[test]
fn an_admin_vrg_may_use_recipes_in_admin_namespaces_only() {
    let (looked, problems) = lookups("ops", "    recipeRef: {name: r, namespace: app}\n");
    assert!(looked.is_empty(), "{looked:?}");
    assert_problem(
        &problems,
        "a VRG in an admin namespace may only use a Recipe in an admin namespace (ops, ops-2), not \"app\"",
    );
    let (looked, _) = lookups("ops", "    recipeRef: {name: r, namespace: ops-2}\n");
    assert_eq!(looked, [("ops-2".into(), "r".into())]);
}

#[test]
fn check_hooks_on_secrets_are_refused_in_any_spelling() {
    for resource in ["v1/secrets", "core/v1/secrets", "v1/Secrets", "v1/secret"] {
        let recipe = format!(
            "      groups: [{{name: g}}]
      hooks:
        - {{name: h, type: check, selectResource: {resource}, nameSelector: s, chks: [{{name: c, condition: '{{$.data.k}} == x'}}]}}
      workflows: [{{name: backup, sequence: [{{hook: h/c}}, {{group: g}}]}}]
"
        );
        assert_problem(
            &problems(&inline(&recipe)),
            "check hooks on Secrets are refused",
        );
    }
}

fn problems_with(yaml: &str, namespace: &str, settings: &Settings) -> Vec<String> {
    let mut doc = docs(yaml).remove(0);
    doc["metadata"]["namespace"] = namespace.into();
    match load_vrg(
        &doc,
        namespace,
        &BTreeMap::<(String, String), Value>::new(),
        settings,
    ) {
        Ok(_) => vec![],
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_capture_interval_below_the_operators_minimum_is_refused() {
    let settings = Settings::default();
    assert_problem(
        &problems_with(&vrg("    captureInterval: 30s\n"), "app", &settings),
        "spec.kubeObjectProtection.captureInterval: 30s is shorter than the operator's minimum of 1m (--min-capture-interval)",
    );
    assert!(problems_with(&vrg("    captureInterval: 1m\n"), "app", &settings).is_empty());
    let strict = Settings {
        min_capture_interval: std::time::Duration::from_secs(600),
        ..Settings::default()
    };
    let mut doc = docs(&vrg("    captureInterval: 10m\n")).remove(0);
    doc["spec"]["kubeObjectProtection"]
        .as_object_mut()
        .unwrap()
        .remove("captureInterval");
    let Ok(Loaded::Planned(plan)) = load_vrg(
        &doc,
        "app",
        &BTreeMap::<(String, String), Value>::new(),
        &strict,
    ) else {
        panic!("a VRG that names no interval is valid");
    };
    assert_eq!(
        plan.capture_interval.as_secs(),
        600,
        "the default is raised to the minimum"
    );
}

#[test]
fn exec_hooks_and_overwriting_restores_follow_the_operators_settings() {
    use crate::recipe::scope::Allowed;
    let recipe = inline(
        "      groups: [{name: g, restoreOverwriteResources: true}]
      hooks: [{name: h, type: exec, labelSelector: a=b, ops: [{name: o, command: /bin/true}]}]
      workflows: [{name: backup, sequence: [{hook: h/o}, {group: g}]}]
",
    );
    let with = |exec_hooks, restore_overwrite| Settings {
        admin_namespaces: vec!["ops".into()],
        exec_hooks,
        restore_overwrite,
        ..Settings::default()
    };
    assert!(problems_with(&recipe, "app", &with(Allowed::All, Allowed::All)).is_empty());
    let admin_only = with(Allowed::Admin, Allowed::Admin);
    let p = problems_with(&recipe, "app", &admin_only);
    assert_problem(
        &p,
        "recipe.hooks[0].type: exec hooks are not allowed here: the operator closes this to VRGs outside an admin namespace (ops) (--exec-hooks=admin)",
    );
    assert_problem(
        &p,
        "recipe.groups[0].restoreOverwriteResources: restoreOverwriteResources is not allowed here",
    );
    assert!(
        problems_with(&recipe, "ops", &admin_only).is_empty(),
        "an admin VRG may"
    );
    let none = with(Allowed::None, Allowed::All);
    assert_problem(
        &problems_with(&recipe, "ops", &none),
        "the operator closes this to every VRG (--exec-hooks=none)",
    );
    // A job hook runs the recipe's commands too; a scale hook runs none.
    let jobs = inline(
        "      groups: [{name: g}]
      hooks:
        - {name: j, type: job, jobs: [{name: run}]}
        - {name: s, type: scale, selectResource: deployment, nameSelector: web}
      jobs: [{run: '{spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}}'}]
      workflows: [{name: backup, sequence: [{hook: s/down}, {hook: j/run}, {group: g}]}]
",
    );
    let p = problems_with(&jobs, "app", &none);
    assert_problem(
        &p,
        "recipe.hooks[0].type: job hooks (which run commands, as exec hooks do) are not allowed here",
    );
    assert_eq!(p.len(), 1, "{p:#?}");
}

#[test]
fn a_group_whose_backup_ref_is_its_own_name_restores_its_own_capture() {
    let recipe = "      groups: [{name: vm, backupRef: vm, type: resource}]
      workflows:
        - {name: backup, sequence: [{group: vm}]}
        - {name: restore, sequence: [{group: vm}]}
";
    let plan = load(&inline(recipe)).expect("accepted");
    let Action::Restore { backup_group, .. } = &plan.restore.unwrap().steps[0].action else {
        panic!("the restore step restores")
    };
    assert_eq!(backup_group, "vm");
}
