//! Faultline's native JSON format; the crate documentation describes it for producers.

mod fast;

use std::borrow::Cow;

use faultline_detectors::EventTime;

use crate::error::{Batch, Problem, Sink, note};
use crate::json::{Parsed, Reader, Syntax, Token};
use crate::{ChangeEvent, DecodeError, Format, Item, Kind, Labels, LogRecord, Sample, time};

pub(crate) fn decode<'a, F>(kind: Kind, payload: &'a [u8], out: &mut F) -> Result<(), DecodeError>
where
    F: Sink<'a>,
{
    let mut batch = Batch::new(Format::NativeJson, payload, out);
    let array = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    match std::str::from_utf8(payload) {
        Ok(text) if array => return decode_array(kind, text, batch),
        Ok(text) => {
            let mut index = 0;
            decode_lines(kind, text, 0, &mut batch, &mut index);
        }
        Err(err) if array => {
            return Err(DecodeError::InvalidUtf8 {
                format: Format::NativeJson,
                offset: err.valid_up_to(),
            });
        }
        Err(_) => decode_lines_lossy(kind, payload, &mut batch),
    }
    batch.finish()
}

/// A JSON array, each element one item; buffered, since a syntax error in the last element
/// makes the whole array unreadable.
fn decode_array<'a, F>(
    kind: Kind,
    text: &'a str,
    batch: Batch<'a, '_, F>,
) -> Result<(), DecodeError>
where
    F: Sink<'a>,
{
    // A compact sample takes some 100 bytes.
    let mut batch = batch.buffered(text.len() / 100 + 1);
    let mut r = Reader::new(text);
    let mut read = || -> Parsed<()> {
        r.begin_array()?;
        let (mut first, mut index) = (true, 0);
        while r.next_element(&mut first)? {
            if kind == Kind::Metrics {
                let start = r.value_start();
                if let Some(end) =
                    fast::metric(text, start, Some, |s| batch.deliver(Item::Metric(s)))
                {
                    r.seek(end);
                    index += 1;
                    continue;
                }
            }
            item(
                kind,
                &mut r,
                false,
                |_| Ok(()),
                |read| match read {
                    Ok(item) => batch.deliver(item),
                    Err(problem) => batch.problem(index, problem),
                },
            )?;
            index += 1;
        }
        r.skip_ws();
        match r.pos() < text.len() {
            true => Err(Syntax {
                at: r.pos(),
                what: "trailing characters after the json array",
            }),
            false => Ok(()),
        }
    };
    match read() {
        Ok(()) => batch.finish(),
        Err(syntax) => Err(batch.malformed(syntax.at, syntax.what)),
    }
}

/// One object, or objects one per line. `base` is the offset of `text` in the payload.
fn decode_lines<'a, F>(
    kind: Kind,
    text: &'a str,
    base: usize,
    batch: &mut Batch<'a, '_, F>,
    index: &mut usize,
) where
    F: Sink<'a>,
{
    let mut r = Reader::new(text);
    loop {
        r.skip_ws();
        let start = r.pos();
        if start == text.len() {
            return;
        }
        if kind == Kind::Metrics {
            let end_of_line = |mut after: usize| {
                while let Some(b' ' | b'\r' | b'\t') = text.as_bytes().get(after) {
                    after += 1;
                }
                matches!(text.as_bytes().get(after), None | Some(b'\n')).then_some(after)
            };
            if let Some(end) =
                fast::metric(text, start, end_of_line, |s| batch.deliver(Item::Metric(s)))
            {
                r.seek(end);
                *index += 1;
                continue;
            }
        }
        // The newline check runs before delivery: a line with trailing text delivers nothing.
        let end_of_line = |r: &mut Reader<'a>| {
            r.skip_inline_ws();
            match text.as_bytes().get(r.pos()) {
                None | Some(b'\n') => Ok(()),
                Some(_) => Err(Syntax {
                    at: r.pos(),
                    what: "expected a newline after the json object",
                }),
            }
        };
        let read = item(kind, &mut r, true, end_of_line, |read| match read {
            Ok(item) => batch.deliver(item),
            Err(problem) => batch.problem(
                *index,
                Problem {
                    at: base + problem.at,
                    ..problem
                },
            ),
        });
        if let Err(syntax) = read {
            batch.unreadable(*index, base + syntax.at, syntax.what);
            // Resynchronise on the line after the one the object started on.
            let next = memchr::memchr(b'\n', &text.as_bytes()[start..])
                .map_or(text.len(), |i| start + i + 1);
            r.seek(next);
        }
        *index += 1;
    }
}

