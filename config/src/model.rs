//! The file format: what a configuration file may contain, read straight from YAML.
//!
//! These types mirror the file one to one (every key optional unless it must be written)
//! and are also the source of the JSON Schema, so the `///` docs below are the user
//! reference. Values that are checked after reading — durations, sizes, patterns, names
//! that must be unique — are kept as [`Located`] text so a problem with them is reported
//! where it was written; `compile.rs` turns a checked model into [`crate::Config`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::config::{Bad, LogFormat, Severity, TopicFormat, TopicKind};
use crate::detector::DetectorEntry;
use crate::diagnostics::Located;
use crate::incidents::{CorrelatorSection, ReceiverModel, TopologySection};

/// A Faultline configuration file. Every section is optional and an empty file is valid;
/// several files may be given, each section appearing in at most one of them, except
/// `rules`, which are concatenated in file order.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(title = "Faultline configuration")]
pub(crate) struct FileModel {
    /// Kafka connection, input topics and output topics.
    pub kafka: Option<KafkaSection>,
    /// What the engine accepts from producers.
    pub ingest: Option<IngestSection>,
    /// Detector state on disk and its limits.
    pub state: Option<StateSection>,
    /// The HTTP endpoint serving `/metrics`, `/healthz` and `/readyz`.
    pub http: Option<HttpSection>,
    /// The engine's own logs.
    pub log: Option<LogSection>,
    /// What a series gets when no rule matches, and the value of every field a rule leaves
    /// out.
    pub defaults: Option<DefaultsSection>,
    /// Which series get which detectors. The first rule that matches a series wins; a
    /// series no rule matches gets `defaults`.
    pub rules: Option<Vec<RuleModel>>,
    /// How anomalies are grouped into incidents, when incidents notify and resolve.
    pub correlator: Option<CorrelatorSection>,
    /// The service topology anomalies are correlated along: services, hosts, pods,
    /// resources and the edges between them. More edges may arrive on a `topology` topic.
    pub topology: Option<TopologySection>,
    /// Where incident updates are delivered: webhooks in Faultline's own JSON, Alertmanager
    /// v4, PagerDuty Events v2 or Slack format. Every update also goes to
    /// `kafka.incidents_topic`.
    pub receivers: Option<Located<Vec<ReceiverModel>>>,
}

/// `kafka:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct KafkaSection {
    /// Bootstrap brokers, comma-separated: `"host1:9092,host2:9092"`. Leave out to have the
    /// engine start an embedded mock cluster, for trying Faultline without Kafka.
    pub brokers: Option<Located<String>>,
    /// Consumer group. Default `faultline`.
    pub group_id: Option<Located<String>>,
    /// librdkafka options passed through verbatim, e.g. `security.protocol: SASL_SSL`.
    /// Numbers and booleans are passed as written. `bootstrap.servers` and `group.id` come
    /// from `brokers` and `group_id`; offset commits are managed by the engine (offsets are
    /// stored only once results are delivered), so `enable.auto.commit` and
    /// `enable.auto.offset.store` cannot be set.
    pub options: Option<BTreeMap<Located<String>, Scalar>>,
    /// Input topics. Default: `metrics`, `logs` and `events`, each with its own kind, in
    /// `native_json`.
    pub topics: Option<Located<Vec<TopicModel>>>,
    /// Where records that cannot be decoded or accepted go, with the reason in a header.
    /// Default `faultline-dead-letter`.
    pub dead_letter_topic: Option<Located<String>>,
    /// Where anomalies are produced. Default `faultline-anomalies`.
    pub anomalies_topic: Option<Located<String>>,
    /// Where incident updates are produced (Faultline's JSON, keyed by incident id).
    /// Default `faultline-incidents`.
    pub incidents_topic: Option<Located<String>>,
}

/// A scalar kept as written: YAML numbers and booleans are read as their text.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct Scalar(pub String);

impl schemars::JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// One input topic.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct TopicModel {
    /// Kafka topic name. Required; unique among the input topics.
    pub name: Located<String>,
    /// What the records carry: `metrics`, `logs`, `events` or `topology` (edges learned at
    /// run time, e.g. from traces). Required.
    pub kind: TopicKind,
    /// How the records are encoded: `native_json`, `otlp_json` or `influx`. Default
    /// `native_json`.
    pub format: Option<TopicFormat>,
}

