//! `ExportLogsServiceRequest`: each log record becomes a [`LogRecord`].

use std::borrow::Cow;

use super::{Ctx, Resource, any_value, attributes, each, integer, object_or_skip, resource};
use crate::error::{Problem, Sink, note};
use crate::json::{Parsed, Reader, Token};
use crate::{Item, Labels, LogRecord, time};

/// Scope arrays under a resource: the current name, the snake_case one, and the name before
/// OTLP 0.15.
const SCOPES: [&str; 4] = [
    "scopeLogs",
    "scope_logs",
    "instrumentationLibraryLogs",
    "instrumentation_library_logs",
];

/// The service of records whose resource has no `service.name` (the OpenTelemetry default).
const UNKNOWN_SERVICE: &str = "unknown_service";

pub(super) fn resource_logs<'a, F: Sink<'a>>(
    r: &mut Reader<'a>,
    ctx: &mut Ctx<'a, '_, F>,
) -> Parsed<()> {
    resource(r, ctx, &SCOPES, |r, ctx, res| {
        let mut ignored = None;
        if !object_or_skip(r, &mut ignored)? {
            return Ok(());
        }
        let mut first = true;
        while let Some(key) = r.next_key(&mut first)? {
            match &*key {
                "logRecords" | "log_records" if r.peek_token()? == Token::Array => {
                    each(r, |r| record(r, ctx, res))?;
                }
                _ => r.skip_value()?,
            }
        }
        Ok(())
    })
}

fn record<'a, F: Sink<'a>>(
    r: &mut Reader<'a>,
    ctx: &mut Ctx<'a, '_, F>,
    res: &Resource<'a>,
) -> Parsed<()> {
    let start = r.value_start();
    let index = ctx.next_index();
    let (mut time_ns, mut observed_ns, mut severity, mut body) = (None, None, None, None);
    let mut severity_number: Option<Cow<'a, str>> = None;
    let mut attrs = Labels::new();
    let mut problem = None;
    if object_or_skip(r, &mut problem)? {
        let mut first = true;
        while let Some(key) = r.next_key(&mut first)? {
            match &*key {
                "timeUnixNano" | "time_unix_nano" => {
                    time_ns = integer(r, "timeUnixNano", &mut problem)?
                }
                "observedTimeUnixNano" | "observed_time_unix_nano" => {
                    observed_ns = integer(r, "observedTimeUnixNano", &mut problem)?;
                }
                "severityText" | "severity_text" => {
                    let at = r.value_start();
                    match r.peek_token()? {
                        Token::String => severity = Some(r.string()?),
                        other => {
                            note(&mut problem, at, || {
                                format!(
                                    "expected `severityText` to be a string, found {}",
                                    other.describe()
                                )
                            });
                            r.skip_value()?;
                        }
                    }
                }
                // A number, or the enum's name when the producer did not write enums as ints.
                "severityNumber" | "severity_number" => severity_number = Some(super::any_text(r)?),
                "body" => body = Some(any_value(r, &mut problem)?),
                "attributes" => attributes(r, &mut attrs, &mut problem)?,
                _ => r.skip_value()?,
            }
        }
    }
    if let Some(problem) = res.problem.clone().or(problem) {
        ctx.batch.problem(index, problem);
        return Ok(());
    }
    // Zero is the protobuf default: unset. The collector fills `observedTimeUnixNano`.
    let at = match time_ns
        .filter(|&ns| ns != 0)
        .or(observed_ns.filter(|&ns| ns != 0))
    {
        Some(ns) => time::from_unsigned_nanos(ns),
        None => {
            let reason =
                "log record with neither `timeUnixNano` nor `observedTimeUnixNano`".to_owned();
            ctx.batch.problem(index, Problem { at: start, reason });
            return Ok(());
        }
    };
    let service = res
        .labels
        .get_cow("service.name")
        .cloned()
        .unwrap_or(Cow::Borrowed(UNKNOWN_SERVICE));
    let level = severity
        .filter(|text| !text.is_empty())
        .or_else(|| {
            severity_number
                .and_then(|number| severity_name(&number))
                .map(Cow::Borrowed)
        })
        .unwrap_or(Cow::Borrowed("info"));
    attrs.merge_under(&res.labels);
    let log = LogRecord {
        at,
        service,
        level,
        message: body.unwrap_or_default(),
        attributes: attrs,
    };
    ctx.batch.deliver(Item::Log(log));
    Ok(())
}

/// The level a `SeverityNumber` stands for, from its number or its enum name.
fn severity_name(number: &str) -> Option<&'static str> {
    const NAMES: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];
    if let Ok(number) = number.parse::<usize>() {
        return (1..=24).contains(&number).then(|| NAMES[(number - 1) / 4]);
    }
    let name = number
        .strip_prefix("SEVERITY_NUMBER_")?
        .trim_end_matches(|c: char| c.is_ascii_digit());
    NAMES
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::severity_name;

    #[test]
    fn names_severity_numbers_by_their_range() {
        assert_eq!(severity_name("9"), Some("info"));
        assert_eq!(severity_name("17"), Some("error"));
        assert_eq!(severity_name("24"), Some("fatal"));
        assert_eq!(severity_name("0"), None);
        assert_eq!(severity_name("SEVERITY_NUMBER_WARN3"), Some("warn"));
        assert_eq!(severity_name("SEVERITY_NUMBER_UNSPECIFIED"), None);
    }
}
