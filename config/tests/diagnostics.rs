//! Bad input: every problem reported, each at the line and column to edit.

use faultline_config::{Diagnostic, load_files, load_str};

fn problems(yaml: &str) -> Vec<Diagnostic> {
    match load_str("t.yaml", yaml) {
        Ok(_) => panic!("expected problems in:\n{yaml}"),
        Err(e) => e.0,
    }
}

fn one(yaml: &str) -> Diagnostic {
    let mut all = problems(yaml);
    assert_eq!(all.len(), 1, "expected one problem, got:\n{}", list(&all));
    all.remove(0)
}

fn list(all: &[Diagnostic]) -> String {
    all.iter().map(|d| format!("{d}\n")).collect()
}

fn at(d: &Diagnostic) -> (usize, usize) {
    (d.line, d.column)
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or_default()
}

#[test]
fn unknown_key_names_it_and_lists_the_allowed_ones() {
    let d = one("state:\n  dir: x\n  max_seriess: 5\n");
    assert_eq!(at(&d), (3, 3), "{d}");
    assert_eq!(d.message, "unknown key `max_seriess`");
    assert!(hint(&d).starts_with("did you mean `max_series`?"), "{d}");
    assert!(
        hint(&d).contains("dir, checkpoint_interval, max_series, max_bytes"),
        "{d}"
    );
    assert!(
        d.to_string()
            .starts_with("t.yaml:3:3: unknown key `max_seriess` ("),
        "{d}"
    );

    let d = one("kafka: {}\nrulez: []\n");
    assert_eq!(at(&d), (2, 1), "{d}");
    assert!(hint(&d).contains("did you mean `rules`?"), "{d}");
}

#[test]
fn wrong_type_points_at_the_value() {
    let d = one("state:\n  max_series: lots\n");
    assert_eq!(at(&d), (2, 15), "{d}");

    let d = one("rules: {name: x}\n");
    assert_eq!(at(&d), (1, 8), "{d}");

    let d = one("log:\n  format: xml\n");
    assert_eq!(at(&d), (2, 11), "{d}");
    assert_eq!(d.message, "unknown value `xml`");
    assert!(hint(&d).contains("text, json"), "{d}");
}

#[test]
fn bad_duration_unit_points_at_the_value() {
    let d = one("state:\n  checkpoint_interval: 10x\n");
    assert_eq!(at(&d), (2, 24), "{d}");
    assert!(d.message.contains("unknown unit `x`"), "{d}");
    assert!(hint(&d).contains("ms, s, m, h, d or w"), "{d}");

    let d = one("rules:\n  - name: r\n    min_duration: 5\n");
    assert_eq!(at(&d), (3, 19), "{d}");
    assert!(d.message.contains("no unit"), "{d}");
}

#[test]
fn bad_size_points_at_the_value() {
    let d = one("state:\n  max_bytes: 2GB2\n");
    assert_eq!(at(&d), (2, 14), "{d}");
    assert!(d.message.contains("unknown unit `GB2`"), "{d}");

    let d = one("state:\n  max_bytes: 1024\n");
    assert_eq!(at(&d), (2, 14), "{d}");
    assert!(d.message.contains("no unit"), "{d}");
    assert!(hint(&d).contains("MiB"), "{d}");
}

#[test]
fn bad_regex_points_at_the_regex() {
    let yaml =
        "rules:\n  - name: r\n    match:\n      labels:\n        service: {regex: \"(unclosed\"}\n";
    let d = one(yaml);
    assert_eq!(at(&d), (5, 26), "{d}");
    assert!(d.message.starts_with("invalid regex `(unclosed`: "), "{d}");

    let d = one("rules:\n  - name: r\n    match:\n      metric_regex: \"[z-a]\"\n");
    assert_eq!(at(&d), (4, 21), "{d}");
    assert!(d.message.starts_with("invalid regex `[z-a]`"), "{d}");

    let yaml =
        "rules:\n  - name: r\n    match:\n      labels:\n        pod: {not_regex: \"a{2,1}\"}\n";
    assert_eq!(at(&one(yaml)), (5, 26));
}

