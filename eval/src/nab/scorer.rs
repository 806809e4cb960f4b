//! The NAB scorer: row values, probation, and the exact corpus-wide threshold sweep.
//!
//! NAB turns per-row anomaly scores into one number per profile. A row at or above the
//! threshold is a detection; the first detection inside a window earns up to `A_TP` (less the
//! later it comes), every detection outside a window costs up to `A_FP` (less just after a
//! window), and a window without detection costs `A_FN`. One threshold serves the whole
//! corpus, and it is chosen *exactly*: every distinct score is tried, from the highest down.
//!
//! The sweep is `O(N log N)`: the scorable rows are sorted once by score, then lowered through
//! in groups of equal score, so a group's rows all switch to "detected" together. The raw total
//! is kept incrementally. Each window holds the best (largest) value among its detected rows
//! — within a window the value falls with the row index, so that is the earliest detection —
//! and its contribution is `max(−A_FN, A_TP · best)`; a detection outside windows adds its
//! (negative) value. Ties between equal totals keep the higher threshold, because the sweep
//! only replaces the best on a strict improvement.
//!
//! Deliberate choices where NAB's own code and its documentation part ways, all following the
//! shared dataset README (the contract of this harness): `S(y) = −1` only for `y > 3`; every
//! window counts towards `A_FN`, even one hidden entirely in probation (none is, in NAB); a
//! window of width one makes the rows after it cost the full `A_FP` (`y = ∞`).

use super::data::{Window, check_windows};
use super::error::NabError;

/// The threshold at which nothing is detected: above every sanitised score.
pub const NOTHING_DETECTED: f64 = 1.1;

/// Weights of one NAB application profile (`A_TN` is unused by NAB and left out).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Profile {
    /// NAB's name for it, as in `config/profiles.json`.
    pub name: &'static str,
    /// Reward for detecting a window at its first row.
    pub a_tp: f64,
    /// Cost of a detection far from any window.
    pub a_fp: f64,
    /// Cost of a window without any detection.
    pub a_fn: f64,
}

impl Profile {
    pub const STANDARD: Profile = Profile {
        name: "standard",
        a_tp: 1.0,
        a_fp: 0.11,
        a_fn: 1.0,
    };
    pub const REWARD_LOW_FP_RATE: Profile = Profile {
        name: "reward_low_FP_rate",
        a_tp: 1.0,
        a_fp: 0.22,
        a_fn: 1.0,
    };
    pub const REWARD_LOW_FN_RATE: Profile = Profile {
        name: "reward_low_FN_rate",
        a_tp: 1.0,
        a_fp: 0.11,
        a_fn: 2.0,
    };
    /// The three profiles in NAB's order.
    pub const ALL: [Profile; 3] = [
        Profile::STANDARD,
        Profile::REWARD_LOW_FP_RATE,
        Profile::REWARD_LOW_FN_RATE,
    ];

    /// `100 · (raw − null)/(perfect − null)` with `perfect = windows · A_TP` and
    /// `null = −windows · A_FN`; `None` without windows, where it is undefined.
    pub fn normalize(&self, raw: f64, windows: usize) -> Option<f64> {
        let windows = windows as f64;
        let (perfect, null) = (windows * self.a_tp, -windows * self.a_fn);
        (perfect > null).then(|| 100.0 * (raw - null) / (perfect - null))
    }
}

/// Number of leading rows of a file that are never scored: `min(⌊0.15·n⌋, 750)`.
///
/// Integer arithmetic gives the same result as NAB's floating-point `floor(0.15 * n)` for
/// every file length up to far beyond NAB's (checked to 30,000 rows).
pub fn probation_len(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// NAB's scaled sigmoid `S(y) = 2/(1 + e^{5y}) − 1`, with `S(y) = −1` for `y > 3`.
pub fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// The score a detector is judged on: NaN counts as 0, everything is clamped to `[0, 1]`.
pub fn sanitize_score(score: f64) -> f64 {
    // NaN fails the comparison too; −0 becomes +0 so equal scores compare equal bit for bit.
    if score > 0.0 { score.min(1.0) } else { 0.0 }
}

/// One file as the scorer sees it: a score per row and the file's windows.
#[derive(Debug, Clone, Copy)]
pub struct ScoredFile<'a> {
    /// For error messages only.
    pub name: &'a str,
    /// One score per row, in row order; sanitised by the scorer.
    pub scores: &'a [f64],
    /// Sorted by start, disjoint, inside the file.
    pub windows: &'a [Window],
}

