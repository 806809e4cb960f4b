//! Nezha (FSE 2023): every day folder of a data folder in the Nezha layout ([`layout`]),
//! replayed as one event-time stream through Faultline's detectors and incident engine. The
//! Online Boutique copy holds 56 injected faults over two days.
//!
//! Series (entity = service, so day 2's new productcatalogservice pod continues day 1's):
//! per-pod metrics, the entry service's SLIs (entity `frontend`), and per-edge P50 latency
//! from both sides (`source_50.csv` client, `destination_50.csv` server; entity = callee).
//! Each metric family has one detector setting and one bad direction ([`family`]), like an
//! SRE's rule file; only anomalies in the bad direction become signals.
//!
//! Scoring protocol:
//! - an incident **matches** a fault when it opens (`opened_at`, its first member) within
//!   `[inject_time, inject_time + 5 min]`; when several do, the earliest;
//! - the **scored ranking** is that incident's last revision emitted no later than the end
//!   of the fault window plus 5 minutes (`inject_time + 8 min`), i.e. what an on-call
//!   engineer would have seen by then;
//! - a fault without a matching incident, or whose root cause is not among the candidates,
//!   has no rank (a miss at every k);
//! - an incident that opens in no fault's match window counts as **unmatched**;
//! - delay = `opened_at − inject_time` (the incident's onset); `median_notify_delay_s` is
//!   the first notification's event time − inject_time (onset + the rule's `for:` of
//!   [`PERSIST`] points + `group_wait`).
//!
//! Detection: every watched family uses one robust z-score setting (median/MAD of the last
//! 240 points, 4 hours; threshold [`THRESHOLD`], per-edge latency [`EDGE_THRESHOLD`];
//! latency points must also be [`LATENCY_MIN_REL`] above the expected centre; a 120-point
//! window gave the same ranks with 44 faults detected and 13 unmatched incidents instead of
//! 46 and 11) and signals only after
//! [`PERSIST`] consecutive bad-way points. The settings are global: one per metric family,
//! the same for every service, edge, day and fault.

pub mod layout;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use faultline_correlator::{
    Bad, Correlator, EdgeKind, IncidentUpdate, Millis, RankParams, Settings, Signal, Topology,
    Transition,
};
use faultline_detectors::{Detector, DetectorSpec, EventTime, RobustZParams};
use serde_json::{Value, json};

use crate::csv::{Table, num, utc_millis};
use crate::evidence::SeriesMeta;
use crate::score::{median, position, round4, summary};
pub use layout::{Layout, LayoutError};

/// A fault matches incidents opening up to this long after its injection.
pub const MATCH_WINDOW: Millis = 5 * 60_000;
/// A series signals once it has been anomalous in its bad direction for this many
/// consecutive points (an alert rule's `for: 3m` at Nezha's 1-minute step).
pub const PERSIST: usize = 3;
/// Robust z threshold (in MADs × 1.4826) of every pod and entry-service family.
pub const THRESHOLD: f64 = 9.0;
/// Robust z threshold of the per-edge latency families (see [`family`]).
pub const EDGE_THRESHOLD: f64 = 30.0;
/// Latency families count a point only 10% or more above the expected centre.
pub const LATENCY_MIN_REL: f64 = 0.1;
/// Faults last this long.
pub const FAULT_DURATION: Millis = 3 * 60_000;

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// `inject_time`, UTC, ms.
    pub at: Millis,
    /// Root-cause service.
    pub service: String,
    /// `cpu_contention`, `return`, ...
    pub kind: String,
}

impl Fault {
    /// `resource` (cpu, network) or `code` (return, exception).
    pub fn class(&self) -> &'static str {
        match self.kind.as_str() {
            "return" | "exception" => "code",
            _ => "resource",
        }
    }
}

/// Service of a pod name: the name minus its two Kubernetes hash suffixes.
pub fn service_of(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    if parts.len() > 2 {
        parts[..parts.len() - 2].join("-")
    } else {
        pod.to_owned()
    }
}

