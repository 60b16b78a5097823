//! The check-hook condition language, compatible with RamenDR's.
//!
//! A condition compares operands and combines comparisons:
//!
//! ```text
//! {$.status.readyReplicas} == {$.spec.replicas}
//! {$.status.availableReplicas} >= {1} && {$.status.conditions[?(@.type=="Available")].status} == {True}
//! ```
//!
//! - An operand in braces is a JSONPath (RFC 9535) when it starts with `$`, or with `.` as kubectl
//!   allows (`{.status.phase}` means `{$.status.phase}`); otherwise it is a literal: `{Running}`,
//!   `{2}`, `{1.5}`, `{True}`, or quoted `{'Not Ready'}` / `{"True"}` (a backslash escapes the next
//!   character inside quotes). Quotes are tracked while looking for the closing brace, so
//!   `{$.a[?(@.b=='}')].c}` is one operand.
//! - For Ramen compatibility an operand may also be a bare word (`== True`, `== 2`) or a bare
//!   quoted string (`== 'Running'`); both are literals. A JSONPath must be in braces.
//! - Operators `== != > >= < <=`; `&&` binds tighter than `||`; parentheses group; whitespace is
//!   allowed between all tokens. A bare operand is not a condition.
//!
//! Evaluation follows Ramen's loose typing: a value that parses as a finite number is a number, and
//! `true`/`false` in any case (so Kubernetes condition statuses `"True"`) is a boolean. `==`/`!=`
//! compare two numbers numerically, two booleans as booleans, and anything else as text. The
//! orderings `> >= < <=` need numbers on both sides; anything else is an [`EvalError`], not
//! `false`. A JSONPath that matches several values compares the first one.
//!
//! `&&` is false when any side is false and `||` true when any side is true, even if another side
//! fails to evaluate; otherwise the first evaluation error is returned. The caller treats an error
//! as "not yet true" and re-evaluates until its timeout.
//!
//! This module holds the AST and [`parse`]; the `lexer` turns text into tokens (operands already
//! resolved), the `parser` builds the AST from them, `eval` evaluates it against an object,
//! `display` prints its canonical form, and `error` defines the two error types.

mod display;
mod error;
mod eval;
mod lexer;
mod parser;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use serde_json_path::JsonPath;

pub use error::{ConditionError, EvalError};

/// A parsed condition; `Display` prints its canonical form, which parses back to the same AST.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Comparison),
    /// `a && b && ...`: never nested directly in another `All` and never fewer than two items
    /// when produced by [`parse`].
    All(Vec<Condition>),
    /// `a || b || ...`: likewise flattened.
    Any(Vec<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub left: Operand,
    pub op: CmpOp,
    pub right: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Query),
    Literal(String),
}

/// A JSONPath operand: its text (always starting with `$`) and the compiled query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    text: String,
    path: JsonPath,
}

impl Query {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Parses a condition once, at validation time.
pub fn parse(src: &str) -> Result<Condition, ConditionError> {
    let tokens = lexer::lex(src)?;
    parser::parse_tokens(src, tokens)
}

impl FromStr for Condition {
    type Err = ConditionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}
