//! `ingest:` — what the engine accepts from producers, from the file to [`IngestConfig`].

use std::time::Duration;

use crate::compile::duration;
use crate::config::IngestConfig;
use crate::diagnostics::{Located, Report};
use crate::model::IngestSection;

const DEFAULT_MAX_TIMESTAMP_SKEW: Duration = Duration::from_secs(86_400);
const DEFAULT_MAX_TIMESTAMP_AGE: Duration = Duration::from_secs(3650 * 86_400);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn compile(section: Option<IngestSection>, r: &mut Report<'_>) -> IngestConfig {
    let s = section.unwrap_or_default();
    IngestConfig {
        max_timestamp_skew: bound(
            s.max_timestamp_skew,
            "ingest.max_timestamp_skew",
            DEFAULT_MAX_TIMESTAMP_SKEW,
            r,
        ),
        max_timestamp_age: bound(
            s.max_timestamp_age,
            "ingest.max_timestamp_age",
            DEFAULT_MAX_TIMESTAMP_AGE,
            r,
        ),
        idle_timeout: match s.idle_timeout {
            None => DEFAULT_IDLE_TIMEOUT,
            Some(w) => positive(&w, "ingest.idle_timeout", None, r).unwrap_or(DEFAULT_IDLE_TIMEOUT),
        },
    }
}

/// A timestamp bound: a positive duration, or `off` (`None`).
fn bound(
    written: Option<Located<String>>,
    what: &str,
    default: Duration,
    r: &mut Report<'_>,
) -> Option<Duration> {
    match written {
        None => Some(default),
        Some(w) if w.value.trim() == "off" => None,
        Some(w) => {
            positive(&w, what, Some("write `off` to accept any timestamp"), r).or(Some(default))
        }
    }
}

/// A duration that must be more than zero; reports the problem where it was written, with
/// `hint` if zero.
fn positive(
    written: &Located<String>,
    what: &str,
    hint: Option<&str>,
    r: &mut Report<'_>,
) -> Option<Duration> {
    let d = duration(written, what, r)?;
    if d.is_zero() {
        let msg = format!("`{what}` must be more than 0s");
        r.error(written.at, msg, hint.map(str::to_owned));
        return None;
    }
    Some(d)
}