#[test]
fn bad_glob_points_at_the_glob() {
    let d = one("rules:\n  - name: r\n    match: {metric: \"http_[a\"}\n");
    assert_eq!(at(&d), (3, 21), "{d}");
    assert!(d.message.starts_with("invalid glob `http_[a`: "), "{d}");

    let yaml = "rules:\n  - name: r\n    match:\n      labels: {zone: {glob: \"eu-{a\"}}\n";
    assert_eq!(at(&one(yaml)), (4, 29));
}

#[test]
fn sensitivity_outside_zero_to_one_is_rejected() {
    let d = one("defaults:\n  sensitivity: 0\n");
    assert_eq!(at(&d), (2, 16), "{d}");
    assert_eq!(d.message, "sensitivity 0 is outside (0, 1]");

    let d = one("rules:\n  - name: r\n    sensitivity: 1.5\n");
    assert_eq!(at(&d), (3, 18), "{d}");
    assert_eq!(d.message, "sensitivity 1.5 is outside (0, 1]");

    assert!(load_str("t.yaml", "defaults:\n  sensitivity: 1\n").is_ok());
}

#[test]
fn duplicate_rule_name_is_reported_at_the_second() {
    let d = one("rules:\n  - name: a\n    match: {metric: x}\n  - name: a\n");
    assert_eq!(at(&d), (4, 11), "{d}");
    assert_eq!(d.message, "rule name `a` is used twice");
    assert_eq!(hint(&d), "first used at t.yaml:2:11");

    let d = one("rules:\n  - name: default\n");
    assert_eq!(at(&d), (2, 11), "{d}");
    assert!(d.message.contains("reserved"), "{d}");
}

#[test]
fn duplicate_rule_name_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, "rules:\n  - name: x\n    match: {metric: a}\n").unwrap();
    std::fs::write(&b, "\nrules:\n  - {name: x, match: {metric: b}}\n").unwrap();
    let err = load_files(&[&a, &b]).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].file, b.display().to_string());
    assert_eq!(at(&err.0[0]), (3, 12), "{err}");
    assert_eq!(
        hint(&err.0[0]),
        format!("first used at {}:2:11", a.display())
    );
}

#[test]
fn unknown_detector_kind_points_at_the_kind() {
    let d = one("defaults:\n  detectors:\n    - kind: nope\n");
    assert_eq!(at(&d), (3, 13), "{d}");
    assert_eq!(d.message, "unknown detector kind `nope`");
    assert!(
        hint(&d).contains("ensemble, ewma, robust_z, seasonal, change_point"),
        "{d}"
    );
}

#[test]
fn unknown_detector_param_points_at_the_param() {
    let d = one("defaults:\n  detectors:\n    - kind: ewma\n      half_lif: 10m\n");
    assert_eq!(at(&d), (4, 7), "{d}");
    assert_eq!(d.message, "unknown key `half_lif`");
    assert!(hint(&d).starts_with("did you mean `half_life`?"), "{d}");

    // Inside an ensemble member too.
    let yaml = "defaults:\n  detectors:\n    - kind: ensemble\n      ewma:\n        - {half_life: 1h, warmupp: 3}\n";
    let d = one(yaml);
    assert_eq!(at(&d), (5, 27), "{d}");
    assert_eq!(d.message, "unknown key `warmupp`");
}

#[test]
fn bad_detector_param_value_points_at_the_value() {
    let d = one("rules:\n  - name: r\n    detectors: [{kind: seasonal, bin: 1y}]\n");
    assert_eq!(at(&d), (3, 39), "{d}");
    assert!(d.message.contains("unknown unit `y`"), "{d}");
}

#[test]
fn detector_params_outside_their_bounds_point_at_the_param() {
    let yaml = "rules:\n  - name: r\n    detectors:\n      - kind: ewma\n        warmup: 5\n        threshold: 0.5\n";
    let d = one(yaml);
    assert_eq!(at(&d), (6, 9), "{d}");
    assert_eq!(
        d.message,
        "ewma detector: `threshold` is 0.5, outside its bounds 1 ..= 100"
    );

    // Both default periods (1d, 1w) get too many phases: one problem each, at `seasonal`.
    let yaml = "defaults:\n  detectors:\n    - kind: ensemble\n      seasonal: {bin: 1m}\n";
    let all = problems(yaml);
    let got: Vec<_> = all.iter().map(at).collect();
    assert_eq!(got, [(4, 7), (4, 7)], "{}", list(&all));
    assert!(
        all[0]
            .message
            .contains("period 1d with a bin of 1m has 1440 phases"),
        "{}",
        list(&all)
    );
    assert!(all[1].message.contains("10080 phases"), "{}", list(&all));
}