/// Newline-delimited objects where some line is not UTF-8: that line is reported, the UTF-8
/// stretches around it are decoded.
fn decode_lines_lossy<'a, F>(kind: Kind, payload: &'a [u8], batch: &mut Batch<'a, '_, F>)
where
    F: Sink<'a>,
{
    let (mut offset, mut index) = (0, 0);
    while offset < payload.len() {
        let err = match std::str::from_utf8(&payload[offset..]) {
            Ok(text) => return decode_lines(kind, text, offset, batch, &mut index),
            Err(err) => err,
        };
        let bad = offset + err.valid_up_to();
        let line_start =
            memchr::memrchr(b'\n', &payload[offset..bad]).map_or(offset, |i| offset + i + 1);
        // A prefix of the valid stretch, so always UTF-8.
        let good = std::str::from_utf8(&payload[offset..line_start]).unwrap_or_default();
        decode_lines(kind, good, offset, batch, &mut index);
        batch.not_utf8(index, bad);
        index += 1;
        offset = memchr::memchr(b'\n', &payload[bad..]).map_or(payload.len(), |i| bad + i + 1);
    }
}

/// How an item parser finishes: `end` checks what must follow the item (a newline, on a line
/// of its own), then `emit` takes the item, built in place to spare copies of a large value.
trait Finish<'a> {
    fn end(&mut self, r: &mut Reader<'a>) -> Parsed<()>;
    fn emit(self, read: Result<Item<'a>, Problem>);
}

struct Finisher<E, D>(E, D);

impl<'a, E, D> Finish<'a> for Finisher<E, D>
where
    E: FnMut(&mut Reader<'a>) -> Parsed<()>,
    D: FnOnce(Result<Item<'a>, Problem>),
{
    #[inline(always)]
    fn end(&mut self, r: &mut Reader<'a>) -> Parsed<()> {
        (self.0)(r)
    }

    #[inline(always)]
    fn emit(self, read: Result<Item<'a>, Problem>) {
        (self.1)(read)
    }
}

/// One item. A value that is not an object is a problem inside an array but a syntax error on
/// its own line (a line of `42` is no object we could have meant).
#[inline(always)]
fn item<'a>(
    kind: Kind,
    r: &mut Reader<'a>,
    on_own_line: bool,
    end: impl FnMut(&mut Reader<'a>) -> Parsed<()>,
    emit: impl FnOnce(Result<Item<'a>, Problem>),
) -> Parsed<()> {
    let mut finish = Finisher(end, emit);
    let token = r.peek_token()?;
    if token != Token::Object {
        if on_own_line {
            return Err(Syntax {
                at: r.pos(),
                what: "expected a json object",
            });
        }
        let at = r.pos();
        r.skip_value()?;
        finish.end(r)?;
        let reason = format!("expected a json object, found {}", token.describe());
        finish.emit(Err(Problem { at, reason }));
        return Ok(());
    }
    match kind {
        Kind::Metrics => metric(r, finish),
        Kind::Logs => log(r, finish),
        Kind::Events => event(r, finish),
    }
}

/// Fields seen so far in one object, and its first problem.
struct Fields {
    start: usize,
    seen: u32,
    problem: Option<Problem>,
}

impl Fields {
    fn new(r: &mut Reader<'_>) -> Parsed<Self> {
        let start = r.value_start();
        r.begin_object()?;
        Ok(Self {
            start,
            seen: 0,
            problem: None,
        })
    }

    /// Whether field number `bit` is new; a repeat is a problem.
    fn first(&mut self, bit: u32, key: &str, at: usize) -> bool {
        if self.seen & (1 << bit) != 0 {
            note(&mut self.problem, at, || format!("duplicate field `{key}`"));
            return false;
        }
        self.seen |= 1 << bit;
        true
    }

    /// The first problem noted while reading the item.
    fn first_problem(&mut self) -> Result<(), Problem> {
        self.problem.take().map_or(Ok(()), Err)
    }

    /// `value`, or a problem naming the missing field.
    fn required<T>(&self, value: Option<T>, field: &str) -> Result<T, Problem> {
        value.ok_or_else(|| Problem {
            at: self.start,
            reason: format!("missing field `{field}`"),
        })
    }
}

fn metric<'a>(r: &mut Reader<'a>, mut finish: impl Finish<'a>) -> Parsed<()> {
    let mut fields = Fields::new(r)?;
    let (mut name, mut labels, mut at, mut value) = (None, Labels::new(), None, None);
    let mut value_pos = 0;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let pos = r.value_start();
        let bit = match &*key {
            "name" => 0,
            "labels" => 1,
            "ts" => 2,
            "value" => 3,
            _ => {
                r.skip_value()?;
                continue;
            }
        };
        if !fields.first(bit, &key, pos) {
            r.skip_value()?;
            continue;
        }
        let problem = &mut fields.problem;
        match bit {
            0 => name = string(r, "name", pos, problem)?,
            1 => map(r, "labels", pos, &mut labels, true, problem)?,
            2 => at = timestamp(r, pos, problem)?,
            _ => {
                value_pos = pos;
                value = number(r, "value", pos, problem)?;
            }
        }
    }
    finish.end(r)?;
    finish.emit((|| {
        fields.first_problem()?;
        let name = fields.required(name, "name")?;
        let at = fields.required(at, "ts")?;
        let value = fields.required(value, "value")?;
        let problem = |at, reason: &str| {
            Err(Problem {
                at,
                reason: reason.to_owned(),
            })
        };
        if name.is_empty() {
            return problem(fields.start, "`name` is empty");
        }
        if !value.is_finite() {
            return problem(value_pos, "`value` is not finite");
        }
        Ok(Item::Metric(Sample {
            name,
            labels,
            at,
            value,
        }))
    })());
    Ok(())
}

fn log<'a>(r: &mut Reader<'a>, mut finish: impl Finish<'a>) -> Parsed<()> {
    let mut fields = Fields::new(r)?;
    let (mut at, mut service, mut level, mut message) = (None, None, None, None);
    let mut attributes = Labels::new();
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let pos = r.value_start();
        let bit = match &*key {
            "ts" => 0,
            "service" => 1,
            "level" => 2,
            "message" => 3,
            "attributes" => 4,
            _ => {
                r.skip_value()?;
                continue;
            }
        };
        if !fields.first(bit, &key, pos) {
            r.skip_value()?;
            continue;
        }
        let problem = &mut fields.problem;
        match bit {
            0 => at = timestamp(r, pos, problem)?,
            1 => service = string(r, "service", pos, problem)?,
            2 => level = string(r, "level", pos, problem)?,
            3 => message = string(r, "message", pos, problem)?,
            _ => map(r, "attributes", pos, &mut attributes, false, problem)?,
        }
    }
    finish.end(r)?;
    finish.emit((|| {
        fields.first_problem()?;
        let at = fields.required(at, "ts")?;
        let service = fields.required(service, "service")?;
        let message = fields.required(message, "message")?;
        let level = level.unwrap_or(Cow::Borrowed("info"));
        Ok(Item::Log(LogRecord {
            at,
            service,
            level,
            message,
            attributes,
        }))
    })());
    Ok(())
}

