//! Rough decode cost per sample, without a benchmark harness:
//! `cargo run --release -p faultline-decode --example decode_speed`.
//!
//! Each case decodes the same payload repeatedly and reports the best of many short rounds (the
//! least disturbed by other work on the machine), so numbers are comparable between runs.

use std::hint::black_box;
use std::time::Instant;

use faultline_decode::{Format, Item, Kind, decode};

const SAMPLES: usize = 100;
const T: u64 = 1_714_557_600_000;

fn native_object(i: usize) -> String {
    format!(
        r#"{{"name":"http_request_duration_seconds","labels":{{"service":"checkout","host":"web-{}","region":"eu-west-1","route":"/api/v1/pay"}},"ts":{},"value":{}}}"#,
        i % 7,
        T + i as u64 * 1000,
        0.25 + i as f64 / 7.0
    )
}

fn native_array() -> String {
    let objects: Vec<_> = (0..SAMPLES).map(native_object).collect();
    format!("[{}]", objects.join(","))
}

fn native_lines() -> String {
    (0..SAMPLES).map(|i| native_object(i) + "\n").collect()
}

/// Lines of four numeric fields, 100 samples in all.
fn influx_lines() -> String {
    (0..SAMPLES / 4)
        .map(|i| {
            format!(
                "cpu,cpu=cpu{},host=web-{},region=eu-west-1 usage_idle={},usage_system=0.7,usage_user=1.25,procs={}i {}\n",
                i % 4,
                i % 7,
                97.0 + i as f64 / 10.0,
                300 + i,
                (T + i as u64) * 1_000_000
            )
        })
        .collect()
}

/// One resource, one scope, 100 gauge points.
fn otlp_request() -> String {
    let points: Vec<_> = (0..SAMPLES)
        .map(|i| {
            format!(
                r#"{{"attributes":[{{"key":"route","value":{{"stringValue":"/api/v1/pay"}}}},{{"key":"host.name","value":{{"stringValue":"web-{}"}}}}],"startTimeUnixNano":"1714550000000000000","timeUnixNano":"{}","asDouble":{}}}"#,
                i % 7,
                (T + i as u64) * 1_000_000,
                0.25 + i as f64 / 7.0
            )
        })
        .collect();
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"checkout"}}}},{{"key":"cloud.region","value":{{"stringValue":"eu-west-1"}}}}]}},"scopeMetrics":[{{"scope":{{"name":"app"}},"metrics":[{{"name":"http.server.duration","unit":"s","gauge":{{"dataPoints":[{}]}}}}]}}]}}]}}"#,
        points.join(",")
    )
}

/// Best ns per sample over several rounds of decoding `payload`.
fn measure(format: Format, payload: &[u8], with_hash: bool) -> (f64, usize) {
    let mut samples = 0;
    decode(format, Kind::Metrics, payload, &mut |item| {
        assert!(matches!(item, Ok(Item::Metric(_))), "{item:?}");
        samples += 1;
    })
    .unwrap();
    let iterations = (400_000 / payload.len()).max(10);
    let mut best = f64::INFINITY;
    for _ in 0..40 {
        let start = Instant::now();
        for _ in 0..iterations {
            let mut checksum = 0u64;
            decode(format, Kind::Metrics, black_box(payload), &mut |item| {
                if let Ok(Item::Metric(sample)) = item {
                    checksum = checksum.wrapping_add(match with_hash {
                        true => sample.series_hash(),
                        false => sample.value.to_bits() ^ sample.labels.len() as u64,
                    });
                }
            })
            .unwrap();
            black_box(checksum);
        }
        let ns = start.elapsed().as_nanos() as f64 / (iterations * samples) as f64;
        best = best.min(ns);
    }
    (best, samples)
}

fn main() {
    let single = native_object(3);
    let cases: [(&str, Format, String); 5] = [
        (
            "native json, array of 100",
            Format::NativeJson,
            native_array(),
        ),
        ("native json, 100 lines", Format::NativeJson, native_lines()),
        ("native json, single object", Format::NativeJson, single),
        (
            "influx, 25 lines x 4 fields",
            Format::Influx,
            influx_lines(),
        ),
        (
            "otlp json, 100 gauge points",
            Format::OtlpJson,
            otlp_request(),
        ),
    ];
    println!(
        "{:<30} {:>8} {:>12} {:>16}",
        "payload", "samples", "ns/sample", "+series_hash"
    );
    for (name, format, payload) in &cases {
        let (ns, samples) = measure(*format, payload.as_bytes(), false);
        let (hashed, _) = measure(*format, payload.as_bytes(), true);
        println!("{name:<30} {samples:>8} {ns:>12.1} {hashed:>16.1}");
    }
}
