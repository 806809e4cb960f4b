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

use faultline_correlator::IncidentUpdate;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rocksdb::DB;
use thiserror::Error;
use tracing::warn;

use crate::store::StoreError;
use deliver::Receiver;

/// Requests in flight per receiver (each for a different incident).
pub const CONCURRENCY: usize = 4;
/// First retry delay (doubling from here up to the receiver's cap).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The signature header (`sha256=<hex of HMAC-SHA256(secret, body)>`).
pub const SIGNATURE_HEADER: &str = "X-Faultline-Signature";
/// The idempotency header (`<incident_id>:<revision>`), also a Kafka record header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

pub use faultline_config::{PAGERDUTY_URL, ReceiverConfig, ReceiverKind};

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
        receivers: Vec<ReceiverConfig>,
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

fn validate(receivers: &[ReceiverConfig]) -> Result<(), NotifyError> {
    let mut names = HashSet::new();
    for r in receivers {
        let reason = if !names.insert(r.name.as_str()) {
            Some("the name is used by another receiver".to_owned())
        } else {
            r.problem()
        };
        if let Some(reason) = reason {
            return Err(NotifyError::InvalidReceiver {
                name: r.name.clone(),
                reason,
            });
        }
    }
    Ok(())
}
