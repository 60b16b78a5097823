//! Hand-written schema fragments for fields whose shape the derive cannot express.
//!
//! The inline recipe forms (`kubeObjectProtection.recipe`, `captureOrder`, `recoverOrder`) and
//! Ramen fields we only carry (`async`, `volSync`, ...) are stored as free-form objects: the API
//! server must keep every key, including misspelt ones, so that our validator can report them
//! with a field path instead of the API server silently pruning them.

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
        },
    })
}
