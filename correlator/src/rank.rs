//! Root-cause ranking: which entity of an incident most likely caused it.
//!
//! Four parts, each normalised to `[0, 1]` and combined with the weights of [`RankParams`]:
//!
//! - **severity** — how far the entity's own series went in their *bad* direction
//!   ([`Member::magnitude`] is already 0 for the harmless way). Per series the members are
//!   aggregated robustly (the second-largest magnitude; a lone point counts at
//!   `single_point_weight`), so one spike cannot outrank a sustained deviation; the entity
//!   takes its strongest series. Normalised by the incident's strongest entity.
//! - **onset** — 1 for the entity whose first bad-way member is earliest, decaying
//!   exponentially (`onset_decay`) for later ones: causes tend to show first.
//! - **graph** — personalized PageRank over the *reversed* call edges (MicroRCA): the walker
//!   starts at anomalous entities in proportion to their severity and steps from a caller to
//!   its callees (the direction in which a symptom points to its cause), preferring anomalous
//!   callees, and stays at an anomalous entity with a weight equal to its severity. Mass
//!   collects at the deepest anomalous dependency. Because the walk reaches callees without
//!   anomalies of their own, such an entity (a database with no metrics) becomes a candidate
//!   when its callers are anomalous.
//! - **change** — recent change events on the entity, decaying with their age at the onset.
//!
//! Topology only re-weights: every entity with evidence stays a candidate. The power
//! iteration runs over nodes in index order and ties break by name, so the ranking is
//! deterministic; every part is finite on empty and degenerate input.

use std::collections::BTreeMap;

use petgraph::Direction as Dir;
use petgraph::visit::EdgeRef;

use crate::topology::Topology;
use crate::types::{Candidate, Change, EdgeKind, Member, Millis, NodeKind, ScoreParts};

/// Ranking weights and knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct RankParams {
    /// Weight of the severity part.
    pub severity: f64,
    /// Weight of the onset part.
    pub onset: f64,
    /// Weight of the graph part.
    pub graph: f64,
    /// Weight of the change part.
    pub change: f64,
    /// Candidates reported.
    pub top: usize,
    /// The onset part decays by a factor `e` for every this much event time between an
    /// entity's first bad-way member and the incident's earliest one.
    pub onset_decay: Millis,
    /// The change part decays by `e` for every this much age of the change at the onset.
    pub change_decay: Millis,
    /// A series with a single bad-way member counts this fraction of that member's
    /// magnitude (the others count their second largest), so one spike cannot win.
    pub single_point_weight: f64,
    /// Probability that the PageRank walker follows an edge rather than restarting.
    pub damping: f64,
}

impl Default for RankParams {
    fn default() -> Self {
        Self {
            severity: 0.6,
            onset: 0.15,
            graph: 0.15,
            change: 0.1,
            top: 5,
            onset_decay: 120_000,
            change_decay: 30 * 60_000,
            single_point_weight: 0.5,
            damping: 0.85,
        }
    }
}

/// What the incident knows about one entity.
#[derive(Debug, Clone)]
pub struct EntityEvidence<'a> {
    /// Topology node.
    pub entity: &'a str,
    /// Its member anomalies.
    pub members: Vec<&'a Member>,
    /// Change events on it within the lookback.
    pub changes: Vec<&'a Change>,
}

/// Weight of a callee without anomalies on the walker's step, relative to an anomalous
/// callee of full severity (1): small, so that the walk prefers the anomalous path but can
/// still reach a dependency that has no metrics.
const QUIET_CALLEE: f64 = 0.1;
/// Power iterations at most (converges in far fewer on service graphs).
const MAX_ITER: usize = 100;

/// Robust severity of one entity: per series, the second-largest bad-way magnitude (or the
/// only one, discounted); the strongest series wins.
fn severity(members: &[&Member], single: f64) -> f64 {
    let mut per_series: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for m in members {
        let x = if m.magnitude.is_finite() {
            m.magnitude.max(0.0)
        } else {
            0.0
        };
        if x <= 0.0 {
            continue;
        }
        let e = per_series.entry(&*m.series).or_insert((-1.0, -1.0));
        if x > e.0 {
            *e = (x, e.0);
        } else if x > e.1 {
            e.1 = x;
        }
    }
    per_series
        .values()
        .map(|&(a, b)| if b >= 0.0 { b } else { a * single })
        .fold(0.0, f64::max)
}

