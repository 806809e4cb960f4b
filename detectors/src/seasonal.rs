//! Seasonal baseline: a level plus a per-phase profile for each candidate period.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::common::{AlphaMemo, Clock, Deviation, max_reciprocal};
use crate::signal::{EventTime, Verdict};

/// Mean absolute deviation → σ for normal data.
const MAE_TO_SIGMA: f64 = 1.2533;
/// Most phases one period may have (bounds memory).
pub const MAX_BINS: usize = 1024;
/// Per-step damping of the trend: a slope fades within ~50 steps unless it keeps showing.
const TREND_DAMPING: f64 = 0.98;

/// Parameters of the [`Seasonal`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SeasonalParams {
    /// Candidate periods, e.g. `["1d", "1w"]`. The detector learns a profile for each and
    /// scores with whichever currently predicts best (or with none, when no period beats the
    /// plain level by 10%): this is how a period is detected rather than assumed.
    /// Default `["1d", "1w"]`; at most 4.
    #[serde(with = "duration_list")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub periods: Vec<Duration>,
    /// Width of one phase (hour-of-day for a daily period at `1h`). Unit: duration. Default
    /// `1h`; each period gets `period / bin` phases, at most 1024.
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub bin: Duration,
    /// Half-life of the deseasonalised level: how fast a level shift is absorbed. Unit:
    /// duration. Default `2h`; bounds `1s ..= 30d`.
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub level_half_life: Duration,
    /// Learning rate floor of each phase's profile (per visit of that phase). Default 0.1;
    /// bounds `0.001 ..= 1`.
    pub profile_rate: f64,
    /// Deviation, in standard deviations, at which a point is anomalous. Default 4; bounds
    /// `1 ..= 100`.
    pub threshold: f64,
    /// Points learned before verdicts start. Default 16; bounds `2 ..= 100000`.
    pub warmup: u32,
}

impl Default for SeasonalParams {
    fn default() -> Self {
        Self {
            periods: vec![Duration::from_secs(86_400), Duration::from_secs(604_800)],
            bin: Duration::from_secs(3600),
            level_half_life: Duration::from_secs(7200),
            profile_rate: 0.1,
            threshold: 4.0,
            warmup: 16,
        }
    }
}

mod duration_list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for d in list {
            seq.serialize_element(&crate::duration::format(*d))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| crate::duration::parse(t).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// One way of predicting the series: a level (with damped trend) plus, optionally, a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Model {
    /// Phase width and count; `bins == 0` means no seasonality (the plain level).
    bin_ms: i64,
    bins: u32,
    level: f64,
    /// Per-step trend, damped so a slope never extrapolates far.
    trend: f64,
    /// Offset of each phase from the level (f32: these are small differences).
    offset: Vec<f32>,
    /// Mean absolute residual of each phase: the per-phase robust spread.
    spread: Vec<f32>,
    /// Visits of each phase (saturating), for 1/n learning early on.
    visits: Vec<u16>,
    /// Points learned by this model (saturating), so choosing a model needs no scan.
    learned: u32,
    /// Mean absolute one-step error of this model, for choosing between models.
    error: f64,
}

impl Model {
    fn new(period: Option<Duration>, bin: Duration) -> Self {
        let bin_ms = (bin.as_millis() as i64).max(1);
        let bins = period.map_or(0, |p| {
            ((p.as_millis() as i64 / bin_ms).clamp(1, MAX_BINS as i64)) as usize
        });
        Self {
            bin_ms,
            bins: bins as u32,
            level: 0.0,
            trend: 0.0,
            offset: vec![0.0; bins],
            spread: vec![0.0; bins],
            visits: vec![0; bins],
            learned: 0,
            error: 0.0,
        }
    }

    fn phase(&self, at: EventTime) -> Option<usize> {
        (self.bins > 0).then(|| {
            at.as_millis()
                .div_euclid(self.bin_ms)
                .rem_euclid(i64::from(self.bins)) as usize
        })
    }

    fn predict(&self, phase: Option<usize>) -> f64 {
        self.level + TREND_DAMPING * self.trend + phase.map_or(0.0, |p| f64::from(self.offset[p]))
    }

    /// Learns `value`; `scale` (> 0) clips residuals so an outlier barely moves the model.
    fn learn(&mut self, phase: Option<usize>, value: f64, alpha: f64, rate: f64, scale: f64) {
        let clip = |r: f64| r.clamp(-3.0 * scale, 3.0 * scale);
        let residual = value - self.predict(phase);
        self.error += 0.02 * (residual.abs() - self.error);
        let deseasoned = value - phase.map_or(0.0, |p| f64::from(self.offset[p]));
        // Damped Holt: the trend is learned ten times slower than the level.
        let projected = self.level + TREND_DAMPING * self.trend;
        let level = projected + alpha * clip(deseasoned - projected);
        self.trend = TREND_DAMPING * self.trend + 0.1 * alpha * (level - projected);
        self.level = level;
        if let Some(p) = phase {
            self.visits[p] = self.visits[p].saturating_add(1);
            self.learned = self.learned.saturating_add(1);
            let eta = max_reciprocal(rate, f64::from(self.visits[p]));
            let target = clip(value - self.level - f64::from(self.offset[p]));
            self.offset[p] += (eta * target) as f32;
            let spread = f64::from(self.spread[p]);
            self.spread[p] = (spread + eta * (residual.abs().min(6.0 * scale) - spread)) as f32;
        }
    }
}

