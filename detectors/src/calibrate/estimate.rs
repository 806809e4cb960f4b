//! Cheap, rigorous bounds on a calibrator's surprise.
//!
//! The ensemble needs the exact surprise of at most one or two of its members per point (the
//! most surprising one, and the sustained stage when it can matter). For the others, bounds
//! that show they cannot matter are enough, and bounds need no library call: the bin
//! position comes from an inline logarithm with a known error, the histogram's tail from a
//! running total less the few counts below it (or from a vectorisable sum), and the Gaussian
//! prior from between two entries of a table. Every bound is wider than the error it covers,
//! so a decision taken on bounds is the one the exact surprises would have given, and the
//! verdicts stay bit for bit the same.

use std::f64::consts::{LN_2, SQRT_2};
use std::sync::LazyLock;

use statrs::function::erf::erfc;

/// A |z| located in one calibrator's history, with bounds on its surprise.
///
/// The bounds are on the likelihood `10^(−surprise)`, the probability mass
/// `(tail + prior) / (observations + 1)` that the surprise is the −log10 of, so that
/// comparing them needs no logarithm. The exact surprise is `Calibrator::surprise(z)` as
/// long as the calibrator has not learned since the query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query {
    /// |z|.
    z: f64,
    /// The bin `z` falls in, exactly as `Calibrator::learn` would find it.
    bin: usize,
    /// Lower bound on the likelihood.
    low: f64,
    /// Upper bound on the likelihood (may be infinite).
    high: f64,
}

/// Relative margin a decision keeps from the bounds: covers the rounding of the exact
/// surprise's logarithms (~1e-13) and of the bounds' own arithmetic.
const SURE: f64 = 1.0 + 1e-9;

impl Query {
    pub(super) fn new(z: f64, bin: usize, low: f64, high: f64) -> Self {
        Self { z, bin, low, high }
    }

    /// A query whose surprise could be anything.
    pub(super) fn unbounded(z: f64, bin: usize) -> Self {
        Self::new(z, bin, 0.0, f64::INFINITY)
    }

    /// |z|.
    pub(crate) fn z(&self) -> f64 {
        self.z
    }

    pub(super) fn bin(&self) -> usize {
        self.bin
    }

    /// Whether this query's exact surprise is certainly lower than `other`'s. `false` when
    /// the bounds overlap (then compare the exact surprises).
    pub(crate) fn surely_less_surprising_than(&self, other: &Query) -> bool {
        self.low > other.high * SURE
    }

    /// Whether the exact surprise is certainly below `−log10(likelihood)`, for a likelihood
    /// that is exact or an upper bound.
    pub(crate) fn surely_below(&self, likelihood: f64) -> bool {
        self.low > likelihood * SURE
    }

    /// Upper bound on `10^(−surprise)`.
    pub(crate) fn likelihood_bound(&self) -> f64 {
        self.high
    }
}

/// `Σ counts` of a calibrator in f64, kept up to date by `learn` rather than summed by
/// every query. Derived data, not state: calibrators keep it out of snapshots, any two
/// compare equal, and a restored one rebuilds it on its first query.
#[derive(Debug, Clone, Copy)]
pub(super) struct CountSum {
    /// The sum; NaN until built.
    sum: f64,
    /// Updates since it was last summed afresh (each adds a rounding error).
    updates: u32,
}

/// Updates after which the sum is rebuilt, to bound the rounding it accumulates.
const COUNT_SUM_REBUILD: u32 = 1 << 20;
/// Bound on the relative error of [`CountSum::get`]: 32 f64 roundings when built, then two
/// per update, each at most 2^-53 of the (growing) sum: (32 + 2^21) · 2^-53 < 2.4e-10.
pub(super) const COUNT_SUM_ERROR: f64 = 1e-9;

impl Default for CountSum {
    fn default() -> Self {
        Self {
            sum: f64::NAN,
            updates: 0,
        }
    }
}

impl PartialEq for CountSum {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl CountSum {
    /// `Σ counts`, within [`COUNT_SUM_ERROR`] of it (relative).
    pub(super) fn get(&mut self, counts: &[f32]) -> f64 {
        if self.sum.is_nan() || self.updates >= COUNT_SUM_REBUILD {
            self.sum = counts.iter().map(|&c| f64::from(c)).sum();
            self.updates = 0;
        }
        self.sum
    }

    /// Records one count growing from `before` to `after`; the counts only grow between
    /// rescales (which start a new sum), so every error stays below 2^-53 of the sum.
    pub(super) fn add(&mut self, after: f32, before: f32) {
        self.sum += f64::from(after) - f64::from(before);
        self.updates = self.updates.saturating_add(1);
    }
}

/// Largest |z| [`ln_1p`] takes (any deviation a detector reports is far smaller).
pub(super) const LN_1P_DOMAIN: f64 = 1e300;
/// Bound on `|ln_1p(z) − z.ln_1p()|`.
pub(super) const LN_ERROR: f64 = 1e-9;

/// Cells of [`LN_TABLE`]: the top 7 bits of a mantissa.
const LN_CELLS: usize = 128;

/// `(1/c, ln c)` for the centre `c` of each of [`LN_CELLS`] equal cells of [1, 2); `ln c` as
/// `−ln(1/c)`, so that `ln m = ln(m · (1/c)) + ln c` holds with the rounded `1/c`.
static LN_TABLE: LazyLock<[(f64, f64); LN_CELLS]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let inv = 1.0 / (1.0 + (i as f64 + 0.5) / LN_CELLS as f64);
        (inv, -inv.ln())
    })
});

