//! PetShop (Amazon, CLeaR 2024): per issue, rank the X-Ray nodes from the violated PetSite
//! target, given the call graph and the 5-row (5-minute periods) incident window.
//!
//! Baseline per series (node × metric × statistic), one rule for the whole corpus:
//! - **level** = median of the issue's own rows that ended before the trigger
//!   (`target.timestamp`), so the months of drift between the noissue recording and the
//!   issues (README pitfall) do not count as deviation; without such a row, the noissue
//!   median;
//! - **spread** = the noissue inter-quartile range; for the temporal scenarios, whose noissue
//!   data is missing, a relative spread of [`RELATIVE_SPREAD`] × |level|.
//!
//! Rows overlapping the issue (ending after the trigger) whose deviation in the metric's bad
//! direction (latency up, availability down) exceeds [`K`] spreads become members, ranked
//! by [`rank`](faultline_correlator::rank) over the call graph (row calls column).
//!
//! Scored: every issue of every scenario (train and test), by scenario × target metric; the
//! headline is all issues whose target is latency. The temporal scenarios are reported
//! separately too because their spread is relative. `noissue_incidents`: the noissue series
//! of low/high traffic are replayed through the online detector ([`detector`]) and anomalies
//! grouped as the engine would (same entity neighbourhood, within the incident window)
//! count how many incidents a quiet period raises.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use faultline_correlator::{Bad, Correlator, EdgeKind, Member, RankParams, Topology};
use faultline_detectors::{Detector, DetectorSpec, EventTime, RobustZParams};
use serde_json::{Value, json};

use crate::csv::{Table, num};
use crate::evidence::{Observation, SeriesMeta, member, rank_members};
use crate::score::{position, summary};

/// Scenarios, in report order.
pub const SCENARIOS: [&str; 4] = [
    "low_traffic",
    "high_traffic",
    "temporal_traffic1",
    "temporal_traffic2",
];
/// Band half-width in spreads.
pub const K: f64 = 3.0;
/// Spread as a fraction of the level when there is no normal period.
pub const RELATIVE_SPREAD: f64 = 0.1;
/// Seconds in one CloudWatch period.
const PERIOD_S: f64 = 300.0;

/// One metrics.csv: series metadata by column and `(unix s, values)` rows.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// `(column index, metadata)` of every latency or availability column.
    pub columns: Vec<(usize, SeriesMeta)>,
    /// Data rows.
    pub rows: Vec<(f64, Vec<f64>)>,
}

/// Parses the three-header-row CloudWatch export.
pub fn load_metrics(path: &Path) -> Result<Metrics> {
    let t = Table::read(path)?;
    if t.rows.len() < 3 {
        anyhow::bail!("{}: fewer than three header rows", path.display());
    }
    let (nodes, metrics, stats) = (&t.rows[0], &t.rows[1], &t.rows[2]);
    let columns = (1..nodes.len())
        .filter_map(|i| {
            let (metric, stat) = (metrics.get(i)?, stats.get(i)?);
            let bad = match metric.as_str() {
                "latency" => Bad::Up,
                "availability" => Bad::Down,
                _ => return None,
            };
            Some((
                i,
                SeriesMeta {
                    entity: nodes[i].clone(),
                    series: format!("{}/{metric}/{stat}", nodes[i]),
                    metric: format!("{metric}/{stat}"),
                    bad,
                },
            ))
        })
        .collect();
    let rows = t
        .rows
        .iter()
        .skip(3)
        .filter(|r| r.first().is_some_and(|f| num(f).is_finite()))
        .map(|r| (num(&r[0]), r.iter().map(|f| num(f)).collect()))
        .collect();
    Ok(Metrics { columns, rows })
}

/// The call graph of `graph.csv` (`graph[u][v] == 1` ⇔ u calls v).
pub fn load_graph(path: &Path) -> Result<Topology> {
    let t = Table::read(path)?;
    let header = t.rows.first().context("empty graph.csv")?;
    let mut topo = Topology::new();
    for r in t.rows.iter().skip(1) {
        for (j, cell) in r.iter().enumerate().skip(1) {
            if num(cell) == 1.0
                && let Some(callee) = header.get(j)
            {
                topo.add_edge(&r[0], callee, EdgeKind::Calls);
            }
        }
    }
    Ok(topo)
}

/// One issue's ground truth.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Target metric (`latency` / `availability`).
    pub target_metric: String,
    /// Trigger time, unix s.
    pub trigger: f64,
    /// Root-cause node.
    pub root_cause: String,
}

/// Reads `target.json`.
pub fn load_issue(path: &Path) -> Result<Issue> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    Ok(Issue {
        target_metric: v["target"]["metric"].as_str().unwrap_or("").to_owned(),
        trigger: v["target"]["timestamp"].as_f64().unwrap_or(f64::NAN),
        root_cause: v["root_cause"]["node"].as_str().unwrap_or("").to_owned(),
    })
}

/// Normal-period statistics of one column: (median, IQR).
type Normal = BTreeMap<String, (f64, f64)>;

fn normal_stats(m: &Metrics) -> Normal {
    m.columns
        .iter()
        .filter_map(|(i, meta)| {
            let xs: Vec<f64> = m.rows.iter().map(|r| r.1[*i]).collect();
            let med = crate::score::median(&xs)?;
            let iqr = crate::score::quantile(&xs, 0.75)? - crate::score::quantile(&xs, 0.25)?;
            Some((meta.series.clone(), (med, iqr)))
        })
        .collect()
}

