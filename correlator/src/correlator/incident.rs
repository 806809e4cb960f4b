//! One incident: its members, entities and attached changes, its notification state, and how
//! it renders into an [`IncidentUpdate`].
//!
//! Members are keyed by series so that a repeating anomaly folds into one member. Whether an
//! update is worth sending is decided by a fingerprint of what a consumer sees change (member
//! series, severity, entities, candidate order, change ids), not by every folded anomaly, so a
//! long-running symptom does not page again every `group_interval`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::rank::{EntityEvidence, rank};
use crate::settings::Settings;
use crate::topology::Topology;
use crate::types::{
    Candidate, Change, IncidentUpdate, Member, Millis, Severity, Signal, Status, Transition,
};

/// Change events kept per incident (the most recent win).
pub(super) const MAX_CHANGES: usize = 64;

/// What rendering an update needs besides the incident.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub topology: &'a Topology,
    pub settings: &'a Settings,
    /// The correlator's clock.
    pub now: Millis,
}

/// One kept member and what was folded into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Slot {
    /// The strongest anomaly of the series, with `at` its first onset in the incident.
    pub member: Member,
    /// Anomalies of this series folded in.
    pub count: u64,
    /// Highest rule severity seen for the series.
    pub severity: Severity,
}

impl Slot {
    fn of(s: &Signal) -> Self {
        Self {
            member: Member::from(s),
            count: 1,
            severity: s.severity,
        }
    }
}

/// An incident's whole state (it is also the snapshot form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Incident {
    /// Stable hex id.
    pub id: String,
    /// Event time of the first member.
    pub opened_at: Millis,
    /// Latest member time: the grouping window and the quiet period count from it.
    pub last_at: Millis,
    /// Open, or resolved and kept for reopening.
    pub status: Status,
    /// When it resolved (while resolved).
    pub resolved_at: Option<Millis>,
    /// Times reopened.
    pub reopened: u32,
    /// Revision of the last emitted update; 0 = never notified.
    pub revision: u32,
    /// Clock at the last emitted update (`group_interval` counts from it).
    pub last_emit: Millis,
    /// Clock at the last check that found no visible change: the next check waits a
    /// `group_interval` from it, so a stream of folded repeats costs one rendering per
    /// interval, not one per anomaly.
    pub last_check: Millis,
    /// A member series, entity, change or the severity changed since the last emitted
    /// update: checked as soon as `group_interval` allows.
    pub dirty: bool,
    /// Only repeats of known series were folded in (they may reorder the ranking): checked
    /// at most once per `group_interval`, from the last check.
    pub folded: bool,
    /// A reopen waits to be announced.
    pub reopen_pending: bool,
    /// Fingerprint of the last emitted update.
    pub fingerprint: u64,
    /// Highest severity of any member ever folded in.
    pub severity: Severity,
    /// Every anomaly folded in.
    pub member_count: u64,
    /// Kept members by series (at most `max_members`).
    pub members: BTreeMap<Arc<str>, Slot>,
    /// Every entity that ever had a member: grouping matches against all of them.
    pub entities: BTreeSet<String>,
    /// Attached changes, sorted by (at, id), at most [`MAX_CHANGES`].
    pub changes: Vec<Change>,
}

/// A rendering of the incident's current state.
pub(super) struct View {
    candidates: Vec<Candidate>,
    fingerprint: u64,
}

impl Incident {
    /// A new, not yet notified incident with `s` as first member.
    pub fn open(id: String, s: &Signal) -> Self {
        let mut inc = Self {
            id,
            opened_at: s.at,
            last_at: s.at,
            status: Status::Open,
            resolved_at: None,
            reopened: 0,
            revision: 0,
            last_emit: s.at,
            last_check: s.at,
            dirty: true,
            folded: false,
            reopen_pending: false,
            fingerprint: 0,
            severity: s.severity,
            member_count: 0,
            members: BTreeMap::new(),
            entities: BTreeSet::new(),
            changes: Vec::new(),
        };
        inc.add(s, usize::MAX);
        inc
    }

