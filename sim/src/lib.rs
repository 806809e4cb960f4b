//! A deterministic simulated microservice system with injected faults: the input of
//! `faultline demo` and `faultline simulate`, and a ground truth to score Faultline against.
//!
//! The system is an Online-Boutique-like shop: twelve services (frontend, auth, ads,
//! checkout, payment, email, currency, cart, shipping, catalog, recommendation, user) and
//! four resources (redis-cart, orders-queue, catalog-db, user-db) on four hosts. Each node
//! reports request rate, p50/p99 latency, error ratio, CPU and memory every step; hosts
//! report CPU; services log; deploys are change events. Everything is native JSON as
//! `faultline-decode` reads it.
//!
//! The contract:
//!
//! - **Deterministic.** The same [`SimConfig`] gives a byte-identical stream. The crate has
//!   its own PRNG (xoshiro256**) so no dependency update can change a demo.
//! - **Event time only, in order.** Records come step by step with non-decreasing
//!   [`SimRecord::at_ms`]; a consumer may replay them as fast as it likes.
//! - **Ground truth up front.** [`Simulation::faults`] lists every fault (kind, root cause,
//!   start, end) before the first record, so a demo can print it beside the incidents.
//! - **Compact.** One sample per series every `step_ms` (10 s) for 4.5 simulated hours by
//!   default (2 h warm-up, then six 25-minute fault slots): 100 series, 162k samples in
//!   32.4k metric records, ~67k log lines in ~20k records, ~7 deploy events; ~30 MB, so
//!   a mock broker at 50k records/s carries it in about a second.
//!
//! Why it is built this way:
//!
//! - **A compressed day.** A simulated "day" lasts one hour ([`SIMULATED_DAY_MS`]), so the
//!   two-hour warm-up shows detectors two full daily cycles; [`Simulation::rules_yaml`]
//!   sets the seasonal detector's period to match.
//! - **Faults act on a node's own behaviour only.** Latency and errors reach callers
//!   through the call graph (a caller's latency includes its callees', its errors a share
//!   of theirs), so cascades are a property of the model rather than scripted per fault.
//! - **Faults are spaced** (`fault_spacing_ms`, 25 min by default, each lasting 8) so each
//!   incident can resolve before the next fault begins.

mod emit;
mod model;
mod rng;
mod rules;
mod schedule;
mod topology;

use std::collections::VecDeque;
use std::fmt;

use serde::Serialize;

use crate::model::Model;
use crate::rng::Rng;
use crate::schedule::{DeployReason, Plan};
use crate::topology::{Graph, HOSTS, NODES};

/// Length of one simulated day: the period of the traffic cycle.
pub const SIMULATED_DAY_MS: i64 = model::DAY_MS;

/// What to simulate. Out-of-range values are adjusted rather than rejected (see
/// [`Simulation::new`]), so every config runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seeds the fault schedule (kinds, root causes, times, magnitudes) and all noise.
    pub seed: u64,
    /// Simulated time between two samples of a series. Unit: ms; at least 1000.
    pub step_ms: i64,
    /// Event time of the first step. Unit: ms since the Unix epoch.
    pub start_ms: i64,
    /// Fault-free time at the start for the detectors to learn. Unit: ms.
    pub warmup_ms: i64,
    /// How many faults to inject in total; from four on every kind is present.
    pub faults: usize,
    /// Time between the starts of the slots of consecutive faults. Unit: ms.
    pub fault_spacing_ms: i64,
    /// How long each fault lasts. Unit: ms.
    pub fault_duration_ms: i64,
    /// Length of the traffic cycle. Unit: ms; at least one step. Default
    /// [`SIMULATED_DAY_MS`] (one hour, so the demo's warm-up holds two days); 86,400,000
    /// for a real day.
    pub day_ms: i64,
    /// Whether services get routine (fault-free) releases, which restart them: two during
    /// the warm-up and one after every second fault. Off for a stream with no change at all.
    pub routine_deploys: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            step_ms: 10_000,
            // 2026-01-01T00:00:00Z
            start_ms: 1_767_225_600_000,
            warmup_ms: 2 * 3_600_000,
            faults: 6,
            fault_spacing_ms: 25 * 60_000,
            fault_duration_ms: 8 * 60_000,
            day_ms: SIMULATED_DAY_MS,
            routine_deploys: true,
        }
    }
}

