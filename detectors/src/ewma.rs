//! Exponentially weighted mean and variance, with the half-life given in event time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::common::{AlphaMemo, Clock, Deviation, max_reciprocal};
use crate::signal::{EventTime, Verdict};

/// Parameters of the [`Ewma`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct EwmaParams {
    /// How fast the baseline forgets: the weight of a point halves every `half_life` of event
    /// time. Unit: duration (`"30m"`). Default `1h`; bounds `1s ..= 365d`.
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub half_life: Duration,
    /// Deviation, in standard deviations, at which a point is anomalous. Default 4; bounds
    /// `1 ..= 100`.
    pub threshold: f64,
    /// Points learned before verdicts start. Default 10; bounds `2 ..= 100000`.
    pub warmup: u32,
}

impl Default for EwmaParams {
    fn default() -> Self {
        Self {
            half_life: Duration::from_secs(3600),
            threshold: 4.0,
            warmup: 10,
        }
    }
}

/// Exponentially weighted moving average and variance of a series.
///
/// Uses West's weighted incremental update (`mean += α·d; var = (1−α)(var + α·d²)` with
/// `d = x − mean`), which never subtracts two large numbers: at a level of 1e6 with σ = 1 it
/// keeps full precision where the `E[x²] − E[x]²` form loses digits. The point is judged
/// against the state *before* it is learned, so a spike cannot hide itself.
///
/// Memory: constant, `size_of::<Ewma>()` (under 100 bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    params: EwmaParams,
    clock: Clock,
    /// Weighted mean of the points learned so far.
    mean: f64,
    /// Weighted variance around `mean`.
    var: f64,
    /// Points learned, saturating; decides the warm-up.
    seen: u32,
    #[serde(skip)]
    alpha: AlphaMemo,
}

impl Ewma {
    /// A detector with no history.
    pub fn new(params: EwmaParams) -> Self {
        Self {
            params,
            clock: Clock::default(),
            mean: 0.0,
            var: 0.0,
            seen: 0,
            alpha: AlphaMemo::default(),
        }
    }

    /// The weighted mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The weighted variance.
    pub fn variance(&self) -> f64 {
        self.var
    }

    /// Judges `value` against the current state, then learns it. `None` while warming up or
    /// for a non-finite value (which is skipped and not learned).
    pub fn step(&mut self, at: EventTime, value: f64) -> Option<Deviation> {
        if !value.is_finite() {
            return None;
        }
        let elapsed = self.clock.advance(at);
        let deviation = (self.seen >= self.params.warmup)
            .then(|| Deviation::new(value, self.mean, self.var.sqrt()));
        self.learn(elapsed, value);
        deviation
    }

    fn learn(&mut self, elapsed_s: f64, value: f64) {
        self.seen = self.seen.saturating_add(1);
        if self.seen == 1 {
            self.mean = value;
            return;
        }
        // Early on, a plain running mean (α = 1/n) so the start is not dominated by the
        // first point; later the time-based weight.
        let time_alpha = self.alpha.ew_alpha(
            elapsed_s.max(self.clock.step_seconds()),
            self.params.half_life.as_secs_f64(),
        );
        let alpha = max_reciprocal(time_alpha, f64::from(self.seen));
        let d = value - self.mean;
        let incr = alpha * d;
        self.mean += incr;
        self.var = (1.0 - alpha) * (self.var + d * incr);
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        crate::common::positive(self.params.threshold, "ewma threshold must be positive")
    }

    /// Observes one point; see [`crate::Detector::observe`].
    pub fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        match self.step(at, value) {
            Some(dev) => dev.verdict(self.params.threshold),
            None => Verdict::WarmingUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(i: i64) -> EventTime {
        EventTime::from_millis(i * 60_000)
    }

    #[test]
    fn keeps_precision_at_high_level() {
        // Level 1e6, σ = 1 (alternating ±1): the exact variance is known in closed form.
        let mut ewma = Ewma::new(EwmaParams {
            half_life: Duration::from_secs(600),
            ..EwmaParams::default()
        });
        let mut shifted = Ewma::new(ewma.params.clone());
        for i in 0..20_000 {
            let noise = if i % 2 == 0 { 1.0 } else { -1.0 };
            ewma.step(at(i), 1e6 + noise);
            shifted.step(at(i), noise);
        }
        // The same recursion on the centred series is exact to ~1e-16; the level must not
        // change the variance by more than a part in 1e9.
        let rel = (ewma.variance() - shifted.variance()).abs() / shifted.variance();
        assert!(rel < 1e-9, "relative error {rel}");
        assert!((ewma.mean() - 1e6 - shifted.mean()).abs() < 1e-6);
    }

    #[test]
    fn flags_a_spike_and_not_the_noise() {
        let mut ewma = Ewma::new(EwmaParams::default());
        let mut flagged = 0;
        for i in 0..500 {
            let v = 10.0 + ((i * 7919) % 13) as f64 / 13.0;
            flagged += usize::from(ewma.observe(at(i), v).is_anomalous());
        }
        assert_eq!(flagged, 0);
        assert!(ewma.observe(at(500), 50.0).is_anomalous());
    }

    #[test]
    fn constant_series_gives_finite_scores() {
        let mut ewma = Ewma::new(EwmaParams::default());
        for i in 0..100 {
            let score = ewma.observe(at(i), 3.0).score();
            assert_eq!(score, 0.0);
        }
        let v = ewma.observe(at(100), 3.5);
        assert!(v.is_anomalous() && v.score().is_finite());
    }
}
