//! The service topology: services, pods, hosts and resources, and the edges between them
//! (calls, runs-on), from the YAML config plus updates from a topology topic.
//!
//! Static nodes and edges (from config) never expire. Edges learned at run time may carry a
//! TTL in event time; [`Topology::expire`] drops those not seen again in time. Nodes learned
//! at run time are capped ([`Topology::with_max_nodes`]) so a noisy producer cannot grow the
//! graph without bound.

use std::collections::{BTreeMap, HashMap, VecDeque};

use petgraph::Direction as Dir;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use serde::{Deserialize, Serialize};

use crate::types::{EdgeKind, Millis, NodeKind, TopologyUpdate};

/// A node's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// Name (the entity label value anomalies carry).
    pub name: String,
    /// Kind.
    pub kind: NodeKind,
    /// Declared in config (else learned).
    pub fixed: bool,
}

/// An edge's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeData {
    /// Kind.
    pub kind: EdgeKind,
    /// Expiry in event time; `None` = static or until removed.
    pub expires: Option<Millis>,
    /// Declared in config (never expires, never removed by updates).
    pub fixed: bool,
}

/// A learned edge, for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedEdge {
    /// Source.
    pub from: String,
    /// Target.
    pub to: String,
    /// Kind.
    pub kind: EdgeKind,
    /// Expiry.
    pub expires: Option<Millis>,
}

/// The graph. Node and edge iteration orders are deterministic (insertion order).
#[derive(Debug, Clone)]
pub struct Topology {
    graph: StableDiGraph<NodeData, EdgeData>,
    index: HashMap<String, NodeIndex>,
    edges: HashMap<(NodeIndex, NodeIndex, EdgeKind), EdgeIndex>,
    max_nodes: usize,
    /// Learned nodes refused because of the cap.
    pub refused_nodes: u64,
}

impl Default for Topology {
    fn default() -> Self {
        Self::new()
    }
}

impl Topology {
    /// An empty graph with a cap of 100,000 nodes.
    pub fn new() -> Self {
        Self::with_max_nodes(100_000)
    }

    /// An empty graph whose learned nodes are capped at `max_nodes` in total.
    pub fn with_max_nodes(max_nodes: usize) -> Self {
        Self {
            graph: StableDiGraph::new(),
            index: HashMap::new(),
            edges: HashMap::new(),
            max_nodes,
            refused_nodes: 0,
        }
    }

