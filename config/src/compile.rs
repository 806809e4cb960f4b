//! Checking a read model and turning it into [`Config`]: defaults filled in, units parsed,
//! patterns compiled, and every problem reported at the place it was written.
//!
//! Each check reports and carries on with a stand-in value, so one run lists every problem
//! of a file instead of the first.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use faultline_detectors::DetectorSpec;
use globset::{Glob, GlobMatcher};
use regex::Regex;

use crate::config::{
    Bad, CompiledRule, HttpConfig, KafkaConfig, LogConfig, LogFormat, RuleDefaults, Severity,
    StateConfig, TopicConfig, TopicFormat, TopicKind,
};
use crate::detector::{self, DetectorEntry};
use crate::diagnostics::{Loc, Located, Report};
use crate::matching::{LabelMatcher, MetricMatcher, RuleMatcher};
use crate::model::{
    DefaultsSection, HttpSection, KafkaSection, LabelMatcherModel, LabelTest, LogSection,
    MatchModel, RuleModel, StateSection,
};
use crate::units::{DURATION_HINT, SIZE_HINT, parse_duration, parse_size};

const DEFAULT_GROUP_ID: &str = "faultline";
const DEFAULT_DEAD_LETTER_TOPIC: &str = "faultline-dead-letter";
const DEFAULT_ANOMALIES_TOPIC: &str = "faultline-anomalies";
const DEFAULT_INCIDENTS_TOPIC: &str = "faultline-incidents";
const DEFAULT_STATE_DIR: &str = "./faultline-data";
const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_MAX_SERIES: usize = 1_000_000;
const DEFAULT_MAX_BYTES: u64 = 2 << 30;
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
const DEFAULT_LOG_LEVEL: &str = "info";
const DEFAULT_SENSITIVITY: f64 = 0.5;
/// One minute outside the band: at 1-minute samples, two points in a row. Measured on the
/// simulated shop (`cargo run --release -p faultline-eval --example default_min_duration`):
/// false alarms on new series 428 per 1,000 series-days instead of 991, none after the
/// first day instead of 407, and more faults found in their first minute (46 of 60, not 40).
const DEFAULT_MIN_DURATION: Duration = Duration::from_secs(60);
const DEFAULT_SEVERITY: Severity = Severity::Warning;
const DEFAULT_ENTITY_LABELS: [&str; 3] = ["service", "host", "pod"];
/// The name of the rule of series no rule matches.
pub(crate) const DEFAULT_RULE_NAME: &str = "default";