/// Members of one issue window (see the module doc).
pub fn issue_members(issue: &Issue, window: &Metrics, normal: Option<&Normal>) -> Vec<Member> {
    let mut out = Vec::new();
    for (i, meta) in &window.columns {
        let before: Vec<f64> = window
            .rows
            .iter()
            .filter(|r| r.0 + PERIOD_S <= issue.trigger)
            .map(|r| r.1[*i])
            .collect();
        let base = normal.and_then(|n| n.get(&meta.series)).copied();
        let Some(level) = crate::score::median(&before).or(base.map(|b| b.0)) else {
            continue;
        };
        let spread = match base {
            Some((_, iqr)) if iqr > 0.0 => iqr,
            _ => RELATIVE_SPREAD * level.abs().max(1e-6),
        };
        for (t, row) in window
            .rows
            .iter()
            .filter(|r| r.0 + PERIOD_S > issue.trigger)
        {
            let x = row[*i];
            if !x.is_finite() {
                continue;
            }
            let o = Observation {
                at: (*t * 1000.0) as i64,
                value: x,
                lower: level - K * spread,
                upper: level + K * spread,
                score: 1.0,
            };
            let s = meta.signal(o, "level_iqr");
            if s.magnitude() > 0.0 {
                out.push(member(&s));
            }
        }
    }
    out
}

/// The online detector replayed over the noissue periods.
pub fn detector() -> DetectorSpec {
    DetectorSpec::RobustZ(RobustZParams {
        window: 96,
        threshold: 5.0,
        warmup: 24,
    })
}

/// Incidents raised when the noissue period streams through detection and the correlator.
fn noissue_incidents(topo: &Topology, m: &Metrics, spec: &DetectorSpec) -> usize {
    let mut signals = Vec::new();
    for (i, meta) in &m.columns {
        let mut d = spec.build();
        for (t, row) in &m.rows {
            let at = (*t * 1000.0) as i64;
            let v = d.observe(EventTime::from_millis(at), row[*i]);
            if let Some(s) = meta.bad_way_signal(at, row[*i], &v, spec.name()) {
                signals.push(s);
            }
        }
    }
    signals.sort_by(|a, b| (a.at, &a.series).cmp(&(b.at, &b.series)));
    let mut c = Correlator::new(topo.clone(), crate::nezha::settings());
    let mut out = Vec::new();
    let end = m.rows.last().map_or(0, |r| (r.0 * 1000.0) as i64);
    for s in signals {
        c.signal(s, &mut out);
    }
    c.advance(end + 24 * 3_600_000, &mut out);
    let mut ids: Vec<&str> = out
        .iter()
        .filter(|u| u.transition == faultline_correlator::Transition::Opened)
        .map(|u| u.incident_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// Scores every issue of every scenario under `data`.
pub fn evaluate(data: &Path, progress: &mut dyn Write) -> Result<Value> {
    let params = RankParams::default();
    let spec = detector();
    let mut latency_all = Vec::new();
    let mut per = serde_json::Map::new();
    let mut noissue = serde_json::Map::new();
    for scenario in SCENARIOS {
        let dir = data.join(scenario);
        let topo = load_graph(&dir.join("graph.csv"))?;
        let normal_file = dir.join("noissue").join("metrics.csv");
        let normal_metrics = if normal_file.exists() {
            Some(load_metrics(&normal_file)?)
        } else {
            None
        };
        let normal = normal_metrics.as_ref().map(normal_stats);
        if let Some(m) = &normal_metrics {
            noissue.insert(scenario.into(), json!(noissue_incidents(&topo, m, &spec)));
        }
        let mut by_target: BTreeMap<String, Vec<Option<usize>>> = BTreeMap::new();
        for split in ["train", "test"] {
            let mut issues: Vec<_> = std::fs::read_dir(dir.join(split))
                .with_context(|| format!("list {}", dir.join(split).display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("target.json").exists())
                .collect();
            issues.sort_by_key(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.trim_start_matches("issue_").parse::<u32>().ok())
            });
            for p in issues {
                let issue = load_issue(&p.join("target.json"))?;
                let window = load_metrics(&p.join("metrics.csv"))?;
                let members = issue_members(&issue, &window, normal.as_ref());
                let ranked = rank_members(&topo, &members, &[], &params);
                let r = position(&ranked, &issue.root_cause);
                writeln!(
                    progress,
                    "petshop {scenario}/{split}/{}: target {}, root cause {}, rank {} (top {})",
                    p.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
                    issue.target_metric,
                    issue.root_cause,
                    crate::sockshop::fmt_rank(r),
                    ranked.first().map_or("-", String::as_str)
                )?;
                if issue.target_metric == "latency" {
                    latency_all.push(r);
                }
                by_target.entry(issue.target_metric).or_default().push(r);
            }
        }
        let s: serde_json::Map<String, Value> = by_target
            .iter()
            .map(|(k, v)| {
                let mut o = summary(v);
                let o2 = o.as_object_mut().expect("object");
                o2.insert("top1".into(), o2["ac1"].clone());
                o2.insert("top3".into(), o2["ac3"].clone());
                (k.clone(), o)
            })
            .collect();
        per.insert(scenario.into(), Value::Object(s));
    }
    let mut top = summary(&latency_all);
    let o = top.as_object_mut().expect("object");
    o.insert(
        "scored".into(),
        json!("all issues (train and test) whose target metric is latency"),
    );
    o.insert("scenarios".into(), Value::Object(per));
    o.insert("noissue_incidents".into(), Value::Object(noissue));
    Ok(top)
}
