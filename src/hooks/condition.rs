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

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use serde_json_path::JsonPath;
use thiserror::Error;

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

/// Why a condition could not be evaluated against an object.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    #[error("{path} matched nothing")]
    MatchedNothing { path: String },
    #[error("{path} is {kind}, which cannot be compared; point the JSONPath at a single field")]
    NotScalar { path: String, kind: &'static str },
    #[error("{op} compares numbers, but {operand} is {value:?}")]
    NotANumber {
        op: CmpOp,
        operand: String,
        value: String,
    },
}

/// Parses a condition once, at validation time.
pub fn parse(src: &str) -> Result<Condition, ConditionError> {
    let tokens = lex(src)?;
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    if parser.peek().kind == Kind::End {
        return Err(ConditionError::Empty);
    }
    let condition = parser.parse_or()?;
    parser.expect_end(r#""&&", "||" or the end of the condition"#)?;
    Ok(condition)
}

impl FromStr for Condition {
    type Err = ConditionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl Condition {
    /// Evaluates the condition against one object (a Pod, Deployment, ... as JSON).
    pub fn evaluate(&self, object: &Value) -> Result<bool, EvalError> {
        match self {
            Self::Compare(comparison) => comparison.evaluate(object),
            Self::All(items) => combine(items, object, false),
            Self::Any(items) => combine(items, object, true),
        }
    }

    fn all(items: Vec<Condition>) -> Condition {
        flatten(items, Condition::All, |c| match c {
            Condition::All(inner) => Ok(inner),
            other => Err(other),
        })
    }

    fn any(items: Vec<Condition>) -> Condition {
        flatten(items, Condition::Any, |c| match c {
            Condition::Any(inner) => Ok(inner),
            other => Err(other),
        })
    }
}

/// `decisive` is the value that settles the whole: `false` for `&&`, `true` for `||`.
fn combine(items: &[Condition], object: &Value, decisive: bool) -> Result<bool, EvalError> {
    let mut first_error = None;
    for item in items {
        match item.evaluate(object) {
            Ok(value) if value == decisive => return Ok(decisive),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(!decisive), Err)
}

/// Merges directly nested groups of the same kind so `a && (b && c)` equals `a && b && c`.
fn flatten(
    items: Vec<Condition>,
    make: fn(Vec<Condition>) -> Condition,
    same_kind: fn(Condition) -> Result<Vec<Condition>, Condition>,
) -> Condition {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match same_kind(item) {
            Ok(inner) => flat.extend(inner),
            Err(other) => flat.push(other),
        }
    }
    if flat.len() == 1
        && let Some(only) = flat.pop()
    {
        return only;
    }
    make(flat)
}

impl Comparison {
    fn evaluate(&self, object: &Value) -> Result<bool, EvalError> {
        let left = self.left.resolve(object)?;
        let right = self.right.resolve(object)?;
        let number = |scalar: &Scalar, operand: &Operand| match scalar.kind {
            Loose::Number(n) => Ok(n),
            _ => Err(EvalError::NotANumber {
                op: self.op,
                operand: operand.to_string(),
                value: scalar.text.clone(),
            }),
        };
        let equal = || match (&left.kind, &right.kind) {
            (Loose::Number(a), Loose::Number(b)) => a == b,
            (Loose::Bool(a), Loose::Bool(b)) => a == b,
            _ => left.text == right.text,
        };
        Ok(match self.op {
            CmpOp::Eq => equal(),
            CmpOp::Ne => !equal(),
            ordering => {
                let (a, b) = (number(&left, &self.left)?, number(&right, &self.right)?);
                match ordering {
                    CmpOp::Gt => a > b,
                    CmpOp::Ge => a >= b,
                    CmpOp::Lt => a < b,
                    _ => a <= b,
                }
            }
        })
    }
}

/// An operand's value: its text, and what that text means under Ramen's loose typing.
struct Scalar {
    text: String,
    kind: Loose,
}

enum Loose {
    Number(f64),
    Bool(bool),
    Text,
}

impl Scalar {
    fn from_text(text: String) -> Scalar {
        let kind = if let Some(n) = as_number(&text) {
            Loose::Number(n)
        } else if text.eq_ignore_ascii_case("true") {
            Loose::Bool(true)
        } else if text.eq_ignore_ascii_case("false") {
            Loose::Bool(false)
        } else {
            Loose::Text
        };
        Scalar { text, kind }
    }
}

fn as_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

impl Operand {
    fn resolve(&self, object: &Value) -> Result<Scalar, EvalError> {
        let query = match self {
            Operand::Literal(text) => return Ok(Scalar::from_text(text.clone())),
            Operand::Path(query) => query,
        };
        let path = || self.to_string();
        let value = query
            .path
            .query(object)
            .first()
            .ok_or_else(|| EvalError::MatchedNothing { path: path() })?;
        let not_scalar = |kind| EvalError::NotScalar { path: path(), kind };
        match value {
            Value::String(s) => Ok(Scalar::from_text(s.clone())),
            Value::Number(n) => Ok(Scalar {
                text: n.to_string(),
                kind: n.as_f64().map_or(Loose::Text, Loose::Number),
            }),
            Value::Bool(b) => Ok(Scalar {
                text: b.to_string(),
                kind: Loose::Bool(*b),
            }),
            Value::Null => Err(not_scalar("null")),
            Value::Array(_) => Err(not_scalar("an array")),
            Value::Object(_) => Err(not_scalar("an object")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Display: the canonical form.

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare(c) => write!(f, "{c}"),
            Self::Any(items) => join(f, items, " || ", |_| false),
            Self::All(items) => join(f, items, " && ", |c| matches!(c, Condition::Any(_))),
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[Condition],
    separator: &str,
    needs_parens: fn(&Condition) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op, self.right)
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        })
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(query) => write!(f, "{{{}}}", query.text),
            Self::Literal(text) if reads_back_unquoted(text) => write!(f, "{{{text}}}"),
            Self::Literal(text) => {
                f.write_str("{\"")?;
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"}")
            }
        }
    }
}

