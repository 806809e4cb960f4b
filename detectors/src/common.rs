//! Pieces every detector shares: event-time bookkeeping and the deviation → verdict mapping.

use serde::{Deserialize, Serialize};

use crate::signal::{Band, Direction, EventTime, Verdict};

/// Largest standardized deviation a detector reports; keeps scores finite on constant series.
pub(crate) const MAX_Z: f64 = 1e6;

/// Event-time bookkeeping for one series.
///
/// Turns each point's timestamp into an elapsed time that is always finite and non-negative:
/// a duplicate or out-of-order timestamp counts as one typical step (so the point still
/// teaches the model something without moving the clock backwards), and the typical step is a
/// running estimate of the series' own cadence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Clock {
    /// Latest event time seen (the clock never moves backwards).
    last: Option<EventTime>,
    /// Running estimate of the gap between points, in seconds; 0 until two points arrived.
    step_s: f64,
}

impl Clock {
    /// Records `at` and returns the seconds elapsed since the previous point (see type doc).
    pub(crate) fn advance(&mut self, at: EventTime) -> f64 {
        let Some(last) = self.last else {
            self.last = Some(at);
            return 0.0;
        };
        let gap = at.seconds_since(last);
        if gap > 0.0 {
            self.last = Some(at);
            // A slow running mean of the cadence; gaps of days (outages) are clipped so that
            // one outage does not redefine the series' rhythm.
            if self.step_s == 0.0 {
                self.step_s = gap;
            } else {
                self.step_s += 0.05 * (gap.min(self.step_s * 10.0) - self.step_s);
            }
            gap
        } else {
            self.step_s
        }
    }

    /// The typical gap between points in seconds (0 before the second point).
    pub(crate) fn step_seconds(&self) -> f64 {
        self.step_s
    }
}

/// `Ok` when `x` is finite and positive; used by the snapshot invariant checks.
pub(crate) fn positive(x: f64, what: &'static str) -> Result<(), &'static str> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(what)
    }
}

/// Weight of a new point in an exponentially weighted average with half-life `half_life_s`,
/// after `elapsed_s` seconds. Capped at one half so that one point after a long gap never
/// outweighs all the history (a gap is not evidence that the past was wrong).
pub(crate) fn ew_alpha(elapsed_s: f64, half_life_s: f64) -> f64 {
    // Written so that NaN inputs also take the early return.
    if elapsed_s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        || half_life_s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        return 0.0;
    }
    (1.0 - (-elapsed_s / half_life_s * std::f64::consts::LN_2).exp()).min(0.5)
}

/// `x.max(1.0 / n)` for `n > 0`, bit for bit, without the division when `x` is surely the
/// larger. Detectors floor their learning rates at `1/n` for the first points only, and the
/// division would otherwise sit on every point's dependency chain.
pub(crate) fn max_reciprocal(x: f64, n: f64) -> f64 {
    // x·n > 1 + 1e-9 (even after rounding) puts x above 1/n by more than its rounding.
    if x * n > 1.0 + 1e-9 {
        x
    } else {
        x.max(1.0 / n)
    }
}

/// Remembers the last [`ew_alpha`] of one half-life: most series arrive at a fixed cadence,
/// so the same elapsed time, and so the same exponential, comes back point after point.
///
/// Derived data, not state: detectors keep it out of their snapshots (`#[serde(skip)]`) and
/// any two memos compare equal. The default entry, `0 s → 0`, is right for any half-life.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AlphaMemo {
    /// Bits of the elapsed seconds last asked for (bits, so that NaN and `-0.0` miss).
    elapsed_bits: u64,
    alpha: f64,
}

impl PartialEq for AlphaMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl AlphaMemo {
    /// `ew_alpha(elapsed_s, half_life_s)`; `half_life_s` must be the same on every call.
    pub(crate) fn ew_alpha(&mut self, elapsed_s: f64, half_life_s: f64) -> f64 {
        if elapsed_s.to_bits() != self.elapsed_bits {
            self.elapsed_bits = elapsed_s.to_bits();
            self.alpha = ew_alpha(elapsed_s, half_life_s);
        }
        self.alpha
    }
}

/// A standardized deviation of one point from a detector's expectation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deviation {
    /// `(value − center) / scale`, signed, finite, clamped to ±1e6.
    pub z: f64,
    /// What the detector expected.
    pub center: f64,
    /// The detector's spread estimate (one "sigma"), > 0.
    pub scale: f64,
}

impl Deviation {
    /// Builds a deviation, guarding against zero or non-finite spreads.
    pub(crate) fn new(value: f64, center: f64, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            // A constant history: any change is news, but scores must stay finite.
            1e-9 * center.abs().max(1.0)
        };
        let z = ((value - center) / scale).clamp(-MAX_Z, MAX_Z);
        Self {
            z: if z.is_nan() { 0.0 } else { z },
            center,
            scale,
        }
    }

    /// The verdict for this deviation at anomaly threshold `threshold` (in sigmas).
    ///
    /// The score `z² / (z² + t²)` is monotone in `|z|`, spreads over `[0, 1)` and equals 0.5
    /// exactly at the threshold.
    pub fn verdict(&self, threshold: f64) -> Verdict {
        let z2 = self.z * self.z;
        // z = 0 scores 0 even at a (misconfigured) threshold of 0, which would give 0/0.
        let score = if z2 > 0.0 {
            z2 / (z2 + threshold * threshold)
        } else {
            0.0
        };
        if self.z.abs() < threshold {
            return Verdict::Normal { score };
        }
        Verdict::Anomalous {
            score,
            expected: Band {
                lower: self.center - threshold * self.scale,
                upper: self.center + threshold * self.scale,
            },
            direction: if self.z > 0.0 {
                Direction::Up
            } else {
                Direction::Down
            },
        }
    }
}