/// Personalized PageRank over reversed call edges; returns the stationary mass per node
/// name for `names` (the nodes the walk may visit), personalised by `sev`.
fn graph_scores(
    topology: &Topology,
    names: &[String],
    sev: &BTreeMap<&str, f64>,
    damping: f64,
) -> Vec<f64> {
    let n = names.len();
    if n == 0 {
        return Vec::new();
    }
    let pos: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let s: Vec<f64> = names
        .iter()
        .map(|x| sev.get(x.as_str()).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = s.iter().sum();
    let personal: Vec<f64> = if total > 0.0 {
        s.iter().map(|x| x / total).collect()
    } else {
        vec![1.0 / n as f64; n]
    };
    // Out-links of the reversed graph: caller → callee, weighted by the callee's severity,
    // plus a self-loop weighted by the node's own severity.
    let mut links: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (i, name) in names.iter().enumerate() {
        if s[i] > 0.0 {
            links[i].push((i, s[i]));
        }
        if let Some(node) = topology.node(name) {
            let mut callees: Vec<usize> = topology
                .graph()
                .edges_directed(node, Dir::Outgoing)
                .filter(|e| e.weight().kind == EdgeKind::Calls)
                .filter_map(|e| pos.get(topology.name(e.target())).copied())
                .filter(|&j| j != i)
                .collect();
            callees.sort_unstable();
            callees.dedup();
            links[i].extend(callees.into_iter().map(|j| (j, QUIET_CALLEE + s[j])));
        }
        let sum: f64 = links[i].iter().map(|l| l.1).sum();
        for l in &mut links[i] {
            l.1 /= sum;
        }
    }
    let d = if damping.is_finite() {
        damping.clamp(0.0, 0.99)
    } else {
        0.85
    };
    let mut r = personal.clone();
    for _ in 0..MAX_ITER {
        let mut next: Vec<f64> = personal.iter().map(|p| (1.0 - d) * p).collect();
        let mut dangling = 0.0;
        for i in 0..n {
            if links[i].is_empty() {
                dangling += r[i];
            } else {
                for &(j, w) in &links[i] {
                    next[j] += d * r[i] * w;
                }
            }
        }
        for (x, p) in next.iter_mut().zip(&personal) {
            *x += d * dangling * p;
        }
        let delta: f64 = next.iter().zip(&r).map(|(a, b)| (a - b).abs()).sum();
        r = next;
        if delta < 1e-12 {
            break;
        }
    }
    r
}

/// The names the walk may visit: the evidence entities plus every service or resource
/// reachable from them along call edges (caller → callee). Sorted, deduplicated.
fn walk_nodes(topology: &Topology, evidence: &[EntityEvidence<'_>]) -> Vec<String> {
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut stack: Vec<String> = evidence.iter().map(|e| e.entity.to_owned()).collect();
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone(), ()).is_some() {
            continue;
        }
        let Some(node) = topology.node(&name) else {
            continue;
        };
        for e in topology.graph().edges_directed(node, Dir::Outgoing) {
            let t = &topology.graph()[e.target()];
            if e.weight().kind == EdgeKind::Calls
                && matches!(t.kind, NodeKind::Service | NodeKind::Resource)
                && !seen.contains_key(&t.name)
            {
                stack.push(t.name.clone());
            }
        }
    }
    seen.into_keys().collect()
}

