//! End-to-end tests: `evaluate` on small in-memory corpora, and the reference detectors
//! (null, perfect, Windowed Gaussian) on the real NAB corpus in `shared/datasets/nab`.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;
use std::sync::OnceLock;

use super::*;

/// The corpus beside the workspace: `<workspace>/../shared/datasets/nab`.
fn real_corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/nab");
        assert!(
            dir.join("data").is_dir(),
            "the NAB corpus is missing: expected it at {} (shared/datasets/nab beside the \
             workspace); these tests need it and must not pass without it",
            dir.display()
        );
        Corpus::load(&dir).unwrap_or_else(|err| panic!("cannot load {}: {err}", dir.display()))
    })
}

fn normalized(report: &DetectorReport) -> [f64; 3] {
    report.profiles().map(|p| p.normalized)
}

fn assert_scores(report: &DetectorReport, expected: [f64; 3], tolerance: f64) {
    let actual = normalized(report);
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= tolerance,
            "{}: got {actual:?}, expected {expected:?} ± {tolerance}\n{}",
            report.detector,
            table(std::slice::from_ref(report))
        );
    }
}

/// Rounds to 12 significant digits, as NAB's results files do.
fn round12(x: f64) -> f64 {
    format!("{x:.11e}")
        .parse()
        .expect("a formatted float parses")
}

#[test]
fn real_corpus_has_the_documented_shape() {
    let corpus = real_corpus();
    assert_eq!(corpus.files.len(), 58);
    assert_eq!(corpus.rows(), 365_558);
    assert_eq!(corpus.windows(), 116);
    let first = &corpus.files[0];
    assert_eq!(first.key(), "artificialNoAnomaly/art_daily_no_noise.csv");
}

#[test]
fn null_detector_scores_zero_on_every_profile() {
    let report = evaluate(real_corpus(), "null", &|| Box::new(|_, _| 0.5), None)
        .expect("null detector scores");
    assert_eq!(normalized(&report), [0.0; 3]);
    assert_eq!(report.standard.threshold, NOTHING_DETECTED);
    assert_eq!(report.standard.counts.fn_windows, 116);
}

#[test]
fn perfect_detector_scores_one_hundred_on_every_profile() {
    let corpus = real_corpus();
    // The detector sees only (time, value): it is told which file it is in by the order of
    // the factory's calls (one per file, in corpus order) and finds window starts by time.
    let starts: Vec<Vec<i64>> = corpus
        .files
        .iter()
        .map(|f| f.windows.iter().map(|w| f.rows[w.start].at_ms).collect())
        .collect();
    let next_file = Cell::new(0);
    let make = || -> Box<dyn FnMut(i64, f64) -> f64> {
        let mut starts = starts[next_file.get()].clone();
        next_file.set(next_file.get() + 1);
        Box::new(move |at_ms, _| {
            // A window starts on the first row carrying its start time; later duplicates don't.
            match starts.iter().position(|&t| t == at_ms) {
                Some(k) => {
                    starts.swap_remove(k);
                    1.0
                }
                None => 0.0,
            }
        })
    };
    let report = evaluate(corpus, "perfect", &make, None).expect("perfect detector scores");
    assert_scores(&report, [100.0; 3], 1e-9);
    assert_eq!(report.standard.counts.tp_windows, 116);
    assert_eq!(report.standard.counts.fp_rows, 0);
}

#[test]
fn windowed_gaussian_reproduces_nabs_published_scores() {
    let corpus = real_corpus();
    let recorded: Rc<RefCell<Vec<Vec<f64>>>> = Rc::default();
    let make = {
        let recorded = Rc::clone(&recorded);
        move || -> Box<dyn FnMut(i64, f64) -> f64> {
            let recorded = Rc::clone(&recorded);
            recorded.borrow_mut().push(Vec::new());
            let mut detector = WindowedGaussian::new();
            Box::new(move |_, value| {
                let score = detector.score(value);
                if let Some(file) = recorded.borrow_mut().last_mut() {
                    file.push(score);
                }
                score
            })
        }
    };
    let full = evaluate(corpus, "windowed_gaussian", &make, None).expect("WG scores");

    let rounded_scores: Vec<Vec<f64>> = recorded
        .borrow()
        .iter()
        .map(|file| file.iter().copied().map(round12).collect())
        .collect();
    let rounded = report::build("windowed_gaussian (12 digits)", corpus, &rounded_scores)
        .expect("rounded WG scores");

    // NAB's published numbers come from its 12-digit results files.
    assert_scores(&rounded, [39.6495, 20.8680, 47.4100], 0.001);
    assert_scores(&full, [40.13, 23.94, 47.73], 0.01);
}

