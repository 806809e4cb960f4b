//! The default ensemble: base detectors, each calibrated per series, combined into one
//! anomaly likelihood.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::calibrate::Calibrator;
use crate::change_point::{ChangePoint, ChangePointParams};
use crate::common::Deviation;
use crate::ewma::{Ewma, EwmaParams};
use crate::robust_z::{RobustZ, RobustZParams};
use crate::seasonal::{Seasonal, SeasonalParams};
use crate::signal::{Band, Direction, EventTime, Verdict};

/// Parameters of the [`Ensemble`]. A member set to `null` is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        }
    }
}

/// Weight of each point in the sustained-surprise average (~10-point memory).
const SUSTAIN_RATE: f64 = 0.1;
/// Point surprise is capped before averaging so one extreme point is not a "run".
const SUSTAIN_CAP: f64 = 3.0;

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

    /// Surprise of the member's deviation against its history, then learns it.
    fn judge(
        &mut self,
        step: impl FnOnce(&mut D) -> Option<Deviation>,
    ) -> Option<(f64, Deviation)> {
        let dev = step(&mut self.detector)?;
        let surprise = self.calibrator.surprise(dev.z);
        self.calibrator.learn(dev.z);
        Some((surprise, dev))
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
/// Memory: the members' plus ~150 bytes of calibration each (~2.3 KiB with the defaults).
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
            params,
        }
    }

    /// Observes one point; see [`crate::Detector::observe`].
    pub fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        if !value.is_finite() {
            return Verdict::WarmingUp;
        }
        // The most surprising member speaks for the ensemble.
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
        for m in &mut self.ewma {
            consider(m.judge(|d| d.step(at, value)));
        }
        if let Some(m) = &mut self.robust_z {
            consider(m.judge(|d| d.step(at, value)));
        }
        if let Some(m) = &mut self.seasonal {
            // Without a period in use the seasonal member is a second level model; its
            // voice would only repeat the EWMA's with more noise.
            let seasonal = m.detector.is_seasonal();
            let judged = m.judge(|d| d.step(at, value));
            if seasonal {
                consider(judged);
            }
        }
        if let Some(m) = &mut self.change_point {
            consider(m.judge(|d| d.step(at, value)));
        }
        let Some((surprise, dev)) = best else {
            return Verdict::WarmingUp;
        };
        let point = (surprise - (members as f64).log10()).max(0.0);
        // A run of mildly surprising points is news even when no single point is: calibrate
        // a short average of the (capped) point surprise against its own history too.
        self.sustained += SUSTAIN_RATE * (point.min(SUSTAIN_CAP) - self.sustained);
        let sustained = self.sustain_calibrator.surprise(self.sustained);
        self.sustain_calibrator.learn(self.sustained);
        let surprise = (point.max(sustained) - 2f64.log10()).max(0.0);
        let raw = surprise / (surprise + self.params.surprise_scale);
        // Only a new high within the refractory horizon is reported: whatever threshold is
        // applied downstream, an episode crosses it once, at its first crossing.
        let score = if raw > self.recent_peak { raw } else { 0.0 };
        self.recent_peak = (self.recent_peak * self.peak_decay).max(raw);
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