/// What a threshold detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    /// Windows with at least one detected scorable row.
    pub tp_windows: usize,
    /// Windows without one.
    pub fn_windows: usize,
    /// Detected scorable rows outside every window.
    pub fp_rows: usize,
}

/// The raw score and counts at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub raw: f64,
    pub counts: Counts,
}

/// The result of the threshold sweep for one profile.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ProfileScore {
    pub profile: Profile,
    /// The chosen threshold ([`NOTHING_DETECTED`] if detecting nothing is best).
    pub threshold: f64,
    /// The best raw score, summed over all files.
    pub raw: f64,
    /// 0 for the null detector, 100 for the perfect one.
    pub normalized: f64,
    /// What the chosen threshold detects.
    pub counts: Counts,
}

/// Where a scorable row lies, with its unweighted value if it were a detection.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    /// Inside window number `window` (numbered across all files); `value` is
    /// `S(y)/S(−1)`, to be multiplied by `A_TP`.
    Window { window: usize, value: f64 },
    /// Outside every window; `value` is `S(y)` or −1, to be multiplied by `A_FP`.
    Outside { value: f64 },
}

#[derive(Debug, Clone, Copy)]
struct Point {
    score: f64,
    place: Place,
}

/// Scorable rows of a set of files, sorted by score, ready to be swept for any profile.
#[derive(Debug, Clone)]
pub struct ScoringSet {
    /// Sorted by score, highest first.
    points: Vec<Point>,
    windows: usize,
}

