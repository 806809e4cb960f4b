//! Signal types shared by every detector and by the correlator.

use serde::{Deserialize, Serialize};

/// An instant in event time: milliseconds since the Unix epoch, read from the record.
///
/// A newtype so that no bare integer with an implied unit crosses an API. Detectors never read
/// the wall clock; replaying the same records gives the same verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventTime(i64);

impl EventTime {
    /// The instant `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Seconds elapsed from `earlier` to `self`; negative when `self` is earlier.
    pub fn seconds_since(self, earlier: EventTime) -> f64 {
        // i128 so that extreme timestamps cannot overflow the subtraction; only then, as
        // the i128 → f64 conversion is a slow library call (both round the same).
        let ms = match self.0.checked_sub(earlier.0) {
            Some(ms) => ms as f64,
            None => (i128::from(self.0) - i128::from(earlier.0)) as f64,
        };
        ms / 1000.0
    }
}

/// Which side of its expected band a value fell on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Above the band.
    Up,
    /// Below the band.
    Down,
}

/// The range a detector expected the value in, at its anomaly threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Lowest value the detector would have called normal.
    pub lower: f64,
    /// Highest value the detector would have called normal.
    pub upper: f64,
}

/// What a detector concluded about one observed point.
///
/// `score` is always in `[0, 1]` and monotone in how surprising the point was. A base
/// detector maps its deviation `z` to `z² / (z² + t²)`, so `0.5` is exactly its threshold `t`;
/// the ensemble's score is a calibrated likelihood and its threshold is configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Not enough history yet to judge; the point was learned from.
    WarmingUp,
    /// Within expectations.
    Normal {
        /// Anomaly score in `[0, 1]`.
        score: f64,
    },
    /// Outside expectations.
    Anomalous {
        /// Anomaly score in `[0, 1]`.
        score: f64,
        /// The band the detector expected the value in.
        expected: Band,
        /// Which side of the band the value fell on.
        direction: Direction,
    },
}

impl Verdict {
    /// The anomaly score in `[0, 1]`; `0` while warming up.
    pub fn score(&self) -> f64 {
        match *self {
            Verdict::WarmingUp => 0.0,
            Verdict::Normal { score } | Verdict::Anomalous { score, .. } => score,
        }
    }

    /// Whether the verdict is anomalous.
    pub fn is_anomalous(&self) -> bool {
        matches!(self, Verdict::Anomalous { .. })
    }
}
