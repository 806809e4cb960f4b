//! OTLP/JSON export requests, as the OpenTelemetry Collector's Kafka exporter writes them with
//! `encoding: otlp_json`; the crate documentation says what becomes of each part.
//!
//! The protobuf JSON mapping lets keys come in any order, so a resource's attributes may follow
//! its scopes and a metric's name may follow its data. Rather than build a tree, the reader
//! remembers where such a part starts, reads on, and comes back to it once the context it needs
//! has been read (that part was checked when first skipped, so coming back cannot fail).

mod logs;
mod metrics;

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::error::{Batch, Problem, Sink, note};
use crate::json::{Parsed, Reader, Syntax, Token};
use crate::{DecodeError, Format, Kind, Labels};

/// Top-level keys of the three OTLP signals, camelCase (the spec) and snake_case.
const SIGNALS: [(&str, &str); 3] = [
    ("resourceMetrics", "resource_metrics"),
    ("resourceLogs", "resource_logs"),
    ("resourceSpans", "resource_spans"),
];

pub(crate) fn decode<'a, F: Sink<'a>>(
    kind: Kind,
    payload: &'a [u8],
    out: &mut F,
) -> Result<(), DecodeError> {
    let wanted = match kind {
        Kind::Metrics => SIGNALS[0],
        Kind::Logs => SIGNALS[1],
        Kind::Events => {
            return Err(DecodeError::Unsupported {
                format: Format::OtlpJson,
                kind,
            });
        }
    };
    let text = std::str::from_utf8(payload).map_err(|err| DecodeError::InvalidUtf8 {
        format: Format::OtlpJson,
        offset: err.valid_up_to(),
    })?;
    // Buffered: a syntax error anywhere makes the whole request unreadable.
    let batch = Batch::new(Format::OtlpJson, payload, out).buffered(payload.len() / 200 + 1);
    let mut ctx = Ctx { batch, index: 0 };
    let mut r = Reader::new(text);
    let read = (|| {
        if r.peek() != Some(b'{') {
            return Err(Syntax {
                at: r.pos(),
                what: "expected a json object (an otlp export request)",
            });
        }
        r.begin_object()?;
        let mut first = true;
        while let Some(key) = r.next_key(&mut first)? {
            let signal = SIGNALS
                .iter()
                .find(|(camel, snake)| key == *camel || key == *snake);
            match signal {
                Some(signal) if *signal == wanted && r.peek_token()? == Token::Array => {}
                Some(signal) if *signal != wanted => return Ok(Some(signal.0)),
                _ => {
                    r.skip_value()?;
                    continue;
                }
            }
            each(&mut r, |r| match kind {
                Kind::Logs => logs::resource_logs(r, &mut ctx),
                _ => metrics::resource_metrics(r, &mut ctx),
            })?;
        }
        r.skip_ws();
        match r.pos() < text.len() {
            true => Err(Syntax {
                at: r.pos(),
                what: "trailing characters after the json object",
            }),
            false => Ok(None),
        }
    })();
    match read {
        Ok(None) => ctx.batch.finish(),
        Ok(Some(found)) => Err(DecodeError::WrongSignal {
            kind,
            expected: wanted.0,
            found: found.to_owned(),
        }),
        Err(syntax) => Err(ctx.batch.malformed(syntax.at, syntax.what)),
    }
}

/// Delivery state shared by the whole request.
struct Ctx<'a, 'o, F> {
    batch: Batch<'a, 'o, F>,
    /// Ordinal of the next data point or log record, for [`crate::ItemError::index`].
    index: usize,
}

impl<F> Ctx<'_, '_, F> {
    fn next_index(&mut self) -> usize {
        self.index += 1;
        self.index - 1
    }
}

/// A resource's attributes, and the first problem with them (which every item under it shares).
#[derive(Debug, Default)]
struct Resource<'a> {
    labels: Labels<'a>,
    problem: Option<Problem>,
}

/// Reads one `resourceMetrics`/`resourceLogs` element: its resource, then every scope array
/// under one of `scope_keys`, each scope handed to `scope` once the resource is known.
fn resource<'a, 'o, F: Sink<'a>>(
    r: &mut Reader<'a>,
    ctx: &mut Ctx<'a, 'o, F>,
    scope_keys: &[&str],
    mut scope: impl FnMut(&mut Reader<'a>, &mut Ctx<'a, 'o, F>, &Resource<'a>) -> Parsed<()>,
) -> Parsed<()> {
    let mut res = Resource::default();
    if !object_or_skip(r, &mut res.problem)? {
        return Ok(());
    }
    let (mut have_resource, mut deferred) = (false, SmallVec::<[usize; 2]>::new());
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        if key == "resource" {
            have_resource = true;
            if object_or_skip(r, &mut res.problem)? {
                let mut first = true;
                while let Some(key) = r.next_key(&mut first)? {
                    match &*key {
                        "attributes" => attributes(r, &mut res.labels, &mut res.problem)?,
                        _ => r.skip_value()?,
                    }
                }
            }
        } else if scope_keys.contains(&&*key) && r.peek_token()? == Token::Array {
            if !have_resource {
                deferred.push(r.pos());
                r.skip_value()?;
                continue;
            }
            each(r, |r| scope(r, ctx, &res))?;
        } else {
            r.skip_value()?;
        }
    }
    if !deferred.is_empty() {
        let end = r.pos();
        for at in deferred {
            r.seek(at);
            each(r, |r| scope(r, ctx, &res))?;
        }
        r.seek(end);
    }
    Ok(())
}

