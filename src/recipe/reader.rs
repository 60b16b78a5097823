//! Reading a JSON tree field by field, reporting every problem with its path.
//!
//! The front-ends parse recipes from `serde_json::Value` rather than through serde derives so that
//! one pass reports *all* problems (serde stops at the first) and unknown keys get a suggestion.

use std::time::Duration;

use serde_json::{Map, Value};

use super::problem::{Problems, child, index, suggestion};

/// Longest timeout a recipe may ask for: a step that runs longer is almost certainly stuck.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// A mapping being read, with its path and the keys it may have.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// Short name of a JSON type for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl<'a> Obj<'a> {
    /// Reads `value` as a mapping whose keys must be among `known`; reports every other key.
    pub fn new(value: &'a Value, path: &str, known: &[&str], p: &mut Problems) -> Option<Self> {
        let Value::Object(map) = value else {
            p.add(
                path,
                format!("expected a mapping, found {}", type_name(value)),
            );
            return None;
        };
        for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
            let hint = suggestion(key, known.iter().copied());
            p.add(path, format!("unknown field \"{key}\"{hint}"));
        }
        Some(Self {
            map,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn path_of(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// The value of the first of `keys` that is present and not null; the others are aliases,
    /// and setting more than one of them is a problem.
    pub fn get_any(&self, keys: &[&str], p: &mut Problems) -> Option<(&'a Value, String)> {
        let present: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| self.map.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if present.len() > 1 {
            p.add(
                &self.path,
                format!(
                    "\"{}\" and \"{}\" are the same field: set one",
                    present[0], present[1]
                ),
            );
        }
        let key = present.first()?;
        Some((&self.map[*key], self.path_of(key)))
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn string(&self, key: &str, p: &mut Problems) -> Option<String> {
        self.string_any(&[key], p)
    }

    pub fn string_any(&self, keys: &[&str], p: &mut Problems) -> Option<String> {
        let (value, path) = self.get_any(keys, p)?;
        as_string(value, &path, p)
    }

    /// A required non-empty string.
    pub fn required_string(&self, key: &str, p: &mut Problems) -> Option<String> {
        match self.string(key, p) {
            Some(s) if !s.is_empty() => Some(s),
            Some(_) => {
                p.add(self.path_of(key), "must not be empty");
                None
            }
            None if self.has(key) => None,
            None => {
                p.add(&self.path, format!("missing required field \"{key}\""));
                None
            }
        }
    }

    pub fn string_list_any(&self, keys: &[&str], p: &mut Problems) -> Vec<String> {
        match self.get_any(keys, p) {
            Some((value, path)) => string_list(value, &path, p),
            None => Vec::new(),
        }
    }

    pub fn bool_any(&self, keys: &[&str], p: &mut Problems) -> Option<bool> {
        let (value, path) = self.get_any(keys, p)?;
        match value {
            Value::Bool(b) => Some(*b),
            // A parameter expands to a string; accept its boolean spelling.
            Value::String(s) if s == "true" || s == "false" => Some(s == "true"),
            other => {
                p.add(
                    path,
                    format!("expected true or false, found {}", type_name(other)),
                );
                None
            }
        }
    }

    pub fn bool(&self, key: &str, p: &mut Problems) -> Option<bool> {
        self.bool_any(&[key], p)
    }

    /// A timeout: whole seconds (`600`) or a duration (`10m`), greater than zero and at most
    /// [`MAX_TIMEOUT`].
    pub fn timeout(&self, key: &str, p: &mut Problems) -> Option<Duration> {
        let value = self.get(key)?;
        let path = self.path_of(key);
        let duration = match value {
            Value::Number(n) => match n.as_u64() {
                Some(secs) => Duration::from_secs(secs),
                None => {
                    p.add(
                        path,
                        format!("{n} is not a whole number of seconds greater than 0"),
                    );
                    return None;
                }
            },
            Value::String(s) => match parse_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    p.add(path, e);
                    return None;
                }
            },
            other => {
                p.add(
                    path,
                    format!(
                        "expected seconds or a duration such as \"10m\", found {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        check_bounds(duration, &path, p)
    }

    /// Present keys whose value is a list of mappings: `(element, element path)`.
    pub fn list(&self, key: &str, p: &mut Problems) -> Vec<(&'a Value, String)> {
        self.list_any(&[key], p)
    }

    pub fn list_any(&self, keys: &[&str], p: &mut Problems) -> Vec<(&'a Value, String)> {
        let Some((value, path)) = self.get_any(keys, p) else {
            return Vec::new();
        };
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (v, index(&path, i)))
                .collect(),
            other => {
                p.add(path, format!("expected a list, found {}", type_name(other)));
                Vec::new()
            }
        }
    }
}

pub fn as_string(value: &Value, path: &str, p: &mut Problems) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        other => {
            p.add(
                path,
                format!("expected a string, found {}", type_name(other)),
            );
            None
        }
    }
}

/// A list of strings; a single string is accepted as a one-element list only where the caller
/// says so, never here.
pub fn string_list(value: &Value, path: &str, p: &mut Problems) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| as_string(v, &index(path, i), p))
            .collect(),
        other => {
            p.add(
                path,
                format!("expected a list of strings, found {}", type_name(other)),
            );
            Vec::new()
        }
    }
}

/// A duration string: Go's `5m0s` and `1h30m`, or plain seconds `"600"` from a parameter.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.trim().parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("\"{s}\" is not a duration such as \"90s\", \"10m\" or \"1h30m\": {e}")
    })
}

pub fn check_bounds(duration: Duration, path: &str, p: &mut Problems) -> Option<Duration> {
    if duration.is_zero() {
        p.add(path, "must be greater than 0");
        None
    } else if duration > MAX_TIMEOUT {
        p.add(
            path,
            format!(
                "{} is longer than the maximum of 24h",
                humantime::format_duration(duration)
            ),
        );
        None
    } else {
        Some(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_unknown_key_with_a_suggestion() {
        let mut p = Problems::default();
        let v = json!({"name": "a", "includedResoures": [], "colour": 1});
        Obj::new(&v, "spec.groups[0]", &["name", "includedResources"], &mut p);
        let lines: Vec<String> = p.into_vec().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "spec.groups[0]: unknown field \"colour\"",
                "spec.groups[0]: unknown field \"includedResoures\" (did you mean \"includedResources\"?)",
            ]
        );
    }

    #[test]
    fn timeouts_accept_seconds_and_durations_within_bounds() {
        let v =
            json!({"a": 600, "b": "10m", "c": 0, "d": "48h", "e": "soon", "f": -1, "g": "5m0s"});
        let mut p = Problems::default();
        let o = Obj::new(&v, "x", &["a", "b", "c", "d", "e", "f", "g"], &mut p).unwrap();
        assert_eq!(o.timeout("a", &mut p), Some(Duration::from_secs(600)));
        assert_eq!(o.timeout("b", &mut p), Some(Duration::from_secs(600)));
        assert_eq!(o.timeout("g", &mut p), Some(Duration::from_secs(300)));
        for key in ["c", "d", "e", "f"] {
            assert_eq!(o.timeout(key, &mut p), None, "{key}");
        }
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn aliases_are_one_field() {
        let v = json!({"includedResources": ["pods"], "includedResourceTypes": ["pods"]});
        let mut p = Problems::default();
        let o = Obj::new(
            &v,
            "g",
            &["includedResources", "includedResourceTypes"],
            &mut p,
        )
        .unwrap();
        o.string_list_any(&["includedResourceTypes", "includedResources"], &mut p);
        assert_eq!(p.len(), 1);
    }
}
