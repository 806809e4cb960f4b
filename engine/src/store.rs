//! Durable state in RocksDB: series state, source offsets and delivery watermarks.
//!
//! A checkpoint is one atomic [`WriteBatch`], written with a synced WAL: the changed series'
//! detector snapshots, the deletions of evicted series, and the next offset of every owned
//! partition. State and input position therefore always agree after a crash; on restart the
//! engine seeks to the stored offsets and replays, and because detectors run on event time the
//! replay re-derives the same anomalies.
//!
//! Delivery watermarks are written outside checkpoints, as outputs are acknowledged: they say
//! which re-derived outputs a replay must not publish again.
//!
//! Keys (topic names, not indices, so a reordered config still finds its state):
//! - `o\0<topic>\0<partition u32 BE>` → next offset (i64 BE)
//! - `d\0<topic>\0<partition u32 BE>` → delivery watermark (offset i64 BE, index u32 BE)
//! - `s\0<topic>\0<partition u32 BE><slot u64 BE>` → a stored series (see [`StoredSeries`])
//! - `c\0correlator` → the correlator's snapshot (written in the same checkpoint batch)
//! - `n\0…` → the notification outbox and its markers (see `crate::notify`)

use std::path::Path;
use std::sync::Arc;

use rocksdb::{DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::series::{Pending, SeriesKey};

/// Key of the correlator's snapshot (one per store: the correlator sees every partition).
const CORRELATOR_KEY: &[u8] = b"c\0correlator";

/// Layout version of [`StoredSeries`] records; bumped when the layout changes.
const SERIES_FORMAT: u8 = 1;

/// A failure of the state store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("state store {operation} failed")]
    Rocks {
        /// What was being done.
        operation: &'static str,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },
    /// A stored record does not decode.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// Maps a RocksDB error to a [`StoreError`] naming what was being done.
pub(crate) fn rocks(operation: &'static str) -> impl FnOnce(rocksdb::Error) -> StoreError {
    move |source| StoreError::Rocks { operation, source }
}

/// Position of an output among everything derived from one partition: the source offset and
/// the output's index among those derived from that record. Totally ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq {
    /// Source record offset.
    pub offset: i64,
    /// Index among the outputs of that record.
    pub index: u32,
}

/// One slot of a stored series: detector snapshot and pending onset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSlot {
    /// `Snapshot::as_bytes` of the detector.
    pub snapshot: Vec<u8>,
    /// A pending onset waiting for the minimum duration.
    pub pending: Option<Pending>,
}

/// A series as stored in a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSeries {
    /// Its identity.
    pub key: SeriesKey,
    /// Name of the rule that chose its detectors.
    pub rule: String,
    /// Fingerprint of that rule's detector settings: stored state is only reused when the
    /// rule still asks for the same detectors.
    pub fingerprint: u64,
    /// One per detector.
    pub slots: Vec<StoredSlot>,
}

impl StoredSeries {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![SERIES_FORMAT];
        // Plain structs of strings, numbers and byte vectors always serialize.
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "series",
            reason,
        };
        match bytes.split_first() {
            Some((&SERIES_FORMAT, body)) => {
                postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))
            }
            Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
            None => Err(corrupt("empty record".into())),
        }
    }
}

fn partition_key(tag: u8, topic: &str, partition: i32) -> Vec<u8> {
    let mut k = Vec::with_capacity(topic.len() + 8);
    k.push(tag);
    k.push(0);
    k.extend_from_slice(topic.as_bytes());
    k.push(0);
    k.extend_from_slice(&(partition as u32).to_be_bytes());
    k
}

fn series_key(topic: &str, partition: i32, slot: u64) -> Vec<u8> {
    let mut k = partition_key(b's', topic, partition);
    k.extend_from_slice(&slot.to_be_bytes());
    k
}

/// A stored series and its slot, or why its record does not decode.
pub type StoredEntry = (u64, Result<StoredSeries, StoreError>);

