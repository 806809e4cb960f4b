//! Throughput of the engine's hot path, in samples per second on one core.
//!
//! 1. **Pipeline**: Kafka record payloads (built before timing) through decode, routing, the
//!    series table and the default ensemble, into a sink that drops the anomalies. Native JSON
//!    with 100 samples per record (how Telegraf, the OTel Collector and batching producers
//!    write), native JSON with one sample per record, and Influx line protocol with 100 lines
//!    per record. The series are warmed up first, so the numbers are the steady state.
//! 2. **Kafka consumer**: the same records produced to a broker, then consumed by an rdkafka
//!    consumer alone, and by the consumer driving the pipeline. The broker is librdkafka's mock
//!    cluster unless `FAULTLINE_BENCH_BROKERS` names a real one; the mock cluster is itself the
//!    bottleneck (tens of thousands of records/s), so quote real-broker numbers for the consumer.
//!
//! `cargo bench -p faultline-throughput --bench throughput` (add `-- --quick` for a short run,
//! `-- --kafka-only` for the Kafka part alone).
//! Each figure is the median of several runs; the process is single-threaded in the pipeline,
//! so samples/s is per core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_benches::XorShift;
use faultline_config::Config;
use faultline_decode::{Format, Kind};
use faultline_engine::pipeline::{InputTopic, Output, Pipeline, Record, Sink};
use faultline_engine::series::PartitionId;
use faultline_engine::store::{Seq, Store};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// Drops outputs (anomalies are rare; their publishing is not what is measured).
#[derive(Debug, Default)]
struct NullSink {
    outputs: usize,
}

impl Sink for NullSink {
    fn watch(&mut self, _: PartitionId, _: &str, _: i32, _: Option<Seq>) {}
    fn unwatch(&mut self, _: PartitionId) {}
    fn publish(&mut self, _: PartitionId, _: Seq, _: Output<'_>) {
        self.outputs += 1;
    }
    fn flush(&mut self, _: Duration) -> bool {
        true
    }
    fn retry(&mut self) {}
}

