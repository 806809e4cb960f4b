//! The delivery task of one receiver: per-incident queues, a ready list, parked retries.
//!
//! Only the head entry of an incident is ever in flight, so revisions go out in order; an
//! incident whose head must be retried is parked until its backoff ends while the task
//! serves other incidents, at most [`CONCURRENCY`] requests at a time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_correlator::IncidentUpdate;
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use tokio::sync::Notify;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tracing::error;

use super::webhook::{Outcome, Transport};
use super::{CONCURRENCY, INITIAL_BACKOFF, ReceiverConfig, Shared, lock, outbox};
use crate::telemetry;

/// One queued update.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub revision: u32,
    /// Wall-clock ms at enqueue, for the delivery latency metric.
    pub enqueued_ms: i64,
    pub update: Arc<IncidentUpdate>,
}

/// What the task and `enqueue` share.
#[derive(Debug, Default)]
struct Queues {
    /// Undelivered entries per incident, in revision order. Non-empty ⇔ the incident is in
    /// `ready`, parked, or in flight.
    incidents: HashMap<String, VecDeque<Entry>>,
    /// Incidents whose head can be sent now, oldest first.
    ready: VecDeque<String>,
}

/// A receiver: its spec, transport, queues and metric handles.
pub(super) struct Receiver {
    pub spec: ReceiverConfig,
    transport: Transport,
    queues: Mutex<Queues>,
    /// Wakes the task: new work or shutdown.
    wake: Notify,
    pending: AtomicUsize,
    pending_gauge: Gauge,
    delivered: Counter,
    latency: Histogram,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("spec", &self.spec)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    pub fn new(spec: ReceiverConfig, transport: Transport) -> Self {
        let name = spec.name.clone();
        let pending_gauge = gauge!(telemetry::NOTIFY_PENDING, "receiver" => name.clone());
        pending_gauge.set(0.0);
        Self {
            transport,
            queues: Mutex::default(),
            wake: Notify::new(),
            pending: AtomicUsize::new(0),
            pending_gauge,
            delivered: counter!(telemetry::NOTIFY_ATTEMPTS, "receiver" => name.clone(),
                "outcome" => "delivered", "reason" => "ok"),
            latency: histogram!(telemetry::NOTIFY_LATENCY, "receiver" => name),
            spec,
        }
    }

