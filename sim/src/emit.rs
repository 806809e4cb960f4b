//! Turning a step's reports into Kafka records in Faultline's native JSON: one record per
//! node with its six samples, one per host, one per node with its log lines, one per deploy.
//!
//! Payloads are written through serde so every string is escaped correctly; values are
//! rounded to what an exporter would print, which also keeps the records compact.

use serde::Serialize;

use crate::model::{NodeReport, Report, Trouble};
use crate::rng::Rng;
use crate::topology::{HOSTS, NODES, NodeKind};
use crate::{SimRecord, Topic};

pub(crate) const REQUEST_RATE: &str = "http_requests_per_second";
pub(crate) const LATENCY_P50: &str = "http_request_duration_p50_ms";
pub(crate) const LATENCY_P99: &str = "http_request_duration_p99_ms";
pub(crate) const ERROR_RATIO: &str = "http_error_ratio";
pub(crate) const CPU: &str = "process_cpu_percent";
pub(crate) const MEMORY: &str = "process_memory_mib";
pub(crate) const HOST_CPU: &str = "node_cpu_percent";

#[derive(Serialize)]
struct SampleOut<'a> {
    name: &'a str,
    labels: LabelsOut<'a>,
    ts: i64,
    value: f64,
}

#[derive(Serialize)]
struct LabelsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    host: &'a str,
}

#[derive(Serialize)]
struct LogOut<'a> {
    ts: i64,
    service: &'a str,
    level: &'a str,
    message: String,
    attributes: LogAttributes<'a>,
}

#[derive(Serialize)]
struct LogAttributes<'a> {
    host: &'a str,
    route: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callee: Option<&'a str>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    ts: i64,
    kind: &'a str,
    entity: &'a str,
    attributes: EventAttributes<'a>,
}

#[derive(Serialize)]
struct EventAttributes<'a> {
    service: &'a str,
    version: &'a str,
    previous_version: &'a str,
    reason: &'a str,
}

