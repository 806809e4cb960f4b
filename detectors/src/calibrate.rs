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

mod estimate;

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

pub(crate) use estimate::Query;
use estimate::{COUNT_SUM_ERROR, CountSum};

/// Histogram bins over `ln(1 + |z|)`.
const BINS: usize = 32;
/// `ln(1 + |z|)` covered by the bins (|z| up to e^6 − 1 ≈ 400); larger goes in the last bin.
const SPAN: f64 = 6.0;
/// Rescale the lazily growing increment before it can overflow an f32.
const RESCALE_AT: f32 = 1e30;
/// Bound on how far a [`Calibrator::query`]'s bin position may be from [`Calibrator`]'s
/// exact one: [`estimate::LN_ERROR`] in bins, with ample room for rounding.
const POSITION_ERROR: f64 = 10.0 * estimate::LN_ERROR * BINS as f64 / SPAN;
/// Bound on the relative error of a query's tail mass against [`Calibrator::surprise`]'s:
/// under 2e-6 from the rounding of either sum (each adds at most 31 non-negative f32s), under
/// 1e-7 of the bin's count from the estimated position (with `inside`'s f32 rounding), and
/// the f32 roundings of the product, sum and quotient.
const TAIL_ERROR: f64 = 1e-5;
/// Absolute error of an f32 quotient in the subnormal range (2^-149), rounded up.
const F32_UNDERFLOW: f64 = 1e-44;