    /// Folds one anomaly in. Returns whether its entity is new to the incident.
    pub fn add(&mut self, s: &Signal, max_members: usize) -> bool {
        self.member_count = self.member_count.saturating_add(1);
        if s.severity > self.severity {
            self.severity = s.severity;
            self.dirty = true;
        }
        self.last_at = self.last_at.max(s.at);
        self.opened_at = self.opened_at.min(s.at);
        if self.fold(Slot::of(s), max_members) {
            self.dirty = true;
        } else {
            self.folded = true;
        }
        self.entities.insert(s.entity.clone())
    }

    /// Keeps `slot` under its series: a repeat keeps the stronger anomaly and the earlier
    /// onset; a new series replaces the weakest member when full, if it is stronger.
    /// Returns whether the series is new to the incident.
    fn fold(&mut self, slot: Slot, max_members: usize) -> bool {
        if let Some(old) = self.members.get_mut(&slot.member.series) {
            old.count = old.count.saturating_add(slot.count);
            old.severity = old.severity.max(slot.severity);
            let onset = old.member.at.min(slot.member.at);
            if slot.member.magnitude > old.member.magnitude {
                old.member = slot.member;
            }
            old.member.at = onset;
            return false;
        }
        if self.members.len() >= max_members.max(1) {
            // The weakest; among equals the latest, so early onsets survive.
            let weakest = self
                .members
                .values()
                .min_by(|a, b| {
                    a.member
                        .magnitude
                        .total_cmp(&b.member.magnitude)
                        .then_with(|| {
                            (b.member.at, &b.member.series).cmp(&(a.member.at, &a.member.series))
                        })
                })
                .map(|w| (w.member.series.clone(), w.member.magnitude));
            match weakest {
                Some((series, m)) if slot.member.magnitude > m => {
                    self.members.remove(&series);
                }
                _ => return false,
            }
        }
        self.members.insert(slot.member.series.clone(), slot);
        true
    }

    /// Takes over everything of `other` (a merge). Returns the entities new to `self`.
    pub fn absorb(&mut self, other: Incident, max_members: usize) -> Vec<String> {
        let fresh: Vec<String> = other.entities.difference(&self.entities).cloned().collect();
        self.member_count = self.member_count.saturating_add(other.member_count);
        self.severity = self.severity.max(other.severity);
        self.last_at = self.last_at.max(other.last_at);
        self.opened_at = self.opened_at.min(other.opened_at);
        self.entities.extend(other.entities);
        for slot in other.members.into_values() {
            self.fold(slot, max_members);
        }
        for c in &other.changes {
            self.attach(c);
        }
        self.dirty = true;
        fresh
    }

    /// Attaches a change event (once per id). Returns whether it was new.
    pub fn attach(&mut self, c: &Change) -> bool {
        if self.changes.iter().any(|x| x.id == c.id) {
            return false;
        }
        let at = self
            .changes
            .partition_point(|x| (x.at, &x.id) < (c.at, &c.id));
        self.changes.insert(at, c.clone());
        if self.changes.len() > MAX_CHANGES {
            let dropped = self.changes.remove(0);
            if dropped.id == c.id {
                return false;
            }
        }
        self.dirty = true;
        true
    }

    /// Whether it reopened often enough to count as flapping.
    pub fn flapping(&self, s: &Settings) -> bool {
        self.reopened >= s.flap_limit
    }

    /// Quiet time after the last member before it resolves.
    pub fn quiet(&self, s: &Settings) -> Millis {
        if self.flapping(s) {
            s.quiet_period
                .saturating_mul(Millis::from(s.flap_quiet_factor.max(1)))
        } else {
            s.quiet_period
        }
    }

    /// When a pending change is next checked for a visible difference, if one is pending.
    fn check_due(&self, s: &Settings) -> Option<Millis> {
        if self.dirty {
            Some(self.last_emit.saturating_add(s.group_interval))
        } else if self.folded {
            Some(
                self.last_emit
                    .max(self.last_check)
                    .saturating_add(s.group_interval),
            )
        } else {
            None
        }
    }

