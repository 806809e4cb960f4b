//! The plan of a run, drawn from the seed before the first step: which faults hit which
//! node when and how hard, and when services are deployed. Everything the stream shows
//! follows from this plan, which is why the ground truth can be handed out up front.

use crate::rng::Rng;
use crate::topology::{Graph, NODES, NodeKind, index_of};
use crate::{Fault, FaultKind, Settings};

/// How a fault changes its root cause's own behaviour at full strength.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Effect {
    /// CPU pinned at `cpu` percent; own work `slowdown` times slower, and every request
    /// waits `queue_ms` more in the run queue.
    Cpu {
        cpu: f64,
        slowdown: f64,
        queue_ms: f64,
    },
    /// Fixed extra latency on every request. Unit: ms.
    Latency { p50_ms: f64, p99_ms: f64 },
    /// A bad build: own error ratio rises to `ratio`.
    Errors { ratio: f64 },
    /// The node is (mostly) down: requests fail with `ratio` after timing out.
    Down {
        ratio: f64,
        p50_ms: f64,
        p99_ms: f64,
    },
}

/// A fault with its target and effect.
#[derive(Debug, Clone)]
pub(crate) struct Injected {
    pub fault: Fault,
    pub node: usize,
    pub effect: Effect,
    /// When the effect starts: a bad deploy shows its errors one step after the deploy.
    pub onset_ms: i64,
}

/// Why a deploy happened; each is a `deploy` change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeployReason {
    /// A routine release that changes nothing visible but a restart.
    Release,
    /// The release that causes an error burst.
    Faulty,
    /// Back to the previous version, ending the error burst.
    Rollback,
}

#[derive(Debug, Clone)]
pub(crate) struct Deploy {
    pub at_ms: i64,
    pub node: usize,
    pub reason: DeployReason,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub faults: Vec<Injected>,
    /// Sorted by time.
    pub deploys: Vec<Deploy>,
}

const ALL_KINDS: [FaultKind; 4] = [
    FaultKind::CpuSaturation,
    FaultKind::Latency,
    FaultKind::ErrorBurstAfterDeploy,
    FaultKind::DependencyFailure,
];

pub(crate) fn plan(s: &Settings, graph: &Graph) -> Plan {
    let mut rng = Rng::new(s.seed, 1);
    // Every kind once (in a seeded order), then kinds at random.
    let mut kinds = ALL_KINDS.to_vec();
    rng.shuffle(&mut kinds);
    let kinds: Vec<FaultKind> = (0..s.faults)
        .map(|i| kinds.get(i).copied().unwrap_or(ALL_KINDS[rng.below(4)]))
        .collect();

    let frontend = index_of("frontend");
    let services: Vec<usize> = (0..NODES.len())
        .filter(|&i| NODES[i].kind == NodeKind::Service && i != frontend)
        .collect();
    let resources: Vec<usize> = (0..NODES.len())
        .filter(|&i| NODES[i].kind == NodeKind::Resource)
        .collect();
    let mut used = vec![false; NODES.len()];
    let mut faults = Vec::with_capacity(s.faults);
    for (i, &kind) in kinds.iter().enumerate() {
        let pool = match kind {
            FaultKind::DependencyFailure => &resources,
            _ => &services,
        };
        // Distinct root causes while the pool lasts.
        let fresh: Vec<usize> = pool.iter().copied().filter(|&n| !used[n]).collect();
        let candidates = if fresh.is_empty() { pool } else { &fresh };
        let node = candidates[rng.below(candidates.len())];
        used[node] = true;
        let slot = s.start_ms + s.warmup_ms + i as i64 * s.fault_spacing_ms;
        let jitter_steps = (s.fault_spacing_ms - s.fault_duration_ms) / 4 / s.step_ms;
        let start_ms = slot + rng.below(jitter_steps as usize + 1) as i64 * s.step_ms;
        let slot = Slot {
            index: i,
            kind,
            node,
            start_ms,
            end_ms: start_ms + s.fault_duration_ms,
        };
        faults.push(inject(&slot, s.step_ms, graph, &mut rng));
    }

    let mut deploys = routine_deploys(s, &faults, &services, &mut rng);
    for f in &faults {
        if f.fault.kind == FaultKind::ErrorBurstAfterDeploy {
            deploys.push(Deploy {
                at_ms: f.fault.start_ms,
                node: f.node,
                reason: DeployReason::Faulty,
            });
            deploys.push(Deploy {
                at_ms: f.fault.end_ms,
                node: f.node,
                reason: DeployReason::Rollback,
            });
        }
    }
    deploys.sort_by_key(|d| (d.at_ms, d.node));
    Plan { faults, deploys }
}