pub(crate) fn kafka(section: Option<KafkaSection>, r: &mut Report<'_>) -> KafkaConfig {
    let s = section.unwrap_or_default();
    let brokers = s.brokers.map(|b| {
        if b.value.trim().is_empty() {
            let hint = "leave `brokers` out to start an embedded mock cluster";
            r.error(b.at, "`kafka.brokers` is empty", Some(hint.into()));
        }
        b.value
    });
    let group_id = name_or(s.group_id, DEFAULT_GROUP_ID, "kafka.group_id", r);
    let mut options = BTreeMap::new();
    for (key, value) in s.options.unwrap_or_default() {
        check_kafka_option(&key, r);
        options.insert(key.value, value.0);
    }
    let mut topic_locs = Vec::new();
    let topics = match s.topics {
        None => default_topics(),
        Some(list) => {
            if list.value.is_empty() {
                let hint = "list at least one, or leave `topics` out for the defaults";
                r.error(list.at, "`kafka.topics` is empty", Some(hint.into()));
            }
            let mut seen = HashMap::new();
            let mut topics = Vec::new();
            for t in list.value {
                if t.name.value.trim().is_empty() {
                    r.error(t.name.at, "topic name is empty", None);
                } else if let Some(first) = seen.insert(t.name.value.clone(), t.name.at) {
                    let hint = format!("first listed at {first}");
                    let msg = format!("topic `{}` is listed twice", t.name.value);
                    r.error(t.name.at, msg, Some(hint));
                }
                topic_locs.push(t.name.at);
                let (name, kind) = (t.name.value, t.kind);
                let format = t.format.unwrap_or(TopicFormat::NativeJson);
                if let Some(why) = unsupported(kind, format) {
                    let msg = format!("topic `{name}`: {why}");
                    r.error(t.name.at, msg, Some("use `format: native_json`".into()));
                }
                topics.push(TopicConfig { name, kind, format });
            }
            topics
        }
    };
    // Either both are defaults (which differ) or the later-written one is the one to fix.
    let later_at = [&s.anomalies_topic, &s.dead_letter_topic, &s.incidents_topic]
        .into_iter()
        .flatten()
        .map(|w| w.at)
        .max_by_key(|at| (at.line, at.column));
    let inputs: Vec<(&str, Option<Loc>)> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), topic_locs.get(i).copied()))
        .collect();
    let dead_letter_topic = output_topic(
        s.dead_letter_topic,
        DEFAULT_DEAD_LETTER_TOPIC,
        "kafka.dead_letter_topic",
        &inputs,
        r,
    );
    let anomalies_topic = output_topic(
        s.anomalies_topic,
        DEFAULT_ANOMALIES_TOPIC,
        "kafka.anomalies_topic",
        &inputs,
        r,
    );
    let incidents_topic = output_topic(
        s.incidents_topic,
        DEFAULT_INCIDENTS_TOPIC,
        "kafka.incidents_topic",
        &inputs,
        r,
    );
    let outputs = [
        ("anomalies_topic", &anomalies_topic),
        ("dead_letter_topic", &dead_letter_topic),
        ("incidents_topic", &incidents_topic),
    ];
    for (i, (a, x)) in outputs.iter().enumerate() {
        for (b, y) in &outputs[i + 1..] {
            if let Some(at) = later_at.filter(|_| x == y) {
                let msg = format!("`kafka.{a}` and `kafka.{b}` are both `{x}`");
                let hint = "each output needs its own topic";
                r.error(at, msg, Some(hint.into()));
            }
        }
    }
    KafkaConfig {
        brokers,
        group_id,
        options,
        topics,
        dead_letter_topic,
        anomalies_topic,
        incidents_topic,
    }
}

/// Why a topic's kind cannot be read in its format, if it cannot.
fn unsupported(kind: TopicKind, format: TopicFormat) -> Option<&'static str> {
    match (format, kind) {
        (TopicFormat::Influx, TopicKind::Logs | TopicKind::Events) => {
            Some("influx line protocol carries metrics only")
        }
        (TopicFormat::OtlpJson, TopicKind::Events) => {
            Some("OTLP has no change events; `otlp_json` carries metrics or logs")
        }
        (TopicFormat::OtlpJson | TopicFormat::Influx, TopicKind::Topology) => {
            Some("topology updates are read in `native_json` only")
        }
        _ => None,
    }
}

fn default_topics() -> Vec<TopicConfig> {
    [
        TopicKind::Metrics,
        TopicKind::Logs,
        TopicKind::Events,
        TopicKind::Topology,
    ]
    .into_iter()
    .map(|kind| TopicConfig {
        name: kind.as_str().to_owned(),
        kind,
        format: TopicFormat::NativeJson,
    })
    .collect()
}

fn check_kafka_option(key: &Located<String>, r: &mut Report<'_>) {
    let hint = match key.value.as_str() {
        "" => Some("an option needs a name"),
        "bootstrap.servers" | "metadata.broker.list" => Some("set `kafka.brokers` instead"),
        "group.id" => Some("set `kafka.group_id` instead"),
        "enable.auto.commit" | "enable.auto.offset.store" => {
            Some("the engine stores offsets itself, only after results are delivered")
        }
        _ => None,
    };
    if let Some(hint) = hint {
        let msg = format!("kafka option `{}` cannot be set here", key.value);
        r.error(key.at, msg, Some(hint.into()));
    }
}

