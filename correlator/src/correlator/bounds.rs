//! The correlator's bookkeeping: the bounds on open and resolved incidents, the entity
//! index and incident ids, the neighbourhood of an entity, and the set of recent signal ids.

use std::collections::{BTreeSet, HashSet, VecDeque};

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::incident::{Ctx, Incident};
use super::{Correlator, SEEN_IDS};
use crate::topology::Topology;
use crate::types::{IncidentUpdate, Millis, Status};

impl Correlator {
    /// Force-resolves the oldest open incidents until a new one fits under `max_open`.
    pub(super) fn make_room(&mut self, out: &mut Vec<IncidentUpdate>) {
        let mut open: Vec<(Millis, String)> = self
            .incidents
            .values()
            .filter(|i| i.status == Status::Open)
            .map(|i| (i.opened_at, i.id.clone()))
            .collect();
        let max = self.settings.max_open.max(1);
        if open.len() < max {
            return;
        }
        open.sort_unstable();
        let mut gone = Vec::new();
        let cx = Ctx {
            topology: &self.topology,
            settings: &self.settings,
            now: self.clock,
        };
        for (_, id) in &open[..=open.len() - max] {
            if let Some(inc) = self.incidents.get_mut(id)
                && !inc.resolve(cx, out)
            {
                gone.push(id);
            }
        }
        for id in gone {
            self.remove(id);
        }
        self.trim_resolved();
        self.next_due = self.earliest_due();
    }

    /// Keeps at most `max_open` resolved incidents (the most recently resolved).
    pub(super) fn trim_resolved(&mut self) {
        let mut resolved: Vec<(Millis, String)> = self
            .incidents
            .values()
            .filter_map(|i| i.resolved_at.map(|t| (t, i.id.clone())))
            .collect();
        let max = self.settings.max_open.max(1);
        if resolved.len() <= max {
            return;
        }
        resolved.sort_unstable();
        for (_, id) in &resolved[..resolved.len() - max] {
            self.remove(id);
        }
    }

    /// Notes that incident `id` holds `entity`.
    pub(super) fn index(&mut self, id: &str, entity: &str) {
        match self.by_entity.get_mut(entity) {
            Some(ids) => {
                ids.insert(id.to_owned());
            }
            None => {
                self.by_entity
                    .insert(entity.to_owned(), BTreeSet::from([id.to_owned()]));
            }
        }
    }

    /// Forgets that incident `id` holds `entities`.
    pub(super) fn unindex(&mut self, id: &str, entities: &BTreeSet<String>) {
        for e in entities {
            if let Some(ids) = self.by_entity.get_mut(e) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_entity.remove(e);
                }
            }
        }
    }

    /// Panics unless the entity index is exactly what the incidents hold.
    #[cfg(test)]
    pub(crate) fn assert_index_consistent(&self) {
        let mut expected: std::collections::HashMap<String, BTreeSet<String>> =
            std::collections::HashMap::new();
        for inc in self.incidents.values() {
            for e in &inc.entities {
                expected
                    .entry(e.clone())
                    .or_default()
                    .insert(inc.id.clone());
            }
        }
        assert_eq!(self.by_entity, expected);
    }

    /// Takes incident `id` out of the incidents and the entity index.
    pub(super) fn remove(&mut self, id: &str) -> Option<Incident> {
        let inc = self.incidents.remove(id)?;
        self.unindex(id, &inc.entities);
        Some(inc)
    }

    /// 16 hex digits of the first member's signal id hash, re-seeded on a clash with a
    /// kept incident.
    pub(super) fn fresh_id(&self, signal_id: &str) -> String {
        let mut id = format!("{:016x}", xxh3_64(signal_id.as_bytes()));
        let mut seed = 0;
        while self.incidents.contains_key(&id) {
            seed += 1;
            id = format!("{:016x}", xxh3_64_with_seed(signal_id.as_bytes(), seed));
        }
        id
    }
}

/// Names within `max_hops` of `entity` (itself included, known to the graph or not).
pub(super) fn near<'t>(
    topology: &'t Topology,
    entity: &'t str,
    max_hops: u32,
) -> BTreeSet<&'t str> {
    let mut names = BTreeSet::from([entity]);
    if let Some(n) = topology.node(entity) {
        names.extend(
            topology
                .within(n, max_hops)
                .into_keys()
                .map(|m| topology.name(m)),
        );
    }
    names
}

/// A bounded set of recent signal-id hashes.
#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    pub(super) order: VecDeque<u64>,
    set: HashSet<u64>,
}

impl Seen {
    /// Returns `false` if `h` was already there.
    pub(super) fn insert(&mut self, h: u64) -> bool {
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > SEEN_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}