/// Decayed histogram of |z| with tail-probability queries.
///
/// Decay is lazy: instead of shrinking every bin each step, the increment grows by
/// `1/decay` and everything is rescaled once the increment gets large, so a step is O(1).
///
/// Memory: `4 · 32 + 32` bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrator {
    counts: [f32; BINS],
    /// Weight the next observation adds (grows to emulate decay of everything else).
    increment: f32,
    /// Sum of `counts`.
    total: f32,
    /// Per-observation growth of `increment`, `1 / decay`.
    growth: f32,
    /// `Σ counts` for [`Self::query`] (not state: not in snapshots, not compared).
    #[serde(skip)]
    count_sum: CountSum,
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
            count_sum: CountSum::default(),
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
        self.learn_bin(Self::position(z) as usize);
    }

    /// Locates `z` in the history and bounds its surprise, without a library call (but next
    /// to a bin edge); see [`Query`]. The exact answer is still [`Self::surprise`], until the
    /// next `learn`.
    pub(crate) fn query(&mut self, z: f64) -> Query {
        let z = z.abs();
        if !z.is_finite() || z >= estimate::LN_1P_DOMAIN {
            // Not a deviation the detectors produce (they are finite and clamped): no bounds.
            return Query::unbounded(z, Self::position(z) as usize);
        }
        let ln_1p = estimate::ln_1p(z);
        // The bin must be exactly `position`'s, since the query also decides what is learned:
        // the estimate decides it unless it lies within its error of a bin edge.
        let estimate = (ln_1p * (BINS as f64 / SPAN)).min(BINS as f64 - 1e-9);
        // (Truncation is `floor` here, without the library call `floor` is on x86-64; the
        // position is small and non-negative, so the i32 cast is exact and the cheapest.)
        let bin = estimate as i32;
        let frac = estimate - f64::from(bin);
        // Position 0 is exact at |z| = 0 and cannot be undershot.
        let clear_of_edges = (frac >= POSITION_ERROR || bin == 0) && frac <= 1.0 - POSITION_ERROR;
        let (pos, bin) = if clear_of_edges {
            (estimate, bin as usize)
        } else {
            let pos = Self::position(z);
            (pos, pos as usize)
        };
        // `surprise`'s tail mass, summed in another way and with `inside` estimated.
        let inside = (bin as i32 + 1) as f64 - pos;
        let (rest, rest_error) = self.sum_above(bin);
        let count = f64::from(self.counts[bin]);
        let above = rest + inside * count;
        let slack = TAIL_ERROR * (rest + count) + rest_error;
        // Multiplying by reciprocals rounds a little more than dividing; the margin of the
        // decisions covers it.
        let per_increment = 1.0 / f64::from(self.increment);
        // `surprise` divides in f32, which loses its relative precision below f32's normal
        // range: hence the absolute term.
        let tail_low = ((above - slack) * per_increment - F32_UNDERFLOW).max(0.0);
        let tail_high = (above + slack) * per_increment + F32_UNDERFLOW;
        // The Gaussian prior weighs at most one observation: next to a tail of a thousand,
        // bounding it by [0, 1] is as good as the table.
        let (prior_low, prior_high) = if tail_low >= 1000.0 {
            (0.0, 1.0)
        } else {
            estimate::prior_bounds(z, ln_1p)
        };
        let per_observation = 1.0 / (f64::from(self.total / self.increment) + 1.0);
        Query::new(
            z,
            bin,
            (tail_low + prior_low) * per_observation,
            (tail_high + prior_high) * per_observation,
        )
    }

    /// Adds the |z| of `q` to the history: [`Self::learn`] without locating it again.
    pub(crate) fn learn_query(&mut self, q: &Query) {
        self.learn_bin(q.bin());
    }

    /// `Σ counts[bin + 1..]` and a bound on its error. In the low bins, where most |z| fall,
    /// that is the few counts up to `bin` taken from the total; in the high bins, where the
    /// tail may be tiny next to the total, a direct sum.
    fn sum_above(&mut self, bin: usize) -> (f64, f64) {
        if bin < BINS / 2 {
            let total = self.count_sum.get(&self.counts);
            // At most 16 f64 roundings: far inside the total's own error.
            let below: f64 = self.counts[..=bin].iter().map(|&c| f64::from(c)).sum();
            ((total - below).max(0.0), 2.0 * COUNT_SUM_ERROR * total)
        } else {
            (f64::from(self.unordered_sum_from(bin + 1)), 0.0)
        }
    }

    /// `Σ counts[from..]`, not in index order: four lanes the compiler vectorises, instead of
    /// a chain of up to 31 dependent additions. Either order rounds at most 31 times, so the
    /// two sums differ by under 4e-6 of the total (all terms are non-negative).
    fn unordered_sum_from(&self, from: usize) -> f32 {
        let chunks = self.counts[from.min(BINS)..].chunks_exact(4);
        let rest = chunks.remainder();
        let mut lanes = [0f32; 4];
        for chunk in chunks {
            for (lane, &c) in lanes.iter_mut().zip(chunk) {
                *lane += c;
            }
        }
        for (lane, &c) in lanes.iter_mut().zip(rest) {
            *lane += c;
        }
        (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
    }

    fn learn_bin(&mut self, bin: usize) {
        let before = self.counts[bin];
        self.counts[bin] += self.increment;
        self.count_sum.add(self.counts[bin], before);
        self.total += self.increment;
        self.increment *= self.growth;
        if self.increment > RESCALE_AT {
            let k = 1.0 / self.increment;
            self.counts.iter_mut().for_each(|c| *c *= k);
            self.total *= k;
            self.increment = 1.0;
            self.count_sum = CountSum::default();
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
    fn queries_bound_the_exact_surprise_and_find_its_bin() {
        // A deterministic spread of |z|: dense where the detectors live, plus bin edges,
        // zero, the far tail and the ends of the table.
        let mut zs: Vec<f64> = (0..4000).map(|i| f64::from(i) * 0.0075).collect();
        zs.extend((0..=BINS).map(|k| (k as f64 * SPAN / BINS as f64).exp_m1()));
        zs.extend([
            1e-300, 23.999, 24.0, 24.5, 25.0, 26.0, 100.0, 399.0, 1e6, -3.0,
        ]);
        let mut cal = Calibrator::new(100);
        let mut checked = 0;
        for round in 0..60 {
            for &z in &zs {
                let q = cal.query(z);
                assert_eq!(q.bin(), Calibrator::position(z) as usize, "bin of {z}");
                let likelihood = 10f64.powf(-cal.surprise(z));
                assert!(
                    !q.surely_below(likelihood * (1.0 + 1e-12)),
                    "{z}: low too high"
                );
                assert!(q.likelihood_bound() >= likelihood * (1.0 - 1e-12), "{z}");
                checked += 1;
            }
            // Histories from empty to long, narrow to heavy-tailed, through rescales.
            for i in 0..(round * round * 40) {
                cal.learn(f64::from(i % 17) * 0.05 * f64::from(round % 7 + 1));
            }
        }
        assert!(checked > 200_000);
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
