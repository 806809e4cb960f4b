//! Routing series to rules, and naming their entity.

use faultline_config::{Config, RouteId, load_str};

fn config(yaml: &str) -> Config {
    load_str("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// The name of the rule `metric` with `labels` is routed to.
fn routed(c: &Config, metric: &str, labels: &[(&str, &str)]) -> String {
    let id = c.route(metric, labels.iter().copied());
    c.rule(id).name.clone()
}

#[test]
fn first_matching_rule_wins() {
    let c = config(
        "rules:
  - name: checkout-latency
    match: {metric: \"http_*_seconds\", labels: {service: checkout}}
  - name: http
    match: {metric: \"http_*\"}
  - name: also-http
    match: {metric_regex: \"^http_\"}
",
    );
    let checkout = [("service", "checkout")];
    assert_eq!(
        routed(&c, "http_request_seconds", &checkout),
        "checkout-latency"
    );
    assert_eq!(
        routed(&c, "http_request_seconds", &[("service", "cart")]),
        "http"
    );
    assert_eq!(routed(&c, "http_requests_total", &checkout), "http");
    assert_eq!(routed(&c, "cpu_seconds", &checkout), "default");
}

#[test]
fn unmatched_series_get_the_default_rule() {
    let c = config("rules:\n  - name: cpu\n    match: {metric: cpu}\n");
    let id = c.route("memory", [("host", "a")]);
    assert_eq!(id, RouteId::DEFAULT);
    assert!(id.is_default());
    assert_eq!(c.rule(id), &c.defaults.compiled);
    assert!(!c.route("cpu", [("host", "a")]).is_default());
    // With no labels at all.
    assert!(
        c.route("memory", std::iter::empty::<(&str, &str)>())
            .is_default()
    );
}

#[test]
fn label_matchers_each_variant() {
    let c = config(
        "rules:
  - {name: plain, match: {labels: {m: plain, env: prod}}}
  - {name: equals, match: {labels: {m: equals, env: {equals: prod}}}}
  - {name: not-equals, match: {labels: {m: not_equals, env: {not_equals: prod}}}}
  - {name: regex, match: {labels: {m: regex, env: {regex: \"^pr\"}}}}
  - {name: not-regex, match: {labels: {m: not_regex, env: {not_regex: \"^pr\"}}}}
  - {name: glob, match: {labels: {m: glob, env: {glob: \"p*d\"}}}}
  - {name: absent, match: {labels: {m: absent, env: {absent: true}}}}
  - {name: present, match: {labels: {m: present, env: {absent: false}}}}
",
    );
    let route = |m: &str, env: Option<&str>| {
        let mut labels = vec![("m", m)];
        labels.extend(env.map(|e| ("env", e)));
        routed(&c, "x", &labels)
    };
    for (test, env, expected) in [
        ("plain", Some("prod"), "plain"),
        ("plain", Some("production"), "default"),
        ("plain", None, "default"),
        ("equals", Some("prod"), "equals"),
        ("equals", Some("dev"), "default"),
        ("equals", None, "default"),
        ("not_equals", Some("dev"), "not-equals"),
        ("not_equals", Some("prod"), "default"),
        ("not_equals", None, "not-equals"),
        ("regex", Some("production"), "regex"),
        ("regex", Some("dev"), "default"),
        ("regex", None, "default"),
        ("not_regex", Some("dev"), "not-regex"),
        ("not_regex", Some("prod"), "default"),
        ("not_regex", None, "not-regex"),
        ("glob", Some("prod"), "glob"),
        ("glob", Some("pod"), "glob"),
        ("glob", Some("prod-eu"), "default"),
        ("glob", None, "default"),
        ("absent", None, "absent"),
        ("absent", Some("prod"), "default"),
        ("present", Some("anything"), "present"),
        ("present", None, "default"),
    ] {
        assert_eq!(route(test, env), expected, "{test} with env={env:?}");
    }
}

#[test]
fn regexes_are_anchored_only_as_written() {
    let c = config(
        "rules:
  - {name: anchored, match: {metric_regex: \"^http_.*_seconds$\"}}
  - {name: unanchored, match: {metric_regex: \"latency\", labels: {svc: {regex: \"checkout|cart\"}}}}
  - {name: whole-value, match: {labels: {svc: {regex: \"^(checkout|cart)$\"}}}}
",
    );
    assert_eq!(routed(&c, "http_request_seconds", &[]), "anchored");
    assert_eq!(routed(&c, "x_http_request_seconds", &[]), "default");
    assert_eq!(routed(&c, "http_request_seconds_total", &[]), "default");
    // Unanchored: a match anywhere counts.
    assert_eq!(
        routed(&c, "p99_latency_ms", &[("svc", "my-cart-v2")]),
        "unanchored"
    );
    assert_eq!(
        routed(&c, "p99_latency_ms", &[("svc", "search")]),
        "default"
    );
    assert_eq!(routed(&c, "cpu", &[("svc", "cart")]), "whole-value");
    assert_eq!(routed(&c, "cpu", &[("svc", "cart-v2")]), "default");
}

#[test]
fn numbers_and_booleans_as_label_values_compare_as_written() {
    let c = config("rules:\n  - {name: r, match: {labels: {code: 500, canary: true}}}\n");
    assert_eq!(routed(&c, "x", &[("code", "500"), ("canary", "true")]), "r");
    assert_eq!(
        routed(&c, "x", &[("code", "501"), ("canary", "true")]),
        "default"
    );
}

#[test]
fn labels_may_be_owned_strings() {
    let c = config("rules:\n  - {name: r, match: {labels: {env: prod}}}\n");
    let labels: Vec<(String, String)> = vec![("env".into(), "prod".into())];
    let id = c.route("m", labels.iter().map(|(k, v)| (k, v)));
    assert_eq!(c.rule(id).name, "r");
}

#[test]
fn entity_is_the_first_entity_label_present() {
    let c = config(
        "defaults:\n  entity_labels: [service, host, pod]\nrules:\n  - {name: by-pod, match: {metric: k8s_*}, entity_labels: [pod]}\n",
    );
    let labels = [("pod", "api-7f9"), ("host", "node-3"), ("env", "prod")];
    let id = c.route("cpu", labels);
    assert_eq!(c.entity(id, labels), Some(("host", "node-3")));
    let with_service = [("host", "node-3"), ("service", "api")];
    assert_eq!(c.entity(id, with_service), Some(("service", "api")));
    assert_eq!(c.entity(id, [("env", "prod")]), None);

    let id = c.route("k8s_restarts", labels);
    assert_eq!(c.entity(id, labels), Some(("pod", "api-7f9")));
    assert_eq!(c.entity(id, with_service), None);
}
