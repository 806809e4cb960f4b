//! Native JSON: batch forms, borrowing, per-item errors and whole-record errors.

use std::borrow::Cow;

use faultline_decode::{DecodeError, Format, Item, ItemError, Kind, Sample, decode};

mod common;

fn run(kind: Kind, payload: &[u8]) -> Result<Vec<Result<Item<'_>, ItemError>>, DecodeError> {
    common::run(Format::NativeJson, kind, payload)
}

fn samples(payload: &[u8]) -> Vec<Result<Sample<'_>, ItemError>> {
    common::samples(Format::NativeJson, payload).expect("record is readable")
}

fn one_sample(payload: &[u8]) -> Sample<'_> {
    let mut all = samples(payload);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0).expect("a sample")
}

fn item_error(payload: &[u8]) -> ItemError {
    let mut all = samples(payload);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0).expect_err("an item error")
}

#[test]
fn decodes_a_single_metric_borrowing_unescaped_strings() {
    let payload = br#"{"name": "http_requests_total", "labels": {"service": "api", "region": "eu"}, "ts": 1714557600000, "value": 42.5}"#;
    let sample = one_sample(payload);
    assert!(matches!(sample.name, Cow::Borrowed("http_requests_total")));
    assert_eq!(sample.at.as_millis(), 1_714_557_600_000);
    assert_eq!(sample.value, 42.5);
    assert_eq!(
        sample.labels.iter().collect::<Vec<_>>(),
        [("region", "eu"), ("service", "api")]
    );
    for (key, value) in sample.labels.as_slice() {
        assert!(matches!(key, Cow::Borrowed(_)) && matches!(value, Cow::Borrowed(_)));
    }
}

