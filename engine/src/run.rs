//! `faultline run`: wires configuration, Kafka, the state store, the pipeline and HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use faultline_config::{Config, LogFormat, TopicFormat, TopicKind};
use faultline_decode as decode;
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tracing::info;

use crate::emit::KafkaSink;
use crate::notify::{Outbox, ReceiverConfig, ReceiverKind};
use crate::pipeline::{IncidentSink, InputTopic, Pipeline};
use crate::source::Source;
use crate::store::Store;
use crate::{http, telemetry};

/// Partitions of each topic the embedded broker creates.
const EMBEDDED_PARTITIONS: i32 = 4;

/// Command-line overrides of the configuration.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `kafka.brokers`.
    pub brokers: Option<String>,
    /// `state.dir`.
    pub data_dir: Option<PathBuf>,
    /// `http.listen`.
    pub http: Option<SocketAddr>,
}

/// Loads the configuration files (none: the defaults), applying `overrides`.
pub fn load_config(files: &[PathBuf], overrides: &Overrides) -> anyhow::Result<Config> {
    let mut config = if files.is_empty() {
        Config::default()
    } else {
        faultline_config::load_files(files)
            .map_err(|d| anyhow::anyhow!("invalid configuration:\n{d}"))?
    };
    if let Some(b) = &overrides.brokers {
        config.kafka.brokers = Some(b.clone());
    }
    if let Some(d) = &overrides.data_dir {
        config.state.dir = d.clone();
    }
    if let Some(h) = overrides.http {
        config.http.listen = h;
    }
    Ok(config)
}

fn kind(k: TopicKind) -> decode::Kind {
    match k {
        TopicKind::Metrics => decode::Kind::Metrics,
        TopicKind::Logs => decode::Kind::Logs,
        TopicKind::Events | TopicKind::Topology => decode::Kind::Events,
    }
}

fn format(f: TopicFormat) -> decode::Format {
    match f {
        TopicFormat::NativeJson => decode::Format::NativeJson,
        TopicFormat::OtlpJson => decode::Format::OtlpJson,
        TopicFormat::Influx => decode::Format::Influx,
    }
}

/// Starts librdkafka's mock cluster with the configured topics; returns it and its address.
pub(crate) fn embedded_broker(
    config: &Config,
) -> anyhow::Result<(MockCluster<'static, DefaultProducerContext>, String)> {
    let cluster = MockCluster::new(1).context("starting the embedded Kafka broker")?;
    let k = &config.kafka;
    let outputs = [
        (&k.anomalies_topic, 1),
        (&k.dead_letter_topic, 1),
        (&k.incidents_topic, 1),
    ];
    for (name, partitions) in k
        .topics
        .iter()
        .map(|t| (&t.name, EMBEDDED_PARTITIONS))
        .chain(outputs)
    {
        cluster
            .create_topic(name, partitions, 1)
            .with_context(|| format!("creating topic `{name}` on the embedded broker"))?;
    }
    let bootstrap = cluster.bootstrap_servers();
    Ok((cluster, bootstrap))
}

/// Where `faultline run` makes its embedded broker reachable (when the port is free).
const EMBEDDED_ADDRESS: &str = "127.0.0.1:9092";

/// Forwards connections to `listen` to the embedded broker at `target`, so clients can
/// bootstrap from Kafka's usual address (the mock cluster picks a new port each run). Only
/// bootstrap needs it: the broker's metadata then names its own address, which clients on
/// this machine reach directly. Threads, not tasks: a handful of client connections, and
/// the HTTP runtime is not started yet.
fn bootstrap_forwarder(listen: &str, target: &str) -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(listen)?;
    let target = target.to_owned();
    std::thread::Builder::new()
        .name("faultline-bootstrap".into())
        .spawn(move || {
            for inbound in listener.incoming().flatten() {
                let Ok(outbound) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let (Ok(in_r), Ok(out_r)) = (inbound.try_clone(), outbound.try_clone()) else {
                    continue;
                };
                pipe("faultline-bootstrap-up", in_r, outbound);
                pipe("faultline-bootstrap-down", out_r, inbound);
            }
        })?;
    Ok(())
}

/// Copies `from` into `to` on a thread of its own until `from` closes, then closes `to`'s
/// sending side.
fn pipe(name: &str, mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    let _ = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
}

/// How a caller in the same process (the demo) steers and watches a run.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Set to stop (besides SIGINT and SIGTERM).
    pub stop: Arc<AtomicBool>,
    /// Counts the records processed.
    pub processed: Arc<AtomicU64>,
    /// The run's outbox, once started (to ask how many updates are undelivered).
    pub outbox: Arc<OnceLock<Outbox>>,
}

