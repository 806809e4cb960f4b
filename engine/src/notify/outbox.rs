//! The outbox in RocksDB: queued entries and "recorded through revision R" markers.
//!
//! Keys (receiver names and incident ids are NUL-free; revisions big-endian so a prefix scan
//! returns an incident's entries in revision order):
//! - `n\0q\0<receiver>\0<incident_id>\0<revision u32 BE>` → a queued entry:
//!   `[ENTRY_FORMAT][enqueued wall-clock ms i64 BE][postcard IncidentUpdate]`; deleted once
//!   delivered or permanently failed.
//! - `n\0m\0<receiver>\0<incident_id>` → the marker:
//!   `[MARKER_FORMAT][revision u32 BE][event time i64 BE][flags u8]` — the highest revision
//!   ever recorded for the receiver (queued, or skipped by the severity filter), the event
//!   time of that update, bit 0 = resolved, bit 1 = some revision was queued (so the resolve
//!   is owed even below the minimum severity).
//!
//! Entries and their marker are written in one synced batch by `enqueue`, the only writer of
//! markers, so "revision ≤ marker" means "queued or already delivered": a replay is dropped
//! without a separate delivered marker (delivered = recorded and no longer queued).
//!
//! Markers are garbage-collected by event time: a marker whose incident has not been
//! updated for [`MARKER_TTL_MILLIS`] (7 days) of event time before the newest update seen is
//! deleted — far beyond any replay, which starts at the last checkpoint — and beyond
//! [`MARKER_CAP`] markers the oldest go first. Collection runs at start and whenever event
//! time advanced by [`GC_EVERY_MILLIS`].

use std::collections::HashMap;
use std::sync::Arc;

use faultline_correlator::{IncidentUpdate, Millis, Status};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch, WriteOptions};
use tracing::{error, info};

use super::NotifyError;
use super::deliver::{Entry, Receiver};
use crate::store::{StoreError, rocks};

const ENTRY_FORMAT: u8 = 1;
const MARKER_FORMAT: u8 = 1;
const QUEUE: &[u8] = b"n\0q\0";
const MARKER: &[u8] = b"n\0m\0";

/// Markers of incidents idle this long (event time) are deleted.
pub const MARKER_TTL_MILLIS: Millis = 7 * 24 * 3600 * 1000;
/// At most this many markers are kept (oldest deleted first).
pub const MARKER_CAP: usize = 200_000;
/// Event time between two collections.
pub const GC_EVERY_MILLIS: Millis = 3600 * 1000;

fn queue_prefix(receiver: &str) -> Vec<u8> {
    let mut k = QUEUE.to_vec();
    k.extend_from_slice(receiver.as_bytes());
    k.push(0);
    k
}

/// Key of one queued entry.
pub(super) fn queue_key(receiver: &str, incident: &str, revision: u32) -> Vec<u8> {
    let mut k = queue_prefix(receiver);
    k.extend_from_slice(incident.as_bytes());
    k.push(0);
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

fn marker_key(receiver: &str, incident: &str) -> Vec<u8> {
    let mut k = MARKER.to_vec();
    k.extend_from_slice(receiver.as_bytes());
    k.push(0);
    k.extend_from_slice(incident.as_bytes());
    k
}

/// The highest revision recorded for one receiver × incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Marker {
    pub revision: u32,
    pub at: Millis,
    pub resolved: bool,
    pub notified: bool,
}

impl Marker {
    fn encode(self) -> [u8; 14] {
        let mut v = [0u8; 14];
        v[0] = MARKER_FORMAT;
        v[1..5].copy_from_slice(&self.revision.to_be_bytes());
        v[5..13].copy_from_slice(&self.at.to_be_bytes());
        v[13] = u8::from(self.resolved) | (u8::from(self.notified) << 1);
        v
    }

    fn decode(b: &[u8]) -> Result<Self, StoreError> {
        if b.len() != 14 || b[0] != MARKER_FORMAT {
            return Err(StoreError::Corrupt {
                what: "notification marker",
                reason: format!("{} bytes, format {:?}", b.len(), b.first()),
            });
        }
        let mut r = [0u8; 4];
        r.copy_from_slice(&b[1..5]);
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[5..13]);
        Ok(Self {
            revision: u32::from_be_bytes(r),
            at: i64::from_be_bytes(a),
            resolved: b[13] & 1 != 0,
            notified: b[13] & 2 != 0,
        })
    }
}

