//! A whole recipe body (`groups`, `hooks`, `workflows`): a Recipe object's `spec`, or the seed's
//! inline `kubeObjectProtection.recipe`.

use serde_json::Value;

use super::Dialect;
use super::groups::group;
use super::hooks::{check_unique, hook};
use crate::recipe::model::{FailOn, Group, Recipe, StepRef, StepTarget, Workflow};
use crate::recipe::problem::{Problems, suggestion};
use crate::recipe::reader::{Obj, type_name};

const RECIPE_KEYS: &[&str] = &["appType", "groups", "volumes", "hooks", "jobs", "workflows"];
const INLINE_KEYS: &[&str] = &["groups", "hooks", "jobs", "workflows"];

pub fn recipe(value: &Value, path: &str, dialect: Dialect, p: &mut Problems) -> Option<Recipe> {
    let keys = match dialect {
        Dialect::RecipeObject => RECIPE_KEYS,
        Dialect::Inline => INLINE_KEYS,
    };
    let obj = Obj::new(value, path, keys, p)?;
    let jobs = super::jobs::templates(&obj.list("jobs", p), p);
    // Informational, but still checked: a wrong type is a mistake worth reporting.
    obj.string("appType", p);
    let volumes = obj
        .get("volumes")
        .filter(|v| !v.is_null())
        .and_then(|v| group(v, &obj.path_of("volumes"), dialect, p))
        .map(|g| Group { volume: true, ..g });
    let groups: Vec<_> = obj
        .list("groups", p)
        .into_iter()
        .filter_map(|(v, path)| group(v, &path, dialect, p))
        .collect();
    let hooks: Vec<_> = obj
        .list("hooks", p)
        .into_iter()
        .filter_map(|(v, path)| hook(v, &path, dialect, p))
        .collect();
    let workflows: Vec<_> = obj
        .list("workflows", p)
        .into_iter()
        .filter_map(|(v, path)| workflow(v, &path, p))
        .collect();
    check_unique(
        groups.iter().map(|g| g.name.as_str()),
        &obj.path_of("groups"),
        p,
    );
    check_unique(
        hooks.iter().map(|h| h.name.as_str()),
        &obj.path_of("hooks"),
        p,
    );
    check_unique(
        workflows.iter().map(|w| w.name.as_str()),
        &obj.path_of("workflows"),
        p,
    );
    let mut recipe = Recipe {
        groups,
        hooks,
        workflows,
        volumes,
        jobs,
        notes: vec![],
    };
    match dialect {
        Dialect::RecipeObject => super::ramen::read_as_ramen(&mut recipe, obj.path()),
        Dialect::Inline if !obj.has("workflows") => p.add(
            obj.path(),
            "missing required field \"workflows\" (a \"backup\" and/or \"restore\" workflow)",
        ),
        Dialect::Inline => {}
    }
    Some(recipe)
}

fn workflow(value: &Value, path: &str, p: &mut Problems) -> Option<Workflow> {
    let obj = Obj::new(value, path, &["name", "sequence", "failOn"], p)?;
    let name = obj.required_string("name", p);
    let fail_on = match obj.string("failOn", p).as_deref() {
        None | Some("any-error") => FailOn::AnyError,
        Some("essential-error") => FailOn::EssentialError,
        Some("full-error") => FailOn::FullError,
        Some(other) => {
            let known = ["any-error", "essential-error", "full-error"];
            let hint = suggestion(other, known);
            p.add(obj.path_of("failOn"), format!("unknown failOn \"{other}\"{hint} (expected any-error, essential-error or full-error)"));
            FailOn::AnyError
        }
    };
    if !obj.has("sequence") {
        p.add(obj.path(), "missing required field \"sequence\"");
    }
    let steps = obj
        .list("sequence", p)
        .into_iter()
        .filter_map(|(v, path)| step(v, &path, p))
        .collect();
    Some(Workflow {
        name: name?,
        path: path.to_owned(),
        fail_on,
        steps,
    })
}

/// `group: NAME` or `hook: HOOK[/OP]`.
fn step(value: &Value, path: &str, p: &mut Problems) -> Option<StepRef> {
    let (kind, target) = match value {
        Value::Object(map) if map.len() == 1 => {
            let (k, v) = map.iter().next()?;
            target_name(k, v, path, p)?
        }
        Value::Object(map) => {
            // More than one key: report the unknown ones, then read the step from the known one.
            Obj::new(value, path, &["group", "hook"], p);
            let known: Vec<&String> = map
                .keys()
                .filter(|k| *k == "group" || *k == "hook")
                .collect();
            match known.as_slice() {
                [k] => target_name(k, &map[*k], path, p)?,
                [] => {
                    p.add(
                        path,
                        "a step is a one-key mapping: \"group: NAME\" or \"hook: NAME\"",
                    );
                    return None;
                }
                _ => {
                    p.add(
                        path,
                        "a step is either a group or a hook, not both: write two steps",
                    );
                    return None;
                }
            }
        }
        // The seed's `- group_ cpd-instance-resources` is a string, not a mapping.
        Value::String(s) => {
            let word = s.split([' ', ':']).next().unwrap_or_default();
            let rest = s[word.len()..].trim_start_matches([' ', ':']).trim();
            let hint = suggestion(word, ["group", "hook"]);
            let fix = if hint.is_empty() {
                String::new()
            } else {
                format!("; did you mean \"{}: {rest}\"?", hint_word(&hint))
            };
            p.add(
                path,
                format!("unknown step kind \"{word}\" (expected \"group\" or \"hook\"){fix}"),
            );
            return None;
        }
        other => {
            p.add(
                path,
                format!(
                    "expected a step such as \"group: NAME\" or \"hook: NAME\", found {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    let target = match kind.as_str() {
        "group" => StepTarget::Group(target),
        "hook" => match target.split_once('/') {
            Some((hook, op)) => StepTarget::Hook {
                hook: hook.to_owned(),
                op: Some(op.to_owned()),
            },
            None => StepTarget::Hook {
                hook: target,
                op: None,
            },
        },
        other => {
            let hint = suggestion(other, ["group", "hook"]);
            p.add(
                path,
                format!("unknown step kind \"{other}\"{hint} (expected \"group\" or \"hook\")"),
            );
            return None;
        }
    };
    Some(StepRef {
        path: path.to_owned(),
        target,
    })
}

/// `(kind, name)` of a step whose target must be a string.
fn target_name(
    kind: &str,
    value: &Value,
    path: &str,
    p: &mut Problems,
) -> Option<(String, String)> {
    match value {
        Value::String(s) => Some((kind.to_owned(), s.clone())),
        other => {
            p.add(
                path,
                format!(
                    "the {kind} step's target must be a name, found {}",
                    type_name(other)
                ),
            );
            None
        }
    }
}

/// `group` out of ` (did you mean "group"?)`.
fn hint_word(hint: &str) -> &str {
    hint.split('"').nth(1).unwrap_or_default()
}
