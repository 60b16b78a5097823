//! The binary's interface: commands, help, and exit codes (0 ok, 1 invalid input, 2 usage/I/O).

use std::process::{Command, Output};

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