/// Ranks the candidates of one incident whose first member is at `onset`. Deterministic:
/// ties break by entity name.
pub fn rank(
    topology: &Topology,
    onset: Millis,
    evidence: &[EntityEvidence<'_>],
    p: &RankParams,
) -> Vec<Candidate> {
    let names = walk_nodes(topology, evidence);
    let by_name: BTreeMap<&str, &EntityEvidence<'_>> =
        evidence.iter().map(|e| (e.entity, e)).collect();
    let raw_sev: BTreeMap<&str, f64> = names
        .iter()
        .map(|n| {
            let s = by_name
                .get(n.as_str())
                .map_or(0.0, |e| severity(&e.members, p.single_point_weight));
            (n.as_str(), s)
        })
        .collect();
    let max_sev = raw_sev.values().copied().fold(0.0, f64::max);
    let norm_sev: BTreeMap<&str, f64> = raw_sev
        .iter()
        .map(|(k, v)| (*k, if max_sev > 0.0 { v / max_sev } else { 0.0 }))
        .collect();
    let graph = graph_scores(topology, &names, &norm_sev, p.damping);
    let max_graph = graph.iter().copied().fold(0.0, f64::max);
    let first_onset = |e: &EntityEvidence<'_>| {
        e.members
            .iter()
            .filter(|m| m.magnitude > 0.0)
            .map(|m| m.at)
            .min()
    };
    let earliest = evidence.iter().filter_map(first_onset).min();
    let weights = [p.severity, p.onset, p.graph, p.change]
        .map(|w| if w.is_finite() && w > 0.0 { w } else { 0.0 });
    let wsum: f64 = weights.iter().sum();

    let mut out: Vec<Candidate> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ev = by_name.get(name.as_str());
            let own_onset = ev.and_then(|e| first_onset(e));
            let onset_part = match (own_onset, earliest) {
                (Some(t), Some(t0)) => {
                    let tau = p.onset_decay.max(1) as f64;
                    (-((t - t0).max(0) as f64) / tau).exp()
                }
                _ => 0.0,
            };
            let change_part = ev.map_or(0.0, |e| {
                e.changes
                    .iter()
                    .map(|c| {
                        let age = (onset - c.at).max(0) as f64;
                        (-age / p.change_decay.max(1) as f64).exp()
                    })
                    .fold(0.0, f64::max)
            });
            let graph_part = if max_graph > 0.0 {
                graph[i] / max_graph
            } else {
                0.0
            };
            let parts = [norm_sev[name.as_str()], onset_part, graph_part, change_part];
            let score = if wsum > 0.0 {
                parts.iter().zip(&weights).map(|(x, w)| x * w).sum::<f64>() / wsum
            } else {
                0.0
            };
            let mut members: Vec<&Member> = ev.map(|e| e.members.clone()).unwrap_or_default();
            members.sort_by(|a, b| b.magnitude.total_cmp(&a.magnitude));
            let mut series: Vec<String> = Vec::new();
            for m in members {
                if series.len() == 3 {
                    break;
                }
                if !series.iter().any(|s| **s == *m.series) {
                    series.push(m.series.to_string());
                }
            }
            Candidate {
                entity: name.clone(),
                rank: 0,
                score: if score.is_finite() { score } else { 0.0 },
                evidence: ScoreParts {
                    severity: raw_sev[name.as_str()],
                    onset: onset_part,
                    graph: graph_part,
                    change: change_part,
                },
                onset: ev.and_then(|e| e.members.iter().map(|m| m.at).min()),
                series,
                changes: ev
                    .map(|e| e.changes.iter().map(|c| c.id.clone()).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.entity.cmp(&b.entity)));
    out.truncate(p.top);
    for (i, c) in out.iter_mut().enumerate() {
        c.rank = i as u32 + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(entity: &str, series: &str, at: Millis, magnitude: f64) -> Member {
        Member {
            id: format!("{series}@{at}").into(),
            entity: entity.into(),
            series: series.into(),
            metric: series.into(),
            at,
            value: 1.0,
            lower: 0.0,
            upper: 1.0,
            up: true,
            score: 0.9,
            magnitude,
            detector: "test".into(),
            rule: "test".into(),
        }
    }

    fn ev<'a>(entity: &'a str, members: &'a [Member]) -> EntityEvidence<'a> {
        EntityEvidence {
            entity,
            members: members.iter().collect(),
            changes: Vec::new(),
        }
    }

    fn top(c: &[Candidate]) -> &str {
        &c[0].entity
    }

    fn chain() -> Topology {
        let mut t = Topology::new();
        t.add_edge("frontend", "cart", EdgeKind::Calls);
        t.add_edge("cart", "redis", EdgeKind::Calls);
        t.add_edge("frontend", "catalog", EdgeKind::Calls);
        t
    }

    #[test]
    fn severity_counts_only_the_bad_direction_and_ignores_one_spike() {
        let t = Topology::new();
        // a: one huge spike; b: a sustained moderate deviation; c: good-way only (0).
        let a = [member("a", "a_lat", 0, 100.0)];
        let b = [
            member("b", "b_lat", 0, 5.0),
            member("b", "b_lat", 60_000, 6.0),
        ];
        let c = [
            member("c", "c_lat", 0, 0.0),
            member("c", "c_lat", 60_000, 0.0),
        ];
        let r = rank(
            &t,
            0,
            &[ev("a", &a), ev("b", &b), ev("c", &c)],
            &RankParams::default(),
        );
        // a's spike counts half: 50 > 5, so a single spike large enough still shows...
        assert_eq!(top(&r), "a");
        let a = [member("a", "a_lat", 0, 8.0)];
        let r = rank(
            &t,
            0,
            &[ev("a", &a), ev("b", &b), ev("c", &c)],
            &RankParams::default(),
        );
        // ...but a moderate one does not beat a sustained deviation.
        assert_eq!(top(&r), "b");
        assert_eq!(r.last().unwrap().entity, "c");
        assert_eq!(r.last().unwrap().evidence.severity, 0.0);
    }

    #[test]
    fn earlier_onset_breaks_equal_severity() {
        let t = Topology::new();
        let a = [
            member("a", "x", 60_000, 3.0),
            member("a", "x", 120_000, 3.0),
        ];
        let b = [member("b", "y", 0, 3.0), member("b", "y", 60_000, 3.0)];
        let r = rank(&t, 0, &[ev("a", &a), ev("b", &b)], &RankParams::default());
        assert_eq!(top(&r), "b");
        assert!(r[0].evidence.onset > r[1].evidence.onset);
    }

    #[test]
    fn graph_prefers_the_anomalous_callee_and_surfaces_silent_dependencies() {
        let t = chain();
        let f = [
            member("frontend", "f", 0, 3.0),
            member("frontend", "f", 1, 3.0),
        ];
        let c = [member("cart", "c", 0, 3.0), member("cart", "c", 1, 3.0)];
        let p = RankParams::default();
        let r = rank(&t, 0, &[ev("frontend", &f), ev("cart", &c)], &p);
        // Equal severity and onset: the callee wins on graph position.
        assert_eq!(top(&r), "cart");
        assert!(r[0].evidence.graph > r[1].evidence.graph);
        // redis has no members but its caller is anomalous: it is a candidate.
        assert!(
            r.iter()
                .any(|x| x.entity == "redis" && x.evidence.graph > 0.0)
        );
        // An anomalous entity unknown to the topology is kept (topology never filters).
        let z = [member("zeta", "z", 0, 1.0)];
        let r = rank(&t, 0, &[ev("frontend", &f), ev("zeta", &z)], &p);
        assert!(r.iter().any(|x| x.entity == "zeta"));
        // Weighting graph alone: a silent database under an anomalous caller can win.
        let g = RankParams {
            severity: 0.0,
            onset: 0.0,
            change: 0.0,
            graph: 1.0,
            ..p
        };
        let only_cart = [member("cart", "c", 0, 3.0)];
        let r = rank(&t, 0, &[ev("cart", &only_cart)], &g);
        assert!(r.iter().any(|x| x.entity == "redis"));
    }

    #[test]
    fn a_recent_change_moves_the_ranking() {
        let t = Topology::new();
        let a = [member("a", "x", 0, 3.0), member("a", "x", 1, 3.0)];
        let b = [member("b", "y", 0, 3.0), member("b", "y", 1, 3.0)];
        let change = Change {
            id: "deploy-1".into(),
            entity: "b".into(),
            at: -60_000,
            kind: "deploy".into(),
            summary: "v2".into(),
        };
        let p = RankParams::default();
        let r = rank(&t, 0, &[ev("a", &a), ev("b", &b)], &p);
        assert_eq!(top(&r), "a");
        let mut eb = ev("b", &b);
        eb.changes.push(&change);
        let r = rank(&t, 0, &[ev("a", &a), eb], &p);
        assert_eq!(top(&r), "b");
        assert_eq!(r[0].changes, vec!["deploy-1".to_owned()]);
        assert!(r[0].evidence.change > 0.9);
    }

    #[test]
    fn ranking_is_deterministic_and_finite_on_degenerate_input() {
        let t = chain();
        let p = RankParams::default();
        assert!(rank(&t, 0, &[], &p).is_empty());
        assert!(rank(&Topology::new(), 0, &[], &p).is_empty());
        let nan = [
            member("cart", "c", 0, f64::NAN),
            member("cart", "c", 0, f64::INFINITY),
        ];
        let zero = [member("frontend", "f", 0, 0.0)];
        let evs = [ev("cart", &nan), ev("frontend", &zero), ev("ghost", &[])];
        let r1 = rank(&t, 0, &evs, &p);
        let r2 = rank(&t, 0, &evs, &p);
        assert_eq!(r1, r2);
        assert!(!r1.is_empty());
        for c in &r1 {
            assert!(c.score.is_finite() && (0.0..=1.0).contains(&c.score));
            let e = c.evidence;
            assert!(
                [e.severity, e.onset, e.graph, e.change]
                    .iter()
                    .all(|x| x.is_finite())
            );
        }
        let ranks: Vec<u32> = r1.iter().map(|c| c.rank).collect();
        assert_eq!(ranks, (1..=r1.len() as u32).collect::<Vec<_>>());
        let zero_w = RankParams {
            severity: 0.0,
            onset: 0.0,
            graph: 0.0,
            change: 0.0,
            damping: f64::NAN,
            ..p
        };
        assert!(rank(&t, 0, &evs, &zero_w).iter().all(|c| c.score == 0.0));
    }
}
