//! Properties every detector of the catalogue keeps, whatever a producer sends.
//!
//! The series are hostile on purpose: gaps, irregular spacing, duplicate and out-of-order
//! timestamps, timestamps near the ends of `i64`, constant runs, magnitudes from 1e-12 to
//! 1e12, signed zeros, subnormals and NaN/±inf. Each property runs over every name in
//! [`DetectorSpec::NAMES`] with default parameters, plus a few non-default specs that reach
//! code the defaults leave cold on short series (a RobustZ window that fills and slides, a
//! seasonal profile with short phases, an ensemble with every member).
//!
//! Verdicts are compared bit for bit ([`bits`]): equal bits imply `==`, and also catch a
//! `-0.0` turning into `0.0`, which `==` would not.

use std::time::Duration;

use faultline_detectors::{
    AnyDetector, ChangePointParams, Detector, DetectorSpec, Direction, EnsembleParams, EventTime,
    RobustZParams, SeasonalParams, Snapshot, SnapshotError, Verdict,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

/// Minutes, the typical spacing of a metric.
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------
// Detectors under test
// ---------------------------------------------------------------------------------------

/// Every catalogue name with default parameters, then the non-default specs (see module doc).
fn specs() -> Vec<(String, DetectorSpec)> {
    let mut specs: Vec<(String, DetectorSpec)> = DetectorSpec::NAMES
        .iter()
        .map(|&name| {
            let spec = DetectorSpec::default_for(name).expect("every listed name has a default");
            (name.to_owned(), spec)
        })
        .collect();
    let small_window = RobustZParams {
        window: 8,
        threshold: 5.0,
        warmup: 4,
    };
    let short_phases = SeasonalParams {
        periods: vec![Duration::from_secs(3600), Duration::from_secs(86_400)],
        bin: Duration::from_secs(60),
        warmup: 4,
        ..SeasonalParams::default()
    };
    specs.push((
        "robust_z(window 8)".into(),
        DetectorSpec::RobustZ(small_window.clone()),
    ));
    specs.push((
        "seasonal(1h+1d @ 1m)".into(),
        DetectorSpec::Seasonal(short_phases.clone()),
    ));
    specs.push((
        "ensemble(all members)".into(),
        DetectorSpec::Ensemble(EnsembleParams {
            robust_z: Some(small_window),
            seasonal: Some(short_phases),
            change_point: Some(ChangePointParams {
                warmup: 4,
                ..ChangePointParams::default()
            }),
            refractory: 3,
            // Short, so these series reach the verdicts after it (the default is 200).
            warmup: 3,
            ..EnsembleParams::default()
        }),
    ));
    specs
}

// ---------------------------------------------------------------------------------------
// Hostile series
// ---------------------------------------------------------------------------------------

type Series = Vec<(EventTime, f64)>;

/// Milliseconds from one point to the next.
fn spacing() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => Just(MINUTE_MS),
        3 => 1..5 * MINUTE_MS,               // irregular
        1 => Just(0),                        // duplicate timestamp
        1 => -DAY_MS..0,                     // out of order
        1 => HOUR_MS..30 * DAY_MS,           // gap (outage)
    ]
}

/// Finite values of every magnitude a producer might send.
fn finite_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -100.0..100.0f64,
        1 => prop_oneof![Just(1e12), Just(-1e12), (-1.0..1.0f64).prop_map(|x| x * 1e12)],
        1 => prop_oneof![Just(1e-12), Just(-1e-12), (-1.0..1.0f64).prop_map(|x| x * 1e-12)],
        1 => prop_oneof![Just(0.0), Just(-0.0), Just(f64::MIN_POSITIVE), Just(5e-324)],
    ]
}

fn non_finite_value() -> impl Strategy<Value = f64> {
    prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
}

/// A stretch of the series with one character.
#[derive(Debug, Clone)]
enum Segment {
    /// Noise around a level, at any scale (the common case, and where detectors warm up).
    Noise {
        level: f64,
        scale: f64,
        steps: Vec<(i64, f64)>,
    },
    /// Point by point anything: hostile spacing and hostile values.
    Mixed(Vec<(i64, f64)>),
    /// One value repeated.
    Constant { value: f64, delta: i64, len: usize },
}

fn segment() -> impl Strategy<Value = Segment> {
    let magnitude = prop_oneof![Just(1e-12), Just(1.0), Just(1e3), Just(1e12)];
    let value = prop_oneof![8 => finite_value(), 1 => non_finite_value()];
    prop_oneof![
        4 => (finite_value(), magnitude, prop::collection::vec((spacing(), -1.0..1.0f64), 1..60))
            .prop_map(|(level, scale, steps)| Segment::Noise { level, scale, steps }),
        3 => prop::collection::vec((spacing(), value.clone()), 1..30).prop_map(Segment::Mixed),
        2 => (value, spacing(), 1usize..40)
            .prop_map(|(value, delta, len)| Segment::Constant { value, delta, len }),
    ]
}

