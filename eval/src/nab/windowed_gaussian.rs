//! NAB's Windowed Gaussian baseline, reproduced to pin the scorer to a published number.
//!
//! It is not a good detector (its score is a tail probability that saturates near 1, exactly
//! where the threshold ends up), but its NAB score is known, so running it through this
//! harness checks the loader, the probation, the row values and the sweep all at once.
//!
//! NAB recomputes μ and σ over the whole buffer after every value while the buffer fills,
//! which is quadratic in the buffer size (6,400) and makes unoptimised test builds crawl.
//! Here they are updated incrementally (Welford) while the buffer fills and recomputed with
//! two passes each time it slides. That changes the last bits of some scores but not the
//! result: on the full corpus, this, a literal two-pass recomputation and a NumPy-style
//! pairwise recomputation all give the same three NAB scores to twelve digits.

use std::f64::consts::SQRT_2;

use statrs::function::erf::erfc;

/// Maximum number of past values the statistics are computed over.
const WINDOW_SIZE: usize = 6400;
/// Once the buffer is full it slides by this many values at a time.
const STEP_SIZE: usize = 100;

/// The Windowed Gaussian detector of NAB, for one series.
#[derive(Debug, Clone)]
pub struct WindowedGaussian {
    /// Up to `WINDOW_SIZE` past values, oldest first.
    window: Vec<f64>,
    /// Values seen since the buffer was full and last slid.
    step: Vec<f64>,
    mean: f64,
    /// Sum of squared deviations from `mean` (Welford's `M2`), while the buffer fills.
    squares: f64,
    /// Population standard deviation, 1e-6 instead of 0.
    std: f64,
}

impl Default for WindowedGaussian {
    fn default() -> Self {
        WindowedGaussian::new()
    }
}

impl WindowedGaussian {
    /// A detector that has seen nothing (μ = 0, σ = 1).
    pub fn new() -> WindowedGaussian {
        WindowedGaussian {
            window: Vec::with_capacity(WINDOW_SIZE),
            step: Vec::with_capacity(STEP_SIZE),
            mean: 0.0,
            squares: 0.0,
            std: 1.0,
        }
    }

    /// Scores `value` against the past values, then learns it.
    ///
    /// The score is `1 − ½·erfc(z/√2)` with `z = |x − μ|/σ` (0 for the very first value). A
    /// non-finite value (which NAB never contains) scores 0 and is not learnt, so it cannot
    /// poison μ and σ.
    pub fn score(&mut self, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let score = if self.window.is_empty() {
            0.0
        } else {
            let z = (value - self.mean).abs() / self.std;
            1.0 - 0.5 * erfc(z / SQRT_2)
        };
        if self.window.len() < WINDOW_SIZE {
            self.window.push(value);
            let delta = value - self.mean;
            self.mean += delta / self.window.len() as f64;
            self.squares += delta * (value - self.mean);
            self.set_std(self.squares / self.window.len() as f64);
        } else {
            self.step.push(value);
            if self.step.len() == STEP_SIZE {
                self.window.drain(..STEP_SIZE);
                self.window.append(&mut self.step);
                self.recompute();
            }
        }
        score
    }

    /// Two-pass mean and population variance of the full buffer.
    fn recompute(&mut self) {
        let n = self.window.len() as f64;
        self.mean = self.window.iter().sum::<f64>() / n;
        let mean = self.mean;
        let variance = self.window.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        self.set_std(variance);
    }

    fn set_std(&mut self, variance: f64) {
        self.std = variance.max(0.0).sqrt();
        if self.std == 0.0 {
            self.std = 1e-6;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_scores_zero_and_second_is_judged_against_it() {
        let mut wg = WindowedGaussian::new();
        assert_eq!(wg.score(5.0), 0.0);
        // σ of one value is 0, replaced by 1e-6: any other value is far out.
        assert_eq!(wg.score(6.0), 1.0);
        assert_eq!(wg.score(5.5), 1.0 - 0.5 * erfc(0.0));
    }

    #[test]
    fn scores_are_symmetric_around_the_mean() {
        let mut wg = WindowedGaussian::new();
        for x in [1.0, 3.0, 1.0, 3.0] {
            wg.score(x);
        }
        let (mut above, mut below) = (wg.clone(), wg);
        let (a, b) = (above.score(3.5), below.score(0.5));
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        // μ = 2, σ = 1: z = 1.5.
        assert!((a - (1.0 - 0.5 * erfc(1.5 / SQRT_2))).abs() < 1e-12);
    }

    #[test]
    fn incremental_statistics_match_a_two_pass_recomputation() {
        let mut wg = WindowedGaussian::new();
        for i in 0..1000_u32 {
            wg.score(1e6 + f64::from(i % 17) * 0.25);
        }
        let (mean, std) = (wg.mean, wg.std);
        wg.recompute();
        assert!((mean - wg.mean).abs() < 1e-9 && (std - wg.std).abs() < 1e-9);
    }

    #[test]
    fn constant_values_keep_sigma_at_one_millionth() {
        let mut wg = WindowedGaussian::new();
        for _ in 0..10 {
            wg.score(0.1);
        }
        assert_eq!(wg.std, 1e-6);
    }

    #[test]
    fn window_slides_by_whole_steps_once_full() {
        let mut wg = WindowedGaussian::new();
        for _ in 0..WINDOW_SIZE {
            wg.score(0.0);
        }
        assert_eq!(wg.std, 1e-6);
        for _ in 0..STEP_SIZE - 1 {
            wg.score(1.0);
        }
        // The new values wait in the step buffer: statistics unchanged.
        assert_eq!((wg.mean, wg.std), (0.0, 1e-6));
        wg.score(1.0);
        assert_eq!(wg.window.len(), WINDOW_SIZE);
        assert!((wg.mean - STEP_SIZE as f64 / WINDOW_SIZE as f64).abs() < 1e-15);
    }

    #[test]
    fn non_finite_values_score_zero_and_are_not_learnt() {
        let mut wg = WindowedGaussian::new();
        wg.score(1.0);
        wg.score(2.0);
        assert_eq!(wg.score(f64::NAN), 0.0);
        assert_eq!(wg.score(f64::INFINITY), 0.0);
        assert_eq!(wg.window, [1.0, 2.0]);
    }
}