    /// Appends an entry (revisions arrive in increasing order) and wakes the task.
    pub fn push(&self, incident: &str, entry: Entry) {
        {
            let mut q = lock(&self.queues);
            let list = q.incidents.entry(incident.to_owned()).or_default();
            list.push_back(entry);
            if list.len() == 1 {
                q.ready.push_back(incident.to_owned());
            }
        }
        let n = self.pending.fetch_add(1, Ordering::SeqCst) + 1;
        self.pending_gauge.set(n as f64);
        self.wake.notify_one();
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The next ready incident and its head entry.
    fn next_ready(&self) -> Option<(String, Entry)> {
        let mut q = lock(&self.queues);
        while let Some(id) = q.ready.pop_front() {
            if let Some(head) = q.incidents.get(&id).and_then(|l| l.front()).cloned() {
                return Some((id, head));
            }
        }
        None
    }

    /// Removes the head of `incident` (done: delivered or permanently failed); an incident
    /// with more entries becomes ready again.
    fn finish_head(&self, incident: &str, revision: u32) {
        {
            let mut q = lock(&self.queues);
            let Some(list) = q.incidents.get_mut(incident) else {
                return;
            };
            if list.front().is_none_or(|e| e.revision != revision) {
                return;
            }
            list.pop_front();
            if list.is_empty() {
                q.incidents.remove(incident);
            } else {
                q.ready.push_back(incident.to_owned());
            }
        }
        let n = self
            .pending
            .fetch_sub(1, Ordering::SeqCst)
            .saturating_sub(1);
        self.pending_gauge.set(n as f64);
    }

    fn make_ready(&self, incident: String) {
        lock(&self.queues).ready.push_back(incident);
    }
}

/// Counts a skipped (receiver, update).
pub(super) fn skipped(receiver: &str, reason: &'static str) {
    counter!(telemetry::NOTIFY_SKIPPED, "receiver" => receiver.to_owned(), "reason" => reason)
        .increment(1);
}

/// Keeps the task's `Arc<Shared>` and counts the task as live until both are gone, so
/// `shutdown` returning means the database handle is released by the tasks.
pub(super) struct TaskGuard {
    shared: Option<Arc<Shared>>,
    live: Arc<AtomicUsize>,
}

impl TaskGuard {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            live: shared.live.clone(),
            shared: Some(shared),
        }
    }

    fn shared(&self) -> &Shared {
        // Set in `new`, taken only in `drop`.
        self.shared.as_deref().expect("shared state present")
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.shared.take();
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The retry delay after `attempts` failures: `INITIAL_BACKOFF × 2^attempts` capped at
/// `cap`, then "equal jitter" (between half and all of it), derived from the incident id so
/// a test sees the same schedule every run while incidents still spread out.
pub(super) fn backoff(attempts: u32, cap: Duration, incident: &str) -> Duration {
    let base = INITIAL_BACKOFF
        .saturating_mul(1u32 << attempts.min(20))
        .min(cap);
    let half = base / 2;
    let seed = xxhash_rust::xxh3::xxh3_64_with_seed(incident.as_bytes(), u64::from(attempts));
    let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(if span == 0 { 0 } else { seed % (span + 1) })
}

/// The task loop.
pub(super) async fn run(rx: Arc<Receiver>, guard: TaskGuard) {
    let shared = guard.shared();
    let mut jobs: JoinSet<Outcome> = JoinSet::new();
    let mut in_flight: HashMap<Id, (String, u32, i64)> = HashMap::new();
    let mut parked: BTreeSet<(Instant, String)> = BTreeSet::new();
    let mut attempts: HashMap<String, u32> = HashMap::new();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let now = Instant::now();
        while parked.first().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, id)) = parked.pop_first() {
                rx.make_ready(id);
            }
        }
        while jobs.len() < CONCURRENCY {
            let Some((id, entry)) = rx.next_ready() else {
                break;
            };
            let job_rx = rx.clone();
            let update = entry.update.clone();
            let handle =
                jobs.spawn(async move { job_rx.transport.send(&job_rx.spec, &update).await });
            in_flight.insert(handle.id(), (id, entry.revision, entry.enqueued_ms));
        }
        let wake_at = parked.first().map(|(t, _)| *t);
        tokio::select! {
            joined = jobs.join_next_with_id(), if !jobs.is_empty() => {
                let (task, outcome) = match joined {
                    Some(Ok((task, outcome))) => (task, outcome),
                    Some(Err(e)) => {
                        error!(receiver = %rx.spec.name, error = %e, "notification attempt panicked; will retry");
                        (e.id(), Outcome::retry_internal())
                    }
                    None => continue,
                };
                let Some((id, revision, enqueued_ms)) = in_flight.remove(&task) else {
                    continue;
                };
                match outcome {
                    Outcome::Delivered => {
                        rx.delivered.increment(1);
                        let ms = outbox::now_ms().saturating_sub(enqueued_ms).max(0);
                        rx.latency.record(ms as f64 / 1e3);
                        attempts.remove(&id);
                        outbox::remove(&shared.db, &rx.spec.name, &id, revision);
                        rx.finish_head(&id, revision);
                    }
                    Outcome::Failed(_) => {
                        attempts.remove(&id);
                        outbox::remove(&shared.db, &rx.spec.name, &id, revision);
                        rx.finish_head(&id, revision);
                    }
                    Outcome::Retry { after, .. } => {
                        let n = attempts.entry(id.clone()).or_insert(0);
                        let delay = after.unwrap_or_else(|| backoff(*n, rx.spec.max_backoff, &id));
                        *n = n.saturating_add(1);
                        parked.insert((Instant::now() + delay, id));
                    }
                }
            }
            _ = rx.wake.notified() => {}
            _ = tokio::time::sleep_until(wake_at.unwrap_or(now)), if wake_at.is_some() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_respects_the_cap() {
        let cap = Duration::from_secs(300);
        for n in 0..6 {
            let full = INITIAL_BACKOFF * (1 << n);
            let d = backoff(n, cap, "inc");
            assert!(d >= full / 2 && d <= full, "attempt {n}: {d:?}");
            assert_eq!(d, backoff(n, cap, "inc"), "deterministic");
        }
        assert!(backoff(40, cap, "inc") <= cap);
        assert!(backoff(40, cap, "inc") >= cap / 2);
        assert_eq!(backoff(3, Duration::ZERO, "inc"), Duration::ZERO);
    }
}