/// Where and when one fault goes, before its magnitude is drawn.
struct Slot {
    index: usize,
    kind: FaultKind,
    node: usize,
    start_ms: i64,
    end_ms: i64,
}

fn inject(slot: &Slot, step_ms: i64, graph: &Graph, rng: &mut Rng) -> Injected {
    let &Slot {
        index,
        kind,
        node,
        start_ms,
        end_ms,
    } = slot;
    let name = NODES[node].name;
    let upstream = match graph.upstream_of(node).len() {
        1 => "its one caller".to_owned(),
        n => format!("{n} upstream services"),
    };
    let (effect, description, onset_ms) = match kind {
        FaultKind::CpuSaturation => {
            let (cpu, slowdown) = (rng.range(95.0, 99.0), rng.range(4.0, 8.0));
            let queue_ms = rng.range(80.0, 160.0);
            let d = format!(
                "CPU saturation on {name} ({}): CPU pinned near {cpu:.0}%, its own work \
                 ×{slowdown:.1} slower plus {queue_ms:.0} ms queueing, slowing {upstream}",
                NODES[node].host
            );
            let effect = Effect::Cpu {
                cpu,
                slowdown,
                queue_ms,
            };
            (effect, d, start_ms)
        }
        FaultKind::Latency => {
            let p50_ms = rng.range(200.0, 450.0);
            let p99_ms = p50_ms * rng.range(2.2, 3.0);
            let d = format!(
                "latency injected into {name}: +{p50_ms:.0} ms median, +{p99_ms:.0} ms p99, \
                 propagating to {upstream}"
            );
            (Effect::Latency { p50_ms, p99_ms }, d, start_ms)
        }
        FaultKind::ErrorBurstAfterDeploy => {
            let ratio = rng.range(0.15, 0.35);
            let d = format!(
                "faulty deploy of {name}: error ratio rises to {:.0}% right after the deploy, \
                 partly surfacing upstream; rolled back at the end",
                ratio * 100.0
            );
            (Effect::Errors { ratio }, d, start_ms + step_ms)
        }
        FaultKind::DependencyFailure => {
            let ratio = rng.range(0.6, 0.95);
            let p50_ms = rng.range(600.0, 1000.0);
            let p99_ms = rng.range(2000.0, 3000.0);
            let d = format!(
                "{name} goes down: {:.0}% of its requests fail after timeouts, cascading \
                 through {upstream} to the frontend",
                ratio * 100.0
            );
            (
                Effect::Down {
                    ratio,
                    p50_ms,
                    p99_ms,
                },
                d,
                start_ms,
            )
        }
    };
    Injected {
        fault: Fault {
            id: format!("fault-{}", index + 1),
            kind,
            root_cause: name.to_owned(),
            start_ms,
            end_ms,
            description,
        },
        node,
        effect,
        onset_ms,
    }
}

/// Benign releases: two during the warm-up and one in the quiet part of every other fault
/// slot, on services no nearby fault touches, at an arbitrary second.
fn routine_deploys(
    s: &Settings,
    faults: &[Injected],
    services: &[usize],
    rng: &mut Rng,
) -> Vec<Deploy> {
    let mut windows = Vec::new();
    let quarter = s.warmup_ms / 4;
    if quarter > s.step_ms {
        windows.push((s.start_ms + quarter, s.start_ms + 2 * quarter, None));
        windows.push((s.start_ms + 2 * quarter, s.start_ms + 3 * quarter, None));
    }
    for (i, f) in faults.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        let from = f.fault.end_ms + 4 * 60_000;
        let to = faults
            .get(i + 1)
            .map_or(s.start_ms + s.duration_ms, |next| next.fault.start_ms)
            - 4 * 60_000;
        windows.push((from, to, Some(f.node)));
    }
    let mut deploys = Vec::new();
    if !s.routine_deploys {
        return deploys;
    }
    for (from, to, avoid) in windows {
        if to - from < s.step_ms {
            continue;
        }
        let at_ms = from + (rng.unit() * (to - from) as f64) as i64;
        let candidates: Vec<usize> = services
            .iter()
            .copied()
            .filter(|&n| Some(n) != avoid)
            .collect();
        deploys.push(Deploy {
            at_ms,
            node: candidates[rng.below(candidates.len())],
            reason: DeployReason::Release,
        });
    }
    deploys
}
