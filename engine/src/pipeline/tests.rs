//! The pipeline over real RocksDB with an in-memory sink: replay after a crash, dead letters,
//! timestamp skew.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_config::Config;
use faultline_decode as decode;

use super::*;
use crate::store::Store;

/// An output as recorded: destination, payload, headers.
type Out = (OutputKind, Vec<u8>, Vec<(&'static str, String)>);

/// Records outputs; acknowledges each at once (writing the watermark like the Kafka sink).
#[derive(Debug, Default)]
struct MemorySink {
    store: Option<Arc<Store>>,
    watched: HashMap<PartitionId, (String, i32, crate::delivery::Track)>,
    out: Vec<Out>,
}

impl Sink for MemorySink {
    fn watch(&mut self, pid: PartitionId, topic: &str, partition: i32, delivered: Option<Seq>) {
        self.watched.insert(
            pid,
            (
                topic.into(),
                partition,
                crate::delivery::Track::new(delivered),
            ),
        );
    }
    fn unwatch(&mut self, pid: PartitionId) {
        self.watched.remove(&pid);
    }
    fn publish(&mut self, pid: PartitionId, seq: Seq, output: Output<'_>) {
        self.out.push((
            output.kind,
            output.payload.to_vec(),
            output.headers.to_vec(),
        ));
        if let (Some(store), Some((topic, partition, track))) =
            (&self.store, self.watched.get_mut(&pid))
        {
            track.sent(seq);
            if let Some(w) = track.acked(seq) {
                store.set_delivered(topic, *partition, w).unwrap();
            }
        }
    }
    fn flush(&mut self, _: Duration) -> bool {
        true
    }
    fn retry(&mut self) {}
}

fn pipeline(config: Config, dir: &std::path::Path) -> Pipeline<MemorySink> {
    let store = Arc::new(Store::open(dir).unwrap());
    let sink = MemorySink {
        store: Some(store.clone()),
        ..MemorySink::default()
    };
    let topics = vec![InputTopic::new(
        "metrics",
        decode::Kind::Metrics,
        decode::Format::NativeJson,
    )];
    Pipeline::new(Arc::new(config), topics, store, sink)
}

fn pid(partition: i32) -> PartitionId {
    PartitionId {
        topic: 0,
        partition,
    }
}

/// NDJSON records of `per` points each for one series per partition, with a spike.
fn records(partition: i32, points: usize, per: usize, spike_at: usize) -> Vec<Vec<u8>> {
    let mut seed = 0x9e37_79b9_u64 + partition as u64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 1000) as f64 / 1000.0 - 0.5
    };
    let lines: Vec<String> = (0..points)
        .map(|i| {
            let v = 100.0 + noise() * 4.0 + if i == spike_at { 80.0 } else { 0.0 };
            format!(
                r#"{{"name":"cpu","labels":{{"service":"svc{partition}"}},"ts":{},"value":{v}}}"#,
                1_700_000_000_000i64 + i as i64 * 60_000
            )
        })
        .collect();
    lines
        .chunks(per)
        .map(|c| c.join("\n").into_bytes())
        .collect()
}

fn feed(p: &mut Pipeline<MemorySink>, partition: i32, offset: usize, payload: &[u8]) -> Processed {
    p.process(Record {
        pid: pid(partition),
        offset: offset as i64,
        key: None,
        payload: Some(payload),
        timestamp: None,
        received: Instant::now(),
    })
}

/// Feeds records `rows` of every partition, interleaved record by record.
fn interleave(p: &mut Pipeline<MemorySink>, input: &[Vec<Vec<u8>>], rows: std::ops::Range<usize>) {
    for r in rows {
        for (partition, records) in input.iter().enumerate() {
            feed(p, partition as i32, r, &records[r]);
        }
    }
}

fn anomalies(p: &Pipeline<MemorySink>) -> Vec<String> {
    p.sink
        .out
        .iter()
        .filter(|o| o.0 == OutputKind::Anomaly)
        .map(|o| String::from_utf8(o.1.clone()).unwrap())
        .collect()
}

/// The default configuration, reporting at once: these tests' spikes are single points, which
/// the default `min_duration` (1m) holds back.
fn instant() -> Config {
    let mut c = Config::default();
    c.defaults.compiled.min_duration = Duration::ZERO;
    c
}

