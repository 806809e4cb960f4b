//! Tests of the scorer: the README's test vectors, the sweep's tie rules, and a property test
//! against a literal, per-file reading of the README's rules.

use proptest::prelude::*;

use super::*;

const STD: Profile = Profile::STANDARD;
const LOW_FP: Profile = Profile::REWARD_LOW_FP_RATE;
const LOW_FN: Profile = Profile::REWARD_LOW_FN_RATE;

/// The README's test file: 100 rows, one window on rows 40..=59.
const VECTOR_WINDOW: [Window; 1] = [Window { start: 40, end: 59 }];

/// Raw scores (standard, low FP, low FN) when exactly `detected` rows of the README's test
/// file are detections.
fn vector_raw(detected: &[usize]) -> [f64; 3] {
    let mut scores = vec![0.0; 100];
    for &i in detected {
        scores[i] = 1.0;
    }
    let file = ScoredFile {
        name: "vector.csv",
        scores: &scores,
        windows: &VECTOR_WINDOW,
    };
    let set = ScoringSet::new(&[file]).expect("valid file");
    Profile::ALL.map(|p| set.at_threshold(&p, 1.0).raw)
}

fn assert_close(actual: [f64; 3], expected: [f64; 3], what: &str) {
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() < 1e-9,
            "{what}: got {actual:?}, expected {expected:?}"
        );
    }
}

#[test]
fn readme_test_vectors_give_the_listed_raw_scores() {
    assert_eq!(probation_len(100), 15);
    let cases: [(&[usize], [f64; 3]); 9] = [
        (&[], [-1.0, -1.0, -2.0]),
        (&[40], [1.0, 1.0, 1.0]),
        (&[50], [0.859792566910; 3]),
        (&[59], [0.126040137473; 3]),
        (&[45, 46, 47], [0.966989087800; 3]),
        (&[10], [-1.0, -1.0, -2.0]),
        (&[20], [-1.11, -1.22, -2.11]),
        (&[60], [-1.014390730907, -1.028781461814, -2.014390730907]),
        (&[40, 60], [0.985609269093, 0.971218538186, 0.985609269093]),
    ];
    for (detected, expected) in cases {
        assert_close(
            vector_raw(detected),
            expected,
            &format!("rows {detected:?}"),
        );
    }
}

#[test]
fn scaled_sigmoid_is_minus_one_only_beyond_three() {
    assert_eq!(scaled_sigmoid(3.0 + 1e-12), -1.0);
    assert!(scaled_sigmoid(3.0) > -1.0);
    assert_eq!(scaled_sigmoid(0.0), 0.0);
    assert_eq!(scaled_sigmoid(f64::INFINITY), -1.0);
    assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-15);
}

#[test]
fn probation_is_fifteen_percent_capped_at_750_rows() {
    assert_eq!(probation_len(0), 0);
    assert_eq!(probation_len(6), 0);
    assert_eq!(probation_len(7), 1);
    assert_eq!(probation_len(4032), 604);
    assert_eq!(probation_len(5000), 750);
    assert_eq!(probation_len(22_695), 750);
}

#[test]
fn sanitises_nan_and_out_of_range_scores() {
    assert_eq!(sanitize_score(f64::NAN), 0.0);
    assert_eq!(sanitize_score(-3.0), 0.0);
    assert_eq!(sanitize_score(7.0), 1.0);
    assert_eq!(sanitize_score(f64::INFINITY), 1.0);
    assert_eq!(sanitize_score(0.25), 0.25);
    assert!(sanitize_score(-0.0).is_sign_positive());
}

fn sweep_one(scores: &[f64], profile: &Profile) -> ProfileScore {
    let file = ScoredFile {
        name: "f.csv",
        scores,
        windows: &VECTOR_WINDOW,
    };
    score(&[file], profile).expect("valid file")
}

#[test]
fn sweep_starts_with_nothing_detected_at_1_1() {
    // Any detection only costs here, so the best is to detect nothing.
    let mut scores = vec![0.0; 100];
    scores[20] = 0.9;
    let result = sweep_one(&scores, &STD);
    assert_eq!(result.threshold, NOTHING_DETECTED);
    assert_eq!(result.raw, -1.0);
    assert_eq!(result.normalized, 0.0);
    assert_eq!(
        result.counts,
        Counts {
            tp_windows: 0,
            fn_windows: 1,
            fp_rows: 0
        }
    );
}

#[test]
fn sweep_prefers_the_higher_threshold_when_totals_tie() {
    let mut scores = vec![0.0; 100];
    scores[40] = 0.9;
    scores[45] = 0.8; // a later row of the same window adds nothing
    let result = sweep_one(&scores, &STD);
    assert_eq!(result.threshold, 0.9);
    assert_eq!(result.raw, 1.0);
    assert_eq!(result.normalized, 100.0);
}

#[test]
fn sweep_moves_rows_with_equal_scores_together() {
    // Alone, row 40 would score 1; it cannot be had without the false positive at row 20.
    let mut scores = vec![0.0; 100];
    scores[20] = 0.5;
    scores[40] = 0.5;
    for profile in Profile::ALL {
        let result = sweep_one(&scores, &profile);
        assert_eq!(result.threshold, 0.5, "{}", profile.name);
        assert!((result.raw - (1.0 - profile.a_fp)).abs() < 1e-12);
        assert_eq!(
            result.counts,
            Counts {
                tp_windows: 1,
                fn_windows: 0,
                fp_rows: 1
            }
        );
    }
}

#[test]
fn nan_scores_count_as_zero() {
    let mut scores = vec![f64::NAN; 100];
    scores[40] = 1.0;
    let result = sweep_one(&scores, &STD);
    assert_eq!((result.threshold, result.raw), (1.0, 1.0));
    assert_eq!(sweep_one(&vec![f64::NAN; 100], &STD).raw, -1.0);
}

