//! The per-record pipeline: decode, route, detect, publish; and the partition lifecycle
//! (restore on assignment, checkpoint on revocation and on a timer).
//!
//! The pipeline is synchronous and owned by one thread, so at any instant its series state is
//! exactly "every record before `next_offset` of every owned partition". A checkpoint stores
//! that pair atomically ([`crate::store`]); a restart seeks to the stored offsets and
//! replays, and outputs a replay re-derives are only published if they were not delivered
//! before the crash ([`crate::delivery`]).
//!
//! Determinism: detectors read event time only, outputs are numbered by source offset, and the
//! anomaly id hashes series, detector and event time — so a replay produces byte-identical
//! anomalies. (One exception, documented: when the series caps force evictions, which series
//! is evicted depends on how partitions interleaved, so an evicted series may re-warm at a
//! different point than in another run.)

mod anomaly;
mod clock;
mod incidents;
mod io;
mod lifecycle;
#[cfg(test)]
mod tests;
mod timestamps;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use faultline_config::judge::judge;
use faultline_config::{CompiledRule, Config, RouteId};
use faultline_decode::{self as decode, Item, ItemError, Sample};
use faultline_detectors::{Detector, DetectorSpec};
use metrics::{Counter, Gauge, counter, gauge};
use tracing::warn;

use crate::series::{Churn, PartitionId, Series, SeriesKey, SeriesTable, Slot};
use crate::store::{Seq, Store};
use crate::telemetry::{self, DeadLetterReason, Latency};

pub use anomaly::Anomaly;
use incidents::parse_topology;
pub use incidents::{Correlation, IncidentSink};
pub use io::{InputTopic, Output, OutputKind, PipelineError, Processed, Record, Sink};

/// Per-partition position.
#[derive(Debug)]
struct PartitionState {
    /// Next offset to process; `None` until the first record when nothing was checkpointed.
    next_offset: Option<i64>,
    /// Outputs at or before this were delivered before a restart: a replay skips them.
    replay_until: Option<Seq>,
    offset_gauge: Gauge,
    /// Latest sample event time read from it (metrics topics).
    latest: Option<i64>,
    /// When its last record with a sample was received (wall clock): quiet for
    /// `ingest.idle_timeout`, it stops holding the correlator's clock.
    last_record: Option<Instant>,
    /// When it was assigned (wall clock).
    assigned: Instant,
    /// Records left to read, from the client's statistics (0 until reported).
    lag: i64,
}

/// Handles resolved once.
#[derive(Debug)]
struct Meters {
    series: Gauge,
    series_bytes: Gauge,
    created: Counter,
    evicted: Counter,
    metrics: Counter,
    logs: Counter,
    events: Counter,
    suppressed: Counter,
    discarded: Counter,
    anomalies: [Counter; 3],
    partitions: Gauge,
}

impl Meters {
    fn new() -> Self {
        use telemetry::*;
        Self {
            series: gauge!(SERIES),
            series_bytes: gauge!(SERIES_BYTES),
            created: counter!(SERIES_CREATED),
            evicted: counter!(SERIES_EVICTED),
            metrics: counter!(SAMPLES, "kind" => "metric"),
            logs: counter!(SAMPLES, "kind" => "log"),
            events: counter!(SAMPLES, "kind" => "event"),
            suppressed: counter!(REPLAY_SUPPRESSED),
            discarded: counter!(RESTORE_DISCARDED),
            anomalies: ["info", "warning", "critical"]
                .map(|s| counter!(ANOMALIES, "severity" => s)),
            partitions: gauge!(PARTITIONS),
        }
    }
}