/// Whether `{text}` parses back as this same literal.
fn reads_back_unquoted(text: &str) -> bool {
    if as_number(text).is_some() {
        return true;
    }
    !text.is_empty()
        && text.trim() == text
        && !text.starts_with(['$', '.'])
        && !text.contains(['{', '}', '\'', '"', '\\'])
}

// ---------------------------------------------------------------------------------------------
// Lexer.

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `{...}`, already turned into an operand.
    Operand(Operand),
    Op(CmpOp),
    And,
    Or,
    LParen,
    RParen,
    /// A character no token starts with; the parser reports it with what it expected there.
    Stray,
    End,
}

struct Token {
    kind: Kind,
    /// Byte range of the token in the source.
    start: usize,
    end: usize,
}

fn lex(src: &str) -> Result<Vec<Token>, ConditionError> {
    let mut tokens = Vec::new();
    let mut rest = src.char_indices().peekable();
    while let Some((start, c)) = rest.next() {
        let next = rest.peek().map(|&(_, n)| n);
        let two = |kind| (kind, start + 2);
        let (kind, end) = match (c, next) {
            _ if c.is_whitespace() => continue,
            ('{', _) => {
                let close = matching_brace(src, start)?;
                let operand = braced_operand(src, start + 1, close)?;
                (Kind::Operand(operand), close + 1)
            }
            ('}', _) => {
                return Err(ConditionError::UnbalancedBrace {
                    column: column(src, start),
                    detail: "this \"}\" has no matching \"{\"",
                });
            }
            ('\'' | '"', _) => {
                let (text, end) = quoted(src, start)?;
                (Kind::Operand(Operand::Literal(text)), end)
            }
            ('$' | '@', _) => {
                return Err(ConditionError::Unexpected {
                    found: format!("\"{c}\""),
                    column: column(src, start),
                    expected:
                        "a JSONPath operand to be written in braces, such as {$.status.phase}"
                            .to_string(),
                });
            }
            ('(', _) => (Kind::LParen, start + 1),
            (')', _) => (Kind::RParen, start + 1),
            ('&', Some('&')) => two(Kind::And),
            ('|', Some('|')) => two(Kind::Or),
            ('=', Some('=')) => two(Kind::Op(CmpOp::Eq)),
            ('!', Some('=')) => two(Kind::Op(CmpOp::Ne)),
            ('>', Some('=')) => two(Kind::Op(CmpOp::Ge)),
            ('<', Some('=')) => two(Kind::Op(CmpOp::Le)),
            ('>', _) => (Kind::Op(CmpOp::Gt), start + 1),
            ('<', _) => (Kind::Op(CmpOp::Lt), start + 1),
            _ if is_word_char(c) => {
                let end = src[start..]
                    .find(|ch: char| !is_word_char(ch))
                    .map_or(src.len(), |n| start + n);
                let word = src[start..end].to_string();
                (Kind::Operand(Operand::Literal(word)), end)
            }
            _ => (Kind::Stray, start + c.len_utf8()),
        };
        // Skip the characters the token consumed beyond its first.
        while rest.peek().is_some_and(|&(i, _)| i < end) {
            rest.next();
        }
        tokens.push(Token { kind, start, end });
    }
    tokens.push(Token {
        kind: Kind::End,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

/// Characters of a bare (unbraced) literal such as `True`, `2`, `-1.5`, `Running`.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+')
}

/// Byte index of the `}` closing the `{` at `open`, skipping braces inside quoted strings.
fn matching_brace(src: &str, open: usize) -> Result<usize, ConditionError> {
    let mut depth = 0usize;
    let mut quote: Option<(char, usize)> = None;
    let mut escaped = false;
    for (offset, c) in src[open..].char_indices() {
        let at = open + offset;
        if let Some((q, _)) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some((c, at)),
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(at);
                }
            }
            _ => {}
        }
    }
    Err(match quote {
        Some((quote, at)) => ConditionError::UnterminatedString {
            column: column(src, at),
            quote,
        },
        None => ConditionError::UnbalancedBrace {
            column: column(src, open),
            detail: "this \"{\" has no matching \"}\"",
        },
    })
}

