//! A snapshot written by format 1 (before the ensemble's warm-up) still restores, and the
//! restored ensemble continues exactly as the build that wrote it did.
//!
//! `fixtures/ensemble_v1.snapshot` is the default ensemble of format 1 after 3,000 points of
//! the series below; `fixtures/ensemble_v1.verdicts` is what that build said about the next
//! 200 (a spike at 3,100), one `Debug` line each.

use faultline_detectors::{Detector, EventTime, Snapshot};

/// The series the fixture was written from: xorshift noise on 30, one point a minute.
fn series() -> impl FnMut() -> f64 {
    let mut s = 7u64;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        30.0 + (s % 1000) as f64 / 100.0
    }
}

#[test]
fn format_1_ensemble_restores_and_continues_as_before() {
    let bytes = include_bytes!("fixtures/ensemble_v1.snapshot").to_vec();
    assert_eq!(&bytes[2..4], &1u16.to_le_bytes(), "the fixture is format 1");
    let mut d = Snapshot::from_bytes(bytes)
        .restore()
        .expect("format 1 restores");
    let mut value = series();
    for _ in 0..3000 {
        value();
    }
    let got: String = (3000..3200i64)
        .map(|i| {
            let x = if i == 3100 { 80.0 } else { value() };
            format!("{:?}\n", d.observe(EventTime::from_millis(i * 60_000), x))
        })
        .collect();
    assert_eq!(got, include_str!("fixtures/ensemble_v1.verdicts"));
    assert_eq!(&d.snapshot().as_bytes()[2..4], &2u16.to_le_bytes());
}
