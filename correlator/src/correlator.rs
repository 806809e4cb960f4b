//! The incident engine: groups anomalies into incidents along the topology, attaches change
//! events, and decides when each incident notifies, updates, resolves and reopens.
//!
//! Everything runs on event time. The clock is the highest time any input carried (signals,
//! changes, topology updates, watermarks via [`Correlator::advance`]); it never moves back.
//! With `Settings::clock_follows_inputs` off (the engine, which reads partitions running
//! ahead of one another) only [`Correlator::advance`] moves it, to a low watermark.
//! Timers (`group_wait`, `group_interval`, quiet period, reopen window) fire when the clock
//! passes them, at the clock's value: the same input sequence always yields the same updates,
//! and a snapshot taken between two inputs continues exactly like the uninterrupted run. All
//! state that affects output lives in ordered collections, so nothing depends on hash order.
//!
//! Timing follows Alertmanager: the first notification of an incident waits `group_wait`
//! after its first member so that the other symptoms arrive and rank with it; later changes
//! are batched to at most one update per `group_interval`.

mod bounds;
mod incident;
mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use xxhash_rust::xxh3::xxh3_64;

use self::bounds::{Seen, near};
use self::incident::{Ctx, Incident};
use self::snapshot::State;
pub use self::snapshot::{FORMAT_VERSION, SnapshotError};
use crate::settings::Settings;
use crate::topology::Topology;
use crate::types::{Change, IncidentUpdate, Millis, Signal, Status, TopologyUpdate};

/// Signal ids remembered for folding duplicates (hashes, oldest forgotten first).
const SEEN_IDS: usize = 16_384;
/// Change events remembered for later incidents (oldest dropped first).
const MAX_CHANGES: usize = 10_000;

/// Turns signals, change events and topology updates into incident updates.
#[derive(Debug, Clone)]
pub struct Correlator {
    topology: Topology,
    settings: Settings,
    /// Highest event time seen.
    clock: Millis,
    /// Open incidents and resolved ones kept for reopening, by id (the emission order).
    incidents: BTreeMap<String, Incident>,
    /// The ids of the incidents above that hold each entity: grouping and change events
    /// look up the entities near them instead of scanning every incident. Derived state
    /// (rebuilt on restore), kept in step by `index` and `remove`.
    by_entity: HashMap<String, BTreeSet<String>>,
    /// Change events by (at, id), for incidents that open later.
    changes: BTreeMap<(Millis, String), Change>,
    /// Recently seen signal ids, to fold redelivered anomalies.
    seen: Seen,
    /// No incident has anything to do before this clock (a lower bound), so most calls skip
    /// the pass over all incidents.
    next_due: Millis,
    /// Earliest learned-edge expiry, so most clock moves skip the pass over the edges.
    next_edge_expiry: Option<Millis>,
    /// Signals dropped because an incident opened by them would already be quiet.
    late: u64,
    /// Signals ignored for going the good way.
    good_way: u64,
}

impl Correlator {
    /// A correlator over the configured topology with no incidents.
    pub fn new(topology: Topology, settings: Settings) -> Self {
        let next_edge_expiry = topology.next_expiry();
        Self {
            topology,
            settings,
            clock: Millis::MIN,
            incidents: BTreeMap::new(),
            by_entity: HashMap::new(),
            changes: BTreeMap::new(),
            seen: Seen::default(),
            next_due: Millis::MAX,
            next_edge_expiry,
            late: 0,
            good_way: 0,
        }
    }

    /// The topology, with the learned edges currently alive.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Open incidents (not counting resolved ones kept for reopening).
    pub fn open_incidents(&self) -> usize {
        self.incidents
            .values()
            .filter(|i| i.status == Status::Open)
            .count()
    }

    /// The clock: the highest event time seen (`Millis::MIN` before any input).
    pub fn now(&self) -> Millis {
        self.clock
    }

    /// Signals dropped because they arrived so late that the incident they would open had
    /// already gone quiet.
    pub fn late_signals(&self) -> u64 {
        self.late
    }

    /// Signals ignored because they went against their metric's bad direction.
    pub fn good_way_signals(&self) -> u64 {
        self.good_way
    }

    /// A learned topology edge (topology topic). Also advances the clock to `u.at`; timers
    /// that become due by that fire on the next call that takes an output (any of
    /// [`Correlator::signal`], [`Correlator::change`], [`Correlator::advance`]).
    pub fn apply_topology(&mut self, u: &TopologyUpdate) {
        if self.settings.clock_follows_inputs {
            self.move_clock(u.at);
        }
        self.topology.apply(u);
        // A refresh or removal leaves the cached expiry early, which only costs one pass.
        if !u.remove
            && let Some(ttl) = u.ttl
        {
            let expires = u.at.saturating_add(ttl.max(0));
            self.next_edge_expiry = Some(self.next_edge_expiry.map_or(expires, |t| t.min(expires)));
        }
        self.expire_edges();
    }

