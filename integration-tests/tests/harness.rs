//! The harness itself against the broker: what the other tests rely on to judge the engine.

use std::time::Duration;

use faultline_integration_tests::series::{Rng, SeriesSpec};
use faultline_integration_tests::{Broker, Producer, read_all, unique};

#[test]
fn records_read_back_with_their_partition_offset_key_and_timestamp() {
    let broker = Broker::start(1);
    let topic = unique("it-harness");
    broker.create_topic(&topic, 2);
    let mut producer = Producer::new(&broker);
    let sent: Vec<_> = (0..10)
        .map(|i| {
            let payload = format!("record {i}");
            let key = format!("k{i}");
            producer.send(
                &topic,
                i % 2,
                Some(key.as_bytes()),
                payload.as_bytes(),
                1_700_000_000_000 + i64::from(i),
            )
        })
        .collect();
    producer.flush();
    let ends = broker.end_offsets(&topic);
    assert_eq!(ends, vec![(0, 5), (1, 5)]);
    let records = read_all(&broker, &topic, Duration::from_secs(30));
    assert_eq!(records.len(), 10);
    for (i, s) in sent.into_iter().enumerate() {
        let (partition, offset) = producer.offset_of(s);
        let r = records
            .iter()
            .find(|r| r.partition == partition && r.offset == offset)
            .expect("record read back");
        assert_eq!(r.payload_str(), format!("record {i}"));
        assert_eq!(r.key_str(), Some(format!("k{i}")));
        assert_eq!(r.timestamp, Some(1_700_000_000_000 + i as i64));
        assert_eq!(partition, i as i32 % 2);
    }
}

#[test]
fn generated_series_are_reproducible_and_have_the_requested_noise() {
    let spec = SeriesSpec {
        name: "cpu".into(),
        service: "s".into(),
        host: "h".into(),
        level: 10.0,
        noise: 2.0,
        daily_amplitude: 0.0,
        seed: 3,
        fault: None,
    };
    let a = spec.values(20_000, 60_000);
    assert_eq!(a, spec.values(20_000, 60_000));
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    let sd = (a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
    assert!((mean - 10.0).abs() < 0.1, "mean {mean}");
    assert!((sd - 2.0).abs() < 0.1, "sd {sd}");
    let mut rng = Rng::new(0);
    assert!(
        (0..1000)
            .map(|_| rng.uniform())
            .all(|u| u > 0.0 && u <= 1.0)
    );
}
