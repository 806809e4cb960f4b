//! Producing test input: records with an explicit partition, key and timestamp, and delivery
//! reports, so a test knows the exact offset of every record it sent.

use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _, ProducerContext};

use crate::broker::Broker;
use crate::series::{Fleet, sample_json};

/// A record's partition and offset, or why it was not delivered.
type Delivered = Result<(i32, i64), String>;

/// Where each sent record landed (or why it did not), by send order; `None` until reported.
#[derive(Debug, Default)]
struct Reports {
    deliveries: Mutex<Vec<Option<Delivered>>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, id: usize) {
        let outcome = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.to_string()),
        };
        let mut d = self.deliveries.lock().expect("reports lock");
        if d.len() <= id {
            d.resize(id + 1, None);
        }
        d[id] = Some(outcome);
    }
}

/// A producer that remembers every record's partition and offset.
pub struct Producer {
    inner: BaseProducer<Reports>,
    sent: usize,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("sent", &self.sent)
            .finish()
    }
}

/// Handle of one sent record, to look up its offset after [`Producer::flush`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent(usize);

impl Producer {
    /// A producer on `broker`, idempotent so that records of a partition keep their order.
    pub fn new(broker: &Broker) -> Self {
        let inner = broker
            .client_config()
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "60000")
            .set("queue.buffering.max.messages", "1000000")
            .create_with_context(Reports::default())
            .expect("create a Kafka producer");
        Self { inner, sent: 0 }
    }

    /// Sends `payload` to `topic`/`partition` with `key` and record timestamp `ts_ms`.
    pub fn send(
        &mut self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        payload: &[u8],
        ts_ms: i64,
    ) -> Sent {
        let id = self.sent;
        let mut record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(topic, id)
            .partition(partition)
            .payload(payload)
            .timestamp(ts_ms);
        if let Some(k) = key {
            record = record.key(k);
        }
        loop {
            match self.inner.send(record) {
                Ok(()) => break,
                // Backpressure, not a failure: serve delivery reports to make room.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    self.inner.poll(Duration::from_millis(100));
                }
                Err((e, _)) => panic!("send to {topic}/{partition}: {e}"),
            }
        }
        self.sent += 1;
        self.inner.poll(Duration::ZERO);
        Sent(id)
    }

    /// Waits until every record is delivered; panics on any delivery failure.
    pub fn flush(&mut self) {
        self.inner
            .flush(Duration::from_secs(120))
            .expect("flush the producer within 120 s");
        let d = self
            .inner
            .context()
            .deliveries
            .lock()
            .expect("reports lock");
        for id in 0..self.sent {
            match d.get(id).cloned().flatten() {
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("record #{id} was not delivered: {e}"),
                None => panic!("record #{id} has no delivery report after flush"),
            }
        }
    }

    /// Partition and offset of a delivered record (after [`Producer::flush`]).
    pub fn offset_of(&self, sent: Sent) -> (i32, i64) {
        let d = self
            .inner
            .context()
            .deliveries
            .lock()
            .expect("reports lock");
        match d.get(sent.0).cloned().flatten() {
            Some(Ok(po)) => po,
            other => panic!("record #{} not delivered: {other:?}", sent.0),
        }
    }

    /// Sends points `range` of every series of `fleet` to `topic` as NDJSON records of up to
    /// `batch` samples each, series `i` to partition `i % partitions`, keyed by series. The
    /// record timestamp is the event time of its first sample. Records go out in event-time
    /// order across series, as a live fleet would write them. Returns the number of records.
    pub fn send_fleet(
        &mut self,
        topic: &str,
        partitions: i32,
        fleet: &Fleet,
        range: Range<usize>,
        batch: usize,
    ) -> usize {
        let labels: Vec<String> = fleet.specs.iter().map(|s| s.labels_json()).collect();
        let mut records = 0;
        let mut start = range.start;
        while start < range.end {
            let end = (start + batch).min(range.end);
            for (i, spec) in fleet.specs.iter().enumerate() {
                let mut payload = String::with_capacity((end - start) * 100);
                for k in start..end {
                    payload.push_str(&sample_json(
                        &spec.name,
                        &labels[i],
                        fleet.ts(k),
                        fleet.values[i][k],
                    ));
                    payload.push('\n');
                }
                let key = format!("{}{}", spec.name, labels[i]);
                self.send(
                    topic,
                    i as i32 % partitions,
                    Some(key.as_bytes()),
                    payload.as_bytes(),
                    fleet.ts(start),
                );
                records += 1;
            }
            start = end;
        }
        records
    }
}
