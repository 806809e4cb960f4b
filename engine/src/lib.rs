//! Faultline's engine: the `faultline` binary and everything that does I/O.
//!
//! Today it holds the evaluation harness (`faultline eval nab`), which streams public
//! benchmark data through the detectors exactly as the service will stream Kafka records:
//! one series at a time, in row order, on event time, with no look-ahead. The Kafka source,
//! decoders, sharded series state, RocksDB checkpoints, sinks and HTTP API arrive with the
//! engine issue and live here too; the library crates stay free of I/O.

pub mod eval;
