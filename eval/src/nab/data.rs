//! Loading the NAB corpus from disk into rows and row-index windows.
//!
//! The files are small (365k rows in all), so everything is read into memory once and the
//! detectors and the scorer then work on plain vectors. The loader absorbs the corpus's format
//! quirks here, once, so nothing downstream has to: CRLF line endings, missing trailing
//! newlines, duplicated and backwards timestamps. Because timestamps are not unique, windows
//! are turned into *row* ranges right away, mapping each bound to the first row that carries
//! exactly that timestamp, as NAB itself does; from then on only row indices matter.
//!
//! Timestamps carry no zone; they are read as UTC and converted by hand (days from the civil
//! calendar), which is all that NAB's fixed `YYYY-MM-DD HH:MM:SS` format needs. The original
//! text is kept so that results files repeat it verbatim.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::{NabError, RowProblem, WindowProblem};

/// One data row: event time and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The timestamp exactly as the source file wrote it, for results files.
    pub text_ts: String,
    /// Event time in milliseconds since the Unix epoch, the zone-less text read as UTC.
    pub at_ms: i64,
    pub value: f64,
}

/// An anomaly window: rows `start..=end` of its file (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub start: usize,
    pub end: usize,
}

impl Window {
    /// Number of rows in the window, `end − start + 1`.
    pub fn width(&self) -> usize {
        self.end - self.start + 1
    }

    /// Whether row `i` lies inside the window.
    pub fn contains(&self, i: usize) -> bool {
        self.start <= i && i <= self.end
    }
}

/// One series of the corpus with its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct NabFile {
    /// The directory under `data/`, e.g. `realKnownCause`.
    pub category: String,
    /// The file name as NAB writes it, e.g. `nyc_taxi.csv`.
    pub name: String,
    pub rows: Vec<Row>,
    /// Sorted by start, disjoint, inside `rows`.
    pub windows: Vec<Window>,
}

impl NabFile {
    /// The key of the file in NAB's label files, `<category>/<name>`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.category, self.name)
    }
}

/// The whole benchmark: every data file with its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// Sorted by category, then name, so that runs are deterministic.
    pub files: Vec<NabFile>,
}

impl Corpus {
    /// Loads `dir/data/<category>/<file>.csv` and `dir/labels/combined_windows.json`.
    ///
    /// Every data file must have an entry in the labels and every entry a data file, so a
    /// half-copied corpus fails here rather than scoring quietly lower.
    ///
    /// # Errors
    ///
    /// Unreadable files, a malformed row or label file, a window bound that matches no row,
    /// and data files and labels that do not pair up; each names the file (and line).
    pub fn load(dir: &Path) -> Result<Corpus, NabError> {
        let labels_path = dir.join("labels").join("combined_windows.json");
        let labels_text = read_text(&labels_path)?;
        let mut labels: BTreeMap<String, Vec<(String, String)>> =
            serde_json::from_str(&labels_text).map_err(|source| NabError::Labels {
                path: labels_path.clone(),
                source,
            })?;

        let data_dir = dir.join("data");
        let mut files = Vec::new();
        for category_dir in sorted_entries(&data_dir)? {
            if !category_dir.is_dir() {
                continue;
            }
            let category = file_name(&category_dir);
            for path in sorted_entries(&category_dir)? {
                if !path.is_file() || path.extension().is_none_or(|ext| ext != "csv") {
                    continue;
                }
                let name = file_name(&path);
                let rows = parse_rows(&path, &read_text(&path)?)?;
                let key = format!("{category}/{name}");
                let bounds = labels.remove(&key).ok_or_else(|| NabError::Unlabelled {
                    file: key.clone(),
                    labels: labels_path.clone(),
                })?;
                let windows = map_windows(&labels_path, &key, &rows, &bounds)?;
                files.push(NabFile {
                    category: category.clone(),
                    name,
                    rows,
                    windows,
                });
            }
        }
        if files.is_empty() {
            return Err(NabError::NoDataFiles { dir: data_dir });
        }
        if let Some(file) = labels.into_keys().next() {
            return Err(NabError::LabelsWithoutData {
                file,
                labels: labels_path,
            });
        }
        Ok(Corpus { files })
    }

    /// Total number of data rows.
    pub fn rows(&self) -> usize {
        self.files.iter().map(|f| f.rows.len()).sum()
    }

    /// Total number of anomaly windows.
    pub fn windows(&self) -> usize {
        self.files.iter().map(|f| f.windows.len()).sum()
    }
}

/// Checks that `windows` are usable row ranges of a file with `rows` rows: each inside the
/// file, sorted by start, sharing no row with another.
///
/// # Errors
///
/// [`NabError::BadWindow`] for the first window that breaks a rule.
pub fn check_windows(file: &str, rows: usize, windows: &[Window]) -> Result<(), NabError> {
    let mut previous_end: Option<usize> = None;
    for (index, w) in windows.iter().enumerate() {
        let problem = if w.end < w.start {
            Some(WindowProblem::Reversed)
        } else if w.end >= rows {
            Some(WindowProblem::PastEnd { rows })
        } else {
            previous_end
                .filter(|&end| w.start <= end)
                .map(|previous_end| WindowProblem::Overlaps { previous_end })
        };
        if let Some(problem) = problem {
            return Err(NabError::BadWindow {
                file: file.to_owned(),
                index,
                start: w.start,
                end: w.end,
                problem,
            });
        }
        previous_end = Some(w.end);
    }
    Ok(())
}