/// A series starting anywhere in `i64` (near the ends, timestamps saturate into duplicates).
fn series() -> impl Strategy<Value = Series> {
    let start = prop_oneof![
        Just(0i64),
        1_600_000_000_000i64..1_800_000_000_000,
        any::<i64>(),
        Just(i64::MAX - 10 * MINUTE_MS),
    ];
    (start, prop::collection::vec(segment(), 1..10)).prop_map(|(start, segments)| {
        let mut t = start;
        let mut points = Vec::new();
        let mut push = |delta: i64, value: f64| {
            t = t.saturating_add(delta);
            points.push((EventTime::from_millis(t), value));
        };
        for segment in segments {
            match segment {
                Segment::Noise {
                    level,
                    scale,
                    steps,
                } => {
                    steps
                        .into_iter()
                        .for_each(|(d, u)| push(d, level + scale * u));
                }
                Segment::Mixed(steps) => steps.into_iter().for_each(|(d, v)| push(d, v)),
                Segment::Constant { value, delta, len } => {
                    (0..len).for_each(|_| push(delta, value))
                }
            }
        }
        points
    })
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A verdict as bits: equal bits mean the same verdict, NaN payloads and signed zeros
/// included.
fn bits(verdict: &Verdict) -> (u8, u64, u64, u64, u8) {
    match *verdict {
        Verdict::WarmingUp => (0, 0, 0, 0, 0),
        Verdict::Normal { score } => (1, score.to_bits(), 0, 0, 0),
        Verdict::Anomalous {
            score,
            expected,
            direction,
        } => {
            let side = match direction {
                Direction::Up => 0,
                Direction::Down => 1,
            };
            (
                2,
                score.to_bits(),
                expected.lower.to_bits(),
                expected.upper.to_bits(),
                side,
            )
        }
    }
}

fn observe_all(detector: &mut AnyDetector, points: &[(EventTime, f64)]) -> Vec<Verdict> {
    points
        .iter()
        .map(|&(at, value)| detector.observe(at, value))
        .collect()
}

fn assert_same_verdicts(
    name: &str,
    left: &[Verdict],
    right: &[Verdict],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(left.len(), right.len());
    for (i, (l, r)) in left.iter().zip(right).enumerate() {
        prop_assert_eq!(
            bits(l),
            bits(r),
            "{}: verdict {} differs: {:?} vs {:?}",
            name,
            i,
            l,
            r
        );
    }
    Ok(())
}

fn assert_score_in_unit_interval(
    name: &str,
    i: usize,
    verdict: &Verdict,
) -> Result<(), TestCaseError> {
    let score = verdict.score();
    prop_assert!(
        score.is_finite() && (0.0..=1.0).contains(&score),
        "{}: point {} scored {} ({:?})",
        name,
        i,
        score,
        verdict
    );
    Ok(())
}

/// A snapshot taken through its byte form, as a checkpoint store would.
fn through_bytes(detector: &AnyDetector) -> Snapshot {
    Snapshot::from_bytes(detector.snapshot().as_bytes().to_vec())
}

fn valid_snapshot(spec: &DetectorSpec, points: &[(EventTime, f64)]) -> Vec<u8> {
    let mut detector = spec.build();
    observe_all(&mut detector, points);
    detector.snapshot().as_bytes().to_vec()
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    // Every case runs every spec; 64 cases keep a debug `cargo test` to a few seconds.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn restored_snapshot_gives_bit_identical_future_verdicts(series in series(), split in any::<Index>()) {
        let split = split.index(series.len() + 1);
        let (before, after) = series.split_at(split);
        for (name, spec) in specs() {
            let mut original = spec.build();
            observe_all(&mut original, before);
            let mut restored = through_bytes(&original)
                .restore()
                .map_err(|e| TestCaseError::fail(format!("{name}: restore failed: {e}")))?;
            prop_assert_eq!(
                restored.snapshot(),
                original.snapshot(),
                "{}: restored state re-encodes differently",
                &name
            );
            prop_assert_eq!(restored.state_bytes(), original.state_bytes());
            let expected = observe_all(&mut original, after);
            let got = observe_all(&mut restored, after);
            assert_same_verdicts(&name, &expected, &got)?;
        }
    }

    #[test]
    fn finite_input_gives_finite_scores_in_unit_interval(series in series()) {
        let finite: Series = series.into_iter().filter(|(_, v)| v.is_finite()).collect();
        for (name, spec) in specs() {
            let mut detector = spec.build();
            for (i, verdict) in observe_all(&mut detector, &finite).iter().enumerate() {
                assert_score_in_unit_interval(&name, i, verdict)?;
                if let Verdict::Anomalous { expected, .. } = verdict {
                    prop_assert!(
                        expected.lower.is_finite() && expected.upper.is_finite()
                            && expected.lower <= expected.upper,
                        "{}: point {} has a bad band {:?}", &name, i, expected
                    );
                }
            }
        }
    }

    #[test]
    fn non_finite_values_are_skipped_and_never_poison_later_scores(series in series()) {
        for (name, spec) in specs() {
            let mut detector = spec.build();
            for (i, &(at, value)) in series.iter().enumerate() {
                let before = (!value.is_finite()).then(|| detector.snapshot());
                let verdict = detector.observe(at, value);
                assert_score_in_unit_interval(&name, i, &verdict)?;
                if let Some(before) = before {
                    // Skipped: nothing learned, not even the timestamp.
                    prop_assert_eq!(verdict, Verdict::WarmingUp, "{}: point {} ({})", &name, i, value);
                    prop_assert!(detector.snapshot() == before, "{}: learned from {} at point {}", &name, value, i);
                }
            }
        }
    }

    #[test]
    fn same_input_gives_same_verdicts(series in series()) {
        for (name, spec) in specs() {
            let first = observe_all(&mut spec.build(), &series);
            let second = observe_all(&mut spec.build(), &series);
            assert_same_verdicts(&name, &first, &second)?;
        }
    }

    #[test]
    fn snapshot_with_another_version_is_rejected(series in series(), version in any::<u16>()) {
        // 2 is the current format; 1 is migrated.
        prop_assume!(version != 1 && version != 2);
        for (name, spec) in specs() {
            let mut bytes = valid_snapshot(&spec, &series);
            bytes[2..4].copy_from_slice(&version.to_le_bytes());
            match Snapshot::from_bytes(bytes).restore() {
                Err(SnapshotError::UnsupportedVersion { found, supported: 2 }) => {
                    prop_assert_eq!(found, version);
                }
                other => prop_assert!(false, "{}: version {} gave {:?}", &name, version, other),
            }
        }
    }

    #[test]
    fn bytes_without_the_magic_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assume!(bytes.len() < 2 || bytes[..2] != *b"FD");
        let result = Snapshot::from_bytes(bytes).restore();
        prop_assert!(matches!(result, Err(SnapshotError::BadMagic)), "{:?}", result);
    }

    #[test]
    fn garbage_body_never_panics_restore(body in prop::collection::vec(any::<u8>(), 0..256)) {
        // A correct checksum over garbage gets past the integrity check, so this exercises
        // decoding and the invariant checks: whatever restores must keep the contract.
        let mut bytes = b"FD\x01\x00".to_vec();
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(mut restored) = Snapshot::from_bytes(bytes).restore() {
            let points: Vec<(EventTime, f64)> =
                (0..50).map(|i| (EventTime::from_millis(i * 60_000), (i % 7) as f64)).collect();
            for (i, verdict) in observe_all(&mut restored, &points).iter().enumerate() {
                assert_score_in_unit_interval("garbage", i, verdict)?;
            }
        }
    }

    #[test]
    fn truncated_snapshot_is_rejected(series in series(), cut in any::<Index>()) {
        for (name, spec) in specs() {
            let bytes = valid_snapshot(&spec, &series);
            let len = cut.index(bytes.len());
            let result = Snapshot::from_bytes(bytes[..len].to_vec()).restore();
            let expected_kind = if len < 8 { "BadMagic" } else { "Checksum" };
            let ok = match &result {
                Err(SnapshotError::BadMagic) => len < 8,
                Err(SnapshotError::Checksum) => len >= 8,
                _ => false,
            };
            prop_assert!(ok, "{}: cut at {} of {} gave {:?}, expected {}", &name, len, bytes.len(), result, expected_kind);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Corruption: the checksum, the trailing-bytes check and the invariant checks
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Postcard has no checksum, so a flipped bit usually still decodes; the restored state
    /// must then be rejected or still keep the detector contract.
    #[test]
    fn corrupted_snapshot_is_rejected_or_restores_a_working_detector(
        series in series(),
        position in any::<Index>(),
        bit in 0u8..8,
    ) {
        for (name, spec) in specs() {
            let mut bytes = valid_snapshot(&spec, &series);
            let at = 8 + position.index(bytes.len() - 8);
            bytes[at] ^= 1 << bit;
            if let Ok(mut restored) = Snapshot::from_bytes(bytes).restore() {
                for (i, verdict) in observe_all(&mut restored, &series).iter().enumerate() {
                    assert_score_in_unit_interval(&name, i, verdict)?;
                }
            }
        }
    }
}

#[test]
fn snapshot_with_trailing_bytes_is_rejected() {
    for (name, spec) in specs() {
        let points = [(EventTime::from_millis(0), 1.0)];
        let mut bytes = valid_snapshot(&spec, &points);
        bytes.push(0);
        let result = Snapshot::from_bytes(bytes).restore();
        assert!(
            matches!(result, Err(SnapshotError::Checksum)),
            "{name}: {result:?}"
        );
    }
}
