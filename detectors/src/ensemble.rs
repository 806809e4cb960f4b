//! The default ensemble: base detectors, each calibrated per series, combined into one
//! anomaly likelihood.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::calibrate::{Calibrator, Query};
use crate::change_point::{ChangePoint, ChangePointParams};
use crate::common::Deviation;
use crate::ewma::{Ewma, EwmaParams};
use crate::robust_z::{RobustZ, RobustZParams};
use crate::seasonal::{Seasonal, SeasonalParams};
use crate::signal::{Band, Direction, EventTime, Verdict};

pub(crate) mod v1;

/// Parameters of the [`Ensemble`]. A member set to `null` is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct EnsembleParams {
    /// Mean/variance baselines, one member per timescale: a fast one catches spikes and
    /// shifts against the recent past, a slow one (weeks) catches values the series has
    /// not shown in a long time.
    pub ewma: Vec<EwmaParams>,
    /// Median/MAD over a window: catches outliers in heavy-tailed series.
    pub robust_z: Option<RobustZParams>,
    /// Level + daily/weekly profile: catches breaks of the usual rhythm. It votes only while
    /// one of its periods predicts better than its plain level.
    pub seasonal: Option<SeasonalParams>,
    /// CUSUM: catches level shifts too gradual for the others.
    pub change_point: Option<ChangePointParams>,
    /// Half-life of each member's calibration history. Unit: points. Default 5000; bounds
    /// `100 ..= 1000000`.
    pub calibration_half_life: u32,
    /// Surprise (−log10 of the tail probability, after correcting for the number of members)
    /// that maps to a score of 0.5. Default 4 (one in ten thousand); bounds `0.5 ..= 50`.
    pub surprise_scale: f64,
    /// Score at or above which a point is anomalous. Default 0.5; bounds `0 ..= 1`.
    pub threshold: f64,
    /// Points after an anomalous point during which further scores are suppressed, so one
    /// episode alerts once. Unit: points. Default 50; bounds `0 ..= 100000`.
    pub refractory: u32,
    /// Points at the start of a series during which the ensemble learns but never reports:
    /// every verdict is `WarmingUp` while the members and their calibrators fill in. A
    /// calibrator that has seen a few dozen |z| cannot tell ordinary noise from a rare
    /// deviation, so without a warm-up a brand-new series pages on noise. Counts finite
    /// points. Unit: points (the default is 33 minutes at 10 s sampling, 3 h 20 m at 60 s).
    /// Default 200; bounds `0 ..= 100000`.
    pub warmup: u32,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        Self {
            ewma: vec![
                EwmaParams {
                    half_life: Duration::from_secs(2 * 3600),
                    ..EwmaParams::default()
                },
                EwmaParams {
                    half_life: Duration::from_secs(28 * 86_400),
                    ..EwmaParams::default()
                },
            ],
            robust_z: None,
            // Daily only: weekly phases would double the state for no gain on NAB.
            seasonal: Some(SeasonalParams {
                periods: vec![Duration::from_secs(86_400)],
                ..SeasonalParams::default()
            }),
            change_point: Some(ChangePointParams::default()),
            calibration_half_life: 5000,
            surprise_scale: 4.0,
            threshold: 0.5,
            refractory: 50,
            warmup: DEFAULT_WARMUP,
        }
    }
}

/// See [`EnsembleParams::warmup`].
const DEFAULT_WARMUP: u32 = 200;

/// Weight of each point in the sustained-surprise average (~10-point memory).
const SUSTAIN_RATE: f64 = 0.1;
/// Point surprise is capped before averaging so one extreme point is not a "run".
const SUSTAIN_CAP: f64 = 3.0;
/// The Bonferroni correction between the point and sustained stages.
const LOG10_2: f64 = std::f64::consts::LOG10_2;

/// One base detector with its own calibration history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member<D> {
    detector: D,
    calibrator: Calibrator,
}

impl<D> Member<D> {
    fn new(detector: D, half_life: u32) -> Self {
        Self {
            detector,
            calibrator: Calibrator::new(half_life),
        }
    }

