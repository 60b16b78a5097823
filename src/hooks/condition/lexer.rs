//! The lexer: source text to tokens. Braces are matched with quotes tracked, so a `}` inside a
//! quoted string in a JSONPath filter does not close the operand; each operand is resolved (JSONPath
//! compiled, quotes removed) as it is lexed, and every error carries its source column.

use serde_json_path::JsonPath;

use super::eval::as_number;
use super::{CmpOp, ConditionError, Operand, Query};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
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

pub(super) struct Token {
    pub(super) kind: Kind,
    /// Byte range of the token in the source.
    pub(super) start: usize,
    pub(super) end: usize,
}

/// The tokens of `src`, always ending with [`Kind::End`].
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ConditionError> {
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
pub(super) fn column(src: &str, at: usize) -> usize {
    src.get(..at).map_or(0, |before| before.chars().count()) + 1
}

#[cfg(test)]
mod tests {
    use super::super::{ConditionError, parse};

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
}
