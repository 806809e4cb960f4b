//! Bounded memory: a burst of series far past the cap evicts instead of growing.

use faultline_integration_tests::engine::rss_kib;
use faultline_integration_tests::series::{json_string, midnight_days_ago, sample_json};
use faultline_integration_tests::wait::DEFAULT_TIMEOUT;
use faultline_integration_tests::{
    Broker, Engine, EngineConfig, Metrics, Producer, faultline_exe, unique,
};

const MAX_SERIES: u64 = 1000;
const MAX_BYTES: u64 = 8 << 20;
const SERIES: usize = 10 * MAX_SERIES as usize;
const POINTS_PER_SERIES: usize = 3;
const SAMPLES_PER_RECORD: usize = 200;
const PARTITIONS: i32 = 2;
/// Ceiling on the engine's resident memory at any scrape during the burst (observed ~58 MiB
/// for the debug build): the runtime, librdkafka's fetch queues and RocksDB's memtable, plus
/// at most the 8 MiB series cap.
const MAX_RSS_KIB: u64 = 128 * 1024;
/// Ceiling on RSS growth from the idle engine to the end of the burst (observed ~22 MiB).
/// Keeping all 10 000 series would hold ~30 MB of detector state on top of that, so this
/// bound catches an engine whose accounting evicts series it does not free.
const MAX_RSS_GROWTH_KIB: u64 = 40 * 1024;

#[test]
fn burst_of_ten_times_the_series_cap_stays_within_the_memory_cap() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique("it-metrics");
    broker.create_topic(&topic, PARTITIONS);
    let mut config = EngineConfig::new(&broker, dir.path(), &topic);
    config.max_series = MAX_SERIES;
    config.max_bytes = "8MiB".into();
    broker.create_topic(&config.anomalies_topic, 1);
    broker.create_topic(&config.dead_letter_topic, 1);

    let mut engine = Engine::start(
        faultline_exe!(),
        &config.write(&dir.path().join("faultline.yaml")),
    );
    engine.wait_ready();
    let idle_rss = engine.rss_kib().expect("VmRSS of the engine");

    // Every series gets a point per round; a record holds consecutive series of one round.
    let base = midnight_days_ago(1);
    let mut producer = Producer::new(&broker);
    let mut samples = 0;
    for round in 0..POINTS_PER_SERIES {
        let ts = base + round as i64 * 60_000;
        for (r, first) in (0..SERIES).step_by(SAMPLES_PER_RECORD).enumerate() {
            let body: Vec<String> = (first..(first + SAMPLES_PER_RECORD).min(SERIES))
                .map(|i| {
                    let labels = format!(
                        r#"{{"service":{},"host":{},"pod":{}}}"#,
                        json_string(&format!("svc-{}", i % 50)),
                        json_string(&format!("h{}", i % 200)),
                        json_string(&format!("pod-{i}")),
                    );
                    sample_json("burst_metric", &labels, ts, (i % 97) as f64 + round as f64)
                })
                .collect();
            samples += body.len();
            producer.send(
                &topic,
                r as i32 % PARTITIONS,
                None,
                body.join("\n").as_bytes(),
                ts,
            );
        }
    }
    producer.flush();
    let ends = broker.end_offsets(&topic);

    // Judge every scrape on the way, not just the last: the caps hold throughout.
    let pid = engine.pid();
    let (mut peak_series, mut peak_bytes, mut peak_rss) = (0f64, 0f64, idle_rss);
    let mut over_cap = None;
    let mut observe = |m: &Metrics| {
        let (series, bytes) = (m.sum("faultline_series"), m.sum("faultline_series_bytes"));
        peak_series = peak_series.max(series);
        peak_bytes = peak_bytes.max(bytes);
        if (series > MAX_SERIES as f64 || bytes > MAX_BYTES as f64) && over_cap.is_none() {
            over_cap = Some((series, bytes));
        }
        peak_rss = peak_rss.max(rss_kib(pid).unwrap_or(0));
    };
    let processed = engine.wait_for_metrics("the burst is processed", DEFAULT_TIMEOUT, |m| {
        observe(m);
        ends.iter().all(|&(p, end)| {
            let p = p.to_string();
            m.get(
                "faultline_partition_next_offset",
                &[("topic", &topic), ("partition", &p)],
            )
            .is_some_and(|o| o >= end as f64)
        })
    });
    // The checkpoint after the burst serialises every live series: watch memory through it.
    let checkpoints = processed.sum("faultline_checkpoints_total");
    let after = engine.wait_for_metrics("a checkpoint after the burst", DEFAULT_TIMEOUT, |m| {
        observe(m);
        m.sum("faultline_checkpoints_total") > checkpoints
    });
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());

    println!(
        "{samples} samples of {SERIES} series: peak live series {peak_series}, peak series \
         bytes {peak_bytes}, evicted {}, RSS idle {idle_rss} KiB, peak {peak_rss} KiB",
        after.sum("faultline_series_evicted_total")
    );
    assert_eq!(
        over_cap, None,
        "a scrape showed (series, bytes) over the caps"
    );
    let series = after.sum("faultline_series");
    let bytes = after.sum("faultline_series_bytes");
    assert!(series <= MAX_SERIES as f64, "{series} live series");
    assert!(
        series > 0.0,
        "no live series at all: nothing was processed?"
    );
    assert!(bytes <= MAX_BYTES as f64, "{bytes} bytes of series state");
    let evicted = after.sum("faultline_series_evicted_total");
    assert!(
        evicted >= (SERIES as u64 - MAX_SERIES) as f64,
        "only {evicted} series evicted\n{}",
        after.render("faultline_series")
    );
    assert!(
        peak_rss <= MAX_RSS_KIB,
        "peak RSS {peak_rss} KiB above {MAX_RSS_KIB} KiB"
    );
    assert!(
        peak_rss - idle_rss <= MAX_RSS_GROWTH_KIB,
        "RSS grew {} KiB (idle {idle_rss} KiB, peak {peak_rss} KiB)",
        peak_rss - idle_rss
    );
}
