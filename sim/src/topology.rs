//! The simulated system: an Online-Boutique-like call graph of services and the datastores
//! and queue they use, placed on four hosts. It is fixed (the seed varies faults and noise,
//! not the architecture) so a demo's topology picture is always the same.

use std::fmt::Write as _;

/// What a node is; datastores and queues are `Resource`s, as in the topology config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Service,
    Resource,
}

/// One service or resource and its healthy behaviour.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub name: &'static str,
    pub kind: NodeKind,
    pub host: &'static str,
    /// Own share of the median latency (callees come on top). Unit: ms.
    pub p50_ms: f64,
    /// Own p99 as a multiple of own p50: the tail of this service's own work.
    pub tail: f64,
    /// Own error ratio when healthy.
    pub error_ratio: f64,
    /// CPU with no traffic, and per request per second. Unit: percent of one host.
    pub cpu_idle: f64,
    pub cpu_per_rps: f64,
    /// Resident memory after a restart. Unit: MiB.
    pub memory_mib: f64,
    /// Operations named in its logs (HTTP routes for the frontend, gRPC methods otherwise).
    pub routes: &'static [&'static str],
}

/// A call edge: `calls` requests to `to` per request of `from`, and the fraction of `to`'s
/// failures that fail `from`'s request (the rest are retried or degraded gracefully).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallSpec {
    pub from: &'static str,
    pub to: &'static str,
    pub calls: f64,
    pub surface: f64,
}

/// Requests per second at the frontend at the mean of the daily cycle.
pub(crate) const FRONTEND_RPS: f64 = 250.0;

pub(crate) const HOSTS: [&str; 4] = ["host-1", "host-2", "host-3", "host-4"];

const fn service(
    name: &'static str,
    host: &'static str,
    p50_ms: f64,
    error_ratio: f64,
    memory_mib: f64,
    routes: &'static [&'static str],
) -> NodeSpec {
    NodeSpec {
        name,
        kind: NodeKind::Service,
        host,
        p50_ms,
        tail: 3.0,
        error_ratio,
        cpu_idle: 3.0,
        cpu_per_rps: 0.08,
        memory_mib,
        routes,
    }
}

const fn resource(
    name: &'static str,
    host: &'static str,
    p50_ms: f64,
    memory_mib: f64,
    routes: &'static [&'static str],
) -> NodeSpec {
    NodeSpec {
        name,
        kind: NodeKind::Resource,
        host,
        p50_ms,
        tail: 4.0,
        error_ratio: 0.0005,
        cpu_idle: 5.0,
        cpu_per_rps: 0.05,
        memory_mib,
        routes,
    }
}

/// Every node; callers before callees is not required (the order is derived).
pub(crate) const NODES: [NodeSpec; 16] = [
    service(
        "frontend",
        "host-1",
        18.0,
        0.002,
        220.0,
        &["GET /", "GET /product", "POST /cart", "POST /cart/checkout"],
    ),
    service("auth", "host-1", 4.0, 0.001, 90.0, &["AuthService/Verify"]),
    service("ads", "host-1", 9.0, 0.002, 310.0, &["AdService/GetAds"]),
    service(
        "checkout",
        "host-2",
        25.0,
        0.003,
        140.0,
        &["CheckoutService/PlaceOrder"],
    ),
    service(
        "payment",
        "host-2",
        16.0,
        0.002,
        120.0,
        &["PaymentService/Charge"],
    ),
    service(
        "email",
        "host-2",
        12.0,
        0.002,
        160.0,
        &["EmailService/SendOrderConfirmation"],
    ),
    service(
        "currency",
        "host-2",
        3.0,
        0.001,
        80.0,
        &[
            "CurrencyService/Convert",
            "CurrencyService/GetSupportedCurrencies",
        ],
    ),
    service(
        "cart",
        "host-3",
        5.0,
        0.001,
        130.0,
        &["CartService/GetCart", "CartService/AddItem"],
    ),
    service(
        "shipping",
        "host-3",
        8.0,
        0.002,
        100.0,
        &["ShippingService/GetQuote", "ShippingService/ShipOrder"],
    ),
    service(
        "catalog",
        "host-4",
        6.0,
        0.001,
        150.0,
        &[
            "ProductCatalogService/ListProducts",
            "ProductCatalogService/GetProduct",
        ],
    ),
    service(
        "recommendation",
        "host-4",
        14.0,
        0.002,
        260.0,
        &["RecommendationService/ListRecommendations"],
    ),
    service(
        "user",
        "host-4",
        7.0,
        0.001,
        110.0,
        &["UserService/GetProfile"],
    ),
    resource("redis-cart", "host-3", 0.8, 512.0, &["HGET", "HSET"]),
    resource("orders-queue", "host-3", 2.0, 700.0, &["produce orders"]),
    resource("catalog-db", "host-4", 3.0, 1024.0, &["SELECT products"]),
    resource("user-db", "host-4", 2.5, 900.0, &["SELECT users"]),
];