const SERIES: usize = 10_000;
const T0: i64 = 1_700_000_000_000;
/// Scrapes fed before timing: past every member's warm-up and the calibrators' youth, so the
/// steady state is measured (~0.08% of samples flagged). `FAULTLINE_BENCH_WARMUP=100` measures
/// the stressed correlator instead: the young calibrators still flag ~0.9% of samples, and
/// ~50 incidents of 200 members change every scrape.
fn warmup_steps() -> usize {
    std::env::var("FAULTLINE_BENCH_WARMUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// One scrape of every series at step `step`, as records of `per` samples.
fn native_records(step: usize, per: usize, rng: &mut XorShift) -> Vec<Vec<u8>> {
    let ts = T0 + step as i64 * 60_000;
    let lines: Vec<String> = (0..SERIES)
        .map(|s| {
            let v = 100.0 + (s % 17) as f64 + rng.next_f64() * 5.0;
            format!(
                r#"{{"name":"http_request_duration_seconds","labels":{{"service":"svc{}","pod":"pod-{s}","region":"eu-west-1"}},"ts":{ts},"value":{v:.4}}}"#,
                s % 50
            )
        })
        .collect();
    lines
        .chunks(per)
        .map(|c| c.join("\n").into_bytes())
        .collect()
}

fn influx_records(step: usize, per: usize, rng: &mut XorShift) -> Vec<Vec<u8>> {
    let ts = (T0 + step as i64 * 60_000) * 1_000_000;
    let lines: Vec<String> = (0..SERIES)
        .map(|s| {
            let v = 100.0 + (s % 17) as f64 + rng.next_f64() * 5.0;
            format!(
                "http_request,service=svc{},pod=pod-{s},region=eu-west-1 duration_seconds={v:.4} {ts}",
                s % 50
            )
        })
        .collect();
    lines
        .chunks(per)
        .map(|c| c.join("\n").into_bytes())
        .collect()
}

fn pipeline(format: Format, dir: &std::path::Path) -> Pipeline<NullSink> {
    let store = Arc::new(Store::open(dir).expect("state store"));
    let topics = vec![InputTopic::new("metrics", Kind::Metrics, format)];
    let mut p = Pipeline::new(
        Arc::new(Config::default()),
        topics,
        store,
        NullSink::default(),
    );
    p.assign(
        PartitionId {
            topic: 0,
            partition: 0,
        },
        0,
    )
    .expect("assign");
    p
}

fn feed(p: &mut Pipeline<NullSink>, offset: &mut i64, payload: &[u8]) -> usize {
    *offset += 1;
    p.process(Record {
        pid: PartitionId {
            topic: 0,
            partition: 0,
        },
        offset: *offset,
        key: None,
        payload: Some(payload),
        timestamp: None,
        received: Instant::now(),
    })
    .samples
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Samples/s through the pipeline: warm-up steps first, then `runs` timed steps.
fn bench_pipeline(name: &str, format: Format, per: usize, runs: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = pipeline(format, dir.path());
    let mut rng = XorShift::new(7);
    let build = |step: usize, rng: &mut XorShift| match format {
        Format::Influx => influx_records(step, per, rng),
        _ => native_records(step, per, rng),
    };
    let mut offset = 0;
    // Warm up past the detectors' warm-up so the steady state is measured.
    for step in 0..warmup_steps() {
        for r in build(step, &mut rng) {
            feed(&mut p, &mut offset, &r);
        }
    }
    let mut rates = Vec::new();
    let anomalies_before = p.sink_mut().outputs;
    for run in 0..runs {
        let batch = build(warmup_steps() + run, &mut rng);
        let bytes: usize = batch.iter().map(Vec::len).sum();
        let started = Instant::now();
        let mut samples = 0;
        for r in &batch {
            samples += feed(&mut p, &mut offset, r);
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(samples, SERIES, "every sample decoded");
        rates.push(samples as f64 / secs);
        if run == 0 {
            println!(
                "  {name}: {} records of {} bytes avg",
                batch.len(),
                bytes / batch.len()
            );
        }
    }
    let anomalies = p.sink_mut().outputs - anomalies_before;
    println!(
        "pipeline/{name}: {:.0} samples/s per core (median of {runs} runs of {SERIES} samples; {} series live; {:.2}% anomalous; {} incidents open)",
        median(rates),
        p.table().len(),
        100.0 * anomalies as f64 / (runs * SERIES) as f64,
        p.correlation().correlator().open_incidents()
    );
}

fn brokers() -> (
    Option<rdkafka::mocking::MockCluster<'static, DefaultProducerContext>>,
    String,
) {
    match std::env::var("FAULTLINE_BENCH_BROKERS") {
        Ok(b) => (None, b),
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
            let b = mock.bootstrap_servers();
            (Some(mock), b)
        }
    }
}

/// Partitions of the benchmark topic. More than one also keeps each partition of the mock
/// cluster under ~5 MB, past which its fetches were seen to stall here.
const PARTITIONS: i32 = 4;

/// Produces `records`, then times a consumer reading them alone and driving the pipeline.
fn bench_kafka(name: &str, records: &[Vec<u8>], samples_per_record: usize) {
    let (mock, bootstrap) = brokers();
    let topic = format!("bench-{name}-{}", std::process::id());
    if let Some(m) = &mock {
        m.create_topic(&topic, PARTITIONS, 1).expect("create topic");
    }
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    for (i, r) in records.iter().enumerate() {
        let mut rec = BaseRecord::<(), [u8]>::to(&topic)
            .partition(i as i32 % PARTITIONS)
            .payload(r.as_slice());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("consumer");
    let high: i64 = (0..PARTITIONS)
        .map(|p| {
            probe
                .fetch_watermarks(&topic, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .sum();
    assert_eq!(
        high as usize,
        records.len(),
        "the broker holds every produced record"
    );

    for with_pipeline in [false, true] {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", format!("{topic}-{with_pipeline}"))
            .set("enable.auto.commit", "false")
            .set("fetch.message.max.bytes", "8388608")
            .create()
            .expect("consumer");
        // Assigned, not subscribed: the group protocol's join delay is not what is measured.
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&tpl).expect("assign");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = pipeline(Format::NativeJson, dir.path());
        let mut offset = 0;
        if with_pipeline {
            // Warm the series up directly, so the timed part is the steady state.
            let mut rng = XorShift::new(5);
            for step in 0..warmup_steps() {
                for r in native_records(step, samples_per_record, &mut rng) {
                    feed(&mut p, &mut offset, &r);
                }
            }
        }
        let mut seen = 0;
        let mut started = None;
        while seen < records.len() {
            match consumer.poll(Duration::from_secs(30)) {
                Some(Ok(m)) => {
                    started.get_or_insert_with(Instant::now);
                    seen += 1;
                    if with_pipeline {
                        feed(&mut p, &mut offset, m.payload().unwrap_or_default());
                    }
                }
                Some(Err(e)) => panic!("consume error: {e}"),
                None => panic!("consumer stalled after {seen} records"),
            }
        }
        let secs = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let what = if with_pipeline {
            "consumer+pipeline"
        } else {
            "consumer"
        };
        println!(
            "kafka/{name}/{what}: {:.0} records/s, {:.0} samples/s ({} broker)",
            seen as f64 / secs,
            (seen * samples_per_record) as f64 / secs,
            if mock.is_some() { "mock" } else { "external" },
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let kafka_only = std::env::args().any(|a| a == "--kafka-only");
    let runs = if quick { 3 } else { 9 };
    println!("faultline throughput ({SERIES} series, default ensemble)");
    if !kafka_only {
        bench_pipeline("native_json_batched_100", Format::NativeJson, 100, runs);
        bench_pipeline("native_json_single", Format::NativeJson, 1, runs);
        bench_pipeline("influx_batched_100", Format::Influx, 100, runs);
    }

    // Steps after the warm-up, so the pipeline sees every series' next points.
    let steps = if quick { 2 } else { 5 };
    let mut rng = XorShift::new(11);
    for (name, per) in [("native_json_batched_100", 100), ("native_json_single", 1)] {
        let records: Vec<Vec<u8>> = (warmup_steps()..warmup_steps() + steps)
            .flat_map(|s| native_records(s, per, &mut rng))
            .collect();
        bench_kafka(name, &records, per);
    }
}