impl SimConfig {
    /// Simulated time from the first step to the end: the warm-up plus one slot per fault.
    pub fn duration_ms(&self) -> i64 {
        Settings::from(self).duration_ms
    }
}

/// A [`SimConfig`] with every value brought into range and aligned to the step.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub seed: u64,
    pub step_ms: i64,
    pub start_ms: i64,
    pub warmup_ms: i64,
    pub faults: usize,
    pub fault_spacing_ms: i64,
    pub fault_duration_ms: i64,
    pub duration_ms: i64,
    pub day_ms: i64,
    pub routine_deploys: bool,
}

impl From<&SimConfig> for Settings {
    fn from(c: &SimConfig) -> Self {
        let step_ms = c.step_ms.max(1000);
        let align = |ms: i64| (ms.max(0) / step_ms) * step_ms;
        let fault_duration_ms = align(c.fault_duration_ms).max(3 * step_ms);
        // Room for the fault, its recovery and a quiet stretch before the next one.
        let fault_spacing_ms = align(c.fault_spacing_ms).max(fault_duration_ms + 12 * step_ms);
        let warmup_ms = align(c.warmup_ms);
        let duration_ms =
            warmup_ms.saturating_add(fault_spacing_ms.saturating_mul(c.faults as i64));
        Self {
            seed: c.seed,
            step_ms,
            start_ms: c.start_ms,
            warmup_ms,
            faults: c.faults,
            fault_spacing_ms,
            fault_duration_ms,
            duration_ms: duration_ms.max(step_ms),
            day_ms: c.day_ms.max(step_ms),
            routine_deploys: c.routine_deploys,
        }
    }
}

/// Which Kafka topic a record belongs on (`metrics`, `logs`, `events`: the engine's
/// default input topics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Metrics,
    Logs,
    Events,
}

impl Topic {
    /// The default topic name for this kind of record.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Metrics => "metrics",
            Topic::Logs => "logs",
            Topic::Events => "events",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRecord {
    pub topic: Topic,
    /// Partitioning key: the node or host name, so a series stays on one partition.
    pub key: String,
    /// Event time of the record, for the Kafka record timestamp. Unit: ms since the epoch.
    pub at_ms: i64,
    /// Native JSON: an array of every sample (or log line) of one node at one step, or
    /// one change event.
    pub payload: Vec<u8>,
}

/// One injected fault: the ground truth an incident should find.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    /// `fault-1`, `fault-2`, ... in time order.
    pub id: String,
    pub kind: FaultKind,
    /// The node the fault was injected into (a service, or a resource for
    /// `dependency_failure`).
    pub root_cause: String,
    /// Unit: ms since the epoch; `start_ms` is also the time of the faulty deploy.
    pub start_ms: i64,
    pub end_ms: i64,
    /// For people: what happens and how strongly.
    pub description: String,
}

/// The kinds of fault the simulator injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// CPU pinned near 100%: CPU up, latency up on the node and its callers.
    CpuSaturation,
    /// Extra latency on every request of a service, propagating to its callers.
    Latency,
    /// A deploy, then a high error ratio on that service and partly on its callers.
    ErrorBurstAfterDeploy,
    /// A datastore or queue fails: errors and latency rise on every caller up to the
    /// frontend.
    DependencyFailure,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::CpuSaturation => "cpu_saturation",
            FaultKind::Latency => "latency",
            FaultKind::ErrorBurstAfterDeploy => "error_burst_after_deploy",
            FaultKind::DependencyFailure => "dependency_failure",
        })
    }
}

/// A run of the simulated system; iterate it, or take it a step at a time.
#[derive(Debug)]
pub struct Simulation {
    settings: Settings,
    plan: Plan,
    /// The public ground truth, a copy of the plan's faults.
    faults: Vec<Fault>,
    model: Model,
    /// Log lines have their own stream so their variety never shifts the metric noise.
    log_rng: Rng,
    /// Current version of each node, changed by deploys.
    versions: Vec<String>,
    /// The version before the last deploy, for rollbacks.
    previous: Vec<String>,
    next_step: i64,
    steps: i64,
    next_deploy: usize,
    /// Records of the current step not yet handed out by the iterator.
    pending: VecDeque<SimRecord>,
}