/// Reads one day's `fault_list.json`.
pub fn load_faults(path: &Path) -> Result<Vec<Fault>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let mut out = Vec::new();
    for list in v
        .as_object()
        .context("fault list is not an object")?
        .values()
    {
        for f in list.as_array().context("fault hour is not a list")? {
            let time = f["inject_time"].as_str().context("no inject_time")?;
            out.push(Fault {
                at: utc_millis(time).with_context(|| format!("bad inject_time {time:?}"))?,
                service: service_of(f["inject_pod"].as_str().context("no inject_pod")?),
                kind: f["inject_type"]
                    .as_str()
                    .context("no inject_type")?
                    .to_owned(),
            });
        }
    }
    out.sort_by_key(|f| f.at);
    Ok(out)
}

/// The call graph: the top-level `*call_graph*.csv` if there is one, and the service edges
/// of each day's `dependency.csv` as calls, its service → host-IP edges as runs-on.
pub fn load_topology(data: &Path) -> Result<Topology> {
    let mut t = Topology::new();
    if let Some(path) = layout::call_graph(data)? {
        let traces = Table::read(&path)?;
        for r in traces.rows.iter().skip(1).filter(|r| r.len() >= 2) {
            t.add_edge(&r[0], &r[1], EdgeKind::Calls);
        }
    }
    for day in layout::day_folders(data)? {
        let dep = Table::read(&data.join(&day).join("metric").join("dependency.csv"))?;
        for r in dep.rows.iter().skip(1).filter(|r| r.len() >= 2) {
            let host = r[1].chars().all(|c| c.is_ascii_digit() || c == '.');
            let kind = if host {
                EdgeKind::RunsOn
            } else {
                EdgeKind::Calls
            };
            t.add_edge(&r[0], &r[1], kind);
        }
    }
    Ok(t)
}

/// How one metric family is watched: the rule an SRE would write for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Which way is bad.
    pub bad: Bad,
    /// The detector, one setting per family.
    pub spec: DetectorSpec,
    /// A bad-way point counts only when it lies at least this fraction of the expected
    /// centre beyond that centre (an alert rule's minimum change). Quantised latency
    /// percentiles (a P95 stuck on one histogram bucket) have a band of zero width, where
    /// any step up would otherwise be an "infinite" deviation.
    pub min_rel: f64,
}

/// Robust z-score (median/MAD of the last 240 points) at `threshold`.
fn robust(threshold: f64) -> DetectorSpec {
    DetectorSpec::RobustZ(RobustZParams {
        window: 240,
        threshold,
        warmup: 10,
    })
}

/// Which rule watches a metric family; `None` = not watched (host-level metrics, the
/// always-zero pod success rate, redundant columns).
///
/// Per-edge P50 latencies get a higher threshold ([`EDGE_THRESHOLD`]): they are heavy-tailed
/// and bimodal in normal operation (checkout → currency sits near 5 ms three quarters of the
/// time and at 20–70 ms otherwise, minute by minute), so a 9-MAD band calls every stretch
/// of the upper mode an anomaly, while an injected network delay moves an edge by far more.
pub fn family(metric: &str) -> Option<Rule> {
    let rule = |bad, threshold, min_rel| Rule {
        bad,
        spec: robust(threshold),
        min_rel,
    };
    Some(match metric {
        "CpuUsageRate(%)" => rule(Bad::Up, THRESHOLD, 0.0),
        "SuccessRate(%)" => rule(Bad::Down, THRESHOLD, 0.0),
        "PodServerLatencyP95(s)" | "LatencyP90(s)" => rule(Bad::Up, THRESHOLD, LATENCY_MIN_REL),
        "edge_client_p50" | "edge_server_p50" => rule(Bad::Up, EDGE_THRESHOLD, LATENCY_MIN_REL),
        _ => return None,
    })
}

/// Maps a column name to `(entity, metric family, series display name)`.
type ColumnNamer = dyn Fn(&str) -> Option<(String, String, String)>;

/// One watched series with its points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Metadata.
    pub meta: SeriesMeta,
    /// `(ms, value)`, every day.
    pub points: Vec<(Millis, f64)>,
}

