//! Faultline's configuration: the YAML files SREs edit, checked and compiled into [`Config`].
//!
//! The contract: [`load_files`] either returns a [`Config`] the engine can run as is —
//! every default filled in, every duration and size parsed, every pattern compiled, every
//! detector parameter within its documented bounds — or [`Diagnostics`] listing *all* the
//! problems of *all* the files, each as `file:line:column: message (hint)`. The engine never
//! re-validates and never falls back.
//!
//! Why it is built this way:
//!
//! - **YAML straight from text.** Files are deserialized by serde-saphyr directly into typed
//!   models (`model.rs`), never through an untyped value, so every syntax or type error has
//!   its line and column. Values checked after reading (durations, sizes, regexes, names
//!   that must be unique) are read together with their position, so those problems are
//!   located too.
//! - **Report everything.** After a file parses, each check reports and continues with a
//!   stand-in value; one failing file does not stop the others from being checked. (Serde
//!   stops a file at its first *syntax or type* error, so those come one per file.)
//! - **Validate once into types that cannot be wrong** (`LowArgs` → `HiArgs` in ripgrep):
//!   [`Config`] has no `Option` where a default exists and no unchecked text.
//! - **One source for docs and schema.** The `///` docs of the model are the user reference
//!   and the descriptions of [`json_schema`].
//! - **Routing is compiled.** [`Config::route`] runs once per new series with patterns
//!   compiled at load, first matching rule wins; [`Config::rule`] gives what the series gets.
//!
//! Detector parameters are the catalogue's own ([`faultline_detectors::DetectorSpec`]); a
//! detector entry must write `kind` first so problems in its parameters keep their position.

mod compile;
mod config;
mod detector;
mod diagnostics;
mod incidents;
mod ingest;
pub mod judge;
mod load;
mod matching;
mod model;
mod schema;
mod units;

pub use config::{
    Bad, CompiledRule, Config, HttpConfig, IngestConfig, KafkaConfig, LogConfig, LogFormat,
    ReceiverConfig, ReceiverKind, ReceiverType, Rule, RuleDefaults, Severity, StateConfig,
    TopicConfig, TopicFormat, TopicKind, TopologyConfig,
};
pub use config::{DEFAULT_MAX_BACKOFF, DEFAULT_RECEIVER_TIMEOUT, PAGERDUTY_URL};
pub use diagnostics::{Diagnostic, Diagnostics};
pub use faultline_detectors::DetectorSpec;
pub use incidents::KAFKA_RECEIVER;
pub use load::{load_files, load_str};
pub use matching::{LabelMatcher, MetricMatcher, RouteId, RuleMatcher};
pub use schema::json_schema;