fn json(value: &impl Serialize) -> Vec<u8> {
    // Serializing plain structs of strings and finite numbers cannot fail.
    serde_json::to_vec(value).expect("simulator records serialize")
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// The metric record of node `i`.
pub(crate) fn node_metrics(i: usize, r: &NodeReport, t: i64) -> SimRecord {
    let spec = &NODES[i];
    let labels = || LabelsOut {
        service: Some(spec.name),
        host: spec.host,
    };
    let sample = |name, value| SampleOut {
        name,
        labels: labels(),
        ts: t,
        value,
    };
    let samples = [
        sample(REQUEST_RATE, round(r.rate, 2)),
        sample(LATENCY_P50, round(r.p50_ms, 2)),
        sample(LATENCY_P99, round(r.p99_ms, 2)),
        sample(ERROR_RATIO, round(r.error_ratio, 5)),
        sample(CPU, round(r.cpu, 2)),
        sample(MEMORY, round(r.memory_mib, 1)),
    ];
    SimRecord {
        topic: Topic::Metrics,
        key: spec.name.to_owned(),
        at_ms: t,
        payload: json(&samples),
    }
}

/// The metric record of host `h`.
pub(crate) fn host_metrics(h: usize, cpu: f64, t: i64) -> SimRecord {
    let sample = SampleOut {
        name: HOST_CPU,
        labels: LabelsOut {
            service: None,
            host: HOSTS[h],
        },
        ts: t,
        value: round(cpu, 2),
    };
    SimRecord {
        topic: Topic::Metrics,
        key: HOSTS[h].to_owned(),
        at_ms: t,
        payload: json(&[sample]),
    }
}

/// A `deploy` change event.
pub(crate) fn deploy(
    node: usize,
    at_ms: i64,
    version: &str,
    previous: &str,
    reason: &str,
) -> SimRecord {
    let name = NODES[node].name;
    let event = EventOut {
        ts: at_ms,
        kind: "deploy",
        entity: name,
        attributes: EventAttributes {
            service: name,
            version,
            previous_version: previous,
            reason,
        },
    };
    SimRecord {
        topic: Topic::Events,
        key: name.to_owned(),
        at_ms,
        payload: json(&event),
    }
}

/// The log lines node `i` wrote during the step ending at `t`, as one record (none if it
/// wrote nothing). Lines come at about one per 800 requests, errors at one per 50 failed
/// requests, warnings when the node or a callee is slow.
pub(crate) fn node_logs(
    i: usize,
    report: &Report,
    t: i64,
    step_ms: i64,
    rng: &mut Rng,
) -> Option<SimRecord> {
    let r = &report.nodes[i];
    let spec = &NODES[i];
    let requests = r.rate * step_ms as f64 / 1000.0;
    let slow_callee = r.slowest_callee.filter(|&(_, ms)| ms > 400.0);
    let own_slow = matches!(r.trouble, Some(Trouble::Slow | Trouble::Saturated));
    let lines = [
        ("info", rng.poisson(requests / 800.0)),
        (
            "warn",
            rng.poisson(
                0.02 + 3.0 * f64::from(u8::from(own_slow))
                    + 1.5 * f64::from(u8::from(slow_callee.is_some())),
            ),
        ),
        (
            "error",
            rng.poisson((r.error_ratio * requests / 50.0).min(25.0)),
        ),
    ];
    let total: usize = lines.iter().map(|&(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut offsets: Vec<i64> = (0..total)
        .map(|_| (rng.unit() * step_ms as f64) as i64)
        .collect();
    offsets.sort_unstable();
    let mut out = Vec::with_capacity(total);
    let mut next = offsets.into_iter();
    for (level, count) in lines {
        for _ in 0..count {
            let ts = t - step_ms + 1 + next.next().unwrap_or(0).min(step_ms - 1);
            let route = spec.routes[rng.below(spec.routes.len())];
            let (message, callee) = match level {
                "info" => (info(i, r, route, rng), None),
                "warn" => warn(r, route, slow_callee, rng),
                _ => error(i, report, route, rng),
            };
            out.push(LogOut {
                ts,
                service: spec.name,
                level,
                message,
                attributes: LogAttributes {
                    host: spec.host,
                    route,
                    callee,
                },
            });
        }
    }
    // Levels were generated in turn; a log is read in time order.
    out.sort_by_key(|l| l.ts);
    Some(SimRecord {
        topic: Topic::Logs,
        key: spec.name.to_owned(),
        at_ms: t,
        payload: json(&out),
    })
}

fn info(i: usize, r: &NodeReport, route: &str, rng: &mut Rng) -> String {
    let ms = (r.p50_ms * rng.range(0.5, 1.8)).round();
    match (NODES[i].kind, rng.below(3)) {
        (NodeKind::Resource, 0) => format!(
            "accepted connection from 10.0.{}.{}:{}",
            rng.below(8),
            2 + rng.below(250),
            30_000 + rng.below(30_000)
        ),
        (NodeKind::Resource, 1) => format!(
            "checkpoint complete: wrote {} buffers",
            100 + rng.below(4000)
        ),
        (_, 0) => format!("{route} completed status=OK duration_ms={ms}"),
        (_, 1) => format!("handled {route} in {ms}ms"),
        _ => format!(
            "request served route={route} bytes={}",
            200 + rng.below(20_000)
        ),
    }
}

fn warn<'a>(
    r: &NodeReport,
    route: &str,
    slow_callee: Option<(usize, f64)>,
    rng: &mut Rng,
) -> (String, Option<&'a str>) {
    match (r.trouble, slow_callee) {
        (Some(Trouble::Saturated), _) if rng.below(2) == 0 => (
            format!(
                "worker pool exhausted: {} requests queued",
                20 + rng.below(400)
            ),
            None,
        ),
        (None, Some((c, ms))) => {
            let callee = NODES[c].name;
            (
                format!(
                    "call to {callee} took {}ms",
                    (ms * rng.range(0.8, 1.3)).round()
                ),
                Some(callee),
            )
        }
        _ => (
            format!(
                "slow request {route} took {}ms (threshold 250ms)",
                (r.p99_ms * rng.range(0.7, 1.2)).round()
            ),
            None,
        ),
    }
}

fn error<'a>(i: usize, report: &Report, route: &str, rng: &mut Rng) -> (String, Option<&'a str>) {
    let r = &report.nodes[i];
    let own = match r.trouble {
        Some(Trouble::BadBuild) => Some(match rng.below(2) {
            0 => format!(
                "unhandled exception in {route}: NullPointerException at RequestHandler.java:{}",
                100 + rng.below(3) * 17
            ),
            _ => "failed to serialize response: missing field `currency_code`".to_owned(),
        }),
        Some(Trouble::Down) => Some(match rng.below(3) {
            0 => "could not accept connection: too many clients already".to_owned(),
            1 => "out of memory: cannot allocate buffer".to_owned(),
            _ => format!("replication lag {}s, refusing reads", 30 + rng.below(90)),
        }),
        Some(Trouble::Saturated) => Some(format!(
            "deadline exceeded after {}ms handling {route}",
            (r.p99_ms * rng.range(0.8, 1.5)).round()
        )),
        Some(Trouble::Slow) | None => None,
    };
    if let Some(message) = own {
        return (message, None);
    }
    match r.failing_callee {
        // A callee's failures explain most of this node's errors when they dominate its own.
        Some((c, share)) if share > NODES[i].error_ratio => {
            let callee = NODES[c].name;
            let reason = match report.nodes[c].trouble {
                Some(Trouble::Down) => "connection refused",
                _ if rng.below(2) == 0 => "rpc error: code = Unavailable",
                _ => "rpc error: code = DeadlineExceeded",
            };
            (format!("call to {callee} failed: {reason}"), Some(callee))
        }
        _ => (format!("request {route} failed: internal error"), None),
    }
}