#[test]
fn replay_after_a_crash_rederives_identical_anomalies_without_duplicates() {
    let input: Vec<Vec<Vec<u8>>> = (0..2).map(|p| records(p, 3000, 20, 2000)).collect();
    let n = input[0].len();

    let dir_a = tempfile::tempdir().unwrap();
    let mut a = pipeline(instant(), dir_a.path());
    a.assign(pid(0), 0).unwrap();
    a.assign(pid(1), 1).unwrap();
    interleave(&mut a, &input, 0..n);
    let reference = anomalies(&a);
    assert!(
        reference
            .iter()
            .any(|j| j.contains("\"at_ms\":1700120000000")),
        "the spike at point 2000 is found: {reference:?}"
    );

    let dir_b = tempfile::tempdir().unwrap();
    let mut before_crash = {
        let mut b = pipeline(instant(), dir_b.path());
        assert_eq!(b.assign(pid(0), 0).unwrap(), None);
        b.assign(pid(1), 1).unwrap();
        interleave(&mut b, &input, 0..80);
        assert!(b.checkpoint().unwrap());
        // Past the spike (record 100), then the process dies without checkpointing.
        interleave(&mut b, &input, 80..120);
        anomalies(&b)
    };
    let mut b = pipeline(instant(), dir_b.path());
    for p in 0..2 {
        assert_eq!(
            b.assign(pid(p), p).unwrap(),
            Some(80),
            "resumes at the checkpoint"
        );
    }
    interleave(&mut b, &input, 80..n);
    before_crash.extend(anomalies(&b));
    assert_eq!(before_crash, reference);
}

#[test]
fn poison_records_are_dead_lettered_and_the_partition_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(Config::default(), dir.path());
    p.assign(pid(0), 0).unwrap();
    let good = br#"{"name":"m","ts":1700000000000,"value":1}"#;
    let partial = br#"[{"name":"m","ts":1700000060000,"value":2},{"name":"m","ts":1700000120000,"value":"x"}]"#;
    assert_eq!(feed(&mut p, 0, 0, good).samples, 1);
    let garbage = feed(&mut p, 0, 1, b"\x00\xffnot json");
    assert!(garbage.dead_lettered);
    let half = feed(&mut p, 0, 2, partial);
    assert!(half.dead_lettered);
    assert_eq!(half.samples, 1, "the valid item of the batch is kept");
    assert_eq!(
        feed(&mut p, 0, 3, good).samples,
        1,
        "the partition keeps flowing"
    );
    assert_eq!(p.positions(), vec![(pid(0), 4)]);
    let dlq: Vec<_> = p
        .sink
        .out
        .iter()
        .filter(|o| o.0 == OutputKind::DeadLetter)
        .collect();
    assert_eq!(dlq.len(), 2);
    assert_eq!(dlq[0].1, b"\x00\xffnot json");
    let header = |o: &Out, k: &str| o.2.iter().find(|h| h.0 == k).map(|h| h.1.clone()).unwrap();
    assert_eq!(header(dlq[0], "faultline-source-offset"), "1");
    assert_eq!(header(dlq[0], "faultline-reason"), "decode");
    assert!(
        header(dlq[1], "faultline-error").starts_with("item 1:"),
        "{:?}",
        dlq[1].2
    );
    assert_eq!(header(dlq[1], "faultline-reason"), "invalid_item");
}

#[test]
fn backfill_is_accepted_and_nonsense_timestamps_are_dead_lettered() {
    const DAY: i64 = 86_400_000;
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(Config::default(), dir.path());
    p.assign(pid(0), 0).unwrap();
    // Records sent today (2026-12-06) carrying samples of another time.
    let today = 1_796_515_200_000i64;
    let mut offset = 0;
    let mut send = |p: &mut Pipeline<MemorySink>, at: i64| {
        let payload = format!(r#"{{"name":"m","ts":{at},"value":1}}"#);
        offset += 1;
        p.process(Record {
            pid: pid(0),
            offset,
            key: None,
            payload: Some(payload.as_bytes()),
            timestamp: Some(today),
            received: Instant::now(),
        })
    };
    // Last month, and the README's example (2025-11-26), are backfill.
    for at in [today - 30 * DAY, 1_764_115_200_000, today + DAY / 2] {
        let r = send(&mut p, at);
        assert_eq!((r.samples, r.dead_lettered), (1, false), "ts {at}");
    }
    // Seconds read as milliseconds (1970), and microseconds (the far future).
    for (at, side) in [(today / 1000, "behind"), (today * 1000, "ahead of")] {
        let r = send(&mut p, at);
        assert_eq!((r.samples, r.dead_lettered), (0, true), "ts {at}");
        let (_, _, headers) = p.sink.out.last().unwrap();
        let header = |k: &str| headers.iter().find(|h| h.0 == k).unwrap().1.clone();
        assert_eq!(header("faultline-reason"), "timestamp_skew");
        assert!(header("faultline-error").contains(side), "{headers:?}");
    }
    let empty = p.process(Record {
        pid: pid(0),
        offset: 10,
        key: None,
        payload: None,
        timestamp: Some(today),
        received: Instant::now(),
    });
    assert!(empty.dead_lettered);
}

#[test]
fn records_before_the_resume_offset_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(Config::default(), dir.path());
    p.assign(pid(0), 0).unwrap();
    let payload = br#"{"name":"m","ts":1700000000000,"value":1}"#;
    assert_eq!(feed(&mut p, 0, 5, payload).samples, 1);
    assert_eq!(feed(&mut p, 0, 5, payload).samples, 0, "redelivered");
    assert_eq!(feed(&mut p, 0, 3, payload).samples, 0, "older");
}