/// The unescaped text of the string quoted at `open`, and the byte index just after it.
fn quoted(src: &str, open: usize) -> Result<(String, usize), ConditionError> {
    let mut chars = src[open..].char_indices();
    let quote = chars.next().map_or('"', |(_, q)| q);
    let mut text = String::new();
    while let Some((offset, c)) = chars.next() {
        if c == quote {
            return Ok((text, open + offset + c.len_utf8()));
        }
        if c == '\\' {
            match chars.next() {
                Some((_, escaped)) => text.push(escaped),
                None => break,
            }
        } else {
            text.push(c);
        }
    }
    Err(ConditionError::UnterminatedString {
        column: column(src, open),
        quote,
    })
}

/// The operand between the braces at `src[start..close]`.
fn braced_operand(src: &str, start: usize, close: usize) -> Result<Operand, ConditionError> {
    let raw = &src[start..close];
    let content = raw.trim();
    // Byte index of `content` in `src`, for error columns.
    let at = start + (raw.len() - raw.trim_start().len());
    if content.is_empty() {
        return Err(ConditionError::EmptyOperand {
            column: column(src, start - 1),
        });
    }
    if as_number(content).is_some() {
        return Ok(Operand::Literal(content.to_string()));
    }
    if content.starts_with('$') {
        return query(src, at, content.to_string(), 0);
    }
    if content.starts_with('.') {
        return query(src, at, format!("${content}"), 1);
    }
    if content.starts_with(['\'', '"']) {
        let (text, end) = quoted(src, at)?;
        if end != at + content.len() {
            return Err(ConditionError::TextAfterQuote {
                column: column(src, end),
            });
        }
        return Ok(Operand::Literal(text));
    }
    Ok(Operand::Literal(content.to_string()))
}

/// Compiles a JSONPath found at byte `at`; `added` is how many characters we prefixed to it.
fn query(src: &str, at: usize, text: String, added: usize) -> Result<Operand, ConditionError> {
    match JsonPath::parse(&text) {
        Ok(path) => Ok(Operand::Path(Query { text, path })),
        Err(e) => {
            // The crate reports a byte offset into `text`; point at it when it is in the source.
            let offset = e.position().saturating_sub(added);
            let column = src
                .get(..at + offset)
                .map_or_else(|| column(src, at), |before| before.chars().count() + 1);
            Err(ConditionError::InvalidJsonPath {
                path: text,
                column,
                message: e.message().to_string(),
            })
        }
    }
}

/// 1-based character column of byte index `at`.
fn column(src: &str, at: usize) -> usize {
    src.get(..at).map_or(0, |before| before.chars().count()) + 1
}

// ---------------------------------------------------------------------------------------------
// Parser: `or := and ("||" and)*`, `and := primary ("&&" primary)*`,
// `primary := "(" or ")" | operand op operand`.