fn add_points(
    series: &mut BTreeMap<String, Series>,
    meta: SeriesMeta,
    pts: impl Iterator<Item = (Millis, f64)>,
) {
    series
        .entry(meta.series.clone())
        .or_insert_with(|| Series {
            meta,
            points: Vec::new(),
        })
        .points
        .extend(pts);
}

/// How the columns of the metric file `name` become series, or `None` for a file that holds
/// no watched series (`dependency.csv`, anything unknown).
fn namer(name: &str) -> Option<Box<ColumnNamer>> {
    if let Some(pod) = name.strip_suffix("_metric.csv") {
        let svc = service_of(pod);
        Some(Box::new(move |col: &str| {
            Some((
                svc.clone(),
                col.to_owned(),
                format!("{col}{{service=\"{svc}\"}}"),
            ))
        }))
    } else if name == "front_service.csv" {
        Some(Box::new(|col: &str| {
            Some(("frontend".into(), col.to_owned(), format!("sli_{col}")))
        }))
    } else if name == "source_50.csv" || name == "destination_50.csv" {
        let side = if name.starts_with("source") {
            "client"
        } else {
            "server"
        };
        Some(Box::new(move |col: &str| {
            let (caller, callee) = col.split_once('_')?;
            let metric = format!("edge_{side}_p50");
            let s = format!("{metric}{{caller=\"{caller}\",callee=\"{callee}\"}}");
            Some((callee.to_owned(), metric, s))
        }))
    } else {
        None
    }
}

/// Loads every watched series of every day folder of `data` (the corpus root).
pub fn load_series(data: &Path) -> Result<Vec<Series>> {
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    for day in layout::day_folders(data)? {
        let dir = data.join(&day).join("metric");
        let mut files = layout::entries(&dir)?;
        files.sort();
        let mut read = 0;
        for (name, path) in files {
            let Some(entity_of_col) = namer(&name) else {
                if name.strip_suffix(".gz").and_then(namer).is_some() {
                    return Err(LayoutError::Gzipped { path }.into());
                }
                continue;
            };
            read += 1;
            let t = Table::read(&path)?;
            let Some(header) = t.rows.first() else {
                continue;
            };
            let time_col = t.column("Time").or_else(|| t.column("time")).unwrap_or(0);
            let times: Vec<Option<Millis>> = t
                .rows
                .iter()
                .skip(1)
                .map(|r| utc_millis(&r[time_col]))
                .collect();
            for (c, col) in header.iter().enumerate() {
                let Some((entity, metric, display)) = entity_of_col(col) else {
                    continue;
                };
                let Some(Rule { bad, .. }) = family(&metric) else {
                    continue;
                };
                let meta = SeriesMeta {
                    entity,
                    series: display,
                    metric,
                    bad,
                };
                let pts =
                    t.rows.iter().skip(1).zip(&times).filter_map(|(r, at)| {
                        Some(((*at)?, r.get(c).map_or(f64::NAN, |f| num(f))))
                    });
                add_points(&mut series, meta, pts);
            }
        }
        if read == 0 {
            return Err(LayoutError::NoMetricFiles { dir }.into());
        }
    }
    let mut out: Vec<Series> = series.into_values().collect();
    for s in &mut out {
        s.points.sort_by_key(|p| p.0);
    }
    Ok(out)
}

/// The correlator settings of the evaluation (one for the whole corpus): group anomalies
/// within 2 minutes, notify after one more 1-minute sample, resolve after 3 quiet minutes,
/// and never reopen (faults come ~8 minutes apart; a recurrence is a new incident).
pub fn settings() -> Settings {
    settings_for_step(60_000)
}

/// [`settings`] in sampling steps, for data sampled every `step` ms: group within 2 steps,
/// notify after 1, resolve after 3 quiet steps.
pub fn settings_for_step(step: Millis) -> Settings {
    Settings {
        window: 2 * step,
        max_hops: 2,
        group_wait: step,
        group_interval: step,
        quiet_period: 3 * step,
        reopen_window: 0,
        rank: RankParams::default(),
        ..Settings::default()
    }
}

