//! Decoders for the record formats Faultline consumes from Kafka: native JSON, OTLP JSON and
//! Influx line protocol, into metric [`Sample`]s, [`LogRecord`]s and [`ChangeEvent`]s.
//!
//! # Contract
//!
//! [`decode`] is pure: no I/O, no clock, no global state. The engine calls it once per Kafka
//! record payload and gets each item through a callback, borrowed from the payload: names,
//! labels and messages are `Cow::Borrowed` wherever the payload did not escape them, and up to
//! eight labels live inline, so a native JSON sample decodes without touching the heap. That is
//! what lets one core decode and detect a million samples a second (decoding a batched native
//! sample costs about 200 ns; `examples/decode_speed.rs` measures it).
//!
//! Problems are reported at the smallest unit that has them:
//!
//! - **An item** (a non-finite value, a missing field, a timestamp before 1970) is delivered
//!   as `Err(`[`ItemError`]`)` in its place and the rest of the record still arrives.
//! - **A line** of newline-delimited JSON or Influx text that cannot be read at all is an
//!   [`ItemError`] too, and decoding resumes on the next line; but if *no* line of the record
//!   is readable, the record is.
//! - **The record** — empty, not UTF-8, not JSON, a JSON array or OTLP request with a syntax
//!   error anywhere — is a [`DecodeError`] and nothing of it is delivered. The items of a JSON
//!   array or an OTLP request are held until the document has been read to its end, so an
//!   error near the end cannot follow items that were already acted on; newline-delimited
//!   records stream.
//!
//! Timestamps always come from the record, never the wall clock, so replaying a topic gives
//! the same [`EventTime`]s. Instants before 1970 are rejected (unset clocks, unit mistakes).
//!
//! The JSON formats share one hand-written reader rather than serde_json: serde_json cannot
//! read on after a field of the wrong type (we report that item and deliver its neighbours),
//! fails the whole document on a number like `1e999` (for us, one item whose value is not
//! finite), and would need an intermediate tree to read OTLP keys in any order. Property tests
//! hold the reader to serde_json's verdict on what is JSON. Native metrics written the common
//! way (no escapes, integer `ts`) take a faster path still, checked against the general one.
//!
//! # Native JSON
//!
//! A Kafka message holds one JSON object, a JSON array of objects, or newline-delimited
//! objects (one per line). What an object is depends on what the topic carries ([`Kind`]):
//!
//! ```json
//! {"name": "http_requests_total", "labels": {"service": "api", "status": "500"}, "ts": 1714557600000, "value": 42.5}
//! {"ts": "2024-05-01T12:00:00.250Z", "service": "api", "level": "error", "message": "upstream timed out", "attributes": {"route": "/pay", "attempt": 3}}
//! {"ts": 1714557600000, "kind": "deploy", "entity": "api", "attributes": {"version": "1.4.2"}}
//! ```
//!
//! - `ts`: milliseconds since the Unix epoch, integer or fractional (the fraction is
//!   truncated), or an RFC 3339 string with any offset (`2024-05-01T12:00:00.250+02:00`).
//! - Metrics: `name`, `ts` and a numeric, finite `value` are required; `labels` is optional. A
//!   label value must be a string — a number or boolean label is rejected rather than
//!   stringified, because `500`, `500.0` and `"500"` would silently become different series.
//! - Logs: `ts`, `service` and `message` are required; `level` defaults to `"info"`.
//! - Change events: `ts`, `kind` (`deploy`, `config_change`, `scale`, …) and `entity` are
//!   required.
//! - `attributes` (logs, events) may hold any JSON values; non-strings keep their JSON text
//!   (`3`, `true`, `{"a":1}`).
//! - Unknown fields are ignored, so producers can add fields without breaking consumers; a
//!   known field given twice, or a label key given twice, rejects the item. `null` counts as
//!   absent.
//!
//! # OTLP JSON
//!
//! An `ExportMetricsServiceRequest` or `ExportLogsServiceRequest` in the protobuf JSON mapping,
//! as the OpenTelemetry Collector's Kafka exporter writes it with `encoding: otlp_json`.
//! camelCase keys (the spec) and snake_case keys are both read; 64-bit integers may be strings
//! or numbers.
//!
//! - Gauge and sum data points become one sample each, named after the metric. Histogram,
//!   exponential histogram and summary points become `<name>_count` and `<name>_sum` samples
//!   (no sum sample when the point has none); their buckets and quantiles are skipped.
//! - Labels are the resource attributes plus the point attributes; the point wins when both
//!   have a key. Other attribute values than strings become text: `true`, `42`, `1.5`, and
//!   arrays and maps as their JSON.
//! - Points flagged `FLAG_NO_RECORDED_VALUE` are skipped. Points without `timeUnixNano`, or
//!   whose value is not finite (`"NaN"`, `"Infinity"`), are item errors. An absent histogram
//!   `count` is the protobuf default, 0.
//! - Log records: `service` is the resource's `service.name` (`"unknown_service"` without
//!   one), `level` the `severityText`, else the `severityNumber`'s name (`info`, `warn`, …),
//!   else `"info"`; `message` the body (non-string bodies as JSON text); `at` the
//!   `timeUnixNano`, else the `observedTimeUnixNano`; attributes are resource attributes plus
//!   record attributes, the record winning.
//! - A request for another signal than the topic carries is a [`DecodeError::WrongSignal`];
//!   OTLP carries no change events.
//!
//! # Influx line protocol
//!
//! What Telegraf's Kafka output writes with `data_format = "influx"`, one or many lines per
//! message: `cpu,host=web-1,cpu=cpu0 usage_idle=98.2,procs=312i 1714557600000000000`.
//!
//! - Each numeric field becomes a sample named `<measurement>_<field>` (the convention of
//!   Telegraf's Prometheus outputs); for the measurement `prometheus`, which Telegraf's
//!   Prometheus input uses, the field key alone is the name. Tags become labels.
//! - Floats as written; integers (`3i`) and unsigned integers (`3u`) as `f64`; booleans as
//!   1 and 0 (as Telegraf's Prometheus serializer does); string fields are skipped.
//! - Escapes as Telegraf's parser reads them: `\,` and `\ ` in measurements, also `\=` and
//!   `\"` in tag keys, tag values and field keys; `\"` and `\\` inside string fields.
//! - The timestamp is in nanoseconds (Telegraf's default precision) and required: a line
//!   without one is an item error, since the wall clock would make replays irreproducible.
//! - Blank lines and `#` comments are skipped. All fields of a line share its fate: one bad
//!   field rejects the line.

