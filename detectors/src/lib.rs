//! Faultline's detectors: per-series online anomaly detection, pure and deterministic.
//!
//! A [`Detector`] observes one series point by point — an event time and a value — and
//! returns a [`Verdict`]: warming up, normal with a score, or anomalous with a score, the
//! band it expected and the direction of the miss. Every detector:
//!
//! - reads time only from the points (never the wall clock), so replaying the same input
//!   gives the same verdicts bit for bit;
//! - costs O(1) amortised per point (O(log w) for windowed order statistics) and holds a
//!   bounded, documented amount of memory, because the engine keeps one per series;
//! - survives whatever a producer sends: gaps, irregular spacing, duplicate and out-of-order
//!   timestamps, constant series and non-finite values (skipped, never learned) without
//!   panicking and with finite scores;
//! - snapshots into a versioned byte string and restores from it, for checkpoints.
//!
//! The catalogue is closed — [`DetectorSpec`] names each detector with its parameters and
//! [`DetectorSpec::build`] is the one place that constructs them — so configuration,
//! snapshots and the engine all agree on what exists.
//!
//! Why an ensemble: each base detector sees one kind of trouble (spikes, heavy-tailed
//! outliers, broken seasonality, level shifts) and its raw score means different things on
//! different series. [`Ensemble`] calibrates each member against the series' own history and
//! combines them into one anomaly likelihood that a single threshold can serve.

mod calibrate;
mod change_point;
mod common;
pub mod duration;
mod ensemble;
mod ewma;
pub mod frame;
pub mod logs;
mod robust_z;
mod seasonal;
mod signal;
mod snapshot;
mod window;

pub use calibrate::Calibrator;
pub use change_point::{ChangePoint, ChangePointParams};
pub use common::Deviation;
pub use ensemble::{Ensemble, EnsembleParams};
pub use ewma::{Ewma, EwmaParams};
pub use robust_z::{RobustZ, RobustZParams};
pub use seasonal::{Seasonal, SeasonalParams};
pub use signal::{Band, Direction, EventTime, Verdict};
pub use snapshot::{Snapshot, SnapshotError};
pub use window::SortedWindow;

/// The contract every detector keeps; see the crate documentation.
pub trait Detector: Send {
    /// Judges the point at event time `at` against what was learned so far, then learns it.
    fn observe(&mut self, at: EventTime, value: f64) -> Verdict;

    /// The detector's whole state as a versioned snapshot.
    fn snapshot(&self) -> Snapshot;

    /// Bytes of memory this detector holds (its documented bound, as currently used).
    fn state_bytes(&self) -> usize;
}

/// A detector and its parameters: the closed catalogue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "kind")]
pub enum DetectorSpec {
    /// See [`Ewma`].
    Ewma(EwmaParams),
    /// See [`RobustZ`].
    RobustZ(RobustZParams),
    /// See [`Seasonal`].
    Seasonal(SeasonalParams),
    /// See [`ChangePoint`].
    ChangePoint(ChangePointParams),
    /// See [`Ensemble`].
    Ensemble(EnsembleParams),
}

impl DetectorSpec {
    /// Every detector name, as used on the command line and in rule files.
    pub const NAMES: [&'static str; 5] =
        ["ensemble", "ewma", "robust_z", "seasonal", "change_point"];

    /// The spec with default parameters for `name` (one of [`Self::NAMES`]).
    pub fn default_for(name: &str) -> Option<Self> {
        Some(match name {
            "ensemble" => Self::Ensemble(EnsembleParams::default()),
            "ewma" => Self::Ewma(EwmaParams::default()),
            "robust_z" => Self::RobustZ(RobustZParams::default()),
            "seasonal" => Self::Seasonal(SeasonalParams::default()),
            "change_point" => Self::ChangePoint(ChangePointParams::default()),
            _ => return None,
        })
    }

    /// The detector's name (one of [`Self::NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ensemble(_) => "ensemble",
            Self::Ewma(_) => "ewma",
            Self::RobustZ(_) => "robust_z",
            Self::Seasonal(_) => "seasonal",
            Self::ChangePoint(_) => "change_point",
        }
    }

    /// A fresh detector with no history.
    pub fn build(&self) -> AnyDetector {
        match self {
            Self::Ewma(p) => AnyDetector::Ewma(Ewma::new(p.clone())),
            Self::RobustZ(p) => AnyDetector::RobustZ(RobustZ::new(p.clone())),
            Self::Seasonal(p) => AnyDetector::Seasonal(Seasonal::new(p.clone())),
            Self::ChangePoint(p) => AnyDetector::ChangePoint(ChangePoint::new(p.clone())),
            Self::Ensemble(p) => AnyDetector::Ensemble(Box::new(Ensemble::new(p.clone()))),
        }
    }
}

/// Any detector of the catalogue, without dynamic dispatch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AnyDetector {
    /// See [`Ewma`].
    Ewma(Ewma),
    /// See [`RobustZ`].
    RobustZ(RobustZ),
    /// See [`Seasonal`].
    Seasonal(Seasonal),
    /// See [`ChangePoint`].
    ChangePoint(ChangePoint),
    /// See [`Ensemble`] (boxed: it is much larger than the others).
    Ensemble(Box<Ensemble>),
}

impl AnyDetector {
    /// Checks the invariants a restored state must hold before it may observe.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        match self {
            Self::Ewma(d) => d.check(),
            Self::RobustZ(d) => d.check(),
            Self::Seasonal(d) => d.check(),
            Self::ChangePoint(d) => d.check(),
            Self::Ensemble(d) => d.check(),
        }
    }
}

impl Detector for AnyDetector {
    fn observe(&mut self, at: EventTime, value: f64) -> Verdict {
        match self {
            Self::Ewma(d) => d.observe(at, value),
            Self::RobustZ(d) => d.observe(at, value),
            Self::Seasonal(d) => d.observe(at, value),
            Self::ChangePoint(d) => d.observe(at, value),
            Self::Ensemble(d) => d.observe(at, value),
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::of(self)
    }

    fn state_bytes(&self) -> usize {
        match self {
            Self::Ewma(d) => std::mem::size_of_val(d),
            Self::RobustZ(d) => d.state_bytes(),
            Self::Seasonal(d) => d.state_bytes(),
            Self::ChangePoint(d) => std::mem::size_of_val(d),
            Self::Ensemble(d) => d.state_bytes(),
        }
    }
}