const fn call(from: &'static str, to: &'static str, calls: f64, surface: f64) -> CallSpec {
    CallSpec {
        from,
        to,
        calls,
        surface,
    }
}

pub(crate) const CALLS: [CallSpec; 22] = [
    call("frontend", "auth", 1.0, 0.9),
    call("frontend", "catalog", 0.9, 0.8),
    call("frontend", "currency", 0.8, 0.5),
    call("frontend", "cart", 0.4, 0.8),
    call("frontend", "recommendation", 0.4, 0.4),
    call("frontend", "ads", 0.5, 0.3),
    call("frontend", "checkout", 0.2, 0.9),
    call("frontend", "shipping", 0.2, 0.7),
    call("frontend", "user", 0.3, 0.8),
    call("auth", "user-db", 1.0, 0.9),
    call("checkout", "cart", 1.0, 0.9),
    call("checkout", "catalog", 1.0, 0.9),
    call("checkout", "currency", 1.0, 0.8),
    call("checkout", "payment", 1.0, 0.95),
    call("checkout", "shipping", 1.0, 0.9),
    call("checkout", "email", 1.0, 0.4),
    call("checkout", "orders-queue", 1.0, 0.6),
    call("cart", "redis-cart", 1.0, 0.95),
    call("catalog", "catalog-db", 0.6, 0.9),
    call("recommendation", "catalog", 1.0, 0.7),
    call("user", "user-db", 1.0, 0.95),
    call("shipping", "orders-queue", 0.5, 0.8),
];

/// Every call edge.
pub(crate) fn calls() -> impl Iterator<Item = &'static CallSpec> {
    CALLS.iter()
}

/// The graph by index: callees of each node, and an order with every caller before its
/// callees (rates flow down it, latency and errors flow up it in reverse).
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    /// `(callee, calls, surface)` per node.
    pub callees: Vec<Vec<(usize, f64, f64)>>,
    /// `(caller, calls)` per node.
    pub callers: Vec<Vec<(usize, f64)>>,
    pub top_down: Vec<usize>,
}

pub(crate) fn index_of(name: &str) -> usize {
    NODES
        .iter()
        .position(|n| n.name == name)
        .unwrap_or_else(|| panic!("call graph names unknown node `{name}`"))
}

impl Graph {
    pub fn build() -> Self {
        let n = NODES.len();
        let mut callees = vec![Vec::new(); n];
        let mut callers = vec![Vec::new(); n];
        for c in calls() {
            let (from, to) = (index_of(c.from), index_of(c.to));
            callees[from].push((to, c.calls, c.surface));
            callers[to].push((from, c.calls));
        }
        // Kahn's algorithm over "caller before callee", lowest index first for determinism.
        let mut pending: Vec<usize> = callers.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).rev().collect();
        let mut top_down = Vec::with_capacity(n);
        while let Some(i) = ready.pop() {
            top_down.push(i);
            for &(to, _, _) in &callees[i] {
                pending[to] -= 1;
                if pending[to] == 0 {
                    ready.push(to);
                }
            }
        }
        assert_eq!(top_down.len(), n, "the call graph has a cycle");
        Self {
            callees,
            callers,
            top_down,
        }
    }

    /// Every node that reaches `node` through calls (its transitive callers).
    pub fn upstream_of(&self, node: usize) -> Vec<usize> {
        let mut seen = vec![false; NODES.len()];
        let mut stack = vec![node];
        while let Some(i) = stack.pop() {
            for &(caller, _) in &self.callers[i] {
                if !seen[caller] {
                    seen[caller] = true;
                    stack.push(caller);
                }
            }
        }
        (0..NODES.len()).filter(|&i| seen[i]).collect()
    }
}

/// The `topology:` section of Faultline's config.
pub(crate) fn yaml() -> String {
    let mut out = String::from("topology:\n  nodes:\n");
    for node in &NODES {
        let kind = match node.kind {
            NodeKind::Service => "service",
            NodeKind::Resource => "resource",
        };
        let _ = writeln!(out, "    - {{name: {}, kind: {kind}}}", node.name);
    }
    for host in HOSTS {
        let _ = writeln!(out, "    - {{name: {host}, kind: host}}");
    }
    out.push_str("  edges:\n");
    for c in calls() {
        let _ = writeln!(out, "    - {{from: {}, to: {}, kind: calls}}", c.from, c.to);
    }
    for node in &NODES {
        let _ = writeln!(
            out,
            "    - {{from: {}, to: {}, kind: runs_on}}",
            node.name, node.host
        );
    }
    out
}
