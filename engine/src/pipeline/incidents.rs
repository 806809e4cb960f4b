//! The pipeline's side of correlation: anomalies, change events and topology records into
//! the correlator, and its incident updates into the outbox.
//!
//! The correlator sees every anomaly the pipeline derives, including those a replay
//! re-derives without re-publishing: its state is restored from the same checkpoint as the
//! detectors', so it must see the same inputs to re-derive the same revisions (which the
//! outbox then drops as already recorded).

use std::fmt::Write as _;

use faultline_config::judge::Subject;
use faultline_correlator::{Change, Correlator, EdgeKind, IncidentUpdate, Millis, TopologyUpdate};
use faultline_decode::ChangeEvent;
use serde::Deserialize;
use tracing::error;

use super::anomaly::Anomaly;
use crate::series::SeriesKey;

/// Where incident updates go: the durable outbox in the service, memory in tests.
pub trait IncidentSink: Send {
    /// Records `updates` durably before anything is delivered. An error leaves them with
    /// the caller, which retries.
    fn enqueue(&mut self, updates: &[IncidentUpdate]) -> anyhow::Result<()>;
}

/// Drops updates (until a real sink is set).
#[derive(Debug)]
pub(super) struct Discard;

impl IncidentSink for Discard {
    fn enqueue(&mut self, _: &[IncidentUpdate]) -> anyhow::Result<()> {
        Ok(())
    }
}

impl IncidentSink for std::sync::Arc<std::sync::Mutex<Vec<IncidentUpdate>>> {
    fn enqueue(&mut self, updates: &[IncidentUpdate]) -> anyhow::Result<()> {
        self.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .extend_from_slice(updates);
        Ok(())
    }
}

/// The correlator with its clock and the updates not yet recorded.
pub struct Correlation {
    pub(super) correlator: Correlator,
    sink: Box<dyn IncidentSink>,
    /// Updates derived but not yet recorded by the sink (it failed); retried.
    unrecorded: Vec<IncidentUpdate>,
    /// Event time the correlator was last advanced to.
    advanced: Millis,
}

impl std::fmt::Debug for Correlation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlation")
            .field("open_incidents", &self.correlator.open_incidents())
            .field("unrecorded", &self.unrecorded.len())
            .field("advanced", &self.advanced)
            .finish()
    }
}

/// The clock moves the correlator at most once per this much event time.
const ADVANCE_STEP_MS: Millis = 1_000;

impl Correlation {
    /// Correlation into `sink`.
    pub fn new(correlator: Correlator, sink: Box<dyn IncidentSink>) -> Self {
        Self {
            correlator,
            sink,
            unrecorded: Vec::new(),
            advanced: Millis::MIN,
        }
    }

    /// Replaces the sink.
    pub fn set_sink(&mut self, sink: Box<dyn IncidentSink>) {
        self.sink = sink;
    }

    /// The correlator (for snapshots and tests).
    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    /// Whether every derived update is recorded (a checkpoint may only be written then).
    pub fn settled(&mut self) -> bool {
        self.record(Vec::new());
        self.unrecorded.is_empty()
    }

    fn record(&mut self, updates: Vec<IncidentUpdate>) {
        self.unrecorded.extend(updates);
        if self.unrecorded.is_empty() {
            return;
        }
        match self.sink.enqueue(&self.unrecorded) {
            Ok(()) => {
                metrics::counter!(crate::telemetry::INCIDENT_UPDATES)
                    .increment(self.unrecorded.len() as u64);
                self.unrecorded.clear();
            }
            Err(e) => error!(
                updates = self.unrecorded.len(),
                "recording incident updates failed (kept, retried): {e:#}"
            ),
        }
    }

