//! `kubectl vrg dashboard`: the fleet page, drawn from the VRGs a watch holds. Pure: VRGs and the
//! time in, HTML out. Every value from the cluster is escaped.

use std::fmt::Write as _;

use k8s_openapi::jiff::Timestamp;

use super::rows::list_row;
use super::tree::symbol;
use crate::api::VolumeReplicationGroup;
use crate::api::progress::RunPhase;

/// How often the page reloads itself, in seconds.
pub const REFRESH_SECONDS: u32 = 2;

/// The page listing `vrgs` (sorted by namespace and name) at `now`.
pub fn render(vrgs: &[VolumeReplicationGroup], now: Timestamp, scope: &str) -> String {
    let mut sorted: Vec<&VolumeReplicationGroup> = vrgs.iter().collect();
    sorted.sort_by_key(|v| (v.metadata.namespace.clone(), v.metadata.name.clone()));
    let protected = sorted
        .iter()
        .filter(|v| list_row(v, now)[3] == "yes")
        .count();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <title>VRGs: {protected} of {} protected</title><style>{STYLE}</style></head><body>\n\
         <h1>VolumeReplicationGroups <small>{} · {protected} of {} protected · {}</small></h1>\n",
        sorted.len(),
        escape(scope),
        sorted.len(),
        super::format::time(now)
    );
    if sorted.is_empty() {
        out.push_str("<p class=\"empty\">No VolumeReplicationGroups.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>Namespace</th><th>Name</th><th>State</th><th>Protected</th>\
             <th title=\"age of the newest restorable capture\">RPO</th><th>Run</th>\
             <th>Progress</th></tr></thead><tbody>\n",
        );
        for vrg in sorted {
            row(&mut out, vrg, now);
        }
        out.push_str("</tbody></table>\n");
    }
    let _ = write!(
        out,
        "<p class=\"foot\">Read-only. Reloads every {REFRESH_SECONDS}s from a watch of the \
         cluster. <code>kubectl vrg get NAME -n NAMESPACE --watch</code> shows one VRG's steps.</p>\n\
         </body></html>\n"
    );
    out
}

fn row(out: &mut String, vrg: &VolumeReplicationGroup, now: Timestamp) {
    let cells = list_row(vrg, now);
    let class = if cells[3] == "yes" { "ok" } else { "bad" };
    let run = vrg
        .status
        .as_ref()
        .and_then(|s| s.kube_object_protection.as_ref())
        .and_then(|k| k.run.as_ref());
    let (run_cell, progress) = match run {
        Some(r) => {
            let done = r.steps.iter().filter(|s| s.phase.is_terminal()).count();
            let total = r.steps.len();
            let phase = format!("{:?}", r.phase);
            let current = r
                .steps
                .iter()
                .find(|s| !s.phase.is_terminal())
                .map(|s| format!(" · {} {}", symbol(s.phase), s.name))
                .unwrap_or_default();
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            let run_class = match r.phase {
                RunPhase::Running => "running",
                RunPhase::Succeeded => "ok",
                RunPhase::PartiallySucceeded | RunPhase::Failed => "bad",
            };
            (
                format!(
                    "<span class=\"{run_class}\">{} {}</span>{}",
                    escape(&r.id),
                    escape(&phase),
                    escape(&current)
                ),
                format!(
                    "<progress max=\"{total}\" value=\"{done}\"></progress> {done}/{total} \
                     <span class=\"pct\">{percent}%</span>"
                ),
            )
        }
        None => ("none yet".to_owned(), String::new()),
    };
    let _ = writeln!(
        out,
        "<tr class=\"vrg\" data-name=\"{}/{}\"><td>{}</td><td>{}</td><td>{}</td>\
         <td class=\"{class}\">{}</td><td>{}</td><td>{run_cell}</td><td>{progress}</td></tr>",
        escape(&cells[0]),
        escape(&cells[1]),
        escape(&cells[0]),
        escape(&cells[1]),
        escape(&cells[2]),
        escape(&cells[3]),
        escape(&cells[4]),
    );
}

/// Text as HTML: the five characters that could end an element or an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:20px}h1 small{font-weight:normal;color:#666;font-size:14px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 10px;\
border-bottom:1px solid #ddd}th{background:#f4f4f4}.ok{color:#1a7f37}.bad{color:#c62828}\
.running{color:#0550ae}progress{width:120px}.pct,.foot,.empty{color:#666}";

#[cfg(test)]
mod tests {
    use super::*;

    fn vrg(name: &str, status: &str) -> VolumeReplicationGroup {
        serde_saphyr::from_str(&format!(
            "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: '{name}', namespace: shop}}
spec: {{replicationState: primary}}
status: {status}
"
        ))
        .unwrap()
    }

    #[test]
    fn the_page_lists_each_vrg_with_its_run_progress() {
        let running = vrg(
            "web",
            "{conditions: [{type: ClusterDataProtected, status: 'True', reason: Uploaded, message: m, lastTransitionTime: '2026-12-04T10:00:00Z'}],
              kubeObjectProtection: {captureToRecoverFrom: {number: 1, endTime: '2026-12-04T10:04:00Z'},
                run: {id: backup-2, workflow: backup, capture: 2, phase: Running, startTime: '2026-12-04T10:04:50Z',
                      steps: [{name: group config, phase: Succeeded}, {name: group data, phase: Running}, {name: hook db/unflush, phase: Pending}]}}}",
        );
        let now: Timestamp = "2026-12-04T10:05:00Z".parse().unwrap();
        let page = render(&[running, vrg("<script>", "{}")], now, "all namespaces");
        assert!(
            page.contains("<title>VRGs: 1 of 2 protected</title>"),
            "{page}"
        );
        assert!(
            page.contains(
                "<td>shop</td><td>web</td><td>primary</td><td class=\"ok\">yes</td><td>1m00s</td>"
            ),
            "{page}"
        );
        assert!(
            page.contains("backup-2 Running</span> · ⟳ group data"),
            "{page}"
        );
        assert!(
            page.contains("<progress max=\"3\" value=\"1\"></progress> 1/3"),
            "{page}"
        );
        assert!(
            page.contains("&lt;script&gt;") && !page.contains("<script>"),
            "escaped: {page}"
        );
        assert!(render(&[], now, "namespace shop").contains("No VolumeReplicationGroups."));
    }
}
