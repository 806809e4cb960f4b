//! The one error type of the NAB harness.
//!
//! Every variant names the file (and, where there is one, the line) so that a broken corpus
//! or a bad scorer input can be fixed without a debugger. Everything here is *bad data* or an
//! I/O failure: the harness never retries, it stops and says what is wrong.

use std::io;
use std::path::PathBuf;

/// Why loading, running or scoring the NAB corpus failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NabError {
    /// A file or directory of the corpus could not be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A results file or directory could not be written.
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// `data/` holds no `<category>/<file>.csv`.
    #[error("no data files under {dir} (expected data/<category>/<file>.csv)")]
    NoDataFiles { dir: PathBuf },

    /// The first line of a data file is not `timestamp,value`.
    #[error("{path}:{line}: expected the header `timestamp,value`, found `{found}`")]
    BadHeader {
        path: PathBuf,
        line: usize,
        found: String,
    },

    /// A data row could not be parsed.
    #[error("{path}:{line}: {problem}")]
    BadRow {
        path: PathBuf,
        line: usize,
        problem: RowProblem,
    },

    /// A data file has a header but no rows.
    #[error("{path}: no data rows")]
    EmptyFile { path: PathBuf },

    /// `labels/combined_windows.json` is not a map of file → list of `[start, end]`.
    #[error("cannot parse the window labels {path}")]
    Labels {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A window bound in the labels is not a timestamp.
    #[error("{labels}: window bound `{text}` of {file} is not `YYYY-MM-DD HH:MM:SS[.ffffff]`")]
    BadWindowTimestamp {
        labels: PathBuf,
        file: String,
        text: String,
    },

    /// A window bound names a timestamp that no row of its file carries.
    #[error("{labels}: window bound `{text}` of {file} matches no row of that file")]
    WindowTimestampNotFound {
        labels: PathBuf,
        file: String,
        text: String,
    },

    /// A data file has no entry in the labels (NAB labels every file, if only with `[]`).
    #[error("{file} has no entry in {labels}")]
    Unlabelled { file: String, labels: PathBuf },

    /// The labels name a file that is not in `data/`.
    #[error("{labels} has windows for {file}, which is not under data/")]
    LabelsWithoutData { file: String, labels: PathBuf },

    /// A window is not a row range that the scorer can use.
    #[error("{file}: window {index} (rows {start}..={end}) {problem}")]
    BadWindow {
        file: String,
        index: usize,
        start: usize,
        end: usize,
        problem: WindowProblem,
    },

    /// The normalised score divides by the number of windows.
    #[error("the scored files hold no anomaly window, so no normalised score exists")]
    NoWindows,

    /// The detector name becomes a directory name of the results layout.
    #[error("detector name `{name}` cannot be used as a directory name")]
    BadDetectorName { name: String },
}

/// What is wrong with one data row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowProblem {
    /// Not exactly two comma-separated fields.
    #[error("expected `timestamp,value`, found `{line}`")]
    Fields { line: String },
    /// The first field is not `YYYY-MM-DD HH:MM:SS`.
    #[error("bad timestamp `{text}` (expected `YYYY-MM-DD HH:MM:SS`)")]
    Timestamp { text: String },
    /// The second field is not a finite number.
    #[error("bad value `{text}` (expected a finite number)")]
    Value { text: String },
}

/// What is wrong with one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowProblem {
    /// `end < start`.
    #[error("ends before it starts")]
    Reversed,
    /// `end` is not a row of the file.
    #[error("runs past the end of the file's {rows} rows")]
    PastEnd { rows: usize },
    /// Windows must be sorted by start and must not share rows.
    #[error("starts before the previous window ends at row {previous_end}")]
    Overlaps { previous_end: usize },
}