    /// The member's invariants: its detector's (`detector_check`) and its calibrator's.
    fn check(
        &self,
        detector_check: fn(&D) -> Result<(), &'static str>,
    ) -> Result<(), &'static str> {
        detector_check(&self.detector)?;
        self.calibrator.check()
    }
}

/// A member's judgement of the current point whose calibrator has not learned it yet, so that
/// its exact surprise can still be asked for, and only when it matters.
#[derive(Debug)]
struct Judged<'a> {
    calibrator: &'a mut Calibrator,
    query: Query,
    dev: Deviation,
    /// The exact surprise, once computed.
    surprise: Option<f64>,
}

impl<'a> Judged<'a> {
    fn new(calibrator: &'a mut Calibrator, dev: Deviation) -> Self {
        let query = calibrator.query(dev.z);
        Self {
            query,
            calibrator,
            dev,
            surprise: None,
        }
    }

    fn surprise(&mut self) -> f64 {
        *self
            .surprise
            .get_or_insert_with(|| self.calibrator.surprise(self.query.z()))
    }

    /// Whether this judgement is strictly more surprising than `other`, from the bounds when
    /// they are conclusive.
    fn beats(&mut self, other: &mut Judged<'_>) -> bool {
        if self.query.surely_less_surprising_than(&other.query) {
            false
        } else if other.query.surely_less_surprising_than(&self.query) {
            true
        } else {
            self.surprise() > other.surprise()
        }
    }

    /// Lets the calibrator learn the point; the exact surprise is gone after this.
    fn learn(self) {
        self.calibrator.learn_query(&self.query);
    }
}

/// The members' votes on one point: the most surprising judgement so far (the earliest on a
/// tie), held unlearned, and how many members voted.
#[derive(Debug, Default)]
struct Votes<'a> {
    best: Option<Judged<'a>>,
    members: usize,
}

impl<'a> Votes<'a> {
    /// Counts a member's deviation, if it has one, keeping the most surprising; every other
    /// calibrator learns at once.
    #[inline]
    fn consider(&mut self, calibrator: &'a mut Calibrator, dev: Option<Deviation>) {
        let Some(dev) = dev else {
            return;
        };
        self.members += 1;
        let mut judged = Judged::new(calibrator, dev);
        let wins = self.best.as_mut().is_none_or(|b| judged.beats(b));
        let loser = if wins {
            self.best.replace(judged)
        } else {
            Some(judged)
        };
        if let Some(loser) = loser {
            loser.learn();
        }
    }
}

/// Calibrated ensemble of the base detectors.
///
/// Every member's |z| is turned into a tail probability against that member's own history on
/// this series ([`Calibrator`]), so the members speak one currency and one threshold serves
/// every series. The ensemble takes the most surprising member (a Bonferroni correction for
/// the number of members keeps the false-alarm rate from growing with them), maps the
/// surprise `s` to a score `s / (s + surprise_scale)` in `[0, 1)`, and suppresses scores for
/// `refractory` points after an anomalous one, because one episode should page once.
///
/// Memory: the members' plus ~160 bytes of calibration each (~2.5 KiB with the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    params: EnsembleParams,
    ewma: Vec<Member<Ewma>>,
    robust_z: Option<Member<RobustZ>>,
    seasonal: Option<Member<Seasonal>>,
    change_point: Option<Member<ChangePoint>>,
    /// Short exponential average of the point surprise.
    sustained: f64,
    /// History of `sustained`, to calibrate it.
    sustain_calibrator: Calibrator,
    /// Highest recent raw score, decaying with a half-life of `refractory` points.
    recent_peak: f64,
    /// Per-point decay of `recent_peak`.
    peak_decay: f64,
    /// Finite points observed, saturating: the ensemble reports nothing until it passes
    /// `params.warmup`.
    seen: u32,
}

