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
//! direction (latency up, availability down) exceeds [`K`] spreads become members.
//!
//! Candidates, as in the authors' traversal baseline: starting at the target (PetSite),
//! follow call edges to anomalous callees; only entities on such anomalous paths are
//! candidates, and only members of the target's statistic are ranked, by
//! [`rank`](faultline_correlator::rank) over the call graph (row calls column). X-Ray's
//! client-side views of a service (`_remote` load balancers and endpoints, `_client`
//! segments, a Lambda's invocation node) are the same entity as the service ([`entity_of`]).
//!
//! Scored: every issue of every scenario (train and test), by scenario × target metric; the
//! headline is all issues whose target is latency. The temporal scenarios are reported
//! separately too because their spread is relative. `noissue_incidents` (specificity): the
//! ~49 hours of noissue series of low/high traffic are replayed through the engine's default
//! detector ([`detector`]), a series signals after three bad-way points in a row, and the
//! correlator groups the signals with Nezha's timings counted in 5-minute steps; the count
//! is how many incidents a quiet period raises.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use faultline_correlator::{Bad, Correlator, EdgeKind, Member, RankParams, Signal, Topology};
use faultline_detectors::{Detector, DetectorSpec, EventTime};
use serde_json::{Value, json};

use crate::csv::{Table, num};
use crate::evidence::{Observation, SeriesMeta, rank_members};
use crate::nezha::{persist, settings_for_step};
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
                    entity: entity_of(&nodes[i]),
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
                let (from, to) = (entity_of(&r[0]), entity_of(callee));
                if from != to {
                    topo.add_edge(&from, &to, EdgeKind::Calls);
                }
            }
        }
    }
    Ok(topo)
}

/// The service a client-side or infrastructure view of it stands for. X-Ray shows one
/// service several times: as the caller's view through a load balancer or endpoint
/// (`<elb>_remote`, `execute-api…_remote`), as a client segment (`<svc>_client`), and a
/// Lambda function both as the Lambda service's invocation (`<fn>_AWS::Lambda`) and as the
/// function itself (`<fn>_AWS::Lambda::Function`). These name the same entity, so they are
/// one topology node here (the ELB prefixes are the PetShop stack's service names).
pub fn entity_of(node: &str) -> String {
    const VIEWS: [(&str, &str); 6] = [
        ("servi-searc.", "PetSearch_AWS::ECS::Fargate"),
        ("PetSearch_client", "PetSearch_AWS::ECS::Fargate"),
        ("servi-lista.", "petlistadoptions_AWS::ECS::Fargate"),
        (
            "petlistadoptions_client",
            "petlistadoptions_AWS::ECS::Fargate",
        ),
        (
            "execute-api.",
            "PetAdoptionStatusUpdater/prod_AWS::ApiGateway::Stage",
        ),
        ("StepFnStateMachine", "AWS::StepFunctions::StateMachine"),
    ];
    let lower = node.to_ascii_lowercase();
    for (prefix, service) in VIEWS {
        if lower.starts_with(&prefix.to_ascii_lowercase()) {
            return service.to_owned();
        }
    }
    match node.strip_suffix("_AWS::Lambda") {
        Some(f) => format!("{f}_AWS::Lambda::Function"),
        None => node.to_owned(),
    }
}

/// The entities on anomalous call paths from `target`: starting at the target, follow
/// call edges to callees whose strongest member reaches `min` (the traversal of the
/// authors' baseline). The target itself is kept only when nothing below it is anomalous.
pub fn on_anomalous_paths(
    topo: &Topology,
    target: &str,
    members: &[Member],
    min: f64,
) -> std::collections::BTreeSet<String> {
    let mut strongest: BTreeMap<&str, f64> = BTreeMap::new();
    for m in members {
        let e = strongest.entry(&*m.entity).or_insert(0.0);
        *e = e.max(m.magnitude);
    }
    let anomalous = |n: &str| strongest.get(n).is_some_and(|x| *x >= min);
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![target.to_owned()];
    while let Some(n) = stack.pop() {
        for c in topo.callees(&n) {
            if anomalous(c) && seen.insert(c.to_owned()) {
                stack.push(c.to_owned());
            }
        }
    }
    if seen.is_empty() && anomalous(target) {
        seen.insert(target.to_owned());
    }
    seen
}

