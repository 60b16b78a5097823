//! Recipe parameters (`recipeParameters`): `${NAME}` and `$NAME` expansion on the parsed tree.
//!
//! Expansion works on parsed values, never on serialised text, so a parameter value can never
//! inject structure. Only names that are parameters expand: `$HOME` or `$1` in a shell command stay
//! as written, and `$$` is a literal `$`. A `${NAME}` that names no parameter is a problem, because
//! silently expanding it to nothing (as Ramen does) wipes out parts of commands.

use std::collections::BTreeMap;

use serde_json::Value;

use super::problem::{Problems, index};

/// Parameter values by name.
pub type Parameters = BTreeMap<String, Vec<String>>;

/// The parameter that pauses every workflow of the VRG while it is `["true"]`.
pub const STOP_RECIPE_RECONCILE: &str = "STOP_RECIPE_RECONCILE";

/// Whether `params` asks for workflows to pause.
pub fn paused(params: &Parameters) -> bool {
    params
        .get(STOP_RECIPE_RECONCILE)
        .is_some_and(|v| v.iter().any(|s| s.eq_ignore_ascii_case("true")))
}

/// What an unknown `${NAME}` stands for when parameters are not known: valid as a name, a
/// namespace, a label value and a resource type, so only the recipe's own mistakes are reported.
pub const PLACEHOLDER: &str = "parameter";

/// What to do with a `${NAME}` that names no parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// A problem: the VRG's parameters are known (validating a VRG and its recipe).
    Error,
    /// Replaced by [`PLACEHOLDER`]: the parameters are not known (validating a Recipe on its
    /// own), so each reference is assumed to be given a valid value.
    Placeholder,
}

/// Expands every string in `value`. Problems are reported at the path of the string.
pub fn expand(
    value: &Value,
    params: &Parameters,
    undefined: Undefined,
    path: &str,
    p: &mut Problems,
) -> Value {
    match value {
        Value::String(s) => Value::String(expand_str(s, params, undefined, path, p)),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item
                    .as_str()
                    .and_then(whole_reference)
                    .and_then(|n| params.get(n))
                {
                    // An element that is exactly `${NAME}` splices in every value of NAME.
                    Some(values) => out.extend(values.iter().cloned().map(Value::String)),
                    None => out.push(expand(item, params, undefined, &index(path, i), p)),
                }
            }
            Value::Array(out)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        expand(v, params, undefined, &format!("{path}.{k}"), p),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `NAME` when `s` is exactly `${NAME}`.
fn whole_reference(s: &str) -> Option<&str> {
    s.strip_prefix("${")?
        .strip_suffix('}')
        .filter(|n| is_name(n))
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn name_len(s: &str) -> usize {
    match s.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len()),
        _ => 0,
    }
}

fn expand_str(
    s: &str,
    params: &Parameters,
    undefined: Undefined,
    path: &str,
    p: &mut Problems,
) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) if is_name(&braced[..end]) => {
                    let name = &braced[..end];
                    match params.get(name) {
                        Some(values) => out.push_str(&single_value(name, values, path, p)),
                        None if undefined == Undefined::Placeholder => out.push_str(PLACEHOLDER),
                        None => {
                            let hint =
                                super::problem::suggestion(name, params.keys().map(String::as_str));
                            p.add(path, format!("undefined parameter \"${{{name}}}\"{hint} (write \"$${{{name}}}\" for a literal)"));
                            out.push_str(&rest[at..at + 3 + end]);
                        }
                    }
                    rest = &braced[end + 1..];
                }
                _ => {
                    p.add(path, format!("\"${{\" starts no parameter reference in \"{s}\" (write \"$${{\" for a literal)"));
                    out.push('$');
                    rest = after;
                }
            }
        } else {
            let len = name_len(after);
            match params.get(&after[..len]).filter(|_| len > 0) {
                Some(values) => out.push_str(&single_value(&after[..len], values, path, p)),
                // `$HOME`, `$1`, a lone `$`: not a parameter, kept as written.
                None => out.push_str(&rest[at..at + 1 + len]),
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

fn single_value(name: &str, values: &[String], path: &str, p: &mut Problems) -> String {
    match values {
        [one] => one.clone(),
        _ => {
            p.add(
                path,
                format!(
                    "parameter \"{name}\" has {} values; only a list element that is exactly \"${{{name}}}\" can take several",
                    values.len()
                ),
            );
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Parameters {
        [
            ("NS".to_owned(), vec!["app".to_owned()]),
            ("MANY".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
            ("NONE".to_owned(), vec![]),
        ]
        .into_iter()
        .collect()
    }

    fn run(v: Value) -> (Value, Vec<String>) {
        let mut p = Problems::default();
        let out = expand(&v, &params(), Undefined::Error, "spec", &mut p);
        (out, p.into_vec().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn expands_braced_and_bare_names_only_when_they_are_parameters() {
        let (out, problems) = run(json!("ns=${NS} $NS $HOME $1 $$NS $$ a$"));
        assert_eq!(out, json!("ns=app app $HOME $1 $NS $ a$"));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn splices_list_elements_and_rejects_multi_values_elsewhere() {
        let (out, problems) = run(json!({"l": ["x", "${MANY}", "${NONE}", "y"], "s": "v-${MANY}"}));
        assert_eq!(out["l"], json!(["x", "a", "b", "y"]));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("spec.s: parameter \"MANY\" has 2 values"),
            "{problems:?}"
        );
    }

    #[test]
    fn undefined_braced_reference_is_an_error_with_a_suggestion() {
        let (out, problems) = run(json!(["${NZ}"]));
        assert_eq!(out, json!(["${NZ}"]));
        assert_eq!(
            problems,
            [
                "spec[0]: undefined parameter \"${NZ}\" (did you mean \"NS\"?) (write \"$${NZ}\" for a literal)"
            ]
        );
    }

    #[test]
    fn values_cannot_inject_structure() {
        let mut params = params();
        params.insert("EVIL".into(), vec!["x\n  injected: true".into()]);
        let mut p = Problems::default();
        let out = expand(
            &json!({"a": "${EVIL}"}),
            &params,
            Undefined::Error,
            "s",
            &mut p,
        );
        assert_eq!(out, json!({"a": "x\n  injected: true"}));
    }

    #[test]
    fn placeholder_mode_assumes_valid_values() {
        let mut p = Problems::default();
        let out = expand(
            &json!("${X}-$Y"),
            &Parameters::new(),
            Undefined::Placeholder,
            "s",
            &mut p,
        );
        assert_eq!(out, json!("parameter-$Y"));
        assert!(p.is_empty());
    }

    #[test]
    fn stop_recipe_reconcile_pauses() {
        let mut params = Parameters::new();
        assert!(!paused(&params));
        params.insert(STOP_RECIPE_RECONCILE.into(), vec!["true".into()]);
        assert!(paused(&params));
    }
}