type Updates = Arc<std::sync::Mutex<Vec<faultline_correlator::IncidentUpdate>>>;

/// A config whose services `svc0` → `svc1` are one call apart, notifying at once.
fn correlated_config() -> Config {
    let yaml = "topology:\n  edges:\n    - {from: svc0, to: svc1}\ncorrelator: {group_wait: 0s, group_interval: 1m, quiet_period: 10m}\ndefaults: {min_duration: 0s}\nrules:\n  - {name: cpu, match: {metric: cpu}, direction: up, severity: critical}\n";
    faultline_config::load_str("t.yaml", yaml).unwrap()
}

fn with_updates(mut p: Pipeline<MemorySink>) -> (Pipeline<MemorySink>, Updates) {
    let updates = Updates::default();
    p.set_incident_sink(Box::new(updates.clone()));
    (p, updates)
}

#[test]
fn anomalies_of_neighbouring_services_become_one_incident_that_a_replay_rederives() {
    let input: Vec<Vec<Vec<u8>>> = (0..2).map(|p| records(p, 3000, 20, 2000)).collect();
    let n = input[0].len();

    let dir_a = tempfile::tempdir().unwrap();
    let (mut a, reference) = with_updates(pipeline(correlated_config(), dir_a.path()));
    a.assign(pid(0), 0).unwrap();
    a.assign(pid(1), 1).unwrap();
    interleave(&mut a, &input, 0..n);
    let reference = reference.lock().unwrap().clone();
    let spike = reference
        .iter()
        .find(|u| u.opened_at == 1_700_120_000_000)
        .unwrap_or_else(|| panic!("an incident opens at the spike: {reference:#?}"));
    let revisions: Vec<_> = reference
        .iter()
        .filter(|u| u.incident_id == spike.incident_id)
        .collect();
    let last = revisions.last().unwrap();
    assert_eq!(
        last.entities,
        ["svc0", "svc1"],
        "both spikes in one incident"
    );
    assert_eq!(last.severity, faultline_correlator::Severity::Critical);
    assert!(
        revisions
            .iter()
            .enumerate()
            .all(|(i, u)| u.revision == i as u32 + 1),
        "revisions 1, 2, ...: {revisions:#?}"
    );
    assert!(
        revisions
            .iter()
            .any(|u| u.status == faultline_correlator::Status::Resolved),
        "it resolves once quiet"
    );

    // Crash after a checkpoint, past the spike; the replay re-derives the same updates.
    let dir_b = tempfile::tempdir().unwrap();
    let mut seen = {
        let (mut b, u) = with_updates(pipeline(correlated_config(), dir_b.path()));
        b.assign(pid(0), 0).unwrap();
        b.assign(pid(1), 1).unwrap();
        interleave(&mut b, &input, 0..99);
        assert!(b.checkpoint().unwrap());
        interleave(&mut b, &input, 99..110);
        u.lock().unwrap().clone()
    };
    let (mut b, u) = with_updates(pipeline(correlated_config(), dir_b.path()));
    b.assign(pid(0), 0).unwrap();
    b.assign(pid(1), 1).unwrap();
    interleave(&mut b, &input, 99..n);
    seen.extend(u.lock().unwrap().iter().cloned());
    // What an outbox keeps: the first of each idempotency key.
    let mut kept: Vec<faultline_correlator::IncidentUpdate> = Vec::new();
    for update in seen {
        match kept
            .iter()
            .find(|k| k.idempotency_key() == update.idempotency_key())
        {
            Some(k) => assert_eq!(k, &update, "a re-derived revision is identical"),
            None => kept.push(update),
        }
    }
    assert_eq!(kept, reference);
}

