//! Faultline's own telemetry: every metric name, the Prometheus recorder, the record latency
//! histogram and the tracing subscriber.
//!
//! Metric names live here and only here, prefixed `faultline_`, in base units. Labels are
//! bounded: topic names and partition numbers come from the configuration and the broker,
//! reasons and outcomes from closed enums — never a series key, label value or incident id.

use std::time::Duration;

use hdrhistogram::Histogram;
use metrics::{Counter, Gauge, counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Kafka records read, by topic and outcome (`ok`, `dead_letter`, `partial`).
pub const RECORDS: &str = "faultline_records_total";
/// Items decoded from records, by kind (`metric`, `log`, `event`).
pub const SAMPLES: &str = "faultline_samples_total";
/// Records (or items in them) sent to the dead-letter topic, by reason class.
pub const DEAD_LETTERS: &str = "faultline_dead_letters_total";
/// Anomalies published, by severity.
pub const ANOMALIES: &str = "faultline_anomalies_total";
/// Outputs not re-published because a replay re-derived them after they were delivered.
pub const REPLAY_SUPPRESSED: &str = "faultline_replay_suppressed_total";
/// Publish attempts that failed and were queued for retry, by output (`anomalies`,
/// `dead_letter`).
pub const PUBLISH_FAILURES: &str = "faultline_publish_failures_total";
/// Live series.
pub const SERIES: &str = "faultline_series";
/// Bytes of live series state charged against the cap.
pub const SERIES_BYTES: &str = "faultline_series_bytes";
/// Series created.
pub const SERIES_CREATED: &str = "faultline_series_created_total";
/// Series evicted (least recently used) to stay within the caps.
pub const SERIES_EVICTED: &str = "faultline_series_evicted_total";
/// Stored series state that could not be restored (corrupt, or its rule changed).
pub const RESTORE_DISCARDED: &str = "faultline_restore_discarded_total";
/// Checkpoints written.
pub const CHECKPOINTS: &str = "faultline_checkpoints_total";
/// Checkpoints skipped because outputs were still undelivered.
pub const CHECKPOINTS_SKIPPED: &str = "faultline_checkpoints_skipped_total";
/// Duration of the last checkpoint.
pub const CHECKPOINT_SECONDS: &str = "faultline_checkpoint_duration_seconds";
/// Series written by the last checkpoint.
pub const CHECKPOINT_SERIES: &str = "faultline_checkpoint_series";
/// Next offset to process, by topic and partition.
pub const NEXT_OFFSET: &str = "faultline_partition_next_offset";
/// Consumer lag (messages), by topic and partition, from librdkafka statistics.
pub const CONSUMER_LAG: &str = "faultline_consumer_lag";
/// Partitions assigned to this process.
pub const PARTITIONS: &str = "faultline_partitions_assigned";
/// Record → verdict latency quantiles (seconds), by quantile.
pub const LATENCY: &str = "faultline_record_latency_seconds";
/// Kafka client errors reported by librdkafka.
pub const KAFKA_ERRORS: &str = "faultline_kafka_errors_total";
/// Incident updates the correlator derived and the outbox recorded.
pub const INCIDENT_UPDATES: &str = "faultline_incident_updates_total";
/// Incidents open in the correlator.
pub const INCIDENTS_OPEN: &str = "faultline_incidents_open";
/// Anomalies the correlator ignored, by reason (`late`: older than the quiet period behind
/// its clock with no open incident to join; `good_way`: against the rule's bad direction).
pub const SIGNALS_IGNORED: &str = "faultline_correlator_ignored_total";

/// Installs the process-wide Prometheus recorder and returns the handle `/metrics` renders.
pub fn install_prometheus() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(RECORDS, "Kafka records read, by topic and outcome");
    describe_counter!(
        INCIDENT_UPDATES,
        "Incident updates the correlator derived and the outbox recorded"
    );
    describe_gauge!(INCIDENTS_OPEN, "Incidents open in the correlator");
    describe_counter!(
        SIGNALS_IGNORED,
        "Anomalies the correlator ignored, by reason (late, good_way)"
    );
    describe_counter!(SAMPLES, "Items decoded from records, by kind");
    describe_counter!(
        DEAD_LETTERS,
        "Records sent to the dead-letter topic, by reason"
    );
    describe_counter!(ANOMALIES, "Anomalies published, by severity");
    describe_counter!(
        REPLAY_SUPPRESSED,
        "Outputs already delivered before a restart"
    );
    describe_counter!(
        PUBLISH_FAILURES,
        "Publish attempts that failed and were retried"
    );
    describe_gauge!(SERIES, "Live series");
    describe_gauge!(SERIES_BYTES, "Bytes of live series state");
    describe_counter!(SERIES_CREATED, "Series created");
    describe_counter!(SERIES_EVICTED, "Series evicted to stay within the caps");
    describe_counter!(
        RESTORE_DISCARDED,
        "Stored series state discarded on restore"
    );
    describe_counter!(CHECKPOINTS, "Checkpoints written");
    describe_counter!(
        CHECKPOINTS_SKIPPED,
        "Checkpoints skipped for undelivered outputs"
    );
    describe_gauge!(CHECKPOINT_SECONDS, "Duration of the last checkpoint");
    describe_gauge!(CHECKPOINT_SERIES, "Series written by the last checkpoint");
    describe_gauge!(NEXT_OFFSET, "Next offset to process");
    describe_gauge!(CONSUMER_LAG, "Consumer lag in messages");
    describe_gauge!(PARTITIONS, "Partitions assigned to this process");
    describe_gauge!(LATENCY, "Record to verdict latency quantiles");
    describe_counter!(KAFKA_ERRORS, "Kafka client errors");
}