fn encode_entry(enqueued_ms: i64, update: &IncidentUpdate) -> Vec<u8> {
    let mut v = vec![ENTRY_FORMAT];
    v.extend_from_slice(&enqueued_ms.to_be_bytes());
    // Plain data (strings, numbers, options, vectors) always serializes with postcard.
    v.extend(postcard::to_stdvec(update).unwrap_or_default());
    v
}

fn decode_entry(b: &[u8]) -> Result<(i64, IncidentUpdate), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: "notification entry",
        reason,
    };
    match b.split_first() {
        Some((&ENTRY_FORMAT, rest)) if rest.len() >= 8 => {
            let mut t = [0u8; 8];
            t.copy_from_slice(&rest[..8]);
            let update = postcard::from_bytes(&rest[8..]).map_err(|e| corrupt(e.to_string()))?;
            Ok((i64::from_be_bytes(t), update))
        }
        Some((v, _)) => Err(corrupt(format!("format {v} or truncated"))),
        None => Err(corrupt("empty record".into())),
    }
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The queued entries of one receiver, grouped by incident, each in revision order.
/// Entries that do not decode are logged and deleted (they could never be sent).
pub(super) fn load(db: &DB, receiver: &str) -> Result<Vec<(String, Vec<Entry>)>, StoreError> {
    let prefix = queue_prefix(receiver);
    let mut out: Vec<(String, Vec<Entry>)> = Vec::new();
    let mut corrupt = Vec::new();
    for item in db.iterator(IteratorMode::From(&prefix, Direction::Forward)) {
        let (k, v) = item.map_err(rocks("outbox scan"))?;
        if !k.starts_with(&prefix) {
            break;
        }
        let decoded = decode_entry(&v).and_then(|(enqueued_ms, update)| {
            let expect = queue_key(receiver, &update.incident_id, update.revision);
            if *k == *expect {
                Ok((enqueued_ms, update))
            } else {
                Err(StoreError::Corrupt {
                    what: "notification entry",
                    reason: "key and content disagree".into(),
                })
            }
        });
        match decoded {
            Ok((enqueued_ms, update)) => {
                let entry = Entry {
                    revision: update.revision,
                    enqueued_ms,
                    update: Arc::new(update),
                };
                match out.last_mut() {
                    Some((id, list)) if *id == entry.update.incident_id => list.push(entry),
                    _ => out.push((entry.update.incident_id.clone(), vec![entry])),
                }
            }
            Err(e) => {
                error!(receiver, error = %e, "dropping an unreadable outbox entry");
                corrupt.push(k);
            }
        }
    }
    for k in corrupt {
        db.delete(k).map_err(rocks("outbox delete"))?;
    }
    Ok(out)
}

/// Records `updates` for every receiver in one synced batch; returns what to queue in
/// memory: (receiver index, incident id, entry).
pub(super) fn record(
    db: &DB,
    book: &mut Book,
    receivers: &[Arc<Receiver>],
    updates: &[IncidentUpdate],
) -> Result<Vec<(usize, String, Entry)>, NotifyError> {
    let mut batch = WriteBatch::default();
    // Markers written earlier in this batch (the database does not see them yet).
    let mut overlay: HashMap<(usize, &str), Marker> = HashMap::new();
    let mut staged = Vec::new();
    let enqueued_ms = now_ms();
    for u in updates {
        if u.incident_id.contains('\0') {
            error!(incident_id = %u.incident_id.escape_debug(), "incident id with NUL not notified");
            continue;
        }
        let mut encoded: Option<Vec<u8>> = None;
        let mut shared: Option<Arc<IncidentUpdate>> = None;
        for (i, rx) in receivers.iter().enumerate() {
            let name = rx.spec.name.as_str();
            let mkey = marker_key(name, &u.incident_id);
            let prev = match overlay.get(&(i, u.incident_id.as_str())) {
                Some(m) => Some(*m),
                None => db
                    .get(&mkey)
                    .map_err(rocks("marker read"))?
                    .map(|b| Marker::decode(&b))
                    .transpose()?,
            };
            if prev.is_some_and(|m| u.revision <= m.revision) {
                super::deliver::skipped(name, "duplicate");
                continue;
            }
            let notified = prev.is_some_and(|m| m.notified);
            let send =
                u.severity >= rx.spec.min_severity || (u.status == Status::Resolved && notified);
            let marker = Marker {
                revision: u.revision,
                at: u.updated_at,
                resolved: u.status == Status::Resolved,
                notified: notified || send,
            };
            batch.put(&mkey, marker.encode());
            overlay.insert((i, u.incident_id.as_str()), marker);
            if !send {
                super::deliver::skipped(name, "below_min_severity");
                continue;
            }
            let bytes = encoded.get_or_insert_with(|| encode_entry(enqueued_ms, u));
            batch.put(queue_key(name, &u.incident_id, u.revision), &*bytes);
            let update = shared.get_or_insert_with(|| Arc::new(u.clone())).clone();
            staged.push((
                i,
                u.incident_id.clone(),
                Entry {
                    revision: u.revision,
                    enqueued_ms,
                    update,
                },
            ));
        }
        book.newest = book.newest.max(u.updated_at);
    }
    if !batch.is_empty() {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        db.write_opt(batch, &wo).map_err(rocks("outbox write"))?;
    }
    Ok(staged)
}

