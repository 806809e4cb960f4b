//! The `rules:` section that suits the simulated stream: the default ensemble with its
//! seasonal member set to the simulator's compressed day, a bad direction per metric, and
//! a short `min_duration` so one-step benign blips are not reported.

use std::fmt::Write as _;

use crate::emit::{CPU, ERROR_RATIO, HOST_CPU, LATENCY_P50, LATENCY_P99, MEMORY, REQUEST_RATE};
use crate::model::DAY_MS;

struct RuleSpec {
    name: &'static str,
    metrics: &'static [&'static str],
    direction: &'static str,
    severity: &'static str,
    entity_label: &'static str,
}

const RULES: [RuleSpec; 6] = [
    RuleSpec {
        name: "sim-latency",
        metrics: &[LATENCY_P50, LATENCY_P99],
        direction: "up",
        severity: "critical",
        entity_label: "service",
    },
    RuleSpec {
        name: "sim-errors",
        metrics: &[ERROR_RATIO],
        direction: "up",
        severity: "critical",
        entity_label: "service",
    },
    RuleSpec {
        name: "sim-traffic",
        metrics: &[REQUEST_RATE],
        direction: "both",
        severity: "warning",
        entity_label: "service",
    },
    RuleSpec {
        name: "sim-cpu",
        metrics: &[CPU],
        direction: "up",
        severity: "warning",
        entity_label: "service",
    },
    RuleSpec {
        name: "sim-memory",
        metrics: &[MEMORY],
        direction: "up",
        severity: "info",
        entity_label: "service",
    },
    RuleSpec {
        name: "sim-host-cpu",
        metrics: &[HOST_CPU],
        direction: "up",
        severity: "warning",
        entity_label: "host",
    },
];

pub(crate) fn yaml() -> String {
    let day_minutes = DAY_MS / 60_000;
    // Twelve phases per simulated day, as an hourly bin is for a real one.
    let bin_minutes = (day_minutes / 12).max(1);
    let mut out = String::from("rules:\n");
    for rule in &RULES {
        let metric = match rule.metrics {
            [one] => (*one).to_owned(),
            many => format!("{{{}}}", many.join(",")),
        };
        let _ = write!(
            out,
            "  - name: {}\n    match: {{metric: \"{metric}\"}}\n    detectors: [{{kind: ensemble, \
             seasonal: {{periods: [{day_minutes}m], bin: {bin_minutes}m}}}}]\n    \
             min_duration: 30s\n    severity: {}\n    direction: {}\n    entity_labels: [{}]\n",
            rule.name, rule.severity, rule.direction, rule.entity_label
        );
    }
    out
}
