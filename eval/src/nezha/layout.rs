//! Where a folder in the Nezha layout keeps its files, found by their shape rather than by
//! one system's names, so the same loader reads Online Boutique (`nezha/`), Train Ticket
//! (`nezha-tt/`) or any day copied in the same layout:
//!
//! ```text
//! <root>/YYYY-MM-DD/fault_list.json        one folder per day, read in date order
//! <root>/YYYY-MM-DD/metric/*.csv           pods, entry-service SLI, dependency.csv, edges
//! <root>/root_cause_*.json                 the fine-grained labels: exactly one
//! <root>/*call_graph*.csv                  an extra call graph: at most one, optional
//! ```
//!
//! The layout is checked before anything is loaded: a missing or ambiguous file is a
//! [`LayoutError`] that names the folder and what was expected, not a failure deep in a
//! replay.

use std::io;
use std::path::{Path, PathBuf};

/// Why a folder cannot be read as Nezha data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A folder could not be listed.
    #[error("cannot list {dir}")]
    List {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    /// No folder named like a date.
    #[error("no day folder in {root} (expected folders named YYYY-MM-DD)")]
    NoDays { root: PathBuf },

    /// No `root_cause_*.json`.
    #[error("no ground-truth labels in {root} (expected one root_cause_*.json)")]
    NoLabels { root: PathBuf },

    /// Several files could each be the one expected `pattern`.
    #[error("{root} holds several {pattern} ({}); expected at most one", found.join(", "))]
    Ambiguous {
        root: PathBuf,
        pattern: &'static str,
        found: Vec<String>,
    },

    /// A day folder lacks a file or folder every day needs.
    #[error("day folder {day} has no {missing} (expected {what})")]
    DayIncomplete {
        day: PathBuf,
        missing: &'static str,
        what: &'static str,
    },

    /// A day's metric folder holds no file the loader reads.
    #[error(
        "{dir} holds no metric CSV (expected <pod>_metric.csv, front_service.csv, source_50.csv or destination_50.csv)"
    )]
    NoMetricFiles { dir: PathBuf },

    /// A metric file the loader would read is compressed.
    #[error("{path} is gzip-compressed; the Nezha loader reads plain CSV only")]
    Gzipped { path: PathBuf },
}

/// The files of one Nezha data folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The data folder.
    pub root: PathBuf,
    /// Its day folders' names (`YYYY-MM-DD`), sorted, so faults and points come in time order.
    pub days: Vec<String>,
    /// The top-level call graph, if any; the days' `dependency.csv` files are read either way.
    pub call_graph: Option<PathBuf>,
    /// `root_cause_*.json`: service × fault type → indicator. The service-level score reads
    /// the days' `fault_list.json`; a folder without labels is still not a Nezha folder.
    pub labels: PathBuf,
}

impl Layout {
    /// Finds the files of `root`, checking that every day has its faults and metrics.
    pub fn discover(root: &Path) -> Result<Self, LayoutError> {
        let days = day_folders(root)?;
        for day in &days {
            let dir = root.join(day);
            let need = [
                ("fault_list.json", "the day's injected faults"),
                ("metric", "a metric/ folder of the day's CSV files"),
                (
                    "metric/dependency.csv",
                    "the day's call graph, Source,Target,Weight",
                ),
            ];
            for (missing, what) in need {
                if !dir.join(missing).exists() {
                    return Err(LayoutError::DayIncomplete {
                        day: dir,
                        missing,
                        what,
                    });
                }
            }
        }
        let labels = one_top_level(root, "root_cause_*.json", |n| {
            n.starts_with("root_cause_") && n.ends_with(".json")
        })?
        .ok_or_else(|| LayoutError::NoLabels {
            root: root.to_owned(),
        })?;
        Ok(Self {
            root: root.to_owned(),
            days,
            call_graph: call_graph(root)?,
            labels,
        })
    }
}

/// The names of `root`'s day folders (named `YYYY-MM-DD`), sorted; at least one.
pub fn day_folders(root: &Path) -> Result<Vec<String>, LayoutError> {
    let mut days: Vec<String> = entries(root)?
        .into_iter()
        .filter(|(name, path)| is_date(name) && path.is_dir())
        .map(|(name, _)| name)
        .collect();
    if days.is_empty() {
        return Err(LayoutError::NoDays {
            root: root.to_owned(),
        });
    }
    days.sort();
    Ok(days)
}

/// The one `*call_graph*.csv` at the top of `root`, if any.
pub fn call_graph(root: &Path) -> Result<Option<PathBuf>, LayoutError> {
    one_top_level(root, "*call_graph*.csv", |n| {
        n.contains("call_graph") && n.ends_with(".csv")
    })
}

/// The one file at the top of `root` whose name passes `matches`, if any.
fn one_top_level(
    root: &Path,
    pattern: &'static str,
    matches: impl Fn(&str) -> bool,
) -> Result<Option<PathBuf>, LayoutError> {
    let mut found: Vec<(String, PathBuf)> = entries(root)?
        .into_iter()
        .filter(|(name, path)| matches(name) && path.is_file())
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop().map(|(_, path)| path)),
        _ => Err(LayoutError::Ambiguous {
            root: root.to_owned(),
            pattern,
            found: found.into_iter().map(|(name, _)| name).collect(),
        }),
    }
}

/// The entries of `dir` with UTF-8 names (no file of the layout has another).
pub(crate) fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, LayoutError> {
    let list = |source| LayoutError::List {
        dir: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            out.push((name.to_owned(), path.clone()));
        }
    }
    Ok(out)
}

/// `YYYY-MM-DD` with a month and day in range.
fn is_date(name: &str) -> bool {
    let b = name.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shape && crate::csv::utc_millis(&format!("{name} 00:00:00")).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_folders_are_dates_only() {
        assert!(is_date("2023-01-29"));
        for name in [
            "2023-13-01",
            "2023-1-29",
            "20230129",
            "metric",
            "2023-01-29x",
        ] {
            assert!(!is_date(name), "{name}");
        }
    }
}
