//! A brand-new series must not page before its baseline means something: the default
//! ensemble stays silent through its warm-up on pure noise, keeps a measured false-alarm rate
//! after it, and still flags a real spike right after it.

use faultline_detectors::{Detector, DetectorSpec, EnsembleParams, EventTime, Verdict};

/// The default warm-up, in points.
const WARMUP: usize = 200;
/// Points per series: the warm-up and 1,800 judged points.
const POINTS: usize = 2000;
/// Seeds per noise shape.
const SEEDS: u64 = 40;
/// Scrape interval: 10 s.
const STEP_MS: i64 = 10_000;

/// splitmix64, with Box–Muller normals: no dependency, same numbers everywhere.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

#[derive(Debug, Clone, Copy)]
enum Noise {
    /// N(30, 1).
    Gaussian,
    /// 30 + Student t with 3 degrees of freedom: heavy tails, finite variance.
    HeavyTailed,
    /// Poisson(5) counts: integers, skewed, with many ties.
    Counts,
}

impl Noise {
    fn sample(self, r: &mut Rng) -> f64 {
        match self {
            Noise::Gaussian => 30.0 + r.normal(),
            Noise::HeavyTailed => {
                let chi2: f64 = (0..3).map(|_| r.normal().powi(2)).sum();
                30.0 + r.normal() / (chi2 / 3.0).sqrt()
            }
            Noise::Counts => {
                let limit = (-5.0f64).exp();
                let (mut k, mut p) = (0.0, r.unit());
                while p >= limit {
                    k += 1.0;
                    p *= r.unit();
                }
                k
            }
        }
    }
}

fn ensemble() -> faultline_detectors::AnyDetector {
    DetectorSpec::default_for("ensemble")
        .expect("the ensemble is in the catalogue")
        .build()
}

fn at(i: usize) -> EventTime {
    EventTime::from_millis(1_700_000_000_000 + i as i64 * STEP_MS)
}

/// Anomalies after the warm-up per 1,000 judged points, over every seed; panics on any verdict
/// but `WarmingUp` during the warm-up.
fn false_alarms_per_1000(noise: Noise) -> f64 {
    let mut alarms = 0usize;
    for seed in 0..SEEDS {
        let mut r = Rng(seed * 7919 + 1);
        let mut d = ensemble();
        for i in 0..POINTS {
            let v = d.observe(at(i), noise.sample(&mut r));
            if i < WARMUP {
                assert_eq!(v, Verdict::WarmingUp, "{noise:?} seed {seed} point {i}");
            } else if v.is_anomalous() {
                alarms += 1;
            }
        }
    }
    alarms as f64 * 1000.0 / (SEEDS as usize * (POINTS - WARMUP)) as f64
}

#[test]
fn default_warmup_is_the_documented_one() {
    assert_eq!(EnsembleParams::default().warmup as usize, WARMUP);
}

#[test]
fn new_gaussian_series_stay_silent_in_warmup_and_rarely_alarm_after() {
    let rate = false_alarms_per_1000(Noise::Gaussian);
    // Measured: 1.125 per 1,000 points over points 200..2000.
    assert!(rate <= 1.7, "{rate} false alarms per 1,000 points");
}

#[test]
fn new_heavy_tailed_series_stay_silent_in_warmup_and_rarely_alarm_after() {
    let rate = false_alarms_per_1000(Noise::HeavyTailed);
    // Measured: 1.444; about one alarm per 700 points, each series' refractory included.
    assert!(rate <= 2.2, "{rate} false alarms per 1,000 points");
}

#[test]
fn new_count_series_stay_silent_in_warmup_and_rarely_alarm_after() {
    let rate = false_alarms_per_1000(Noise::Counts);
    // Measured: 1.375.
    assert!(rate <= 2.1, "{rate} false alarms per 1,000 points");
}

#[test]
fn a_spike_right_after_the_warmup_is_flagged() {
    for seed in 0..SEEDS {
        let mut r = Rng(seed * 7919 + 1);
        let mut d = ensemble();
        for i in 0..WARMUP + 5 {
            d.observe(at(i), Noise::Gaussian.sample(&mut r));
        }
        // 10 σ up, the sixth judged point.
        let v = d.observe(at(WARMUP + 5), 40.0);
        assert!(v.is_anomalous(), "seed {seed}: {v:?}");
    }
}

#[test]
fn warmup_zero_judges_from_the_first_vote() {
    let mut d = DetectorSpec::Ensemble(EnsembleParams {
        warmup: 0,
        ..EnsembleParams::default()
    })
    .build();
    let mut r = Rng(3);
    let judged = (0..100)
        .map(|i| d.observe(at(i), Noise::Gaussian.sample(&mut r)))
        .filter(|v| *v != Verdict::WarmingUp)
        .count();
    assert!(judged > 50, "{judged}");
}
