//! A validation problem: where (field path), what, and, when a known name is close, a suggestion.

use std::fmt;

/// One problem in a VRG or recipe, located by its field path
/// (e.g. `spec.kubeObjectProtection.recipe.workflows[0].sequence[4]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object the path is in when it is not the VRG being validated (`Recipe/ns/name`).
    pub object: Option<String>,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Problem {
    /// The line `validate` (and the admission webhook) prints for it: under the object it is in,
    /// or under `label` (`VolumeReplicationGroup/app`) when that is the object being checked.
    pub fn line(&self, label: &str) -> String {
        let object = self.object.as_deref().unwrap_or(label);
        format!("{object}: {}: {}", self.path, self.message)
    }
}

/// Collects every problem found; validation never stops at the first.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            object: None,
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Attributes every problem collected so far without an object to `object`.
    pub fn attribute_to(&mut self, object: &str) {
        for p in self.0.iter_mut().filter(|p| p.object.is_none()) {
            p.object = Some(object.to_owned());
        }
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}

/// `" (did you mean \"x\"?)"` when one of `known` is close to `word`, else `""`.
pub fn suggestion<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let best = known
        .into_iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&word.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(distance, k)| *distance <= (k.len() / 4).clamp(1, 3))
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((_, k)) => format!(" (did you mean \"{k}\"?)"),
        None => String::new(),
    }
}

/// Joins a parent path and a child key: `spec` + `groups` = `spec.groups`.
pub fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `spec.groups` + 3 = `spec.groups[3]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["includedResources", "excludedResources", "labelSelector"];
        assert_eq!(
            suggestion("includedResoures", known),
            " (did you mean \"includedResources\"?)"
        );
        assert_eq!(
            suggestion("group_", ["group", "hook"]),
            " (did you mean \"group\"?)"
        );
        assert_eq!(suggestion("color", known), "");
    }

    #[test]
    fn displays_object_path_and_message() {
        let mut problems = Problems::default();
        problems.add("spec.groups[0]", "unknown field \"x\"");
        problems.attribute_to("Recipe/ns/r");
        assert_eq!(
            problems.into_vec()[0].to_string(),
            "Recipe/ns/r: spec.groups[0]: unknown field \"x\""
        );
    }
}
