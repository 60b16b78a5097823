//! Kubernetes naming rules for the names a recipe writes: objects, namespaces, label keys and values.

use super::problem::Problems;

/// A DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters (namespaces, and the
/// group and hook names that end up in Velero object names and labels).
pub fn check_dns_label(s: &str, what: &str, path: &str, p: &mut Problems) -> bool {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if !ok {
        p.add(
            path,
            format!(
                "{what} \"{s}\" is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
            ),
        );
    }
    ok
}

/// A DNS-1123 subdomain: DNS labels joined by `.`, at most 253 characters (object names).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_`, `.`, starting and ending with an
/// alphanumeric.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a non-empty label-value-like name.
pub fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// A resource type in Velero's filters: `pods`, `deployments.apps`, `Pod`, or `*`.
pub fn is_resource_type(s: &str) -> bool {
    s == "*"
        || (!s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && !s.starts_with('.')
            && !s.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_and_values() {
        for key in [
            "app",
            "icpdsupport/empty-on-nd-backup",
            "app.kubernetes.io/name",
            "a_b.c",
        ] {
            assert!(is_label_key(key), "{key}");
        }
        for key in ["", "/x", "a/", "-a", "Bad Prefix/x", "a/b/c"] {
            assert!(!is_label_key(key), "{key}");
        }
        assert!(is_label_value("") && is_label_value("v1.2_3-x"));
        assert!(!is_label_value("-x") && !is_label_value(&"x".repeat(64)));
    }

    #[test]
    fn dns_names() {
        let mut p = Problems::default();
        assert!(check_dns_label(
            "cpd-instance-volumes",
            "group name",
            "x",
            &mut p
        ));
        assert!(!check_dns_label("Group_1", "group name", "x", &mut p));
        assert!(is_dns_subdomain("my.app-1"));
        assert!(!is_dns_subdomain("My.app"));
        assert!(is_resource_type("deployments.apps") && is_resource_type("Pod"));
        assert!(!is_resource_type("pods, secrets"));
    }
}
