//! Payload format tests: every field the public specs require, with its type.

use serde_json::Value;

use super::{open, update};
use crate::notify::{ReceiverConfig, ReceiverKind, format};
use faultline_correlator::{IncidentUpdate, Severity, Status};

fn obj<'a>(v: &'a Value, key: &str) -> &'a serde_json::Map<String, Value> {
    v[key]
        .as_object()
        .unwrap_or_else(|| panic!("`{key}` is an object in {v}"))
}

fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is a string in {v}"))
}

fn is_rfc3339(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[test]
fn alertmanager_v4_payload_has_every_field_of_the_spec() {
    let u = open("abc", 2);
    let v = format::alertmanager(&u, "am", Some("https://faultline.example/"));
    assert_eq!(string(&v, "version"), "4");
    assert_eq!(string(&v, "groupKey"), "{}:{incident_id=\"abc\"}");
    assert_eq!(v["truncatedAlerts"].as_u64(), Some(0));
    assert_eq!(string(&v, "status"), "firing");
    assert_eq!(string(&v, "receiver"), "am");
    assert_eq!(obj(&v, "groupLabels")["incident_id"], "abc");
    assert_eq!(string(&v, "externalURL"), "https://faultline.example/");
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(string(a, "status"), "firing");
    let labels = obj(a, "labels");
    assert_eq!(labels["alertname"], format::ALERT_NAME);
    assert_eq!(labels["incident_id"], "abc");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["root_cause"], "db");
    assert!(
        labels.values().all(Value::is_string),
        "label values are strings"
    );
    let ann = obj(a, "annotations");
    assert_eq!(ann["summary"], u.title.as_str());
    let description = ann["description"].as_str().unwrap();
    assert!(description.contains("1. db (0.82)") && description.contains("2. checkout"));
    assert!(is_rfc3339(string(a, "startsAt")));
    assert_eq!(string(a, "startsAt"), "2023-11-14T22:13:20.000Z");
    assert_eq!(string(a, "endsAt"), format::ZERO_TIME);
    assert_eq!(
        string(a, "generatorURL"),
        "https://faultline.example/incidents/abc"
    );
    let fp = string(a, "fingerprint");
    assert!(fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(obj(&v, "commonLabels"), labels);
    assert_eq!(obj(&v, "commonAnnotations"), ann);

    let r = format::alertmanager(
        &update("abc", 3, Status::Resolved, Severity::Critical),
        "am",
        None,
    );
    assert_eq!(string(&r, "status"), "resolved");
    let a = &r["alerts"][0];
    assert_eq!(string(a, "status"), "resolved");
    assert!(is_rfc3339(string(a, "endsAt")) && string(a, "endsAt") != format::ZERO_TIME);
    assert_eq!(string(a, "fingerprint"), fp, "stable across revisions");
    assert_eq!(string(&r, "externalURL"), "");
    assert_eq!(string(a, "generatorURL"), "");
}

#[test]
fn pagerduty_v2_trigger_and_resolve_follow_the_events_api() {
    let mut u = open("abc", 1);
    u.title = "é".repeat(2000);
    let v = format::pagerduty(&u, "ROUTING", Some("https://faultline.example"));
    assert_eq!(string(&v, "routing_key"), "ROUTING");
    assert_eq!(string(&v, "event_action"), "trigger");
    assert_eq!(string(&v, "dedup_key"), "abc");
    let p = &v["payload"];
    assert_eq!(
        string(p, "summary").chars().count(),
        format::PAGERDUTY_SUMMARY_MAX
    );
    assert_eq!(string(p, "source"), "db");
    assert!(["critical", "error", "warning", "info"].contains(&string(p, "severity")));
    assert_eq!(string(p, "severity"), "critical");
    assert!(is_rfc3339(string(p, "timestamp")));
    assert_eq!(string(p, "component"), "db");
    assert_eq!(string(p, "group"), "faultline");
    assert_eq!(string(p, "class"), "latency");
    let details = obj(p, "custom_details");
    assert_eq!(details["incident_id"], "abc");
    assert_eq!(details["revision"], 1);
    assert_eq!(details["candidates"].as_array().unwrap().len(), 4);
    let links = v["links"].as_array().unwrap();
    assert_eq!(links[0]["href"], "https://faultline.example/incidents/abc");
    assert!(links[0]["text"].is_string());

    let mut low = open("abc", 2);
    low.severity = Severity::Info;
    low.candidates.clear();
    let v = format::pagerduty(&low, "ROUTING", None);
    assert_eq!(v["payload"]["severity"], "info");
    assert_eq!(v["payload"]["source"], "faultline", "source is required");
    assert!(v.get("links").is_none());

    let r = format::pagerduty(
        &update("abc", 3, Status::Resolved, Severity::Critical),
        "ROUTING",
        None,
    );
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["routing_key", "event_action", "dedup_key"]);
    assert_eq!(r["event_action"], "resolve");
    assert_eq!(r["dedup_key"], "abc", "the same key as the trigger");
}

#[test]
fn slack_message_names_status_title_and_top_three_candidates() {
    let mut u = open("abc", 1);
    u.title = "a <b> & c".into();
    let v = format::slack(&u, Some("https://f.example"));
    let text = string(&v, "text");
    assert!(text.starts_with("[FIRING:critical]") && text.contains("a &lt;b&gt; &amp; c"));
    let blocks = v["blocks"].as_array().unwrap();
    let section = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(section.contains("1. `db`") && section.contains("3. `web`"));
    assert!(!section.contains("cdn"), "only the top three");
    assert!(
        blocks[1]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("<https://f.example/incidents/abc|open in Faultline>")
    );
    let r = format::slack(
        &update("abc", 2, Status::Resolved, Severity::Critical),
        None,
    );
    assert!(string(&r, "text").starts_with("[RESOLVED]"));
}

#[test]
fn native_payload_is_the_update_with_a_version() {
    let u = open("abc", 4);
    let bytes = format::native(&u).unwrap();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    let fields = v.as_object_mut().unwrap();
    assert_eq!(fields.keys().next().map(String::as_str), Some("version"));
    assert_eq!(fields.remove("version"), Some(Value::from("1")));
    let back: IncidentUpdate = serde_json::from_value(v).unwrap();
    assert_eq!(back, u);
    let spec = ReceiverConfig::new("k", ReceiverKind::Kafka { topic: "t".into() }, None);
    assert_eq!(
        format::render(&spec, &u).unwrap(),
        bytes,
        "Kafka records are native"
    );
}