    /// Earliest clock at which [`Incident::step`] may do something.
    pub fn next_due(&self, s: &Settings) -> Millis {
        match self.status {
            Status::Resolved => self
                .resolved_at
                .unwrap_or(self.last_at)
                .saturating_add(s.reopen_window.max(0))
                .saturating_add(1),
            Status::Open => {
                let notify = if self.revision == 0 {
                    self.opened_at.saturating_add(s.group_wait)
                } else if self.reopen_pending {
                    Millis::MIN
                } else {
                    self.check_due(s).unwrap_or(Millis::MAX)
                };
                notify.min(self.last_at.saturating_add(self.quiet(s)))
            }
        }
    }

    /// Emits what is due at `cx.now`. Returns `false` when the incident is gone (resolved
    /// without ever notifying, or flapping and finally resolved, or past its reopen window).
    pub fn step(&mut self, cx: Ctx<'_>, out: &mut Vec<IncidentUpdate>) -> bool {
        let s = cx.settings;
        if self.status == Status::Resolved {
            let until = self
                .resolved_at
                .unwrap_or(self.last_at)
                .saturating_add(s.reopen_window.max(0));
            return cx.now <= until;
        }
        if self.revision == 0 {
            if cx.now >= self.opened_at.saturating_add(s.group_wait) {
                self.emit(cx, Transition::Opened, out);
            }
        } else if self.reopen_pending {
            self.emit(cx, Transition::Reopened, out);
        } else if self.check_due(s).is_some_and(|t| cx.now >= t) {
            let view = self.view(cx);
            if view.fingerprint == self.fingerprint {
                self.dirty = false;
                self.folded = false;
                self.last_check = cx.now;
            } else {
                self.emit_view(cx, Transition::Updated, view, out);
            }
        }
        let quiet_end = self.last_at.saturating_add(self.quiet(s));
        if cx.now >= quiet_end {
            return self.resolve_at(quiet_end, cx, out);
        }
        true
    }

    /// Resolves now (a forced resolve). Returns whether it is kept for reopening: a
    /// never-notified incident just vanishes, and a flapping one is not reopened again (its
    /// recurrence is a new incident).
    pub fn resolve(&mut self, cx: Ctx<'_>, out: &mut Vec<IncidentUpdate>) -> bool {
        self.resolve_at(cx.now, cx, out)
    }

    /// Resolves as of event time `at`: for a quiet incident, the moment its quiet period
    /// ended, not the later clock that noticed it. The clock is a watermark over partitions
    /// read in varying order; dating the resolution by the data keeps the reopen window, and
    /// so whether a later anomaly reopens or opens anew, the same on every replay.
    fn resolve_at(&mut self, at: Millis, cx: Ctx<'_>, out: &mut Vec<IncidentUpdate>) -> bool {
        if self.revision == 0 {
            return false;
        }
        self.status = Status::Resolved;
        self.resolved_at = Some(at);
        self.emit(cx, Transition::Resolved, out);
        !self.flapping(cx.settings)
    }

    /// Renders and emits the next revision.
    pub fn emit(&mut self, cx: Ctx<'_>, transition: Transition, out: &mut Vec<IncidentUpdate>) {
        let view = self.view(cx);
        self.emit_view(cx, transition, view, out);
    }

    fn emit_view(
        &mut self,
        cx: Ctx<'_>,
        transition: Transition,
        view: View,
        out: &mut Vec<IncidentUpdate>,
    ) {
        self.revision = self.revision.saturating_add(1);
        self.last_emit = cx.now;
        self.fingerprint = view.fingerprint;
        self.dirty = false;
        self.folded = false;
        self.reopen_pending = false;
        out.push(IncidentUpdate {
            incident_id: self.id.clone(),
            revision: self.revision,
            status: self.status,
            transition,
            title: self.title(&view.candidates),
            severity: self.severity,
            opened_at: self.opened_at,
            updated_at: cx.now,
            resolved_at: self.resolved_at,
            candidates: view.candidates,
            members: self.sorted_members().into_iter().cloned().collect(),
            member_count: self.member_count,
            entities: self.entities.iter().cloned().collect(),
            changes: self.changes.clone(),
            reopened: self.reopened,
        });
    }