const OPERATORS: &str = "an operator (==, !=, >, >=, <, <=)";

/// Bounds the parser's recursion so a hostile condition cannot overflow the stack.
const MAX_NESTING: usize = 32;

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `lex` always ends the list with `End`, and `bump` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Kind {
        let kind = self.peek().kind.clone();
        if kind != Kind::End {
            self.pos += 1;
        }
        kind
    }

    fn unexpected(&self, expected: &str) -> ConditionError {
        let token = self.peek();
        let found = match token.kind {
            Kind::End => "end of condition".to_string(),
            _ => format!("{:?}", &self.src[token.start..token.end]),
        };
        ConditionError::Unexpected {
            found,
            column: column(self.src, token.start),
            expected: expected.to_string(),
        }
    }

    fn expect_end(&self, expected: &str) -> Result<(), ConditionError> {
        match self.peek().kind {
            Kind::End => Ok(()),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn parse_or(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.parse_and()?];
        while self.peek().kind == Kind::Or {
            self.bump();
            items.push(self.parse_and()?);
        }
        Ok(Condition::any(items))
    }

    fn parse_and(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.parse_primary()?];
        while self.peek().kind == Kind::And {
            self.bump();
            items.push(self.parse_primary()?);
        }
        Ok(Condition::all(items))
    }

    fn parse_primary(&mut self) -> Result<Condition, ConditionError> {
        if self.peek().kind == Kind::LParen {
            let open = self.peek().start;
            if self.depth == MAX_NESTING {
                return Err(ConditionError::TooDeep {
                    column: column(self.src, open),
                });
            }
            self.bump();
            self.depth += 1;
            let inner = self.parse_or()?;
            self.depth -= 1;
            if self.peek().kind != Kind::RParen {
                let expected = format!(
                    r#""&&", "||" or ")" to close the "(" at column {}"#,
                    column(self.src, open)
                );
                return Err(self.unexpected(&expected));
            }
            self.bump();
            return Ok(inner);
        }
        let left = self
            .operand(r#"a comparison: an operand such as {$.status.phase} or {Running}, or "(""#)?;
        let op = match self.peek().kind {
            Kind::Op(op) => op,
            Kind::End => {
                let expected = format!(
                    "{OPERATORS} after {left}: a condition is a comparison such as {left} == {{True}}"
                );
                return Err(self.unexpected(&expected));
            }
            _ => return Err(self.unexpected(OPERATORS)),
        };
        self.bump();
        let right = self.operand(&format!(
            "an operand after \"{op}\", such as {{$.spec.replicas}} or {{2}}"
        ))?;
        Ok(Condition::Compare(Comparison { left, op, right }))
    }

    fn operand(&mut self, expected: &str) -> Result<Operand, ConditionError> {
        match &self.peek().kind {
            Kind::Operand(operand) => {
                let operand = operand.clone();
                self.bump();
                Ok(operand)
            }
            _ => Err(self.unexpected(expected)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "busybox", "namespace": "app", "labels": {"app": "busybox"}},
            "spec": {"replicas": 3, "progressDeadlineSeconds": 600},
            "status": {
                "observedGeneration": 2,
                "replicas": 3,
                "readyReplicas": 3,
                "availableReplicas": 3,
                "updatedReplicas": 3,
                "conditions": [
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                     "message": "ReplicaSet \"busybox-5d4\" has {successfully} progressed."},
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
                ]
            }
        })
    }

    fn statefulset() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "app"},
            "spec": {"replicas": 3, "serviceName": "db"},
            "status": {"replicas": 3, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 3}
        })
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "db-0", "namespace": "app", "labels": {"app": "db"}},
            "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]},
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                    {"type": "PodScheduled", "status": "True"}
                ],
                "containerStatuses": [
                    {"name": "postgres", "ready": true, "restartCount": 2, "started": true}
                ]
            }
        })
    }

    fn cond(src: &str) -> Condition {
        parse(src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
    }

    fn eval(src: &str, object: &Value) -> Result<bool, EvalError> {
        cond(src).evaluate(object)
    }

    fn holds(src: &str, object: &Value) -> bool {
        eval(src, object).unwrap_or_else(|e| panic!("{src:?} should evaluate: {e}"))
    }

    fn parse_error(src: &str) -> String {
        match parse(src) {
            Ok(c) => panic!("{src:?} should not parse, got {c}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn ramen_examples() {
        let (dep, sts, pod) = (deployment(), statefulset(), pod());
        assert!(holds("{$.spec.replicas} == {$.status.readyReplicas}", &dep));
        assert!(holds("{$.status.readyReplicas} == {$.spec.replicas}", &dep));
        assert!(!holds(
            "{$.spec.replicas} == {$.status.readyReplicas}",
            &sts
        ));
        assert!(holds(
            "{$.status.readyReplicas} == {$.status.currentReplicas}",
            &sts
        ));
        assert!(holds(
            "{$.status.containerStatuses[0].ready} == {True}",
            &pod
        ));
        assert!(holds("{$.status.conditions[0].status} == True", &dep));
        assert!(holds("{$.status.conditions[0].status} == {True}", &dep));
        assert!(holds(
            r#"{$.status.conditions[0].status} == {"True"}"#,
            &dep
        ));
        assert!(holds("{$.spec.replicas} == 3", &dep));
        assert!(holds("{$.spec.replicas} == {3}", &dep));
        assert!(holds("{.spec.replicas} == {3}", &dep));
        assert!(holds("{$.status.phase} == {'Running'}", &pod));
        assert!(holds("{$.status.phase} == 'Running'", &pod));
        assert!(holds("{$.status.conditions[0].type} == {'Ready'}", &pod));
        assert!(holds(
            "{$.status.containerStatuses[0].restartCount} == 2",
            &pod
        ));
    }

    #[test]
    fn brief_examples() {
        let dep = deployment();
        assert!(holds("{$.status.readyReplicas} == {$.spec.replicas}", &dep));
        let available = r#"{$.status.availableReplicas} >= {1} && {$.status.conditions[?(@.type=="Available")].status} == {True}"#;
        assert!(holds(available, &dep));
        let mut down = dep.clone();
        down["status"]["conditions"][1]["status"] = json!("False");
        assert!(!holds(available, &down));
    }

    #[test]
    fn parenthesised_filter_is_rfc9535() {
        // kubectl-style `[?(...)]` is a parenthesised logical expression in RFC 9535.
        let c = cond(r#"{$.status.conditions[?(@.type=="Ready")].status} == {True}"#);
        assert!(matches!(c.evaluate(&pod()), Ok(true)));
        assert!(holds(
            "{$.status.conditions[?@.type=='PodScheduled'].status} == {True}",
            &pod()
        ));
    }

    #[test]
    fn braces_and_quotes_inside_jsonpath() {
        let dep = deployment();
        let src = r#"{$.status.conditions[?(@.message=="ReplicaSet \"busybox-5d4\" has {successfully} progressed.")].type} == {Progressing}"#;
        assert!(holds(src, &dep));
        assert!(holds("{$.metadata.labels['app']} == {busybox}", &dep));
        assert!(matches!(
            eval("{$.status.conditions[?(@.reason=='}')].type} == {x}", &dep),
            Err(EvalError::MatchedNothing { .. })
        ));
    }

    #[test]
    fn every_operator() {
        let dep = deployment();
        let cases = [
            ("==", [false, true, false]),
            ("!=", [true, false, true]),
            (">", [true, false, false]),
            (">=", [true, true, false]),
            ("<", [false, false, true]),
            ("<=", [false, true, true]),
        ];
        for (op, expected) in cases {
            for (rhs, want) in ["2", "3", "4.5"].into_iter().zip(expected) {
                let src = format!("{{$.status.readyReplicas}} {op} {{{rhs}}}");
                assert_eq!(holds(&src, &dep), want, "{src}");
            }
        }
        // Numbers compare numerically whatever their spelling; numeric strings count as numbers.
        assert!(holds("{$.spec.replicas} == {3.0}", &dep));
        assert!(holds("{$.spec.replicas} == {3e0}", &dep));
        assert!(holds("{10} > {9}", &dep));
        assert!(holds("{'10'} > {9}", &dep));
        assert!(holds("{-1} < {0.5}", &dep));
    }

    #[test]
    fn booleans_and_strings() {
        let (dep, pod) = (deployment(), pod());
        // JSON booleans and Kubernetes' "True"/"False" strings both compare to True/False.
        assert!(holds(
            "{$.status.containerStatuses[0].ready} == {true}",
            &pod
        ));
        assert!(holds(
            "{$.status.containerStatuses[0].ready} != {False}",
            &pod
        ));
        assert!(holds("{$.status.conditions[0].status} == {true}", &dep));
        assert!(holds(
            "{$.status.conditions[0].status} == {$.status.containerStatuses[0].ready}",
            &pod
        ));
        // Otherwise text: a mismatch of kinds is simply unequal.
        assert!(!holds("{$.spec.replicas} == {Running}", &dep));
        assert!(holds("{$.spec.replicas} != {Running}", &dep));
        assert!(holds("{$.status.phase} != {Pending}", &pod));
        assert!(!holds("{$.status.phase} == {running}", &pod));
        assert!(holds("{$.spec.containers[0].image} == {postgres:16}", &pod));
        assert!(holds("{$.spec.containers[0].image} == 'postgres:16'", &pod));
        assert!(holds("{$.metadata.name} == {'db-0'}", &pod));
        assert!(holds("{$.metadata.name} == db-0", &pod));
    }

    #[test]
    fn type_mismatches_are_errors_for_orderings() {
        let (dep, pod) = (deployment(), pod());
        assert_eq!(
            eval("{$.status.phase} > {1}", &pod).map_err(|e| e.to_string()),
            Err(r#"> compares numbers, but {$.status.phase} is "Running""#.to_string())
        );
        assert!(matches!(
            eval("{$.spec.replicas} <= {abc}", &dep),
            Err(EvalError::NotANumber { .. })
        ));
        assert!(matches!(
            eval("{$.status.containerStatuses[0].ready} >= {1}", &pod),
            Err(EvalError::NotANumber { .. })
        ));
        assert_eq!(
            eval("{$.metadata.labels} == {x}", &dep).map_err(|e| e.to_string()),
            Err(
                "{$.metadata.labels} is an object, which cannot be compared; \
                 point the JSONPath at a single field"
                    .to_string()
            )
        );
        assert!(matches!(
            eval("{$.status.conditions} == {x}", &dep),
            Err(EvalError::NotScalar {
                kind: "an array",
                ..
            })
        ));
        assert!(matches!(
            eval("{$.x} == {x}", &json!({"x": null})),
            Err(EvalError::NotScalar { kind: "null", .. })
        ));
    }

    #[test]
    fn missing_and_multiple_matches() {
        let (sts, dep) = (statefulset(), deployment());
        assert_eq!(
            eval("{$.status.availableReplicas} >= {1}", &sts).map_err(|e| e.to_string()),
            Err("{$.status.availableReplicas} matched nothing".to_string())
        );
        // Several matches: the first one is compared.
        assert!(holds(
            "{$.status.conditions[*].type} == {Progressing}",
            &dep
        ));
        assert!(holds("{$.status.conditions[*].status} == {True}", &dep));
    }

    #[test]
    fn precedence_parentheses_and_errors_in_groups() {
        let dep = deployment();
        let (t, f) = ("{1} == {1}", "{1} == {2}");
        assert!(holds(&format!("{f} && {f} || {t}"), &dep));
        assert!(holds(&format!("{t} || {f} && {f}"), &dep));
        assert!(!holds(&format!("({t} || {f}) && {f}"), &dep));
        assert!(holds(&format!("{t} && ({f} || {t})"), &dep));
        assert!(!holds(&format!("(({f}))"), &dep));
        let missing = "{$.nope} == {1}";
        assert!(holds(&format!("{missing} || {t}"), &dep));
        assert!(!holds(&format!("{missing} && {f}"), &dep));
        assert!(matches!(
            eval(&format!("{t} && {missing}"), &dep),
            Err(EvalError::MatchedNothing { .. })
        ));
        assert!(matches!(
            eval(&format!("{f} || {missing}"), &dep),
            Err(EvalError::MatchedNothing { .. })
        ));
    }

    #[test]
    fn canonical_display() {
        let cases = [
            (
                "{ .spec.replicas }=={$.status.readyReplicas}",
                "{$.spec.replicas} == {$.status.readyReplicas}",
            ),
            ("{$.a} == True", "{$.a} == {True}"),
            ("{$.a} == 'Not Ready'", "{$.a} == {Not Ready}"),
            (r#"{$.a} == {"it's"}"#, r#"{$.a} == {"it's"}"#),
            ("{$.a} == {'.x'}", r#"{$.a} == {".x"}"#),
            ("{$.a} == {''}", r#"{$.a} == {""}"#),
            ("{$.a}=={.5}", "{$.a} == {.5}"),
            (
                "({$.a}=={1}||{$.b}<{2})&&{$.c}!={3}",
                "({$.a} == {1} || {$.b} < {2}) && {$.c} != {3}",
            ),
            (
                "{$.a}=={1}||({$.b}<{2}&&({$.c}>={3}))",
                "{$.a} == {1} || {$.b} < {2} && {$.c} >= {3}",
            ),
            (
                "{$.a}=={1} && ({$.b}<={2} && {$.c}>{3})",
                "{$.a} == {1} && {$.b} <= {2} && {$.c} > {3}",
            ),
        ];
        for (src, canonical) in cases {
            let c = cond(src);
            assert_eq!(c.to_string(), canonical, "{src}");
            assert_eq!(cond(canonical), c, "{src}");
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                "{$.status.readyReplicas} = {1}",
                r#"unexpected "=" at column 26: expected an operator (==, !=, >, >=, <, <=)"#,
            ),
            (
                "{$.a}",
                "unexpected end of condition at column 6: expected an operator (==, !=, >, >=, <, <=) \
                 after {$.a}: a condition is a comparison such as {$.a} == {True}",
            ),
            (
                "{$.a} == {1} &&",
                "unexpected end of condition at column 16: expected a comparison: an operand such as \
                 {$.status.phase} or {Running}, or \"(\"",
            ),
            (
                "{$.a} == {1} && || {$.b} == {2}",
                "unexpected \"||\" at column 17: expected a comparison: an operand such as \
                 {$.status.phase} or {Running}, or \"(\"",
            ),
            (
                "{$.a} ==",
                "unexpected end of condition at column 9: expected an operand after \"==\", such as \
                 {$.spec.replicas} or {2}",
            ),
            (
                "{$.a} === {1}",
                "unexpected \"=\" at column 9: expected an operand after \"==\", such as \
                 {$.spec.replicas} or {2}",
            ),
            (
                "{$.a} == {1} {2}",
                r#"unexpected "{2}" at column 14: expected "&&", "||" or the end of the condition"#,
            ),
            (
                "{$.a} == {1} & {$.b} == {2}",
                r#"unexpected "&" at column 14: expected "&&", "||" or the end of the condition"#,
            ),
            (
                "{$.a} == {1} == {2}",
                r#"unexpected "==" at column 14: expected "&&", "||" or the end of the condition"#,
            ),
            (
                "({$.a} == {1}",
                r#"unexpected end of condition at column 14: expected "&&", "||" or ")" to close the "(" at column 1"#,
            ),
            (
                "{$.a} == {1})",
                r#"unexpected ")" at column 13: expected "&&", "||" or the end of the condition"#,
            ),
            (
                "{$.a == {1}",
                r#"unbalanced brace at column 1: this "{" has no matching "}""#,
            ),
            (
                "{$.a} == {1}}",
                r#"unbalanced brace at column 13: this "}" has no matching "{""#,
            ),
            (
                "{} == {1}",
                "empty operand at column 1: expected a JSONPath such as {$.status.phase} or a \
                 literal such as {Running}",
            ),
            (
                "{$.a} == {   }",
                "empty operand at column 10: expected a JSONPath such as {$.status.phase} or a \
                 literal such as {Running}",
            ),
            (
                r#"{$.a[?(@.b=="x)]} == {1}"#,
                r#"unterminated string at column 13: the " is never closed"#,
            ),
            (
                "{$.a} == 'x",
                "unterminated string at column 10: the ' is never closed",
            ),
            (
                "{$.a} == {'x' y}",
                "unexpected text after the quoted literal at column 14",
            ),
            (
                "$.a == 1",
                r#"unexpected "$" at column 1: expected a JSONPath operand to be written in braces, such as {$.status.phase}"#,
            ),
            (
                "{$.a} ≠ {1}",
                r#"unexpected "≠" at column 7: expected an operator (==, !=, >, >=, <, <=)"#,
            ),
            (
                "",
                "condition is empty: expected a comparison such as \
                 {$.status.readyReplicas} == {$.spec.replicas}",
            ),
        ];
        for (src, message) in cases {
            assert_eq!(parse_error(src), message, "{src}");
        }
        assert_eq!(parse("  \n "), Err(ConditionError::Empty));
        let deep = format!(
            "{}{{1}} == {{1}}{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert_eq!(parse(&deep), Err(ConditionError::TooDeep { column: 33 }));
        let fine = format!("{}{{1}} == {{1}}{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(
            parse(&fine).map(|c| c.to_string()),
            Ok("{1} == {1}".to_string())
        );
    }

    #[test]
    fn invalid_jsonpath_reports_the_crate_message() {
        for src in [
            "{$.a[} == {1}",
            "{$.status..} == {1}",
            "{.a[?(@.b==)]} == {1}",
        ] {
            match parse(src) {
                Err(e @ ConditionError::InvalidJsonPath { .. }) => {
                    let column = e.column();
                    assert!((2..=src.len()).contains(&column), "{src}: {e}");
                    assert!(e.to_string().starts_with("invalid JSONPath \"$."), "{e}");
                }
                other => panic!("{src}: expected an invalid JSONPath, got {other:?}"),
            }
        }
        // The column points into the path, past the `$` we add for kubectl-style paths.
        for src in ["{.a.%} == {1}", "{$.a.%} == {1}", "{ $.a.%} == {1}"] {
            let e = parse(src).err();
            let percent = src.find('%').map(|i| i + 1);
            assert_eq!(e.as_ref().map(ConditionError::column), percent, "{e:?}");
        }
    }

    // A generator of valid conditions with varied spelling: spacing, bare and quoted literals,
    // kubectl-style paths, redundant parentheses.
    fn operand() -> impl Strategy<Value = String> {
        let paths = prop::sample::select(vec![
            "{$.status.readyReplicas}",
            "{.spec.replicas}",
            "{ $.status.conditions[0].status }",
            r#"{$.status.conditions[?(@.type=="Available")].status}"#,
            "{$.d[?(@.n=='}{')].v}",
            "{$['a b']}",
        ])
        .prop_map(String::from);
        let escape = |s: String| s.replace('\\', "\\\\").replace('"', "\\\"");
        prop_oneof![
            paths,
            "[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,7}".prop_map(|w| format!("{{{w}}}")),
            "[A-Za-z0-9_.+-]{1,8}",
            any::<String>().prop_map(move |s| format!("{{\"{}\"}}", escape(s))),
            "[^'\\\\]{0,8}".prop_map(|s| format!("'{s}'")),
            "-?[0-9]{1,3}(\\.[0-9]{1,2})?".prop_map(|n| format!("{{{n}}}")),
        ]
    }

    fn condition_source() -> impl Strategy<Value = String> {
        let ws = || "[ \t\n]{0,2}";
        let op = prop::sample::select(vec!["==", "!=", ">", ">=", "<", "<="]);
        let leaf = (operand(), ws(), op, ws(), operand())
            .prop_map(|(l, w1, op, w2, r)| format!("{l}{w1}{op}{w2}{r}"));
        leaf.prop_recursive(4, 24, 2, move |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    ws(),
                    prop::sample::select(vec!["&&", "||"]),
                    ws(),
                    inner.clone()
                )
                    .prop_map(|(a, w1, op, w2, b)| format!("{a}{w1}{op}{w2}{b}")),
                (ws(), inner, ws()).prop_map(|(w1, c, w2)| format!("({w1}{c}{w2})")),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics(src in any::<String>()) {
            let _ = parse(&src);
        }

        #[test]
        fn parse_never_panics_on_condition_like_text(src in "[{}()$.@a-z0-9 '\"\\\\=!<>&|\\[\\]?*]{0,40}") {
            if let Err(e) = parse(&src) {
                prop_assert!(e.column() >= 1 && e.column() <= src.chars().count() + 1);
            }
        }

        #[test]
        fn display_parses_back(src in condition_source()) {
            let parsed = parse(&src);
            prop_assert!(parsed.is_ok(), "{:?}: {:?}", src, parsed);
            let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let canonical = parsed.to_string();
            prop_assert_eq!(parse(&canonical), Ok(parsed), "{}", canonical);
        }

        #[test]
        fn evaluation_never_panics(src in condition_source()) {
            if let Ok(c) = parse(&src) {
                let _ = c.evaluate(&deployment());
            }
        }
    }
}