/// Deletes one delivered (or permanently failed) entry. Not synced: losing it to a power
/// cut re-sends an update whose idempotency key the receiver has seen.
pub(super) fn remove(db: &DB, receiver: &str, incident: &str, revision: u32) {
    if let Err(e) = db.delete(queue_key(receiver, incident, revision)) {
        error!(receiver, incident_id = incident, revision, error = %e,
            "delivered outbox entry not deleted; it will be sent again after a restart");
    }
}

/// Event-time bookkeeping for marker collection.
#[derive(Debug)]
pub(super) struct Book {
    /// Newest `updated_at` recorded (event time).
    pub newest: Millis,
    /// `newest` at the last collection.
    collected_at: Millis,
}

impl Book {
    /// Finds the newest marker time and collects once.
    pub fn open(db: &DB) -> Result<Self, StoreError> {
        let mut newest = Millis::MIN;
        for (_, m) in markers(db)? {
            newest = newest.max(m.at);
        }
        let mut book = Self {
            newest,
            collected_at: newest,
        };
        book.collect(db)?;
        Ok(book)
    }

    /// Collects when event time moved on by [`GC_EVERY_MILLIS`] since the last time.
    pub fn maybe_collect(&mut self, db: &DB) -> Result<(), StoreError> {
        if self.newest.saturating_sub(self.collected_at) >= GC_EVERY_MILLIS {
            self.collect(db)?;
        }
        Ok(())
    }

    /// Deletes markers idle for [`MARKER_TTL_MILLIS`], then the oldest beyond [`MARKER_CAP`].
    pub fn collect(&mut self, db: &DB) -> Result<usize, StoreError> {
        self.collected_at = self.newest;
        let horizon = self.newest.saturating_sub(MARKER_TTL_MILLIS);
        let mut kept = Vec::new();
        let mut batch = WriteBatch::default();
        let mut deleted = 0;
        for (k, m) in markers(db)? {
            if m.at < horizon {
                batch.delete(&k);
                deleted += 1;
            } else {
                kept.push((m.at, k));
            }
        }
        if kept.len() > MARKER_CAP {
            kept.sort_unstable();
            for (_, k) in &kept[..kept.len() - MARKER_CAP] {
                batch.delete(k);
                deleted += 1;
            }
        }
        if deleted > 0 {
            db.write(batch).map_err(rocks("marker collection"))?;
            info!(deleted, "expired notification markers deleted");
        }
        Ok(deleted)
    }
}

/// A marker's key and value.
type MarkerRecord = (Box<[u8]>, Marker);

fn markers(db: &DB) -> Result<Vec<MarkerRecord>, StoreError> {
    let mut out = Vec::new();
    for item in db.iterator(IteratorMode::From(MARKER, Direction::Forward)) {
        let (k, v) = item.map_err(rocks("marker scan"))?;
        if !k.starts_with(MARKER) {
            break;
        }
        match Marker::decode(&v) {
            Ok(m) => out.push((k, m)),
            Err(e) => error!(error = %e, "unreadable notification marker ignored"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        for m in [
            Marker {
                revision: 7,
                at: -5,
                resolved: true,
                notified: false,
            },
            Marker {
                revision: u32::MAX,
                at: i64::MAX,
                resolved: false,
                notified: true,
            },
        ] {
            assert_eq!(Marker::decode(&m.encode()).unwrap(), m);
        }
        assert!(Marker::decode(b"\x01abc").is_err());
    }

    #[test]
    fn queue_keys_sort_by_incident_then_revision() {
        let mut keys = [
            queue_key("r", "b", 1),
            queue_key("r", "a", 256),
            queue_key("r", "a", 2),
            queue_key("r", "ab", 1),
        ];
        keys.sort();
        assert_eq!(keys[0], queue_key("r", "a", 2));
        assert_eq!(keys[1], queue_key("r", "a", 256));
        assert_eq!(keys[2], queue_key("r", "ab", 1));
        // A receiver whose name extends another's does not share its prefix.
        assert!(!queue_key("rx", "a", 1).starts_with(&queue_prefix("r")));
    }
}
