//! The anomaly record published to the anomalies topic.

use std::fmt::Write as _;

use faultline_config::CompiledRule;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::series::SeriesKey;
use faultline_config::judge::Finding;

/// Everything an anomaly record says, borrowed from the pipeline.
#[derive(Debug)]
pub struct Anomaly<'a> {
    /// The series.
    pub series: &'a SeriesKey,
    /// Its key hash (stable across runs).
    pub series_hash: u64,
    /// The entity the rule's `entity_labels` name: (label, value).
    pub entity: Option<(&'a str, &'a str)>,
    /// What was found.
    pub finding: Finding,
    /// Detector name.
    pub detector: &'static str,
    /// Position of the detector in the rule.
    pub detector_index: usize,
    /// The rule.
    pub rule: &'a CompiledRule,
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
}

struct Labels<'a>(&'a SeriesKey);

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.labels.len()))?;
        for (k, v) in self.0.label_pairs() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    id: &'a str,
    series: WireSeries<'a>,
    entity: WireEntity<'a>,
    at: String,
    at_ms: i64,
    value: f64,
    score: f64,
    direction: &'static str,
    expected: WireBand,
    detector: &'static str,
    rule: &'a str,
    severity: &'static str,
    source: WireSource<'a>,
}

#[derive(Serialize)]
struct WireSeries<'a> {
    name: &'a str,
    labels: Labels<'a>,
}

#[derive(Serialize)]
struct WireEntity<'a> {
    kind: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct WireBand {
    lower: f64,
    upper: f64,
}

#[derive(Serialize)]
struct WireSource<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
}

impl Anomaly<'_> {
    /// Deterministic id: series, detector position and event time.
    pub fn id(&self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.series_hash.to_le_bytes());
        bytes[8..16].copy_from_slice(&(self.detector_index as u64).to_le_bytes());
        bytes[16..].copy_from_slice(&self.finding.at.as_millis().to_le_bytes());
        let mut id = String::with_capacity(16);
        let _ = write!(id, "{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        id
    }

    /// The entity as (kind, name): the rule's first entity label present, else the metric.
    pub fn entity(&self) -> (&str, &str) {
        self.entity.unwrap_or(("metric", &self.series.name))
    }

    /// Writes the JSON record with its [`Anomaly::id`] into `out`; returns the Kafka key (the
    /// entity name).
    pub fn write_json(&self, id: &str, out: &mut Vec<u8>) -> String {
        let (kind, name) = self.entity();
        let f = &self.finding;
        let at = chrono::DateTime::from_timestamp_millis(f.at.as_millis())
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let wire = Wire {
            id,
            series: WireSeries {
                name: &self.series.name,
                labels: Labels(self.series),
            },
            entity: WireEntity { kind, name },
            at,
            at_ms: f.at.as_millis(),
            value: f.value,
            score: f.score,
            direction: if f.up { "up" } else { "down" },
            expected: WireBand {
                lower: f.lower,
                upper: f.upper,
            },
            detector: self.detector,
            rule: &self.rule.name,
            severity: self.rule.severity.as_str(),
            source: WireSource {
                topic: self.topic,
                partition: self.partition,
                offset: self.offset,
            },
        };
        // Serializing into a Vec only fails on non-finite floats, which serde_json writes as
        // null; the detectors never produce them.
        let _ = serde_json::to_writer(&mut *out, &wire);
        name.to_owned()
    }
}
