//! RCD Sock Shop ("Sock Shop 1" of RCAEval): 5 services × {cpu, mem} × 5 repetitions.
//!
//! Two protocols per case:
//! - **labelled** (RCAEval's): the fault time is the first row of `anomalous.csv`. Every
//!   metric's baseline is the median and inter-quartile range of `normal.csv`; each
//!   anomalous row whose deviation in the metric's bad direction exceeds [`LABELLED_K`] IQRs
//!   becomes a member, and [`rank`](faultline_correlator::rank) ranks the containers over the
//!   Sock Shop call graph.
//! - **own_detection**: `normal.csv` then `anomalous.csv` are streamed through one online
//!   detector per metric ([`own_detector`]); what it flags at or after the fault time, in the
//!   bad direction, is ranked the same way.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use faultline_correlator::{Bad, EdgeKind, Member, RankParams, Topology};
use faultline_detectors::{Detector, DetectorSpec, EventTime, RobustZParams};
use serde_json::{Value, json};

use crate::csv::{Table, num};
use crate::evidence::{Observation, SeriesMeta, rank_members};
use crate::score::{position, summary};

/// Services with injected faults, and the fault kinds.
const SERVICES: [&str; 5] = ["carts", "catalogue", "orders", "payment", "user"];
const FAULTS: [&str; 2] = ["cpu", "mem"];
/// Band half-width of the labelled protocol, in normal-period IQRs.
pub const LABELLED_K: f64 = 3.0;

/// Sock Shop's fixed architecture (README): caller → callee.
pub fn topology() -> Topology {
    let mut t = Topology::new();
    for (a, b) in [
        ("front-end", "carts"),
        ("front-end", "catalogue"),
        ("front-end", "orders"),
        ("front-end", "user"),
        ("orders", "carts"),
        ("orders", "payment"),
        ("orders", "shipping"),
        ("orders", "user"),
        ("orders", "orders-db"),
        ("carts", "carts-db"),
        ("catalogue", "catalogue-db"),
        ("user", "user-db"),
        ("shipping", "rabbitmq"),
        ("queue-master", "rabbitmq"),
    ] {
        t.add_edge(a, b, EdgeKind::Calls);
    }
    t
}

/// The one detector setting used for every metric in own-detection mode.
pub fn own_detector() -> DetectorSpec {
    DetectorSpec::RobustZ(RobustZParams {
        window: 300,
        threshold: 5.0,
        warmup: 60,
    })
}

/// One metric column: its metadata and values.
#[derive(Debug, Clone)]
pub struct Column {
    /// Metadata (entity = container).
    pub meta: SeriesMeta,
    /// Index in the table.
    pub index: usize,
    /// Scale applied to raw values (memory bytes → MiB).
    pub scale: f64,
}

/// Metadata of a Sock Shop column name (`carts-db_cpu`, `carts_lat_90`), `None` for `time`.
pub fn column_meta(name: &str) -> Option<(SeriesMeta, f64)> {
    let (entity, metric) = name.split_once('_')?;
    let (bad, scale) = match metric {
        "cpu" => (Bad::Up, 1.0),
        "mem" => (Bad::Up, 1.0 / (1024.0 * 1024.0)),
        m if m.starts_with("lat") => (Bad::Up, 1.0),
        "lod" => (Bad::Down, 1.0),
        _ => return None,
    };
    Some((
        SeriesMeta {
            entity: entity.to_owned(),
            series: name.to_owned(),
            metric: metric.to_owned(),
            bad,
        },
        scale,
    ))
}

/// A case's two files.
#[derive(Debug, Clone)]
pub struct Case {
    /// Metric columns.
    pub columns: Vec<Column>,
    /// `(time ms, row)` of normal.csv.
    pub normal: Vec<(i64, Vec<f64>)>,
    /// `(time ms, row)` of anomalous.csv.
    pub anomalous: Vec<(i64, Vec<f64>)>,
}

fn rows(t: &Table, time: usize) -> Vec<(i64, Vec<f64>)> {
    t.rows
        .iter()
        .skip(1)
        .map(|r| {
            let at = (num(&r[time]) * 1000.0) as i64;
            (at, r.iter().map(|f| num(f)).collect())
        })
        .collect()
}

