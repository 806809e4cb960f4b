//! `ExportMetricsServiceRequest`: gauge and sum points become samples; histogram, exponential
//! histogram and summary points become `<name>_count` and `<name>_sum` samples.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::{Ctx, Resource, attributes, double, each, integer, object_or_skip, resource};
use crate::error::{Problem, Sink, note};
use crate::json::{Parsed, Reader, Token};
use crate::{Item, Labels, Sample, time};

/// Scope arrays under a resource: the current name, the snake_case one, and the name before
/// OTLP 0.15 (still written by older collectors).
const SCOPES: [&str; 4] = [
    "scopeMetrics",
    "scope_metrics",
    "instrumentationLibraryMetrics",
    "instrumentation_library_metrics",
];

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point marks a gap, it holds no value.
const NO_RECORDED_VALUE: u64 = 1;

/// How a metric's points become samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Gauge or sum: the point's value.
    Number,
    /// Histogram, exponential histogram or summary: its count and sum.
    Aggregate,
}

pub(super) fn resource_metrics<'a, F: Sink<'a>>(
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
                "metrics" if r.peek_token()? == Token::Array => each(r, |r| metric(r, ctx, res))?,
                _ => r.skip_value()?,
            }
        }
        Ok(())
    })
}

/// The metric-wide facts every point needs.
struct Metric<'m, 'a> {
    resource: &'m Resource<'a>,
    name: Option<Cow<'a, str>>,
    problem: Option<Problem>,
}

fn metric<'a, F: Sink<'a>>(
    r: &mut Reader<'a>,
    ctx: &mut Ctx<'a, '_, F>,
    res: &Resource<'a>,
) -> Parsed<()> {
    let start = r.value_start();
    let mut metric = Metric {
        resource: res,
        name: None,
        problem: None,
    };
    if !object_or_skip(r, &mut metric.problem)? {
        return Ok(());
    }
    let mut deferred = SmallVec::<[(usize, Shape); 1]>::new();
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let shape = match &*key {
            "name" => {
                let at = r.value_start();
                match r.peek_token()? {
                    Token::String => metric.name = Some(r.string()?),
                    other => {
                        note(&mut metric.problem, at, || {
                            format!("expected `name` to be a string, found {}", other.describe())
                        });
                        r.skip_value()?;
                    }
                }
                continue;
            }
            "gauge" | "sum" => Shape::Number,
            "histogram" | "exponentialHistogram" | "exponential_histogram" | "summary" => {
                Shape::Aggregate
            }
            _ => {
                r.skip_value()?;
                continue;
            }
        };
        if metric.name.is_some() {
            data(r, ctx, &metric, shape)?;
        } else {
            deferred.push((r.value_start(), shape));
            r.skip_value()?;
        }
    }
    if metric.name.is_none() {
        note(&mut metric.problem, start, || {
            "metric without a `name`".to_owned()
        });
    }
    if !deferred.is_empty() {
        let end = r.pos();
        for (at, shape) in deferred {
            r.seek(at);
            data(r, ctx, &metric, shape)?;
        }
        r.seek(end);
    }
    Ok(())
}

/// A `gauge`/`sum`/`histogram`/… object: its `dataPoints`.
fn data<'a, F: Sink<'a>>(
    r: &mut Reader<'a>,
    ctx: &mut Ctx<'a, '_, F>,
    metric: &Metric<'_, 'a>,
    shape: Shape,
) -> Parsed<()> {
    let mut ignored = None;
    if !object_or_skip(r, &mut ignored)? {
        return Ok(());
    }
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        match &*key {
            "dataPoints" | "data_points" if r.peek_token()? == Token::Array => {
                each(r, |r| point(r, ctx, metric, shape))?;
            }
            _ => r.skip_value()?,
        }
    }
    Ok(())
}

/// What one data point holds, for any shape.
#[derive(Default)]
struct Point<'a> {
    labels: Labels<'a>,
    time_ns: Option<u64>,
    as_double: Option<f64>,
    as_int: Option<i64>,
    count: Option<u64>,
    sum: Option<f64>,
    flags: Option<u64>,
    problem: Option<Problem>,
}

