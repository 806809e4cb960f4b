//! The Kafka [`Sink`]: anomalies and dead letters, with delivery tracking.
//!
//! Every output is kept (owned) until the broker acknowledges it: a failed delivery is queued
//! and re-sent, never dropped, and a checkpoint waits until nothing is in flight — so a
//! checkpoint never claims an offset whose outputs might be lost. Acknowledgements advance the
//! partition's delivery watermark ([`Track`]), persisted so that a replay after a crash skips
//! what was already delivered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use metrics::counter;
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tracing::{error, warn};

use crate::delivery::Track;
use crate::pipeline::{Output, OutputKind, Sink};
use crate::series::PartitionId;
use crate::store::{Seq, Store};
use crate::telemetry;

/// An output kept until acknowledged.
#[derive(Debug)]
struct Owned {
    kind: OutputKind,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

#[derive(Debug)]
struct Watched {
    topic: String,
    partition: i32,
    track: Track,
}

/// State shared with librdkafka's delivery thread.
#[derive(Debug)]
struct Shared {
    store: Arc<Store>,
    in_flight: Mutex<HashMap<(PartitionId, Seq), Arc<Owned>>>,
    tracks: Mutex<HashMap<PartitionId, Watched>>,
    failed: Mutex<Vec<(PartitionId, Seq)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain bookkeeping behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn acked(&self, pid: PartitionId, seq: Seq) {
        lock(&self.in_flight).remove(&(pid, seq));
        let moved = {
            let mut tracks = lock(&self.tracks);
            tracks.get_mut(&pid).and_then(|w| {
                w.track
                    .acked(seq)
                    .map(|mark| (w.topic.clone(), w.partition, mark))
            })
        };
        if let Some((topic, partition, mark)) = moved
            && let Err(e) = self.store.set_delivered(&topic, partition, mark)
        {
            error!(topic = %topic, partition, error = %e, "delivery watermark not stored");
        }
    }
}

/// librdkafka's producer context: routes delivery reports to [`Shared`].
#[derive(Debug)]
pub struct DeliveryContext {
    shared: Arc<Shared>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<(PartitionId, Seq)>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (pid, seq) = *opaque;
        match result {
            Ok(_) => self.shared.acked(pid, seq),
            Err((e, _)) => {
                let output = lock(&self.shared.in_flight)
                    .get(&(pid, seq))
                    .map_or("unknown", |o| output_name(o.kind));
                counter!(telemetry::PUBLISH_FAILURES, "output" => output).increment(1);
                warn!(output, error = %e, "delivery failed; will retry");
                lock(&self.shared.failed).push((pid, seq));
            }
        }
    }
}

fn output_name(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Anomaly => "anomalies",
        OutputKind::DeadLetter => "dead_letter",
    }
}

/// Publishes outputs to the anomalies and dead-letter topics.
pub struct KafkaSink {
    producer: ThreadedProducer<DeliveryContext>,
    shared: Arc<Shared>,
    anomalies_topic: String,
    dead_letter_topic: String,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("anomalies_topic", &self.anomalies_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A producer from `client` (brokers and pass-through options already set).
    pub fn new(
        client: &ClientConfig,
        store: Arc<Store>,
        anomalies_topic: &str,
        dead_letter_topic: &str,
    ) -> Result<Self, KafkaError> {
        let shared = Arc::new(Shared {
            store,
            in_flight: Mutex::new(HashMap::new()),
            tracks: Mutex::new(HashMap::new()),
            failed: Mutex::new(Vec::new()),
        });
        let mut client = client.clone();
        // Idempotence keeps per-partition order and drops broker-side duplicates on retry.
        if client.get("enable.idempotence").is_none() {
            client.set("enable.idempotence", "true");
        }
        if client.get("linger.ms").is_none() {
            client.set("linger.ms", "5");
        }
        let producer = client.create_with_context(DeliveryContext {
            shared: shared.clone(),
        })?;
        Ok(Self {
            producer,
            shared,
            anomalies_topic: anomalies_topic.to_owned(),
            dead_letter_topic: dead_letter_topic.to_owned(),
        })
    }

    fn send(&self, pid: PartitionId, seq: Seq) {
        // Never hold the lock while sending: the delivery thread needs it to drain the queue.
        let Some(out) = lock(&self.shared.in_flight).get(&(pid, seq)).cloned() else {
            return;
        };
        let topic = match out.kind {
            OutputKind::Anomaly => &self.anomalies_topic,
            OutputKind::DeadLetter => &self.dead_letter_topic,
        };
        let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
        for (k, v) in &out.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_str()),
            });
        }
        let mut record = BaseRecord::with_opaque_to(topic, Box::new((pid, seq)))
            .payload(&out.payload)
            .headers(headers);
        if let Some(k) = &out.key {
            record = record.key(k);
        }
        let mut record = record;
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The background thread drains the queue; back off briefly.
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    counter!(telemetry::PUBLISH_FAILURES, "output" => output_name(out.kind))
                        .increment(1);
                    error!(topic = %topic, error = %e, "output not accepted by the producer; will retry");
                    lock(&self.shared.failed).push((pid, seq));
                    return;
                }
            }
        }
    }
}

impl Sink for KafkaSink {
    fn watch(&mut self, pid: PartitionId, topic: &str, partition: i32, delivered: Option<Seq>) {
        lock(&self.shared.tracks).insert(
            pid,
            Watched {
                topic: topic.to_owned(),
                partition,
                track: Track::new(delivered),
            },
        );
    }

    fn unwatch(&mut self, pid: PartitionId) {
        lock(&self.shared.tracks).remove(&pid);
    }

    fn publish(&mut self, pid: PartitionId, seq: Seq, output: Output<'_>) {
        lock(&self.shared.in_flight).insert(
            (pid, seq),
            Arc::new(Owned {
                kind: output.kind,
                key: output.key.map(<[u8]>::to_vec),
                payload: output.payload.to_vec(),
                headers: output.headers.to_vec(),
            }),
        );
        if let Some(w) = lock(&self.shared.tracks).get_mut(&pid) {
            w.track.sent(seq);
        }
        self.send(pid, seq);
    }

    fn flush(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.retry();
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = self.producer.flush(left.min(Duration::from_secs(1))) {
                warn!(error = %e, "producer flush incomplete");
            }
            let empty = lock(&self.shared.in_flight).is_empty();
            if empty {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    fn retry(&mut self) {
        let failed = std::mem::take(&mut *lock(&self.shared.failed));
        for (pid, seq) in failed {
            self.send(pid, seq);
        }
    }
}
