//! Hand-written schema fragments for fields whose shape the derive cannot express.
//!
//! The inline recipe forms (`kubeObjectProtection.recipe`, `captureOrder`, `recoverOrder`) and
//! Ramen fields we only carry (`async`, `volSync`, ...) are stored as free-form objects: the API
//! server must keep every key, including misspelt ones, so that our validator can report them
//! with a field path instead of the API server silently pruning them.
//!
//! Rules the API server can check itself (DNS-label names, the values of `type`, `onError` and
//! `failOn`, one-key steps) are in the schema too, so a mistake is refused even where the
//! admission webhook is not installed. Each refuses only what `validate` refuses: the webhook
//! still says everything else, with its suggestions, once the schema has passed.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object whose keys the API server keeps as written.
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A list of free-form objects.
pub fn free_form_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

/// A value that is either an integer or a string (`timeout: 600` or `timeout: 10m`).
pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
    })
}

/// A list of one-key maps from step kind to step target, as in a workflow `sequence`.
pub fn sequence(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": { "type": "string" },
            "x-kubernetes-validations": [{
                "rule": "size(self) == 1 && ('group' in self || 'hook' in self)",
                "message": "a step is a one-key mapping: \"group: NAME\" or \"hook: NAME\"",
            }],
        },
    })
}

/// A string the API server checks against `pattern`, unless it holds a `$`: recipe parameters
/// (`${NAME}`, `$NAME`) are expanded before `validate` reads the value, so the written text may be
/// anything. A pattern, not CEL: a CEL rule on a string in the Recipe's unbounded lists exceeds
/// the API server's cost budget unless lengths and list sizes are capped, which would refuse
/// recipes `validate` accepts.
fn string_pattern(pattern: &str, nullable: bool) -> Schema {
    let mut schema = json_schema!({
        "type": "string",
        "pattern": format!("^({pattern})$|\\$"),
    });
    // Optional fields stay `nullable`, as every optional field of the derived schema is.
    if nullable {
        schema.insert("nullable".into(), true.into());
    }
    schema
}

/// At most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.
const DNS_LABEL: &str = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";

/// A group, hook or op name: a DNS label, as `validate` requires.
pub fn dns_label(_: &mut SchemaGenerator) -> Schema {
    string_pattern(DNS_LABEL, false)
}

/// A hook's namespace: a DNS label when given.
pub fn optional_dns_label(_: &mut SchemaGenerator) -> Schema {
    string_pattern(DNS_LABEL, true)
}

/// `onError`: `fail` or `continue` in any case (Ramen's samples write `Continue`).
pub fn on_error(_: &mut SchemaGenerator) -> Schema {
    string_pattern("(?i:fail|continue)", true)
}

/// `groups[].type`.
pub fn group_type(_: &mut SchemaGenerator) -> Schema {
    string_pattern("resource|volume", true)
}

/// `hooks[].type`.
pub fn hook_type(_: &mut SchemaGenerator) -> Schema {
    string_pattern("exec|check|scale|job", true)
}

/// `workflows[].failOn`.
pub fn fail_on(_: &mut SchemaGenerator) -> Schema {
    string_pattern("any-error|essential-error|full-error", true)
}
