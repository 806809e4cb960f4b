//! The fast path for the common native metric: compact or spaced JSON, keys and strings
//! without escapes, `ts` as integer milliseconds.
//!
//! It reads straight from bytes with no error plumbing and gives up (`None`) on anything it
//! does not expect: escapes, an RFC 3339 `ts`, a problem to report, a syntax error. The general
//! reader then decodes the same object from the start, so this path decides nothing on its own
//! and the general reader stays the single authority on what is accepted and how it is
//! reported; a property test checks that the two agree wherever this one answers.

use std::borrow::Cow;

use faultline_detectors::EventTime;

use crate::json::{Number, Reader};
use crate::{Labels, Sample};

/// Reads the metric object at `start` in `text`; if it is a plain one and `end` accepts the
/// offset just past it, hands the sample to `deliver` and returns where `end` said to go on.
///
/// The sample is built in the argument of `deliver` and its labels in place, because a sample
/// is a few hundred bytes and each move of it costs as much as parsing a label.
#[inline(always)]
pub(super) fn metric<'a>(
    text: &'a str,
    start: usize,
    end: impl FnOnce(usize) -> Option<usize>,
    deliver: impl FnOnce(Sample<'a>),
) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = start;
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let (mut name, mut at, mut value) = (None, None, None);
    let mut labels = Labels::new();
    let mut have_labels = false;
    loop {
        let (key, after) = plain(text, ws(b, i + 1))?;
        i = colon(b, after)?;
        match key {
            "name" if name.is_none() => {
                let (text, after) = plain(text, i)?;
                name = Some(text);
                i = after;
            }
            "labels" if !have_labels => {
                have_labels = true;
                i = label_object(text, i, &mut labels)?;
            }
            "ts" if at.is_none() => {
                let end = digits_end(b, i);
                // A leading zero or a fraction is left to the general reader.
                if end == i || end - i > 18 || (b[i] == b'0' && end - i > 1) {
                    return None;
                }
                let ms = b[i..end]
                    .iter()
                    .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
                at = Some(EventTime::from_millis(ms));
                i = end;
            }
            "value" if value.is_none() => {
                let mut r = Reader::new(text);
                r.seek(i);
                let number: Number<'_> = r.number().ok()?;
                value = Some(number.to_f64()).filter(|v| v.is_finite());
                value?;
                i = r.pos();
            }
            "name" | "labels" | "ts" | "value" => return None,
            _ => {
                let mut r = Reader::new(text);
                r.seek(i);
                r.skip_value().ok()?;
                i = r.pos();
            }
        }
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => {}
            Some(b'}') => break,
            _ => return None,
        }
    }
    let (name, at, value) = (name.filter(|n| !n.is_empty())?, at?, value?);
    let next = end(i + 1)?;
    deliver(Sample {
        name: Cow::Borrowed(name),
        labels,
        at,
        value,
    });
    Some(next)
}

/// `{"k": "v", …}` with plain strings only, into `labels`, sealed; `i` is at the brace.
#[inline(always)]
fn label_object<'a>(text: &'a str, mut i: usize, labels: &mut Labels<'a>) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        let (key, after) = plain(text, i)?;
        let (value, after) = plain(text, colon(b, after)?)?;
        labels.push_unsorted(Cow::Borrowed(key), Cow::Borrowed(value));
        i = ws(b, after);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    labels.seal().ok()?;
    Some(i + 1)
}

/// The string opening at `i` when it has no escapes, and the offset past its closing quote.
#[inline(always)]
fn plain(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let end = crate::json::scan_plain(b, i + 1);
    if b.get(end) != Some(&b'"') {
        return None;
    }
    Some((text.get(i + 1..end)?, end + 1))
}

/// Past the `:` after a key, and the whitespace after it.
#[inline(always)]
fn colon(b: &[u8], i: usize) -> Option<usize> {
    let i = ws(b, i);
    (b.get(i) == Some(&b':')).then(|| ws(b, i + 1))
}

#[inline(always)]
fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

#[inline(always)]
fn digits_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::error::Problem;
    use crate::json::{Parsed, Reader};
    use crate::{Item, Kind};

    /// A metric object field by field, each drawn from plain, odd and wrong variants.
    fn object() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            Just(r#""name":"cpu""#),
            Just(r#""name" : "mem.used""#),
            Just(r#""name":"""#),
            Just(r#""name":"c\u0070u""#),
            Just(r#""name":5"#),
            Just(r#""labels":{}"#),
            Just(r#""labels":{"host":"a","az":"1","region":"eu"}"#),
            Just(r#""labels" : { "b" : "2" , "a" : "1" }"#),
            Just(r#""labels":{"a":"1","a":"2"}"#),
            Just(r#""labels":{"a":1}"#),
            Just(r#""labels":{"\u0061":"x"}"#),
            Just(r#""labels":null"#),
            Just(r#""ts":1714557600000"#),
            Just(r#""ts":0"#),
            Just(r#""ts":-5"#),
            Just(r#""ts":1.5"#),
            Just(r#""ts":01"#),
            Just(r#""ts":99999999999999999999"#),
            Just(r#""ts":"2024-05-01T00:00:00Z""#),
            Just(r#""value":1"#),
            Just(r#""value":-0.0"#),
            Just(r#""value":1.5e3"#),
            Just(r#""value":1e999"#),
            Just(r#""value":"1""#),
            Just(r#""unit":"s""#),
            Just(r#""meta":{"x":[1,{"y":null}]}"#),
        ];
        (proptest::collection::vec(field, 0..7), any::<bool>()).prop_map(|(fields, spaced)| {
            let sep = if spaced { " , " } else { "," };
            format!("{{{}}}", fields.join(sep))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn agrees_with_the_general_reader_whenever_it_answers(text in object()) {
            let mut fast = None;
            let end = super::metric(&text, 0, Some, |sample| fast = Some(sample));
            let mut general: Option<Result<Item<'_>, Problem>> = None;
            let mut r = Reader::new(&text);
            let read: Parsed<()> = super::super::item(Kind::Metrics, &mut r, true, |_| Ok(()), |read| general = Some(read));
            if let Some(end) = end {
                prop_assert!(read.is_ok(), "{}", text);
                prop_assert_eq!(end, r.pos());
                let Some(Ok(Item::Metric(sample))) = general else {
                    return Err(TestCaseError::fail(format!("general reader disagrees on {text}")));
                };
                prop_assert_eq!(Some(sample), fast);
            }
        }
    }

    #[test]
    fn answers_for_plain_metrics() {
        let text = r#"{"name":"cpu","labels":{"b":"2","a":"1"},"ts":5,"value":1.5,"unit":"s"}"#;
        let mut fast = None;
        assert_eq!(
            super::metric(text, 0, Some, |s| fast = Some(s)),
            Some(text.len())
        );
        let sample = fast.unwrap();
        assert_eq!(
            (sample.name.as_ref(), sample.at.as_millis(), sample.value),
            ("cpu", 5, 1.5)
        );
        assert_eq!(
            sample.labels.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "2")]
        );
    }
}