    fn sorted_members(&self) -> Vec<&Member> {
        let mut members: Vec<&Member> = self.members.values().map(|s| &s.member).collect();
        members.sort_by(|a, b| (a.at, &a.series).cmp(&(b.at, &b.series)));
        members
    }

    /// Ranks the candidates and fingerprints what consumers see (the members are cloned
    /// only when an update is emitted).
    fn view(&self, cx: Ctx<'_>) -> View {
        let members = self.sorted_members();
        let mut by_entity: BTreeMap<&str, EntityEvidence<'_>> = BTreeMap::new();
        for m in &members {
            by_entity
                .entry(&*m.entity)
                .or_insert_with(|| EntityEvidence {
                    entity: &m.entity,
                    members: Vec::new(),
                    changes: Vec::new(),
                })
                .members
                .push(m);
        }
        for c in &self.changes {
            if let Some(e) = by_entity.get_mut(c.entity.as_str()) {
                e.changes.push(c);
            }
        }
        let evidence: Vec<EntityEvidence<'_>> = by_entity.into_values().collect();
        let candidates = rank(cx.topology, self.opened_at, &evidence, &cx.settings.rank);

        let mut h = Xxh3::new();
        let mut put = |bytes: &[u8]| {
            h.update(bytes);
            // 0xff never occurs in UTF-8, so fields cannot run into each other.
            h.update(&[0xff]);
        };
        for series in self.members.keys() {
            put(series.as_bytes());
        }
        put(self.severity.as_str().as_bytes());
        for e in &self.entities {
            put(e.as_bytes());
        }
        put(b"candidates");
        for c in &candidates {
            put(c.entity.as_bytes());
        }
        put(b"changes");
        for c in &self.changes {
            put(c.id.as_bytes());
        }
        View {
            candidates,
            fingerprint: h.digest(),
        }
    }

    /// `<top entity>: <metric> up 4.2x band (+N more symptoms)`.
    fn title(&self, candidates: &[Candidate]) -> String {
        let strongest = |entity: Option<&str>| {
            self.members
                .values()
                .map(|s| &s.member)
                .filter(|m| entity.is_none_or(|e| *m.entity == *e))
                .max_by(|a, b| {
                    a.magnitude
                        .total_cmp(&b.magnitude)
                        .then_with(|| (b.at, &b.series).cmp(&(a.at, &a.series)))
                })
        };
        let top = candidates.first().map(|c| c.entity.as_str());
        let own = strongest(top);
        let Some(m) = own.or_else(|| strongest(None)) else {
            return format!("incident {}", self.id);
        };
        let dir = if m.up { "up" } else { "down" };
        let symptom = format!("{} {dir} {:.1}x band", m.metric, m.magnitude);
        let mut title = match top {
            // The top candidate has no symptom of its own (a dependency the graph points
            // at): name it as suspected, beside the symptom that points to it.
            Some(top) if own.is_none() => format!("{top} suspected: {}: {symptom}", m.entity),
            _ => format!("{}: {symptom}", m.entity),
        };
        let more = self.members.len().saturating_sub(1);
        if more > 0 {
            let s = if more == 1 { "" } else { "s" };
            title.push_str(&format!(" (+{more} more symptom{s})"));
        }
        title
    }

    /// Checks what the rest of the code relies on (for restored snapshots).
    pub fn check(&self, s: &Settings) -> Result<(), &'static str> {
        if self.members.is_empty() {
            return Err("incident without members");
        }
        if self.members.len() > s.max_members.max(1) {
            return Err("incident with more members than max_members");
        }
        if self.member_count < self.members.len() as u64 {
            return Err("incident member_count below its kept members");
        }
        for (series, slot) in &self.members {
            if *series != slot.member.series || !self.entities.contains(&*slot.member.entity) {
                return Err("incident member filed under the wrong series or entity");
            }
        }
        if (self.status == Status::Resolved) != self.resolved_at.is_some() {
            return Err("incident status and resolved_at disagree");
        }
        if self.status == Status::Resolved && self.revision == 0 {
            return Err("resolved incident that never notified");
        }
        if self.changes.len() > MAX_CHANGES {
            return Err("incident with too many changes");
        }
        Ok(())
    }
}
