//! Crash safety: a SIGKILL mid-stream followed by a restart publishes exactly the anomalies of
//! an uninterrupted run (duplicates allowed only as byte-identical repeats).

use std::collections::BTreeMap;
use std::time::Duration;

use faultline_integration_tests::series::{
    FLEET_POINTS, FLEET_STEP_MS, Fleet, midnight_days_ago, mixed_fleet,
};
use faultline_integration_tests::wait::DEFAULT_TIMEOUT;
use faultline_integration_tests::{
    Anomaly, Broker, Engine, EngineConfig, Metrics, Producer, faultline_exe, read_all, unique,
};

const SEED: u64 = 77;
const PARTITIONS: i32 = 3;
/// Samples per record.
const BATCH: usize = 60;
/// Produced before the first engine starts: two days and two hours, so the seasonal flip
/// (day 3, 06:00) is still ahead and the learning-day alarms are behind.
const FIRST: usize = 2 * 1440 + 120;
/// Produced while the first engine runs, which is killed while processing it: it holds the
/// seasonal flip (06:00) and the spike (08:00).
const SECOND: usize = 2 * 1440 + 600;

fn next_offsets(m: &Metrics, topic: &str) -> BTreeMap<i32, f64> {
    (0..PARTITIONS)
        .filter_map(|p| {
            let ps = p.to_string();
            m.get(
                "faultline_partition_next_offset",
                &[("topic", topic), ("partition", &ps)],
            )
            .map(|o| (p, o))
        })
        .collect()
}

/// Every anomaly published on `topic`, by id.
fn anomalies_by_id(broker: &Broker, topic: &str) -> BTreeMap<String, Vec<Anomaly>> {
    let mut by_id: BTreeMap<String, Vec<Anomaly>> = BTreeMap::new();
    for r in read_all(broker, topic, Duration::from_secs(60)) {
        let a = Anomaly::parse(&r).unwrap_or_else(|e| panic!("{e}"));
        by_id.entry(a.id.clone()).or_default().push(a);
    }
    by_id
}

#[test]
fn sigkill_mid_stream_loses_no_anomaly_and_changes_none() {
    let broker = Broker::start(3);
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique("it-metrics");
    broker.create_topic(&topic, PARTITIONS);
    let fleet = Fleet::generate(
        mixed_fleet(SEED),
        FLEET_POINTS,
        midnight_days_ago(4),
        FLEET_STEP_MS,
    );
    let crash_dir = dir.path().join("crash");
    let reference_dir = dir.path().join("reference");
    std::fs::create_dir_all(&crash_dir).expect("mkdir");
    std::fs::create_dir_all(&reference_dir).expect("mkdir");
    let crash = EngineConfig::new(&broker, &crash_dir, &topic);
    let reference = EngineConfig::new(&broker, &reference_dir, &topic);
    for c in [&crash, &reference] {
        broker.create_topic(&c.anomalies_topic, 1);
        broker.create_topic(&c.dead_letter_topic, 1);
    }
    let crash_file = crash.write(&crash_dir.join("faultline.yaml"));
    let mut producer = Producer::new(&broker);
    let mut records = producer.send_fleet(&topic, PARTITIONS, &fleet, 0..FIRST, BATCH);
    producer.flush();
    let first_ends = broker.end_offsets(&topic);

    // 1. Process the first part, with anomalies out and a checkpoint covering all of it.
    let mut engine = Engine::start(faultline_exe!(), &crash_file);
    engine.wait_ready();
    let m = engine.wait_processed(&topic, &first_ends);
    let checkpoints = m.sum("faultline_checkpoints_total");
    engine.wait_for_metrics(
        "a checkpoint after the first part, and an anomaly",
        DEFAULT_TIMEOUT,
        |m| {
            m.sum("faultline_checkpoints_total") > checkpoints
                && m.sum("faultline_anomalies_total") >= 1.0
        },
    );

    // 2. Produce the second part and kill the engine as soon as it is working on it.
    records += producer.send_fleet(&topic, PARTITIONS, &fleet, FIRST..SECOND, BATCH);
    producer.flush();
    let first_end: BTreeMap<i32, f64> = first_ends.iter().map(|&(p, o)| (p, o as f64)).collect();
    let at_kill = engine.wait_for_metrics("processing the second part", DEFAULT_TIMEOUT, |m| {
        next_offsets(m, &topic)
            .iter()
            .any(|(p, o)| *o > first_end[p])
    });
    engine.kill();
    let killed_at = next_offsets(&at_kill, &topic);
    let published_before_kill = at_kill.sum("faultline_anomalies_total");

    // 3. The rest arrives while the engine is down; restart on the same state.
    records += producer.send_fleet(&topic, PARTITIONS, &fleet, SECOND..FLEET_POINTS, BATCH);
    producer.flush();
    let ends = broker.end_offsets(&topic);
    let mut engine = Engine::start(faultline_exe!(), &crash_file);
    engine.wait_ready();
    let after_restart = engine.wait_processed(&topic, &ends);
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());
    let replayed = after_restart.sum_where("faultline_records_total", &[("topic", &topic)]);
    assert!(
        replayed < records as f64,
        "the restarted engine read {replayed} of {records} records: it did not resume from \
         its checkpoint\n{}",
        engine.diagnostics()
    );

    // 4. The reference: an uninterrupted run over the same input.
    let mut engine = Engine::start(
        faultline_exe!(),
        &reference.write(&reference_dir.join("faultline.yaml")),
    );
    engine.wait_ready();
    engine.wait_processed(&topic, &ends);
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());

    let expected = anomalies_by_id(&broker, &reference.anomalies_topic);
    let got = anomalies_by_id(&broker, &crash.anomalies_topic);
    assert!(
        expected.len() >= 4,
        "the reference run should catch at least the four faults: {:?}",
        expected.keys()
    );
    for (id, copies) in &expected {
        assert_eq!(copies.len(), 1, "uninterrupted run published {id} twice");
    }
    let missing: Vec<&String> = expected
        .keys()
        .filter(|id| !got.contains_key(*id))
        .collect();
    let extra: Vec<&str> = got
        .iter()
        .filter(|(id, _)| !expected.contains_key(*id))
        .map(|(_, c)| c[0].raw.as_str())
        .collect();
    assert!(missing.is_empty(), "lost after the crash: {missing:?}");
    assert!(
        extra.is_empty(),
        "published only after the crash: {extra:#?}"
    );
    let mut duplicates = 0;
    for (id, copies) in &got {
        let want = &expected[id][0];
        for a in copies {
            assert_eq!(a.raw, want.raw, "anomaly {id} differs from the reference");
            assert_eq!(
                a.key, want.key,
                "key of anomaly {id} differs from the reference"
            );
        }
        duplicates += copies.len() - 1;
    }
    println!(
        "records {records}; killed with next offsets {killed_at:?} (first part ended at \
         {first_end:?}, {published_before_kill} anomalies published); restart read {replayed} \
         records; {} anomalies, {duplicates} byte-identical duplicates after replay, \
         {} suppressed as already delivered",
        expected.len(),
        after_restart.sum("faultline_replay_suppressed_total")
    );
}
