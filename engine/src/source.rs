//! The Kafka source: a consumer group over the configured topics, driving the [`Pipeline`].
//!
//! Partition ownership follows the group. On assignment the pipeline restores the partition's
//! series from the store and the consumer starts at the checkpointed offset (set in the
//! assignment itself, so no record before it is fetched); on revocation the pipeline
//! checkpoints before the partition is released. Group offset commits happen after each
//! checkpoint and only make lag visible to Kafka tooling: the store's offsets are the truth.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Timestamp};
use tracing::{error, info, warn};

use crate::emit::KafkaSink;
use crate::pipeline::{Pipeline, Record};
use crate::series::PartitionId;
use crate::telemetry;

/// The pipeline as the consumer's context sees it.
type SharedPipeline = Mutex<Pipeline<KafkaSink>>;

fn lock(p: &SharedPipeline) -> MutexGuard<'_, Pipeline<KafkaSink>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// librdkafka's consumer context: rebalances restore and checkpoint the pipeline; statistics
/// feed the lag gauges.
pub struct SourceContext {
    pipeline: Arc<SharedPipeline>,
    topics: HashMap<String, u16>,
    /// Set once the first assignment has been restored (for `/readyz`).
    ready: Arc<AtomicBool>,
    /// A store failure during a rebalance: the run loop stops on it.
    failed: AtomicBool,
}

impl std::fmt::Debug for SourceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceContext")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl SourceContext {
    fn pid(&self, topic: &str, partition: i32) -> Option<PartitionId> {
        self.topics.get(topic).map(|&t| PartitionId {
            topic: t,
            partition,
        })
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        self.ready.store(false, Ordering::SeqCst);
        let mut pipeline = lock(&self.pipeline);
        let owned: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        for (topic, partition) in owned {
            let Some(pid) = self.pid(&topic, partition) else {
                continue;
            };
            match pipeline.assign(pid, partition) {
                Ok(Some(next)) => {
                    if let Err(e) =
                        tpl.set_partition_offset(&topic, partition, Offset::Offset(next))
                    {
                        error!(topic = %topic, partition, error = %e, "cannot seek to checkpoint");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    error!(topic = %topic, partition, error = %e, "partition state not restored");
                    self.failed.store(true, Ordering::SeqCst);
                }
            }
        }
        info!(
            partitions = tpl.count(),
            series = pipeline.table().len(),
            "partitions assigned"
        );
        drop(pipeline);
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(tpl),
            _ => consumer.assign(tpl),
        };
        if let Err(e) = result {
            error!(error = %e, "assign failed");
        }
        self.ready.store(true, Ordering::SeqCst);
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let pids: Vec<PartitionId> = tpl
            .elements()
            .iter()
            .filter_map(|e| self.pid(e.topic(), e.partition()))
            .collect();
        let mut pipeline = lock(&self.pipeline);
        if let Err(e) = pipeline.revoke(&pids) {
            error!(error = %e, "checkpoint before revocation failed");
            self.failed.store(true, Ordering::SeqCst);
        }
        commit_positions(consumer, &pipeline);
        drop(pipeline);
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(e) = result {
            error!(error = %e, "unassign failed");
        }
    }
}

