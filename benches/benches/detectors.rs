//! Cost of one `observe` for each detector, on a warmed-up detector fed a realistic series,
//! and the memory each holds per series.
//!
//! Per-point cost and per-series bytes are what size a deployment: the engine keeps one
//! detector per series and feeds it every point. The detector is warmed on one full lap of
//! the series before timing and then keeps observing across iterations (event time keeps
//! advancing, see [`Replay`]), so the numbers are steady-state, not warm-up.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultline_benches::{Replay, metric_series};
use faultline_detectors::{
    ChangePoint, ChangePointParams, Detector, DetectorSpec, Ensemble, EnsembleParams, EventTime,
    Ewma, EwmaParams, RobustZ, RobustZParams, Seasonal, SeasonalParams, Verdict,
};

/// 100k minutes ≈ 69 days: several weeks, so the seasonal profiles are warm too.
const POINTS: usize = 100_000;
const SEED: u64 = 0x5EED_FA17;
/// The RobustZ window benchmarked, in points.
const ROBUST_Z_WINDOW: u32 = 256;

fn series() -> Vec<(EventTime, f64)> {
    metric_series(POINTS, SEED)
}

/// Every benchmarked detector, by the type path its group is named after.
fn specs() -> [(&'static str, DetectorSpec); 5] {
    [
        (
            "faultline_detectors::Ewma",
            DetectorSpec::Ewma(EwmaParams::default()),
        ),
        (
            "faultline_detectors::RobustZ",
            DetectorSpec::RobustZ(RobustZParams {
                window: ROBUST_Z_WINDOW,
                ..RobustZParams::default()
            }),
        ),
        (
            "faultline_detectors::Seasonal",
            DetectorSpec::Seasonal(SeasonalParams::default()),
        ),
        (
            "faultline_detectors::ChangePoint",
            DetectorSpec::ChangePoint(ChangePointParams::default()),
        ),
        (
            "faultline_detectors::Ensemble",
            DetectorSpec::Ensemble(EnsembleParams::default()),
        ),
    ]
}

/// Prints, once, the bytes each detector holds per series after a full lap of warm-up: the
/// in-memory bound (`state_bytes`) and the checkpoint size (snapshot length).
fn report_state_bytes(_: &mut Criterion) {
    let series = series();
    println!("bytes per series after {POINTS} points:");
    println!(
        "{:<34} {:>12} {:>15}",
        "detector", "state_bytes", "snapshot_bytes"
    );
    for (name, spec) in specs() {
        let mut detector = spec.build();
        for &(at, value) in &series {
            detector.observe(at, value);
        }
        let snapshot = detector.snapshot().as_bytes().len();
        println!("{name:<34} {:>12} {snapshot:>15}", detector.state_bytes());
    }
    println!();
}

/// Times one `observe` of `detector`, warmed on one lap of the series first.
fn bench_observe<D>(
    c: &mut Criterion,
    type_path: &str,
    mut detector: D,
    observe: impl Fn(&mut D, EventTime, f64) -> Verdict,
) {
    let series = series();
    let mut replay = Replay::new(&series);
    for _ in 0..POINTS {
        let (at, value) = replay.next_point();
        observe(&mut detector, at, value);
    }
    let mut group = c.benchmark_group(type_path);
    group.throughput(Throughput::Elements(1));
    group.bench_function("observe", |b| {
        b.iter(|| {
            let (at, value) = replay.next_point();
            black_box(observe(&mut detector, black_box(at), black_box(value)))
        });
    });
    group.finish();
}

fn ewma(c: &mut Criterion) {
    let detector = Ewma::new(EwmaParams::default());
    bench_observe(c, "faultline_detectors::Ewma", detector, Ewma::observe);
}

fn robust_z(c: &mut Criterion) {
    let detector = RobustZ::new(RobustZParams {
        window: ROBUST_Z_WINDOW,
        ..RobustZParams::default()
    });
    bench_observe(
        c,
        "faultline_detectors::RobustZ",
        detector,
        RobustZ::observe,
    );
}

fn seasonal(c: &mut Criterion) {
    let detector = Seasonal::new(SeasonalParams::default());
    bench_observe(
        c,
        "faultline_detectors::Seasonal",
        detector,
        Seasonal::observe,
    );
}

fn change_point(c: &mut Criterion) {
    let detector = ChangePoint::new(ChangePointParams::default());
    bench_observe(
        c,
        "faultline_detectors::ChangePoint",
        detector,
        ChangePoint::observe,
    );
}

fn ensemble(c: &mut Criterion) {
    let detector = Ensemble::new(EnsembleParams::default());
    bench_observe(
        c,
        "faultline_detectors::Ensemble",
        detector,
        Ensemble::observe,
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = detectors;
    config = config();
    targets = report_state_bytes, ewma, robust_z, seasonal, change_point, ensemble
}
criterion_main!(detectors);
