//! Turning an exec op's `command` into argv.
//!
//! A command that starts with `[` is a JSON array of strings and is taken as argv verbatim.
//! Anything else is split into words the way a POSIX shell would (quotes, backslashes), but no
//! shell runs and nothing is expanded: `$HOME`, `*` and `~` stay literal. A user who wants a shell
//! writes one (`/bin/sh -c "..."`). Like a shell, a word that starts with `#` begins a comment.

use thiserror::Error;

/// Why a `command` cannot become argv.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("command is empty")]
    Empty,
    #[error("command is an empty JSON array")]
    EmptyArray,
    #[error("command starts with \"[\" but is not a JSON array of strings: {0}")]
    InvalidJson(String),
    #[error("element {index} of the command's JSON array is {found}, not a string")]
    NotAString { index: usize, found: &'static str },
    #[error("command's program (its first word) is an empty string")]
    EmptyProgram,
    #[error("command has an unclosed quote")]
    UnbalancedQuote,
}

/// Splits `command` into argv without running a shell; see the module docs.
pub fn split(command: &str) -> Result<Vec<String>, CommandError> {
    let trimmed = command.trim();
    if trimmed.is_empty() {
        return Err(CommandError::Empty);
    }
    let argv = if trimmed.starts_with('[') {
        json_argv(trimmed)?
    } else {
        let words = shell_words::split(command).map_err(|_| CommandError::UnbalancedQuote)?;
        // Only a comment, e.g. `# nothing`.
        if words.is_empty() {
            return Err(CommandError::Empty);
        }
        words
    };
    // exec of an empty program name can only fail, and later and less clearly.
    if argv.first().is_some_and(String::is_empty) {
        return Err(CommandError::EmptyProgram);
    }
    Ok(argv)
}

fn json_argv(text: &str) -> Result<Vec<String>, CommandError> {
    let items: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| CommandError::InvalidJson(e.to_string()))?;
    if items.is_empty() {
        return Err(CommandError::EmptyArray);
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| match item {
            serde_json::Value::String(s) => Ok(s),
            other => Err(CommandError::NotAString {
                index,
                found: json_kind(&other),
            }),
        })
        .collect()
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(command: &str) -> Vec<String> {
        match split(command) {
            Ok(argv) => argv,
            Err(e) => panic!("{command:?} should split, got {e}"),
        }
    }

    #[test]
    fn json_array_is_argv() {
        assert_eq!(
            ok(r#"["sudo","find","/tmp","-maxdepth","1"]"#),
            ["sudo", "find", "/tmp", "-maxdepth", "1"]
        );
        // Leading whitespace, and words with spaces and quotes kept whole.
        assert_eq!(
            ok(r#"  ["/bin/sh", "-c", "echo \"a b\"; echo $HOME"]"#),
            ["/bin/sh", "-c", r#"echo "a b"; echo $HOME"#]
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(
            ok(r#"/bin/sh -c "echo a; echo b""#),
            ["/bin/sh", "-c", "echo a; echo b"]
        );
        assert_eq!(
            ok("sh -c 'echo $HOME stays literal'"),
            ["sh", "-c", "echo $HOME stays literal"]
        );
        assert_eq!(
            ok(r#"sh -c "echo $HOME and \"quoted\" text""#),
            ["sh", "-c", r#"echo $HOME and "quoted" text"#]
        );
        assert_eq!(ok("echo    hello     world"), ["echo", "hello", "world"]);
    }

    #[test]
    fn backslashes() {
        assert_eq!(
            ok(r#"echo hello\ world "test\"quote""#),
            ["echo", "hello world", r#"test"quote"#]
        );
        // find's `\;` becomes a lone `;`, not a command separator.
        assert_eq!(
            ok(r#"find /tmp -name "*.txt" -exec rm {} \;"#),
            ["find", "/tmp", "-name", "*.txt", "-exec", "rm", "{}", ";"]
        );
        // A trailing backslash stays literal, as in `sh -c`.
        assert_eq!(ok(r"echo \"), ["echo", r"\"]);
        // Inside single quotes a backslash is literal; `'\''` is the usual way to embed a quote.
        assert_eq!(ok(r"echo 'a\b' 'it'\''s'"), ["echo", r"a\b", "it's"]);
    }

    #[test]
    fn nothing_is_expanded() {
        assert_eq!(
            ok("echo $HOME ~ * $(id -u) `date`"),
            ["echo", "$HOME", "~", "*", "$(id", "-u)", "`date`"]
        );
    }

    #[test]
    fn ramen_nested_quotes() {
        let argv =
            ok(r#"sudo find /mnt/m -type l -exec sh -c 'ln -snf "$(readlink -f "{}")" "{}"' \;"#);
        assert_eq!(argv.last().map(String::as_str), Some(";"));
        let script = argv.iter().position(|a| a == "-c").map(|i| &argv[i + 1]);
        assert_eq!(
            script.map(String::as_str),
            Some(r#"ln -snf "$(readlink -f "{}")" "{}""#)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(split(""), Err(CommandError::Empty));
        assert_eq!(split("   \n\t"), Err(CommandError::Empty));
        assert_eq!(split("# only a comment"), Err(CommandError::Empty));
        assert_eq!(split("[]"), Err(CommandError::EmptyArray));
        assert_eq!(split(" [ ] "), Err(CommandError::EmptyArray));
        assert_eq!(split(r#"[""]"#), Err(CommandError::EmptyProgram));
        assert_eq!(split("'' arg"), Err(CommandError::EmptyProgram));
        assert_eq!(
            split(r#"["ls", 1]"#),
            Err(CommandError::NotAString {
                index: 1,
                found: "a number"
            })
        );
        assert_eq!(split("echo 'broken"), Err(CommandError::UnbalancedQuote));
        assert_eq!(split(r#"echo "broken"#), Err(CommandError::UnbalancedQuote));
        assert_eq!(split(r#"echo "a\"#), Err(CommandError::UnbalancedQuote));
        for bad in [
            "[not json]",
            r#"["sudo", "find",]"#,
            "[true false]",
            "[1,2,3,]",
        ] {
            assert!(
                matches!(split(bad), Err(CommandError::InvalidJson(_))),
                "{bad}"
            );
        }
        let message = split(r#"["ls", null]"#).map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("element 1 of the command's JSON array is null, not a string".to_string())
        );
    }

    proptest! {
        #[test]
        fn split_never_panics(command in any::<String>()) {
            let _ = split(&command);
        }

        #[test]
        fn json_argv_round_trips(
            program in ".*[^\\s].*",
            args in prop::collection::vec(any::<String>(), 0..6),
        ) {
            let mut argv = vec![program];
            argv.extend(args);
            let json = serde_json::to_string(&argv).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(split(&json), Ok(argv));
        }

        #[test]
        fn shell_quoted_argv_round_trips(
            program in "[^\\s]+",
            args in prop::collection::vec(any::<String>(), 0..6),
        ) {
            let mut argv = vec![program];
            argv.extend(args);
            prop_assert_eq!(split(&shell_words::join(&argv)), Ok(argv));
        }
    }
}
