//! Template mining on Loghub-2k: grouping accuracy (GA) and parsing accuracy (PA) of
//! [`TemplateMiner`] with its one default configuration, on every system of the corpus.
//!
//! Each system folder `<S>/` holds `<S>_2k.log_structured.csv` (the original labels) and
//! `<S>_2k.log_structured_corrected.csv` (the corrected ones). The miner reads each row's
//! `Content` column in order, as the published parsers do, so the numbers compare with
//! theirs. A line is grouped correctly when the set of lines sharing its template equals the
//! set sharing its true `EventId`, and parsed correctly when its template's final text equals
//! the true `EventTemplate` after collapsing whitespace. No setting depends on the system:
//! a second, held-back corpus is scored the same way.
//!
//! Throughput is measured by mining every system's lines again with a fresh miner, several
//! rounds, on one thread, and dividing lines by the time spent in `mine` alone.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use faultline_detectors::logs::{MinerParams, TemplateId, TemplateMiner};
use serde_json::{Value, json};

use crate::csv::Table;

/// Rounds of re-mining for the throughput figure.
const SPEED_ROUNDS: usize = 20;

/// One system's labelled lines.
#[derive(Debug, Clone)]
pub struct System {
    /// The folder name.
    pub name: String,
    /// The `Content` column, one entry per line.
    pub content: Vec<String>,
    /// True event ids and templates, original labels.
    pub original: Labels,
    /// True event ids and templates, corrected labels.
    pub corrected: Labels,
}

/// Ground truth for a system's lines.
#[derive(Debug, Clone)]
pub struct Labels {
    /// `EventId` per line.
    pub event: Vec<String>,
    /// `EventTemplate` per line.
    pub template: Vec<String>,
}

/// GA and PA of one prediction against one set of labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Grouping accuracy.
    pub ga: f64,
    /// Parsing accuracy.
    pub pa: f64,
}

/// Reads the systems under `data`: every folder holding `<name>_2k.log_structured.csv`,
/// sorted by name.
pub fn load(data: &Path) -> Result<Vec<System>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data)
        .with_context(|| format!("read {}", data.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut systems = Vec::new();
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let original = dir.join(format!("{name}_2k.log_structured.csv"));
        if !original.exists() {
            continue;
        }
        let corrected = dir.join(format!("{name}_2k.log_structured_corrected.csv"));
        let (content, original) = read_labels(&original)?;
        let corrected = if corrected.exists() {
            let (c, labels) = read_labels(&corrected)?;
            if c.len() != content.len() {
                bail!(
                    "{name}: corrected labels have {} rows, original {}",
                    c.len(),
                    content.len()
                );
            }
            labels
        } else {
            original.clone()
        };
        systems.push(System {
            name,
            content,
            original,
            corrected,
        });
    }
    if systems.is_empty() {
        bail!("no <S>/<S>_2k.log_structured.csv under {}", data.display());
    }
    Ok(systems)
}

fn read_labels(path: &Path) -> Result<(Vec<String>, Labels)> {
    let table = Table::read(path)?;
    let col = |name: &str| {
        table
            .column(name)
            .with_context(|| format!("{}: no {name} column", path.display()))
    };
    let (c, e, t) = (col("Content")?, col("EventId")?, col("EventTemplate")?);
    let mut content = Vec::new();
    let mut labels = Labels {
        event: Vec::new(),
        template: Vec::new(),
    };
    for (i, row) in table.rows.iter().enumerate().skip(1) {
        let field = |j: usize| {
            row.get(j)
                .cloned()
                .with_context(|| format!("{}: row {} is short", path.display(), i + 1))
        };
        content.push(field(c)?);
        labels.event.push(field(e)?);
        labels.template.push(field(t)?);
    }
    Ok((content, labels))
}

