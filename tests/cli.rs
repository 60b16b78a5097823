//! The binary's interface: commands, help, and exit codes (0 ok, 1 invalid input, 2 usage/I/O).

use std::process::{Command, Output};

use vrg_operator::velero::ObjectIdentity;

fn vrg_operator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn crds_prints_the_committed_crds() {
    let out = vrg_operator(&["crds"]);
    assert_eq!(out.status.code(), Some(0));
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crds/crds.yaml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[test]
fn help_describes_every_command() {
    let out = vrg_operator(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["run", "crds", "validate", "plan"] {
        assert!(help.contains(command), "--help lacks {command}:\n{help}");
    }
    let out = vrg_operator(&["plan", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    for option in ["--workflow", "--format", "mermaid", "dot", "yaml"] {
        assert!(help.contains(option), "plan --help lacks {option}:\n{help}");
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_accepts_every_example() {
    let mut examples: Vec<String> = std::fs::read_dir(path("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    // The failover walk-through's VRGs (its app.yaml holds no VRG or Recipe).
    examples.push(path("examples/failover/vrg.yaml"));
    examples.push(path("examples/failover/vrg-failover.yaml"));
    let mut args = vec!["validate"];
    args.extend(examples.iter().map(String::as_str));
    let out = vrg_operator(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let summary = stdout(&out);
    assert_eq!(
        summary.lines().count(),
        1,
        "only a summary when valid: {summary}"
    );
    assert!(summary.starts_with("valid: "), "{summary}");
}

#[test]
fn validate_reports_each_problem_on_a_line_and_exits_1() {
    let out = vrg_operator(&["validate", &path("tests/fixtures/seed/recover-exec.yaml")]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("VolumeReplicationGroup/recipe-alignment-sample-2: ")),
        "{text}"
    );
    assert!(text.contains("spec.kubeObjectProtection.recoverOrder[0]: unknown field \"includeResources\" (did you mean \"includedResources\"?)"));
}

#[test]
fn validate_reports_yaml_syntax_errors_with_line_and_column() {
    let out = vrg_operator(&["validate", &path("tests/fixtures/seed/inline-recipe.yaml")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("line 11 column 10"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
        .args(["validate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let manifest = std::fs::read(path("examples/recipe-mysql.yaml")).unwrap();
    child.stdin.take().unwrap().write_all(&manifest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn validate_a_missing_file_is_an_io_error() {
    assert_eq!(
        vrg_operator(&["validate", "/nonexistent.yaml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn plan_prints_steps_diagrams_and_velero_objects() {
    let file = path("examples/recipe-mysql.yaml");
    let text = stdout(&vrg_operator(&["plan", &file]));
    let steps: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        steps,
        [
            "1. group config",
            "2. hook db/quiesce",
            "3. group workload",
            "4. hook db/unquiesce",
            "5. group everything-else"
        ]
    );
    let mermaid = stdout(&vrg_operator(&[
        "plan",
        &file,
        "--workflow",
        "restore",
        "--format",
        "mermaid",
    ]));
    assert!(
        mermaid.starts_with("flowchart TD") && mermaid.contains("s3 --> s4"),
        "{mermaid}"
    );
    let dot = stdout(&vrg_operator(&["plan", &file, "--format", "dot"]));
    assert!(
        dot.starts_with("digraph") && dot.contains("s4 -> s5"),
        "{dot}"
    );
    let yaml = stdout(&vrg_operator(&["plan", &file, "--format", "yaml"]));
    assert_eq!(
        yaml.matches("kind: Backup").count(),
        3,
        "one Backup per group per s3 profile:\n{yaml}"
    );
    assert!(yaml.contains("storageLocation: default"));
    // The very objects the controller creates: their names and labels, in Velero's namespace.
    let backup = ObjectIdentity::backup("default", "mysql", 1, "config", "default");
    assert!(yaml.contains(&format!("name: {}", backup.name())), "{yaml}");
    assert!(
        yaml.contains("vrg.ramendr.openshift.io/group: config")
            && yaml.contains("namespace: velero")
    );
    let restores = stdout(&vrg_operator(&[
        "plan",
        &file,
        "--workflow",
        "restore",
        "--format",
        "yaml",
        "--velero-namespace",
        "dr",
    ]));
    assert!(
        restores.contains(&format!("backupName: {}", backup.name()))
            && restores.contains("namespace: dr"),
        "{restores}"
    );
}

#[test]
fn plan_of_an_invalid_vrg_exits_1() {
    let out = vrg_operator(&["plan", &path("tests/fixtures/seed/capture-order.yaml")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(vrg_operator(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(vrg_operator(&["validate"]).status.code(), Some(2));
    assert_eq!(
        vrg_operator(&["plan", "x.yaml", "--format", "png"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn validate_answers_as_an_operator_with_the_same_shared_cluster_settings() {
    let example = path("examples/seed-inline-recipe.yaml");
    let out = vrg_operator(&["validate", &example]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = vrg_operator(&["validate", "--exec-hooks", "none", &example]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("exec hooks are not allowed here"),
        "{}",
        stdout(&out)
    );
    let scheduled = path("examples/vrg-default-recipe.yaml");
    let out = vrg_operator(&["validate", "--min-capture-interval", "1d", &scheduled]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("(--min-capture-interval)"),
        "{}",
        stdout(&out)
    );
    let out = vrg_operator(&["validate", "--exec-hooks", "sometimes", &example]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a misspelt setting is a usage error"
    );
}

/// Ramen's users apply VRGs and Recipes apart: a VRG whose Recipe the files do not hold is valid
/// as far as it goes, with a warning that its Recipe was not checked; `--strict` makes that an
/// error. Its own problems are still errors.
#[test]
fn validate_checks_a_vrg_without_its_recipe_and_says_so() {
    let vrg = path("tests/fixtures/ramen/vrg-recipe-ref.yaml");
    let out = vrg_operator(&["validate", &vrg]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text.lines().next(),
        Some(
            "warning: VolumeReplicationGroup/busybox-drpc: spec.kubeObjectProtection.recipeRef: \
             Recipe busybox/busybox-recipe was not given, so it was not checked (give its file \
             too, or use --cluster)"
        ),
        "{text}"
    );
    assert!(text.contains("valid: 1 VolumeReplicationGroup"), "{text}");

    let out = vrg_operator(&["validate", "--strict", &vrg]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("warning:"), "{text}");
    assert!(
        text.contains("Recipe busybox/busybox-recipe was not given"),
        "{text}"
    );

    let short = std::fs::read_to_string(&vrg)
        .unwrap()
        .replace("captureInterval: 5m", "captureInterval: 10s");
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("vrg-short-interval.yaml");
    std::fs::write(&file, short).unwrap();
    let out = vrg_operator(&["validate", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("spec.kubeObjectProtection.captureInterval: 10s is shorter"),
        "{text}"
    );
}

/// The compatibility corpus (tests/fixtures/ramen): the shapes Ramen's e2e suite, its docs and its
/// built-in recipes use, each saying on its first line what `validate` must answer and, in its
/// header, what Ramen does with it. Every valid one also plans both workflows.
#[test]
fn every_ramen_shape_validates_and_plans_as_its_fixture_says() {
    let dir = path("tests/fixtures/ramen");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: no `# expect:` first line"));
        let out = vrg_operator(&["validate", &name]);
        let printed = stdout(&out);
        if let Some(message) = expect.strip_prefix("invalid: ") {
            assert_eq!(out.status.code(), Some(1), "{name}: {printed}");
            assert!(printed.contains(message), "{name}: {printed}");
            continue;
        }
        assert!(expect.starts_with("valid"), "{name}: {expect}");
        assert_eq!(out.status.code(), Some(0), "{name}: {printed}");
        if expect.contains("note") {
            assert!(printed.contains("note: "), "{name}: {printed}");
        }
        if expect.contains("not given") {
            continue;
        }
        let workflows: &[&str] = if expect.contains("no restore") {
            &["backup"]
        } else {
            &["backup", "restore"]
        };
        for &workflow in workflows {
            let out = vrg_operator(&["plan", "--workflow", workflow, &name]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name} {workflow}: {}{}",
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                stdout(&out).contains(". group "),
                "{name} {workflow}: {}",
                stdout(&out)
            );
        }
    }
}