/// The changes of one checkpoint, written atomically by [`Store::commit`].
#[derive(Default)]
pub struct Checkpoint {
    batch: WriteBatch,
    series: usize,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("series", &self.series)
            .field("bytes", &self.batch.size_in_bytes())
            .finish()
    }
}

impl Checkpoint {
    /// Stores a series' state.
    pub fn put_series(&mut self, topic: &str, partition: i32, slot: u64, series: &StoredSeries) {
        self.batch
            .put(series_key(topic, partition, slot), series.encode());
        self.series += 1;
    }

    /// Deletes an evicted series' state.
    pub fn delete_series(&mut self, topic: &str, partition: i32, slot: u64) {
        self.batch.delete(series_key(topic, partition, slot));
    }

    /// Records the next offset to process in a partition.
    pub fn put_offset(&mut self, topic: &str, partition: i32, next: i64) {
        self.batch
            .put(partition_key(b'o', topic, partition), next.to_be_bytes());
    }

    /// Stores the correlator's state (incidents, remembered changes, learned edges).
    pub fn put_correlator(&mut self, snapshot: &[u8]) {
        self.batch.put(CORRELATOR_KEY, snapshot);
    }

    /// Series written so far.
    pub fn series(&self) -> usize {
        self.series
    }

    /// Bytes of the batch.
    pub fn bytes(&self) -> usize {
        self.batch.size_in_bytes()
    }
}