impl IncidentSink for Outbox {
    fn enqueue(&mut self, updates: &[faultline_correlator::IncidentUpdate]) -> anyhow::Result<()> {
        Outbox::enqueue(self, updates)?;
        Ok(())
    }
}

/// The receivers of incident updates: the configured webhooks and the incidents topic.
fn receivers(config: &Config) -> Vec<ReceiverConfig> {
    let mut out = config.receivers.clone();
    out.push(ReceiverConfig::new(
        faultline_config::KAFKA_RECEIVER,
        ReceiverKind::Kafka {
            topic: config.kafka.incidents_topic.clone(),
        },
        None,
    ));
    out
}

/// Runs the engine until SIGINT or SIGTERM.
pub fn run(config: Config) -> anyhow::Result<()> {
    run_with(config, Hooks::default())
}

/// Runs the engine until SIGINT, SIGTERM or `hooks.stop`.
pub fn run_with(config: Config, hooks: Hooks) -> anyhow::Result<()> {
    telemetry::init_tracing(config.log.format == LogFormat::Json, &config.log.level);
    let prometheus = telemetry::install_prometheus()?;

    // Keep the embedded broker alive for the whole run.
    let (embedded, brokers) = match &config.kafka.brokers {
        Some(b) => (None, b.clone()),
        None => {
            let (cluster, bootstrap) = embedded_broker(&config)?;
            // Clients may bootstrap from Kafka's usual address, the same on every run.
            let address = match bootstrap_forwarder(EMBEDDED_ADDRESS, &bootstrap) {
                Ok(()) => EMBEDDED_ADDRESS.to_owned(),
                Err(e) => {
                    info!(
                        address = EMBEDDED_ADDRESS,
                        "not forwarding the usual Kafka address: {e}"
                    );
                    bootstrap.clone()
                }
            };
            println!("kafka: {address} (embedded)");
            (Some(cluster), bootstrap)
        }
    };
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &brokers);
    for (k, v) in &config.kafka.options {
        client.set(k, v);
    }

    std::fs::create_dir_all(&config.state.dir).with_context(|| {
        format!(
            "creating the state directory {}",
            config.state.dir.display()
        )
    })?;
    let store =
        Arc::new(Store::open(&config.state.dir).with_context(|| {
            format!("opening the state store in {}", config.state.dir.display())
        })?);
    let sink = KafkaSink::new(
        &client,
        store.clone(),
        &config.kafka.anomalies_topic,
        &config.kafka.dead_letter_topic,
    )
    .context("creating the Kafka producer")?;
    let topics = config
        .kafka
        .topics
        .iter()
        .map(|t| match t.kind {
            TopicKind::Topology => InputTopic::topology(&t.name),
            k => InputTopic::new(&t.name, kind(k), format(t.format)),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("faultline-io")
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let outbox = Outbox::start(
        store.db().clone(),
        receivers(&config),
        Some(client.clone()),
        runtime.handle().clone(),
    )
    .context("starting incident delivery")?;
    let config = Arc::new(config);
    let mut pipeline = Pipeline::new(config.clone(), topics, store, sink);
    pipeline.set_incident_sink(Box::new(outbox.clone()));
    let _ = hooks.outbox.set(outbox.clone());

    let ready = Arc::new(AtomicBool::new(false));
    let stop = hooks.stop.clone();
    let addr = runtime
        .block_on(http::serve(config.http.listen, prometheus, ready.clone()))
        .with_context(|| format!("binding the HTTP listener on {}", config.http.listen))?;
    println!("http: http://{addr}");
    runtime.spawn(signals(stop.clone()));

    let source = Source::new(
        &client,
        &config.kafka.group_id,
        pipeline,
        config.state.checkpoint_interval,
        ready,
    )
    .context("creating the Kafka consumer")?
    .with_progress(hooks.processed.clone());
    info!(brokers = %brokers, topics = config.kafka.topics.len(), "consuming");
    let result = source.run(&stop);
    outbox.shutdown(Duration::from_secs(5));
    // Every Kafka client (the consumer and sink, the outbox's producer, which the hooks and
    // the runtime's tasks also hold) goes before the embedded broker they talk to; stopped
    // first, it leaves them logging that all brokers are down.
    drop(source);
    drop(outbox);
    drop(hooks);
    drop(runtime);
    drop(embedded);
    info!("stopped");
    result
}

async fn signals(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    info!("signal received; stopping");
    stop.store(true, Ordering::SeqCst);
}
