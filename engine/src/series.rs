//! Live series state: one detector set per series, sharded by the Kafka partition that owns it,
//! capped by count and by bytes, least-recently-used series evicted first.
//!
//! Why shards per partition: a partition is the unit of ownership. On assignment its series are
//! restored together, on revocation they are checkpointed and dropped together, and a
//! checkpoint pairs each shard with its partition's offset. The caps are global (one budget for
//! the process), so eviction takes the least recently touched series across all shards.
//!
//! Series are looked up by the 64-bit hash of their key; the full key is kept and compared, so a
//! hash collision probes onward instead of mixing two series.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use faultline_config::RouteId;
use faultline_decode::Sample;
use faultline_detectors::{AnyDetector, Detector};
use hashlink::LinkedHashMap;
use serde::{Deserialize, Serialize};

/// Which partition of which configured topic: an index into the engine's topic list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    /// Index of the topic in the configuration.
    pub topic: u16,
    /// Kafka partition number.
    pub partition: i32,
}

/// A series' identity: metric name and its label set, sorted by label name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Metric name.
    pub name: Box<str>,
    /// Labels, sorted by name, names unique.
    pub labels: Box<[(Box<str>, Box<str>)]>,
}

impl SeriesKey {
    /// The owned key of a decoded sample.
    pub fn of(sample: &Sample<'_>) -> Self {
        Self {
            name: sample.name.as_ref().into(),
            labels: sample
                .labels
                .iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Whether `sample` belongs to this series (no allocation).
    pub fn matches(&self, sample: &Sample<'_>) -> bool {
        *self.name == *sample.name
            && self.labels.len() == sample.labels.len()
            && self
                .labels
                .iter()
                .zip(sample.labels.iter())
                .all(|((k, v), (sk, sv))| **k == *sk && **v == *sv)
    }

    /// Value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    /// Label pairs as string slices.
    pub fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.labels.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Heap bytes held by the key.
    pub fn heap_bytes(&self) -> usize {
        self.name.len()
            + self.labels.len() * std::mem::size_of::<(Box<str>, Box<str>)>()
            + self
                .labels
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

pub use faultline_config::judge::Pending;

/// One detector of a series and its pending onset.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// The detector.
    pub detector: AnyDetector,
    /// An onset not yet reported because the rule's minimum duration has not passed.
    pub pending: Option<Pending>,
}

/// A live series.
#[derive(Debug)]
pub struct Series {
    /// Its identity.
    pub key: SeriesKey,
    /// The rule that chose its detectors.
    pub route: RouteId,
    /// One per detector of the rule, in the rule's order.
    pub slots: Vec<Slot>,
    /// Bytes charged against the cap (key + detectors), refreshed at checkpoints.
    pub bytes: usize,
    /// Global use stamp, for least-recently-used eviction across shards.
    touched: u64,
    /// Changed since the last checkpoint.
    pub dirty: bool,
}

impl Series {
    /// A series with fresh detectors.
    pub fn new(key: SeriesKey, route: RouteId, slots: Vec<Slot>) -> Self {
        let mut s = Self {
            key,
            route,
            slots,
            bytes: 0,
            touched: 0,
            dirty: true,
        };
        s.bytes = s.measure();
        s
    }

    /// Bytes this series holds: key, slots and detector state.
    pub fn measure(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.key.heap_bytes()
            + self
                .slots
                .iter()
                .map(|s| std::mem::size_of::<Slot>() + s.detector.state_bytes())
                .sum::<usize>()
    }
}

/// Identity hasher: keys are already xxh3 hashes.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else rather than lose it.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type LruMap = LinkedHashMap<u64, Series, BuildHasherDefault<KeyHasher>>;

/// The series of one partition, least recently used first.
#[derive(Debug, Default)]
pub struct Shard {
    series: LruMap,
    /// Slots evicted since the last checkpoint: the checkpoint deletes their stored state.
    pub removed: Vec<u64>,
}

impl Shard {
    /// Every series, least recently used first, with its slot key.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Series)> {
        self.series.iter().map(|(k, v)| (*k, v))
    }

    /// Every series, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut Series)> {
        self.series.iter_mut().map(|(k, v)| (*k, v))
    }

    /// Number of live series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the shard holds no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// Counts what a lookup did, for telemetry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Churn {
    /// Series created.
    pub created: u64,
    /// Series evicted to stay within the caps.
    pub evicted: u64,
}

/// How many slots after a colliding one are probed before giving up.
const MAX_PROBES: u64 = 16;

/// All live series of the partitions this process owns.
#[derive(Debug)]
pub struct SeriesTable {
    shards: HashMap<PartitionId, Shard>,
    max_series: usize,
    max_bytes: u64,
    count: usize,
    bytes: u64,
    clock: u64,
}

impl SeriesTable {
    /// An empty table with the given caps.
    pub fn new(max_series: usize, max_bytes: u64) -> Self {
        Self {
            shards: HashMap::new(),
            max_series: max_series.max(1),
            max_bytes,
            count: 0,
            bytes: 0,
            clock: 0,
        }
    }