/// Loads one `<service>-<fault>/<rep>` directory.
pub fn load_case(dir: &Path) -> Result<Case> {
    let normal = Table::read(&dir.join("normal.csv"))?;
    let anomalous = Table::read(&dir.join("anomalous.csv"))?;
    if normal.rows.first() != anomalous.rows.first() {
        bail!("{}: normal and anomalous headers differ", dir.display());
    }
    let time = normal
        .column("time")
        .with_context(|| format!("{}: no time column", dir.display()))?;
    let columns = normal.rows[0]
        .iter()
        .enumerate()
        .filter_map(|(index, name)| {
            column_meta(name).map(|(meta, scale)| Column { meta, index, scale })
        })
        .collect();
    Ok(Case {
        columns,
        normal: rows(&normal, time),
        anomalous: rows(&anomalous, time),
    })
}

/// Labelled protocol: members from deviations against the normal median/IQR.
pub fn labelled_members(case: &Case) -> Vec<Member> {
    let mut out = Vec::new();
    for c in &case.columns {
        let normal: Vec<f64> = case.normal.iter().map(|r| r.1[c.index] * c.scale).collect();
        let (Some(med), Some(q1), Some(q3)) = (
            crate::score::median(&normal),
            crate::score::quantile(&normal, 0.25),
            crate::score::quantile(&normal, 0.75),
        ) else {
            continue;
        };
        let iqr = if q3 - q1 > 0.0 { q3 - q1 } else { 1.0 };
        for (at, row) in &case.anomalous {
            let x = row[c.index] * c.scale;
            if !x.is_finite() {
                continue;
            }
            let o = Observation {
                at: *at,
                value: x,
                lower: med - LABELLED_K * iqr,
                upper: med + LABELLED_K * iqr,
                score: 1.0,
            };
            let s = c.meta.signal(o, "median_iqr");
            if s.is_bad_way() && (x > o.upper || x < o.lower) {
                out.push(Member::from(&s));
            }
        }
    }
    out
}

/// Own-detection protocol: stream normal then anomalous; members flagged from the fault on.
pub fn detected_members(case: &Case, spec: &DetectorSpec) -> Vec<Member> {
    let t_fault = case.anomalous.first().map_or(i64::MAX, |r| r.0);
    let mut out = Vec::new();
    for c in &case.columns {
        let mut d = spec.build();
        for (at, row) in case.normal.iter().chain(&case.anomalous) {
            let x = row[c.index] * c.scale;
            let v = d.observe(EventTime::from_millis(*at), x);
            if *at >= t_fault
                && let Some(s) = c.meta.bad_way_signal(*at, x, &v, spec.name())
            {
                out.push(Member::from(&s));
            }
        }
    }
    out
}

/// Runs both protocols over every case under `data`.
pub fn evaluate(data: &Path, progress: &mut dyn Write) -> Result<Value> {
    let topo = topology();
    let params = RankParams::default();
    let spec = own_detector();
    let mut all = Vec::new();
    let mut labelled = serde_json::Map::new();
    let mut own = serde_json::Map::new();
    for fault in FAULTS {
        let (mut lab, mut det) = (Vec::new(), Vec::new());
        for svc in SERVICES {
            for rep in 1..=5 {
                let dir = data.join(format!("{svc}-{fault}")).join(rep.to_string());
                let case = load_case(&dir)?;
                let l = rank_members(&topo, &labelled_members(&case), &[], &params);
                let d = rank_members(&topo, &detected_members(&case, &spec), &[], &params);
                let (lr, dr) = (position(&l, svc), position(&d, svc));
                writeln!(
                    progress,
                    "rcd-sockshop {svc}-{fault}/{rep}: labelled rank {} (top {}), own-detection rank {} (top {})",
                    fmt_rank(lr),
                    l.first().map_or("-", String::as_str),
                    fmt_rank(dr),
                    d.first().map_or("-", String::as_str),
                )?;
                lab.push(lr);
                det.push(dr);
            }
        }
        all.extend(lab.iter().copied());
        labelled.insert(fault.to_owned(), summary(&lab));
        own.insert(fault.to_owned(), summary(&det));
    }
    let mut top = summary(&all);
    let obj = top.as_object_mut().expect("summary is an object");
    obj.insert(
        "protocol".into(),
        json!("labelled fault time (first anomalous row)"),
    );
    obj.insert("labelled".into(), Value::Object(labelled));
    obj.insert("own_detection".into(), Value::Object(own));
    Ok(top)
}

/// `3` or `-` for a missed fault.
pub fn fmt_rank(r: Option<usize>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| r.to_string())
}