/// Seasonal baseline detector.
///
/// Each candidate period keeps its own Holt–Winters-style model: a deseasonalised level that
/// follows level shifts within a few `level_half_life`s, a damped trend, and per-phase offsets
/// and spreads learned with residuals clipped at 3σ (robust: one outlier moves a phase by at
/// most 3σ·rate). A plain level model competes with them; the detector scores with the model
/// whose recent one-step error is lowest, which detects the period among the candidates.
///
/// Memory: `10 · Σ(period / bin)` bytes plus ~200 bytes (~2 KiB for `1d` + `1w` at `1h`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seasonal {
    params: SeasonalParams,
    clock: Clock,
    /// The plain level first, then one model per candidate period.
    models: Vec<Model>,
    /// Mean absolute residual of the chosen model, the global spread.
    spread: f64,
    seen: u32,
    #[serde(skip)]
    alpha: AlphaMemo,
}

impl Seasonal {
    /// A detector with no history.
    pub fn new(params: SeasonalParams) -> Self {
        let mut models = vec![Model::new(None, params.bin)];
        models.extend(
            params
                .periods
                .iter()
                .take(4)
                .map(|&p| Model::new(Some(p), params.bin)),
        );
        Self {
            params,
            clock: Clock::default(),
            models,
            spread: 0.0,
            seen: 0,
            alpha: AlphaMemo::default(),
        }
    }

    /// Index of the model that predicts best now: a seasonal one must beat the plain level by
    /// 10% and have seen each phase twice on average.
    fn best(&self) -> usize {
        let mut best = 0;
        let mut best_error = self.models[0].error * 0.9;
        for (i, m) in self.models.iter().enumerate().skip(1) {
            if u64::from(m.learned) >= 2 * u64::from(m.bins) && m.error < best_error {
                best = i;
                best_error = m.error;
            }
        }
        best
    }

    /// Whether a seasonal model (not the plain level) currently predicts best.
    pub fn is_seasonal(&self) -> bool {
        self.best() != 0
    }

    /// Judges `value` against the best model, then learns it in every model. `None` while
    /// warming up or for a non-finite value (skipped).
    pub fn step(&mut self, at: EventTime, value: f64) -> Option<Deviation> {
        self.judge(at, value).map(|(deviation, _)| deviation)
    }

    /// [`Self::step`], also telling whether a seasonal model made the deviation (what
    /// [`Self::is_seasonal`] said before the step), without choosing the model twice.
    pub(crate) fn judge(&mut self, at: EventTime, value: f64) -> Option<(Deviation, bool)> {
        if !value.is_finite() {
            return None;
        }
        let elapsed = self.clock.advance(at).max(self.clock.step_seconds());
        self.seen = self.seen.saturating_add(1);
        if self.seen == 1 {
            for m in &mut self.models {
                m.level = value;
            }
            return None;
        }
        let chosen = self.best();
        let best = &self.models[chosen];
        let phase = best.phase(at);
        let expected = best.predict(phase);
        let local = phase.map_or(0.0, |p| {
            if best.visits[p] >= 3 {
                f64::from(best.spread[p])
            } else {
                0.0
            }
        });
        // Blend the phase's own spread with the global one: a phase seen a few times has a
        // noisy spread estimate, and a quiet phase must not make every wiggle anomalous.
        let spread = if local > 0.0 {
            0.5 * (local + self.spread)
        } else {
            self.spread
        };
        let deviation = (self.seen > self.params.warmup).then(|| {
            (
                Deviation::new(value, expected, MAE_TO_SIGMA * spread),
                chosen != 0,
            )
        });
        let residual = (value - expected).abs();
        let first = self.seen <= 2;
        let scale = if first {
            residual.max(1e-12)
        } else {
            MAE_TO_SIGMA * self.spread.max(1e-12)
        };
        // The global spread learns 1/n early, then with a rate of 1/50.
        let rate = max_reciprocal(0.02, f64::from(self.seen - 1));
        self.spread += rate * (residual.min(6.0 * scale) - self.spread);
        let alpha = max_reciprocal(
            self.alpha
                .ew_alpha(elapsed, self.params.level_half_life.as_secs_f64()),
            f64::from(self.seen),
        );
        for (i, m) in self.models.iter_mut().enumerate() {
            // The chosen model's phase is known; a phase costs two integer divisions.
            let p = if i == chosen { phase } else { m.phase(at) };
            m.learn(p, value, alpha, self.params.profile_rate, scale);
        }
        deviation
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        crate::common::positive(self.params.threshold, "seasonal threshold must be positive")?;
        let models_ok = !self.models.is_empty()
            && self.models[0].bins == 0
            && self.models.iter().all(|m| {
                let bins = m.bins as usize;
                m.bin_ms >= 1
                    && bins <= MAX_BINS
                    && m.offset.len() == bins
                    && m.spread.len() == bins
                    && m.visits.len() == bins
            });
        if models_ok {
            Ok(())
        } else {
            Err("seasonal profile is inconsistent")
        }
    }

    /// Observes one point; see [`crate::Detector::observe`].
    pub fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        match self.step(at, value) {
            Some(dev) => dev.verdict(self.params.threshold),
            None => Verdict::WarmingUp,
        }
    }

    /// Bytes of state held for this series.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .models
                .iter()
                .map(|m| std::mem::size_of::<Model>() + 10 * m.bins as usize)
                .sum::<usize>()
    }
}
