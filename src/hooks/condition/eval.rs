//! Evaluation against one object, with Ramen's loose typing of the compared values.

use serde_json::Value;

use super::{CmpOp, Comparison, Condition, EvalError, Operand};

impl Condition {
    /// Evaluates the condition against one object (a Pod, Deployment, ... as JSON).
    pub fn evaluate(&self, object: &Value) -> Result<bool, EvalError> {
        match self {
            Self::Compare(comparison) => comparison.evaluate(object),
            Self::All(items) => combine(items, object, false),
            Self::Any(items) => combine(items, object, true),
        }
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

impl Comparison {
    fn evaluate(&self, object: &Value) -> Result<bool, EvalError> {
        let left = self.left.resolve(object)?;
        let right = self.right.resolve(object)?;
        let number = |scalar: &Scalar, operand: &Operand| match scalar.kind {
            Loose::Number(n) => Ok(n),
            _ => Err(EvalError::NotANumber {
                op: self.op,
                operand: operand.to_string(),
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

/// The number `text` spells, if it is a finite one; the lexer and `Display` use the same rule.
pub(super) fn as_number(text: &str) -> Option<f64> {
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
