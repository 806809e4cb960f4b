//! Faultline's configuration: it will parse the YAML files SREs edit into compiled types.
//!
//! This crate is a placeholder until the engine issue lands. It will own the engine settings,
//! the rule files (which detectors watch which series, with which parameters), the static
//! topology and routes; it will parse YAML straight from text so that every problem is
//! reported as `file:line:column: message`, collect *all* problems before failing, and
//! generate a JSON Schema from the same types for editor completion.
//!
//! Detector parameters are already typed in `faultline-detectors` (for example
//! [`faultline_detectors::EnsembleParams`]); the rule files will deserialize into those.

pub use faultline_detectors::EnsembleParams;