#[test]
fn ensemble_threshold_must_come_from_sensitivity() {
    let d = one("defaults:\n  detectors:\n    - kind: ensemble\n      threshold: 0.3\n");
    assert_eq!(at(&d), (4, 7), "{d}");
    assert!(hint(&d).contains("sensitivity"), "{d}");
}

#[test]
fn detector_kind_must_come_first() {
    let d = one("defaults:\n  detectors:\n    - half_life: 1m\n      kind: ewma\n");
    assert_eq!(at(&d), (3, 7), "{d}");
    assert!(d.message.contains("`kind` must be the first key"), "{d}");
}

#[test]
fn label_test_with_two_keys_points_at_the_second() {
    let yaml =
        "rules:\n  - name: r\n    match:\n      labels:\n        service: {regex: a, glob: b}\n";
    let d = one(yaml);
    assert_eq!(at(&d), (5, 29), "{d}");
    assert!(d.message.contains("`glob` is a second one"), "{d}");
}

#[test]
fn kafka_problems_are_each_reported() {
    let yaml = "kafka:\n  options: {group.id: x}\n  topics:\n    - {name: a, kind: metrics}\n    - {name: a, kind: logs}\n    - {name: \"\", kind: events}\n  anomalies_topic: a\n";
    let all = problems(yaml);
    let got: Vec<_> = all.iter().map(|d| (at(d), d.message.as_str())).collect();
    assert_eq!(
        got,
        [
            ((2, 13), "kafka option `group.id` cannot be set here"),
            ((5, 14), "topic `a` is listed twice"),
            ((6, 14), "topic name is empty"),
            (
                (7, 20),
                "`kafka.anomalies_topic` `a` is also an input topic"
            ),
        ],
        "{}",
        list(&all)
    );
    let d = one("kafka:\n  topics: []\n");
    assert_eq!(at(&d), (2, 11), "{d}");
}

#[test]
fn bad_listen_address_and_log_level() {
    let d = one("http:\n  listen: localhost:9464\n");
    assert_eq!(at(&d), (2, 11), "{d}");
    let d = one("log:\n  level: inof\n");
    assert_eq!(at(&d), (2, 10), "{d}");
    assert!(d.message.contains("`inof` does not end in a level"), "{d}");
}

#[test]
fn rule_after_a_catch_all_can_never_match() {
    let d = one("rules:\n  - name: all\n  - name: never\n    match: {metric: x}\n");
    assert_eq!(at(&d), (3, 11), "{d}");
    assert_eq!(d.message, "rule `never` can never match");
    assert!(hint(&d).contains("rule `all` at t.yaml:2:11"), "{d}");
}

#[test]
fn every_problem_of_a_file_is_reported_in_order() {
    let yaml = "\
state:
  checkpoint_interval: 10x
rules:
  - name: a
    match:
      metric_regex: \"((\"
    sensitivity: 1.5
  - name: a
";
    let all = problems(yaml);
    let got: Vec<_> = all.iter().map(at).collect();
    assert_eq!(got, [(2, 24), (6, 21), (7, 18), (8, 11)], "{}", list(&all));
}

#[test]
fn a_file_that_does_not_parse_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&broken, "rules:\n  - name: [x\n").unwrap();
    std::fs::write(&bad, "defaults:\n  sensitivity: 2\n").unwrap();
    let err = load_files(&[&broken, &bad]).unwrap_err();
    let got: Vec<_> = err.0.iter().map(|d| (d.file.clone(), at(d))).collect();
    assert_eq!(got.len(), 2, "{err}");
    assert_eq!(got[0].0, broken.display().to_string());
    assert_eq!(got[1], (bad.display().to_string(), (2, 16)), "{err}");
}

#[test]
fn duplicate_key_in_one_file_is_reported() {
    let d = one("log:\n  level: info\nlog:\n  format: json\n");
    assert_eq!(at(&d), (3, 1), "{d}");
}