    /// The underlying graph (for ranking).
    pub fn graph(&self) -> &StableDiGraph<NodeData, EdgeData> {
        &self.graph
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Index of a node by name.
    pub fn node(&self, name: &str) -> Option<NodeIndex> {
        self.index.get(name).copied()
    }

    /// Name of a node.
    pub fn name(&self, node: NodeIndex) -> &str {
        &self.graph[node].name
    }

    /// Declares a node from config (kind is updated if it already exists).
    pub fn add_node(&mut self, name: &str, kind: NodeKind) -> NodeIndex {
        let n = self
            .intern(name, kind, true)
            .expect("config nodes are never refused");
        self.graph[n].kind = kind;
        self.graph[n].fixed = true;
        n
    }

    fn intern(&mut self, name: &str, kind: NodeKind, fixed: bool) -> Option<NodeIndex> {
        if let Some(&n) = self.index.get(name) {
            return Some(n);
        }
        if !fixed && self.graph.node_count() >= self.max_nodes {
            self.refused_nodes += 1;
            return None;
        }
        let n = self.graph.add_node(NodeData {
            name: name.to_owned(),
            kind,
            fixed,
        });
        self.index.insert(name.to_owned(), n);
        Some(n)
    }

    /// Declares a static edge from config (nodes are created as services if unknown).
    pub fn add_edge(&mut self, from: &str, to: &str, kind: EdgeKind) {
        let to_kind = match kind {
            EdgeKind::Calls => NodeKind::Service,
            EdgeKind::RunsOn => NodeKind::Host,
        };
        let a = self.intern(from, NodeKind::Service, true).expect("fixed");
        let b = self.intern(to, to_kind, true).expect("fixed");
        let data = EdgeData {
            kind,
            expires: None,
            fixed: true,
        };
        match self.edges.get(&(a, b, kind)) {
            Some(&e) => self.graph[e] = data,
            None => {
                let e = self.graph.add_edge(a, b, data);
                self.edges.insert((a, b, kind), e);
            }
        }
    }

    /// Applies a learned update: adds or refreshes an edge (extending its expiry), or removes
    /// it. Static edges are never changed by updates. Returns whether the graph changed shape.
    pub fn apply(&mut self, u: &TopologyUpdate) -> bool {
        if u.remove {
            let (Some(a), Some(b)) = (self.node(&u.from), self.node(&u.to)) else {
                return false;
            };
            if let Some(&e) = self.edges.get(&(a, b, u.kind))
                && !self.graph[e].fixed
            {
                self.graph.remove_edge(e);
                self.edges.remove(&(a, b, u.kind));
                return true;
            }
            return false;
        }
        let to_kind = match u.kind {
            EdgeKind::Calls => NodeKind::Service,
            EdgeKind::RunsOn => NodeKind::Host,
        };
        let Some(a) = self.intern(&u.from, NodeKind::Service, false) else {
            return false;
        };
        let Some(b) = self.intern(&u.to, to_kind, false) else {
            return false;
        };
        let expires = u.ttl.map(|t| u.at.saturating_add(t.max(0)));
        match self.edges.get(&(a, b, u.kind)) {
            Some(&e) => {
                let d = &mut self.graph[e];
                if !d.fixed {
                    d.expires = match (d.expires, expires) {
                        (Some(x), Some(y)) => Some(x.max(y)),
                        _ => None,
                    };
                }
                false
            }
            None => {
                let e = self.graph.add_edge(
                    a,
                    b,
                    EdgeData {
                        kind: u.kind,
                        expires,
                        fixed: false,
                    },
                );
                self.edges.insert((a, b, u.kind), e);
                true
            }
        }
    }

    /// Drops learned edges whose expiry is at or before `now`. Returns how many.
    pub fn expire(&mut self, now: Millis) -> usize {
        let dead: Vec<_> = self
            .edges
            .iter()
            .filter(|(_, e)| {
                let d = &self.graph[**e];
                !d.fixed && d.expires.is_some_and(|x| x <= now)
            })
            .map(|(k, e)| (*k, *e))
            .collect();
        for (k, e) in &dead {
            self.graph.remove_edge(*e);
            self.edges.remove(k);
        }
        dead.len()
    }

    /// Learned edges (for snapshots), in a deterministic order.
    pub fn learned_edges(&self) -> Vec<LearnedEdge> {
        let mut out: Vec<LearnedEdge> = (&self.graph)
            .edge_references()
            .filter(|e| !e.weight().fixed)
            .map(|e| LearnedEdge {
                from: self.graph[e.source()].name.clone(),
                to: self.graph[e.target()].name.clone(),
                kind: e.weight().kind,
                expires: e.weight().expires,
            })
            .collect();
        out.sort_by(|a, b| (&a.from, &a.to, a.kind).cmp(&(&b.from, &b.to, b.kind)));
        out
    }

    /// Restores learned edges from a snapshot.
    pub fn restore_learned(&mut self, edges: &[LearnedEdge]) {
        for e in edges {
            let at = e.expires.unwrap_or(0);
            self.apply(&TopologyUpdate {
                from: e.from.clone(),
                to: e.to.clone(),
                kind: e.kind,
                at,
                ttl: e.expires.map(|_| 0),
                remove: false,
            });
        }
    }

    /// Removes every learned edge (before restoring a snapshot's). Learned nodes stay; without
    /// edges they only match themselves.
    pub fn clear_learned(&mut self) {
        let learned: Vec<_> = self
            .edges
            .iter()
            .filter(|(_, e)| !self.graph[**e].fixed)
            .map(|(k, e)| (*k, *e))
            .collect();
        for (k, e) in learned {
            self.graph.remove_edge(e);
            self.edges.remove(&k);
        }
    }

    /// The earliest expiry among learned edges, so callers can skip [`Topology::expire`]
    /// until then.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.graph
            .edge_weights()
            .filter(|d| !d.fixed)
            .filter_map(|d| d.expires)
            .min()
    }

