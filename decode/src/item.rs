//! What a record decodes into: samples, log records and change events.

use std::borrow::Cow;

use faultline_detectors::EventTime;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::Labels;

/// One metric observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Metric name.
    pub name: Cow<'a, str>,
    /// Series labels.
    pub labels: Labels<'a>,
    /// When it was observed, from the record (never the wall clock).
    pub at: EventTime,
    /// The observed value; always finite.
    pub value: f64,
}

impl Sample<'_> {
    /// Identity of the series: equal for equal (name, label set), whatever the input order.
    pub fn series_hash(&self) -> u64 {
        series_hash(&self.name, &self.labels)
    }

    /// A copy that owns its strings.
    pub fn into_owned(self) -> Sample<'static> {
        Sample {
            name: Cow::Owned(self.name.into_owned()),
            labels: self.labels.into_owned(),
            at: self.at,
            value: self.value,
        }
    }
}

/// xxh3 of the name and the sorted labels, each part prefixed with its length as a
/// little-endian `u64` so that no two different series serialise to the same bytes
/// (`{a="b,c"}` vs `{a="b", c=""}` and the like).
pub fn series_hash(name: &str, labels: &Labels<'_>) -> u64 {
    // One-shot hashing of a stack copy is several times cheaper than the streaming state,
    // which is left for series too long for the buffer.
    let mut buf = [0u8; 384];
    let mut len = 0;
    let mut put = |part: &str| {
        let end = len + 8 + part.len();
        let Some(slot) = buf.get_mut(len..end) else {
            return false;
        };
        slot[..8].copy_from_slice(&(part.len() as u64).to_le_bytes());
        slot[8..].copy_from_slice(part.as_bytes());
        len = end;
        true
    };
    if put(name) && labels.iter().all(|(k, v)| put(k) && put(v)) {
        return xxh3_64(&buf[..len]);
    }
    let mut hasher = Xxh3::new();
    for part in std::iter::once(name).chain(labels.iter().flat_map(|(k, v)| [k, v])) {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.digest()
}

/// One log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord<'a> {
    /// When it was logged.
    pub at: EventTime,
    /// The service that logged it.
    pub service: Cow<'a, str>,
    /// Severity as the producer wrote it (`"info"` when absent).
    pub level: Cow<'a, str>,
    /// The log message.
    pub message: Cow<'a, str>,
    /// Further attributes; non-string JSON values hold their JSON text.
    pub attributes: Labels<'a>,
}

impl LogRecord<'_> {
    /// A copy that owns its strings.
    pub fn into_owned(self) -> LogRecord<'static> {
        LogRecord {
            at: self.at,
            service: Cow::Owned(self.service.into_owned()),
            level: Cow::Owned(self.level.into_owned()),
            message: Cow::Owned(self.message.into_owned()),
            attributes: self.attributes.into_owned(),
        }
    }
}

/// A change to the system: a deploy, a config change, a scaling action.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent<'a> {
    /// When it happened.
    pub at: EventTime,
    /// What kind of change: `deploy`, `config_change`, `scale`, …
    pub kind: Cow<'a, str>,
    /// What changed (a service, a host, a cluster).
    pub entity: Cow<'a, str>,
    /// Further attributes; non-string JSON values hold their JSON text.
    pub attributes: Labels<'a>,
}

impl ChangeEvent<'_> {
    /// A copy that owns its strings.
    pub fn into_owned(self) -> ChangeEvent<'static> {
        ChangeEvent {
            at: self.at,
            kind: Cow::Owned(self.kind.into_owned()),
            entity: Cow::Owned(self.entity.into_owned()),
            attributes: self.attributes.into_owned(),
        }
    }
}

/// One decoded item of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// From a metrics topic.
    Metric(Sample<'a>),
    /// From a logs topic.
    Log(LogRecord<'a>),
    /// From a change-events topic.
    Event(ChangeEvent<'a>),
}

impl Item<'_> {
    /// A copy that owns its strings.
    pub fn into_owned(self) -> Item<'static> {
        match self {
            Item::Metric(sample) => Item::Metric(sample.into_owned()),
            Item::Log(log) => Item::Log(log.into_owned()),
            Item::Event(event) => Item::Event(event.into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(name: &str, pairs: &[(&str, &str)]) -> u64 {
        series_hash(name, &Labels::from_pairs(pairs.iter().copied()).unwrap())
    }

    #[test]
    fn series_hash_ignores_label_order() {
        assert_eq!(
            hash("cpu", &[("host", "a"), ("region", "eu")]),
            hash("cpu", &[("region", "eu"), ("host", "a")])
        );
    }

    #[test]
    fn series_hash_separates_parts_unambiguously() {
        assert_ne!(
            hash("cpu", &[("a", "b,c")]),
            hash("cpu", &[("a", "b"), ("c", "")])
        );
        assert_ne!(hash("ab", &[]), hash("a", &[("b", "")]));
        assert_ne!(hash("cpu", &[("ab", "c")]), hash("cpu", &[("a", "bc")]));
        assert_ne!(hash("cpu", &[]), hash("mem", &[]));
    }

    #[test]
    fn series_hash_is_the_same_on_the_stack_and_streaming_paths() {
        let long = "x".repeat(400);
        let labels = Labels::from_pairs([("k", long.as_str())]).unwrap();
        let mut bytes = Vec::new();
        for part in ["m", "k", long.as_str()] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
        assert_eq!(series_hash("m", &labels), xxh3_64(&bytes));
        let short = Labels::from_pairs([("k", "v")]).unwrap();
        let mut streaming = Xxh3::new();
        for part in ["m", "k", "v"] {
            streaming.update(&(part.len() as u64).to_le_bytes());
            streaming.update(part.as_bytes());
        }
        assert_eq!(series_hash("m", &short), streaming.digest());
    }
}