impl ScoringSet {
    /// Checks the windows of every file and prepares the scorable rows.
    ///
    /// # Errors
    ///
    /// [`NabError::BadWindow`] if a file's windows are not sorted, disjoint row ranges.
    pub fn new(files: &[ScoredFile<'_>]) -> Result<ScoringSet, NabError> {
        let mut points = Vec::with_capacity(files.iter().map(|f| f.scores.len()).sum());
        let mut windows = 0;
        for file in files {
            check_windows(file.name, file.scores.len(), file.windows)?;
            let skip = probation_len(file.scores.len());
            let places = row_places(file.scores.len(), file.windows, windows);
            points.extend(
                file.scores
                    .iter()
                    .zip(places)
                    .skip(skip)
                    .map(|(&score, place)| Point {
                        score: sanitize_score(score),
                        place,
                    }),
            );
            windows += file.windows.len();
        }
        points.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(ScoringSet { points, windows })
    }

    /// Number of windows over all files.
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// Number of scorable (post-probation) rows.
    pub fn scorable_rows(&self) -> usize {
        self.points.len()
    }

    /// The exact sweep: the best raw score over all thresholds, the highest threshold on ties.
    ///
    /// # Errors
    ///
    /// [`NabError::NoWindows`] if the files hold no window: the normalised score is undefined.
    pub fn sweep(&self, profile: &Profile) -> Result<ProfileScore, NabError> {
        let mut state = SweepState::new(profile, self.windows);
        let mut best = (NOTHING_DETECTED, state.outcome());
        let mut group_start = 0;
        while group_start < self.points.len() {
            let threshold = self.points[group_start].score;
            let group_len = self.points[group_start..]
                .iter()
                .take_while(|p| p.score == threshold)
                .count();
            for point in &self.points[group_start..group_start + group_len] {
                state.detect(point.place);
            }
            group_start += group_len;
            let outcome = state.outcome();
            if outcome.raw > best.1.raw {
                best = (threshold, outcome);
            }
        }
        let (threshold, outcome) = best;
        let normalized = profile
            .normalize(outcome.raw, self.windows)
            .ok_or(NabError::NoWindows)?;
        Ok(ProfileScore {
            profile: *profile,
            threshold,
            raw: outcome.raw,
            normalized,
            counts: outcome.counts,
        })
    }

    /// The raw score and counts when every row scoring at least `threshold` is a detection.
    pub fn at_threshold(&self, profile: &Profile, threshold: f64) -> Outcome {
        let mut state = SweepState::new(profile, self.windows);
        for point in self.points.iter().take_while(|p| p.score >= threshold) {
            state.detect(point.place);
        }
        state.outcome()
    }
}

/// Scores `files` under `profile` in one call (see [`ScoringSet`] to reuse the sorting).
///
/// # Errors
///
/// As [`ScoringSet::new`] and [`ScoringSet::sweep`].
pub fn score(files: &[ScoredFile<'_>], profile: &Profile) -> Result<ProfileScore, NabError> {
    ScoringSet::new(files)?.sweep(profile)
}

/// The running totals of a sweep, updated one detection at a time.
struct SweepState {
    profile: Profile,
    /// Best unweighted value detected in each window, −∞ while undetected.
    best: Vec<f64>,
    /// Sum of the window contributions `max(−A_FN, A_TP · best)`.
    window_total: f64,
    /// Sum of the values of detections outside windows.
    fp_total: f64,
    counts: Counts,
}

impl SweepState {
    fn new(profile: &Profile, windows: usize) -> SweepState {
        SweepState {
            profile: *profile,
            best: vec![f64::NEG_INFINITY; windows],
            window_total: -profile.a_fn * windows as f64,
            fp_total: 0.0,
            counts: Counts {
                tp_windows: 0,
                fn_windows: windows,
                fp_rows: 0,
            },
        }
    }

    fn contribution(&self, best: f64) -> f64 {
        if best == f64::NEG_INFINITY {
            -self.profile.a_fn
        } else {
            (self.profile.a_tp * best).max(-self.profile.a_fn)
        }
    }

    fn detect(&mut self, place: Place) {
        match place {
            Place::Window { window, value } => {
                let old = self.best[window];
                if value > old {
                    if old == f64::NEG_INFINITY {
                        self.counts.tp_windows += 1;
                        self.counts.fn_windows -= 1;
                    }
                    self.window_total += self.contribution(value) - self.contribution(old);
                    self.best[window] = value;
                }
            }
            Place::Outside { value } => {
                self.fp_total += self.profile.a_fp * value;
                self.counts.fp_rows += 1;
            }
        }
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            raw: self.window_total + self.fp_total,
            counts: self.counts,
        }
    }
}

/// The place of every row of a file with `rows` rows and checked `windows`, whose first
/// window has the corpus-wide number `first_window`.
fn row_places(rows: usize, windows: &[Window], first_window: usize) -> Vec<Place> {
    let max_tp = scaled_sigmoid(-1.0);
    let mut places = Vec::with_capacity(rows);
    let mut next = 0; // index of the first window not yet finished
    let mut previous: Option<Window> = None;
    for i in 0..rows {
        let place = match windows.get(next) {
            Some(w) if w.contains(i) => {
                let width = w.width() as f64;
                let y = -((w.end - i + 1) as f64) / width;
                Place::Window {
                    window: first_window + next,
                    value: scaled_sigmoid(y) / max_tp,
                }
            }
            _ => match previous {
                None => Place::Outside { value: -1.0 },
                Some(p) => {
                    // A one-row window gives 1/0 = ∞ here, and S(∞) = −1.
                    let y = (i - p.end) as f64 / (p.width() - 1) as f64;
                    Place::Outside {
                        value: scaled_sigmoid(y),
                    }
                }
            },
        };
        places.push(place);
        if let Some(&w) = windows.get(next).filter(|w| w.end == i) {
            previous = Some(w);
            next += 1;
        }
    }
    places
}

#[cfg(test)]
#[path = "scorer_tests.rs"]
mod tests;