impl Simulation {
    /// A run of `cfg`. Values out of range are adjusted: the step is at least 1 s, times
    /// are aligned to the step, a fault lasts at least 3 steps and its slot leaves 12 steps
    /// of quiet after it.
    pub fn new(cfg: SimConfig) -> Self {
        let settings = Settings::from(&cfg);
        let graph = Graph::build();
        let plan = schedule::plan(&settings, &graph);
        let faults = plan.faults.iter().map(|f| f.fault.clone()).collect();
        let mut rng = Rng::new(settings.seed, 3);
        let versions: Vec<String> = NODES
            .iter()
            .map(|_| format!("1.{}.{}", rng.below(12), rng.below(20)))
            .collect();
        Self {
            model: Model::new(settings.seed, settings.start_ms, graph),
            log_rng: Rng::new(settings.seed, 4),
            previous: versions.clone(),
            versions,
            steps: settings.duration_ms / settings.step_ms,
            next_step: 0,
            next_deploy: 0,
            pending: VecDeque::new(),
            faults,
            plan,
            settings,
        }
    }

    /// Every fault of the run, in time order.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// The `topology:` section of Faultline's config for this system.
    pub fn topology_yaml(&self) -> String {
        topology::yaml()
    }

    /// A `rules:` section suited to this stream.
    pub fn rules_yaml(&self) -> String {
        rules::yaml()
    }

    /// Names of every service and resource (every node with metrics and logs).
    pub fn services(&self) -> Vec<String> {
        NODES.iter().map(|n| n.name.to_owned()).collect()
    }

    /// Next batch of records in event-time order (all records of the next step), None at
    /// the end.
    pub fn next_step(&mut self) -> Option<Vec<SimRecord>> {
        if self.next_step >= self.steps {
            return None;
        }
        let s = &self.settings;
        let t_rel = self.next_step * s.step_ms;
        let t = s.start_ms + t_rel;
        self.next_step += 1;
        let mut out = Vec::with_capacity(2 * NODES.len() + HOSTS.len());
        // Deploys of this step first: a change precedes what it causes.
        while let Some(d) = self
            .plan
            .deploys
            .get(self.next_deploy)
            .filter(|d| d.at_ms <= t)
        {
            let (node, at_ms, reason) = (d.node, d.at_ms, d.reason);
            self.next_deploy += 1;
            let current = self.versions[node].clone();
            let (version, why) = match reason {
                DeployReason::Release => (bump(&current, false), "release"),
                DeployReason::Faulty => (bump(&current, true), "release"),
                DeployReason::Rollback => (self.previous[node].clone(), "rollback"),
            };
            out.push(emit::deploy(node, at_ms, &version, &current, why));
            self.model.restart(node, at_ms);
            self.previous[node] = std::mem::replace(&mut self.versions[node], version);
        }
        let report = self
            .model
            .step(t, t_rel, s.step_ms, s.day_ms, &self.plan.faults);
        for (i, r) in report.nodes.iter().enumerate() {
            out.push(emit::node_metrics(i, r, t));
        }
        for (h, &cpu) in report.host_cpu.iter().enumerate() {
            out.push(emit::host_metrics(h, cpu, t));
        }
        for i in 0..NODES.len() {
            out.extend(emit::node_logs(i, &report, t, s.step_ms, &mut self.log_rng));
        }
        Some(out)
    }
}

/// The next version: a patch release, or a minor one (the risky kind).
fn bump(version: &str, minor: bool) -> String {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, mut min, mut patch) = (
        parts.next().unwrap_or(1),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    if minor {
        (min, patch) = (min + 1, 0);
    } else {
        patch += 1;
    }
    format!("{major}.{min}.{patch}")
}

impl Iterator for Simulation {
    type Item = SimRecord;

    fn next(&mut self) -> Option<SimRecord> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Some(record);
            }
            self.pending = self.next_step()?.into();
        }
    }
}
