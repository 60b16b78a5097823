//! Ramen's `spec.jobs`: Job templates for `job` hooks, a list of `{NAME: "<Job as YAML or JSON>"}`
//! maps. Each template is parsed and checked here, so a broken one is a validation problem and
//! never a failed step.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::recipe::names::check_dns_label;
use crate::recipe::problem::{Problems, child};
use crate::recipe::reader::type_name;

/// The templates by name; problems (not a string, not a Job, no pod template) are reported.
pub fn templates(list: &[(&Value, String)], p: &mut Problems) -> BTreeMap<String, Value> {
    let mut templates = BTreeMap::new();
    for (entry, path) in list {
        let Value::Object(map) = entry else {
            p.add(
                path,
                format!(
                    "expected a map of job name to Job template, found {}",
                    type_name(entry)
                ),
            );
            continue;
        };
        for (name, text) in map {
            let path = child(path, name);
            check_dns_label(name, "job name", &path, p);
            if templates.contains_key(name) {
                p.add(&path, format!("duplicate job template \"{name}\""));
                continue;
            }
            if let Some(job) = template(text, &path, p) {
                templates.insert(name.clone(), job);
            }
        }
    }
    templates
}

/// One template: a Job (`kind` and `apiVersion` may be left out) with a pod template.
fn template(text: &Value, path: &str, p: &mut Problems) -> Option<Value> {
    let Value::String(text) = text else {
        p.add(
            path,
            format!(
                "expected a Job template as a YAML or JSON string, found {}",
                type_name(text)
            ),
        );
        return None;
    };
    let job: Value = match serde_saphyr::from_str(text) {
        Ok(job) => job,
        Err(e) => {
            p.add(path, format!("not a valid YAML or JSON Job: {e}"));
            return None;
        }
    };
    if !job.is_object() {
        p.add(
            path,
            format!("expected a Job object, found {}", type_name(&job)),
        );
        return None;
    }
    let mut ok = true;
    for (field, want) in [("kind", "Job"), ("apiVersion", "batch/v1")] {
        match job.get(field) {
            None => {}
            Some(Value::String(s)) if s == want => {}
            Some(other) => {
                p.add(
                    path,
                    format!("the template's {field} is {other}, not \"{want}\""),
                );
                ok = false;
            }
        }
    }
    let containers = job.pointer("/spec/template/spec/containers");
    if containers.is_none_or(|c| c.as_array().is_none_or(|c| c.is_empty())) {
        p.add(
            path,
            "the template has no spec.template.spec.containers: a Job needs a pod template with at least one container",
        );
        ok = false;
    }
    ok.then_some(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (BTreeMap<String, Value>, Vec<String>) {
        let value: Value = serde_saphyr::from_str(yaml).unwrap();
        let list: Vec<(&Value, String)> = value
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, v)| (v, format!("spec.jobs[{i}]")))
            .collect();
        let mut p = Problems::default();
        let templates = templates(&list, &mut p);
        let lines = p.into_vec().iter().map(|p| p.to_string()).collect();
        (templates, lines)
    }

    #[test]
    fn a_yaml_or_json_template_is_read_as_a_job() {
        let (templates, problems) = read(
            r#"
- backup-db: |
    apiVersion: batch/v1
    kind: Job
    spec:
      template:
        spec:
          containers: [{name: dump, image: busybox}]
          restartPolicy: Never
  restore-db: '{"spec": {"template": {"spec": {"containers": [{"name": "load", "image": "busybox"}]}}}}'
"#,
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            templates["backup-db"].pointer("/spec/template/spec/containers/0/name"),
            Some(&Value::from("dump"))
        );
        assert!(templates.contains_key("restore-db"));
    }

    #[test]
    fn broken_templates_are_problems_with_their_path() {
        let (templates, problems) = read(
            r#"
- not-yaml: "spec: [unclosed"
  no-pod: "spec: {}"
  wrong-kind: "{kind: CronJob, spec: {template: {spec: {containers: [{name: a}]}}}}"
  number: 3
- just-a-string
"#,
        );
        assert!(templates.is_empty());
        let text = problems.join("\n");
        for expected in [
            "spec.jobs[0].not-yaml: not a valid YAML or JSON Job",
            "spec.jobs[0].no-pod: the template has no spec.template.spec.containers",
            "spec.jobs[0].wrong-kind: the template's kind is \"CronJob\", not \"Job\"",
            "spec.jobs[0].number: expected a Job template as a YAML or JSON string, found a number",
            "spec.jobs[1]: expected a map of job name to Job template, found a string",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }
}