    /// Live series in all shards.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no series is live.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes charged by all live series.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Creates the (empty) shard of a newly owned partition.
    pub fn add_shard(&mut self, pid: PartitionId) -> &mut Shard {
        self.shards.entry(pid).or_default()
    }

    /// The shard of `pid`, if owned.
    pub fn shard(&self, pid: PartitionId) -> Option<&Shard> {
        self.shards.get(&pid)
    }

    /// The shard of `pid`, mutably, if owned.
    pub fn shard_mut(&mut self, pid: PartitionId) -> Option<&mut Shard> {
        self.shards.get_mut(&pid)
    }

    /// Owned partitions.
    pub fn partitions(&self) -> impl Iterator<Item = PartitionId> + '_ {
        self.shards.keys().copied()
    }

    /// Drops the shard of a partition no longer owned.
    pub fn remove_shard(&mut self, pid: PartitionId) -> Option<Shard> {
        let shard = self.shards.remove(&pid)?;
        self.count -= shard.series.len();
        self.bytes -= shard.series.values().map(|s| s.bytes as u64).sum::<u64>();
        Some(shard)
    }

    /// Puts a restored series into its shard (creating the shard), then evicts to fit the caps.
    pub fn restore(&mut self, pid: PartitionId, slot: u64, mut series: Series) -> Churn {
        self.clock += 1;
        series.touched = self.clock;
        series.dirty = false;
        series.bytes = series.measure();
        let added = series.bytes as u64;
        let shard = self.shards.entry(pid).or_default();
        if let Some(old) = shard.series.insert(slot, series) {
            self.count -= 1;
            self.bytes -= old.bytes as u64;
        }
        self.count += 1;
        self.bytes += added;
        let mut churn = Churn::default();
        self.evict_to_fit(0, &mut churn);
        churn
    }

    /// The series `sample` belongs to in partition `pid`, created with `make` if new.
    ///
    /// Returns `None` when `pid` is not owned. Marks the series most recently used; creating one
    /// may evict the least recently used series of any shard to stay within the caps.
    pub fn get_or_create(
        &mut self,
        pid: PartitionId,
        sample: &Sample<'_>,
        churn: &mut Churn,
        make: impl FnOnce() -> Series,
    ) -> Option<&mut Series> {
        self.clock += 1;
        let clock = self.clock;
        let base = sample.series_hash();
        let shard = self.shards.get(&pid)?;
        let mut slot = base;
        let mut found = None;
        for probe in 0..MAX_PROBES {
            slot = base.wrapping_add(probe);
            match shard.series.get(&slot) {
                Some(s) if s.key.matches(sample) => {
                    found = Some(slot);
                    break;
                }
                Some(_) => continue,
                None => break,
            }
        }
        if let Some(slot) = found {
            let shard = self.shards.get_mut(&pid)?;
            let series = shard.series.to_back(&slot)?;
            series.touched = clock;
            return Some(series);
        }
        let mut series = make();
        series.touched = clock;
        let added = series.bytes as u64;
        self.evict_to_fit(added, churn);
        churn.created += 1;
        self.count += 1;
        self.bytes += added;
        let shard = self.shards.get_mut(&pid)?;
        // A stale delete queued for this slot must not remove the new series' state.
        shard.removed.retain(|s| *s != slot);
        shard.series.insert(slot, series);
        shard.series.get_mut(&slot)
    }

    /// Re-measures the series changed since the last checkpoint (only they can have grown),
    /// then evicts to fit the caps. Called at checkpoints, before dirty flags are cleared.
    pub fn remeasure(&mut self) {
        for shard in self.shards.values_mut() {
            for s in shard.series.values_mut().filter(|s| s.dirty) {
                let old = s.bytes as u64;
                s.bytes = s.measure();
                self.bytes = self.bytes - old + s.bytes as u64;
            }
        }
        let mut churn = Churn::default();
        self.evict_to_fit(0, &mut churn);
    }

    /// Evicts least-recently-used series until `extra` more bytes and one more series fit
    /// (or, with `extra == 0`, until the table is within its caps).
    fn evict_to_fit(&mut self, extra: u64, churn: &mut Churn) {
        let need_slot = usize::from(extra > 0);
        while self.count > 0
            && (self.count + need_slot > self.max_series || self.bytes + extra > self.max_bytes)
        {
            // The globally least recently used series heads one of the shards' lists.
            let Some(pid) = self
                .shards
                .iter()
                .filter_map(|(pid, s)| s.series.front().map(|(_, v)| (v.touched, *pid)))
                .min()
                .map(|(_, pid)| pid)
            else {
                break;
            };
            let Some(shard) = self.shards.get_mut(&pid) else {
                break;
            };
            let Some((slot, old)) = shard.series.pop_front() else {
                break;
            };
            shard.removed.push(slot);
            self.count -= 1;
            self.bytes -= old.bytes as u64;
            churn.evicted += 1;
        }
    }
}

#[cfg(test)]
mod tests;
