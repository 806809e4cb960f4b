//! Loading and merging files that are valid.

use std::path::{Path, PathBuf};
use std::time::Duration;

use faultline_config::{
    Config, DetectorSpec, LogFormat, Severity, TopicConfig, TopicFormat, TopicKind, load_files,
    load_str,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(names: &[&str]) -> Config {
    let paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    load_files(&paths).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn full_example_parses_and_compiles() {
    let c = load(&["full.yaml"]);

    assert_eq!(c.kafka.brokers.as_deref(), Some("host1:9092,host2:9092"));
    assert_eq!(c.kafka.group_id, "faultline");
    assert_eq!(c.kafka.options["security.protocol"], "SASL_SSL");
    assert_eq!(c.kafka.options["sasl.mechanism"], "PLAIN");
    // Numbers and booleans written in YAML are passed on as written.
    assert_eq!(c.kafka.options["fetch.max.bytes"], "52428800");
    assert_eq!(c.kafka.options["enable.partition.eof"], "false");
    assert_eq!(
        c.kafka.topics,
        [
            TopicConfig {
                name: "metrics".into(),
                kind: TopicKind::Metrics,
                format: TopicFormat::NativeJson
            },
            TopicConfig {
                name: "otel-metrics".into(),
                kind: TopicKind::Metrics,
                format: TopicFormat::OtlpJson
            },
            TopicConfig {
                name: "logs".into(),
                kind: TopicKind::Logs,
                format: TopicFormat::NativeJson
            },
        ]
    );
    assert_eq!(c.kafka.dead_letter_topic, "faultline-dead-letter");
    assert_eq!(c.kafka.anomalies_topic, "faultline-anomalies");
    assert_eq!(
        c.ingest.max_timestamp_skew,
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(c.state.dir, Path::new("./faultline-data"));
    assert_eq!(c.state.checkpoint_interval, Duration::from_secs(10));
    assert_eq!(c.state.max_series, 1_000_000);
    assert_eq!(c.state.max_bytes, 2 * 1024 * 1024 * 1024);
    assert_eq!(c.http.listen, "127.0.0.1:9464".parse().unwrap());
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.log.level, "info");

    assert_eq!(c.rules.len(), 2);
    let rule = &c.rules[0].compiled;
    assert_eq!(rule.name, "checkout-latency");
    assert_eq!(rule.sensitivity, 0.7);
    assert_eq!(rule.min_duration, Duration::from_secs(120));
    assert_eq!(rule.severity, Severity::Critical);
    assert_eq!(rule.entity_labels, ["service"]);
    let [DetectorSpec::Ewma(ewma)] = &rule.detectors[..] else {
        panic!("expected one ewma, got {:?}", rule.detectors)
    };
    assert_eq!(ewma.half_life, Duration::from_secs(600));

    // The second rule inherits everything from `defaults`.
    let other = &c.rules[1].compiled;
    assert_eq!(other.name, "http-other");
    assert_eq!(other.sensitivity, 0.5);
    assert_eq!(other.severity, Severity::Warning);
    assert_eq!(other.entity_labels, ["service", "host", "pod"]);
    assert_eq!(other.detectors, c.defaults.compiled.detectors);
}

#[test]
fn empty_file_gives_all_defaults() {
    for text in ["", "\n\n", "# only a comment\n", "~\n"] {
        let c = load_str("empty.yaml", text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(c.kafka.brokers, None, "{text:?}");
        assert_eq!(c.kafka.group_id, "faultline");
        let names: Vec<_> = c
            .kafka
            .topics
            .iter()
            .map(|t| (t.name.as_str(), t.kind))
            .collect();
        assert_eq!(
            names,
            [
                ("metrics", TopicKind::Metrics),
                ("logs", TopicKind::Logs),
                ("events", TopicKind::Events),
                ("topology", TopicKind::Topology)
            ]
        );
        assert!(
            c.kafka
                .topics
                .iter()
                .all(|t| t.format == TopicFormat::NativeJson)
        );
        assert_eq!(c.kafka.dead_letter_topic, "faultline-dead-letter");
        assert_eq!(c.kafka.anomalies_topic, "faultline-anomalies");
        assert_eq!(c.kafka.incidents_topic, "faultline-incidents");
        assert_eq!(c.correlator, faultline_correlator::Settings::default());
        assert!(c.receivers.is_empty() && c.topology.nodes.is_empty());
        assert_eq!(
            c.ingest.max_timestamp_skew,
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            c.ingest.max_timestamp_age,
            Some(Duration::from_secs(3650 * 86_400))
        );
        assert_eq!(c.ingest.idle_timeout, Duration::from_secs(30));
        assert_eq!(c.state.checkpoint_interval, Duration::from_secs(10));
        assert_eq!(c.state.max_series, 1_000_000);
        assert_eq!(c.state.max_bytes, 2 << 30);
        assert_eq!(c.http.listen, "127.0.0.1:9464".parse().unwrap());
        assert_eq!(
            (c.log.format, c.log.level.as_str()),
            (LogFormat::Text, "info")
        );
        assert!(c.rules.is_empty());
        let d = &c.defaults.compiled;
        assert_eq!(d.name, "default");
        assert_eq!(d.sensitivity, 0.5);
        assert_eq!(d.min_duration, Duration::from_secs(60));
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(d.entity_labels, ["service", "host", "pod"]);
        assert_eq!(d.direction, faultline_config::Bad::Both);
        assert_eq!(
            d.detectors,
            [DetectorSpec::default_for("ensemble").unwrap()]
        );
    }
    // `Default` is the empty file.
    assert_eq!(
        Config::default().defaults,
        load_str("", "").unwrap().defaults
    );
    assert!(load_files(&[] as &[&Path]).is_ok());
}

#[test]
fn off_disables_the_timestamp_checks() {
    let c = load_str("t.yaml", "ingest:\n  max_timestamp_skew: off\n").unwrap();
    assert_eq!(c.ingest.max_timestamp_skew, None);
    assert!(c.ingest.max_timestamp_age.is_some());
    let c = load_str("t.yaml", "ingest:\n  max_timestamp_age: off\n").unwrap();
    assert_eq!(c.ingest.max_timestamp_age, None);
    assert!(c.ingest.max_timestamp_skew.is_some());
}

#[test]
fn ingest_durations_must_be_positive() {
    let text = "ingest:\n  max_timestamp_age: 0s\n  idle_timeout: 0ms\n";
    let errors = load_str("t.yaml", text).unwrap_err().to_string();
    assert!(
        errors.contains("t.yaml:2:22: `ingest.max_timestamp_age` must be more than 0s"),
        "{errors}"
    );
    assert!(
        errors.contains("t.yaml:3:17: `ingest.idle_timeout` must be more than 0s"),
        "{errors}"
    );
    let c = load_str("t.yaml", "ingest:\n  idle_timeout: 2s\n").unwrap();
    assert_eq!(c.ingest.idle_timeout, Duration::from_secs(2));
}

#[test]
fn ensemble_threshold_follows_sensitivity() {
    let yaml = "defaults:\n  sensitivity: 0.8\nrules:\n  - name: a\n    match: {metric: a}\n    sensitivity: 0.25\n  - name: b\n    match: {metric: b}\n";
    let c = load_str("t.yaml", yaml).unwrap();
    let threshold = |rule: &faultline_config::CompiledRule| match &rule.detectors[..] {
        [DetectorSpec::Ensemble(p)] => p.threshold,
        other => panic!("{other:?}"),
    };
    assert!((threshold(&c.defaults.compiled) - 0.2).abs() < 1e-12);
    assert!((threshold(&c.rules[0].compiled) - 0.75).abs() < 1e-12);
    assert!((threshold(&c.rules[1].compiled) - 0.2).abs() < 1e-12);
}

#[test]
fn merges_sections_and_concatenates_rules_in_file_order() {
    let c = load(&["base.yaml", "rules.yaml"]);
    assert_eq!(c.kafka.brokers.as_deref(), Some("localhost:9092"));
    let names: Vec<_> = c.rules.iter().map(|r| r.compiled.name.as_str()).collect();
    assert_eq!(names, ["cpu", "disk"]);
    // `defaults` from the first file apply to the rules of the second.
    let disk = &c.rules[1].compiled;
    assert_eq!(disk.sensitivity, 0.8);
    assert_eq!(disk.severity, Severity::Info);
    assert!(matches!(disk.detectors[..], [DetectorSpec::RobustZ(_)]));
}

#[test]
fn duplicate_section_across_files_is_reported_in_the_second_file() {
    let paths = [fixture("base.yaml"), fixture("second_kafka.yaml")];
    let err = load_files(&paths).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    let d = &err.0[0];
    assert_eq!(d.file, fixture("second_kafka.yaml").display().to_string());
    assert_eq!((d.line, d.column), (3, 1), "{d}");
    assert!(d.message.contains("section `kafka`"), "{d}");
    let first = format!("{}:1:1", fixture("base.yaml").display());
    assert!(d.hint.as_deref().unwrap().contains(&first), "{d}");
}

#[test]
fn incident_sections_compile_into_settings_topology_and_receivers() {
    let yaml = r#"
correlator: {window: 2m, max_hops: 3, group_wait: 0s, quiet_period: 10m}
topology:
  nodes:
    - {name: frontend}
    - {name: redis, kind: resource}
  edges:
    - {from: frontend, to: cart}
    - {from: cart, to: redis, kind: calls}
    - {from: cart, to: node-1, kind: runs_on}
receivers:
  - {name: pd, type: pagerduty, routing_key: abc, min_severity: critical}
  - name: hook
    type: alertmanager
    url: http://127.0.0.1:9/hook
    secret: s3cret
    timeout: 2s
    headers: {Authorization: Bearer x}
rules:
  - {name: lat, match: {metric: "*latency*"}, direction: up}
"#;
    let c = load_str("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.correlator.window, 120_000);
    assert_eq!(c.correlator.max_hops, 3);
    assert_eq!(c.correlator.group_wait, 0);
    assert_eq!(c.correlator.quiet_period, 600_000);
    assert_eq!(c.correlator.group_interval, 60_000);
    let t = c.topology.build();
    assert_eq!(t.distance("frontend", "redis", 2), Some(2));
    assert_eq!(t.hosts("cart"), ["node-1"]);
    assert_eq!(c.receivers.len(), 2);
    assert_eq!(
        c.receivers[0].url.as_deref(),
        Some("https://events.pagerduty.com/v2/enqueue")
    );
    assert_eq!(
        c.receivers[0].kind,
        faultline_config::ReceiverKind::PagerDuty {
            routing_key: "abc".into()
        }
    );
    assert_eq!(c.receivers[0].min_severity, Severity::Critical);
    assert_eq!(c.receivers[1].secret.as_deref(), Some("s3cret"));
    assert_eq!(c.receivers[1].timeout, Duration::from_secs(2));
    assert_eq!(
        c.receivers[1].headers,
        [("Authorization".to_owned(), "Bearer x".to_owned())]
    );
    assert_eq!(c.rules[0].compiled.direction, faultline_config::Bad::Up);
    // Secrets, routing keys and header values never reach a log line through `Debug`.
    let printed = format!("{:?}", c.receivers);
    for secret in ["abc", "s3cret", "Bearer x"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("Authorization"), "{printed}");
}

/// The configuration reference in the README is a file the loader accepts.
#[test]
fn the_readme_example_loads() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```").expect("closed")];
    let c = load_str("README.md", yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.receivers.len(), 3);
    assert_eq!(c.topology.edges.len(), 3);
    assert_eq!(c.rules[0].compiled.direction, faultline_config::Bad::Up);
    assert_eq!(
        c.kafka.topics.last().map(|t| t.kind),
        Some(TopicKind::Topology)
    );
}

#[test]
fn a_min_duration_as_long_as_the_quiet_period_is_rejected_where_written() {
    let text = "correlator: {quiet_period: 5m}\nrules:\n  - name: slow\n    match: {metric: cpu}\n    min_duration: 5m\n  - name: fine\n    match: {metric: mem}\n    min_duration: 4m\n";
    let errors = load_str("t.yaml", text).unwrap_err().to_string();
    assert!(
        errors.contains(
            "t.yaml:5:19: rule `slow`: min_duration 5m is not less than correlator.quiet_period 5m"
        ),
        "{errors}"
    );
    assert!(!errors.contains("`fine`"), "{errors}");
}