/// `ingest:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct IngestSection {
    /// How far a sample's timestamp may run ahead of its Kafka record's timestamp (the
    /// producer's clock when it sent the record: a measurement cannot come from its future,
    /// beyond clock skew). Further ahead, the sample is dead-lettered as `timestamp_skew`:
    /// timestamps in microseconds or nanoseconds, or from a broken clock, would otherwise
    /// move event time, and so the correlator's clock, for everyone. A duration such as `1h`,
    /// or `off`. Default `1d`.
    pub max_timestamp_skew: Option<Located<String>>,
    /// How far a sample's timestamp may lie behind its Kafka record's timestamp. Backfill is
    /// supported: replaying last month's data with a script is as good as live data. Only
    /// timestamps older than this are dead-lettered as `timestamp_skew` (seconds read as
    /// milliseconds land in January 1970). A duration such as `30d`, or `off`. Default
    /// `3650d` (ten years).
    pub max_timestamp_age: Option<Located<String>>,
    /// A metrics partition with nothing left to read that has received no record for this
    /// long (wall clock) stops holding back the correlator's clock, so a producer that
    /// writes to some partitions only, or a topic that falls silent, still gets its
    /// incidents. It rejoins with its next record; see the README on late records. A
    /// duration, more than `0s`. Default `30s`.
    pub idle_timeout: Option<Located<String>>,
}

/// `state:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct StateSection {
    /// Directory of the state store, relative to the working directory unless absolute.
    /// Default `./faultline-data`.
    pub dir: Option<Located<String>>,
    /// Time between checkpoints of detector state and input offsets; after a crash, at most
    /// this much input is read again. A duration such as `10s`; more than 0. Default `10s`.
    pub checkpoint_interval: Option<Located<String>>,
    /// Most live series (a count); beyond it the least recently used series is evicted (and
    /// counted) to make room. More than 0.
    /// Default 1000000.
    pub max_series: Option<Located<usize>>,
    /// Most bytes of series state; beyond it the least recently used series are evicted. A size with a
    /// unit: `B`, `KiB`, `MiB`, `GiB`, `TiB`, or decimal `KB`, `MB`, `GB`, `TB`; more than 0.
    /// Default `2GiB`.
    pub max_bytes: Option<Located<String>>,
}

/// `http:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct HttpSection {
    /// Address to listen on, as `ip:port`; port 0 picks a free port. Default
    /// `127.0.0.1:9464`.
    pub listen: Option<Located<String>>,
}

/// `log:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct LogSection {
    /// `text` for people, `json` for log pipelines. Default `text`.
    pub format: Option<LogFormat>,
    /// `tracing` EnvFilter directives: a level (`trace`, `debug`, `info`, `warn`, `error`,
    /// `off`) and/or comma-separated `target=level` pairs, e.g. `info,faultline_engine=debug`.
    /// Default `info`.
    pub level: Option<Located<String>>,
}

/// `defaults:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct DefaultsSection {
    /// Detectors watching each series, each a mapping with `kind` first and then that
    /// detector's parameters (every one optional). Default `[{kind: ensemble}]`.
    pub detectors: Option<Located<Vec<Located<DetectorEntry>>>>,
    /// How readily anomalies are reported, in `(0, 1]`: an anomaly is reported when its
    /// score is at least `1 − sensitivity`, and an ensemble's `threshold` is set to
    /// `1 − sensitivity`. Default 0.5.
    pub sensitivity: Option<Located<f64>>,
    /// How long (in event time) the value must stay outside the expected band before the
    /// anomaly is reported (with the onset's time); `0s` reports at once, so a single
    /// sample can page. Must be less than `correlator.quiet_period`, or the anomaly would
    /// reach the correlator too late to open an incident. Default `1m`.
    pub min_duration: Option<Located<String>>,
    /// Reported with each anomaly: `info`, `warning` or `critical`. Default `warning`.
    pub severity: Option<Severity>,
    /// Which way the metric goes when things are bad: `up` (latency, errors, saturation),
    /// `down` (success rate, throughput) or `both`. Root-cause ranking counts only
    /// deviations the bad way. Default `both`.
    pub direction: Option<Bad>,
    /// Labels that name the entity a series belongs to, for correlating anomalies; the first
    /// one the series has is used. Default `[service, host, pod]`.
    pub entity_labels: Option<Vec<Located<String>>>,
}