/// The RocksDB state store. Thread-safe: the delivery thread writes watermarks while the
/// pipeline writes checkpoints.
#[derive(Debug)]
pub struct Store {
    /// Shared so the notification outbox can keep its own keys in the same database.
    db: Arc<DB>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Detector state is small and hot; keep the memtable modest.
        opts.set_write_buffer_size(32 << 20);
        let db = DB::open(&opts, dir).map_err(rocks("open"))?;
        Ok(Self { db: Arc::new(db) })
    }

    /// The underlying database, for modules that keep their own key prefix in it (the
    /// notification outbox uses `n\0`).
    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    /// Writes a checkpoint atomically with a synced WAL.
    pub fn commit(&self, checkpoint: Checkpoint) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db
            .write_opt(checkpoint.batch, &wo)
            .map_err(rocks("checkpoint write"))
    }

    /// The checkpointed next offset of a partition.
    pub fn offset(&self, topic: &str, partition: i32) -> Result<Option<i64>, StoreError> {
        let v = self
            .db
            .get(partition_key(b'o', topic, partition))
            .map_err(rocks("offset read"))?;
        v.map(|b| {
            <[u8; 8]>::try_from(b.as_slice())
                .map(i64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    what: "offset",
                    reason: format!("{} bytes instead of 8", b.len()),
                })
        })
        .transpose()
    }

    /// The correlator's snapshot from the last checkpoint, if any.
    pub fn correlator(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get(CORRELATOR_KEY)
            .map_err(rocks("correlator read"))
    }

    /// The delivery watermark of a partition: every output at or before it was delivered.
    pub fn delivered(&self, topic: &str, partition: i32) -> Result<Option<Seq>, StoreError> {
        let v = self
            .db
            .get(partition_key(b'd', topic, partition))
            .map_err(rocks("watermark read"))?;
        v.map(|b| {
            if b.len() != 12 {
                return Err(StoreError::Corrupt {
                    what: "delivery watermark",
                    reason: format!("{} bytes instead of 12", b.len()),
                });
            }
            let mut o = [0u8; 8];
            o.copy_from_slice(&b[..8]);
            let mut i = [0u8; 4];
            i.copy_from_slice(&b[8..]);
            Ok(Seq {
                offset: i64::from_be_bytes(o),
                index: u32::from_be_bytes(i),
            })
        })
        .transpose()
    }

    /// Advances the delivery watermark of a partition. Not synced: it must survive a process
    /// crash (the OS still holds the WAL), and losing it to a power cut only re-publishes
    /// outputs that consumers already deduplicate by id.
    pub fn set_delivered(&self, topic: &str, partition: i32, seq: Seq) -> Result<(), StoreError> {
        let mut v = Vec::with_capacity(12);
        v.extend_from_slice(&seq.offset.to_be_bytes());
        v.extend_from_slice(&seq.index.to_be_bytes());
        self.db
            .put(partition_key(b'd', topic, partition), v)
            .map_err(rocks("watermark write"))
    }

    /// Every stored series of a partition, with its slot. Records that do not decode are
    /// returned as errors (the caller counts and drops them) rather than failing the partition.
    pub fn series(&self, topic: &str, partition: i32) -> Result<Vec<StoredEntry>, StoreError> {
        let prefix = partition_key(b's', topic, partition);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator(IteratorMode::From(&prefix, Direction::Forward))
        {
            let (k, v) = item.map_err(rocks("series scan"))?;
            if !k.starts_with(&prefix) {
                break;
            }
            let Ok(slot) = <[u8; 8]>::try_from(&k[prefix.len()..]) else {
                continue;
            };
            out.push((u64::from_be_bytes(slot), StoredSeries::decode(&v)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_detectors::{Detector, DetectorSpec, EventTime, Snapshot};

    fn stored(name: &str) -> StoredSeries {
        let mut d = DetectorSpec::default_for("ewma").unwrap().build();
        for i in 0..50 {
            d.observe(EventTime::from_millis(i * 1000), (i % 7) as f64);
        }
        StoredSeries {
            key: SeriesKey {
                name: name.into(),
                labels: vec![("service".into(), "a".into())].into(),
            },
            rule: "default".into(),
            fingerprint: 7,
            slots: vec![StoredSlot {
                snapshot: d.snapshot().as_bytes().to_vec(),
                pending: None,
            }],
        }
    }

    #[test]
    fn checkpoint_round_trips_series_offsets_and_deletes_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut cp = Checkpoint::default();
            cp.put_series("m", 0, 1, &stored("a"));
            cp.put_series("m", 0, 2, &stored("b"));
            cp.put_series("m", 1, 1, &stored("c"));
            cp.put_offset("m", 0, 42);
            store.commit(cp).unwrap();
            let mut cp = Checkpoint::default();
            cp.delete_series("m", 0, 2);
            cp.put_offset("m", 0, 50);
            store.commit(cp).unwrap();
            store
                .set_delivered(
                    "m",
                    0,
                    Seq {
                        offset: 48,
                        index: 2,
                    },
                )
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.offset("m", 0).unwrap(), Some(50));
        assert_eq!(store.offset("m", 1).unwrap(), None);
        assert_eq!(store.offset("m2", 0).unwrap(), None);
        assert_eq!(
            store.delivered("m", 0).unwrap(),
            Some(Seq {
                offset: 48,
                index: 2
            })
        );
        let p0 = store.series("m", 0).unwrap();
        assert_eq!(p0.len(), 1, "the deleted series is gone");
        assert_eq!(p0[0].0, 1);
        let s = p0[0].1.as_ref().unwrap();
        assert_eq!(*s, stored("a"));
        assert!(
            Snapshot::from_bytes(s.slots[0].snapshot.clone())
                .restore()
                .is_ok()
        );
        // Partition 1's series do not leak into partition 0's scan, nor a prefix topic's.
        assert_eq!(store.series("m", 1).unwrap().len(), 1);
        assert!(store.series("", 0).unwrap().is_empty());
    }

    #[test]
    fn corrupt_series_record_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.db.put(series_key("m", 0, 9), b"\x01garbage").unwrap();
        store.db.put(series_key("m", 0, 10), b"\x07").unwrap();
        let mut cp = Checkpoint::default();
        cp.put_series("m", 0, 11, &stored("ok"));
        store.commit(cp).unwrap();
        let all = store.series("m", 0).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].1.is_err());
        assert!(
            all[1]
                .1
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("version 7")
        );
        assert!(all[2].1.is_ok());
    }
}