#[test]
fn low_fn_profile_normalises_by_three_times_the_windows() {
    assert_eq!(LOW_FN.normalize(-232.0, 116), Some(0.0));
    assert_eq!(LOW_FN.normalize(116.0, 116), Some(100.0));
    assert_eq!(LOW_FP.normalize(0.0, 116), Some(50.0));
    assert_eq!(STD.normalize(0.0, 0), None);
}

#[test]
fn corpus_without_windows_has_no_normalised_score() {
    let file = ScoredFile {
        name: "quiet.csv",
        scores: &[0.0; 10],
        windows: &[],
    };
    assert!(matches!(score(&[file], &STD), Err(NabError::NoWindows)));
}

#[test]
fn rejects_windows_outside_the_file() {
    let file = ScoredFile {
        name: "short.csv",
        scores: &[0.0; 50],
        windows: &VECTOR_WINDOW,
    };
    let err = ScoringSet::new(&[file]).expect_err("window past the end");
    assert!(
        err.to_string()
            .starts_with("short.csv: window 0 (rows 40..=59)")
    );
}

#[test]
fn rows_after_a_one_row_window_cost_the_full_false_positive_weight() {
    let places = row_places(5, &[Window { start: 1, end: 1 }], 0);
    assert_eq!(places[0], Place::Outside { value: -1.0 });
    assert_eq!(
        places[1],
        Place::Window {
            window: 0,
            value: 1.0
        }
    );
    assert_eq!(places[2], Place::Outside { value: -1.0 });
}

/// The README's rules read literally, one file at a time in row order: the raw score when
/// every row scoring at least `threshold` is a detection.
fn literal_raw(files: &[(Vec<f64>, Vec<Window>)], profile: &Profile, threshold: f64) -> f64 {
    let mut total = 0.0;
    for (scores, windows) in files {
        let n = scores.len();
        let detected = |i: usize| sanitize_score(scores[i]) >= threshold;
        let first_scorable = probation_len(n);
        for w in windows {
            let first = (w.start.max(first_scorable)..=w.end).find(|&i| detected(i));
            total += match first {
                None => -profile.a_fn,
                Some(i) => {
                    let y = -((w.end - i + 1) as f64) / w.width() as f64;
                    profile.a_tp * scaled_sigmoid(y) / scaled_sigmoid(-1.0)
                }
            };
        }
        for i in (first_scorable..n).filter(|&i| detected(i)) {
            if windows.iter().any(|w| w.contains(i)) {
                continue;
            }
            total += match windows.iter().rev().find(|w| w.end < i) {
                None => -profile.a_fp,
                Some(w) => {
                    let y = (i - w.end) as f64 / (w.width() - 1) as f64;
                    profile.a_fp * scaled_sigmoid(y)
                }
            };
        }
    }
    total
}

/// Files of up to 80 rows with up to three disjoint windows and scores drawn from a small
/// set (so that ties are common), including values the scorer must sanitise.
fn files_strategy() -> impl Strategy<Value = Vec<(Vec<f64>, Vec<Window>)>> {
    let score = prop::sample::select(vec![0.0, 0.2, 0.5, 0.7, 0.9, 1.0, f64::NAN, -1.0, 2.0]);
    let file = (
        prop::collection::vec(score, 1..80),
        prop::collection::vec((0_usize..30, 1_usize..12), 0..4),
    )
        .prop_map(|(scores, spans)| {
            let mut windows = Vec::new();
            let mut cursor = 0;
            for (gap, width) in spans {
                let start = cursor + gap;
                let end = start + width - 1;
                if end < scores.len() {
                    windows.push(Window { start, end });
                    cursor = end + 1;
                }
            }
            (scores, windows)
        });
    prop::collection::vec(file, 1..4)
}

proptest! {
    #[test]
    fn sweep_finds_the_best_threshold_of_the_literal_rules(files in files_strategy()) {
        let scored: Vec<ScoredFile<'_>> = files
            .iter()
            .map(|(scores, windows)| ScoredFile { name: "p.csv", scores, windows })
            .collect();
        let set = ScoringSet::new(&scored).expect("generated windows are valid");
        let mut candidates: Vec<f64> = files
            .iter()
            .flat_map(|(scores, _)| scores.iter().map(|&s| sanitize_score(s)))
            .collect();
        candidates.push(NOTHING_DETECTED);
        candidates.sort_by(|a, b| b.total_cmp(a));
        candidates.dedup();
        for profile in Profile::ALL {
            for &threshold in &candidates {
                let incremental = set.at_threshold(&profile, threshold).raw;
                let literal = literal_raw(&files, &profile, threshold);
                prop_assert!((incremental - literal).abs() < 1e-9);
            }
            let Ok(best) = set.sweep(&profile) else {
                prop_assert_eq!(set.windows(), 0);
                continue;
            };
            // The highest threshold among those within rounding of the best literal total.
            let best_literal = candidates
                .iter()
                .map(|&t| literal_raw(&files, &profile, t))
                .fold(f64::NEG_INFINITY, f64::max);
            let expected = candidates
                .iter()
                .copied()
                .find(|&t| literal_raw(&files, &profile, t) > best_literal - 1e-9)
                .expect("some candidate is best");
            prop_assert_eq!(best.threshold, expected);
            prop_assert!((best.raw - best_literal).abs() < 1e-9);
            prop_assert_eq!(best.counts, set.at_threshold(&profile, best.threshold).counts);
            let total = best.counts.tp_windows + best.counts.fn_windows;
            prop_assert_eq!(total, set.windows());
        }
    }
}