impl Ensemble {
    /// An ensemble with no history.
    pub fn new(params: EnsembleParams) -> Self {
        let hl = params.calibration_half_life;
        Self {
            ewma: params
                .ewma
                .iter()
                .map(|p| Member::new(Ewma::new(p.clone()), hl))
                .collect(),
            robust_z: params
                .robust_z
                .clone()
                .map(|p| Member::new(RobustZ::new(p), hl)),
            seasonal: params
                .seasonal
                .clone()
                .map(|p| Member::new(Seasonal::new(p), hl)),
            change_point: params
                .change_point
                .clone()
                .map(|p| Member::new(ChangePoint::new(p), hl)),
            sustained: 0.0,
            sustain_calibrator: Calibrator::new(hl),
            recent_peak: 0.0,
            peak_decay: 0.5f64.powf(1.0 / f64::from(params.refractory.max(1))),
            seen: 0,
            params,
        }
    }

    /// Observes one point; see [`crate::Detector::observe`].
    pub fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        if !value.is_finite() {
            return Verdict::WarmingUp;
        }
        self.seen = self.seen.saturating_add(1);
        // The most surprising member speaks for the ensemble. Most members' exact surprise
        // is never needed: cheap bounds show they cannot be the most surprising, so each is
        // held (unlearned) only while it is the best so far.
        let mut votes = Votes::default();
        for m in &mut self.ewma {
            votes.consider(&mut m.calibrator, m.detector.step(at, value));
        }
        if let Some(m) = &mut self.robust_z {
            votes.consider(&mut m.calibrator, m.detector.step(at, value));
        }
        if let Some(m) = &mut self.seasonal {
            // Without a period in use the seasonal member is a second level model; its
            // voice would only repeat the EWMA's with more noise. It still calibrates.
            match m.detector.judge(at, value) {
                Some((dev, true)) => votes.consider(&mut m.calibrator, Some(dev)),
                Some((dev, false)) => m.calibrator.learn(dev.z),
                None => {}
            }
        }
        if let Some(m) = &mut self.change_point {
            votes.consider(&mut m.calibrator, m.detector.step(at, value));
        }
        let Votes { best, members } = votes;
        let Some(mut best) = best else {
            return Verdict::WarmingUp;
        };
        let members = members as f64;
        // Bonferroni: the best of `members` tail probabilities, corrected. When its bounds
        // put it surely below the correction, the point surprise is 0 without computing it.
        let point = if best.query.surely_below(1.0 / members) {
            0.0
        } else {
            (best.surprise() - members.log10()).max(0.0)
        };
        let dev = best.dev;
        // An upper bound on `point` as a likelihood, from the best member's bounds.
        let point_likelihood = (point > 0.0).then(|| best.query.likelihood_bound() * members);
        best.learn();
        // A run of mildly surprising points is news even when no single point is: calibrate
        // a short average of the (capped) point surprise against its own history too.
        self.sustained += SUSTAIN_RATE * (point.min(SUSTAIN_CAP) - self.sustained);
        let query = self.sustain_calibrator.query(self.sustained);
        let combined = if self.sustained_is_moot(&query, point_likelihood) {
            point
        } else {
            point.max(self.sustain_calibrator.surprise(query.z()))
        };
        self.sustain_calibrator.learn_query(&query);
        let surprise = (combined - LOG10_2).max(0.0);
        let raw = surprise / (surprise + self.params.surprise_scale);
        // Only a new high within the refractory horizon is reported: whatever threshold is
        // applied downstream, an episode crosses it once, at its first crossing.
        let score = if raw > self.recent_peak { raw } else { 0.0 };
        self.recent_peak = (self.recent_peak * self.peak_decay).max(raw);
        // Everything above has learned the point; while warming up, nothing is reported.
        // (The refractory peak learns too, so a noisy warm-up's highs still damp the first
        // points after it.)
        if self.seen <= self.params.warmup {
            return Verdict::WarmingUp;
        }
        if score < self.params.threshold {
            return Verdict::Normal { score };
        }
        Verdict::Anomalous {
            score,
            expected: Band {
                lower: dev.center - 3.0 * dev.scale,
                upper: dev.center + 3.0 * dev.scale,
            },
            direction: if dev.z > 0.0 {
                Direction::Up
            } else {
                Direction::Down
            },
        }
    }

    /// Whether the verdict is surely the same with `point` standing in for
    /// `point.max(sustained surprise)`, judged from the bounds in `query`; then the exact
    /// sustained surprise is not needed. `point_likelihood` bounds `10^(−point)` from above
    /// (`None` for a point surprise of 0).
    fn sustained_is_moot(&self, query: &Query, point_likelihood: Option<f64>) -> bool {
        // Below max(point, log10 2), either `point` wins the max or both are below the
        // correction and the surprise is 0 either way.
        let floor = point_likelihood.map_or(0.5, |l| l.min(0.5));
        if query.surely_below(floor) {
            return true;
        }
        // Below the surprise whose score would reach the decayed recent peak, the score is 0
        // and the peak merely decays, whichever stage wins. Aiming a millionth below the
        // peak keeps the score's rounding out of it.
        let peak = self.recent_peak * self.peak_decay;
        let scale = self.params.surprise_scale;
        if peak > 0.0 && scale > 0.0 {
            let below = peak * (1.0 - 1e-6);
            let needed = LOG10_2 + scale * below / (1.0 - below);
            // (Past 10^-300 the likelihood would leave f64's normal range.)
            if needed < 300.0 {
                return query.surely_below((-needed * std::f64::consts::LN_10).exp());
            }
        }
        false
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        for m in &self.ewma {
            m.check(Ewma::check)?;
        }
        self.robust_z
            .as_ref()
            .map_or(Ok(()), |m| m.check(RobustZ::check))?;
        self.seasonal
            .as_ref()
            .map_or(Ok(()), |m| m.check(Seasonal::check))?;
        self.change_point
            .as_ref()
            .map_or(Ok(()), |m| m.check(ChangePoint::check))?;
        self.sustain_calibrator.check()?;
        crate::common::positive(
            self.params.surprise_scale,
            "surprise_scale must be positive",
        )
    }

    /// Bytes of state held for this series.
    pub fn state_bytes(&self) -> usize {
        let cal = std::mem::size_of::<Calibrator>();
        std::mem::size_of::<Self>()
            + self.ewma.len() * std::mem::size_of::<Member<Ewma>>()
            + self
                .robust_z
                .as_ref()
                .map_or(0, |m| m.detector.state_bytes())
            + self
                .seasonal
                .as_ref()
                .map_or(0, |m| m.detector.state_bytes())
            + cal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ensemble::observe` as it was before the bounds: every member's exact surprise, every
    /// point. The pruning must give the same verdicts bit for bit.
    fn reference_observe(e: &mut Ensemble, at: EventTime, value: f64) -> Verdict {
        fn judge<D>(
            m: &mut Member<D>,
            step: impl FnOnce(&mut D) -> Option<Deviation>,
        ) -> Option<(f64, Deviation)> {
            let dev = step(&mut m.detector)?;
            let surprise = m.calibrator.surprise(dev.z);
            m.calibrator.learn(dev.z);
            Some((surprise, dev))
        }
        if !value.is_finite() {
            return Verdict::WarmingUp;
        }
        e.seen = e.seen.saturating_add(1);
        let mut best: Option<(f64, Deviation)> = None;
        let mut members = 0usize;
        let mut consider = |judged: Option<(f64, Deviation)>| {
            if let Some(j) = judged {
                members += 1;
                if best.is_none_or(|b| j.0 > b.0) {
                    best = Some(j);
                }
            }
        };
        for m in &mut e.ewma {
            consider(judge(m, |d| d.step(at, value)));
        }
        if let Some(m) = &mut e.robust_z {
            consider(judge(m, |d| d.step(at, value)));
        }
        if let Some(m) = &mut e.seasonal {
            let seasonal = m.detector.is_seasonal();
            let judged = judge(m, |d| d.step(at, value));
            if seasonal {
                consider(judged);
            }
        }
        if let Some(m) = &mut e.change_point {
            consider(judge(m, |d| d.step(at, value)));
        }
        let Some((surprise, dev)) = best else {
            return Verdict::WarmingUp;
        };
        let point = (surprise - (members as f64).log10()).max(0.0);
        e.sustained += SUSTAIN_RATE * (point.min(SUSTAIN_CAP) - e.sustained);
        let sustained = e.sustain_calibrator.surprise(e.sustained);
        e.sustain_calibrator.learn(e.sustained);
        let surprise = (point.max(sustained) - 2f64.log10()).max(0.0);
        let raw = surprise / (surprise + e.params.surprise_scale);
        let score = if raw > e.recent_peak { raw } else { 0.0 };
        e.recent_peak = (e.recent_peak * e.peak_decay).max(raw);
        if e.seen <= e.params.warmup {
            return Verdict::WarmingUp;
        }
        if score < e.params.threshold {
            return Verdict::Normal { score };
        }
        Verdict::Anomalous {
            score,
            expected: Band {
                lower: dev.center - 3.0 * dev.scale,
                upper: dev.center + 3.0 * dev.scale,
            },
            direction: if dev.z > 0.0 {
                Direction::Up
            } else {
                Direction::Down
            },
        }
    }

    /// A daily rhythm with noise, spikes and level shifts, and, when `hostile`, duplicate,
    /// backwards and gapped timestamps, non-finite values, constant runs and wild magnitudes.
    fn series(seed: u64, points: usize, hostile: bool) -> Vec<(EventTime, f64)> {
        let mut state = seed;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut t, mut level) = (0i64, 100.0);
        (0..points)
            .map(|i| {
                let step = uniform();
                t += match step {
                    s if hostile && s < 0.03 => -((uniform() * 600_000.0) as i64),
                    s if hostile && s < 0.06 => 0,
                    s if hostile && s < 0.07 => (uniform() * 3.0 * 86_400_000.0) as i64,
                    _ => 60_000,
                };
                if uniform() < 0.002 {
                    level += (uniform() - 0.5) * 200.0;
                }
                let daily = 20.0 * (std::f64::consts::TAU * i as f64 / 1440.0).sin();
                let mut value = level + daily + 2.0 * (uniform() + uniform() + uniform() - 1.5);
                if uniform() < 0.003 {
                    value += (uniform() - 0.5) * 500.0;
                }
                if hostile {
                    value = match uniform() {
                        u if u < 0.01 => f64::NAN,
                        u if u < 0.015 => f64::INFINITY,
                        u if u < 0.05 => 3.0,
                        u if u < 0.055 => 1e12 * (uniform() - 0.5),
                        _ => value,
                    };
                }
                (EventTime::from_millis(t), value)
            })
            .collect()
    }

    #[test]
    fn bounds_give_the_verdicts_of_exact_surprises() {
        let every_member = EnsembleParams {
            robust_z: Some(RobustZParams {
                window: 32,
                ..RobustZParams::default()
            }),
            ..EnsembleParams::default()
        };
        let short_memory = EnsembleParams {
            seasonal: Some(SeasonalParams {
                periods: vec![Duration::from_secs(3600)],
                bin: Duration::from_secs(60),
                warmup: 4,
                ..SeasonalParams::default()
            }),
            calibration_half_life: 100,
            refractory: 0,
            threshold: 0.0,
            ..EnsembleParams::default()
        };
        let lone = EnsembleParams {
            ewma: vec![],
            seasonal: None,
            surprise_scale: 50.0,
            ..EnsembleParams::default()
        };
        let configs = [EnsembleParams::default(), every_member, short_memory, lone];
        for (k, params) in configs.into_iter().enumerate() {
            for (seed, hostile) in [(1, false), (2, true)] {
                let mut fast = Ensemble::new(params.clone());
                let mut reference = fast.clone();
                for (i, (at, value)) in series(seed, 12_000, hostile).into_iter().enumerate() {
                    let got = fast.observe(at, value);
                    let want = reference_observe(&mut reference, at, value);
                    // Debug prints floats exactly (round trip) and tells -0.0 from 0.0.
                    assert_eq!(
                        format!("{got:?}"),
                        format!("{want:?}"),
                        "config {k}, point {i}"
                    );
                }
                assert_eq!(fast, reference, "config {k}: states diverged");
            }
        }
    }
}
