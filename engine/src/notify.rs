//! Durable, ordered, idempotent delivery of incident updates to webhooks and Kafka.
//!
//! Contract:
//! - [`Outbox::enqueue`] writes every update, once per receiver, to a RocksDB outbox in one
//!   batch with a synced WAL *before* anything is sent. A `(receiver, incident, revision)`
//!   that was recorded before — still queued or already delivered — is dropped, so the
//!   replay after a crash (which re-derives the same revisions) sends nothing twice.
//! - One delivery task per receiver sends the updates of one incident in revision order:
//!   revision r+1 waits until r is delivered or permanently failed. Different incidents do
//!   not wait for each other: a retrying incident is parked with its backoff and the task
//!   serves the rest, at most [`CONCURRENCY`] requests at a time.
//! - Retries (capped exponential backoff from 500 ms, ×2, deterministic jitter; `Retry-After`
//!   seconds honoured) on connection errors, timeouts, 408, 429 and 5xx. Any other status is
//!   a permanent failure: counted, logged with the status and a body excerpt, and skipped.
//! - Delivery is at-least-once (a crash between the acknowledgement and the outbox delete
//!   re-sends); every request carries `Idempotency-Key: <incident_id>:<revision>` so
//!   receivers can make it exactly-once, and `X-Faultline-Signature: sha256=<hex>` (HMAC of
//!   the exact body bytes) when the receiver has a secret.
//!
//! Payload formats are in [`format`]; the key layout and the garbage collection of
//! "recorded through revision R" markers in `outbox`.

mod deliver;
pub mod format;
mod outbox;
pub mod sign;
mod webhook;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use faultline_correlator::{IncidentUpdate, Severity};
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rocksdb::DB;
use thiserror::Error;
use tracing::warn;

use crate::store::StoreError;
use deliver::Receiver;

/// Requests in flight per receiver (each for a different incident).
pub const CONCURRENCY: usize = 4;
/// Per-request timeout when the configuration does not set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff cap when the configuration does not set one.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// First retry delay (doubling from here up to the receiver's cap).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Where PagerDuty receivers post when no URL is configured.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// The signature header (`sha256=<hex of HMAC-SHA256(secret, body)>`).
pub const SIGNATURE_HEADER: &str = "X-Faultline-Signature";
/// The idempotency header (`<incident_id>:<revision>`), also a Kafka record header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// What a receiver speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    /// The `IncidentUpdate` as JSON with `"version": "1"` added ([`format::native`]).
    Native,
    /// Alertmanager webhook payload, version 4.
    Alertmanager,
    /// PagerDuty Events API v2 `enqueue`.
    PagerDuty {
        /// The integration's routing key.
        routing_key: String,
    },
    /// Slack incoming webhook.
    Slack,
    /// Native JSON records on a Kafka topic (key = incident id).
    Kafka {
        /// Destination topic.
        topic: String,
    },
}

impl ReceiverKind {
    fn is_webhook(&self) -> bool {
        !matches!(self, Self::Kafka { .. })
    }
}

/// One configured receiver.
#[derive(Clone)]
pub struct ReceiverSpec {
    /// Unique name; a metric label and part of the outbox keys (so renaming a receiver
    /// starts it afresh).
    pub name: String,
    /// Format and transport.
    pub kind: ReceiverKind,
    /// Webhook URL (required for webhooks except PagerDuty, which defaults to
    /// [`PAGERDUTY_URL`]; ignored for Kafka).
    pub url: Option<String>,
    /// HMAC-SHA256 key of the [`SIGNATURE_HEADER`].
    pub secret: Option<String>,
    /// Per request (for Kafka: until the broker acknowledges).
    pub timeout: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// Updates of lower severity are not sent; the resolve of an incident this receiver was
    /// told about is sent whatever its severity.
    pub min_severity: Severity,
    /// Extra request headers (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Base URL of Faultline's UI for links (`<external_url>/incidents/<id>`).
    pub external_url: Option<String>,
}

