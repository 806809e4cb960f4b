//! One simulated system streamed through a configuration as the engine's pipeline does,
//! without the engine: the shared core of [`crate::false_alarms`] and [`crate::detection`].
//!
//! Each metric sample goes through its rule's detectors; a verdict becomes an anomaly by the
//! rule's sensitivity and `min_duration` by the engine's own [`judge`] (an onset scoring at
//! least `1 − sensitivity` is held until the series has stayed outside the band expected at
//! the onset, on the same side, for `min_duration`, then reported with the onset's time). Every anomaly goes to a correlator with the configuration's settings and
//! topology, whose clock, as in the engine, is a watermark advanced to each step's time after
//! its samples. Change events are not replayed: they only add evidence to rankings.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use faultline_config::judge::{Pending, Subject, judge};
use faultline_config::{Config, RouteId};
use faultline_correlator::{Correlator, IncidentUpdate, Settings, Transition};
use faultline_detectors::{AnyDetector, Detector, EventTime};
use faultline_sim::{Fault, SimConfig, Simulation, Topic};
use serde::Deserialize;

/// An incident as first notified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub incident_id: String,
    /// Event time of its first anomaly (the onset, under a `min_duration`). Unit: ms.
    pub opened_at: i64,
    /// Event time of its first notification: the correlator's clock when it emitted it, so
    /// after `group_wait` and, under a `min_duration`, after the onset was confirmed.
    /// Unit: ms.
    pub notified_at: i64,
    /// Metric of its first member as first notified.
    pub metric: String,
}

/// What one system's replay found.
#[derive(Debug, Clone)]
pub struct Run {
    /// Series seen.
    pub series: u64,
    /// Every incident that notified, by opening time.
    pub opened: Vec<Opened>,
    /// The faults the simulator injected.
    pub faults: Vec<Fault>,
}

/// One sample of the simulator's native JSON.
#[derive(Deserialize)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    ts: i64,
    value: f64,
}

/// One series: its rule and, per entry of the rule's `detectors`, a detector and its
/// pending onset.
struct Series {
    route: RouteId,
    slots: Vec<Slot>,
}

/// A detector and the onset it holds under `min_duration` (the engine's `series::Slot`).
struct Slot {
    detector: AnyDetector,
    pending: Option<Pending>,
}

/// Streams `sim_config` through `config`.
pub fn replay(config: &Config, sim_config: SimConfig) -> Result<Run> {
    let mut sim = Simulation::new(sim_config);
    let faults = sim.faults().to_vec();
    let settings = Settings {
        clock_follows_inputs: false,
        ..config.correlator.clone()
    };
    let mut correlator = Correlator::new(config.topology.build(), settings);
    let mut table: HashMap<String, Series> = HashMap::new();
    let mut updates = Vec::new();
    let mut opened: HashMap<String, Opened> = HashMap::new();
    let mut now = i64::MIN;
    while let Some(records) = sim.next_step() {
        for record in records.iter().filter(|r| r.topic == Topic::Metrics) {
            let samples: Vec<Sample> =
                serde_json::from_slice(&record.payload).context("simulator metric record")?;
            for s in samples {
                now = now.max(s.ts);
                observe(config, &mut table, &s, &mut correlator, &mut updates);
            }
        }
        correlator.advance(now, &mut updates);
        collect(&mut updates, &mut opened);
    }
    correlator.advance(now.saturating_add(86_400_000), &mut updates);
    collect(&mut updates, &mut opened);
    let mut opened: Vec<Opened> = opened.into_values().collect();
    opened
        .sort_unstable_by(|a, b| (a.opened_at, &a.incident_id).cmp(&(b.opened_at, &b.incident_id)));
    Ok(Run {
        series: table.len() as u64,
        opened,
        faults,
    })
}

/// Keeps the first notification of each incident.
fn collect(updates: &mut Vec<IncidentUpdate>, opened: &mut HashMap<String, Opened>) {
    for u in updates.drain(..) {
        if u.transition == Transition::Opened {
            opened.entry(u.incident_id.clone()).or_insert(Opened {
                incident_id: u.incident_id,
                opened_at: u.opened_at,
                notified_at: u.updated_at,
                metric: u
                    .members
                    .first()
                    .map_or_else(String::new, |m| m.metric.to_string()),
            });
        }
    }
}

/// One sample through its series' detectors and the rule's judgement; each anomaly becomes
/// a correlator signal.
fn observe(
    config: &Config,
    table: &mut HashMap<String, Series>,
    s: &Sample,
    correlator: &mut Correlator,
    updates: &mut Vec<IncidentUpdate>,
) {
    let display = display(s);
    let series = table.entry(display.clone()).or_insert_with(|| {
        let route = config.route(&s.name, s.labels.iter());
        Series {
            route,
            slots: config
                .rule(route)
                .detectors
                .iter()
                .map(|spec| Slot {
                    detector: spec.build(),
                    pending: None,
                })
                .collect(),
        }
    });
    let rule = config.rule(series.route);
    let at = EventTime::from_millis(s.ts);
    for (i, slot) in series.slots.iter_mut().enumerate() {
        let verdict = slot.detector.observe(at, s.value);
        let Some(f) = judge(rule, &mut slot.pending, at, s.value, verdict) else {
            continue;
        };
        let labels = s.labels.iter().map(|(k, v)| (k, v.as_str()));
        let entity = config
            .entity(series.route, labels)
            .map_or(s.name.clone(), |(_, v)| v.to_owned());
        let subject = Subject {
            id: format!("{display}#{i}@{}", f.at.as_millis()),
            entity,
            series: display.clone(),
            metric: s.name.clone(),
        };
        let signal = f.signal(subject, rule, rule.detectors[i].name());
        correlator.signal(signal, updates);
    }
}

/// `name{k="v",...}`, the series' key.
fn display(s: &Sample) -> String {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", s.name, labels.join(","))
}