    /// One anomaly. First advances the clock to `s.at` (emitting whatever became due), then
    /// folds it into the incidents and emits what that makes due.
    ///
    /// It joins the open incidents with a member entity within `max_hops` and a latest
    /// member within `window` of `s.at`; if several match they merge into the oldest. Else
    /// it reopens a resolved incident it would have joined (until `reopen_window` after the
    /// resolution), else it opens a new incident, unless it is so late (`s.at +
    /// quiet_period ≤ clock`) that the reopened or new incident would already be quiet: such
    /// signals are counted in [`Correlator::late_signals`] and dropped. A signal id seen
    /// recently is ignored.
    pub fn signal(&mut self, s: Signal, out: &mut Vec<IncidentUpdate>) {
        if self.settings.clock_follows_inputs {
            self.advance_to(s.at, out);
        }
        // Against the metric's bad direction (latency dropping, success rate rising): an
        // anomaly worth publishing, not a symptom of an incident.
        if !s.is_bad_way() {
            self.good_way += 1;
            return;
        }
        if !self.seen.insert(xxh3_64(s.id.as_bytes())) {
            return;
        }
        let near = near(&self.topology, &s.entity, self.settings.max_hops);
        let window = self.settings.window;
        let mut open: Vec<(Millis, &str)> = Vec::new();
        let mut resolved: Vec<(Millis, &str)> = Vec::new();
        let ids: BTreeSet<&str> = near
            .iter()
            .filter_map(|e| self.by_entity.get(*e))
            .flatten()
            .map(String::as_str)
            .collect();
        for inc in ids.into_iter().filter_map(|id| self.incidents.get(id)) {
            match inc.resolved_at {
                // Inside the incident's span, widened by the window: partitions read in
                // batches deliver anomalies out of event-time order.
                None if s.at >= inc.opened_at.saturating_sub(window)
                    && s.at <= inc.last_at.saturating_add(window) =>
                {
                    open.push((inc.opened_at, &inc.id))
                }
                Some(resolved_at)
                    if s.at >= inc.last_at.saturating_sub(window)
                        && s.at <= resolved_at.saturating_add(self.settings.reopen_window) =>
                {
                    resolved.push((inc.opened_at, &inc.id));
                }
                _ => {}
            }
        }
        open.sort_unstable();
        resolved.sort_unstable();
        let open: Vec<String> = open.into_iter().map(|(_, id)| id.to_owned()).collect();
        // Too late to open anything: it would be quiet already. It may still join an open
        // incident, but it neither reopens nor opens one.
        let late = s.at.saturating_add(self.settings.quiet_period) <= self.clock;
        let reopen = resolved
            .first()
            .filter(|_| !late)
            .map(|(_, id)| (*id).to_owned());

        let id = if let Some((survivor, absorbed)) = open.split_first() {
            for other in absorbed {
                self.merge(survivor, other, out);
            }
            survivor.clone()
        } else if let Some(id) = reopen {
            if let Some(inc) = self.incidents.get_mut(&id) {
                inc.status = Status::Open;
                inc.resolved_at = None;
                inc.reopened = inc.reopened.saturating_add(1);
                inc.reopen_pending = true;
            }
            id
        } else if late {
            self.late += 1;
            return;
        } else {
            self.make_room(out);
            let id = self.fresh_id(&s.id);
            let inc = Incident::open(id.clone(), &s);
            self.incidents.insert(id.clone(), inc);
            self.index(&id, &s.entity);
            self.attach_stored(&id, &s.entity);
            self.touched(&id);
            self.tick(out);
            return;
        };
        self.join(&id, &s);
        self.tick(out);
    }

    /// One change event (deploy/config). Attaches as evidence to the open incidents that
    /// involve its entity and began at most `change_lookback` after it (an `Updated` revision
    /// follows, rate-limited as usual), and is remembered for incidents that open later.
    pub fn change(&mut self, c: Change, out: &mut Vec<IncidentUpdate>) {
        if self.settings.clock_follows_inputs {
            self.advance_to(c.at, out);
        }
        let lookback = self.settings.change_lookback;
        let mut touched = Vec::new();
        for id in self.by_entity.get(&c.entity).into_iter().flatten() {
            if let Some(inc) = self.incidents.get_mut(id)
                && inc.status == Status::Open
                && c.at >= inc.opened_at.saturating_sub(lookback)
                && inc.attach(&c)
            {
                touched.push(id.clone());
            }
        }
        for id in &touched {
            self.touched(id);
        }
        if c.at >= self.change_horizon() {
            self.changes.insert((c.at, c.id.clone()), c);
            while self.changes.len() > MAX_CHANGES {
                self.changes.pop_first();
            }
        }
        self.tick(out);
    }

