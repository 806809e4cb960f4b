//! Reading what the engine published: every record of a topic up to its current end.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::broker::{Broker, unique};

/// One record as read back, headers included.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// Payload bytes, if any.
    pub payload: Option<Vec<u8>>,
    /// Headers in order: name and value (`None` for a null value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Record timestamp (ms), if any.
    pub timestamp: Option<i64>,
}

impl Record {
    /// The first header called `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The key as text (lossy).
    pub fn key_str(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned())
    }

    /// The payload as text (lossy); empty when absent.
    pub fn payload_str(&self) -> String {
        self.payload
            .as_deref()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    }
}

/// Every record of `topic` from the beginning up to each partition's high watermark as of the
/// call, ordered by partition then offset. Panics if they cannot be read within `timeout`.
pub fn read_all(broker: &Broker, topic: &str, timeout: Duration) -> Vec<Record> {
    let consumer: BaseConsumer = broker
        .client_config()
        .set("group.id", unique("it-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .create()
        .expect("create a Kafka consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    assert!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut ends = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("watermarks of {topic}/{p}: {e}"));
        if high > low {
            ends.push((p, high));
            tpl.add_partition_offset(topic, p, Offset::Offset(low))
                .expect("add partition");
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return records;
    }
    consumer.assign(&tpl).expect("assign partitions");
    let deadline = Instant::now() + timeout;
    // Done when every partition has been read to its end: a record at the last offset, or a
    // position past it (a transactional producer's control record has no message).
    let done = |records: &[Record], consumer: &BaseConsumer| {
        let position = consumer.position().ok();
        ends.iter().all(|&(p, high)| {
            let past = position
                .as_ref()
                .and_then(|tpl| tpl.find_partition(topic, p))
                .and_then(|e| e.offset().to_raw())
                .is_some_and(|o| o >= high);
            past || records
                .iter()
                .any(|r| r.partition == p && r.offset + 1 >= high)
        })
    };
    while !done(&records, &consumer) {
        assert!(
            Instant::now() < deadline,
            "read only {} records of {topic} within {timeout:?} (ends {ends:?})",
            records.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            Some(Ok(m)) => records.push(Record {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp: m.timestamp().to_millis(),
            }),
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records.dedup_by_key(|r| (r.partition, r.offset));
    records
}