/// Streams the series through detection and the correlator; returns every update.
pub fn replay(series: &[Series], topology: Topology, settings: Settings) -> Vec<IncidentUpdate> {
    let mut events: Vec<(Millis, usize, f64)> = series
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.points.iter().map(move |&(at, v)| (at, i, v)))
        .collect();
    events.sort_by_key(|e| (e.0, e.1));
    let rules: Vec<Rule> = series
        .iter()
        .map(|s| family(&s.meta.metric).expect("loaded series are watched"))
        .collect();
    let mut detectors: Vec<_> = rules.iter().map(|r| r.spec.build()).collect();
    let mut corr = Correlator::new(topology, settings);
    let mut out = Vec::new();
    // The current run of bad-way anomalies per series (the `for:` of an alert rule).
    let mut runs: Vec<Vec<Signal>> = vec![Vec::new(); series.len()];
    for (at, i, v) in events {
        corr.advance(at, &mut out);
        let now = judge(&rules[i], &mut detectors[i], &series[i].meta, at, v);
        if let Some(s) = persist(&mut runs[i], now) {
            corr.signal(s, &mut out);
        }
    }
    let end = series
        .iter()
        .filter_map(|s| s.points.last().map(|p| p.0))
        .max()
        .unwrap_or(0);
    corr.advance(end + 3_600_000, &mut out);
    out
}

/// One point through its series' rule: the bad-way signal, if any.
fn judge(
    rule: &Rule,
    detector: &mut faultline_detectors::AnyDetector,
    meta: &SeriesMeta,
    at: Millis,
    v: f64,
) -> Option<Signal> {
    let verdict = detector.observe(EventTime::from_millis(at), v);
    let s = meta.bad_way_signal(at, v, &verdict, rule.spec.name())?;
    let centre = (s.lower + s.upper) / 2.0;
    let excess = if s.up {
        s.value - centre
    } else {
        centre - s.value
    };
    (excess >= rule.min_rel * centre.abs()).then_some(s)
}

/// Extends a series' run of consecutive bad-way anomalies with `now` (`None`, a normal
/// point, ends the run). From the [`PERSIST`]th point on, returns the run as one signal
/// ([`persistent`]); its id is the run's, so the correlator folds the repeats.
pub(crate) fn persist(run: &mut Vec<Signal>, now: Option<Signal>) -> Option<Signal> {
    match now {
        None => {
            run.clear();
            None
        }
        Some(s) => {
            run.push(s);
            (run.len() >= PERSIST).then(|| persistent(run))
        }
    }
}

/// The latest [`PERSIST`] bad-way anomalies of a run as one signal: dated at the run's
/// onset, as strong as the weakest of them, so a lone spike never signals and one extreme
/// point cannot dominate the ranking (the "second largest" of the prototype, generalised).
fn persistent(run: &[Signal]) -> Signal {
    let onset = run[0].at;
    let mut s = run[run.len() - PERSIST..]
        .iter()
        .min_by(|a, b| a.magnitude().total_cmp(&b.magnitude()))
        .expect("a run holds PERSIST signals")
        .clone();
    s.id = format!("{}@{}+", s.series, onset);
    s.at = onset;
    s
}

/// What happened to one fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Matched incident id.
    pub incident: Option<String>,
    /// Its opened_at − inject_time.
    pub delay: Option<Millis>,
    /// First notification of the matched incident − inject_time.
    pub notify_delay: Option<Millis>,
    /// Rank of the root cause in the scored revision.
    pub rank: Option<usize>,
    /// The scored revision's candidates.
    pub candidates: Vec<String>,
}