impl std::fmt::Debug for ReceiverSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret, the routing key and header values (tokens) stay out of logs.
        let kind = match &self.kind {
            ReceiverKind::PagerDuty { .. } => "pagerduty".to_owned(),
            k => format!("{k:?}"),
        };
        f.debug_struct("ReceiverSpec")
            .field("name", &self.name)
            .field("kind", &kind)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field("min_severity", &self.min_severity)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("external_url", &self.external_url)
            .finish()
    }
}

impl ReceiverSpec {
    /// A receiver with the default timeout, backoff cap and no filters.
    pub fn new(name: impl Into<String>, kind: ReceiverKind, url: Option<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            url,
            secret: None,
            timeout: DEFAULT_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
            min_severity: Severity::Info,
            headers: Vec::new(),
            external_url: None,
        }
    }
}

/// Why the outbox could not start or record.
#[derive(Debug, Error)]
pub enum NotifyError {
    /// A receiver's configuration is unusable (a config-class error).
    #[error("receiver `{name}` is invalid: {reason}")]
    InvalidReceiver {
        /// Receiver name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client of a receiver could not be built (TLS initialisation).
    #[error("creating the HTTP client of receiver `{name}` failed")]
    HttpClient {
        /// Receiver name.
        name: String,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
    /// The producer of the Kafka receivers could not be created.
    #[error("creating the Kafka producer for notifications failed")]
    Kafka {
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// The outbox could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// State shared by the handle and the delivery tasks.
struct Shared {
    db: Arc<DB>,
    receivers: Vec<Arc<Receiver>>,
    /// Serialises `enqueue` (marker read-modify-write) and marker GC.
    book: Mutex<outbox::Book>,
    /// Set by `shutdown`; delivery tasks exit at their next wake-up.
    stopping: AtomicBool,
    /// Delivery tasks still running (decremented after a task dropped its `Arc<Shared>`).
    live: Arc<AtomicUsize>,
}

/// The notification outbox: a cheap clonable handle.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field(
                "receivers",
                &self
                    .shared
                    .receivers
                    .iter()
                    .map(|r| r.spec.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("pending", &self.pending())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only plain bookkeeping is behind these locks; a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Outbox {
    /// Opens the outbox in `db` (the engine's store, [`crate::store::Store::db`]), loads the
    /// undelivered entries of every receiver and spawns one delivery task per receiver on
    /// `rt`. Kafka receivers share one `FutureProducer` created from `kafka` (brokers and
    /// options as for the engine's other producers; idempotence is switched on); it is
    /// required only when a Kafka receiver is configured.
    pub fn start(
        db: Arc<DB>,
        receivers: Vec<ReceiverSpec>,
        kafka: Option<ClientConfig>,
        rt: tokio::runtime::Handle,
    ) -> Result<Outbox, NotifyError> {
        crate::telemetry::describe_notify();
        validate(&receivers)?;
        let producer = match (
            receivers
                .iter()
                .any(|r| matches!(r.kind, ReceiverKind::Kafka { .. })),
            kafka,
        ) {
            (false, _) => None,
            (true, Some(mut client)) => {
                if client.get("enable.idempotence").is_none() {
                    client.set("enable.idempotence", "true");
                }
                Some(Arc::new(
                    client
                        .create()
                        .map_err(|source| NotifyError::Kafka { source })?,
                ))
            }
            (true, None) => {
                let name = receivers
                    .iter()
                    .find(|r| matches!(r.kind, ReceiverKind::Kafka { .. }))
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                return Err(NotifyError::InvalidReceiver {
                    name,
                    reason: "a Kafka receiver needs the Kafka client configuration".into(),
                });
            }
        };
        let mut built = Vec::with_capacity(receivers.len());
        for spec in receivers {
            let transport = webhook::Transport::new(&spec, producer.clone())?;
            let rx = Arc::new(Receiver::new(spec, transport));
            for (incident, entries) in outbox::load(&db, &rx.spec.name)? {
                for e in entries {
                    rx.push(&incident, e);
                }
            }
            built.push(rx);
        }
        let book = outbox::Book::open(&db)?;
        let shared = Arc::new(Shared {
            db,
            receivers: built,
            book: Mutex::new(book),
            stopping: AtomicBool::new(false),
            live: Arc::new(AtomicUsize::new(0)),
        });
        for rx in &shared.receivers {
            shared.live.fetch_add(1, Ordering::SeqCst);
            let guard = deliver::TaskGuard::new(shared.clone());
            rt.spawn(deliver::run(rx.clone(), guard));
        }
        Ok(Outbox { shared })
    }

    /// Durably records `updates` for every receiver (one synced batch), skipping each
    /// `(receiver, incident, revision)` recorded before and each update below a receiver's
    /// minimum severity, then wakes the delivery tasks. Returns the number of outbox
    /// entries recorded (receiver × update). Blocking: call it from the pipeline thread,
    /// not from async code.
    pub fn enqueue(&self, updates: &[IncidentUpdate]) -> Result<usize, NotifyError> {
        let s = &self.shared;
        let mut book = lock(&s.book);
        let staged = outbox::record(&s.db, &mut book, &s.receivers, updates)?;
        let n = staged.len();
        for (i, incident, entry) in staged {
            s.receivers[i].push(&incident, entry);
        }
        book.maybe_collect(&s.db)?;
        Ok(n)
    }

    /// Undelivered entries over all receivers (including the ones being sent).
    pub fn pending(&self) -> usize {
        self.shared.receivers.iter().map(|r| r.pending()).sum()
    }

    /// Blocks until at most `target` entries are pending or `timeout` passed; returns
    /// whether the target was reached.
    fn drain_until(&self, target: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.pending() <= target {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `grace` for the pending entries to be delivered, then stops the
    /// delivery tasks (requests in flight are abandoned and re-sent after the next start).
    /// Blocking: call it from a plain thread or a multi-threaded runtime's blocking context.
    pub fn shutdown(&self, grace: Duration) {
        let s = &self.shared;
        if !self.drain_until(0, grace) {
            warn!(
                pending = self.pending(),
                "stopping notification delivery with undelivered updates"
            );
        }
        s.stopping.store(true, Ordering::SeqCst);
        for rx in &s.receivers {
            rx.wake();
        }
        // Tasks exit at their next poll; wait briefly so the database can be reopened.
        let deadline = Instant::now() + Duration::from_secs(2);
        while s.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn validate(receivers: &[ReceiverSpec]) -> Result<(), NotifyError> {
    let mut names = HashSet::new();
    for r in receivers {
        let bad = |reason: String| NotifyError::InvalidReceiver {
            name: r.name.clone(),
            reason,
        };
        if r.name.is_empty() || r.name.contains('\0') {
            return Err(bad("the name must be non-empty and free of NUL".into()));
        }
        if !names.insert(r.name.as_str()) {
            return Err(bad("the name is used by another receiver".into()));
        }
        match &r.kind {
            ReceiverKind::Kafka { topic } if topic.is_empty() => {
                return Err(bad("the Kafka topic is empty".into()));
            }
            ReceiverKind::PagerDuty { routing_key } if routing_key.is_empty() => {
                return Err(bad("the PagerDuty routing key is empty".into()));
            }
            _ => {}
        }
        if r.kind.is_webhook() {
            let url = match (&r.url, &r.kind) {
                (Some(u), _) => u.as_str(),
                (None, ReceiverKind::PagerDuty { .. }) => PAGERDUTY_URL,
                (None, _) => return Err(bad("a webhook needs a `url`".into())),
            };
            let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("url `{url}`: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(bad(format!("url `{url}` is not http(s)")));
            }
        }
        for (k, v) in &r.headers {
            reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| bad(format!("`{k}` is not a valid header name")))?;
            reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| bad(format!("the value of header `{k}` is not valid")))?;
        }
    }
    Ok(())
}