/// An output topic: not empty, and not an input topic (which would feed the engine its own
/// output). `inputs` holds where each input topic name was written, if it was.
fn output_topic(
    written: Option<Located<String>>,
    default: &str,
    what: &str,
    inputs: &[(&str, Option<Loc>)],
    r: &mut Report<'_>,
) -> String {
    let written_at = written.as_ref().map(|w| w.at);
    let name = name_or(written, default, what, r);
    if let Some((_, input_at)) = inputs.iter().find(|(input, _)| *input == name) {
        // Defaults never collide, so one of the two was written.
        let at = written_at.or(*input_at).unwrap_or(Loc::START);
        let msg = format!("`{what}` `{name}` is also an input topic");
        r.error(at, msg, Some("the engine would read its own output".into()));
    }
    name
}

/// A name that must not be empty, or `default` when not written.
fn name_or(
    written: Option<Located<String>>,
    default: &str,
    what: &str,
    r: &mut Report<'_>,
) -> String {
    match written {
        None => default.to_owned(),
        Some(w) => {
            if w.value.trim().is_empty() {
                r.error(
                    w.at,
                    format!("`{what}` is empty"),
                    Some(format!("default `{default}`")),
                );
            }
            w.value
        }
    }
}

pub(crate) fn state(section: Option<StateSection>, r: &mut Report<'_>) -> StateConfig {
    let s = section.unwrap_or_default();
    let dir = PathBuf::from(name_or(s.dir, DEFAULT_STATE_DIR, "state.dir", r));
    let checkpoint_interval = match s.checkpoint_interval {
        None => DEFAULT_CHECKPOINT_INTERVAL,
        Some(w) => {
            let d = duration(&w, "state.checkpoint_interval", r);
            if d.is_some_and(|d| d.is_zero()) {
                r.error(
                    w.at,
                    "`state.checkpoint_interval` must be more than 0s",
                    None,
                );
            }
            d.unwrap_or(DEFAULT_CHECKPOINT_INTERVAL)
        }
    };
    let max_series = match s.max_series {
        None => DEFAULT_MAX_SERIES,
        Some(w) => {
            if w.value == 0 {
                r.error(w.at, "`state.max_series` must be more than 0", None);
            }
            w.value
        }
    };
    let max_bytes = match s.max_bytes {
        None => DEFAULT_MAX_BYTES,
        Some(w) => match parse_size(&w.value) {
            Ok(0) => {
                r.error(w.at, "`state.max_bytes` must be more than 0B", None);
                0
            }
            Ok(bytes) => bytes,
            Err(e) => {
                r.error(
                    w.at,
                    format!("`state.max_bytes`: {e}"),
                    Some(SIZE_HINT.into()),
                );
                DEFAULT_MAX_BYTES
            }
        },
    };
    StateConfig {
        dir,
        checkpoint_interval,
        max_series,
        max_bytes,
    }
}

pub(crate) fn http(section: Option<HttpSection>, r: &mut Report<'_>) -> HttpConfig {
    let default: SocketAddr = DEFAULT_LISTEN.parse().expect("a valid default address");
    let listen = match section.and_then(|s| s.listen) {
        None => default,
        Some(w) => w.value.trim().parse().unwrap_or_else(|_| {
            let msg = format!("`http.listen` `{}` is not an `ip:port` address", w.value);
            let hint = "an IP address and a port, e.g. `127.0.0.1:9464` or `[::1]:0`";
            r.error(w.at, msg, Some(hint.into()));
            default
        }),
    };
    HttpConfig { listen }
}

pub(crate) fn log(section: Option<LogSection>, r: &mut Report<'_>) -> LogConfig {
    let s = section.unwrap_or_default();
    let level = match s.level {
        None => DEFAULT_LOG_LEVEL.to_owned(),
        Some(w) => {
            if let Err(e) = check_log_level(&w.value) {
                let hint = "levels are trace, debug, info, warn, error and off; \
                            a target takes one as `target=level`";
                r.error(w.at, format!("`log.level`: {e}"), Some(hint.into()));
            }
            w.value
        }
    };
    LogConfig {
        format: s.format.unwrap_or(LogFormat::Text),
        level,
    }
}