fn event<'a>(r: &mut Reader<'a>, mut finish: impl Finish<'a>) -> Parsed<()> {
    let mut fields = Fields::new(r)?;
    let (mut at, mut kind, mut entity, mut attributes) = (None, None, None, Labels::new());
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let pos = r.value_start();
        let bit = match &*key {
            "ts" => 0,
            "kind" => 1,
            "entity" => 2,
            "attributes" => 3,
            _ => {
                r.skip_value()?;
                continue;
            }
        };
        if !fields.first(bit, &key, pos) {
            r.skip_value()?;
            continue;
        }
        let problem = &mut fields.problem;
        match bit {
            0 => at = timestamp(r, pos, problem)?,
            1 => kind = string(r, "kind", pos, problem)?,
            2 => entity = string(r, "entity", pos, problem)?,
            _ => map(r, "attributes", pos, &mut attributes, false, problem)?,
        }
    }
    finish.end(r)?;
    finish.emit((|| {
        fields.first_problem()?;
        let at = fields.required(at, "ts")?;
        let kind = fields.required(kind, "kind")?;
        let entity = fields.required(entity, "entity")?;
        Ok(Item::Event(ChangeEvent {
            at,
            kind,
            entity,
            attributes,
        }))
    })());
    Ok(())
}

/// Notes that `field` has the wrong type and skips its value.
fn wrong_type(
    r: &mut Reader<'_>,
    field: &str,
    expected: &str,
    found: Token,
    at: usize,
    problem: &mut Option<Problem>,
) -> Parsed<()> {
    note(problem, at, || {
        format!(
            "expected `{field}` to be {expected}, found {}",
            found.describe()
        )
    });
    r.skip_value()
}

