//! The partition lifecycle: restore on assignment, checkpoint, drop on revocation.

use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use tracing::{debug, warn};

use super::{PartitionState, Pipeline, PipelineError, Sink};
use faultline_detectors::{Detector, Snapshot};

use crate::series::{PartitionId, Series, Slot};
use crate::store::{Checkpoint, StoredSeries, StoredSlot};
use crate::telemetry;

impl<S: Sink> Pipeline<S> {
    /// Takes ownership of a partition: restores its series and returns the offset to resume
    /// from (`None`: nothing checkpointed, start where the consumer group says).
    pub fn assign(
        &mut self,
        pid: PartitionId,
        partition: i32,
    ) -> Result<Option<i64>, PipelineError> {
        let topic = self.topics[usize::from(pid.topic)].name.clone();
        let offset = self.store.offset(&topic, partition)?;
        let delivered = self.store.delivered(&topic, partition)?;
        self.table.add_shard(pid);
        let (mut restored, mut discarded) = (0usize, 0usize);
        for (slot, stored) in self.store.series(&topic, partition)? {
            match stored.map(|s| self.rebuild(s)) {
                Ok(Some(series)) => {
                    let churn = self.table.restore(pid, slot, series);
                    self.meters.evicted.increment(churn.evicted);
                    restored += 1;
                }
                Ok(None) | Err(_) => {
                    discarded += 1;
                    if let Some(shard) = self.table.shard_mut(pid) {
                        shard.removed.push(slot);
                    }
                }
            }
        }
        self.meters.discarded.increment(discarded as u64);
        let offset_gauge = telemetry::next_offset_gauge(&topic, partition);
        if let Some(o) = offset {
            offset_gauge.set(o as f64);
        }
        self.parts.insert(
            pid,
            PartitionState {
                next_offset: offset,
                replay_until: delivered,
                offset_gauge,
                latest: None,
                last_record: None,
                assigned: Instant::now(),
                lag: 0,
            },
        );
        self.sink.watch(pid, &topic, partition, delivered);
        self.meters.partitions.set(self.parts.len() as f64);
        self.publish_gauges();
        debug!(topic = %topic, partition, restored, discarded, offset = ?offset, "partition assigned");
        Ok(offset)
    }

    /// Gives up partitions: checkpoints everything first, then drops their state.
    pub fn revoke(&mut self, pids: &[PartitionId]) -> Result<(), PipelineError> {
        self.checkpoint()?;
        for pid in pids {
            self.table.remove_shard(*pid);
            self.parts.remove(pid);
            self.sink.unwatch(*pid);
        }
        self.meters.partitions.set(self.parts.len() as f64);
        self.publish_gauges();
        debug!(partitions = pids.len(), "partitions revoked");
        Ok(())
    }

    /// Rebuilds a stored series if its rule still asks for the same detectors.
    fn rebuild(&self, stored: StoredSeries) -> Option<Series> {
        let route = self
            .config
            .route(&stored.key.name, stored.key.label_pairs());
        let rule = self.config.rule(route);
        if rule.name != stored.rule
            || self.fingerprints.get(&rule.name) != Some(&stored.fingerprint)
            || stored.slots.len() != rule.detectors.len()
        {
            debug!(series = %stored.key.name, "stored state is for another rule; starting fresh");
            return None;
        }
        let slots = stored
            .slots
            .into_iter()
            .map(|slot| {
                let detector = Snapshot::from_bytes(slot.snapshot).restore().ok()?;
                Some(Slot {
                    detector,
                    pending: slot.pending,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Series::new(stored.key, route, slots))
    }

    /// Writes a checkpoint of every owned partition; `false` if it was skipped because
    /// outputs are still undelivered (the next one will try again).
    pub fn checkpoint(&mut self) -> Result<bool, PipelineError> {
        let started = Instant::now();
        if !self.correlation.settled() {
            counter!(telemetry::CHECKPOINTS_SKIPPED).increment(1);
            warn!("checkpoint skipped: incident updates not yet recorded");
            return Ok(false);
        }
        if !self.sink.flush(Duration::from_secs(30)) {
            counter!(telemetry::CHECKPOINTS_SKIPPED).increment(1);
            warn!("checkpoint skipped: outputs still undelivered");
            return Ok(false);
        }
        self.table.remeasure();
        let mut cp = Checkpoint::default();
        let pids: Vec<PartitionId> = self.parts.keys().copied().collect();
        for pid in pids {
            let topic = self.topics[usize::from(pid.topic)].name.clone();
            let Some(shard) = self.table.shard_mut(pid) else {
                continue;
            };
            for slot in shard.removed.drain(..) {
                cp.delete_series(&topic, pid.partition, slot);
            }
            for (slot, series) in shard.iter_mut() {
                if !series.dirty {
                    continue;
                }
                series.dirty = false;
                let rule = self.config.rule(series.route);
                let stored = StoredSeries {
                    key: series.key.clone(),
                    rule: rule.name.clone(),
                    fingerprint: self.fingerprints.get(&rule.name).copied().unwrap_or(0),
                    slots: series
                        .slots
                        .iter()
                        .map(|s| StoredSlot {
                            snapshot: s.detector.snapshot().as_bytes().to_vec(),
                            pending: s.pending,
                        })
                        .collect(),
                };
                cp.put_series(&topic, pid.partition, slot, &stored);
            }
            if let Some(next) = self.parts.get(&pid).and_then(|p| p.next_offset) {
                cp.put_offset(&topic, pid.partition, next);
            }
        }
        cp.put_correlator(&self.correlation.correlator().snapshot());
        let written = cp.series();
        self.store.commit(cp)?;
        counter!(telemetry::CHECKPOINTS).increment(1);
        gauge!(telemetry::CHECKPOINT_SECONDS).set(started.elapsed().as_secs_f64());
        gauge!(telemetry::CHECKPOINT_SERIES).set(written as f64);
        self.publish_gauges();
        debug!(series = written, elapsed = ?started.elapsed(), "checkpoint written");
        Ok(true)
    }
}
