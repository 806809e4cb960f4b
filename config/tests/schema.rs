//! The JSON Schema of the file format.

use faultline_config::{DetectorSpec, json_schema};
use serde_json::Value;

/// Every string anywhere in the schema (property names, enum values, consts, descriptions).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

#[test]
fn schema_is_json_with_rule_fields_and_detector_kinds() {
    let schema = json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap();
    let reparsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, schema);
    assert_eq!(schema["title"], "Faultline configuration");

    let mut all = Vec::new();
    strings(&schema, &mut all);
    for word in [
        "kafka",
        "ingest",
        "state",
        "http",
        "log",
        "defaults",
        "rules",
        "name",
        "match",
        "metric",
        "metric_regex",
        "labels",
        "not_regex",
        "absent",
        "detectors",
        "sensitivity",
        "min_duration",
        "severity",
        "entity_labels",
        "critical",
        "otlp_json",
        "half_life",
        "calibration_half_life",
    ] {
        assert!(
            all.iter().any(|s| s == word),
            "`{word}` missing from the schema:\n{text}"
        );
    }
    for kind in DetectorSpec::NAMES {
        assert!(
            all.iter().any(|s| s == kind),
            "detector kind `{kind}` missing:\n{text}"
        );
    }
}

#[test]
fn schema_descriptions_are_the_field_docs() {
    let schema = json_schema();
    let rules = &schema["properties"]["rules"];
    let description = rules["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("The first rule that matches a series wins"),
        "{rules}"
    );

    // Durations are strings in the schema, not Rust `Duration` structs.
    let text = schema.to_string();
    assert!(!text.contains("\"secs\""), "{text}");
    assert!(!text.contains("\"nanos\""), "{text}");
}
