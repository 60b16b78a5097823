//! The parser: tokens to the AST, by recursive descent with bounded nesting.
//!
//! `or := and ("||" and)*`, `and := primary ("&&" primary)*`,
//! `primary := "(" or ")" | operand op operand`.
//!
//! Errors name what was found, its column, and what was expected there.

use super::lexer::{Kind, Token, column};
use super::{Comparison, Condition, ConditionError, Operand};

/// Parses the tokens `lex` made of `src` into a condition.
pub(super) fn parse_tokens(src: &str, tokens: Vec<Token>) -> Result<Condition, ConditionError> {
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

const OPERATORS: &str = "an operator (==, !=, >, >=, <, <=)";

/// Bounds the parser's recursion so a hostile condition cannot overflow the stack.
pub(super) const MAX_NESTING: usize = 32;

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

impl Condition {
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

#[cfg(test)]
mod tests {
    use super::super::tests::parse_error;
    use super::super::{ConditionError, parse};

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
}