    /// Nodes `name` calls, sorted by name.
    pub fn callees(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, Dir::Outgoing, EdgeKind::Calls)
    }

    /// Nodes that call `name`, sorted by name.
    pub fn callers(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, Dir::Incoming, EdgeKind::Calls)
    }

    /// Hosts `name` runs on, sorted by name.
    pub fn hosts(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, Dir::Outgoing, EdgeKind::RunsOn)
    }

    fn neighbours(&self, name: &str, dir: Dir, kind: EdgeKind) -> Vec<&str> {
        let Some(n) = self.node(name) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = self
            .graph
            .edges_directed(n, dir)
            .filter(|e| e.weight().kind == kind)
            .map(|e| {
                let other = if dir == Dir::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                self.graph[other].name.as_str()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Hop distance between two nodes ignoring edge direction, if at most `max_hops`.
    /// A node is at distance 0 from itself, whether or not the graph knows it.
    pub fn distance(&self, a: &str, b: &str, max_hops: u32) -> Option<u32> {
        if a == b {
            return Some(0);
        }
        let (Some(x), Some(y)) = (self.node(a), self.node(b)) else {
            return None;
        };
        self.within(x, max_hops).get(&y).copied()
    }

    /// Every node within `max_hops` of `from` ignoring direction, with its distance.
    pub fn within(&self, from: NodeIndex, max_hops: u32) -> BTreeMap<NodeIndex, u32> {
        let mut seen = BTreeMap::new();
        seen.insert(from, 0);
        let mut queue = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            let d = seen[&n];
            if d >= max_hops {
                continue;
            }
            for m in self.graph.neighbors_undirected(n) {
                if let std::collections::btree_map::Entry::Vacant(v) = seen.entry(m) {
                    v.insert(d + 1);
                    queue.push_back(m);
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(from: &str, to: &str, at: Millis, ttl: Option<Millis>) -> TopologyUpdate {
        TopologyUpdate {
            from: from.into(),
            to: to.into(),
            kind: EdgeKind::Calls,
            at,
            ttl,
            remove: false,
        }
    }

    #[test]
    fn distances_ignore_direction_and_stop_at_max_hops() {
        let mut t = Topology::new();
        t.add_edge("frontend", "cart", EdgeKind::Calls);
        t.add_edge("cart", "redis", EdgeKind::Calls);
        t.add_edge("frontend", "catalog", EdgeKind::Calls);
        assert_eq!(t.distance("redis", "frontend", 2), Some(2));
        assert_eq!(t.distance("redis", "catalog", 2), None);
        assert_eq!(t.distance("redis", "catalog", 3), Some(3));
        assert_eq!(t.distance("x", "x", 0), Some(0));
        assert_eq!(t.distance("x", "cart", 5), None);
        assert_eq!(t.callees("frontend"), vec!["cart", "catalog"]);
        assert_eq!(t.callers("cart"), vec!["frontend"]);
    }

    #[test]
    fn learned_edges_expire_refresh_and_survive_snapshots() {
        let mut t = Topology::new();
        t.add_edge("a", "b", EdgeKind::Calls);
        assert!(t.apply(&upd("b", "c", 1_000, Some(10_000))));
        assert!(!t.apply(&upd("b", "c", 5_000, Some(10_000))));
        assert_eq!(t.expire(14_999), 0);
        let snap = t.learned_edges();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].expires, Some(15_000));
        let mut r = Topology::new();
        r.add_edge("a", "b", EdgeKind::Calls);
        r.restore_learned(&snap);
        assert_eq!(r.learned_edges(), snap);
        assert_eq!(t.expire(15_000), 1);
        assert_eq!(t.distance("a", "c", 5), None);
        // Static edges are not removed by updates nor expired.
        let mut rm = upd("a", "b", 0, None);
        rm.remove = true;
        assert!(!t.apply(&rm));
        assert_eq!(t.expire(i64::MAX), 0);
        assert_eq!(t.distance("a", "b", 1), Some(1));
    }

    #[test]
    fn learned_nodes_are_capped() {
        let mut t = Topology::with_max_nodes(3);
        t.add_edge("a", "b", EdgeKind::Calls);
        assert!(t.apply(&upd("a", "c", 0, None)));
        assert!(!t.apply(&upd("a", "d", 0, None)));
        assert_eq!(t.refused_nodes, 1);
        assert_eq!(t.node_count(), 3);
    }
}