/// The engine's processing core; see the module docs.
#[derive(Debug)]
pub struct Pipeline<S: Sink> {
    config: Arc<Config>,
    topics: Vec<InputTopic>,
    table: SeriesTable,
    parts: HashMap<PartitionId, PartitionState>,
    store: Arc<Store>,
    sink: S,
    timestamps: timestamps::Bounds,
    /// Fingerprint of each rule's detector settings, by rule name.
    fingerprints: HashMap<String, u64>,
    latency: Latency,
    meters: Meters,
    /// Reused for anomaly and dead-letter payloads.
    buf: Vec<u8>,
    /// Anomalies, changes and topology into incidents.
    correlation: Correlation,
}

impl<S: Sink> Pipeline<S> {
    /// A pipeline over `topics` (indexed by [`PartitionId::topic`]). The correlator starts
    /// from the store's last checkpoint; its updates are discarded until
    /// [`Pipeline::set_incident_sink`] names where they go.
    pub fn new(config: Arc<Config>, topics: Vec<InputTopic>, store: Arc<Store>, sink: S) -> Self {
        let correlation = Correlation::new(
            restore_correlator(&config, &store),
            Box::new(incidents::Discard),
        );
        let fingerprints = std::iter::once(config.rule(RouteId::DEFAULT))
            .chain(config.rules.iter().map(|r| &r.compiled))
            .map(|r| (r.name.clone(), fingerprint(r)))
            .collect();
        Self {
            table: SeriesTable::new(config.state.max_series, config.state.max_bytes),
            timestamps: timestamps::Bounds::new(
                config.ingest.max_timestamp_skew,
                config.ingest.max_timestamp_age,
            ),
            config,
            topics,
            parts: HashMap::new(),
            store,
            sink,
            fingerprints,
            latency: Latency::new(),
            meters: Meters::new(),
            buf: Vec::with_capacity(1024),
            correlation,
        }
    }

    /// Where incident updates are recorded (the outbox).
    pub fn set_incident_sink(&mut self, sink: Box<dyn IncidentSink>) {
        self.correlation.set_sink(sink);
    }

    /// The correlation stage (for tests).
    pub fn correlation(&self) -> &Correlation {
        &self.correlation
    }

    /// The configured input topics.
    pub fn topics(&self) -> &[InputTopic] {
        &self.topics
    }

    /// The series table (for telemetry and tests).
    pub fn table(&self) -> &SeriesTable {
        &self.table
    }

    /// The sink (for tests).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Owned partitions and their next offsets (for group commits and tests).
    pub fn positions(&self) -> Vec<(PartitionId, i64)> {
        let mut v: Vec<_> = self
            .parts
            .iter()
            .filter_map(|(pid, p)| p.next_offset.map(|o| (*pid, o)))
            .collect();
        v.sort();
        v
    }

