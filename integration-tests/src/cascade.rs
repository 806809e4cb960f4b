//! A small shop whose latency faults cascade up its call graph: the input of the incident
//! delivery tests.
//!
//! Seven services, each with one `latency_ms` series (flat, Gaussian noise), calling each
//! other as below. After a day of normal traffic (the detectors' learning day), three
//! faults hit: a slow payments database that shows at payments, checkout and frontend a few
//! minutes apart (one incident that grows revision by revision, then resolves), a slow
//! catalog database seen at catalog, and a slow cart seen at checkout. Every fault ends (the
//! step recovers), and the stream runs on long enough after the last one for every incident
//! to resolve. The learning day's false alarms add small incidents of their own (opened,
//! resolved, sometimes reopened by a fault nearby).
//!
//! ```text
//! frontend ─┬─► checkout ─┬─► payments ─► payments-db
//!           │             └─► cart
//!           └─► catalog ───► catalog-db
//! ```
//!
//! Event time is one point per minute and the correlator's timers are minutes, so one
//! sample per record (what [`crate::Producer::send_fleet`] sends with batch 1) moves the
//! correlator's clock minute by minute, as a live stream would.

use crate::config::{EngineConfig, Rule};
use crate::series::{Fleet, SeriesSpec};

/// The services, one latency series each.
pub const SERVICES: [&str; 7] = [
    "frontend",
    "checkout",
    "payments",
    "payments-db",
    "cart",
    "catalog",
    "catalog-db",
];

/// `calls` edges (caller, callee).
pub const CALLS: [(&str, &str); 6] = [
    ("frontend", "checkout"),
    ("frontend", "catalog"),
    ("checkout", "payments"),
    ("checkout", "cart"),
    ("payments", "payments-db"),
    ("catalog", "catalog-db"),
];

/// Event-time spacing of the points.
pub const STEP_MS: i64 = 60_000;
/// Points of the learning day.
pub const LEARNING: usize = 1440;
/// Points per series.
pub const POINTS: usize = LEARNING + 540;

/// A latency step: `service` is `delta` ms slower for points `at..at + len`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Service.
    pub service: &'static str,
    /// First slow point.
    pub at: usize,
    /// Slow points.
    pub len: usize,
    /// Added latency.
    pub delta: f64,
}

/// The injected faults (see the module docs), by point index.
pub fn steps() -> Vec<Step> {
    let d = LEARNING;
    let step = |service, at, len, delta| Step {
        service,
        at: d + at,
        len,
        delta,
    };
    vec![
        // The payments database slows down; its callers show it a few minutes later each.
        step("payments-db", 60, 40, 60.0),
        step("payments", 64, 36, 50.0),
        step("checkout", 68, 32, 45.0),
        step("frontend", 72, 28, 40.0),
        // The catalog database, seen at catalog.
        step("catalog-db", 240, 20, 50.0),
        step("catalog", 244, 16, 45.0),
        // The cart, seen at checkout.
        step("cart", 420, 20, 50.0),
        step("checkout", 424, 16, 45.0),
    ]
}

/// The fleet: every service's latency with the steps of [`steps`] added, from `base_ms`.
pub fn fleet(seed: u64, base_ms: i64) -> Fleet {
    let specs: Vec<SeriesSpec> = SERVICES
        .iter()
        .enumerate()
        .map(|(i, service)| SeriesSpec {
            name: "latency_ms".into(),
            service: (*service).to_owned(),
            host: format!("h{i}"),
            level: 100.0 + 20.0 * i as f64,
            noise: 3.0,
            daily_amplitude: 0.0,
            seed: seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            fault: None,
        })
        .collect();
    let mut fleet = Fleet::generate(specs, POINTS, base_ms, STEP_MS);
    for s in steps() {
        let i = fleet
            .by_service(s.service)
            .expect("a step names a service of the fleet");
        for v in &mut fleet.values[i][s.at..s.at + s.len] {
            *v += s.delta;
        }
    }
    fleet
}

/// Sets the rules (latency is bad going up; databases warn, services are critical), the
/// correlator's timers (minutes of event time) and the topology on `config`.
pub fn configure(config: &mut EngineConfig) {
    config.rules = vec![
        Rule {
            name: "db-latency".into(),
            metric: "latency_ms".into(),
            service_glob: Some("*-db".into()),
            direction: "up".into(),
            severity: "warning".into(),
        },
        Rule {
            name: "latency".into(),
            metric: "latency_ms".into(),
            service_glob: None,
            direction: "up".into(),
            severity: "critical".into(),
        },
    ];
    config.correlator = [
        ("window", "5m"),
        ("max_hops", "2"),
        ("group_wait", "2m"),
        ("group_interval", "2m"),
        ("quiet_period", "10m"),
        ("reopen_window", "30m"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    config.calls = CALLS
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
}
