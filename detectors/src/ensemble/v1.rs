//! Snapshot format 1's ensemble: no warm-up. Kept only to migrate old snapshots.

use serde::Deserialize;

use super::{
    Calibrator, ChangePoint, ChangePointParams, Ewma, EwmaParams, Member, RobustZ, RobustZParams,
    Seasonal, SeasonalParams,
};

/// [`super::EnsembleParams`] without `warmup`, field for field.
#[derive(Deserialize)]
struct Params {
    ewma: Vec<EwmaParams>,
    robust_z: Option<RobustZParams>,
    seasonal: Option<SeasonalParams>,
    change_point: Option<ChangePointParams>,
    calibration_half_life: u32,
    surprise_scale: f64,
    threshold: f64,
    refractory: u32,
}

/// [`super::Ensemble`] without `seen`, field for field.
#[derive(Deserialize)]
pub(crate) struct Ensemble {
    params: Params,
    ewma: Vec<Member<Ewma>>,
    robust_z: Option<Member<RobustZ>>,
    seasonal: Option<Member<Seasonal>>,
    change_point: Option<Member<ChangePoint>>,
    sustained: f64,
    sustain_calibrator: Calibrator,
    recent_peak: f64,
    peak_decay: f64,
}

impl From<Ensemble> for super::Ensemble {
    /// A format-1 ensemble was running before warm-ups existed: it keeps running with
    /// none (`warmup` 0), exactly as it would have.
    fn from(old: Ensemble) -> Self {
        let p = old.params;
        Self {
            params: super::EnsembleParams {
                ewma: p.ewma,
                robust_z: p.robust_z,
                seasonal: p.seasonal,
                change_point: p.change_point,
                calibration_half_life: p.calibration_half_life,
                surprise_scale: p.surprise_scale,
                threshold: p.threshold,
                refractory: p.refractory,
                warmup: 0,
            },
            ewma: old.ewma,
            robust_z: old.robust_z,
            seasonal: old.seasonal,
            change_point: old.change_point,
            sustained: old.sustained,
            sustain_calibrator: old.sustain_calibrator,
            recent_peak: old.recent_peak,
            peak_decay: old.peak_decay,
            seen: 0,
        }
    }
}
