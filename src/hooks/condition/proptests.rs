//! Property tests: parsing never panics, reports columns inside the source, and the canonical
//! form parses back to the same AST; evaluation never panics.

use proptest::prelude::*;

use super::parse;
use super::tests::deployment;

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
