//! The behaviour of the system at one instant: traffic flows down the call graph, latency
//! and errors flow back up it, and each node reports what it saw.
//!
//! Noise enters at each node's *own* work (its share of latency, its own failures), so a
//! caller's numbers carry its callees' noise just as in a real system. Every node draws the
//! same number of random values every step, so a fault never shifts the noise of later
//! steps: two seeds differ in schedule and noise, never in how one perturbs the other.

use crate::rng::Rng;
use crate::schedule::{Effect, Injected};
use crate::topology::{Graph, HOSTS, NODES};

/// One simulated day, compressed so the seasonal detectors see several cycles within a
/// run of a few hours.
pub(crate) const DAY_MS: i64 = 3_600_000;

/// Chance per node and step of a benign one-step latency blip (a GC pause, a cold cache).
const BLIP_CHANCE: f64 = 1.0 / 2500.0;

/// Why a node is unhealthy right now, for its logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Trouble {
    Saturated,
    Slow,
    BadBuild,
    Down,
}

/// What one node reports at one step.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeReport {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub error_ratio: f64,
    pub cpu: f64,
    pub memory_mib: f64,
    /// The node's own trouble, if a fault is active on it.
    pub trouble: Option<Trouble>,
    /// The callee contributing most of this node's errors, and that contribution.
    pub failing_callee: Option<(usize, f64)>,
    /// The callee contributing most of this node's p99.
    pub slowest_callee: Option<(usize, f64)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub nodes: Vec<NodeReport>,
    pub host_cpu: Vec<f64>,
}

/// Slowly changing per-node state.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    graph: Graph,
    rng: Rng,
    /// Last restart of each node: memory grows back from its base after one.
    restarted_ms: Vec<i64>,
}

/// How far a fault is in effect at `t`: ramps up over two steps from `onset`, holds, and
/// fades over three steps after `end` (recovery is never instant).
pub(crate) fn activity(t: i64, onset: i64, end: i64, step: i64) -> f64 {
    if t < onset || t >= end + 3 * step {
        0.0
    } else if t < end {
        (((t - onset + step) as f64) / (2 * step) as f64).min(1.0)
    } else {
        1.0 - ((t - end + step) as f64) / (3 * step) as f64
    }
}

/// Traffic relative to the daily mean: a broad daily wave with a lunchtime shoulder, over a
/// day of `day_ms`.
pub(crate) fn load(t_rel: i64, day_ms: i64) -> f64 {
    let phase = std::f64::consts::TAU * (t_rel.rem_euclid(day_ms) as f64) / day_ms as f64;
    1.0 + 0.25 * (phase - std::f64::consts::FRAC_PI_2).sin() + 0.05 * (2.0 * phase + 1.0).sin()
}

/// Own-behaviour overrides of one node at one step.
#[derive(Debug, Clone, Copy)]
struct Own {
    p50_ms: f64,
    p99_ms: f64,
    error_ratio: f64,
    /// CPU pinned towards a target, with the weight of the pin.
    cpu_pin: Option<(f64, f64)>,
    cpu_scale: f64,
    retries: f64,
    trouble: Option<Trouble>,
}

impl Model {
    pub fn new(seed: u64, start_ms: i64, graph: Graph) -> Self {
        let mut rng = Rng::new(seed, 2);
        let restarted_ms = NODES
            .iter()
            .map(|_| start_ms - (rng.unit() * 6.0 * 3_600_000.0) as i64)
            .collect();
        Self {
            graph,
            rng,
            restarted_ms,
        }
    }

    pub fn restart(&mut self, node: usize, at_ms: i64) {
        self.restarted_ms[node] = at_ms;
    }

