//! Change-point detection: two-sided CUSUM of standardized deviations from a slow baseline.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::common::{AlphaMemo, Clock, Deviation, max_reciprocal};
use crate::signal::{EventTime, Verdict};

/// Parameters of the [`ChangePoint`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct ChangePointParams {
    /// Half-life of the baseline the CUSUM measures against. Unit: duration. Default `6h`;
    /// bounds `1s ..= 365d`.
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub baseline_half_life: Duration,
    /// Slack per point, in standard deviations: drifts smaller than this never accumulate.
    /// Default 0.5; bounds `0 ..= 10`.
    pub drift: f64,
    /// Accumulated deviation, in standard deviations, at which a change is declared.
    /// Default 10; bounds `1 ..= 1000`.
    pub threshold: f64,
    /// Points learned before verdicts start. Default 20; bounds `2 ..= 100000`.
    pub warmup: u32,
}

impl Default for ChangePointParams {
    fn default() -> Self {
        Self {
            baseline_half_life: Duration::from_secs(6 * 3600),
            drift: 0.5,
            threshold: 10.0,
            warmup: 20,
        }
    }
}

/// Two-sided CUSUM (Page 1954) over deviations from an exponentially weighted baseline.
///
/// Each point adds its standardized deviation, less the `drift` slack, to an upward and a
/// downward sum that never go below zero. A sustained shift of δ σ crosses `threshold` after
/// about `threshold / (δ − drift)` points, while a single spike adds at most 6 (deviations
/// are clipped), so this detector answers "did the level change?" rather than "is this point
/// odd?". Once a change is declared, the baseline jumps to the recent level and the sums
/// restart, so the new regime is learned instead of being flagged forever.
///
/// Memory: constant, under 150 bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    params: ChangePointParams,
    clock: Clock,
    mean: f64,
    var: f64,
    /// A fast average of the recent level, where the baseline restarts after a change.
    recent: f64,
    up: f64,
    down: f64,
    seen: u32,
    #[serde(skip)]
    alpha: AlphaMemo,
}

impl ChangePoint {
    /// A detector with no history.
    pub fn new(params: ChangePointParams) -> Self {
        Self {
            params,
            clock: Clock::default(),
            mean: 0.0,
            var: 0.0,
            recent: 0.0,
            up: 0.0,
            down: 0.0,
            seen: 0,
            alpha: AlphaMemo::default(),
        }
    }

    /// Judges `value`, then learns it. The deviation's `z` is the larger CUSUM sum, signed by
    /// its side. `None` while warming up or for a non-finite value (skipped).
    pub fn step(&mut self, at: EventTime, value: f64) -> Option<Deviation> {
        if !value.is_finite() {
            return None;
        }
        let elapsed = self.clock.advance(at).max(self.clock.step_seconds());
        self.seen = self.seen.saturating_add(1);
        if self.seen == 1 {
            self.mean = value;
            self.recent = value;
            return None;
        }
        let sigma = self.var.sqrt();
        let warm = self.seen > self.params.warmup;
        let mut deviation = None;
        if warm {
            let z = Deviation::new(value, self.mean, sigma).z.clamp(-6.0, 6.0);
            self.up = (self.up + z - self.params.drift).max(0.0);
            self.down = (self.down - z - self.params.drift).max(0.0);
            let stat = if self.up >= self.down {
                self.up
            } else {
                -self.down
            };
            deviation = Some(Deviation {
                z: stat,
                center: self.mean,
                scale: Deviation::new(value, self.mean, sigma).scale,
            });
        }
        let seen = f64::from(self.seen);
        let alpha = max_reciprocal(
            self.alpha
                .ew_alpha(elapsed, self.params.baseline_half_life.as_secs_f64()),
            seen,
        );
        let d = value - self.mean;
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
        self.recent += max_reciprocal(0.2, seen) * (value - self.recent);
        if warm && self.up.max(self.down) >= self.params.threshold {
            self.mean = self.recent;
            self.up = 0.0;
            self.down = 0.0;
        }
        deviation
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        crate::common::positive(
            self.params.threshold,
            "change_point threshold must be positive",
        )
    }

    /// Observes one point; see [`crate::Detector::observe`].
    pub fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        match self.step(at, value) {
            Some(dev) => dev.verdict(self.params.threshold),
            None => Verdict::WarmingUp,
        }
    }
}