    /// Processes one record. Bad input is dead-lettered; only a store failure is an error.
    pub fn process(&mut self, record: Record<'_>) -> Processed {
        let mut done = Processed::default();
        let Some(part) = self.parts.get(&record.pid) else {
            return done;
        };
        // After a seek the broker may resend records already reflected in the state.
        if part.next_offset.is_some_and(|next| record.offset < next) {
            return done;
        }
        let topic = &self.topics[usize::from(record.pid.topic)];
        if topic.topology {
            return self.process_topology(record);
        }
        let (kind, format) = (topic.kind, topic.format);
        let mut index = 0u32;
        let mut items = Vec::new();
        let mut item_errors: Vec<ItemError> = Vec::new();
        let decoded = match record.payload {
            None | Some([]) => Err((DeadLetterReason::Empty, "record has no payload".to_owned())),
            Some(payload) => decode::decode(format, kind, payload, &mut |item| match item {
                Ok(it) => items.push(it),
                Err(e) => item_errors.push(e),
            })
            .map_err(|e| (DeadLetterReason::Decode, e.to_string())),
        };
        let mut skewed = false;
        let mut latest = i64::MIN;
        if decoded.is_ok() {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Item::Metric(sample) => {
                        let at = sample.at.as_millis();
                        if let Some(reason) = self.timestamps.check(at, record.timestamp) {
                            skewed = true;
                            item_errors.push(ItemError { index: i, reason });
                            continue;
                        }
                        done.samples += 1;
                        latest = latest.max(at);
                        done.anomalies += self.observe(record, sample, &mut index);
                    }
                    Item::Log(_) => self.meters.logs.increment(1),
                    Item::Event(ev) => {
                        self.meters.events.increment(1);
                        self.correlation.change(ev);
                    }
                }
            }
            self.meters.metrics.increment(done.samples as u64);
            self.watermark(record.pid, record.received, latest);
        }
        let topic = &self.topics[usize::from(record.pid.topic)];
        match decoded {
            Err((reason, message)) => {
                topic.counters.dead_letter.increment(1);
                self.dead_letter(record, reason, &message, index);
                done.dead_lettered = true;
            }
            Ok(()) if !item_errors.is_empty() => {
                // A record none of whose items was taken is a dead letter, not a partial.
                if item_errors.len() == items.len() {
                    topic.counters.dead_letter.increment(1);
                } else {
                    topic.counters.partial.increment(1);
                }
                item_errors.sort_by_key(|e| e.index);
                let reason = if skewed && item_errors.len() == 1 {
                    DeadLetterReason::Skew
                } else {
                    DeadLetterReason::InvalidItem
                };
                let message = describe_item_errors(&item_errors);
                self.dead_letter(record, reason, &message, index);
                done.dead_lettered = true;
            }
            Ok(()) => topic.counters.ok.increment(1),
        }
        if let Some(part) = self.parts.get_mut(&record.pid) {
            part.next_offset = Some(record.offset + 1);
            part.offset_gauge.set((record.offset + 1) as f64);
        }
        self.latency.record(record.received.elapsed());
        done
    }

    /// Runs a sample through its series' detectors; returns the anomalies found.
    fn observe(&mut self, record: Record<'_>, sample: &Sample<'_>, index: &mut u32) -> usize {
        let config = &self.config;
        let mut churn = Churn::default();
        let Some(series) = self
            .table
            .get_or_create(record.pid, sample, &mut churn, || {
                let route = config.route(&sample.name, label_pairs(sample));
                let slots = config
                    .rule(route)
                    .detectors
                    .iter()
                    .map(|spec: &DetectorSpec| Slot {
                        detector: spec.build(),
                        pending: None,
                    })
                    .collect();
                Series::new(SeriesKey::of(sample), route, slots)
            })
        else {
            return 0;
        };
        if churn.created > 0 {
            self.meters.created.increment(churn.created);
        }
        if churn.evicted > 0 {
            self.meters.evicted.increment(churn.evicted);
        }
        series.dirty = true;
        let rule = self.config.rule(series.route);
        let mut found = 0;
        for (i, slot) in series.slots.iter_mut().enumerate() {
            let verdict = slot.detector.observe(sample.at, sample.value);
            let Some(finding) = judge(rule, &mut slot.pending, sample.at, sample.value, verdict)
            else {
                continue;
            };
            found += 1;
            let seq = Seq {
                offset: record.offset,
                index: *index,
            };
            *index += 1;
            let entity = self.config.entity(series.route, series.key.label_pairs());
            let anomaly = Anomaly {
                series: &series.key,
                series_hash: sample.series_hash(),
                entity,
                finding,
                detector: rule.detectors[i].name(),
                detector_index: i,
                rule,
                topic: &self.topics[usize::from(record.pid.topic)].name,
                partition: record.pid.partition,
                offset: record.offset,
            };
            let id = anomaly.id();
            // The correlator sees re-derived anomalies too (see `incidents`).
            self.correlation.anomaly(&anomaly, &id);
            if already_delivered(&self.parts, &self.meters, record.pid, seq) {
                continue;
            }
            self.buf.clear();
            let key = anomaly.write_json(&id, &mut self.buf);
            self.meters.anomalies[severity_index(rule)].increment(1);
            self.sink.publish(
                record.pid,
                seq,
                Output {
                    kind: OutputKind::Anomaly,
                    key: Some(key.as_bytes()),
                    payload: &self.buf,
                    headers: &[],
                },
            );
        }
        found
    }

    fn dead_letter(
        &mut self,
        record: Record<'_>,
        reason: DeadLetterReason,
        message: &str,
        index: u32,
    ) {
        telemetry::dead_letter(reason);
        let seq = Seq {
            offset: record.offset,
            index,
        };
        let topic = &self.topics[usize::from(record.pid.topic)];
        warn!(topic = %topic.name, partition = record.pid.partition, offset = record.offset,
              reason = reason.as_str(), "record dead-lettered: {message}");
        if already_delivered(&self.parts, &self.meters, record.pid, seq) {
            return;
        }
        let headers = [
            ("faultline-error", message.to_owned()),
            ("faultline-reason", reason.as_str().to_owned()),
            ("faultline-source-topic", topic.name.to_string()),
            (
                "faultline-source-partition",
                record.pid.partition.to_string(),
            ),
            ("faultline-source-offset", record.offset.to_string()),
        ];
        self.sink.publish(
            record.pid,
            seq,
            Output {
                kind: OutputKind::DeadLetter,
                key: record.key,
                payload: record.payload.unwrap_or_default(),
                headers: &headers,
            },
        );
    }

    /// Notes a record of partition `pid` received at `received` whose latest sample is at
    /// `latest` (`i64::MIN`: none), and moves the correlator's clock when event time moved.
    fn watermark(&mut self, pid: PartitionId, received: Instant, latest: i64) {
        // A record without event time (undecodable, or no sample taken) says nothing about
        // what the partition may still deliver: it neither holds the clock nor keeps the
        // partition from going idle.
        if latest == i64::MIN {
            return;
        }
        let Some(part) = self.parts.get_mut(&pid) else {
            return;
        };
        part.last_record = Some(received);
        // Event time moves the clock in steps of a second; within one, nothing to do (not
        // even reading the wall clock: this runs for every record).
        let before = part.latest;
        if before.is_some_and(|b| latest < b.saturating_add(1_000)) {
            return;
        }
        part.latest = Some(before.map_or(latest, |b| b.max(latest)));
        self.advance_clock(received, false);
    }

    /// Moves the correlator's clock to the low watermark of the metrics partitions at
    /// wall-clock `now` (see [`clock`]); `force` advances it even when the watermark has not
    /// moved, so that updates due by then (a late member's incident) go out.
    fn advance_clock(&mut self, now: Instant, force: bool) {
        let inputs = self.parts.iter().filter_map(|(pid, p)| {
            let topic = &self.topics[usize::from(pid.topic)];
            (topic.kind == decode::Kind::Metrics && !topic.topology).then_some(clock::InputClock {
                latest: p.latest,
                last_record: p.last_record,
                assigned: p.assigned,
                lagging: p.lag > 0,
            })
        });
        if let Some(low) = clock::low_watermark(inputs, now, self.config.ingest.idle_timeout) {
            self.correlation.clock(low, force);
        }
    }

    /// Records a partition's consumer lag (records left to read) from the client's
    /// statistics; a lagging partition holds the correlator's clock.
    pub fn set_lag(&mut self, pid: PartitionId, lag: i64) {
        if let Some(p) = self.parts.get_mut(&pid) {
            p.lag = lag;
        }
    }

    /// A record of a topology topic: edges into the correlator, or the dead-letter topic.
    fn process_topology(&mut self, record: Record<'_>) -> Processed {
        let mut done = Processed::default();
        let parsed = match record.payload {
            None | Some([]) => Err((DeadLetterReason::Empty, "record has no payload".to_owned())),
            Some(p) => {
                parse_topology(p, record.timestamp).map_err(|e| (DeadLetterReason::Decode, e))
            }
        };
        let topic = &self.topics[usize::from(record.pid.topic)];
        match parsed {
            Ok(updates) => {
                topic.counters.ok.increment(1);
                for u in &updates {
                    self.correlation.topology(u);
                }
            }
            Err((reason, message)) => {
                topic.counters.dead_letter.increment(1);
                self.dead_letter(record, reason, &message, 0);
                done.dead_lettered = true;
            }
        }
        if let Some(part) = self.parts.get_mut(&record.pid) {
            part.next_offset = Some(record.offset + 1);
            part.offset_gauge.set((record.offset + 1) as f64);
        }
        done
    }

    /// Moves the correlator's clock by the wall clock (partitions going idle), re-sends
    /// failed outputs and publishes the periodic gauges. Called about once a second.
    pub fn tick(&mut self) {
        self.advance_clock(Instant::now(), true);
        self.correlation.settled();
        self.sink.retry();
        self.publish_gauges();
        self.latency.publish();
    }

    fn publish_gauges(&self) {
        let c = self.correlation.correlator();
        metrics::gauge!(telemetry::INCIDENTS_OPEN).set(c.open_incidents() as f64);
        metrics::counter!(telemetry::SIGNALS_IGNORED, "reason" => "late")
            .absolute(c.late_signals());
        metrics::counter!(telemetry::SIGNALS_IGNORED, "reason" => "good_way")
            .absolute(c.good_way_signals());
        self.meters.series.set(self.table.len() as f64);
        self.meters.series_bytes.set(self.table.bytes() as f64);
    }
}

