//! The Numenta Anomaly Benchmark (NAB) harness: load the corpus, run a detector over every
//! file, score the result exactly as NAB does.
//!
//! Contract (from the dataset README in `shared/datasets/nab`, which this module follows
//! wherever NAB's own code is looser): each file is streamed through a *fresh* detector, row by
//! row, with no look-ahead; every row gets one score in `[0, 1]` (NaN counts as 0, anything
//! else is clamped); the first `min(⌊0.15·n⌋, 750)` rows are not scored; one threshold per
//! profile is chosen for the whole corpus by an exact sweep over every distinct score.
//!
//! Why a harness of our own rather than NAB's Python: the detectors are Rust and stream on
//! event time, and the exact sweep is `O(N log N)` where NAB's hill climbing is slower and can
//! miss the optimum; numbers from here are the same or a little higher than NAB's published
//! ones. The Windowed Gaussian baseline is reproduced here to pin the scorer to NAB's table.
//!
//! Results can also be written in NAB's own layout, `OUT/<detector>/<category>/
//! <detector>_<file>.csv`, so NAB's tools can re-score or plot them.

mod data;
mod error;
mod report;
mod scorer;
mod windowed_gaussian;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

pub use data::{Corpus, NabFile, Row, Window, check_windows, parse_timestamp};
pub use error::{NabError, RowProblem, WindowProblem};
pub use report::{CategoryScore, DetectorReport, summary_json, table};
pub use scorer::{
    Counts, NOTHING_DETECTED, Outcome, Profile, ProfileScore, ScoredFile, ScoringSet,
    probation_len, sanitize_score, scaled_sigmoid, score,
};
pub use windowed_gaussian::WindowedGaussian;

/// A per-file scoring function: called once per file, returns a fresh detector closure
/// that maps (event time in ms since Unix epoch, value) -> anomaly score in `[0, 1]`, called in
/// row order.
pub type DetectorFactory<'a> = &'a dyn Fn() -> Box<dyn FnMut(i64, f64) -> f64>;

/// Runs `make`'s detectors over every file of `corpus` and scores them with all three
/// profiles; with `out_dir`, also writes NAB's results files under `out_dir/<detector_name>/`.
///
/// Scores are sanitised (NaN → 0, clamped to `[0, 1]`) before they are written or scored.
///
/// # Errors
///
/// A detector name that is not one path component (only with `out_dir`), a results file
/// that cannot be written, or a corpus without any window.
pub fn evaluate(
    corpus: &Corpus,
    detector_name: &str,
    make: DetectorFactory<'_>,
    out_dir: Option<&Path>,
) -> Result<DetectorReport, NabError> {
    if out_dir.is_some() {
        check_detector_name(detector_name)?;
    }
    let mut all_scores = Vec::with_capacity(corpus.files.len());
    for file in &corpus.files {
        let mut detector = make();
        let scores: Vec<f64> = file
            .rows
            .iter()
            .map(|row| sanitize_score(detector(row.at_ms, row.value)))
            .collect();
        if let Some(out_dir) = out_dir {
            write_results(out_dir, detector_name, file, &scores)?;
        }
        all_scores.push(scores);
    }
    report::build(detector_name, corpus, &all_scores)
}

/// The name becomes one path component of the results layout, so it must be exactly one.
fn check_detector_name(name: &str) -> Result<(), NabError> {
    let usable =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if usable {
        Ok(())
    } else {
        Err(NabError::BadDetectorName {
            name: name.to_owned(),
        })
    }
}

/// Writes `out_dir/<detector>/<category>/<detector>_<file>` with NAB's columns
/// `timestamp,value,anomaly_score,label`, one line per data row.
fn write_results(
    out_dir: &Path,
    detector: &str,
    file: &NabFile,
    scores: &[f64],
) -> Result<(), NabError> {
    let dir = out_dir.join(detector).join(&file.category);
    let path = dir.join(format!("{detector}_{}", file.name));
    let write_error = |source| NabError::Write {
        path: path.clone(),
        source,
    };
    fs::create_dir_all(&dir).map_err(|source| NabError::Write {
        path: dir.clone(),
        source,
    })?;
    let mut out = BufWriter::new(fs::File::create(&path).map_err(write_error)?);
    writeln!(out, "timestamp,value,anomaly_score,label").map_err(write_error)?;
    let mut windows = file.windows.iter().peekable();
    for (i, (row, score)) in file.rows.iter().zip(scores).enumerate() {
        while windows.next_if(|w| w.end < i).is_some() {}
        let label = u8::from(windows.peek().is_some_and(|w| w.contains(i)));
        writeln!(out, "{},{},{score},{label}", row.text_ts, row.value).map_err(write_error)?;
    }
    out.flush().map_err(write_error)
}

#[cfg(test)]
mod corpus_tests;
