//! What the pipeline takes in and gives out: records, input topics, outputs and where they
//! are published, and the one error that stops a partition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_decode as decode;
use thiserror::Error;

use crate::series::PartitionId;
use crate::store::{Seq, StoreError};
use crate::telemetry::TopicCounters;

/// Where an output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The anomalies topic.
    Anomaly,
    /// The dead-letter topic.
    DeadLetter,
}

/// One output record.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    /// Destination.
    pub kind: OutputKind,
    /// Kafka key.
    pub key: Option<&'a [u8]>,
    /// Payload.
    pub payload: &'a [u8],
    /// Headers.
    pub headers: &'a [(&'static str, String)],
}

/// Where outputs are published; Kafka in the service, memory in tests.
pub trait Sink {
    /// Starts tracking deliveries for a partition, from its stored watermark.
    fn watch(&mut self, pid: PartitionId, topic: &str, partition: i32, delivered: Option<Seq>);
    /// Stops tracking a partition.
    fn unwatch(&mut self, pid: PartitionId);
    /// Publishes an output derived from record `seq.offset` of partition `pid`.
    fn publish(&mut self, pid: PartitionId, seq: Seq, output: Output<'_>);
    /// Waits until every published output is delivered; `false` if some are still pending.
    fn flush(&mut self, timeout: Duration) -> bool;
    /// Re-sends outputs whose delivery failed.
    fn retry(&mut self);
}

/// A failure that stops a partition (not a bad record: those are dead-lettered).
#[derive(Debug, Error)]
pub enum PipelineError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A configured input topic.
#[derive(Debug)]
pub struct InputTopic {
    /// Topic name.
    pub name: Arc<str>,
    /// What it carries.
    pub kind: decode::Kind,
    /// How its records are encoded.
    pub format: decode::Format,
    /// Carries topology edges (read by the pipeline itself, not the decoders).
    pub topology: bool,
    pub(super) counters: TopicCounters,
}

impl InputTopic {
    /// A topic as configured.
    pub fn new(name: &str, kind: decode::Kind, format: decode::Format) -> Self {
        Self {
            name: name.into(),
            kind,
            format,
            topology: false,
            counters: TopicCounters::new(name),
        }
    }

    /// A topology topic (native JSON edges).
    pub fn topology(name: &str) -> Self {
        Self {
            topology: true,
            ..Self::new(name, decode::Kind::Events, decode::Format::NativeJson)
        }
    }
}

/// A Kafka record as the pipeline sees it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Owning partition.
    pub pid: PartitionId,
    /// Offset in it.
    pub offset: i64,
    /// Kafka key.
    pub key: Option<&'a [u8]>,
    /// Payload.
    pub payload: Option<&'a [u8]>,
    /// Kafka record timestamp (ms), if any.
    pub timestamp: Option<i64>,
    /// When the engine received it (wall clock): for the latency histogram, and to tell
    /// when its partition went idle.
    pub received: Instant,
}

/// Outcome of processing one record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// Samples observed.
    pub samples: usize,
    /// Anomalies published (or suppressed as already delivered).
    pub anomalies: usize,
    /// Whether (part of) the record went to the dead-letter topic.
    pub dead_lettered: bool,
}