/// `ln(1 + z)` for `0 ≤ z < 1e300`, within [`LN_ERROR`] of `z.ln_1p()`, in a dozen inline
/// operations instead of a library call (and with a short dependency chain: no division).
pub(super) fn ln_1p(z: f64) -> f64 {
    // Forming 1 + z rounds by at most 1.2e-16 in the logarithm.
    let bits = (1.0 + z).to_bits();
    // 1 + z = 2^e · m with m in [1, 2); the top bits of m pick a cell of centre c, and
    // ln m = ln c + ln(1 + r) with r = m/c − 1 so small (|r| ≤ 2^-8) that three terms of
    // its series leave under 6e-11.
    let e = (bits >> 52) as i32 - 1023;
    let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
    let (inv_c, ln_c) = LN_TABLE[(bits >> 45) as usize % LN_CELLS];
    let r = m * inv_c - 1.0;
    let series = r - r * r * (0.5 - r * THIRD);
    f64::from(e) * LN_2 + ln_c + series
}

const THIRD: f64 = 1.0 / 3.0;

/// Cells per unit of `ln(1 + |z|)` in the prior table.
const PRIOR_CELLS_PER_UNIT: f64 = 128.0;
/// From this |z| on, the prior is bounded by [`FAR_PRIOR`] instead of the table.
const PRIOR_TABLE_END: f64 = 24.0;
/// Upper bound on the prior from |z| = 24 on: `P(|N(0,1)| ≥ 24) ≈ 2.6e-127`, and the Mills
/// asymptote `Calibrator::surprise` uses beyond 25 is smaller still.
const FAR_PRIOR: f64 = 1e-120;
/// Cells up to |z| = 24 (ln 25 · 128 ≈ 412), plus the two past the end a bound reads.
const PRIOR_CELLS: usize = 416;
/// Relative slack on table entries, for rounding in `erfc` (~1e-15) with room to spare.
const PRIOR_SLACK: f64 = 1e-6;

/// `P(|N(0,1)| ≥ z)` at `z = e^(k / 128) − 1`, as `Calibrator::surprise` computes it.
static PRIOR: LazyLock<[f64; PRIOR_CELLS]> = LazyLock::new(|| {
    std::array::from_fn(|k| erfc((k as f64 / PRIOR_CELLS_PER_UNIT).exp_m1() / SQRT_2))
});

/// Bounds on the Gaussian prior `P(|N(0,1)| ≥ z)` the exact surprise uses, given
/// `ln_1p = ln_1p(z)`. The prior falls with `z`, so it lies between the table entries on
/// either side; one extra cell each way covers the error of `ln_1p`.
pub(super) fn prior_bounds(z: f64, ln_1p: f64) -> (f64, f64) {
    if z.is_nan() || z >= PRIOR_TABLE_END {
        return (0.0, FAR_PRIOR);
    }
    // (Under 412 here, so the cheap i32 cast is exact.)
    let cell = (ln_1p * PRIOR_CELLS_PER_UNIT) as i32 as usize;
    let table = &*PRIOR;
    // (Out of the table, 1 and 0 are still bounds.)
    let high = cell
        .checked_sub(1)
        .and_then(|k| table.get(k))
        .map_or(1.0, |&p| p);
    let low = table.get(cell + 2).map_or(0.0, |&p| p);
    (low * (1.0 - PRIOR_SLACK), high * (1.0 + PRIOR_SLACK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_1p_is_within_its_error() {
        let mut worst: f64 = 0.0;
        let mut z = 0.0;
        while z < 1e7 {
            worst = worst.max((ln_1p(z) - z.ln_1p()).abs());
            z = z * 1.0001 + 1e-7;
        }
        for z in [
            0.0,
            f64::MIN_POSITIVE,
            1e-300,
            0.5,
            SQRT_2 - 1.0,
            1.0,
            1e6,
            1e299,
        ] {
            worst = worst.max((ln_1p(z) - z.ln_1p()).abs());
        }
        assert!(worst < LN_ERROR / 1.3, "worst error {worst}");
    }

    #[test]
    fn prior_bounds_hold() {
        let mut z = 0.0;
        while z < 30.0 {
            let prior = erfc(z / SQRT_2);
            let (low, high) = prior_bounds(z, ln_1p(z));
            assert!(low <= prior && prior <= high, "{z}: {low} {prior} {high}");
            z += 0.0007;
        }
    }
}
