//! Idle partitions: a producer that writes to one partition of four still gets its incidents,
//! and a late record on a partition that had gone idle is accepted and ordered as the README
//! documents (`ingest.idle_timeout`).
//!
//! The engine's correlator keeps its clock at the low watermark of the metrics partitions,
//! so that a partition running ahead cannot resolve what a lagging one still feeds. Three of
//! the four partitions here never receive a record: once they have been quiet for the idle
//! timeout with nothing to read, they must stop holding the clock back.

use std::time::{Duration, Instant};

use faultline_integration_tests::anomaly::read_anomalies;
use faultline_integration_tests::incident::{Update, read_updates};
use faultline_integration_tests::series::{Rng, midnight_days_ago, sample_json};
use faultline_integration_tests::{
    Anomaly, Broker, Engine, EngineConfig, Producer, cascade, faultline_exe, read_all, unique, wait,
};

/// The idle timeout the engine runs with.
const IDLE: Duration = Duration::from_secs(2);
/// Room for the engine to process what was produced and publish (two shared cores, a debug
/// build): the bound below is the idle timeout plus this.
const SLACK: Duration = Duration::from_secs(30);
/// Partitions of the metrics topic.
const PARTITIONS: i32 = 4;

fn updates(broker: &Broker, topic: &str) -> Vec<Update> {
    read_updates(broker, topic, Duration::from_secs(30))
}

#[test]
fn incidents_are_published_when_producers_write_to_one_partition_of_four() {
    let broker = Broker::start(1);
    let topic = unique("it-metrics");
    broker.create_topic(&topic, PARTITIONS);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = EngineConfig::new(&broker, dir.path(), &topic);
    cascade::configure(&mut config);
    config.idle_timeout = format!("{}s", IDLE.as_secs());
    for t in [
        &config.anomalies_topic,
        &config.dead_letter_topic,
        &config.incidents_topic,
    ] {
        broker.create_topic(t, 1);
    }
    let file = config.write(&dir.path().join("faultline.yaml"));
    let mut engine = Engine::start(faultline_exe!(), &file);
    engine.wait_ready();

    // The whole shop, every series to partition 0 (`send_fleet` puts series i on partition
    // i % 1). Its event time runs a learning day and nine hours of faults and recoveries.
    let fleet = cascade::fleet(7, midnight_days_ago(3));
    let mut producer = Producer::new(&broker);
    producer.send_fleet(&topic, 1, &fleet, 0..cascade::POINTS, 10);
    producer.flush();
    let produced = Instant::now();

    // Every fault's incident is published and resolves (the stream ends long after the last
    // fault), with no record on partitions 1 to 3.
    let roots = ["payments-db", "catalog-db", "cart"];
    let done = wait::poll(IDLE + SLACK, || {
        let u = updates(&broker, &config.incidents_topic);
        roots
            .iter()
            .all(|root| {
                u.iter()
                    .any(|u| u.status == "resolved" && u.entities.iter().any(|e| e == root))
            })
            .then_some(u)
    });
    let Some(published) = done else {
        panic!(
            "not every fault's incident was published and resolved within {:?} of the last record; on the topic: {:#?}\n{}",
            IDLE + SLACK,
            updates(&broker, &config.incidents_topic)
                .iter()
                .map(|u| (&u.title, &u.transition))
                .collect::<Vec<_>>(),
            engine.diagnostics()
        )
    };
    eprintln!(
        "{} incident updates published {:.1}s after the last record",
        published.len(),
        produced.elapsed().as_secs_f64()
    );
    let end = fleet.ts(cascade::POINTS - 1);
    let clock = published.iter().map(|u| u.updated_at).max().unwrap_or(0);
    assert!(
        clock <= end + 60_000,
        "no update is dated after the data ({clock} > {end})"
    );

    // A late record on idle partition 2: two catalog series whose event time ends five
    // minutes before the clock, one with a spike three hours back, one with a spike five
    // minutes back. It is accepted (both spikes are anomalies); the clock does not go back, so
    // the old spike is too late to open an incident (counted, not grouped) while the recent
    // one, within the quiet period, opens one, published without any newer record.
    let late = |m: &faultline_integration_tests::Metrics| {
        m.get("faultline_correlator_ignored_total", &[("reason", "late")])
            .unwrap_or(0.0)
    };
    let late_before = late(&engine.metrics());
    const POINTS: usize = 600;
    let first = end - (POINTS as i64 + 4) * cascade::STEP_MS;
    let (old, recent) = (POINTS - 180, POINTS - 1);
    let mut rng = Rng::new(11);
    let mut payload = String::new();
    for (host, spike_at) in [("old", old), ("recent", recent)] {
        let labels = format!(r#"{{"service":"catalog","host":"{host}"}}"#);
        for k in 0..POINTS {
            let spike = if k == spike_at { 60.0 } else { 0.0 };
            let ts = first + k as i64 * cascade::STEP_MS;
            let value = 100.0 + 3.0 * rng.normal() + spike;
            payload.push_str(&sample_json("late_ms", &labels, ts, value));
            payload.push('\n');
        }
    }
    producer.send(
        &topic,
        2,
        Some(b"late_ms{catalog}"),
        payload.as_bytes(),
        first,
    );
    producer.flush();
    let at = |k: usize| first + k as i64 * cascade::STEP_MS;
    let anomalies = wait::poll(SLACK, || {
        let a: Vec<Anomaly> = read_anomalies(&broker, &config.anomalies_topic, SLACK)
            .into_iter()
            .filter(|a| a.series_name == "late_ms")
            .collect();
        let both = [old, recent]
            .iter()
            .all(|&k| a.iter().any(|a| a.at_ms == at(k) && a.direction == "up"));
        both.then_some(a)
    });
    assert!(
        anomalies.is_some(),
        "both late spikes ({}, {}) are detected and published; late_ms anomalies: {:?}\n{}",
        at(old),
        at(recent),
        read_anomalies(&broker, &config.anomalies_topic, SLACK)
            .into_iter()
            .filter(|a| a.series_name == "late_ms")
            .map(|a| (a.at_ms, a.direction, a.value))
            .collect::<Vec<_>>(),
        engine.diagnostics()
    );
    assert!(
        read_all(&broker, &config.dead_letter_topic, SLACK).is_empty(),
        "nothing is dead-lettered"
    );
    engine.wait_for_metrics("the old spike is counted as late", SLACK, |m| {
        late(m) > late_before
    });
    let late_incident = wait::poll(SLACK, || {
        updates(&broker, &config.incidents_topic)
            .into_iter()
            .find(|u| u.transition == "opened" && u.raw.contains(&format!("\"at\":{}", at(recent))))
    });
    let Some(late_incident) = late_incident else {
        panic!(
            "the recent late spike opens an incident of its own\n{}",
            engine.diagnostics()
        )
    };
    assert!(late_incident.entities.iter().any(|e| e == "catalog"));
    engine.terminate();
}
