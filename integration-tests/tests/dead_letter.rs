//! Bad input never stops the stream: poison records go to the dead-letter topic, are counted,
//! and the partition keeps flowing past them.

use std::time::Duration;

use faultline_integration_tests::anomaly::read_anomalies;
use faultline_integration_tests::series::{Fault, SeriesSpec, midnight_days_ago, sample_json};
use faultline_integration_tests::{
    Broker, Engine, EngineConfig, Producer, faultline_exe, read_all, unique,
};

const STEP_MS: i64 = 60_000;
const PER_RECORD: usize = 100;
/// Points before the poison records, and in all.
const BEFORE: usize = 2000;
const TOTAL: usize = 3000;
/// A 20 σ spike well after the poison.
const SPIKE_AT: usize = 2500;

#[test]
fn poison_record_goes_to_dead_letter_and_partition_keeps_flowing() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique("it-metrics");
    broker.create_topic(&topic, 1);
    let config = EngineConfig::new(&broker, dir.path(), &topic);
    broker.create_topic(&config.anomalies_topic, 1);
    broker.create_topic(&config.dead_letter_topic, 1);

    let spec = SeriesSpec {
        name: "cpu".into(),
        service: "checkout".into(),
        host: "h1".into(),
        level: 50.0,
        noise: 2.0,
        daily_amplitude: 0.0,
        seed: 5,
        fault: Some(Fault::Spike {
            at: SPIKE_AT,
            size: 40.0,
        }),
    };
    let values = spec.values(TOTAL, STEP_MS);
    let base = midnight_days_ago(3);
    let ts = |k: usize| base + k as i64 * STEP_MS;
    let labels = spec.labels_json();
    let key = format!("cpu{labels}");
    let mut producer = Producer::new(&broker);
    let send_points = |producer: &mut Producer, range: std::ops::Range<usize>| {
        let mut n = 0;
        for chunk in range.collect::<Vec<_>>().chunks(PER_RECORD) {
            let body: Vec<String> = chunk
                .iter()
                .map(|&k| sample_json("cpu", &labels, ts(k), values[k]))
                .collect();
            producer.send(
                &topic,
                0,
                Some(key.as_bytes()),
                body.join("\n").as_bytes(),
                ts(chunk[0]),
            );
            n += 1;
        }
        n
    };
    let mut valid = send_points(&mut producer, 0..BEFORE);

    // The poison, each with what its `faultline-error` header must mention (any of).
    let poison_ts = ts(BEFORE);
    let poison: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "binary garbage",
            b"\x00\xff\xfe\x13garbage{{".to_vec(),
            &["utf", "json", "invalid", "malformed", "decode"],
        ),
        (
            "non-numeric value",
            format!(r#"{{"name":"cpu","labels":{labels},"ts":{poison_ts},"value":"lots"}}"#)
                .into_bytes(),
            &["value"],
        ),
        (
            "truncated JSON",
            format!(r#"{{"name":"cpu","labels":{labels},"ts":{poison_ts},"val"#).into_bytes(),
            &["json", "eof", "end", "unexpected", "expected", "malformed"],
        ),
        (
            "one bad item among good ones",
            [
                sample_json("cpu", &labels, poison_ts, values[BEFORE]),
                format!(r#"{{"name":"cpu","labels":{labels},"ts":{poison_ts},"value":"n/a"}}"#),
            ]
            .join("\n")
            .into_bytes(),
            &["value"],
        ),
    ];
    let sent: Vec<_> = poison
        .iter()
        .map(|(_, payload, _)| producer.send(&topic, 0, Some(key.as_bytes()), payload, poison_ts))
        .collect();
    valid += send_points(&mut producer, BEFORE + 1..TOTAL);
    producer.flush();
    let ends = broker.end_offsets(&topic);

    let mut engine = Engine::start(
        faultline_exe!(),
        &config.write(&dir.path().join("faultline.yaml")),
    );
    engine.wait_ready();
    // The partition reaches its end despite the poison in the middle.
    let metrics = engine.wait_processed(&topic, &ends);
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());

    let dead = read_all(&broker, &config.dead_letter_topic, Duration::from_secs(60));
    assert_eq!(
        dead.len(),
        poison.len(),
        "dead letters: {:#?}",
        dead.iter()
            .map(|r| r.header("faultline-error"))
            .collect::<Vec<_>>()
    );
    for ((what, payload, mentions), sent) in poison.iter().zip(&sent) {
        let (partition, offset) = producer.offset_of(*sent);
        let letter = dead
            .iter()
            .find(|r| r.header("faultline-source-offset") == Some(offset.to_string()))
            .unwrap_or_else(|| panic!("no dead letter for the {what} at offset {offset}"));
        assert_eq!(
            letter.payload.as_deref(),
            Some(&payload[..]),
            "{what}: payload kept"
        );
        assert_eq!(
            letter.key.as_deref(),
            Some(key.as_bytes()),
            "{what}: key kept"
        );
        assert_eq!(letter.header("faultline-source-topic"), Some(topic.clone()));
        assert_eq!(
            letter.header("faultline-source-partition"),
            Some(partition.to_string())
        );
        let error = letter
            .header("faultline-error")
            .unwrap_or_else(|| panic!("{what}: no faultline-error header"));
        let lower = error.to_lowercase();
        assert!(
            mentions.iter().any(|m| lower.contains(m)),
            "{what}: faultline-error {error:?} mentions none of {mentions:?}"
        );
        println!("{what} (offset {offset}): {error}");
    }

    assert_eq!(
        metrics.sum("faultline_dead_letters_total"),
        poison.len() as f64,
        "{}",
        metrics.render("faultline_dead_letters")
    );
    assert_eq!(
        metrics.sum_where(
            "faultline_records_total",
            &[("topic", &topic), ("outcome", "ok")]
        ),
        valid as f64,
        "{}",
        metrics.render("faultline_records")
    );
    assert_eq!(
        metrics.sum_where("faultline_records_total", &[("topic", &topic)]),
        (valid + poison.len()) as f64,
        "{}",
        metrics.render("faultline_records")
    );

    // Detection carried on past the poison.
    let anomalies = read_anomalies(&broker, &config.anomalies_topic, Duration::from_secs(60));
    assert!(
        anomalies
            .iter()
            .any(|a| a.at_ms == ts(SPIKE_AT) && a.direction == "up" && a.entity_name == "checkout"),
        "the spike at point {SPIKE_AT} after the poison was not reported; anomalies at {:?}",
        anomalies
            .iter()
            .map(|a| (a.at_ms - base) / STEP_MS)
            .collect::<Vec<_>>()
    );
}