/// Calls `element` for each element of the array at the reader.
fn each<'a>(
    r: &mut Reader<'a>,
    mut element: impl FnMut(&mut Reader<'a>) -> Parsed<()>,
) -> Parsed<()> {
    r.begin_array()?;
    let mut first = true;
    while r.next_element(&mut first)? {
        element(r)?;
    }
    Ok(())
}

/// Enters the object at the reader, or notes a problem, skips the value and returns `false`.
fn object_or_skip(r: &mut Reader<'_>, problem: &mut Option<Problem>) -> Parsed<bool> {
    match r.peek_token()? {
        Token::Object => r.begin_object().map(|()| true),
        other => {
            note(problem, r.pos(), || {
                format!("expected an object, found {}", other.describe())
            });
            r.skip_value().map(|()| false)
        }
    }
}

/// A `KeyValue` list into `into` (which must be empty). A key given twice is a problem.
fn attributes<'a>(
    r: &mut Reader<'a>,
    into: &mut Labels<'a>,
    problem: &mut Option<Problem>,
) -> Parsed<()> {
    let at = r.value_start();
    let read = attribute_list(r, into, problem);
    if let Err(duplicate) = into.seal() {
        note(problem, at, || {
            format!("duplicate attribute `{}`", duplicate.key)
        });
    }
    read
}

fn attribute_list<'a>(
    r: &mut Reader<'a>,
    into: &mut Labels<'a>,
    problem: &mut Option<Problem>,
) -> Parsed<()> {
    match r.peek_token()? {
        Token::Array => {}
        Token::Null => return r.literal().map(|_| ()),
        other => {
            note(problem, r.pos(), || {
                format!(
                    "expected `attributes` to be an array, found {}",
                    other.describe()
                )
            });
            return r.skip_value();
        }
    }
    each(r, |r| {
        let at = r.value_start();
        if !object_or_skip(r, problem)? {
            return Ok(());
        }
        let (mut key, mut value) = (None, Cow::Borrowed(""));
        let mut first = true;
        while let Some(field) = r.next_key(&mut first)? {
            match &*field {
                "key" => key = Some(any_text(r)?),
                "value" => value = any_value(r, problem)?,
                _ => r.skip_value()?,
            }
        }
        match key {
            None => note(problem, at, || "attribute without a `key`".to_owned()),
            Some(key) => into.push_unsorted(key, value),
        }
        Ok(())
    })
}

/// An `AnyValue` as text: a string as itself, anything else as its JSON text (`true`, `42`,
/// `{"values":[…]}`); an empty or unknown value as the empty string.
fn any_value<'a>(r: &mut Reader<'a>, problem: &mut Option<Problem>) -> Parsed<Cow<'a, str>> {
    let mut text = Cow::Borrowed("");
    if !object_or_skip(r, problem)? {
        return Ok(text);
    }
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        match &*key {
            "stringValue" | "string_value" | "boolValue" | "bool_value" | "intValue"
            | "int_value" | "doubleValue" | "double_value" | "arrayValue" | "array_value"
            | "kvlistValue" | "kvlist_value" | "bytesValue" | "bytes_value" => text = any_text(r)?,
            _ => r.skip_value()?,
        }
    }
    Ok(text)
}

/// A string value decoded, any other value as its JSON text.
fn any_text<'a>(r: &mut Reader<'a>) -> Parsed<Cow<'a, str>> {
    match r.peek_token()? {
        Token::String => r.string(),
        _ => r.raw_value().map(Cow::Borrowed),
    }
}

/// A protobuf 64-bit integer field, which the JSON mapping writes as a string or a number.
fn integer<T: std::str::FromStr>(
    r: &mut Reader<'_>,
    field: &str,
    problem: &mut Option<Problem>,
) -> Parsed<Option<T>> {
    let at = r.value_start();
    let parsed = match r.peek_token()? {
        Token::String => r.string()?.parse().ok(),
        Token::Number => {
            let number = r.number()?;
            number.text.parse().ok().filter(|_| number.integer)
        }
        Token::Null => return r.literal().map(|_| None),
        _ => {
            r.skip_value()?;
            None
        }
    };
    if parsed.is_none() {
        note(problem, at, || {
            format!("expected `{field}` to be an integer")
        });
    }
    Ok(parsed)
}

/// A protobuf double, which the JSON mapping writes as a number or as a string (`"NaN"`,
/// `"Infinity"`, `"-Infinity"` or a numeral).
fn double(r: &mut Reader<'_>, field: &str, problem: &mut Option<Problem>) -> Parsed<Option<f64>> {
    let at = r.value_start();
    let parsed = match r.peek_token()? {
        Token::Number => Some(r.number()?.to_f64()),
        Token::String => match &*r.string()? {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            numeral => numeral.parse().ok(),
        },
        Token::Null => return r.literal().map(|_| None),
        _ => {
            r.skip_value()?;
            None
        }
    };
    if parsed.is_none() {
        note(problem, at, || format!("expected `{field}` to be a number"));
    }
    Ok(parsed)
}
