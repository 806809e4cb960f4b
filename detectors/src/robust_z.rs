//! Robust z-score: deviation from the median of a sliding window, in units of its MAD.

use serde::{Deserialize, Serialize};

use crate::common::Deviation;
use crate::signal::{EventTime, Verdict};
use crate::window::SortedWindow;

/// MAD → σ for normal data.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Parameters of the [`RobustZ`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct RobustZParams {
    /// Points in the sliding window. Unit: points. Default 256; bounds `8 ..= 65536`.
    /// Memory is `16 · window` bytes.
    pub window: u32,
    /// Deviation, in robust standard deviations (1.4826 · MAD), at which a point is
    /// anomalous. Default 5; bounds `1 ..= 100`.
    pub threshold: f64,
    /// Points learned before verdicts start. Default 32; bounds `2 ..= window`.
    pub warmup: u32,
}

impl Default for RobustZParams {
    fn default() -> Self {
        Self {
            window: 256,
            threshold: 5.0,
            warmup: 32,
        }
    }
}

/// Median/MAD z-score over the last `window` points.
///
/// Outliers barely move a median, so unlike a mean/σ baseline one spike neither hides the next
/// nor inflates the spread. A window whose MAD is 0 (mostly constant values) falls back to the
/// 5–95% inter-quantile range, and then to a tiny relative floor, so scores stay finite.
/// Time does not enter the statistics (the window is counted in points), so gaps, duplicate
/// and out-of-order timestamps are all harmless.
///
/// Memory: `16 · window` bytes plus ~64 bytes (4 KiB at the default window of 256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustZ {
    params: RobustZParams,
    window: SortedWindow,
}

impl RobustZ {
    /// A detector with no history.
    pub fn new(params: RobustZParams) -> Self {
        let window = SortedWindow::new(params.window as usize);
        Self { params, window }
    }

    /// Judges `value` against the window, then adds it. `None` while warming up or for a
    /// non-finite value (skipped).
    pub fn step(&mut self, _at: EventTime, value: f64) -> Option<Deviation> {
        if !value.is_finite() {
            return None;
        }
        let deviation = (self.window.len() >= self.params.warmup as usize)
            .then(|| self.deviation(value))
            .flatten();
        self.window.push(value);
        deviation
    }

    fn deviation(&self, value: f64) -> Option<Deviation> {
        let median = self.window.median()?;
        let mut scale = MAD_TO_SIGMA * self.window.mad(median)?;
        if scale <= 0.0 {
            // 3.29 σ is the 5–95% range of a normal distribution.
            scale = (self.window.quantile(0.95)? - self.window.quantile(0.05)?) / 3.29;
        }
        Some(Deviation::new(value, median, scale))
    }

    /// Observes one point; see [`crate::Detector::observe`].
    pub fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        match self.step(at, value) {
            Some(dev) => dev.verdict(self.params.threshold),
            None => Verdict::WarmingUp,
        }
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        crate::common::positive(self.params.threshold, "robust_z threshold must be positive")?;
        if self.window.capacity() != (self.params.window as usize).max(1) {
            return Err("robust_z window does not match its parameters");
        }
        self.window.check()
    }

    /// Bytes of state held for this series.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + 16 * self.params.window as usize
    }
}
