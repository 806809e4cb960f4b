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

/// One rule of `rules:` (detectors come from `defaults`).
#[derive(Debug, Clone)]
pub struct Rule {
    /// `name`.
    pub name: String,
    /// `match.metric`: a glob over the metric name.
    pub metric: String,
    /// `match.labels.service: {glob: ..}`, if set.
    pub service_glob: Option<String>,
    /// `direction`: `up`, `down` or `both`.
    pub direction: String,
    /// `severity`: `info`, `warning` or `critical`.
    pub severity: String,
}

/// One entry of `receivers:`.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// `name`.
    pub name: String,
    /// `type`: `native`, `alertmanager`, `pagerduty` or `slack`.
    pub kind: String,
    /// `url`.
    pub url: String,
    /// `secret`, if any.
    pub secret: Option<String>,
    /// `routing_key` (PagerDuty).
    pub routing_key: Option<String>,
    /// `timeout`, e.g. `5s`.
    pub timeout: String,
    /// `max_backoff`, e.g. `1s`.
    pub max_backoff: String,
    /// `external_url`, if any.
    pub external_url: Option<String>,
}

impl Receiver {
    /// A receiver of `kind` posting to `url`, with a 5 s timeout and a 1 s backoff cap (test
    /// outages last seconds, not minutes).
    pub fn new(name: &str, kind: &str, url: String) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            url,
            secret: None,
            routing_key: None,
            timeout: "5s".into(),
            max_backoff: "1s".into(),
            external_url: None,
        }
    }
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
    /// `kafka.incidents_topic`.
    pub incidents_topic: String,
    /// `ingest.max_timestamp_skew`, e.g. `off` or `1d`.
    pub max_timestamp_skew: String,
    /// `ingest.idle_timeout`, e.g. `30s`.
    pub idle_timeout: String,
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
    /// `rules:` (none: every series gets `defaults`).
    pub rules: Vec<Rule>,
    /// `correlator:` settings as key and YAML value, e.g. `("group_wait", "2m")`.
    pub correlator: Vec<(String, String)>,
    /// `topology.edges`: `calls` edges as (from, to).
    pub calls: Vec<(String, String)>,
    /// `receivers:`.
    pub receivers: Vec<Receiver>,
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
            incidents_topic: unique("it-incidents"),
            max_timestamp_skew: "off".into(),
            idle_timeout: "30s".into(),
            state_dir: dir.join("state"),
            checkpoint_interval: "200ms".into(),
            max_series: 1000,
            max_bytes: "64MiB".into(),
            sensitivity: 0.5,
            min_duration: "0s".into(),
            entity_labels: vec!["service".into()],
            rules: Vec::new(),
            correlator: Vec::new(),
            calls: Vec::new(),
            receivers: Vec::new(),
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
        let _ = writeln!(y, "  incidents_topic: {}", q(&self.incidents_topic));
        let _ = writeln!(y, "ingest:");
        let _ = writeln!(y, "  max_timestamp_skew: {}", q(&self.max_timestamp_skew));
        let _ = writeln!(y, "  idle_timeout: {}", q(&self.idle_timeout));
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
        self.incident_yaml(&mut y);
        y
    }

    /// The `rules:`, `correlator:`, `topology:` and `receivers:` sections, when set.
    fn incident_yaml(&self, y: &mut String) {
        let q = |s: &str| json_string(s);
        if !self.rules.is_empty() {
            let _ = writeln!(y, "rules:");
            for r in &self.rules {
                let _ = writeln!(y, "  - name: {}", q(&r.name));
                let _ = write!(y, "    match: {{metric: {}", q(&r.metric));
                if let Some(g) = &r.service_glob {
                    let _ = write!(y, ", labels: {{service: {{glob: {}}}}}", q(g));
                }
                let _ = writeln!(y, "}}");
                let _ = writeln!(y, "    direction: {}", r.direction);
                let _ = writeln!(y, "    severity: {}", r.severity);
            }
        }
        if !self.correlator.is_empty() {
            let _ = writeln!(y, "correlator:");
            for (k, v) in &self.correlator {
                let _ = writeln!(y, "  {k}: {v}");
            }
        }
        if !self.calls.is_empty() {
            let _ = writeln!(y, "topology:");
            let _ = writeln!(y, "  edges:");
            for (from, to) in &self.calls {
                let _ = writeln!(y, "    - {{from: {}, to: {}, kind: calls}}", q(from), q(to));
            }
        }
        if !self.receivers.is_empty() {
            let _ = writeln!(y, "receivers:");
            for r in &self.receivers {
                let _ = writeln!(y, "  - name: {}", q(&r.name));
                let _ = writeln!(y, "    type: {}", r.kind);
                let _ = writeln!(y, "    url: {}", q(&r.url));
                let _ = writeln!(y, "    timeout: {}", r.timeout);
                let _ = writeln!(y, "    max_backoff: {}", r.max_backoff);
                for (key, value) in [
                    ("secret", &r.secret),
                    ("routing_key", &r.routing_key),
                    ("external_url", &r.external_url),
                ] {
                    if let Some(v) = value {
                        let _ = writeln!(y, "    {key}: {}", q(v));
                    }
                }
            }
        }
    }

    /// Writes the file to `path` and returns `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.to_yaml())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_owned()
    }
}
