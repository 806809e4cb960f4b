//! The `rules:` section that suits the simulated stream: the default ensemble with its
//! seasonal member set to the simulator's compressed day, a bad direction per metric, and
//! a short `min_duration` so one-step benign blips are not reported.
//!
//! Two additions, each for a failure seen in the demo:
//!
//! - **Latency and errors also get a robust z-score.** The ensemble calibrates each member
//!   against that series' own history, anomalies included, and its EWMA variance absorbs an
//!   outage: once a fault has driven a series far off, a second fault on it within the
//!   next hour looks unsurprising and goes unreported (e.g. a latency fault on `shipping`
//!   25 minutes after an `orders-queue` outage slowed it). A median/MAD window is barely
//!   moved by an eight-minute excursion, so it still sees the second fault.
//! - **The seasonal member starts late, and never on memory.** A phase of the day not yet
//!   seen predicts no offset, so while the first day's profile is filling in, every bin
//!   boundary of traffic and CPU looked anomalous (a warm-up incident on every seed); it
//!   judges only after a day and a half. Memory grows after each restart instead of
//!   following the day, so a daily profile only fits its trend and flags the next cycle.

use std::fmt::Write as _;

use crate::emit::{CPU, ERROR_RATIO, HOST_CPU, LATENCY_P50, LATENCY_P99, MEMORY, REQUEST_RATE};
use crate::model::DAY_MS;

struct RuleSpec {
    name: &'static str,
    metrics: &'static [&'static str],
    direction: &'static str,
    severity: &'static str,
    entity_label: &'static str,
    /// Whether the ensemble's seasonal member watches it: not for memory, which grows
    /// after each restart rather than following the day.
    seasonal: bool,
    /// Detectors beside the ensemble (YAML flow mappings, each after a comma).
    extra: &'static str,
}

/// Beside the ensemble on latency and errors (see the module docs): 6 robust σ, above the
/// default 5, because it is not calibrated and every point of a long fault may report.
const ROBUST: &str = ", {kind: robust_z, threshold: 6}";

const RULES: [RuleSpec; 6] = [
    RuleSpec {
        name: "sim-latency",
        metrics: &[LATENCY_P50, LATENCY_P99],
        direction: "up",
        severity: "critical",
        entity_label: "service",
        seasonal: true,
        extra: ROBUST,
    },
    RuleSpec {
        name: "sim-errors",
        metrics: &[ERROR_RATIO],
        direction: "up",
        severity: "critical",
        entity_label: "service",
        seasonal: true,
        extra: ROBUST,
    },
    RuleSpec {
        name: "sim-traffic",
        metrics: &[REQUEST_RATE],
        direction: "both",
        severity: "warning",
        entity_label: "service",
        seasonal: true,
        extra: "",
    },
    RuleSpec {
        name: "sim-cpu",
        metrics: &[CPU],
        direction: "up",
        severity: "warning",
        entity_label: "service",
        seasonal: true,
        extra: "",
    },
    RuleSpec {
        name: "sim-memory",
        metrics: &[MEMORY],
        direction: "up",
        severity: "info",
        entity_label: "service",
        seasonal: false,
        extra: "",
    },
    RuleSpec {
        name: "sim-host-cpu",
        metrics: &[HOST_CPU],
        direction: "up",
        severity: "warning",
        entity_label: "host",
        seasonal: true,
        extra: "",
    },
];

pub(crate) fn yaml() -> String {
    // The warm-up is counted in points; `Simulation::rules_yaml` does not pass its settings,
    // so this assumes the default step.
    let step_ms = crate::SimConfig::default().step_ms;
    let day_minutes = DAY_MS / 60_000;
    // The seasonal member judges only once every phase of the day has been seen at least
    // once and half of them twice (see the module docs).
    let seasonal_warmup = 3 * DAY_MS / 2 / step_ms.max(1);
    // Twelve phases per simulated day, as an hourly bin is for a real one.
    let bin_minutes = (day_minutes / 12).max(1);
    let mut out = String::from("rules:\n");
    for rule in &RULES {
        let metric = match rule.metrics {
            [one] => (*one).to_owned(),
            many => format!("{{{}}}", many.join(",")),
        };
        let seasonal = if rule.seasonal {
            format!("{{periods: [{day_minutes}m], bin: {bin_minutes}m, warmup: {seasonal_warmup}}}")
        } else {
            "null".to_owned()
        };
        let _ = write!(
            out,
            "  - name: {}\n    match: {{metric: \"{metric}\"}}\n    detectors: [{{kind: ensemble, \
             seasonal: {seasonal}}}{}]\n    min_duration: 30s\n    severity: {}\n    \
             direction: {}\n    entity_labels: [{}]\n",
            rule.name, rule.extra, rule.severity, rule.direction, rule.entity_label
        );
    }
    out
}
