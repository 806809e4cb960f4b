//! Influx line protocol as Telegraf's Kafka output writes it (`data_format = "influx"`); the
//! crate documentation says how lines become samples.
//!
//! Lines are independent: a raw newline always ends one (Telegraf escapes newlines inside
//! values), so a bad line is reported and decoding resumes on the next.

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::error::{Batch, Problem, Sink, note};
use crate::json::Syntax;
use crate::{DecodeError, Format, Item, Labels, Sample, time};

/// Escapes Telegraf's parser undoes in measurements.
const NAME_ESCAPES: &[u8] = b", ";
/// Escapes Telegraf's parser undoes in tag keys, tag values and field keys.
const KEY_ESCAPES: &[u8] = b", =\"";
/// The measurement Telegraf's Prometheus input uses, whose field keys are whole metric names.
const PROMETHEUS: &str = "prometheus";

pub(crate) fn decode<'a, F: Sink<'a>>(payload: &'a [u8], out: &mut F) -> Result<(), DecodeError> {
    let mut batch = Batch::new(Format::Influx, payload, out);
    let (mut start, mut index) = (0, 0);
    while start < payload.len() {
        let end = memchr::memchr(b'\n', &payload[start..]).map_or(payload.len(), |i| start + i);
        decode_line(&payload[start..end], start, index, &mut batch);
        start = end + 1;
        index += 1;
    }
    batch.finish()
}

/// One line, without its newline; `base` is its offset in the payload.
fn decode_line<'a, F: Sink<'a>>(
    raw: &'a [u8],
    base: usize,
    index: usize,
    batch: &mut Batch<'a, '_, F>,
) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let lead = raw.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    if matches!(raw.get(lead), None | Some(b'#')) {
        return;
    }
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text,
        Err(err) => return batch.not_utf8(index, base + err.valid_up_to()),
    };
    let line = match parse(text, lead) {
        Ok(line) => line,
        Err(syntax) => return batch.unreadable(index, base + syntax.at, syntax.what),
    };
    if let Err(problem) = deliver(line, batch) {
        batch.problem(
            index,
            Problem {
                at: base + problem.at,
                ..problem
            },
        );
    }
}

/// A syntactically valid line.
struct Line<'a> {
    measurement: Cow<'a, str>,
    tags: Labels<'a>,
    /// Numeric fields with their values; string fields are left out.
    fields: SmallVec<[(Cow<'a, str>, f64, usize); 8]>,
    /// Nanoseconds since the epoch as written, and where.
    timestamp: Option<(&'a str, usize)>,
    /// A readable line can still be unusable (a repeated tag, an out-of-range timestamp).
    problem: Option<Problem>,
}

fn parse(text: &str, start: usize) -> Result<Line<'_>, Syntax> {
    let b = text.as_bytes();
    let fail = |at, what| Err(Syntax { at, what });
    let (end, escaped) = scan(b, start, |c| c == b',' || c == b' ');
    if end == start {
        return fail(start, "expected a measurement");
    }
    let mut line = Line {
        measurement: unescape(&text[start..end], escaped, NAME_ESCAPES),
        tags: Labels::new(),
        fields: SmallVec::new(),
        timestamp: None,
        problem: None,
    };
    let mut i = end;
    while b.get(i) == Some(&b',') {
        let (key_end, key_escaped) = scan(b, i + 1, |c| matches!(c, b',' | b'=' | b' '));
        if key_end == i + 1 {
            return fail(key_end, "expected a tag key");
        }
        if b.get(key_end) != Some(&b'=') {
            return fail(key_end, "expected `=` after a tag key");
        }
        let (value_end, value_escaped) = scan(b, key_end + 1, |c| c == b',' || c == b' ');
        if value_end == key_end + 1 {
            return fail(value_end, "expected a tag value");
        }
        let key = unescape(&text[i + 1..key_end], key_escaped, KEY_ESCAPES);
        let value = unescape(&text[key_end + 1..value_end], value_escaped, KEY_ESCAPES);
        if let Err(duplicate) = line.tags.insert(key, value) {
            note(&mut line.problem, i + 1, || duplicate.to_string());
        }
        i = value_end;
    }
    if b.get(i) != Some(&b' ') {
        return fail(
            i,
            "expected a space and fields after the measurement and tags",
        );
    }
    i = skip_spaces(b, i);
    loop {
        let (key_end, key_escaped) = scan(b, i, |c| matches!(c, b',' | b'=' | b' '));
        if key_end == i {
            return fail(i, "expected a field key");
        }
        if b.get(key_end) != Some(&b'=') {
            return fail(key_end, "expected `=` after a field key");
        }
        let key = unescape(&text[i..key_end], key_escaped, KEY_ESCAPES);
        let value_start = key_end + 1;
        if b.get(value_start) == Some(&b'"') {
            i = skip_string(b, value_start)?;
        } else {
            let value_end = b[value_start..]
                .iter()
                .position(|&c| c == b',' || c == b' ')
                .map_or(b.len(), |n| value_start + n);
            let Some(value) = field_value(&text[value_start..value_end]) else {
                return fail(value_start, "invalid field value");
            };
            line.fields.push((key, value, value_start));
            i = value_end;
        }
        if b.get(i) != Some(&b',') {
            break;
        }
        i += 1;
    }
    if b.get(i) == Some(&b' ') {
        i = skip_spaces(b, i);
        if i < b.len() {
            let ts_end = b[i..]
                .iter()
                .position(|&c| c == b' ')
                .map_or(b.len(), |n| i + n);
            let digits = text[i..ts_end]
                .strip_prefix('-')
                .unwrap_or(&text[i..ts_end]);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return fail(i, "expected a timestamp in nanoseconds");
            }
            line.timestamp = Some((&text[i..ts_end], i));
            i = skip_spaces(b, ts_end);
        }
    }
    if i < b.len() {
        return fail(i, "expected `,`, a space or the end of the line");
    }
    Ok(line)
}

