//! The validated configuration the engine runs on.
//!
//! Every value here has passed its checks and has its default filled in, so the engine
//! never re-validates or falls back: a [`Config`] that exists is one the engine can run.
//! What each setting means is documented once, on the file format (published as
//! [`crate::json_schema`]); the fields here name the corresponding key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use faultline_detectors::DetectorSpec;
use serde::{Deserialize, Serialize};

use crate::matching::RuleMatcher;

/// The whole configuration, merged from every file.
#[derive(Debug, Clone)]
pub struct Config {
    /// `kafka:` — where records come from and go to.
    pub kafka: KafkaConfig,
    /// `ingest:` — what the engine accepts from producers.
    pub ingest: IngestConfig,
    /// `state:` — detector state, checkpoints and their limits.
    pub state: StateConfig,
    /// `http:` — the metrics and health endpoint.
    pub http: HttpConfig,
    /// `log:` — the engine's own logs.
    pub log: LogConfig,
    /// `defaults:` — what a series gets when no rule matches.
    pub defaults: RuleDefaults,
    /// `rules:` — in order; the first that matches a series wins.
    pub rules: Vec<Rule>,
}

impl Default for Config {
    /// The configuration of an empty file: every setting at its documented default.
    fn default() -> Self {
        crate::load::load_str("<defaults>", "").expect("the built-in defaults are valid")
    }
}

/// `kafka:` after validation.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `None`: the engine starts an embedded mock cluster (for trying Faultline out).
    pub brokers: Option<String>,
    /// Consumer group.
    pub group_id: String,
    /// librdkafka options passed through verbatim.
    pub options: BTreeMap<String, String>,
    /// Input topics; never empty, names unique.
    pub topics: Vec<TopicConfig>,
    /// Where records that cannot be decoded or accepted go.
    pub dead_letter_topic: String,
    /// Where anomalies are produced.
    pub anomalies_topic: String,
}

/// One input topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// Kafka topic name; not empty.
    pub name: String,
    /// What its records carry.
    pub kind: TopicKind,
    /// How its records are encoded.
    pub format: TopicFormat,
}

/// What the records of an input topic carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopicKind {
    /// Numeric samples of series.
    Metrics,
    /// Log lines.
    Logs,
    /// Discrete events such as deploys and config changes.
    Events,
}

impl TopicKind {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Logs => "logs",
            Self::Events => "events",
        }
    }
}

/// How the records of an input topic are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopicFormat {
    /// Faultline's own JSON records.
    NativeJson,
    /// OpenTelemetry OTLP, JSON encoding.
    OtlpJson,
    /// InfluxDB line protocol.
    Influx,
}

impl TopicFormat {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NativeJson => "native_json",
            Self::OtlpJson => "otlp_json",
            Self::Influx => "influx",
        }
    }
}

/// `ingest:` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// `None` when written as `off`: samples are never dead-lettered for their timestamp.
    pub max_timestamp_skew: Option<Duration>,
}

/// `state:` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// Directory of the state store, as written (relative to the working directory).
    pub dir: PathBuf,
    /// Time between checkpoints; never zero.
    pub checkpoint_interval: Duration,
    /// Most live series; never zero.
    pub max_series: usize,
    /// Most bytes of detector state; never zero.
    pub max_bytes: u64,
}

/// `http:` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address of `/metrics`, `/healthz` and `/readyz`; port 0 picks a free port.
    pub listen: SocketAddr,
}

/// `log:` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// `tracing` `EnvFilter` directives, as written.
    pub level: String,
}

/// How the engine writes its own log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How urgent an anomaly is, as reported with it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Info,
    /// Needs attention.
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// The name used in files and on the anomalies topic.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// What a series gets: its detectors and how their verdicts are reported.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    /// The rule's name; `"default"` for [`RuleDefaults`].
    pub name: String,
    /// One or more detectors; each ensemble's `threshold` is already `1 − sensitivity`.
    pub detectors: Vec<DetectorSpec>,
    /// In `(0, 1]`: an anomaly is reported when its score is at least `1 − sensitivity`.
    pub sensitivity: f64,
    /// How long (event time) the value must stay outside the band before it is reported.
    pub min_duration: Duration,
    /// Reported with each anomaly.
    pub severity: Severity,
    /// Labels naming the entity, in order of preference.
    pub entity_labels: Vec<String>,
}

/// `defaults:` after validation: the rule of series no rule matches.
///
/// Rules have already taken every field they leave out from here, so changing this after
/// loading affects only unmatched series.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDefaults {
    /// Named `"default"`.
    pub compiled: CompiledRule,
}

/// One entry of `rules:` after validation.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Which series the rule applies to.
    pub matcher: RuleMatcher,
    /// What those series get, with the defaults filled in.
    pub compiled: CompiledRule,
}
