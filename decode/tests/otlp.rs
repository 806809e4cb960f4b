//! OTLP JSON: Collector-shaped export requests for metrics and logs.

use std::borrow::Cow;

use faultline_decode::{DecodeError, Format, Item, ItemError, Kind, LogRecord, Sample, decode};

mod common;

fn run(kind: Kind, payload: &[u8]) -> Result<Vec<Result<Item<'_>, ItemError>>, DecodeError> {
    common::run(Format::OtlpJson, kind, payload)
}

fn samples(payload: &[u8]) -> Vec<Result<Sample<'_>, ItemError>> {
    common::samples(Format::OtlpJson, payload).expect("request is readable")
}

fn logs(payload: &[u8]) -> Vec<Result<LogRecord<'_>, ItemError>> {
    run(Kind::Logs, payload)
        .expect("request is readable")
        .into_iter()
        .map(|item| match item {
            Ok(Item::Log(log)) => Ok(log),
            Ok(other) => panic!("not a log: {other:?}"),
            Err(err) => Err(err),
        })
        .collect()
}

/// `name{labels} value @ms`, compact for comparisons.
fn show(sample: &Sample<'_>) -> String {
    let labels: Vec<_> = sample
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{}{{{}}} {} @{}",
        sample.name,
        labels.join(","),
        sample.value,
        sample.at.as_millis()
    )
}

const T: i64 = 1_714_557_600_000;

#[test]
fn decodes_a_collector_metrics_request() {
    let all = samples(include_bytes!("fixtures/otlp/collector_metrics.json"));
    let shown: Vec<_> = all.iter().map(|s| show(s.as_ref().unwrap())).collect();
    let res = "host.name=web-1,os.type=linux,service.name=checkout";
    let http = "host.name=web-1,http.response.status_code=200,http.route=/cart,os.type=linux,service.name=checkout";
    assert_eq!(
        shown,
        [
            format!("system.memory.usage{{{res},state=used}} 6442450944 @{T}"),
            format!("system.memory.usage{{{res},state=free}} 2147483648 @{T}"),
            format!("system.cpu.load_average.1m{{{res}}} 0.52 @{T}"),
            format!("http.server.request.duration_count{{{http}}} 17 @{T}"),
            format!("http.server.request.duration_sum{{{http}}} 3.4 @{T}"),
            format!("rpc.client.duration_count{{{res}}} 4 @{T}"),
            format!("rpc.client.duration_sum{{{res}}} 42 @{T}"),
            // The point's host.name wins over the resource's; the flagged point is skipped.
            format!(
                "queue.depth{{host.name=worker-7,os.type=linux,queue=orders,service.name=checkout}} 12 @{}",
                T + 10_000
            ),
        ]
    );
    let first = all[0].as_ref().unwrap();
    assert!(matches!(first.name, Cow::Borrowed(_)));
    assert!(
        first
            .labels
            .as_slice()
            .iter()
            .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_))))
    );
}

#[test]
fn reads_keys_in_any_order_numeric_nanos_and_snake_case() {
    let all = samples(include_bytes!("fixtures/otlp/spec_shaped_metrics.json"));
    let shown: Vec<_> = all.iter().map(|s| show(s.as_ref().unwrap())).collect();
    assert_eq!(
        shown,
        [
            "my.counter{my.counter.attr=some value,service.name=my.service} 5 @1544712660300",
            "snake.gauge{service.name=other} 7 @1544712660300",
        ]
    );
}

#[test]
fn reports_bad_points_and_delivers_the_rest() {
    let payload = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"g","gauge":{"dataPoints":[
            {"timeUnixNano":"1000000","asDouble":1},
            {"timeUnixNano":"1000000","asDouble":"NaN"},
            {"asDouble":3},
            {"timeUnixNano":"1000000"},
            {"timeUnixNano":"soon","asInt":"5"},
            {"timeUnixNano":"1000000","asInt":"6","attributes":[{"key":"a","value":{"intValue":"1"}},{"key":"a","value":{}}]},
            {"timeUnixNano":"1000000","asInt":7}
        ]}},
        {"gauge":{"dataPoints":[{"timeUnixNano":"1000000","asDouble":8}]}}
    ]}]}]}"#;
    let all = samples(payload);
    let reasons: Vec<_> = all
        .iter()
        .map(|r| match r {
            Ok(sample) => format!("ok {}", sample.value),
            Err(err) => format!("{} {}", err.index, err.reason),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "ok 1",
            "1 data point value is not finite at line 4 column 13",
            "2 data point without `timeUnixNano` at line 5 column 13",
            "3 data point with neither `asDouble` nor `asInt` at line 6 column 13",
            "4 expected `timeUnixNano` to be an integer at line 7 column 29",
            "5 duplicate attribute `a` at line 8 column 64",
            "ok 7",
            "7 metric without a `name` at line 11 column 9",
        ]
    );
}

