//! The engine configuration a test runs with, written as the YAML file `faultline run` reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::broker::{Broker, unique};
use crate::series::json_string;

/// One input topic.
#[derive(Debug, Clone)]
pub struct InputTopic {
    /// Topic name.
    pub name: String,
    /// `metrics`, `logs` or `events`.
    pub kind: String,
    /// Record format, e.g. `native_json`.
    pub format: String,
}

/// The settings a test varies; [`EngineConfig::to_yaml`] renders the whole file.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `kafka.brokers`.
    pub brokers: String,
    /// `kafka.group_id`.
    pub group_id: String,
    /// `kafka.options`: librdkafka settings passed through.
    pub options: Vec<(String, String)>,
    /// `kafka.topics`.
    pub topics: Vec<InputTopic>,
    /// `kafka.dead_letter_topic`.
    pub dead_letter_topic: String,
    /// `kafka.anomalies_topic`.
    pub anomalies_topic: String,
    /// `ingest.max_timestamp_skew`, e.g. `off` or `1d`.
    pub max_timestamp_skew: String,
    /// `state.dir`.
    pub state_dir: PathBuf,
    /// `state.checkpoint_interval`.
    pub checkpoint_interval: String,
    /// `state.max_series`.
    pub max_series: u64,
    /// `state.max_bytes`, e.g. `64MiB`.
    pub max_bytes: String,
    /// `defaults.sensitivity`.
    pub sensitivity: f64,
    /// `defaults.min_duration`.
    pub min_duration: String,
    /// `defaults.entity_labels`.
    pub entity_labels: Vec<String>,
}

impl EngineConfig {
    /// A config on `broker` with fresh unique group and output topic names, state under
    /// `dir`, and one metrics input topic `metrics_topic` in native JSON.
    pub fn new(broker: &Broker, dir: &Path, metrics_topic: &str) -> Self {
        Self {
            brokers: broker.bootstrap().to_owned(),
            group_id: unique("it-group"),
            // A restarted engine joins the group its killed predecessor left without saying
            // goodbye; a short session lets the broker notice within seconds, not 45 s.
            options: vec![
                ("session.timeout.ms".into(), "6000".into()),
                ("heartbeat.interval.ms".into(), "1000".into()),
            ],
            topics: vec![InputTopic {
                name: metrics_topic.to_owned(),
                kind: "metrics".into(),
                format: "native_json".into(),
            }],
            dead_letter_topic: unique("it-dlq"),
            anomalies_topic: unique("it-anomalies"),
            max_timestamp_skew: "off".into(),
            state_dir: dir.join("state"),
            checkpoint_interval: "200ms".into(),
            max_series: 1000,
            max_bytes: "64MiB".into(),
            sensitivity: 0.5,
            min_duration: "0s".into(),
            entity_labels: vec!["service".into()],
        }
    }

    /// The configuration file's text.
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| json_string(s);
        let mut y = String::new();
        let _ = writeln!(y, "kafka:");
        let _ = writeln!(y, "  brokers: {}", q(&self.brokers));
        let _ = writeln!(y, "  group_id: {}", q(&self.group_id));
        if self.options.is_empty() {
            let _ = writeln!(y, "  options: {{}}");
        } else {
            let _ = writeln!(y, "  options:");
            for (k, v) in &self.options {
                let _ = writeln!(y, "    {}: {}", q(k), q(v));
            }
        }
        let _ = writeln!(y, "  topics:");
        for t in &self.topics {
            let _ = writeln!(
                y,
                "    - {{name: {}, kind: {}, format: {}}}",
                q(&t.name),
                t.kind,
                t.format
            );
        }
        let _ = writeln!(y, "  dead_letter_topic: {}", q(&self.dead_letter_topic));
        let _ = writeln!(y, "  anomalies_topic: {}", q(&self.anomalies_topic));
        let _ = writeln!(y, "ingest:");
        let _ = writeln!(y, "  max_timestamp_skew: {}", q(&self.max_timestamp_skew));
        let _ = writeln!(y, "state:");
        let _ = writeln!(
            y,
            "  dir: {}",
            q(self.state_dir.to_str().expect("UTF-8 temp path"))
        );
        let _ = writeln!(y, "  checkpoint_interval: {}", self.checkpoint_interval);
        let _ = writeln!(y, "  max_series: {}", self.max_series);
        let _ = writeln!(y, "  max_bytes: {}", self.max_bytes);
        let _ = writeln!(y, "http:");
        let _ = writeln!(y, "  listen: \"127.0.0.1:0\"");
        let _ = writeln!(y, "defaults:");
        let _ = writeln!(y, "  detectors: [{{kind: ensemble}}]");
        let _ = writeln!(y, "  sensitivity: {}", self.sensitivity);
        let _ = writeln!(y, "  min_duration: {}", self.min_duration);
        let labels: Vec<String> = self.entity_labels.iter().map(|l| q(l)).collect();
        let _ = writeln!(y, "  entity_labels: [{}]", labels.join(", "));
        y
    }

    /// Writes the file to `path` and returns `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.to_yaml())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_owned()
    }
}