/// Delivers the samples of a line, one per numeric field, all at the line's timestamp; or
/// nothing, if the line has a problem.
fn deliver<'a, F: Sink<'a>>(line: Line<'a>, batch: &mut Batch<'a, '_, F>) -> Result<(), Problem> {
    if let Some(problem) = line.problem {
        return Err(problem);
    }
    let problem = |at, reason: String| Problem { at, reason };
    let Some((digits, ts_at)) = line.timestamp else {
        // Without one the sample would need the wall clock, which replays could not reproduce.
        let end = line.fields.last().map_or(0, |f| f.2);
        return Err(problem(end, "missing timestamp".to_owned()));
    };
    let nanos = digits
        .parse::<i64>()
        .map_err(|_| problem(ts_at, "timestamp out of range".to_owned()))?;
    let at = time::from_nanos(nanos).map_err(|reason| problem(ts_at, reason))?;
    if let Some((key, _, value_at)) = line.fields.iter().find(|f| !f.1.is_finite()) {
        return Err(problem(*value_at, format!("field `{key}` is not finite")));
    }
    batch.readable_unit();
    let count = line.fields.len();
    let mut tags = Some(line.tags);
    for (n, (field, value, _)) in line.fields.into_iter().enumerate() {
        let name = match &*line.measurement {
            PROMETHEUS => field,
            measurement => {
                let mut name = String::with_capacity(measurement.len() + 1 + field.len());
                name.push_str(measurement);
                name.push('_');
                name.push_str(&field);
                Cow::Owned(name)
            }
        };
        // The last sample takes the tags; the others clone them (cheap while borrowed).
        let labels = match n + 1 == count {
            true => tags.take().unwrap_or_default(),
            false => tags.clone().unwrap_or_default(),
        };
        batch.deliver(Item::Metric(Sample {
            name,
            labels,
            at,
            value,
        }));
    }
    Ok(())
}

/// The first byte at or after `i` that `stop` accepts and no backslash escapes, and whether a
/// backslash was seen on the way.
fn scan(b: &[u8], mut i: usize, stop: impl Fn(u8) -> bool) -> (usize, bool) {
    let mut escaped = false;
    while let Some(&c) = b.get(i) {
        if c == b'\\' && i + 1 < b.len() {
            escaped = true;
            i += 2;
        } else if stop(c) {
            break;
        } else {
            i += 1;
        }
    }
    (i, escaped)
}

/// `raw` with `\x` replaced by `x` for each `x` in `escapes`; other backslashes stay.
fn unescape<'a>(raw: &'a str, escaped: bool, escapes: &[u8]) -> Cow<'a, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii() && escapes.contains(&(next as u8)) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// Past the closing quote of the string field opening at `i`.
fn skip_string(b: &[u8], i: usize) -> Result<usize, Syntax> {
    let mut j = i + 1;
    while let Some(&c) = b.get(j) {
        match c {
            b'\\' => j += 2,
            b'"' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(Syntax {
        at: i,
        what: "unterminated string field",
    })
}

/// A numeric field value: float, integer (`3i`), unsigned (`3u`) or boolean (1 or 0).
fn field_value(token: &str) -> Option<f64> {
    match token {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(1.0),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(0.0),
        _ => {}
    }
    if let Some(int) = token.strip_suffix('i') {
        return int.parse::<i64>().ok().map(|v| v as f64);
    }
    if let Some(uint) = token.strip_suffix('u') {
        return uint.parse::<u64>().ok().map(|v| v as f64);
    }
    // std also parses `inf` and `NaN`, which line protocol does not have.
    let numeric = token
        .bytes()
        .all(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'));
    if numeric && token.bytes().any(|c| c.is_ascii_digit()) {
        return token.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_type() {
        assert_eq!(field_value("1.5"), Some(1.5));
        assert_eq!(field_value("-3i"), Some(-3.0));
        assert_eq!(field_value("18446744073709551615u"), Some(u64::MAX as f64));
        assert_eq!(field_value("-1u"), None);
        assert_eq!(field_value("TRUE"), Some(1.0));
        assert_eq!(field_value("f"), Some(0.0));
        assert_eq!(field_value("1e3"), Some(1000.0));
        assert_eq!(field_value("inf"), None);
        assert_eq!(field_value("NaN"), None);
        assert_eq!(field_value("."), None);
        assert_eq!(field_value("1.2.3"), None);
    }

    #[test]
    fn unescapes_only_what_the_context_escapes() {
        assert_eq!(unescape(r"a\ b\,c", true, NAME_ESCAPES), "a b,c");
        assert_eq!(unescape(r"a\=b", true, NAME_ESCAPES), r"a\=b");
        assert_eq!(unescape(r"a\=b\\", true, KEY_ESCAPES), r"a=b\\");
        assert!(matches!(
            unescape("plain", false, KEY_ESCAPES),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn scans_past_escaped_separators() {
        assert_eq!(scan(br"a\,b,c", 0, |c| c == b','), (4, true));
        assert_eq!(scan(b"ab c", 0, |c| c == b' '), (2, false));
        // A trailing backslash is literal.
        assert_eq!(scan(b"ab\\", 0, |c| c == b' '), (3, false));
    }
}
