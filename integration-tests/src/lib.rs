//! Harness for the black-box tests of the `faultline` binary (tests live in `tests/`).
//!
//! The tests treat the engine as a process: they write a config file, start
//! `faultline-it run --config FILE` (the whole CLI, built by this package so cargo builds it
//! before the tests), produce records to a Kafka-protocol broker, and judge the engine only
//! by what it publishes (anomalies, dead-letter and incidents topics), what its webhooks
//! receive ([`webhook`]), what `/metrics` says, and how the process exits. No test looks at
//! engine internals.
//!
//! The broker is librdkafka's mock cluster running inside the test process, over real TCP on
//! loopback — or, when `FAULTLINE_TEST_BROKERS` is set, an external Kafka. Every test makes
//! its own topics and consumer groups with unique names, so tests run in parallel and against
//! a shared broker without seeing each other.
//!
//! Every wait polls a condition against a deadline ([`wait`]); a timeout fails with the
//! engine's stderr tail, because "timed out" alone says nothing about why.

pub mod anomaly;
pub mod broker;
pub mod cascade;
pub mod config;
pub mod consume;
pub mod engine;
pub mod http;
pub mod incident;
pub mod produce;
pub mod prom;
pub mod series;
pub mod wait;
pub mod webhook;

pub use anomaly::Anomaly;
pub use broker::{Broker, unique};
pub use config::EngineConfig;
pub use consume::{Record, read_all};
pub use engine::Engine;
pub use produce::Producer;
pub use prom::Metrics;
pub use webhook::{Reply, WebhookReceiver};