/// Every directive must end in a level: a bare word that is not one would be read by
/// `EnvFilter` as a target name and silently log nothing else.
fn check_log_level(text: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    if text.trim().is_empty() {
        return Err("no directive".into());
    }
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        let known = LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level.trim()))
            || matches!(level.trim(), "0" | "1" | "2" | "3" | "4" | "5");
        if !known {
            return Err(format!("`{directive}` does not end in a level"));
        }
    }
    Ok(())
}

/// `defaults:` checked: the default rule, and the detectors as written for rules that
/// inherit them with their own sensitivity.
pub(crate) struct Defaults {
    pub rule: RuleDefaults,
    pub detectors: Vec<DetectorSpec>,
}

pub(crate) fn defaults(section: Option<DefaultsSection>, r: &mut Report<'_>) -> Defaults {
    let s = section.unwrap_or_default();
    let detectors = match s.detectors {
        Some(list) => detectors(list, r),
        None => vec![DetectorSpec::default_for("ensemble").expect("ensemble is in the catalogue")],
    };
    let sensitivity = s
        .sensitivity
        .map_or(DEFAULT_SENSITIVITY, |w| sensitivity(w, r));
    let compiled = CompiledRule {
        name: DEFAULT_RULE_NAME.to_owned(),
        detectors: with_sensitivity(&detectors, sensitivity),
        sensitivity,
        min_duration: s
            .min_duration
            .map_or(DEFAULT_MIN_DURATION, |w| min_duration(&w, r)),
        severity: s.severity.unwrap_or(DEFAULT_SEVERITY),
        entity_labels: match s.entity_labels {
            Some(labels) => entity_labels(labels, r),
            None => DEFAULT_ENTITY_LABELS.map(String::from).to_vec(),
        },
        direction: s.direction.unwrap_or(Bad::Both),
    };
    Defaults {
        rule: RuleDefaults { compiled },
        detectors,
    }
}

/// One rule with the defaults filled in; its name is checked by the caller (names are
/// unique across files).
pub(crate) fn rule(model: RuleModel, defaults: &Defaults, r: &mut Report<'_>) -> crate::Rule {
    let base = &defaults.rule.compiled;
    let matcher = model.matcher.map(|m| matcher(m, r)).unwrap_or_default();
    let detectors = model
        .detectors
        .map_or_else(|| defaults.detectors.clone(), |l| detectors(l, r));
    let sensitivity = model
        .sensitivity
        .map_or(base.sensitivity, |w| sensitivity(w, r));
    let compiled = CompiledRule {
        name: model.name.value,
        detectors: with_sensitivity(&detectors, sensitivity),
        sensitivity,
        min_duration: model
            .min_duration
            .map_or(base.min_duration, |w| min_duration(&w, r)),
        severity: model.severity.unwrap_or(base.severity),
        entity_labels: model
            .entity_labels
            .map_or_else(|| base.entity_labels.clone(), |l| entity_labels(l, r)),
        direction: model.direction.unwrap_or(base.direction),
    };
    crate::Rule { matcher, compiled }
}

fn detectors(list: Located<Vec<Located<DetectorEntry>>>, r: &mut Report<'_>) -> Vec<DetectorSpec> {
    if list.value.is_empty() {
        let hint = "list at least one, e.g. `[{kind: ensemble}]`, or leave `detectors` out";
        r.error(list.at, "`detectors` is empty", Some(hint.into()));
    }
    list.value
        .into_iter()
        .map(|entry| {
            detector::check(&entry, r);
            entry.value.spec
        })
        .collect()
}

/// The ensemble's threshold is the rule's `1 − sensitivity`: one knob for every detector.
fn with_sensitivity(detectors: &[DetectorSpec], sensitivity: f64) -> Vec<DetectorSpec> {
    let mut detectors = detectors.to_vec();
    for spec in &mut detectors {
        if let DetectorSpec::Ensemble(params) = spec {
            params.threshold = 1.0 - sensitivity;
        }
    }
    detectors
}

fn sensitivity(written: Located<f64>, r: &mut Report<'_>) -> f64 {
    let s = written.value;
    if s > 0.0 && s <= 1.0 {
        return s;
    }
    let hint = "0.5 reports anomalies scoring at least 0.5; higher reports more";
    r.error(
        written.at,
        format!("sensitivity {s} is outside (0, 1]"),
        Some(hint.into()),
    );
    DEFAULT_SENSITIVITY
}