/// Parses `YYYY-MM-DD HH:MM:SS`, optionally followed by `.` and fractional digits (as in the
/// label files), into milliseconds since the Unix epoch, reading the time as UTC.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = &b[range];
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0_i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let millis = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..]
            if !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit) =>
        {
            // Only milliseconds survive; NAB's fractions are all zero anyway.
            let mut ms = 0_i64;
            for k in 0..3 {
                ms = ms * 10 + fraction.get(k).map_or(0, |d| i64::from(d - b'0'));
            }
            ms
        }
        _ => return None,
    };
    let days = crate::csv::days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses the text of one data file; `path` is only for error messages.
fn parse_rows(path: &Path, text: &str) -> Result<Vec<Row>, NabError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // `split('\n')` plus trimming `\r` handles CRLF files and a missing final newline alike.
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    let header = lines.next().map_or("", |(_, line)| line);
    if header.trim() != "timestamp,value" {
        return Err(NabError::BadHeader {
            path: path.to_owned(),
            line: 1,
            found: header.to_owned(),
        });
    }
    let mut rows = Vec::new();
    for (line, content) in lines {
        if content.trim().is_empty() {
            continue;
        }
        let bad_row = |problem| NabError::BadRow {
            path: path.to_owned(),
            line,
            problem,
        };
        let Some((ts, value)) = content.split_once(',').filter(|(_, v)| !v.contains(',')) else {
            return Err(bad_row(RowProblem::Fields {
                line: content.to_owned(),
            }));
        };
        let ts = ts.trim();
        let at_ms = parse_timestamp(ts).ok_or_else(|| {
            bad_row(RowProblem::Timestamp {
                text: ts.to_owned(),
            })
        })?;
        let value = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                bad_row(RowProblem::Value {
                    text: value.to_owned(),
                })
            })?;
        rows.push(Row {
            text_ts: ts.to_owned(),
            at_ms,
            value,
        });
    }
    if rows.is_empty() {
        return Err(NabError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok(rows)
}

/// Turns the `[start, end]` timestamp pairs of one file into sorted, checked row windows.
fn map_windows(
    labels: &Path,
    key: &str,
    rows: &[Row],
    bounds: &[(String, String)],
) -> Result<Vec<Window>, NabError> {
    let row_of = |text: &str| -> Result<usize, NabError> {
        let at_ms = parse_timestamp(text).ok_or_else(|| NabError::BadWindowTimestamp {
            labels: labels.to_owned(),
            file: key.to_owned(),
            text: text.to_owned(),
        })?;
        rows.iter()
            .position(|row| row.at_ms == at_ms)
            .ok_or_else(|| NabError::WindowTimestampNotFound {
                labels: labels.to_owned(),
                file: key.to_owned(),
                text: text.to_owned(),
            })
    };
    let mut windows = bounds
        .iter()
        .map(|(start, end)| {
            Ok(Window {
                start: row_of(start)?,
                end: row_of(end)?,
            })
        })
        .collect::<Result<Vec<_>, NabError>>()?;
    windows.sort_by_key(|w| w.start);
    check_windows(key, rows.len(), &windows)?;
    Ok(windows)
}

fn read_text(path: &Path) -> Result<String, NabError> {
    fs::read_to_string(path).map_err(|source| NabError::Read {
        path: path.to_owned(),
        source,
    })
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, NabError> {
    let read_error = |source| NabError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths = fs::read_dir(dir)
        .map_err(read_error)?
        .map(|entry| entry.map(|e| e.path()).map_err(read_error))
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, content: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, content).expect("write fixture");
    }

    /// Two categories; one CRLF file without trailing newline and a duplicated timestamp that
    /// a window starts on, one LF file going backwards in time.
    fn fixture(root: &Path) {
        write(
            root,
            "data/catB/b.csv",
            "timestamp,value\r\n2014-01-01 00:00:00,1\r\n2014-01-01 00:05:00,2\r\n\
             2014-01-01 00:05:00,3\r\n2014-01-01 00:10:00,4.5\r\n2014-01-01 00:15:00,5",
        );
        write(
            root,
            "data/catA/a.csv",
            "timestamp,value\n2015-03-01 10:00:00,10\n2015-03-01 09:00:00,11\n\
             2015-03-01 11:00:00,12\n",
        );
        write(root, "data/catA/notes.txt", "ignored");
        write(
            root,
            "labels/combined_windows.json",
            r#"{"catA/a.csv": [], "catB/b.csv": [["2014-01-01 00:05:00.000000",
                "2014-01-01 00:10:00.000000"]]}"#,
        );
    }

    #[test]
    fn loads_crlf_files_without_trailing_newline_and_maps_windows_to_first_duplicate() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fixture(dir.path());
        let corpus = Corpus::load(dir.path()).expect("fixture loads");

        let names: Vec<String> = corpus.files.iter().map(NabFile::key).collect();
        assert_eq!(names, ["catA/a.csv", "catB/b.csv"]);
        let b = &corpus.files[1];
        assert_eq!(b.rows.len(), 5);
        assert_eq!(b.rows[4].text_ts, "2014-01-01 00:15:00");
        assert_eq!(b.rows[4].value, 5.0);
        assert_eq!(b.rows[3].value, 4.5);
        assert_eq!(b.rows[1].at_ms, b.rows[2].at_ms);
        assert_eq!(b.windows, [Window { start: 1, end: 3 }]);
        assert_eq!(corpus.rows(), 8);
        assert_eq!(corpus.windows(), 1);
        // Rows stay in file order even when time goes backwards.
        let a = &corpus.files[0];
        assert!(a.rows[1].at_ms < a.rows[0].at_ms);
        assert_eq!(a.rows[0].at_ms, 1_425_204_000_000);
    }

    #[test]
    fn names_file_and_line_of_a_bad_row() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fixture(dir.path());
        write(
            dir.path(),
            "data/catA/a.csv",
            "timestamp,value\n2015-03-01 10:00:00,10\n2015-03-01 10:05:00,ten\n",
        );
        let err = Corpus::load(dir.path()).expect_err("bad value must fail");
        let NabError::BadRow {
            path,
            line,
            problem,
        } = &err
        else {
            panic!("unexpected error {err:?}");
        };
        assert!(path.ends_with("data/catA/a.csv"));
        assert_eq!(*line, 3);
        assert_eq!(*problem, RowProblem::Value { text: "ten".into() });
        assert!(err.to_string().contains("a.csv:3: bad value `ten`"));
    }

    #[test]
    fn rejects_a_window_bound_that_matches_no_row() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fixture(dir.path());
        write(
            dir.path(),
            "labels/combined_windows.json",
            r#"{"catA/a.csv": [], "catB/b.csv": [["2014-01-01 00:06:00.000000",
                "2014-01-01 00:10:00.000000"]]}"#,
        );
        let err = Corpus::load(dir.path()).expect_err("unknown bound must fail");
        assert!(
            matches!(&err, NabError::WindowTimestampNotFound { file, text, .. }
                if file == "catB/b.csv" && text == "2014-01-01 00:06:00.000000"),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_unlabelled_files_and_labels_without_files() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fixture(dir.path());
        write(
            dir.path(),
            "labels/combined_windows.json",
            r#"{"catB/b.csv": []}"#,
        );
        let err = Corpus::load(dir.path()).expect_err("catA/a.csv is unlabelled");
        assert!(matches!(&err, NabError::Unlabelled { file, .. } if file == "catA/a.csv"));

        write(
            dir.path(),
            "labels/combined_windows.json",
            r#"{"catA/a.csv": [], "catB/b.csv": [], "catC/c.csv": []}"#,
        );
        let err = Corpus::load(dir.path()).expect_err("catC/c.csv has no data");
        assert!(matches!(&err, NabError::LabelsWithoutData { file, .. } if file == "catC/c.csv"));
    }

    #[test]
    fn missing_corpus_directory_is_a_read_error_naming_the_path() {
        let err = Corpus::load(Path::new("/nonexistent/nab")).expect_err("no such dir");
        assert!(
            matches!(&err, NabError::Read { path, .. } if path.ends_with("combined_windows.json"))
        );
    }

    #[test]
    fn parses_timestamps_as_utc_milliseconds() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2000-03-01 00:00:01"),
            Some(951_868_801_000)
        );
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00.000000"),
            parse_timestamp("2014-04-10 07:15:00")
        );
        assert_eq!(
            parse_timestamp("2016-02-29 12:00:00.250"),
            Some(1_456_747_200_250)
        );
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-1000));
        for bad in [
            "2015-02-29 00:00:00",
            "2014-13-01 00:00:00",
            "2014-01-01T00:00:00",
            "2014-01-01 24:00:00",
            "2014-01-01 00:00",
            "2014-01-01 00:00:00.",
            "2014-01-01 00:00:00Z",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn check_windows_rejects_reversed_overlapping_and_out_of_range_windows() {
        let w = |start, end| Window { start, end };
        assert!(check_windows("f", 10, &[w(0, 2), w(3, 9)]).is_ok());
        for (windows, expected) in [
            (vec![w(3, 2)], WindowProblem::Reversed),
            (vec![w(5, 10)], WindowProblem::PastEnd { rows: 10 }),
            (
                vec![w(0, 4), w(4, 6)],
                WindowProblem::Overlaps { previous_end: 4 },
            ),
        ] {
            let err = check_windows("f", 10, &windows).expect_err("invalid");
            assert!(
                matches!(err, NabError::BadWindow { problem, .. } if problem == expected),
                "{windows:?}"
            );
        }
    }
}