mod error;
mod influx;
mod item;
mod json;
mod labels;
mod native;
mod otlp;
mod time;

use std::fmt;

pub use error::{DecodeError, ItemError};
pub use faultline_detectors::EventTime;
pub use item::{ChangeEvent, Item, LogRecord, Sample, series_hash};
pub use labels::{DuplicateLabel, Labels};

/// How a topic's payloads are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Faultline's own JSON (see the crate documentation).
    NativeJson,
    /// OTLP export requests in the protobuf JSON mapping.
    OtlpJson,
    /// Influx line protocol.
    Influx,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::NativeJson => "native json",
            Format::OtlpJson => "otlp json",
            Format::Influx => "influx",
        })
    }
}

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Metric samples.
    Metrics,
    /// Log records.
    Logs,
    /// Change events: deploys, config changes, scaling.
    Events,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Metrics => "metrics",
            Kind::Logs => "logs",
            Kind::Events => "events",
        })
    }
}

/// Decodes one Kafka record payload, handing each item (or item error) to `out` in order.
///
/// `Err` means the record as a whole is unreadable, and then `out` was not called at all.
pub fn decode<'a>(
    format: Format,
    kind: Kind,
    payload: &'a [u8],
    out: &mut impl FnMut(Result<Item<'a>, ItemError>),
) -> Result<(), DecodeError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty { format });
    }
    match format {
        Format::NativeJson => native::decode(kind, payload, out),
        Format::OtlpJson => otlp::decode(kind, payload, out),
        Format::Influx if kind == Kind::Metrics => influx::decode(payload, out),
        Format::Influx => Err(DecodeError::Unsupported { format, kind }),
    }
}
