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
    /// `correlator:` — grouping, notification timing, ranking.
    pub correlator: faultline_correlator::Settings,
    /// `topology:` — the static service graph.
    pub topology: TopologyConfig,
    /// `receivers:` — webhook receivers of incident updates.
    pub receivers: Vec<ReceiverConfig>,
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
    /// Where incident updates are produced.
    pub incidents_topic: String,
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
    /// Topology edges learned at run time.
    Topology,
}

impl TopicKind {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Logs => "logs",
            Self::Events => "events",
            Self::Topology => "topology",
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
    /// Most a sample may be ahead of its record's timestamp; `None` when written as `off`.
    pub max_timestamp_skew: Option<Duration>,
    /// Most a sample may be behind its record's timestamp; `None` when written as `off`.
    pub max_timestamp_age: Option<Duration>,
    /// Wall-clock quiet after which a caught-up partition stops holding the clock; never
    /// zero.
    pub idle_timeout: Duration,
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

pub use faultline_correlator::{Bad, Severity};

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
    /// Which way is bad for these metrics.
    pub direction: Bad,
}

/// `topology:` after validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyConfig {
    /// Declared nodes, in file order.
    pub nodes: Vec<(String, faultline_correlator::NodeKind)>,
    /// Declared edges `(from, to, kind)`, in file order.
    pub edges: Vec<(String, String, faultline_correlator::EdgeKind)>,
}

impl TopologyConfig {
    /// The graph these declare.
    pub fn build(&self) -> faultline_correlator::Topology {
        let mut t = faultline_correlator::Topology::new();
        for (name, kind) in &self.nodes {
            t.add_node(name, *kind);
        }
        for (from, to, kind) in &self.edges {
            t.add_edge(from, to, *kind);
        }
        t
    }
}

/// A receiver's payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverType {
    /// Faultline's own JSON: the whole incident update.
    Native,
    /// Alertmanager webhook payload, version 4.
    Alertmanager,
    /// PagerDuty Events API v2 (trigger / resolve with a stable `dedup_key`).
    Pagerduty,
    /// Slack incoming webhook.
    Slack,
}

/// Where PagerDuty receivers post when no URL is configured.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// A receiver's per-request timeout when the file does not set one.
pub const DEFAULT_RECEIVER_TIMEOUT: Duration = Duration::from_secs(10);
/// A receiver's backoff cap when the file does not set one.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What a receiver speaks, with what only that format needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    /// The incident update as Faultline's own JSON.
    Native,
    /// Alertmanager webhook payload, version 4.
    Alertmanager,
    /// PagerDuty Events API v2 `enqueue`.
    PagerDuty {
        /// The integration's routing key.
        routing_key: String,
    },
    /// Slack incoming webhook.
    Slack,
    /// Native JSON records on a Kafka topic (key = incident id); the engine adds one for
    /// `kafka.incidents_topic`.
    Kafka {
        /// Destination topic.
        topic: String,
    },
}

impl ReceiverKind {
    /// Whether updates go out as HTTP requests (everything but Kafka).
    pub fn is_webhook(&self) -> bool {
        !matches!(self, Self::Kafka { .. })
    }
}

/// One receiver of incident updates: an entry of `receivers:` after validation, or the
/// engine's Kafka incidents topic.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Unique name; a metric label and part of the outbox keys (so renaming a receiver
    /// starts it afresh).
    pub name: String,
    /// Format and transport.
    pub kind: ReceiverKind,
    /// Where to POST: required for webhooks except PagerDuty, which posts to
    /// [`PAGERDUTY_URL`] when it has none (loading a file fills that in); `None` for Kafka.
    pub url: Option<String>,
    /// HMAC-SHA256 key for the signature header (read from the environment if so written).
    pub secret: Option<String>,
    /// Per request (for Kafka: until the broker acknowledges).
    pub timeout: Duration,
    /// Cap of the retry backoff.
    pub max_backoff: Duration,
    /// Updates of incidents below this severity are not sent; the resolve of an incident
    /// this receiver was told about is sent whatever its severity.
    pub min_severity: Severity,
    /// Extra request headers (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Base URL for links in payloads (`<external_url>/incidents/<id>`).
    pub external_url: Option<String>,
}

impl std::fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret, the routing key and header values (tokens) stay out of logs.
        let kind = match &self.kind {
            ReceiverKind::PagerDuty { .. } => "PagerDuty".to_owned(),
            k => format!("{k:?}"),
        };
        f.debug_struct("ReceiverConfig")
            .field("name", &self.name)
            .field("kind", &kind)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field("min_severity", &self.min_severity)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("external_url", &self.external_url)
            .finish()
    }
}

impl ReceiverConfig {
    /// A receiver with the default timeout and backoff cap, no secret and no filters.
    pub fn new(name: impl Into<String>, kind: ReceiverKind, url: Option<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            url,
            secret: None,
            timeout: DEFAULT_RECEIVER_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
            min_severity: Severity::Info,
            headers: Vec::new(),
            external_url: None,
        }
    }

    /// What makes this receiver unusable, if anything. Loading a file reports the same
    /// problems with their `file:line:column`; this is for receivers built in code.
    pub fn problem(&self) -> Option<String> {
        if self.name.trim().is_empty() || self.name.contains('\0') {
            return Some("the name must be non-empty and free of NUL".into());
        }
        match &self.kind {
            ReceiverKind::Kafka { topic } if topic.is_empty() => {
                return Some("the Kafka topic is empty".into());
            }
            ReceiverKind::PagerDuty { routing_key } if routing_key.is_empty() => {
                return Some("the PagerDuty routing key is empty".into());
            }
            _ => {}
        }
        if self.kind.is_webhook() {
            match &self.url {
                None if matches!(self.kind, ReceiverKind::PagerDuty { .. }) => {}
                None => return Some("a webhook needs a `url`".into()),
                Some(url) => {
                    if let Some(p) = http_url_problem(url) {
                        return Some(p);
                    }
                }
            }
        }
        if let Some(u) = &self.external_url
            && let Some(p) = http_url_problem(u)
        {
            return Some(format!("external_url: {p}"));
        }
        self.headers.iter().find_map(|(k, v)| header_problem(k, v))
    }
}

/// Why `url` is not an absolute `http(s)://host…` URL, if it is not.
pub(crate) fn http_url_problem(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => None,
        _ => Some(format!("`{url}` is not an http(s) URL")),
    }
}

/// Why `name: value` cannot be sent as an HTTP header, if it cannot (RFC 9110: a name is a
/// token; a value is visible ASCII, spaces and tabs, and carries no line break).
pub(crate) fn header_problem(name: &str, value: &str) -> Option<String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Some(format!("`{name}` is not a valid HTTP header name"));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Some(format!(
            "the value of header `{name}` holds a control or non-ASCII character"
        ));
    }
    None
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