#[test]
fn decodes_escaped_strings_into_owned_text() {
    let sample =
        one_sample(br#"{"name":"a\u00e9","labels":{"pa\"th":"C:\\tmp"},"ts":0,"value":1}"#);
    assert_eq!(sample.name, "a\u{e9}");
    assert!(matches!(sample.name, Cow::Owned(_)));
    assert_eq!(sample.labels.get("pa\"th"), Some("C:\\tmp"));
}

#[test]
fn labels_are_optional_and_null_counts_as_absent() {
    assert!(
        one_sample(br#"{"name":"up","ts":1,"value":1}"#)
            .labels
            .is_empty()
    );
    assert!(
        one_sample(br#"{"name":"up","labels":null,"ts":1,"value":1}"#)
            .labels
            .is_empty()
    );
    let err = item_error(br#"{"name":"up","ts":1,"value":null}"#);
    assert_eq!(err.reason, "missing field `value` at line 1 column 1");
}

#[test]
fn ignores_unknown_fields_of_any_shape() {
    let payload = br#"{"unit":"s","name":"up","meta":{"a":[1,{"b":null}],"c":"\n"},"ts":1,"value":1,"z":true}"#;
    assert_eq!(one_sample(payload).name, "up");
}

#[test]
fn accepts_every_timestamp_form() {
    let at = |ts: &str| {
        let payload = format!(r#"{{"name":"up","ts":{ts},"value":1}}"#);
        samples(payload.as_bytes())
            .remove(0)
            .map(|s| s.at.as_millis())
            .map_err(|e| e.reason)
    };
    assert_eq!(at("1714557600000"), Ok(1_714_557_600_000));
    assert_eq!(at("1714557600000.9"), Ok(1_714_557_600_000));
    assert_eq!(at("1.7145576e12"), Ok(1_714_557_600_000));
    assert_eq!(
        at(r#""2024-05-01T12:00:00.250+02:00""#),
        Ok(1_714_557_600_250)
    );
    assert_eq!(
        at("-1").unwrap_err(),
        "timestamp before 1970 at line 1 column 19"
    );
    assert_eq!(
        at("99999999999999999999").unwrap_err(),
        "timestamp out of range at line 1 column 19"
    );
    assert!(
        at(r#""yesterday""#)
            .unwrap_err()
            .starts_with("timestamp \"yesterday\" is not rfc 3339")
    );
    assert_eq!(
        at("true").unwrap_err(),
        "expected `ts` to be milliseconds since the epoch or an rfc 3339 string, found a boolean at line 1 column 19"
    );
}

#[test]
fn rejects_items_with_unusable_values() {
    let cases: [(&[u8], &str); 8] = [
        (
            br#"{"name":"up","ts":1,"value":"1"}"#,
            "expected `value` to be a number, found a string at line 1 column 29",
        ),
        (
            br#"{"name":"up","ts":1,"value":1e999}"#,
            "`value` is not finite at line 1 column 29",
        ),
        (
            br#"{"name":"up","ts":1,"value":-1e999}"#,
            "`value` is not finite at line 1 column 29",
        ),
        (
            br#"{"ts":1,"value":1}"#,
            "missing field `name` at line 1 column 1",
        ),
        (
            br#"{"name":"","ts":1,"value":1}"#,
            "`name` is empty at line 1 column 1",
        ),
        (
            br#"{"name":"up","labels":{"code":500},"ts":1,"value":1}"#,
            "labels value `code` must be a string, found a number at line 1 column 31",
        ),
        (
            br#"{"name":"up","labels":{"a":"1","a":"2"},"ts":1,"value":1}"#,
            "duplicate key `a` in `labels` at line 1 column 23",
        ),
        (
            br#"{"name":"up","ts":1,"value":1,"value":2}"#,
            "duplicate field `value` at line 1 column 39",
        ),
    ];
    for (payload, reason) in cases {
        let err = item_error(payload);
        assert_eq!(
            (err.index, err.reason.as_str()),
            (0, reason),
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn huge_exponents_are_out_of_range_for_serde_json_but_an_item_error_here() {
    // Why the reader is hand-written: serde_json fails the whole document on this number.
    assert!(serde_json::from_str::<f64>("1e999").is_err());
    let payload = br#"[{"name":"a","ts":1,"value":1e999},{"name":"b","ts":1,"value":2}]"#;
    let all = samples(payload);
    assert_eq!(all[0].as_ref().unwrap_err().index, 0);
    assert_eq!(all[1].as_ref().unwrap().name, "b");
}

#[test]
fn delivers_every_element_of_an_array_around_a_bad_one() {
    let payload = br#"[
        {"name":"a","ts":1,"value":1},
        {"name":"b","ts":1,"value":"high"},
        42,
        {"name":"d","ts":1,"value":4}
    ]"#;
    let all = samples(payload);
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].as_ref().unwrap().name, "a");
    assert_eq!(
        all[1].as_ref().unwrap_err(),
        &ItemError {
            index: 1,
            reason: "expected `value` to be a number, found a string at line 3 column 36".into()
        }
    );
    assert_eq!(
        all[2].as_ref().unwrap_err().reason,
        "expected a json object, found a number at line 4 column 9"
    );
    assert_eq!(all[3].as_ref().unwrap().name, "d");
    assert!(samples(b"[]").is_empty());
}

#[test]
fn an_array_with_a_syntax_error_anywhere_delivers_nothing() {
    let payload = br#"[{"name":"a","ts":1,"value":1}, {"name":"b","ts":1,"value":2} {"name":"c"}]"#;
    let mut calls = 0;
    let err = decode(Format::NativeJson, Kind::Metrics, payload, &mut |_| {
        calls += 1
    })
    .unwrap_err();
    assert_eq!(calls, 0);
    assert_eq!(
        err.to_string(),
        "native json: expected `,` or `]` at line 1 column 63"
    );
    let err = run(Kind::Metrics, br#"[{"name":"a","ts":1,"value":1}] x"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "native json: trailing characters after the json array at line 1 column 33"
    );
}

#[test]
fn resumes_newline_delimited_json_on_the_line_after_a_bad_one() {
    let payload = include_bytes!("fixtures/native/metrics.ndjson");
    let all = samples(payload);
    assert_eq!(all.len(), 4);
    let names: Vec<_> = all
        .iter()
        .filter_map(|s| s.as_ref().ok())
        .map(|s| s.name.as_ref())
        .collect();
    assert_eq!(
        names,
        [
            "http_requests_total",
            "http_request_duration_seconds",
            "queue_depth"
        ]
    );
    let err = all[2].as_ref().unwrap_err();
    assert_eq!(err.index, 2);
    assert_eq!(err.reason, "expected a string key at line 3 column 85");
    let last = all[3].as_ref().unwrap();
    assert_eq!(
        (last.at.as_millis(), last.value),
        (1_714_557_600_000, 300.0)
    );
    assert_eq!(last.labels.get("service"), Some("billing"));
}

#[test]
fn reports_unreadable_lines_held_before_the_first_readable_one_in_order() {
    let payload = b"garbage\n{\"name\":\"a\",\"ts\":1,\"value\":1}\r\n\n{\"name\":\"b\",\"ts\":1,\"value\":2} trailing\n";
    let all = samples(payload);
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0].as_ref().unwrap_err().reason,
        "expected a json value at line 1 column 1"
    );
    assert_eq!(all[1].as_ref().unwrap().name, "a");
    let err = all[2].as_ref().unwrap_err();
    assert_eq!(err.index, 2, "blank lines are not counted");
    assert_eq!(
        err.reason,
        "expected a newline after the json object at line 4 column 31"
    );
}

#[test]
fn a_record_with_no_readable_line_is_unreadable_and_delivers_nothing() {
    let mut calls = 0;
    let payload = b"{\"name\":\n}\nnot json\n[1,2]";
    let err = decode(Format::NativeJson, Kind::Metrics, payload, &mut |_| {
        calls += 1
    })
    .unwrap_err();
    assert_eq!(calls, 0);
    assert_eq!(
        err.to_string(),
        "native json: expected a json value at line 2 column 1"
    );
    let err = run(Kind::Metrics, b"  \n\t ").unwrap_err();
    assert_eq!(
        err,
        DecodeError::Empty {
            format: Format::NativeJson
        }
    );
    assert_eq!(
        run(Kind::Metrics, b"").unwrap_err().to_string(),
        "native json: empty payload"
    );
}

#[test]
fn a_pretty_printed_object_is_one_item() {
    let payload = b"{\n  \"name\": \"up\",\n  \"ts\": 1,\n  \"value\": 1\n}\n";
    assert_eq!(one_sample(payload).name, "up");
}

#[test]
fn skips_a_line_that_is_not_utf8_and_keeps_the_others() {
    let mut payload = b"{\"name\":\"a\",\"ts\":1,\"value\":1}\n{\"name\":\"".to_vec();
    payload.extend_from_slice(&[0xff, 0xfe]);
    payload.extend_from_slice(b"\",\"ts\":1,\"value\":1}\n{\"name\":\"c\",\"ts\":1,\"value\":3}");
    let all = samples(&payload);
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[1].as_ref().unwrap_err(),
        &ItemError {
            index: 1,
            reason: "invalid utf-8 at line 2 column 10".into()
        }
    );
    assert_eq!(all[2].as_ref().unwrap().name, "c");
    let err = run(Kind::Metrics, b"[\"\xff\"]").unwrap_err();
    assert_eq!(
        err,
        DecodeError::InvalidUtf8 {
            format: Format::NativeJson,
            offset: 2
        }
    );
    let err = run(Kind::Metrics, b"{\"name\":\"\xff\"}").unwrap_err();
    assert_eq!(err.to_string(), "native json: invalid utf-8 at byte 9");
}

#[test]
fn decodes_log_records_with_defaults_and_json_text_attributes() {
    let payload = br#"{"ts":"2024-05-01T12:00:00Z","service":"api","message":"upstream timed out","attributes":{"route":"/pay","attempt":3,"retry":true,"ctx":{"a": [1]}}}"#;
    let items = run(Kind::Logs, payload).unwrap();
    let Ok(Item::Log(log)) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(log.at.as_millis(), 1_714_564_800_000);
    assert_eq!((log.service.as_ref(), log.level.as_ref()), ("api", "info"));
    assert_eq!(log.message, "upstream timed out");
    let attributes: Vec<_> = log.attributes.iter().collect();
    assert_eq!(
        attributes,
        [
            ("attempt", "3"),
            ("ctx", r#"{"a": [1]}"#),
            ("retry", "true"),
            ("route", "/pay")
        ]
    );
    let items = run(Kind::Logs, br#"{"ts":1,"service":"api","level":"error"}"#).unwrap();
    assert_eq!(
        items[0].as_ref().unwrap_err().reason,
        "missing field `message` at line 1 column 1"
    );
}

#[test]
fn decodes_change_events() {
    let payload = br#"{"ts":1714557600000,"kind":"deploy","entity":"checkout","attributes":{"version":"1.4.2","replicas":3}}
{"ts":1714557600000,"kind":"scale"}"#;
    let items = run(Kind::Events, payload).unwrap();
    let Ok(Item::Event(event)) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(
        (event.kind.as_ref(), event.entity.as_ref()),
        ("deploy", "checkout")
    );
    assert_eq!(event.attributes.get("replicas"), Some("3"));
    assert_eq!(
        items[1].as_ref().unwrap_err().reason,
        "missing field `entity` at line 2 column 1"
    );
}

#[test]
fn series_hash_ignores_the_order_labels_were_written_in() {
    let a = one_sample(
        br#"{"name":"cpu","labels":{"host":"a","region":"eu","az":"1"},"ts":1,"value":1}"#,
    );
    let b = one_sample(
        br#"{"labels":{"az":"1","region":"eu","host":"a"},"value":2,"ts":9,"name":"cpu"}"#,
    );
    let c = one_sample(
        br#"{"name":"cpu","labels":{"host":"a","region":"us","az":"1"},"ts":1,"value":1}"#,
    );
    assert_eq!(a.series_hash(), b.series_hash());
    assert_ne!(a.series_hash(), c.series_hash());
}
