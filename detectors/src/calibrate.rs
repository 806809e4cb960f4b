//! Calibration: turns a detector's raw |z| into a tail probability learned from the series'
//! own history of |z|.
//!
//! A raw z-score is not comparable across series — a heavy-tailed series sees |z| = 6 every
//! day, a quiet one never — so one global threshold over raw scores either pages on the
//! noisy series or sleeps through the quiet ones. The calibrator keeps an exponentially
//! decayed histogram of the |z| values this detector produced on this series and answers
//! "how often was it at least this large?". Magnitudes never seen before fall back on a
//! Gaussian tail with the weight of one observation, so surprise keeps growing past the
//! histogram instead of saturating.

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

/// Histogram bins over `ln(1 + |z|)`.
const BINS: usize = 32;
/// `ln(1 + |z|)` covered by the bins (|z| up to e^6 − 1 ≈ 400); larger goes in the last bin.
const SPAN: f64 = 6.0;
/// Rescale the lazily growing increment before it can overflow an f32.
const RESCALE_AT: f32 = 1e30;

/// Decayed histogram of |z| with tail-probability queries.
///
/// Decay is lazy: instead of shrinking every bin each step, the increment grows by
/// `1/decay` and everything is rescaled once the increment gets large, so a step is O(1).
///
/// Memory: `4 · 32 + 16` bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrator {
    counts: [f32; BINS],
    /// Weight the next observation adds (grows to emulate decay of everything else).
    increment: f32,
    /// Sum of `counts`.
    total: f32,
    /// Per-observation growth of `increment`, `1 / decay`.
    growth: f32,
}

impl Calibrator {
    /// A calibrator whose memory has a half-life of `half_life` observations.
    pub fn new(half_life: u32) -> Self {
        let decay = 0.5f64.powf(1.0 / f64::from(half_life.max(1)));
        Self {
            counts: [0.0; BINS],
            increment: 1.0,
            total: 0.0,
            growth: (1.0 / decay) as f32,
        }
    }

    fn position(z: f64) -> f64 {
        (z.abs().ln_1p() / SPAN * BINS as f64).min(BINS as f64 - 1e-9)
    }

    /// −log10 of the probability of seeing a |z| at least this large, from history alone
    /// plus one pseudo-observation from a standard normal.
    pub fn surprise(&self, z: f64) -> f64 {
        let pos = Self::position(z);
        let bin = pos as usize;
        let inside = (bin as f64 + 1.0 - pos) as f32;
        let above: f32 = self.counts[bin + 1..].iter().sum::<f32>() + inside * self.counts[bin];
        let observations = f64::from(self.total / self.increment);
        let tail = f64::from(above / self.increment);
        let ln_prior = ln_two_sided_normal_tail(z.abs());
        // ln(tail + prior) without underflow when the prior is astronomically small.
        let ln_mass = if tail > 0.0 {
            tail.ln() + (ln_prior - tail.ln()).exp().ln_1p()
        } else {
            ln_prior
        };
        -(ln_mass - (observations + 1.0).ln()) / std::f64::consts::LN_10
    }

    /// Adds one |z| to the history.
    pub fn learn(&mut self, z: f64) {
        let bin = Self::position(z) as usize;
        self.counts[bin] += self.increment;
        self.total += self.increment;
        self.increment *= self.growth;
        if self.increment > RESCALE_AT {
            let k = 1.0 / self.increment;
            self.counts.iter_mut().for_each(|c| *c *= k);
            self.total *= k;
            self.increment = 1.0;
        }
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let ok = self.growth.is_finite()
            && self.growth >= 1.0
            && self.increment.is_finite()
            && self.increment >= 1.0
            && self.total.is_finite()
            && self.counts.iter().all(|c| c.is_finite() && *c >= 0.0);
        if ok {
            Ok(())
        } else {
            Err("calibration history is inconsistent")
        }
    }

    /// Effective number of observations remembered.
    pub fn observations(&self) -> f64 {
        f64::from(self.total / self.increment)
    }
}

/// `ln P(|N(0,1)| ≥ z)`, exact to ~1e-7 where `erfc` is representable and from the Mills
/// ratio asymptote beyond, so it never underflows to `−∞`.
fn ln_two_sided_normal_tail(z: f64) -> f64 {
    if z < 25.0 {
        erfc(z / std::f64::consts::SQRT_2).ln()
    } else {
        -0.5 * z * z - z.ln() + 0.5 * (2.0 / std::f64::consts::PI).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_magnitudes_are_more_surprising_than_common_ones() {
        let mut c = Calibrator::new(1000);
        for i in 0..5000 {
            c.learn(f64::from(i % 10) / 5.0); // |z| uniform over 0..2
        }
        let common = c.surprise(1.0);
        let edge = c.surprise(2.5);
        let novel = c.surprise(8.0);
        assert!(common < 0.5, "{common}");
        assert!(edge > 2.0 && edge < novel, "{edge} {novel}");
        assert!(novel.is_finite());
    }

    #[test]
    fn heavy_tails_calibrate_down() {
        let mut quiet = Calibrator::new(1000);
        let mut noisy = Calibrator::new(1000);
        for i in 0..5000 {
            quiet.learn(f64::from(i % 10) / 10.0);
            noisy.learn(if i % 20 == 0 { 8.0 } else { 0.5 });
        }
        assert!(noisy.surprise(8.0) < 2.0);
        assert!(quiet.surprise(8.0) > 5.0);
    }
}
