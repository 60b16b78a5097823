//! Reading manifest files (`-` = standard input) into YAML documents.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

/// A document with where it came from.
pub struct Document {
    pub file: String,
    pub value: Value,
}

/// Why a file yielded no documents.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read (exit 2).
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    /// The file is not valid YAML (exit 1): the message carries line and column.
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
}

pub fn read(path: &Path) -> Result<Vec<Document>, ReadError> {
    let file = path.display().to_string();
    let mut text = String::new();
    let result = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|source| ReadError::Io {
        file: file.clone(),
        source,
    })?;
    let values = serde_saphyr::from_multiple::<Value>(&text).map_err(|e| ReadError::Syntax {
        file: file.clone(),
        message: e.to_string().trim_start_matches("error: ").to_owned(),
    })?;
    Ok(values
        .into_iter()
        .filter(|v| !v.is_null())
        .map(|value| Document {
            file: file.clone(),
            value,
        })
        .collect())
}

pub use crate::recipe::label;

pub fn kind(doc: &Value) -> Option<&str> {
    doc.get("kind").and_then(Value::as_str)
}

/// The document's namespace, or `default`.
pub fn namespace<'a>(doc: &'a Value, default: &'a str) -> &'a str {
    doc.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(default)
}
