//! The reader against hand-picked cases and, by property, against serde_json.

use proptest::prelude::*;

use super::*;

/// Whether the reader takes `text` as exactly one JSON document.
fn accepts(text: &str) -> bool {
    let mut r = Reader::new(text);
    r.skip_value().is_ok() && {
        r.skip_ws();
        r.pos() == text.len()
    }
}

fn json_piece() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud83d", "\\ude00", "\\n", "\\x", "0",
        "1", "-", ".", "e", "+", "E", "true", "false", "null", "tru", " ", "\n", "\t", "a",
        "\u{e9}", "\u{1}", "\"k\":", "12.5e-3",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn accepts_exactly_what_serde_json_accepts(pieces in proptest::collection::vec(json_piece(), 0..24)) {
        let text = pieces.concat();
        let reference = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
        prop_assert_eq!(accepts(&text), reference, "{:?}", text);
    }

    #[test]
    fn decodes_strings_as_serde_json_does(pieces in proptest::collection::vec(json_piece(), 0..12)) {
        let text = format!("\"{}\"", pieces.concat());
        if let Ok(reference) = serde_json::from_str::<String>(&text) {
            prop_assert_eq!(Reader::new(&text).string().unwrap(), reference);
        }
    }

    #[test]
    fn reads_back_any_string_serde_json_writes(original in any::<String>()) {
        let text = serde_json::to_string(&original).unwrap();
        prop_assert_eq!(Reader::new(&text).string().unwrap(), original);
    }
}

fn skip(text: &str) -> Parsed<usize> {
    let mut r = Reader::new(text);
    r.skip_value()?;
    Ok(r.pos())
}

#[test]
fn unescaped_strings_are_borrowed_and_escaped_ones_decoded() {
    let mut r = Reader::new(r#""plain text" "a\"b\\c\/\n\u00e9\ud83d\ude00""#);
    assert!(matches!(r.string().unwrap(), Cow::Borrowed("plain text")));
    let decoded = r.string().unwrap();
    assert!(matches!(decoded, Cow::Owned(_)));
    assert_eq!(decoded, "a\"b\\c/\né😀");
}

#[test]
fn lone_surrogates_become_replacement_characters() {
    let mut r = Reader::new(r#""\ud800x\udc00\ud800\u0041""#);
    assert_eq!(r.string().unwrap(), "\u{fffd}x\u{fffd}\u{fffd}A");
}

#[test]
fn stops_plain_runs_at_quotes_backslashes_and_controls_at_every_offset() {
    for len in 0..20 {
        let body = "é".repeat(len / 2) + &"a".repeat(len % 2);
        for stop in ["\"", "\\", "\u{1}"] {
            let text = format!("{body}{stop}tail");
            assert_eq!(scan_plain(text.as_bytes(), 0), body.len(), "{text:?}");
        }
    }
}

#[test]
fn rejects_raw_control_characters_in_strings() {
    let err = Reader::new("\"a\tb\"").string().unwrap_err();
    assert_eq!(err.at, 2);
}

#[test]
fn numbers_follow_the_json_grammar() {
    for ok in ["0", "-0", "12", "-3.25", "1e5", "1E+5", "2.5e-3"] {
        assert_eq!(skip(ok), Ok(ok.len()), "{ok}");
    }
    for bad in ["-", "+1", ".5", "1.", "1e", "1e+", "-a"] {
        assert!(skip(bad).is_err(), "{bad}");
    }
    // A leading zero ends the number; the caller then sees an unexpected `1`.
    assert_eq!(skip("01"), Ok(1));
}

#[test]
fn converts_numbers_exactly() {
    fn num(text: &str) -> Number<'_> {
        Reader::new(text).number().unwrap()
    }
    assert_eq!(num("1700000000000").to_i64(), Some(1_700_000_000_000));
    assert_eq!(num("-42").to_f64(), -42.0);
    assert_eq!(num("9223372036854775807").to_i64(), Some(i64::MAX));
    assert_eq!(num("9223372036854775808").to_i64(), None);
    assert_eq!(num("0.1").to_f64(), 0.1);
    assert!(num("1e999").to_f64().is_infinite());
    assert_eq!(num("1.5").to_i64(), None);
}

#[test]
fn skips_nested_values_and_reports_where_they_break() {
    let text = r#"{"a": [1, {"b": null}, "x", true], "c": {}} tail"#;
    assert_eq!(skip(text), Ok(text.len() - 5));
    assert_eq!(
        skip(r#"{"a" 1}"#),
        Err(Syntax {
            at: 5,
            what: "expected `:`"
        })
    );
    assert_eq!(skip("[1,]").unwrap_err().what, "expected a json value");
    assert_eq!(
        skip("{\"a\":1,}").unwrap_err().what,
        "expected a string key"
    );
    assert_eq!(skip("[1 2]").unwrap_err().what, "expected `,` or `]`");
}

#[test]
fn limits_nesting_depth() {
    let nested = |depth: usize| "[".repeat(depth) + "0" + &"]".repeat(depth);
    assert!(skip(&nested(128)).is_ok());
    let deep = nested(129);
    assert_eq!(
        skip(&deep).unwrap_err().what,
        "nesting deeper than 128 levels"
    );
    // Far deeper than any stack would allow for a recursive reader.
    assert!(skip(&"[".repeat(1_000_000)).is_err());
}

#[test]
fn reads_object_keys_in_order() {
    let mut r = Reader::new(r#" { "a" : 1 , "b\u0063": "x" } "#);
    r.begin_object().unwrap();
    let mut first = true;
    assert_eq!(r.next_key(&mut first).unwrap().as_deref(), Some("a"));
    assert_eq!(r.number().unwrap().text, "1");
    assert_eq!(r.next_key(&mut first).unwrap().as_deref(), Some("bc"));
    assert_eq!(r.string().unwrap(), "x");
    assert_eq!(r.next_key(&mut first).unwrap(), None);
}
