//! `Display`: the canonical form of a condition, which parses back to the same AST.

use std::fmt;

use super::eval::as_number;
use super::{CmpOp, Comparison, Condition, Operand};

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

#[cfg(test)]
mod tests {
    use super::super::tests::cond;

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
}