    /// Advances event time to `now` (a watermark; an earlier `now` is ignored): emits due
    /// first notifications, rate-limited updates and resolutions, and expires learned edges,
    /// old change events and resolved incidents past their reopen window.
    pub fn advance(&mut self, now: Millis, out: &mut Vec<IncidentUpdate>) {
        self.advance_to(now, out);
    }

    /// Everything dynamic (incidents including resolved ones kept for reopening, remembered
    /// changes, recent signal ids, the clock, learned edges) as versioned, checksummed bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        State {
            clock: self.clock,
            incidents: self.incidents.values().cloned().collect(),
            changes: self.changes.values().cloned().collect(),
            seen: self.seen.order.iter().copied().collect(),
            edges: self.topology.learned_edges(),
            late: self.late,
        }
        .encode()
    }

    /// Restores a snapshot into a correlator built from the same config (topology and
    /// settings). Corrupt bytes give an error and leave the correlator unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let state = State::decode(bytes)?;
        let invalid = |reason| SnapshotError::Invalid { reason };
        let mut incidents = BTreeMap::new();
        for inc in state.incidents {
            inc.check(&self.settings).map_err(invalid)?;
            if incidents.insert(inc.id.clone(), inc).is_some() {
                return Err(invalid("two incidents with the same id"));
            }
        }
        if state.changes.len() > MAX_CHANGES {
            return Err(invalid("more change events than kept"));
        }
        if state.seen.len() > SEEN_IDS {
            return Err(invalid("more signal ids than kept"));
        }
        let changes: BTreeMap<_, _> = state
            .changes
            .into_iter()
            .map(|c| ((c.at, c.id.clone()), c))
            .collect();
        let mut seen = Seen::default();
        for h in state.seen {
            seen.insert(h);
        }
        self.topology.clear_learned();
        self.topology.restore_learned(&state.edges);
        self.next_edge_expiry = self.topology.next_expiry();
        self.clock = state.clock;
        self.incidents = incidents;
        self.by_entity.clear();
        let held: Vec<(String, String)> = self
            .incidents
            .values()
            .flat_map(|i| i.entities.iter().map(|e| (i.id.clone(), e.clone())))
            .collect();
        for (id, entity) in held {
            self.index(&id, &entity);
        }
        self.changes = changes;
        self.seen = seen;
        self.late = state.late;
        self.next_due = self.earliest_due();
        Ok(())
    }

    /// Moves the clock forward and does the housekeeping that needs no output.
    fn move_clock(&mut self, t: Millis) {
        if t <= self.clock {
            return;
        }
        self.clock = t;
        self.expire_edges();
        let horizon = self.change_horizon();
        while let Some(((at, _), _)) = self.changes.first_key_value()
            && *at < horizon
        {
            self.changes.pop_first();
        }
    }

    fn advance_to(&mut self, t: Millis, out: &mut Vec<IncidentUpdate>) {
        self.move_clock(t);
        self.tick(out);
    }

    /// Changes before this are forgotten: `change_lookback` before the earliest onset an
    /// incident opened now can have (older signals are dropped as late).
    fn change_horizon(&self) -> Millis {
        self.clock
            .saturating_sub(self.settings.quiet_period)
            .saturating_sub(self.settings.change_lookback)
    }

    fn expire_edges(&mut self) {
        if self.next_edge_expiry.is_some_and(|t| t <= self.clock) {
            self.topology.expire(self.clock);
            self.next_edge_expiry = self.topology.next_expiry();
        }
    }

    /// Runs every incident's due timers at the current clock.
    fn tick(&mut self, out: &mut Vec<IncidentUpdate>) {
        if self.clock < self.next_due {
            return;
        }
        let wait = self.settings.group_wait;
        let first_due: Vec<String> = self
            .incidents
            .values()
            .filter(|i| i.status == Status::Open && i.revision == 0)
            .filter(|i| self.clock >= i.opened_at.saturating_add(wait))
            .map(|i| i.id.clone())
            .collect();
        for id in first_due {
            self.settle(&id, out);
        }
        let cx = Ctx {
            topology: &self.topology,
            settings: &self.settings,
            now: self.clock,
        };
        let mut gone = Vec::new();
        self.incidents.retain(|id, inc| {
            let keep = inc.next_due(cx.settings) > cx.now || inc.step(cx, out);
            if !keep {
                gone.push((id.clone(), std::mem::take(&mut inc.entities)));
            }
            keep
        });
        for (id, entities) in gone {
            self.unindex(&id, &entities);
        }
        self.trim_resolved();
        self.next_due = self.earliest_due();
    }

    /// Before incident `id` first notifies, merges it with the open incidents it is
    /// connected to: an entity of one within `max_hops` of an entity of the other, and their
    /// spans within `window` of each other. A signal joins on arrival only what it is close
    /// to at that moment, and partitions deliver in a different order on every run: an
    /// anomaly that arrived before the members that widened a neighbouring incident's span
    /// would otherwise stay an incident of its own, and grouping would depend on the order.
    fn settle(&mut self, id: &str, out: &mut Vec<IncidentUpdate>) {
        let Some(inc) = self.incidents.get(id) else {
            return;
        };
        let window = self.settings.window;
        let (opened, last) = (inc.opened_at, inc.last_at);
        let mut neighbours: BTreeSet<&str> = BTreeSet::new();
        for e in &inc.entities {
            for n in near(&self.topology, e, self.settings.max_hops) {
                if let Some(ids) = self.by_entity.get(n) {
                    neighbours.extend(ids.iter().map(String::as_str));
                }
            }
        }
        let mut group: Vec<(Millis, String)> = neighbours
            .into_iter()
            .filter_map(|other| self.incidents.get(other))
            .filter(|k| k.status == Status::Open && k.id != id)
            .filter(|k| {
                opened <= k.last_at.saturating_add(window)
                    && last >= k.opened_at.saturating_sub(window)
            })
            .map(|k| (k.opened_at, k.id.clone()))
            .collect();
        if group.is_empty() {
            return;
        }
        group.push((opened, id.to_owned()));
        group.sort_unstable();
        let survivor = group[0].1.clone();
        for (_, other) in &group[1..] {
            self.merge(&survivor, other, out);
        }
    }

    fn earliest_due(&self) -> Millis {
        self.incidents
            .values()
            .map(|i| i.next_due(&self.settings))
            .min()
            .unwrap_or(Millis::MAX)
    }

    /// Notes that incident `id` changed, so its timers are looked at.
    fn touched(&mut self, id: &str) {
        if let Some(inc) = self.incidents.get(id) {
            self.next_due = self.next_due.min(inc.next_due(&self.settings));
        }
    }

    /// Folds `s` into incident `id`, attaching remembered changes if its entity is new.
    fn join(&mut self, id: &str, s: &Signal) {
        let Some(inc) = self.incidents.get_mut(id) else {
            return;
        };
        if inc.add(s, self.settings.max_members) {
            self.index(id, &s.entity);
            self.attach_stored(id, &s.entity);
        }
        self.touched(id);
    }

    /// Attaches remembered changes on `entity` from `change_lookback` before the incident's
    /// onset up to now.
    fn attach_stored(&mut self, id: &str, entity: &str) {
        let Some(inc) = self.incidents.get_mut(id) else {
            return;
        };
        let from = inc.opened_at.saturating_sub(self.settings.change_lookback);
        let start = (from, String::new());
        for c in self.changes.range(start..).map(|(_, c)| c) {
            if c.entity == entity {
                inc.attach(c);
            }
        }
    }

    /// Merges incident `other` into `survivor`. `other` emits a final `Resolved` saying so,
    /// if it ever notified.
    fn merge(&mut self, survivor: &str, other: &str, out: &mut Vec<IncidentUpdate>) {
        let Some(mut gone) = self.remove(other) else {
            return;
        };
        if gone.revision > 0 {
            let cx = Ctx {
                topology: &self.topology,
                settings: &self.settings,
                now: self.clock,
            };
            gone.status = Status::Resolved;
            gone.resolved_at = Some(self.clock);
            gone.emit(cx, crate::types::Transition::Resolved, out);
            if let Some(u) = out.last_mut() {
                u.title = format!("{} (merged into {survivor})", u.title);
            }
        }
        let Some(inc) = self.incidents.get_mut(survivor) else {
            return;
        };
        let fresh = inc.absorb(gone, self.settings.max_members);
        for entity in &fresh {
            self.index(survivor, entity);
            self.attach_stored(survivor, entity);
        }
        self.touched(survivor);
    }
}
