//! The two ways a condition fails: it does not parse, or it cannot be evaluated against an object.

use thiserror::Error;

use super::CmpOp;
use super::parser::MAX_NESTING;

/// A condition that does not parse; every variant knows its 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConditionError {
    #[error(
        "condition is empty: expected a comparison such as {{$.status.readyReplicas}} == {{$.spec.replicas}}"
    )]
    Empty,
    #[error("unexpected {found} at column {column}: expected {expected}")]
    Unexpected {
        found: String,
        column: usize,
        expected: String,
    },
    #[error("unbalanced brace at column {column}: {detail}")]
    UnbalancedBrace { column: usize, detail: &'static str },
    #[error("unterminated string at column {column}: the {quote} is never closed")]
    UnterminatedString { column: usize, quote: char },
    #[error(
        "empty operand at column {column}: expected a JSONPath such as {{$.status.phase}} or a literal such as {{Running}}"
    )]
    EmptyOperand { column: usize },
    #[error("unexpected text after the quoted literal at column {column}")]
    TextAfterQuote { column: usize },
    #[error("parentheses nested too deeply at column {column}: at most {MAX_NESTING} levels")]
    TooDeep { column: usize },
    #[error("invalid JSONPath {path:?} at column {column}: {message}")]
    InvalidJsonPath {
        path: String,
        column: usize,
        message: String,
    },
}

impl ConditionError {
    /// The 1-based character column the error points at.
    pub fn column(&self) -> usize {
        match self {
            Self::Empty => 1,
            Self::Unexpected { column, .. }
            | Self::UnbalancedBrace { column, .. }
            | Self::UnterminatedString { column, .. }
            | Self::EmptyOperand { column }
            | Self::TextAfterQuote { column }
            | Self::TooDeep { column }
            | Self::InvalidJsonPath { column, .. } => *column,
        }
    }
}

/// Why a condition could not be evaluated against an object. No variant carries a value read
/// from the object.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    #[error("{path} matched nothing")]
    MatchedNothing { path: String },
    #[error("{path} is {kind}, which cannot be compared; point the JSONPath at a single field")]
    NotScalar { path: String, kind: &'static str },
    /// The value itself is never shown: messages go to status and Events, and a value read
    /// from the cluster is not the recipe author's to see.
    #[error("{op} compares numbers, but {operand} is not a number")]
    NotANumber { op: CmpOp, operand: String },
}