/// Guards the headline number: the default ensemble, one global configuration, must keep
/// NAB's standard score at or above 60 (61.66 when this was written).
#[test]
fn default_ensemble_scores_at_least_sixty_on_nab() {
    use faultline_detectors::{Detector, DetectorSpec, EventTime};
    let spec = DetectorSpec::default_for("ensemble").expect("ensemble is in the catalogue");
    let make = || -> Box<dyn FnMut(i64, f64) -> f64> {
        let mut detector = spec.build();
        Box::new(move |ms, value| detector.observe(EventTime::from_millis(ms), value).score())
    };
    let report = evaluate(real_corpus(), "ensemble", &make, None).expect("scores");
    let [standard, low_fp, low_fn] = normalized(&report);
    assert!(
        standard >= 60.0,
        "standard {standard}, low FP {low_fp}, low FN {low_fn}"
    );
}

#[test]
fn evaluate_gives_each_file_a_fresh_detector_and_writes_nabs_layout() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let corpus = tiny_corpus();
    // A detector that counts its own calls: a fresh one starts again at 1 in every file.
    let make = || -> Box<dyn FnMut(i64, f64) -> f64> {
        let mut calls = 0.0;
        Box::new(move |_, _| {
            calls += 1.0;
            if calls == 3.0 { f64::NAN } else { calls / 10.0 }
        })
    };
    let report = evaluate(&corpus, "counter", &make, Some(out.path())).expect("evaluates");
    assert_eq!(report.detector, "counter");
    assert_eq!(report.categories.len(), 2);

    let written = std::fs::read_to_string(out.path().join("counter/catB/counter_b.csv"))
        .expect("results file for catB/b.csv");
    assert_eq!(
        written,
        "timestamp,value,anomaly_score,label\n\
         2014-01-01 00:00:00,1,0.1,0\n\
         2014-01-01 00:05:00,2.5,0.2,1\n\
         2014-01-01 00:05:00,3,0,1\n\
         2014-01-01 00:10:00,4,0.4,0\n"
    );
    assert!(out.path().join("counter/catA/counter_a.csv").is_file());
}

#[test]
fn evaluate_rejects_a_detector_name_that_is_not_one_path_component() {
    let out = tempfile::tempdir().expect("a temporary directory");
    for name in ["", "..", "a/b"] {
        let err = evaluate(
            &tiny_corpus(),
            name,
            &|| Box::new(|_, _| 0.0),
            Some(out.path()),
        )
        .expect_err("bad name");
        assert!(
            matches!(err, NabError::BadDetectorName { .. }),
            "{name}: {err}"
        );
    }
}

fn tiny_corpus() -> Corpus {
    let rows = |values: &[(&str, f64)]| -> Vec<Row> {
        values
            .iter()
            .map(|&(text, value)| Row {
                text_ts: text.to_owned(),
                at_ms: parse_timestamp(text).expect("valid fixture timestamp"),
                value,
            })
            .collect()
    };
    Corpus {
        files: vec![
            NabFile {
                category: "catA".into(),
                name: "a.csv".into(),
                rows: rows(&[("2015-03-01 10:00:00", 10.0), ("2015-03-01 11:00:00", 11.0)]),
                windows: vec![],
            },
            NabFile {
                category: "catB".into(),
                name: "b.csv".into(),
                rows: rows(&[
                    ("2014-01-01 00:00:00", 1.0),
                    ("2014-01-01 00:05:00", 2.5),
                    ("2014-01-01 00:05:00", 3.0),
                    ("2014-01-01 00:10:00", 4.0),
                ]),
                windows: vec![Window { start: 1, end: 2 }],
            },
        ],
    }
}