/// One rule: which series (`match`) get which detectors and reporting settings. Every field
/// left out takes its value from `defaults`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RuleModel {
    /// Names the rule in anomalies, metrics and diagnostics. Required; unique across all
    /// files; `default` is reserved for series no rule matches.
    pub name: Located<String>,
    /// Which series the rule applies to; left out, every series.
    #[serde(rename = "match")]
    pub matcher: Option<MatchModel>,
    /// Detectors for these series (see `defaults.detectors`).
    pub detectors: Option<Located<Vec<Located<DetectorEntry>>>>,
    /// In `(0, 1]` (see `defaults.sensitivity`).
    pub sensitivity: Option<Located<f64>>,
    /// A duration such as `2m` (see `defaults.min_duration`).
    pub min_duration: Option<Located<String>>,
    /// `info`, `warning` or `critical`.
    pub severity: Option<Severity>,
    /// `up`, `down` or `both` (see `defaults.direction`).
    pub direction: Option<Bad>,
    /// Labels naming the entity, in order of preference (see `defaults.entity_labels`).
    pub entity_labels: Option<Vec<Located<String>>>,
}

/// Which series a rule applies to: all of the tests written must hold.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct MatchModel {
    /// Glob over the whole metric name, e.g. `http_*_seconds` (`*`, `?`, `[abc]`, `{a,b}`).
    /// At most one of `metric` and `metric_regex`; neither means any metric.
    pub metric: Option<Located<String>>,
    /// Regex over the metric name, anchored only as written: `^http_.*$` matches whole
    /// names, `http_` matches any name containing it.
    pub metric_regex: Option<Located<String>>,
    /// Tests on labels, by label name. A plain value tests equality; otherwise one of
    /// `{equals: v}`, `{not_equals: v}`, `{regex: r}`, `{not_regex: r}`, `{glob: g}`,
    /// `{absent: true}`. `equals`, `regex` and `glob` need the label present; `not_equals`
    /// and `not_regex` also hold when it is absent.
    pub labels: Option<BTreeMap<Located<String>, Located<LabelMatcherModel>>>,
}

/// A label test as written: a plain value, or a mapping with exactly one test.
#[derive(Debug)]
pub(crate) enum LabelMatcherModel {
    Plain(String),
    Test(LabelTest),
}

/// A label test.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum LabelTest {
    /// The label is present with exactly this value.
    Equals(Located<String>),
    /// The label is absent, or present with another value.
    NotEquals(Located<String>),
    /// The label is present and the regex matches its value, anchored only as written:
    /// `checkout|cart` also matches `cart-v2`; write `^(checkout|cart)$` for whole values.
    Regex(Located<String>),
    /// The label is absent, or the regex (anchored only as written) does not match it.
    NotRegex(Located<String>),
    /// The label is present and the glob matches its whole value, e.g. `eu-*`.
    Glob(Located<String>),
    /// `true`: the label is absent; `false`: it is present, with any value.
    Absent(bool),
}

impl<'de> Deserialize<'de> for LabelMatcherModel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LabelMatcherVisitor)
    }
}

impl schemars::JsonSchema for LabelMatcherModel {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LabelMatcher".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let test = generator.subschema_for::<LabelTest>();
        schemars::json_schema!({
            "description": "A plain value (the label equals it) or a mapping with one test.",
            "anyOf": [{ "type": ["string", "integer", "boolean"] }, test]
        })
    }
}

struct LabelMatcherVisitor;

impl<'de> Visitor<'de> for LabelMatcherVisitor {
    type Value = LabelMatcherModel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a label value, or one of {equals: v}, {not_equals: v}, {regex: r}, \
             {not_regex: r}, {glob: g}, {absent: true} (quote values with a fraction)",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LabelMatcherModel::Plain(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(LabelMatcherModel::Plain(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LabelMatcherModel::Plain(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(LabelMatcherModel::Plain(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let test = LabelTest::deserialize(de::value::MapAccessDeserializer::new(&mut map))?;
        map.next_key_seed(NoMoreKeys)?;
        Ok(LabelMatcherModel::Test(test))
    }
}

/// Fails on any key, inside the key so the error points at it.
struct NoMoreKeys;

impl<'de> DeserializeSeed<'de> for NoMoreKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NoMoreKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the end of the label test")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        Err(E::custom(format!(
            "a label test has exactly one key; `{key}` is a second one (write a test per label)"
        )))
    }
}

/// The top-level keys of a file and where they are, for merging files.
#[derive(Debug, Default)]
pub(crate) struct TopKeys(pub Vec<Located<String>>);

impl<'de> Deserialize<'de> for TopKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = TopKeys;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<Located<String>>()? {
                    map.next_value::<de::IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(TopKeys(keys))
            }
        }
        deserializer.deserialize_map(KeysVisitor)
    }
}
