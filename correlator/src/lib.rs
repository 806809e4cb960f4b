//! Faultline's correlator: it will turn a stream of per-series anomalies into incidents.
//!
//! This crate is a placeholder until the correlator issue lands. It will own the service
//! topology (a `petgraph` graph of services, hosts and pods fed from YAML and a topology topic),
//! grouping of anomalies close in event time and on the graph into incidents, root-cause
//! ranking with evidence, and the incident lifecycle (opened → updated → resolved).
//!
//! Like `faultline-detectors` it will stay pure and deterministic: time comes from the
//! anomalies, never from the wall clock, so replaying the same input re-derives the same
//! incident revisions bit for bit.

/// The detector-side types the correlator will consume.
pub use faultline_detectors::{EventTime, Verdict};