fn min_duration(written: &Located<String>, r: &mut Report<'_>) -> Duration {
    duration(written, "min_duration", r).unwrap_or_default()
}

fn entity_labels(labels: Vec<Located<String>>, r: &mut Report<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for label in labels {
        if label.value.trim().is_empty() {
            r.error(label.at, "entity label name is empty", None);
        } else if out.contains(&label.value) {
            r.error(
                label.at,
                format!("entity label `{}` is listed twice", label.value),
                None,
            );
        }
        out.push(label.value);
    }
    out
}

fn matcher(model: MatchModel, r: &mut Report<'_>) -> RuleMatcher {
    let metric = match (model.metric, model.metric_regex) {
        (Some(_), Some(regex)) => {
            let hint = "a rule matches metrics by glob or by regex";
            r.error(
                regex.at,
                "set either `metric` or `metric_regex`, not both",
                Some(hint.into()),
            );
            MetricMatcher::Any
        }
        (Some(glob), None) => {
            compile_glob(&glob, r).map_or(MetricMatcher::Any, MetricMatcher::Glob)
        }
        (None, Some(regex)) => {
            compile_regex(&regex, r).map_or(MetricMatcher::Any, MetricMatcher::Regex)
        }
        (None, None) => MetricMatcher::Any,
    };
    let mut labels = Vec::new();
    for (name, test) in model.labels.unwrap_or_default() {
        if name.value.is_empty() {
            r.error(name.at, "label name is empty", None);
        }
        let test = match test.value {
            LabelMatcherModel::Plain(value) => Some(LabelMatcher::Equals(value)),
            LabelMatcherModel::Test(test) => label_test(test, r),
        };
        if let Some(test) = test {
            labels.push((name.value, test));
        }
    }
    RuleMatcher { metric, labels }
}

fn label_test(test: LabelTest, r: &mut Report<'_>) -> Option<LabelMatcher> {
    Some(match test {
        LabelTest::Equals(v) => LabelMatcher::Equals(v.value),
        LabelTest::NotEquals(v) => LabelMatcher::NotEquals(v.value),
        LabelTest::Regex(v) => LabelMatcher::Regex(compile_regex(&v, r)?),
        LabelTest::NotRegex(v) => LabelMatcher::NotRegex(compile_regex(&v, r)?),
        LabelTest::Glob(v) => LabelMatcher::Glob(compile_glob(&v, r)?),
        LabelTest::Absent(absent) => LabelMatcher::Absent(absent),
    })
}

fn compile_regex(written: &Located<String>, r: &mut Report<'_>) -> Option<Regex> {
    Regex::new(&written.value)
        .map_err(|e| {
            // The syntax error's last line says what is wrong; the rest draws a caret.
            let text = e.to_string();
            let why = text
                .lines()
                .last()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            r.error(
                written.at,
                format!("invalid regex `{}`: {why}", written.value),
                None,
            );
        })
        .ok()
}

fn compile_glob(written: &Located<String>, r: &mut Report<'_>) -> Option<GlobMatcher> {
    Glob::new(&written.value)
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            let msg = format!("invalid glob `{}`: {}", written.value, e.kind());
            r.error(written.at, msg, None);
        })
        .ok()
}

pub(crate) fn duration(
    written: &Located<String>,
    what: &str,
    r: &mut Report<'_>,
) -> Option<Duration> {
    parse_duration(&written.value)
        .map_err(|e| {
            r.error(
                written.at,
                format!("`{what}`: {e}"),
                Some(DURATION_HINT.into()),
            )
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_need_a_level_in_every_directive() {
        assert!(check_log_level("info").is_ok());
        assert!(check_log_level("warn,faultline_engine=debug").is_ok());
        assert!(check_log_level("INFO,rdkafka=off").is_ok());
        assert!(check_log_level("inof").is_err());
        assert!(check_log_level("info,faultline_engine").is_err());
        assert!(check_log_level(" ").is_err());
    }
}