#[test]
fn a_format_that_cannot_carry_the_topic_kind_is_rejected_at_the_topic() {
    let all = problems(
        "kafka:\n  topics:\n    - {name: m, kind: metrics, format: influx}\n    - {name: l, kind: logs, format: influx}\n    - {name: e, kind: events, format: otlp_json}\n",
    );
    assert_eq!(all.len(), 2, "{}", list(&all));
    assert_eq!(at(&all[0]), (4, 14), "{}", list(&all));
    assert!(all[0].message.contains("topic `l`"), "{}", all[0]);
    assert_eq!(at(&all[1]), (5, 14), "{}", list(&all));
    assert!(all[1].message.contains("OTLP"), "{}", all[1]);
}

#[test]
fn receiver_problems_point_at_what_to_fix() {
    let yaml = "receivers:\n  - {name: a, type: slack}\n  - {name: b, type: native, url: ftp://x}\n  - {name: a, type: pagerduty}\n  - {name: c, type: webhook, url: http://x}\n";
    let all = problems(yaml);
    let text = list(&all);
    // Serde stops at the unknown type; the rest are reported before it only if the file
    // parses, so check the parse error alone first.
    assert_eq!(all.len(), 1, "{text}");
    assert_eq!(at(&all[0]), (5, 21), "{text}");
    assert!(all[0].message.contains("webhook"), "{text}");

    let yaml = "receivers:\n  - {name: a, type: slack}\n  - {name: b, type: native, url: ftp://x}\n  - {name: a, type: pagerduty}\n";
    let all = problems(yaml);
    let text = list(&all);
    assert_eq!(all.len(), 4, "{text}");
    assert!(
        all[0].message.contains("needs a `url`") && at(&all[0]) == (2, 12),
        "{text}"
    );
    assert!(
        all[1].message.contains("not an http(s) URL") && at(&all[1]).0 == 3,
        "{text}"
    );
    assert!(
        all[2].message.contains("listed twice") && at(&all[2]) == (4, 12),
        "{text}"
    );
    assert!(all[3].message.contains("routing_key"), "{text}");
}

#[test]
fn receiver_headers_that_http_cannot_carry_are_located() {
    let yaml = "receivers:
  - name: a
    type: native
    url: http://x/hook
    headers:
      Bad Name: v
      X-Ok: \"line\\nbreak\"
      Authorization: Bearer t
";
    let all = problems(yaml);
    let text = list(&all);
    assert_eq!(all.len(), 2, "{text}");
    assert!(
        all[0]
            .message
            .contains("`Bad Name` is not a valid HTTP header name")
            && at(&all[0]) == (6, 17),
        "{text}"
    );
    assert!(
        all[1].message.contains("header `X-Ok`") && at(&all[1]) == (7, 13),
        "{text}"
    );
}

#[test]
fn topology_and_correlator_problems_are_located() {
    let yaml = "topology:\n  nodes:\n    - {name: a}\n    - {name: a}\n  edges:\n    - {from: b, to: b}\ncorrelator:\n  window: 5 minutes\n  flap_limit: 0\n";
    let all = problems(yaml);
    let text = list(&all);
    assert_eq!(all.len(), 4, "{text}");
    assert!(
        all[0].message.contains("declared twice") && at(&all[0]) == (4, 14),
        "{text}"
    );
    assert!(hint(&all[0]).contains("3:"), "{text}");
    assert!(
        all[1].message.contains("to itself") && at(&all[1]).0 == 6,
        "{text}"
    );
    assert!(
        all[2].message.contains("correlator.window") && at(&all[2]) == (8, 11),
        "{text}"
    );
    assert!(
        all[3].message.contains("flap_limit") && at(&all[3]) == (9, 15),
        "{text}"
    );
}

#[test]
fn topology_topics_must_be_native_json() {
    let d = one("kafka:\n  topics:\n    - {name: topo, kind: topology, format: influx}\n");
    assert!(d.message.contains("topology updates"), "{d}");
}

#[test]
fn the_kafka_receiver_name_is_reserved() {
    let d = one("receivers:\n  - {name: kafka, type: native, url: \"http://x:1/\"}\n");
    assert!(d.message.contains("reserved"), "{d}");
    assert_eq!(at(&d), (2, 12));
}
