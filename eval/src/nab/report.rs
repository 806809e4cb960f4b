//! What one detector scored on NAB, and how it is shown: a text table and a JSON summary.

use std::fmt::Write as _;

use serde_json::json;

use super::data::Corpus;
use super::error::NabError;
use super::scorer::{Counts, Profile, ProfileScore, ScoredFile, ScoringSet};

/// The NAB result of one detector over a corpus.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectorReport {
    pub detector: String,
    pub standard: ProfileScore,
    pub reward_low_fp_rate: ProfileScore,
    pub reward_low_fn_rate: ProfileScore,
    /// The standard profile at its corpus-wide threshold, split by category.
    pub categories: Vec<CategoryScore>,
}

impl DetectorReport {
    /// The three profile results in NAB's order.
    pub fn profiles(&self) -> [&ProfileScore; 3] {
        [
            &self.standard,
            &self.reward_low_fp_rate,
            &self.reward_low_fn_rate,
        ]
    }
}

/// The standard profile's result restricted to one category, at the corpus-wide threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CategoryScore {
    pub category: String,
    pub files: usize,
    pub windows: usize,
    pub raw: f64,
    /// `None` for a category without windows (`artificialNoAnomaly`), where it is undefined.
    pub normalized: Option<f64>,
    pub counts: Counts,
}

/// Scores per-file detector outputs (`scores[k]` for `corpus.files[k]`) with all profiles.
pub(super) fn build(
    detector: &str,
    corpus: &Corpus,
    scores: &[Vec<f64>],
) -> Result<DetectorReport, NabError> {
    let scored: Vec<ScoredFile<'_>> = corpus
        .files
        .iter()
        .zip(scores)
        .map(|(file, scores)| ScoredFile {
            name: &file.name,
            scores,
            windows: &file.windows,
        })
        .collect();
    let set = ScoringSet::new(&scored)?;
    let [standard, reward_low_fp_rate, reward_low_fn_rate] =
        Profile::ALL.map(|profile| set.sweep(&profile));
    let standard = standard?;

    let mut categories = Vec::new();
    let mut first = 0;
    while first < corpus.files.len() {
        let category = &corpus.files[first].category;
        let count = corpus.files[first..]
            .iter()
            .take_while(|f| &f.category == category)
            .count();
        let subset = ScoringSet::new(&scored[first..first + count])?;
        let outcome = subset.at_threshold(&Profile::STANDARD, standard.threshold);
        categories.push(CategoryScore {
            category: category.clone(),
            files: count,
            windows: subset.windows(),
            raw: outcome.raw,
            normalized: Profile::STANDARD.normalize(outcome.raw, subset.windows()),
            counts: outcome.counts,
        });
        first += count;
    }

    Ok(DetectorReport {
        detector: detector.to_owned(),
        standard,
        reward_low_fp_rate: reward_low_fp_rate?,
        reward_low_fn_rate: reward_low_fn_rate?,
        categories,
    })
}

/// `{"detector": ..., "standard": S, "reward_low_FP_rate": S, "reward_low_FN_rate": S}`, with
/// the normalised scores rounded to two decimals.
pub fn summary_json(report: &DetectorReport) -> serde_json::Value {
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    json!({
        "detector": report.detector,
        "standard": round2(report.standard.normalized),
        "reward_low_FP_rate": round2(report.reward_low_fp_rate.normalized),
        "reward_low_FN_rate": round2(report.reward_low_fn_rate.normalized),
    })
}