    /// The reports of every node at `t` (`t_rel` since the start of the run), in a day of
    /// `day_ms`.
    pub fn step(
        &mut self,
        t: i64,
        t_rel: i64,
        step_ms: i64,
        day_ms: i64,
        faults: &[Injected],
    ) -> Report {
        let n = NODES.len();
        let load = load(t_rel, day_ms);
        let mut own = Vec::with_capacity(n);
        let mut noise = Vec::with_capacity(n);
        for (i, spec) in NODES.iter().enumerate() {
            let z: [f64; 6] = std::array::from_fn(|_| self.rng.normal());
            let blip = self.rng.unit() < BLIP_CHANCE;
            noise.push(z);
            // Busier hours are a little slower; a blip makes one step's own work slower.
            let busy = (1.0 + 0.15 * (load - 1.0)) * if blip { 2.5 } else { 1.0 };
            let p50 = spec.p50_ms * busy * (0.06 * z[0]).exp();
            let mut o = Own {
                p50_ms: p50,
                // Tails are noisier than medians.
                p99_ms: p50 * spec.tail * (0.15 * z[1]).exp(),
                error_ratio: spec.error_ratio,
                cpu_pin: None,
                cpu_scale: 1.0,
                retries: 1.0,
                trouble: None,
            };
            for f in faults.iter().filter(|f| f.node == i) {
                let a = activity(t, f.onset_ms, f.fault.end_ms, step_ms);
                if a > 0.0 {
                    apply(&mut o, f.effect, a);
                }
            }
            own.push(o);
        }

        let g = &self.graph;
        let mut rate = vec![0.0; n];
        for &i in &g.top_down {
            let inbound: f64 = g.callers[i].iter().map(|&(c, calls)| rate[c] * calls).sum();
            let base = if g.callers[i].is_empty() {
                crate::topology::FRONTEND_RPS * load
            } else {
                inbound
            };
            rate[i] = base * own[i].retries;
        }

        let mut reports = vec![NodeReport::default(); n];
        let (mut p50, mut p99, mut err) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for &i in g.top_down.iter().rev() {
            let o = own[i];
            let (mut l50, mut l99, mut ok) = (o.p50_ms, o.p99_ms, 1.0 - o.error_ratio);
            let r = &mut reports[i];
            for &(c, calls, surface) in &g.callees[i] {
                l50 += calls * p50[c];
                let tail = (2.0 * calls).min(1.0) * p99[c];
                l99 += tail;
                let failed = (calls * surface * err[c]).min(1.0);
                ok *= 1.0 - failed;
                if r.failing_callee.is_none_or(|(_, v)| failed > v) {
                    r.failing_callee = Some((c, failed));
                }
                if r.slowest_callee.is_none_or(|(_, v)| tail > v) {
                    r.slowest_callee = Some((c, tail));
                }
            }
            p50[i] = l50;
            p99[i] = l99.max(l50 * 1.2);
            err[i] = 1.0 - ok;
        }

        let mut host_cpu = vec![5.0; HOSTS.len()];
        for (i, spec) in NODES.iter().enumerate() {
            let (z, o, r) = (&noise[i], &own[i], &mut reports[i]);
            r.rate = (rate[i] * (1.0 + 0.02 * z[2])).max(0.0);
            r.p50_ms = p50[i];
            r.p99_ms = p99[i];
            // Errors are counted over the step's requests: binomial noise.
            let requests = (r.rate * step_ms as f64 / 1000.0).max(1.0);
            let p = err[i].clamp(0.0, 1.0);
            r.error_ratio = (p + (p * (1.0 - p) / requests).sqrt() * z[3]).clamp(0.0, 1.0);
            let cpu = (spec.cpu_idle + spec.cpu_per_rps * rate[i]) * o.cpu_scale;
            r.cpu = match o.cpu_pin {
                Some((target, a)) => lerp(cpu, target, a),
                None => cpu,
            };
            r.cpu = (r.cpu + 1.2 * z[4]).clamp(0.5, 100.0);
            let up_hours = (t - self.restarted_ms[i]).max(0) as f64 / 3_600_000.0;
            let growth = 0.25 * (1.0 - (-up_hours / 2.0).exp());
            r.memory_mib = spec.memory_mib * (1.0 + growth) * (1.0 + 0.004 * z[5]);
            r.trouble = o.trouble;
            if let Some(h) = HOSTS.iter().position(|&h| h == spec.host) {
                host_cpu[h] += r.cpu / 4.0;
            }
        }
        for c in &mut host_cpu {
            *c = c.min(100.0);
        }
        Report {
            nodes: reports,
            host_cpu,
        }
    }
}

fn lerp(from: f64, to: f64, a: f64) -> f64 {
    from + (to - from) * a
}

fn apply(o: &mut Own, effect: Effect, a: f64) {
    match effect {
        Effect::Cpu {
            cpu,
            slowdown,
            queue_ms,
        } => {
            o.p50_ms = o.p50_ms * lerp(1.0, slowdown, a) + queue_ms * a;
            o.p99_ms = o.p99_ms * lerp(1.0, 1.5 * slowdown, a) + 3.0 * queue_ms * a;
            o.error_ratio += 0.01 * a;
            o.cpu_pin = Some((cpu, a));
            o.trouble = Some(Trouble::Saturated);
        }
        Effect::Latency { p50_ms, p99_ms } => {
            o.p50_ms += p50_ms * a;
            o.p99_ms += p99_ms * a;
            o.trouble = Some(Trouble::Slow);
        }
        Effect::Errors { ratio } => {
            o.error_ratio = lerp(o.error_ratio, ratio, a);
            o.trouble = Some(Trouble::BadBuild);
        }
        Effect::Down {
            ratio,
            p50_ms,
            p99_ms,
        } => {
            o.error_ratio = lerp(o.error_ratio, ratio, a);
            o.p50_ms += p50_ms * a;
            o.p99_ms += p99_ms * a;
            o.cpu_scale *= 1.0 - 0.7 * a;
            o.retries *= 1.0 + 0.4 * a;
            o.trouble = Some(Trouble::Down);
        }
    }
}
