//! Invariants over generated input: no input panics, valid records round-trip, series identity
//! does not depend on label order.

use std::collections::BTreeMap;

use faultline_decode::{Format, Item, Kind, decode};
use proptest::prelude::*;

const FORMATS: [Format; 3] = [Format::NativeJson, Format::OtlpJson, Format::Influx];
const KINDS: [Kind; 3] = [Kind::Metrics, Kind::Logs, Kind::Events];

/// Decodes with every format and kind, checking the contract on the way: on `Err` nothing
/// was delivered, and delivered samples are finite.
fn decode_everyhow(payload: &[u8]) {
    for format in FORMATS {
        for kind in KINDS {
            let mut delivered = 0;
            let result = decode(format, kind, payload, &mut |item| {
                delivered += 1;
                if let Ok(Item::Metric(sample)) = item {
                    assert!(sample.value.is_finite());
                    assert!(sample.at.as_millis() >= 0);
                }
            });
            if result.is_err() {
                assert_eq!(delivered, 0, "{format} {kind}: delivered before failing");
            }
        }
    }
}

/// Text made of the pieces the decoders branch on, so generated inputs get deep.
fn structured_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("=".to_owned()),
        Just("\"name\":\"m\"".to_owned()),
        Just("\"ts\":1".to_owned()),
        Just("\"value\":".to_owned()),
        Just("\"labels\":{\"a\":\"b\"}".to_owned()),
        Just("\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[".to_owned()),
        Just(
            "{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"5\",\"asInt\":\"1\"}"
                .to_owned()
        ),
        Just(
            "\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"9\"}"
                .to_owned()
        ),
        Just("\\u00e9\\ud83d".to_owned()),
        Just("1e999".to_owned()),
        Just("-0.5".to_owned()),
        Just("cpu,host=a f=1i,g=\"s\" 1".to_owned()),
        "[a-z0-9.]{1,4}",
    ];
    proptest::collection::vec(pieces, 0..40).prop_map(|pieces| pieces.concat())
}

/// Strings with the characters JSON must escape.
fn awkward_string() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z\"\\\\/\n\t\u{1}é😀 ]{0,12}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everyhow(&payload);
    }

    #[test]
    fn structured_text_never_panics(text in structured_text()) {
        decode_everyhow(text.as_bytes());
    }

    #[test]
    fn a_valid_native_metric_round_trips(
        name in "[a-z_][a-z0-9_.]{0,20}",
        labels in proptest::collection::btree_map(awkward_string(), awkward_string(), 0..10),
        ts in 0i64..=4_000_000_000_000,
        value in any::<f64>().prop_filter("finite", |v| v.is_finite()),
        as_array in any::<bool>(),
    ) {
        let record = serde_json::json!({ "name": name, "labels": labels, "ts": ts, "value": value });
        let payload = match as_array {
            true => serde_json::to_vec(&[&record, &record]).unwrap(),
            false => format!("{record}\n{record}\n").into_bytes(),
        };
        let mut samples = Vec::new();
        decode(Format::NativeJson, Kind::Metrics, &payload, &mut |item| match item {
            Ok(Item::Metric(sample)) => samples.push(sample),
            other => panic!("{other:?}"),
        }).unwrap();
        prop_assert_eq!(samples.len(), 2);
        for sample in &samples {
            prop_assert_eq!(&sample.name, &name);
            prop_assert_eq!(sample.at.as_millis(), ts);
            prop_assert_eq!(sample.value.to_bits(), value.to_bits());
            let decoded: BTreeMap<String, String> =
                sample.labels.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            prop_assert_eq!(&decoded, &labels);
        }
    }

    #[test]
    fn series_hash_depends_on_the_label_set_not_its_order(
        labels in proptest::collection::btree_map("[a-z]{1,3}", "[a-z]{0,3}", 0..8),
        seed in any::<u64>(),
    ) {
        let mut pairs: Vec<_> = labels.iter().collect();
        // A seeded Fisher–Yates shuffle of the written order.
        let mut state = seed;
        for i in (1..pairs.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            pairs.swap(i, (state >> 33) as usize % (i + 1));
        }
        let object = |pairs: &[(&String, &String)]| {
            let body: Vec<_> = pairs.iter().map(|(k, v)| format!("{:?}:{:?}", k, v)).collect();
            format!(r#"{{"name":"m","labels":{{{}}},"ts":1,"value":1}}"#, body.join(","))
        };
        let sorted: Vec<_> = labels.iter().collect();
        let (a, b) = (object(&sorted), object(&pairs));
        let hash = |payload: &str| {
            let mut hash = None;
            decode(Format::NativeJson, Kind::Metrics, payload.as_bytes(), &mut |item| {
                if let Ok(Item::Metric(sample)) = item {
                    hash = Some(sample.series_hash());
                }
            }).unwrap();
            hash.unwrap()
        };
        prop_assert_eq!(hash(&a), hash(&b));
    }

    #[test]
    fn influx_tags_round_trip_through_escaping(
        tags in proptest::collection::btree_map("[a-z ,=\"]{1,6}", "[a-z0-9 ,=\"]{1,6}", 0..6),
        value in -1e12f64..1e12,
        ts in 0i64..=i64::MAX,
    ) {
        let escape = |s: &str| s.replace(',', "\\,").replace(' ', "\\ ").replace('=', "\\=");
        let tag_text: String = tags.iter().map(|(k, v)| format!(",{}={}", escape(k), escape(v))).collect();
        let line = format!("m{tag_text} f={value:?} {ts}");
        let mut samples = Vec::new();
        decode(Format::Influx, Kind::Metrics, line.as_bytes(), &mut |item| match item {
            Ok(Item::Metric(sample)) => samples.push(sample),
            other => panic!("{line}: {other:?}"),
        }).unwrap();
        prop_assert_eq!(samples.len(), 1);
        let decoded: BTreeMap<String, String> =
            samples[0].labels.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&decoded, &tags);
        prop_assert_eq!(samples[0].value, value);
        prop_assert_eq!(samples[0].at.as_millis(), ts / 1_000_000);
    }
}