/// A plain-text table: the normalised scores of every detector, then per detector the raw
/// score, threshold and counts of each profile and the standard score of each category.
pub fn table(reports: &[DetectorReport]) -> String {
    let name_width = reports
        .iter()
        .map(|r| r.detector.len())
        .chain(["detector".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        out,
        "NAB scores (exact threshold sweep; 0 = null detector, 100 = perfect)\n"
    );
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>8}  {:>8}  {:>8}",
        "detector", "standard", "low FP", "low FN"
    );
    for report in reports {
        let [s, fp, fn_] = report.profiles().map(|p| p.normalized);
        let _ = writeln!(
            out,
            "{:<name_width$}  {s:>8.2}  {fp:>8.2}  {fn_:>8.2}",
            report.detector
        );
    }
    for report in reports {
        let _ = writeln!(out, "\n{}", report.detector);
        let _ = writeln!(
            out,
            "  {:<20} {:>7} {:>9}  {:<18} {:>4} {:>4} {:>6}",
            "profile", "score", "raw", "threshold", "TP", "FN", "FP"
        );
        for p in report.profiles() {
            let c = p.counts;
            let _ = writeln!(
                out,
                "  {:<20} {:>7.2} {:>9.3}  {:<18} {:>4} {:>4} {:>6}",
                p.profile.name,
                p.normalized,
                p.raw,
                format_threshold(p.threshold),
                c.tp_windows,
                c.fn_windows,
                c.fp_rows
            );
        }
        let _ = writeln!(
            out,
            "  {:<22} {:>5} {:>7} {:>7} {:>9} {:>4} {:>4} {:>6}",
            "category (standard)", "files", "windows", "score", "raw", "TP", "FN", "FP"
        );
        for c in &report.categories {
            let score = c
                .normalized
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"));
            let _ = writeln!(
                out,
                "  {:<22} {:>5} {:>7} {:>7} {:>9.3} {:>4} {:>4} {:>6}",
                c.category,
                c.files,
                c.windows,
                score,
                c.raw,
                c.counts.tp_windows,
                c.counts.fn_windows,
                c.counts.fp_rows
            );
        }
    }
    out
}

/// Thresholds crowd just below 1 for saturating detectors; show enough digits to tell them
/// apart, and name the "detect nothing" threshold.
fn format_threshold(threshold: f64) -> String {
    if threshold > 1.0 {
        "none (1.1)".to_owned()
    } else {
        let text = format!("{threshold:.15}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_score(profile: Profile, normalized: f64) -> ProfileScore {
        ProfileScore {
            profile,
            threshold: 0.987_654_321_012_345_6,
            raw: 1.5,
            normalized,
            counts: Counts {
                tp_windows: 3,
                fn_windows: 1,
                fp_rows: 7,
            },
        }
    }

    fn report() -> DetectorReport {
        DetectorReport {
            detector: "windowed_gaussian".into(),
            standard: profile_score(Profile::STANDARD, 39.649_51),
            reward_low_fp_rate: profile_score(Profile::REWARD_LOW_FP_RATE, 20.868),
            reward_low_fn_rate: profile_score(Profile::REWARD_LOW_FN_RATE, 47.409_99),
            categories: vec![CategoryScore {
                category: "artificialNoAnomaly".into(),
                files: 5,
                windows: 0,
                raw: -0.22,
                normalized: None,
                counts: Counts::default(),
            }],
        }
    }

    #[test]
    fn summary_json_has_exactly_the_detector_and_three_rounded_numbers() {
        let value = summary_json(&report());
        assert_eq!(
            value,
            json!({
                "detector": "windowed_gaussian",
                "standard": 39.65,
                "reward_low_FP_rate": 20.87,
                "reward_low_FN_rate": 47.41,
            })
        );
    }

    #[test]
    fn table_lists_every_profile_and_category() {
        let text = table(&[report()]);
        assert!(
            text.contains("windowed_gaussian     39.65     20.87     47.41"),
            "{text}"
        );
        for needle in [
            "standard",
            "reward_low_FP_rate",
            "reward_low_FN_rate",
            "0.987654321012346",
            "artificialNoAnomaly",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn threshold_of_nothing_detected_is_named() {
        assert_eq!(format_threshold(1.1), "none (1.1)");
        assert_eq!(format_threshold(1.0), "1");
        assert_eq!(format_threshold(0.5), "0.5");
    }
}
