//! Label selectors, written as a LabelSelector object or in kubectl's string syntax
//! (`app=db,tier in (a,b),!legacy`, or a bare key as in the seed).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::Value;

use super::names::{is_label_key, is_label_value};
use super::problem::{Problems, child, index};
use super::reader::{Obj, as_string, string_list, type_name};

/// Reads a selector at `path`; every problem is reported, and `None` returned if there was one.
pub fn selector(value: &Value, path: &str, p: &mut Problems) -> Option<LabelSelector> {
    let before = p.len();
    let selector = match value {
        Value::String(s) => parse_string(s, path, p),
        Value::Object(_) => parse_object(value, path, p),
        other => {
            p.add(
                path,
                format!(
                    "expected a label selector (a mapping or \"key=value,...\"), found {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    (p.len() == before).then_some(selector)
}

/// A Recipe object's selector: a mapping only, as its CRD types it, so `validate` refuses the
/// `"key=value"` string the API server refuses (that form is the inline recipe's).
pub fn structured_selector(value: &Value, path: &str, p: &mut Problems) -> Option<LabelSelector> {
    let Value::String(s) = value else {
        return selector(value, path, p);
    };
    let labels: Option<Vec<String>> = s
        .split(',')
        .map(|term| {
            let (k, v) = term.split_once('=')?;
            (!k.trim().is_empty() && !v.contains('='))
                .then(|| format!("{}: {}", k.trim(), v.trim()))
        })
        .collect();
    let example = match labels {
        Some(labels) => format!("{{matchLabels: {{{}}}}}", labels.join(", ")),
        None => "{matchLabels: {...}} or {matchExpressions: [...]}".to_owned(),
    };
    p.add(
        path,
        format!(
            "must be of type object: \"string\" (a Recipe's selectors are mappings: {example}; \
             \"{s}\" is the inline recipe's form)"
        ),
    );
    None
}

fn parse_object(value: &Value, path: &str, p: &mut Problems) -> LabelSelector {
    let mut selector = LabelSelector::default();
    let Some(obj) = Obj::new(value, path, &["matchLabels", "matchExpressions"], p) else {
        return selector;
    };
    if let Some(labels) = obj.get("matchLabels") {
        let labels_path = obj.path_of("matchLabels");
        match labels {
            Value::Object(map) => {
                let mut out = BTreeMap::new();
                for (key, v) in map {
                    let Some(v) = as_string(v, &child(&labels_path, key), p) else {
                        continue;
                    };
                    check_key(key, &labels_path, p);
                    check_value(&v, &child(&labels_path, key), p);
                    out.insert(key.clone(), v);
                }
                selector.match_labels = Some(out);
            }
            other => p.add(
                labels_path,
                format!("expected a mapping, found {}", type_name(other)),
            ),
        }
    }
    let expressions: Vec<_> = obj
        .list("matchExpressions", p)
        .into_iter()
        .filter_map(|(v, path)| requirement(v, &path, p))
        .collect();
    if obj.has("matchExpressions") {
        selector.match_expressions = Some(expressions);
    }
    selector
}

fn requirement(value: &Value, path: &str, p: &mut Problems) -> Option<LabelSelectorRequirement> {
    let obj = Obj::new(value, path, &["key", "operator", "values"], p)?;
    let key = obj.required_string("key", p)?;
    check_key(&key, path, p);
    let operator = obj.required_string("operator", p)?;
    let values = obj
        .get("values")
        .map(|v| string_list(v, &obj.path_of("values"), p));
    let count = values.as_ref().map_or(0, Vec::len);
    match operator.as_str() {
        "In" | "NotIn" if count == 0 => p.add(
            obj.path_of("values"),
            format!("operator {operator} needs at least one value"),
        ),
        "Exists" | "DoesNotExist" if count > 0 => p.add(
            obj.path_of("values"),
            format!("operator {operator} takes no values"),
        ),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => {
            let hint = super::problem::suggestion(other, ["In", "NotIn", "Exists", "DoesNotExist"]);
            p.add(obj.path_of("operator"), format!("unknown operator \"{other}\"{hint} (expected In, NotIn, Exists or DoesNotExist)"));
        }
    }
    for (i, v) in values.iter().flatten().enumerate() {
        check_value(v, &index(&obj.path_of("values"), i), p);
    }
    Some(LabelSelectorRequirement {
        key,
        operator,
        values,
    })
}

fn check_key(key: &str, path: &str, p: &mut Problems) {
    if !is_label_key(key) {
        p.add(path, format!("\"{key}\" is not a valid label key"));
    }
}

fn check_value(value: &str, path: &str, p: &mut Problems) {
    if !is_label_value(value) {
        p.add(
            path,
            format!(
                "\"{value}\" is not a valid label value (at most 63 letters, digits, '-', '_', '.')"
            ),
        );
    }
}

/// kubectl's selector syntax: requirements separated by commas (not inside parentheses).
fn parse_string(s: &str, path: &str, p: &mut Problems) -> LabelSelector {
    let mut labels = BTreeMap::new();
    let mut expressions = Vec::new();
    for term in split_terms(s).into_iter().map(str::trim) {
        if term.is_empty() {
            p.add(path, format!("empty requirement in selector \"{s}\""));
            continue;
        }
        let requirement = parse_term(term);
        match requirement {
            Ok(Term::Equals(k, v)) => {
                check_key(&k, path, p);
                check_value(&v, path, p);
                labels.insert(k, v);
            }
            Ok(Term::Expr(r)) => {
                check_key(&r.key, path, p);
                r.values
                    .iter()
                    .flatten()
                    .for_each(|v| check_value(v, path, p));
                expressions.push(r);
            }
            Err(e) => p.add(path, format!("in selector \"{s}\": {e}")),
        }
    }
    LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        match_expressions: (!expressions.is_empty()).then_some(expressions),
    }
}

enum Term {
    Equals(String, String),
    Expr(LabelSelectorRequirement),
}

fn split_terms(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn expr(key: &str, operator: &str, values: Option<Vec<String>>) -> Term {
    Term::Expr(LabelSelectorRequirement {
        key: key.to_owned(),
        operator: operator.to_owned(),
        values,
    })
}

fn parse_term(term: &str) -> Result<Term, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(expr(key.trim(), "DoesNotExist", None));
    }
    for op in ["!=", "==", "="] {
        if let Some((k, v)) = term.split_once(op) {
            let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
            return Ok(if op == "!=" {
                expr(&k, "NotIn", Some(vec![v]))
            } else {
                Term::Equals(k, v)
            });
        }
    }
    let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
    match words.as_slice() {
        [key] => Ok(expr(key, "Exists", None)),
        [key, rest] => {
            let rest = rest.trim();
            let (operator, list) = if let Some(l) = rest.strip_prefix("notin") {
                ("NotIn", l)
            } else if let Some(l) = rest.strip_prefix("in") {
                ("In", l)
            } else {
                return Err(format!(
                    "\"{term}\": expected \"=\", \"!=\", \"in (...)\" or \"notin (...)\""
                ));
            };
            let inner = list
                .trim()
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or_else(|| {
                    format!("\"{term}\": the values of \"{operator}\" go in parentheses")
                })?;
            let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
            if values.iter().any(String::is_empty) {
                return Err(format!("\"{term}\": empty value in the list"));
            }
            Ok(expr(key, operator, Some(values)))
        }
        _ => Err(format!("\"{term}\" is not a requirement")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> (Option<LabelSelector>, Vec<String>) {
        let mut p = Problems::default();
        let s = selector(&v, "sel", &mut p);
        (s, p.into_vec().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn string_syntax() {
        let (s, problems) = parse(json!(
            "app=db, tier in (a,b),!legacy,env!=prod,icpdsupport/empty-on-nd-backup"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let s = s.unwrap();
        assert_eq!(s.match_labels.unwrap()["app"], "db");
        let ops: Vec<_> = s
            .match_expressions
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.operator))
            .collect();
        assert_eq!(
            ops,
            [
                ("tier".to_owned(), "In".to_owned()),
                ("legacy".into(), "DoesNotExist".into()),
                ("env".into(), "NotIn".into()),
                ("icpdsupport/empty-on-nd-backup".into(), "Exists".into()),
            ]
        );
    }

    #[test]
    fn object_syntax_and_its_errors() {
        let (s, problems) = parse(json!({"matchLabels": {"app": "my-app"}}));
        assert!(problems.is_empty() && s.is_some());
        let (s, problems) = parse(json!({
            "matchLabel": {"app": "x"},
            "matchExpressions": [{"key": "a", "operator": "in", "values": []}, {"key": "b", "operator": "Exists", "values": ["x"]}]
        }));
        assert!(s.is_none());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("unknown field \"matchLabel\" (did you mean \"matchLabels\"?)")
        );
        assert!(problems[1].contains(
            "sel.matchExpressions[0].operator: unknown operator \"in\" (did you mean \"In\"?)"
        ));
        assert!(
            problems[2].contains("sel.matchExpressions[1].values: operator Exists takes no values")
        );
    }

    #[test]
    fn bad_strings() {
        for bad in ["a in b", "x,,y", "tier in (a,)", "bad key!"] {
            let (s, problems) = parse(json!(bad));
            assert!(s.is_none() || !problems.is_empty(), "{bad}");
        }
        // `app=` selects an empty value, which is valid Kubernetes.
        assert!(parse(json!("app=")).1.is_empty());
    }
}