/// One issue's ground truth.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Target node (always `PetSite`).
    pub target: String,
    /// Target metric (`latency` / `availability`).
    pub target_metric: String,
    /// Target statistic (`Average`, `p50`, ...).
    pub target_stat: String,
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
        target: v["target"]["node"].as_str().unwrap_or("PetSite").to_owned(),
        target_stat: v["target"]["agg"].as_str().unwrap_or("Average").to_owned(),
        target_metric: v["target"]["metric"].as_str().unwrap_or("").to_owned(),
        trigger: v["target"]["timestamp"].as_f64().unwrap_or(f64::NAN),
        root_cause: v["root_cause"]["node"].as_str().unwrap_or("").to_owned(),
    })
}

/// Normal-period statistics of one column: (median, IQR).
type Normal = BTreeMap<String, (f64, f64)>;

pub fn normal_stats_pub(m: &Metrics) -> Normal {
    normal_stats(m)
}
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
                out.push(Member::from(&s));
            }
        }
    }
    out
}

/// An entity is anomalous for the traversal when its strongest member lies at least this
/// many band half-widths beyond the band.
pub const PATH_MIN: f64 = 1.0;

/// The members ranked for one issue: those of the target's statistic (the protocol names
/// it; a node's p50 and p99 are not comparable with another node's Average), on entities
/// reached from the target along anomalous call paths ([`on_anomalous_paths`]).
pub fn candidate_members(
    topo: &Topology,
    issue: &Issue,
    window: &Metrics,
    normal: Option<&Normal>,
) -> Vec<Member> {
    let all = issue_members(issue, window, normal);
    let keep = on_anomalous_paths(topo, &issue.target, &all, PATH_MIN);
    all.into_iter()
        .filter(|m| keep.contains(&*m.entity))
        .filter(|m| {
            m.metric.split_once('/').map(|(_, stat)| stat) == Some(issue.target_stat.as_str())
        })
        .collect()
}

/// CloudWatch's period: the step of every PetShop series.
const STEP: i64 = 300_000;

/// The online detector replayed over the noissue periods: the engine's default (the
/// calibrated ensemble), as a rule that names no detector gets.
pub fn detector() -> DetectorSpec {
    DetectorSpec::default_for("ensemble").expect("the ensemble is a detector")
}

/// Incidents raised when the noissue period streams through detection and the correlator,
/// as the Nezha replay does: a series signals after [`PERSIST`](crate::nezha::PERSIST)
/// bad-way anomalies in a row (one signal per run, [`persist`]), and the correlator's timings
/// are Nezha's in sampling steps.
fn noissue_incidents(topo: &Topology, m: &Metrics, spec: &DetectorSpec) -> usize {
    let mut signals = Vec::new();
    for (i, meta) in &m.columns {
        let mut d = spec.build();
        let mut run: Vec<Signal> = Vec::new();
        for (t, row) in &m.rows {
            let at = (*t * 1000.0) as i64;
            let v = d.observe(EventTime::from_millis(at), row[*i]);
            if let Some(s) = persist(&mut run, meta.bad_way_signal(at, row[*i], &v, spec.name())) {
                signals.push(s);
            }
        }
    }
    signals.sort_by(|a, b| (a.at, &a.series).cmp(&(b.at, &b.series)));
    let mut c = Correlator::new(topo.clone(), settings_for_step(STEP));
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
        let quiet = match &normal_metrics {
            Some(m) => json!(noissue_incidents(&topo, m, &spec)),
            None => json!("not scoreable: noissue/metrics.csv is missing from the corpus copy"),
        };
        noissue.insert(scenario.into(), quiet);
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
                let members = candidate_members(&topo, &issue, &window, normal.as_ref());
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
