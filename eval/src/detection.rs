//! Faults found by a configuration on the simulated shop: the other side of
//! [`crate::false_alarms`], measured with the same replay ([`crate::sim_replay`]).
//!
//! Each system (seeds `1..=systems`) is the simulator's default run (warm-up, then faults
//! with their deploys), optionally with a real 24-hour day. A fault is found, as in
//! `faultline demo`, when an incident opened (its first anomaly's event time) within
//! `[start, end + 1 min]`; its delays are from the fault's start to that opening and to the
//! incident's first notification (which `group_wait` and a `min_duration` postpone). The
//! simulator applies a fault at once, and with dozens of stray incidents per system some
//! openings in a fault's nine minutes are chance: `found_within_1m` counts only those
//! opening in the fault's first minute, a figure chance inflates far less. The
//! configuration is used as given: `Config::default()` has an empty topology, so incidents
//! group by entity only and no root-cause ranking is scored here (the demo scores that with
//! the simulator's topology and rules).

use std::io::Write;

use anyhow::Result;
use faultline_config::Config;
use faultline_sim::SimConfig;
use serde_json::{Value, json};

use crate::score::median;
use crate::sim_replay::replay;

/// Slack after a fault's end within which an incident still matches it (the demo's).
const MATCH_SLACK_MS: i64 = 60_000;

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Simulated systems (seeds `1..=systems`), each with the simulator's default faults.
    pub systems: u64,
    /// Length of the traffic cycle. Unit: ms (the simulator's default is one hour).
    pub day_ms: i64,
    /// Fault-free time at the start. Unit: ms.
    pub warmup_ms: i64,
}

impl Default for Settings {
    /// Ten of the simulator's default runs: 60 faults, a one-hour day, two hours' warm-up.
    fn default() -> Self {
        let sim = SimConfig::default();
        Self {
            systems: 10,
            day_ms: sim.day_ms,
            warmup_ms: sim.warmup_ms,
        }
    }
}

/// Replays `settings` through `config`; one progress line per system. The JSON has
/// `faults`, `found`, the median delays (`median_open_delay_s`, `median_notify_delay_s`)
/// `found_within_1m`, and `unmatched` (incidents matching no fault, warm-up included).
pub fn evaluate(config: &Config, settings: &Settings, progress: &mut dyn Write) -> Result<Value> {
    let (mut faults, mut unmatched) = (0usize, 0usize);
    let (mut open_delays, mut notify_delays) = (Vec::new(), Vec::new());
    for seed in 1..=settings.systems {
        let sim_config = SimConfig {
            seed,
            day_ms: settings.day_ms,
            warmup_ms: settings.warmup_ms,
            ..SimConfig::default()
        };
        let run = replay(config, sim_config)?;
        let mut matched = std::collections::BTreeSet::new();
        let mut found = 0;
        for f in &run.faults {
            // `opened` is sorted by opening time: the first in range is the earliest.
            let hit = run
                .opened
                .iter()
                .find(|o| o.opened_at >= f.start_ms && o.opened_at <= f.end_ms + MATCH_SLACK_MS);
            if let Some(o) = hit {
                found += 1;
                matched.insert(&o.incident_id);
                open_delays.push((o.opened_at - f.start_ms) as f64 / 1000.0);
                notify_delays.push((o.notified_at - f.start_ms) as f64 / 1000.0);
            }
        }
        let stray = run.opened.len() - matched.len();
        writeln!(
            progress,
            "detection system {seed}: {found} of {} faults found, {stray} incident(s) matching no fault",
            run.faults.len()
        )?;
        faults += run.faults.len();
        unmatched += stray;
    }
    Ok(json!({
        "systems": settings.systems,
        "day_s": settings.day_ms / 1000,
        "faults": faults,
        "found": open_delays.len(),
        "found_within_1m": open_delays.iter().filter(|d| **d <= 60.0).count(),
        "median_open_delay_s": median(&open_delays),
        "median_notify_delay_s": median(&notify_delays),
        "unmatched": unmatched,
        "min_duration_s": config.defaults.compiled.min_duration.as_secs_f64(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One simulator run (six faults) through the default configuration.
    #[test]
    fn the_default_configuration_finds_most_faults_of_one_run() {
        let settings = Settings {
            systems: 1,
            ..Settings::default()
        };
        let v = evaluate(&Config::default(), &settings, &mut Vec::new()).expect("replays");
        assert_eq!(v["faults"], 6, "{v}");
        // Measured: 6 found, all in the first minute.
        assert!(v["found_within_1m"].as_u64().unwrap() >= 5, "{v}");
    }
}