/// Matches faults to incidents (see the module doc). Returns the outcomes and the number of
/// incidents that match no fault.
pub fn score(faults: &[Fault], updates: &[IncidentUpdate]) -> (Vec<Outcome>, usize) {
    let mut opened: BTreeMap<&str, Millis> = BTreeMap::new();
    for u in updates {
        opened.entry(u.incident_id.as_str()).or_insert(u.opened_at);
    }
    let in_window = |f: &Fault, t: Millis| t >= f.at && t <= f.at + MATCH_WINDOW;
    let outcomes = faults
        .iter()
        .map(|f| {
            let Some((id, at)) = opened
                .iter()
                .filter(|(_, t)| in_window(f, **t))
                .min_by_key(|(id, t)| (**t, **id))
            else {
                return Outcome {
                    incident: None,
                    delay: None,
                    notify_delay: None,
                    rank: None,
                    candidates: Vec::new(),
                };
            };
            let deadline = f.at + FAULT_DURATION + MATCH_WINDOW;
            let rev = updates
                .iter()
                .filter(|u| u.incident_id == *id && u.updated_at <= deadline)
                .max_by_key(|u| u.revision);
            let candidates: Vec<String> = rev
                .map(|u| u.candidates.iter().map(|c| c.entity.clone()).collect())
                .unwrap_or_default();
            let first = updates
                .iter()
                .filter(|u| u.incident_id == *id)
                .map(|u| u.updated_at)
                .min();
            Outcome {
                incident: Some((*id).to_owned()),
                delay: Some(*at - f.at),
                notify_delay: first.map(|t| t - f.at),
                rank: position(&candidates, &f.service),
                candidates,
            }
        })
        .collect();
    let unmatched = opened
        .values()
        .filter(|t| !faults.iter().any(|f| in_window(f, **t)))
        .count();
    (outcomes, unmatched)
}

/// The whole evaluation of the data folder `data` (checked first, see [`Layout`]).
pub fn evaluate(data: &Path, progress: &mut dyn Write) -> Result<Value> {
    let layout = Layout::discover(data)?;
    let mut faults = Vec::new();
    for day in &layout.days {
        faults.extend(load_faults(&data.join(day).join("fault_list.json"))?);
    }
    let topology = load_topology(data)?;
    let series = load_series(data)?;
    let updates = replay(&series, topology, settings());
    let (outcomes, unmatched) = score(&faults, &updates);
    let mut by_class: BTreeMap<&str, Vec<Option<usize>>> = BTreeMap::new();
    let mut delays = Vec::new();
    let mut notify = Vec::new();
    for (f, o) in faults.iter().zip(&outcomes) {
        writeln!(
            progress,
            "nezha {} {} {}: {}, rank {} (top {})",
            f.at,
            f.service,
            f.kind,
            o.delay.map_or("not detected".to_owned(), |d| format!(
                "detected after {} s",
                d / 1000
            )),
            crate::sockshop::fmt_rank(o.rank),
            o.candidates
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        )?;
        by_class.entry(f.class()).or_default().push(o.rank);
        if let Some(d) = o.delay {
            delays.push(d as f64 / 1000.0);
        }
        if let Some(d) = o.notify_delay {
            notify.push(d as f64 / 1000.0);
        }
    }
    let ranks: Vec<Option<usize>> = outcomes.iter().map(|o| o.rank).collect();
    let mut top = summary(&ranks);
    let obj = top.as_object_mut().expect("object");
    obj.insert("days".into(), json!(layout.days));
    obj.insert("faults".into(), json!(faults.len()));
    obj.insert("detected".into(), json!(delays.len()));
    obj.insert("unmatched_incidents".into(), json!(unmatched));
    obj.insert(
        "incidents".into(),
        json!(
            updates
                .iter()
                .filter(|u| u.transition == Transition::Opened)
                .count()
        ),
    );
    obj.insert("median_delay_s".into(), json!(median(&delays).map(round4)));
    obj.insert(
        "median_notify_delay_s".into(),
        json!(median(&notify).map(round4)),
    );
    obj.insert(
        "by_class".into(),
        Value::Object(
            by_class
                .iter()
                .map(|(k, v)| ((*k).to_owned(), summary(v)))
                .collect(),
        ),
    );
    obj.insert(
        "protocol".into(),
        json!("match: incident opened within [inject_time, +5 min]; ranking: its last revision by inject_time + 8 min"),
    );
    Ok(top)
}