/// Why a record went to the dead-letter topic: a closed set, so it can be a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The payload does not decode at all.
    Decode,
    /// Some items in the record are invalid (bad field, non-finite value).
    InvalidItem,
    /// A timestamp is outside the configured skew from the record's timestamp.
    Skew,
    /// The record has no payload.
    Empty,
}

impl DeadLetterReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::InvalidItem => "invalid_item",
            Self::Skew => "timestamp_skew",
            Self::Empty => "empty",
        }
    }
}

/// Handles the pipeline increments per record, resolved once (a labelled lookup per
/// increment would cost more than the detectors).
#[derive(Debug)]
pub struct TopicCounters {
    /// Records fully processed.
    pub ok: Counter,
    /// Records dead-lettered whole.
    pub dead_letter: Counter,
    /// Records with some items dead-lettered.
    pub partial: Counter,
}

impl TopicCounters {
    /// Counters for `topic`.
    pub fn new(topic: &str) -> Self {
        let t = topic.to_owned();
        Self {
            ok: counter!(RECORDS, "topic" => t.clone(), "outcome" => "ok"),
            dead_letter: counter!(RECORDS, "topic" => t.clone(), "outcome" => "dead_letter"),
            partial: counter!(RECORDS, "topic" => t, "outcome" => "partial"),
        }
    }
}

/// Counts one dead letter.
pub fn dead_letter(reason: DeadLetterReason) {
    counter!(DEAD_LETTERS, "reason" => reason.as_str()).increment(1);
}

/// The next-offset gauge of one partition.
pub fn next_offset_gauge(topic: &str, partition: i32) -> Gauge {
    gauge!(NEXT_OFFSET, "topic" => topic.to_owned(), "partition" => partition.to_string())
}

/// Record → verdict latency, kept in an HDR histogram and published as quantile gauges.
#[derive(Debug)]
pub struct Latency {
    histogram: Histogram<u64>,
    gauges: Vec<(f64, Gauge)>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    const QUANTILES: [(f64, &'static str); 5] = [
        (0.5, "0.5"),
        (0.9, "0.9"),
        (0.99, "0.99"),
        (0.999, "0.999"),
        (1.0, "1"),
    ];

    /// An empty histogram (1 µs to 60 s, 3 significant digits).
    pub fn new() -> Self {
        // Constant, valid bounds: this cannot fail.
        let histogram =
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("latency histogram bounds");
        Self {
            histogram,
            gauges: Self::QUANTILES
                .iter()
                .map(|(q, name)| (*q, gauge!(LATENCY, "quantile" => *name)))
                .collect(),
        }
    }

    /// Records one record's latency.
    pub fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    /// Publishes the quantiles since the last publish, then starts a new interval.
    pub fn publish(&mut self) {
        if self.histogram.is_empty() {
            return;
        }
        for (q, g) in &self.gauges {
            g.set(self.histogram.value_at_quantile(*q) as f64 / 1e6);
        }
        self.histogram.reset();
    }
}

/// Installs the tracing subscriber: text or JSON lines on stderr, filtered by `level`.
pub fn init_tracing(json: bool, level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Notification attempts by receiver, outcome (`delivered`, `failed`, `retried`) and reason
/// (closed sets: `ok`; `client_error`, `unexpected_status`, `request`, `format`,
/// `kafka_rejected`; `connect`, `timeout`, `throttled`, `request_timeout`, `server_error`,
/// `transport`, `kafka`, `internal`).
pub const NOTIFY_ATTEMPTS: &str = "faultline_notify_attempts_total";
/// Incident updates not queued for a receiver, by receiver and reason (`duplicate`: already
/// recorded, e.g. re-derived by a replay; `below_min_severity`).
pub const NOTIFY_SKIPPED: &str = "faultline_notify_skipped_total";
/// Undelivered notification outbox entries, by receiver.
pub const NOTIFY_PENDING: &str = "faultline_notify_pending";
/// Seconds from enqueue to acknowledgement of a notification, by receiver.
pub const NOTIFY_LATENCY: &str = "faultline_notify_delivery_seconds";

/// Describes the notification metrics (called when the outbox starts).
pub fn describe_notify() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        NOTIFY_ATTEMPTS,
        "Notification attempts, by receiver, outcome and reason"
    );
    describe_counter!(
        NOTIFY_SKIPPED,
        "Incident updates not queued for a receiver, by reason"
    );
    describe_gauge!(NOTIFY_PENDING, "Undelivered notification outbox entries");
    describe_histogram!(
        NOTIFY_LATENCY,
        metrics::Unit::Seconds,
        "Enqueue to acknowledgement latency of notifications"
    );
}
