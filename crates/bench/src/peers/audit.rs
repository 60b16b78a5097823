//! Each client's API requests, by verb, from the API server's audit log (`Options::audit`): the
//! one count that is the same for a Rust operator, a Go operator and Velero, none of which
//! exports its requests in the same way. Operators under test run with a kubeconfig that
//! impersonates a user of their own ([`kubeconfig_as`]), so their requests are told apart from
//! the bench's and Velero's (which runs as the admin and is told apart by its user agent).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The prefix of every impersonated user the bench hands out.
const USER_PREFIX: &str = "vrg-bench:";

/// A copy of `plane`'s admin kubeconfig that impersonates `vrg-bench:<who>` (with the admin's
/// rights), written beside it.
pub fn kubeconfig_as(admin: &Path, who: &str) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(admin).map_err(|e| format!("{}: {e}", admin.display()))?;
    let mut out = String::new();
    let mut added = false;
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if !added && line.trim_start().starts_with("client-key:") {
            out.push_str(&format!(
                "    as: {USER_PREFIX}{who}\n    as-groups: [system:masters]\n"
            ));
            added = true;
        }
    }
    if !added {
        return Err(format!(
            "{}: no client-key to add impersonation after",
            admin.display()
        ));
    }
    let path = admin.with_file_name(format!("kubeconfig-{who}"));
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Where the log stood at some moment: requests after it are counted.
#[derive(Debug, Clone, Copy)]
pub struct Mark(u64);

pub fn mark(log: &Path) -> Mark {
    Mark(std::fs::metadata(log).map_or(0, |m| m.len()))
}

/// Requests completed since `since`, by client and verb (`get`, `list`, `watch`, `create`,
/// `patch`, `update`, `delete`; exec and other subresources as `create pods/exec` and so on).
pub fn since(log: &Path, since: Mark) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(log) {
        let _ = file.seek(SeekFrom::Start(since.0));
        let _ = file.read_to_string(&mut text);
    }
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue; // A line cut at the mark, or being written.
        };
        *out.entry(client(&event))
            .or_default()
            .entry(verb(&event))
            .or_default() += 1;
    }
    out
}

/// `vrg-operator` (an impersonated bench user), `velero`, `bench` (the admin), or the user.
fn client(event: &Value) -> String {
    if let Some(user) = event["impersonatedUser"]["username"].as_str() {
        return user.strip_prefix(USER_PREFIX).unwrap_or(user).to_owned();
    }
    let agent = event["userAgent"].as_str().unwrap_or_default();
    if agent.starts_with("velero") {
        return "velero".into();
    }
    match event["user"]["username"].as_str().unwrap_or_default() {
        "admin" => "bench".into(),
        other => other.to_owned(),
    }
}

fn verb(event: &Value) -> String {
    let verb = event["verb"].as_str().unwrap_or("?");
    match event["objectRef"]["subresource"].as_str() {
        Some(sub @ ("exec" | "attach" | "portforward" | "log")) => format!(
            "{verb} {}/{sub}",
            event["objectRef"]["resource"].as_str().unwrap_or("?")
        ),
        _ => verb.to_owned(),
    }
}