    /// An anomaly the pipeline found, with its [`Anomaly::id`].
    pub fn anomaly(&mut self, a: &Anomaly<'_>, id: &str) {
        let subject = Subject {
            id: id.to_owned(),
            entity: a.entity().1.to_owned(),
            series: display(a.series),
            metric: a.series.name.to_string(),
        };
        let signal = a.finding.signal(subject, a.rule, a.detector);
        let mut out = Vec::new();
        self.correlator.signal(signal, &mut out);
        self.record(out);
    }

    /// A change event from an events topic.
    pub fn change(&mut self, ev: &ChangeEvent<'_>) {
        let mut summary = String::new();
        for (k, v) in ev.attributes.iter() {
            if !summary.is_empty() {
                summary.push(' ');
            }
            let _ = write!(summary, "{k}={v}");
        }
        let at = ev.at.as_millis();
        let mut key = format!("{}\0{}\0{at}\0", ev.entity, ev.kind).into_bytes();
        key.extend_from_slice(summary.as_bytes());
        let change = Change {
            id: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&key)),
            entity: ev.entity.to_string(),
            at,
            kind: ev.kind.to_string(),
            summary,
        };
        let mut out = Vec::new();
        self.correlator.change(change, &mut out);
        self.record(out);
    }

    /// A topology update.
    pub fn topology(&mut self, u: &TopologyUpdate) {
        self.correlator.apply_topology(u);
    }

    /// Event time reached `now` somewhere in the input.
    ///
    /// With `force` the correlator is advanced even if event time has not moved (at least
    /// to where it already is), so that updates that came due meanwhile go out.
    pub fn clock(&mut self, now: Millis, force: bool) {
        if !force && now < self.advanced.saturating_add(ADVANCE_STEP_MS) {
            return;
        }
        self.advanced = self.advanced.max(now);
        let mut out = Vec::new();
        self.correlator.advance(self.advanced, &mut out);
        self.record(out);
    }
}

/// `name{k="v",...}`.
fn display(key: &SeriesKey) -> String {
    let mut s = String::with_capacity(key.name.len() + 16 * key.labels.len());
    s.push_str(&key.name);
    if !key.labels.is_empty() {
        s.push('{');
        for (i, (k, v)) in key.label_pairs().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{k}={v:?}");
        }
        s.push('}');
    }
    s
}

/// A topology record as producers write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEdge {
    from: String,
    to: String,
    #[serde(default)]
    kind: Option<EdgeKind>,
    /// Event time, ms; default the Kafka record's timestamp.
    #[serde(default)]
    ts: Option<i64>,
    /// How long the edge lives without being seen again: ms, or a duration like `10m`.
    #[serde(default)]
    ttl: Option<serde_json::Value>,
    #[serde(default)]
    remove: bool,
}

/// Parses a topology record: one edge object or an array of them. `record_ts` is the Kafka
/// timestamp, used when an edge has no `ts`.
pub(super) fn parse_topology(
    payload: &[u8],
    record_ts: Option<i64>,
) -> Result<Vec<TopologyUpdate>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let e: WireEdge = serde_json::from_value(item).map_err(|e| format!("item {i}: {e}"))?;
        if e.from.is_empty() || e.to.is_empty() || e.from == e.to {
            return Err(format!(
                "item {i}: `from` and `to` must be two different nodes"
            ));
        }
        let at =
            e.ts.or(record_ts)
                .ok_or_else(|| format!("item {i}: no `ts` and the record has no timestamp"))?;
        let ttl = match e.ttl {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => Some(
                n.as_i64()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("item {i}: `ttl` must be a positive number of ms"))?,
            ),
            Some(serde_json::Value::String(s)) => {
                let d = faultline_detectors::duration::parse(&s)
                    .map_err(|e| format!("item {i}: `ttl` {s:?}: {e}"))?;
                Some(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }
            Some(other) => return Err(format!("item {i}: `ttl` {other} is not a duration")),
        };
        out.push(TopologyUpdate {
            from: e.from,
            to: e.to,
            kind: e.kind.unwrap_or(EdgeKind::Calls),
            at,
            ttl,
            remove: e.remove,
        });
    }
    Ok(out)
}