fn point<'a, F: Sink<'a>>(
    r: &mut Reader<'a>,
    ctx: &mut Ctx<'a, '_, F>,
    metric: &Metric<'_, 'a>,
    shape: Shape,
) -> Parsed<()> {
    let start = r.value_start();
    let index = ctx.next_index();
    let mut p = Point::default();
    if object_or_skip(r, &mut p.problem)? {
        let mut first = true;
        while let Some(key) = r.next_key(&mut first)? {
            let problem = &mut p.problem;
            match &*key {
                "attributes" => attributes(r, &mut p.labels, problem)?,
                "timeUnixNano" | "time_unix_nano" => {
                    p.time_ns = integer(r, "timeUnixNano", problem)?
                }
                "asDouble" | "as_double" => p.as_double = double(r, "asDouble", problem)?,
                "asInt" | "as_int" => p.as_int = integer(r, "asInt", problem)?,
                "count" => p.count = integer(r, "count", problem)?,
                "sum" => p.sum = double(r, "sum", problem)?,
                "flags" => p.flags = integer(r, "flags", problem)?,
                _ => r.skip_value()?,
            }
        }
    }
    let problem = metric
        .resource
        .problem
        .clone()
        .or_else(|| metric.problem.clone())
        .or(p.problem.take());
    if let Some(problem) = problem {
        ctx.batch.problem(index, problem);
        return Ok(());
    }
    if p.flags.is_some_and(|flags| flags & NO_RECORDED_VALUE != 0) {
        return Ok(());
    }
    match samples(p, metric, shape, start) {
        Ok((first, second)) => {
            ctx.batch.deliver(Item::Metric(first));
            if let Some(second) = second {
                ctx.batch.deliver(Item::Metric(second));
            }
        }
        Err(problem) => ctx.batch.problem(index, problem),
    }
    Ok(())
}

/// The sample(s) of a complete point; `start` locates problems.
fn samples<'a>(
    mut p: Point<'a>,
    metric: &Metric<'_, 'a>,
    shape: Shape,
    start: usize,
) -> Result<(Sample<'a>, Option<Sample<'a>>), Problem> {
    let problem = |reason: &str| Problem {
        at: start,
        reason: reason.to_owned(),
    };
    // `metric` has no name only when it has a problem, reported before this.
    let name = metric.name.clone().unwrap_or_default();
    let at = match p.time_ns {
        // Zero is the protobuf default: the field was not set.
        None | Some(0) => return Err(problem("data point without `timeUnixNano`")),
        Some(ns) => time::from_unsigned_nanos(ns),
    };
    // Point attributes win over resource attributes of the same key.
    p.labels.merge_under(&metric.resource.labels);
    match shape {
        Shape::Number => {
            let value = match (p.as_double, p.as_int) {
                (Some(double), _) => double,
                (None, Some(int)) => int as f64,
                (None, None) => {
                    return Err(problem("data point with neither `asDouble` nor `asInt`"));
                }
            };
            if !value.is_finite() {
                return Err(problem("data point value is not finite"));
            }
            Ok((
                Sample {
                    name,
                    labels: p.labels,
                    at,
                    value,
                },
                None,
            ))
        }
        Shape::Aggregate => {
            // An absent count is the protobuf default, zero.
            let count = p.count.unwrap_or(0) as f64;
            let sum = match p.sum {
                Some(sum) if !sum.is_finite() => {
                    return Err(problem("data point `sum` is not finite"));
                }
                sum => sum,
            };
            let count_name = Cow::Owned(format!("{name}_count"));
            let Some(sum) = sum else {
                return Ok((
                    Sample {
                        name: count_name,
                        labels: p.labels,
                        at,
                        value: count,
                    },
                    None,
                ));
            };
            let counted = Sample {
                name: count_name,
                labels: p.labels.clone(),
                at,
                value: count,
            };
            let summed = Sample {
                name: Cow::Owned(format!("{name}_sum")),
                labels: p.labels,
                at,
                value: sum,
            };
            Ok((counted, Some(summed)))
        }
    }
}