/// Mines `lines` with a fresh default miner: each line's template as it stands after the
/// last line (None on overflow) and the miner.
pub fn mine(lines: &[String]) -> (Vec<Option<TemplateId>>, TemplateMiner) {
    // The default parameters are valid by construction (no extra masks).
    let mut miner = TemplateMiner::new(MinerParams::default()).expect("default miner");
    let ids: Vec<_> = lines.iter().map(|l| miner.mine(l).id()).collect();
    // Siblings merged later stand for the template that absorbed them, as for the engine.
    let ids = ids
        .into_iter()
        .map(|id| id.map(|id| miner.resolve(id)))
        .collect();
    (ids, miner)
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Scores predicted groups (and the miner's final templates) against `truth`.
pub fn score(predicted: &[Option<TemplateId>], miner: &TemplateMiner, truth: &Labels) -> Accuracy {
    let n = predicted.len();
    // An overflowed line is a group of its own.
    let group: Vec<i64> = predicted
        .iter()
        .enumerate()
        .map(|(i, p)| p.map_or(-(i as i64) - 1, |id| i64::from(id.0)))
        .collect();
    let mut pred_size: HashMap<i64, usize> = HashMap::new();
    let mut true_size: HashMap<&str, usize> = HashMap::new();
    let mut pair: HashMap<(i64, &str), usize> = HashMap::new();
    for (g, e) in group.iter().zip(&truth.event) {
        *pred_size.entry(*g).or_default() += 1;
        *true_size.entry(e).or_default() += 1;
        *pair.entry((*g, e)).or_default() += 1;
    }
    let mut grouped = 0;
    let mut parsed = 0;
    let mut texts: HashMap<TemplateId, String> = HashMap::new();
    for i in 0..n {
        let (g, e) = (group[i], truth.event[i].as_str());
        let both = pair[&(g, e)];
        if both == pred_size[&g] && both == true_size[e] {
            grouped += 1;
        }
        if let Some(id) = predicted[i] {
            let text = texts
                .entry(id)
                .or_insert_with(|| collapse(&miner.template(id).unwrap_or_default()));
            if *text == collapse(&truth.template[i]) {
                parsed += 1;
            }
        }
    }
    let n = n.max(1) as f64;
    Accuracy {
        ga: grouped as f64 / n,
        pa: parsed as f64 / n,
    }
}

/// Lines per second of `mine` on one thread over every system's lines.
fn lines_per_sec(systems: &[System]) -> f64 {
    let mut lines = 0usize;
    let mut seconds = 0.0;
    for _ in 0..SPEED_ROUNDS {
        for s in systems {
            let mut miner = TemplateMiner::new(MinerParams::default()).expect("default miner");
            let start = Instant::now();
            for l in &s.content {
                std::hint::black_box(miner.mine(l));
            }
            seconds += start.elapsed().as_secs_f64();
            lines += s.content.len();
        }
    }
    lines as f64 / seconds.max(1e-9)
}

/// Scores every system under `data`, writing one progress line per system to `progress`.
/// The JSON has `ga`, `pa`, `ga_corrected`, `pa_corrected` (averages over systems),
/// `lines_per_sec`, memory figures and `systems` with the same figures per system.
pub fn evaluate(data: &Path, progress: &mut dyn Write) -> Result<Value> {
    let systems = load(data)?;
    let mut per_system = serde_json::Map::new();
    let (mut sum_o, mut sum_c) = ([0.0; 2], [0.0; 2]);
    let (mut templates, mut bytes, mut max_bytes) = (0usize, 0usize, 0usize);
    for s in &systems {
        let (ids, miner) = mine(&s.content);
        let o = score(&ids, &miner, &s.original);
        let c = score(&ids, &miner, &s.corrected);
        let state = miner.state_bytes();
        writeln!(
            progress,
            "{:<12} GA {:.3} PA {:.3} | corrected GA {:.3} PA {:.3} | {} templates, {} bytes",
            s.name,
            o.ga,
            o.pa,
            c.ga,
            c.pa,
            miner.len(),
            state
        )?;
        sum_o[0] += o.ga;
        sum_o[1] += o.pa;
        sum_c[0] += c.ga;
        sum_c[1] += c.pa;
        templates += miner.len();
        bytes += state;
        max_bytes = max_bytes.max(state);
        per_system.insert(
            s.name.clone(),
            json!({
                "ga": o.ga, "pa": o.pa, "ga_corrected": c.ga, "pa_corrected": c.pa,
                "lines": s.content.len(), "templates": miner.len(),
                "overflows": miner.overflows(), "state_bytes": state,
            }),
        );
    }
    let n = systems.len() as f64;
    let speed = lines_per_sec(&systems);
    writeln!(progress, "mining: {speed:.0} lines/s on one thread")?;
    Ok(json!({
        "ga": sum_o[0] / n,
        "pa": sum_o[1] / n,
        "ga_corrected": sum_c[0] / n,
        "pa_corrected": sum_c[1] / n,
        "lines_per_sec": speed,
        "systems_scored": systems.len(),
        "bytes_per_template": bytes as f64 / templates.max(1) as f64,
        "bytes_per_service_mean": bytes as f64 / n,
        "bytes_per_service_max": max_bytes,
        "params": serde_json::to_value(MinerParams::default())?,
        "systems": per_system,
    }))
}
