//! Faultline's engine: the `faultline` binary and everything that does I/O.
//!
//! Records flow `source` (Kafka consumer group) → `pipeline` (decode, route, detect) →
//! `emit` (anomalies and dead letters to Kafka), with series state in `series`, checkpoints
//! in `store` (RocksDB) and telemetry in `telemetry` and `http`. The pipeline is synchronous
//! and deterministic; only the source, sinks and HTTP touch the network. `eval` streams
//! public benchmark data through the same detectors for scoring.

pub mod cli;
mod delivery;
pub mod demo;
pub mod emit;
pub mod http;
pub mod notify;
pub mod pipeline;
pub mod run;
pub mod series;
pub mod source;
pub mod store;
pub mod telemetry;