/// A string field; `null` counts as absent.
fn string<'a>(
    r: &mut Reader<'a>,
    field: &str,
    at: usize,
    problem: &mut Option<Problem>,
) -> Parsed<Option<Cow<'a, str>>> {
    match r.peek_token()? {
        Token::String => Ok(Some(r.string()?)),
        Token::Null => r.literal().map(|_| None),
        other => wrong_type(r, field, "a string", other, at, problem).map(|()| None),
    }
}

/// A number field; `null` counts as absent.
fn number(
    r: &mut Reader<'_>,
    field: &str,
    at: usize,
    problem: &mut Option<Problem>,
) -> Parsed<Option<f64>> {
    match r.peek_token()? {
        Token::Number => Ok(Some(r.number()?.to_f64())),
        Token::Null => r.literal().map(|_| None),
        other => wrong_type(r, field, "a number", other, at, problem).map(|()| None),
    }
}

/// `ts`: milliseconds since the epoch (integer or fractional) or an RFC 3339 string.
fn timestamp(
    r: &mut Reader<'_>,
    at: usize,
    problem: &mut Option<Problem>,
) -> Parsed<Option<EventTime>> {
    let converted = match r.peek_token()? {
        Token::Number => {
            let number = r.number()?;
            match number.to_i64() {
                Some(ms) => time::from_millis(ms),
                None if number.integer => Err("timestamp out of range".to_owned()),
                None => time::from_fractional_millis(number.to_f64()),
            }
        }
        Token::String => time::from_rfc3339(&r.string()?),
        Token::Null => return r.literal().map(|_| None),
        other => {
            let expected = "milliseconds since the epoch or an rfc 3339 string";
            return wrong_type(r, "ts", expected, other, at, problem).map(|()| None);
        }
    };
    Ok(converted
        .map_err(|reason| note(problem, at, || reason))
        .ok())
}

/// An object of string values into `into`. With `strings_only` other values are problems;
/// without, they are kept as their JSON text.
fn map<'a>(
    r: &mut Reader<'a>,
    field: &str,
    at: usize,
    into: &mut Labels<'a>,
    strings_only: bool,
    problem: &mut Option<Problem>,
) -> Parsed<()> {
    match r.peek_token()? {
        Token::Object => {}
        Token::Null => return r.literal().map(|_| ()),
        other => return wrong_type(r, field, "an object", other, at, problem),
    }
    r.begin_object()?;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let pos = r.value_start();
        let value = match r.peek_token()? {
            Token::String => r.string()?,
            other if strings_only => {
                let what = other.describe();
                note(problem, pos, || {
                    format!("{field} value `{key}` must be a string, found {what}")
                });
                r.skip_value()?;
                continue;
            }
            _ => Cow::Borrowed(r.raw_value()?),
        };
        into.push_unsorted(key, value);
    }
    if let Err(duplicate) = into.seal() {
        note(problem, at, || {
            format!("duplicate key `{}` in `{field}`", duplicate.key)
        });
    }
    Ok(())
}