impl ClientContext for SourceContext {
    fn stats(&self, statistics: Statistics) {
        for (name, topic) in &statistics.topics {
            if !self.topics.contains_key(name) {
                continue;
            }
            for (partition, p) in &topic.partitions {
                // librdkafka reports -1 for partitions it does not consume (and the internal
                // partition -1).
                if *partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                gauge!(telemetry::CONSUMER_LAG, "topic" => name.clone(), "partition" => partition.to_string())
                    .set(p.consumer_lag as f64);
                if let Some(pid) = self.pid(name, *partition) {
                    lock(&self.pipeline).set_lag(pid, p.consumer_lag);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        counter!(telemetry::KAFKA_ERRORS).increment(1);
        warn!(error = %error, "kafka client error: {reason}");
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            other => {
                error!(error = ?other, "rebalance error; releasing the assignment");
                let _ = consumer.unassign();
            }
        }
    }
}

/// Commits the pipeline's positions to the group (for lag visibility only).
fn commit_positions(consumer: &BaseConsumer<SourceContext>, pipeline: &Pipeline<KafkaSink>) {
    let mut tpl = TopicPartitionList::new();
    for (pid, next) in pipeline.positions() {
        let topic = &pipeline.topics()[usize::from(pid.topic)].name;
        let _ = tpl.add_partition_offset(topic, pid.partition, Offset::Offset(next));
    }
    if tpl.count() > 0
        && let Err(e) = consumer.commit(&tpl, CommitMode::Async)
    {
        warn!(error = %e, "group offset commit failed (lag visibility only)");
    }
}

/// The running source.
pub struct Source {
    consumer: BaseConsumer<SourceContext>,
    pipeline: Arc<SharedPipeline>,
    checkpoint_interval: Duration,
    processed: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").finish_non_exhaustive()
    }
}

impl Source {
    /// Subscribes a consumer group to the pipeline's topics.
    pub fn new(
        client: &ClientConfig,
        group_id: &str,
        pipeline: Pipeline<KafkaSink>,
        checkpoint_interval: Duration,
        ready: Arc<AtomicBool>,
    ) -> KafkaResult<Self> {
        let topics: HashMap<String, u16> = pipeline
            .topics()
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.to_string(), i as u16))
            .collect();
        let names: Vec<String> = topics.keys().cloned().collect();
        let pipeline = Arc::new(Mutex::new(pipeline));
        let mut client = client.clone();
        client.set("group.id", group_id);
        // The store's offsets are the truth; group commits are explicit, for lag only.
        client.set("enable.auto.commit", "false");
        for (k, v) in [
            ("auto.offset.reset", "earliest"),
            ("statistics.interval.ms", "5000"),
            ("enable.partition.eof", "false"),
        ] {
            if client.get(k).is_none() {
                client.set(k, v);
            }
        }
        let consumer: BaseConsumer<SourceContext> = client.create_with_context(SourceContext {
            pipeline: pipeline.clone(),
            topics,
            ready,
            failed: AtomicBool::new(false),
        })?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        consumer.subscribe(&refs)?;
        Ok(Self {
            consumer,
            pipeline,
            checkpoint_interval,
            processed: Arc::default(),
        })
    }

    /// Counts processed records into `counter`.
    pub fn with_progress(mut self, counter: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.processed = counter;
        self
    }

    /// Consumes until `stop` is set, then checkpoints and leaves the group.
    pub fn run(&self, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut last_checkpoint = Instant::now();
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if self.consumer.context().failed.load(Ordering::SeqCst) {
                anyhow::bail!("the state store failed during a rebalance; stopping");
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(e)) => {
                    counter!(telemetry::KAFKA_ERRORS).increment(1);
                    warn!(error = %e, "consume error");
                }
                Some(Ok(message)) => {
                    let received = Instant::now();
                    let ctx = self.consumer.context();
                    if let Some(pid) = ctx.pid(message.topic(), message.partition()) {
                        let timestamp = match message.timestamp() {
                            Timestamp::NotAvailable => None,
                            Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => Some(t),
                        };
                        lock(&self.pipeline).process(Record {
                            pid,
                            offset: message.offset(),
                            key: message.key(),
                            payload: message.payload(),
                            timestamp,
                            received,
                        });
                        self.processed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                lock(&self.pipeline).tick();
            }
            if last_checkpoint.elapsed() >= self.checkpoint_interval {
                last_checkpoint = Instant::now();
                self.checkpoint()?;
            }
        }
        info!("stopping: final checkpoint");
        self.checkpoint()?;
        self.consumer.unsubscribe();
        Ok(())
    }

    fn checkpoint(&self) -> anyhow::Result<()> {
        let mut pipeline = lock(&self.pipeline);
        if pipeline.checkpoint()? {
            commit_positions(&self.consumer, &pipeline);
        }
        Ok(())
    }
}