#[test]
fn a_resource_problem_rejects_every_point_under_it() {
    let payload = br#"{"resourceMetrics":[{"resource":{"attributes":[{"value":{"stringValue":"x"}}]},"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"1","asDouble":1},{"timeUnixNano":"1","asDouble":2}]}}]}]}]}"#;
    let all = samples(payload);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|r| {
        r.as_ref()
            .unwrap_err()
            .reason
            .starts_with("attribute without a `key`")
    }));
}

#[test]
fn decodes_a_collector_logs_request() {
    let all = logs(include_bytes!("fixtures/otlp/collector_logs.json"));
    assert_eq!(all.len(), 2);
    let first = all[0].as_ref().unwrap();
    assert_eq!(first.at.as_millis(), 1_714_557_600_123);
    assert_eq!(
        (first.service.as_ref(), first.level.as_ref()),
        ("checkout", "ERROR")
    );
    assert_eq!(first.message, "payment provider timed out after 3 retries");
    assert!(matches!(first.message, Cow::Borrowed(_)));
    let attributes: Vec<_> = first.attributes.iter().collect();
    assert_eq!(
        attributes,
        [
            ("http.route", "/pay"),
            ("k8s.pod.name", "checkout-7d9f"),
            ("ratio", "0.25"),
            ("retry", "3"),
            ("service.name", "checkout"),
            ("timeout", "true"),
        ]
    );
    // Only the observed time, a severity number, a structured body, an overriding attribute.
    let second = all[1].as_ref().unwrap();
    assert_eq!(second.at.as_millis(), 1_714_557_601_000);
    assert_eq!(second.level, "warn");
    assert_eq!(
        second.message,
        r#"{"values":[{"key":"event","value":{"stringValue":"cache_miss"}}]}"#
    );
    assert_eq!(second.attributes.get("k8s.pod.name"), Some("overridden"));
}

#[test]
fn reads_pre_0_15_instrumentation_library_logs() {
    let payload = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"dotnet"}}]},"instrumentationLibraryLogs":[{"instrumentationLibrary":{},"logRecords":[{"timeUnixNano":"1643240673066096200","severityText":"Information","name":"FilterModule.Program","body":{"stringValue":"Message Body"},"flags":1,"traceId":"7b20d1349ef9b6d6f9d4d1d4a3ac2e82","spanId":"0c2ad924e1771630"}]}]}]}"#;
    let all = logs(payload);
    let log = all[0].as_ref().unwrap();
    assert_eq!(
        (
            log.service.as_ref(),
            log.level.as_ref(),
            log.message.as_ref()
        ),
        ("dotnet", "Information", "Message Body")
    );
    assert_eq!(log.at.as_millis(), 1_643_240_673_066);
}

#[test]
fn defaults_service_and_level_and_requires_a_time() {
    let payload = br#"{"resource_logs":[{"scope_logs":[{"log_records":[{"time_unix_nano":"5000000","body":{"stringValue":"x"}},{"body":{"stringValue":"y"}}]}]}]}"#;
    let all = logs(payload);
    let log = all[0].as_ref().unwrap();
    assert_eq!(
        (log.service.as_ref(), log.level.as_ref(), log.at.as_millis()),
        ("unknown_service", "info", 5)
    );
    assert_eq!(all[1].as_ref().unwrap_err().index, 1);
}

#[test]
fn refuses_requests_of_another_signal() {
    let metrics = include_bytes!("fixtures/otlp/collector_metrics.json");
    let err = run(Kind::Logs, metrics).unwrap_err();
    assert_eq!(
        err.to_string(),
        "otlp json: a logs topic needs `resourceLogs`, but the request has `resourceMetrics`"
    );
    let err = run(Kind::Metrics, br#"{"resourceSpans":[]}"#).unwrap_err();
    assert!(matches!(err, DecodeError::WrongSignal { found, .. } if found == "resourceSpans"));
    let err = run(Kind::Events, metrics).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Unsupported {
            format: Format::OtlpJson,
            kind: Kind::Events
        }
    );
    assert_eq!(run(Kind::Metrics, b"{}").unwrap(), []);
}

#[test]
fn a_syntax_error_anywhere_delivers_nothing() {
    let mut payload = include_bytes!("fixtures/otlp/collector_metrics.json").to_vec();
    let end = payload.len() - 3;
    payload.truncate(end);
    let mut calls = 0;
    let err = decode(Format::OtlpJson, Kind::Metrics, &payload, &mut |_| {
        calls += 1
    })
    .unwrap_err();
    assert_eq!(calls, 0);
    assert!(
        matches!(err, DecodeError::Malformed { line: 1, .. }),
        "{err}"
    );
    let err = run(Kind::Metrics, b"[]").unwrap_err();
    assert_eq!(
        err.to_string(),
        "otlp json: expected a json object (an otlp export request) at line 1 column 1"
    );
}