#[test]
fn topology_records_add_edges_and_bad_ones_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let topics = vec![InputTopic::topology("topology")];
    let mut p = Pipeline::new(
        Arc::new(Config::default()),
        topics,
        store,
        MemorySink::default(),
    );
    p.assign(pid(0), 0).unwrap();
    let rec = |offset, payload: &'static [u8]| Record {
        pid: pid(0),
        offset,
        key: None,
        payload: Some(payload),
        timestamp: Some(1_700_000_000_000),
        received: Instant::now(),
    };
    let ok = p.process(rec(
        0,
        br#"[{"from":"a","to":"b","ttl":"10m"},{"from":"b","to":"h1","kind":"runs_on"}]"#,
    ));
    assert!(!ok.dead_lettered);
    let t = p.correlation().correlator().topology();
    assert_eq!(t.distance("a", "h1", 2), Some(2));
    for bad in [
        &br#"{"from":"a"}"#[..],
        br#"{"from":"a","to":"a"}"#,
        br#"{"from":"a","to":"b","ttl":"soon"}"#,
        br#"{"from":"a","to":"b","colour":"red"}"#,
        b"not json",
    ]
    .into_iter()
    .enumerate()
    {
        let r = p.process(rec(bad.0 as i64 + 1, bad.1));
        assert!(r.dead_lettered, "{}", String::from_utf8_lossy(bad.1));
    }
    assert_eq!(p.sink.out.len(), 5);
    assert_eq!(p.positions(), vec![(pid(0), 6)]);
}

/// [`correlated_config`] over four partitions, with `ingest.idle_timeout` set to `idle`.
fn idle_pipeline(idle: Duration, dir: &std::path::Path) -> (Pipeline<MemorySink>, Updates) {
    let mut config = correlated_config();
    config.ingest.idle_timeout = idle;
    let (mut p, updates) = with_updates(pipeline(config, dir));
    for partition in 0..4 {
        p.assign(pid(partition), partition).unwrap();
    }
    (p, updates)
}

#[test]
fn partitions_that_never_receive_a_record_stop_holding_incidents_once_idle() {
    // Every record goes to partition 0; partitions 1..3 are assigned and stay empty.
    let input = records(0, 3000, 20, 2000);
    let spike_opened = |u: &Updates| {
        u.lock()
            .unwrap()
            .iter()
            .any(|u| u.opened_at == 1_700_120_000_000)
    };

    // Within the idle timeout the empty partitions may still hold anything: no incident.
    let dir = tempfile::tempdir().unwrap();
    let (mut held, updates) = idle_pipeline(Duration::from_secs(3600), dir.path());
    for (offset, r) in input.iter().enumerate() {
        feed(&mut held, 0, offset, r);
    }
    held.tick();
    assert!(updates.lock().unwrap().is_empty(), "the clock is held");
    // One record on each of the others releases it (what a user saw, and had to do).
    for partition in 1..4 {
        let last = format!(
            r#"{{"name":"cpu","labels":{{"service":"svc{partition}"}},"ts":{},"value":100}}"#,
            1_700_000_000_000i64 + 2999 * 60_000
        );
        feed(&mut held, partition, 0, last.as_bytes());
    }
    held.tick();
    assert!(spike_opened(&updates), "released by records everywhere");

    // Past the idle timeout they no longer hold it: the spike's incident goes out as
    // partition 0 alone moves event time.
    let dir = tempfile::tempdir().unwrap();
    let (mut idle, updates) = idle_pipeline(Duration::from_nanos(1), dir.path());
    for (offset, r) in input.iter().enumerate() {
        feed(&mut idle, 0, offset, r);
    }
    assert!(
        spike_opened(&updates),
        "not held by partitions with nothing to read"
    );

    // A late record on an idle partition is accepted: it rejoins, and its samples are
    // detected (the integration suite follows its anomalies into incidents).
    let late = &records(2, 20, 20, usize::MAX)[0];
    let r = feed(&mut idle, 2, 0, late);
    assert_eq!((r.samples, r.dead_lettered), (20, false));
}
