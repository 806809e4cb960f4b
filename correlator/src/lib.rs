//! Faultline's correlator: it turns a stream of per-series anomalies into incidents.
//!
//! It owns the service topology (a `petgraph` graph of services, hosts and pods fed from YAML
//! and a topology topic), grouping of anomalies close in event time and on the graph into
//! incidents, root-cause ranking with evidence, and the incident lifecycle (opened → updated
//! → resolved, reopened).
//!
//! Like `faultline-detectors` it is pure and deterministic: time comes from the inputs, never
//! from the wall clock, so replaying the same input re-derives the same incident revisions bit
//! for bit.

pub mod correlator;
pub mod rank;
pub mod settings;
pub mod topology;
pub mod types;

pub use correlator::{Correlator, SnapshotError};
pub use rank::{EntityEvidence, RankParams, rank};
pub use settings::Settings;
pub use topology::Topology;
pub use types::*;
