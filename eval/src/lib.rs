//! Evaluation of Faultline on public corpora: anomaly detection on NAB ([`nab`]) and
//! root-cause ranking on fault-injection corpora ([`rca`]); and, on the simulated shop
//! streamed through a configuration as the engine would ([`sim_replay`]), false alarms of the
//! default configuration on fault-free data ([`false_alarms`]) and the faults it finds
//! ([`detection`]).
//!
//! [`rca`] replays a corpus through Faultline's own detectors, incident engine and ranking
//! and scores the ranking against the corpus' ground truth (AC@1, AC@3, Avg@5). The
//! protocols follow the corpora's papers; every detector and ranking knob has one global
//! setting per corpus (never tuned per file or case), and every fault of a corpus is scored
//! (a missed fault counts as a miss). The CLI (`faultline eval rca`) prints the returned
//! JSON.

pub mod csv;
pub mod detection;
pub mod evidence;
pub mod false_alarms;
pub mod loghub;
pub mod nab;
pub mod nezha;
pub mod petshop;
pub mod score;
pub mod sim_replay;
pub mod sockshop;

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use serde_json::Value;

/// Evaluates root-cause ranking on `dataset` (`nezha`, `rcd-sockshop` or `petshop`) read from
/// `data`, writing one progress line per case to `progress`. The JSON has `ac1`, `ac3` and
/// `avg5` (fractions) at the top plus per-corpus breakdowns.
pub fn rca(dataset: &str, data: &Path, progress: &mut dyn Write) -> Result<Value> {
    match dataset {
        "rcd-sockshop" => sockshop::evaluate(data, progress),
        "petshop" => petshop::evaluate(data, progress),
        "nezha" => nezha::evaluate(data, progress),
        other => bail!("unknown dataset {other:?} (expected nezha, rcd-sockshop or petshop)"),
    }
}