/// The correlator from config, with the state of the last checkpoint if it restores.
fn restore_correlator(config: &Config, store: &Store) -> faultline_correlator::Correlator {
    let settings = faultline_correlator::Settings {
        clock_follows_inputs: false,
        ..config.correlator.clone()
    };
    let mut c = faultline_correlator::Correlator::new(config.topology.build(), settings);
    match store.correlator() {
        Ok(None) => {}
        Ok(Some(bytes)) => {
            // A failed restore leaves the correlator as built.
            if let Err(e) = c.restore(&bytes) {
                warn!("stored correlator state does not restore; starting without incidents: {e}");
            }
        }
        Err(e) => warn!("reading the correlator state failed; starting without incidents: {e}"),
    }
    c
}

/// Whether output `seq` of `pid` was delivered before a restart (a replay re-derived it);
/// counts it as suppressed if so. A free function so that it can run while a series is
/// borrowed from the table.
fn already_delivered(
    parts: &HashMap<PartitionId, PartitionState>,
    meters: &Meters,
    pid: PartitionId,
    seq: Seq,
) -> bool {
    let delivered = parts
        .get(&pid)
        .and_then(|p| p.replay_until)
        .is_some_and(|w| seq <= w);
    if delivered {
        meters.suppressed.increment(1);
    }
    delivered
}

fn severity_index(rule: &CompiledRule) -> usize {
    match rule.severity {
        faultline_config::Severity::Info => 0,
        faultline_config::Severity::Warning => 1,
        faultline_config::Severity::Critical => 2,
    }
}

/// A sample's labels as a cloneable iterator of pairs (what routing takes).
fn label_pairs<'s>(sample: &'s Sample<'_>) -> impl Iterator<Item = (&'s str, &'s str)> + Clone {
    sample
        .labels
        .as_slice()
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
}

/// Fingerprint of a rule's detector settings (stored with series state).
fn fingerprint(rule: &CompiledRule) -> u64 {
    let json = serde_json::to_vec(&rule.detectors).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&json)
}

/// Joins item errors into one header value, bounded in length.
fn describe_item_errors(errors: &[ItemError]) -> String {
    const MAX: usize = 1000;
    let mut s = String::new();
    for (n, e) in errors.iter().enumerate() {
        let part = format!("item {}: {}", e.index, e.reason);
        if s.len() + part.len() + 2 > MAX {
            s.push_str(&format!("; and {} more", errors.len() - n));
            break;
        }
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&part);
    }
    s
}
