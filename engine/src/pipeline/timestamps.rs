//! Which sample timestamps are accepted: bounds against the Kafka record's timestamp.
//!
//! The record's timestamp is the producer's clock when it sent the record (or the broker's,
//! for log-append-time topics). A measurement cannot come from that moment's future beyond
//! clock skew, so a sample far ahead of it is nonsense — microseconds or nanoseconds read as
//! milliseconds, a broken clock — and would move event time, and so the correlator's clock,
//! for everyone: `max_timestamp_skew` bounds it tightly. A sample behind it is backfill, a
//! supported use (replaying last month's data with a script), so `max_timestamp_age` bounds
//! it loosely, catching only the nonsense past (seconds read as milliseconds land in 1970).
//!
//! Both bounds compare two values stored in the log, so a replay accepts and rejects exactly
//! the same samples: a bound relative to the partition's recent event time would depend on
//! where a restart resumed, and one early nonsense sample would poison what follows it.

use std::time::Duration;

use faultline_detectors::duration::format;

/// The bounds, in milliseconds (`None`: unchecked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Bounds {
    /// Most a sample may be ahead of its record.
    pub ahead_ms: Option<u64>,
    /// Most a sample may be behind its record.
    pub behind_ms: Option<u64>,
}

impl Bounds {
    /// From `ingest.max_timestamp_skew` and `ingest.max_timestamp_age`.
    pub fn new(skew: Option<Duration>, age: Option<Duration>) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            ahead_ms: skew.map(ms),
            behind_ms: age.map(ms),
        }
    }

    /// Why a sample at `at` (ms) is not accepted in a record stamped `record_ts`, if it is
    /// not. A record without a timestamp bounds nothing.
    pub fn check(&self, at: i64, record_ts: Option<i64>) -> Option<String> {
        let ts = record_ts?;
        let gap = at.abs_diff(ts);
        let (bound, key, side) = if at > ts {
            (self.ahead_ms?, "max_timestamp_skew", "ahead of")
        } else {
            (self.behind_ms?, "max_timestamp_age", "behind")
        };
        (gap > bound).then(|| {
            format!(
                "timestamp {at} ms is {} {side} the record's timestamp {ts} ms (ingest.{key} {})",
                approx(gap),
                format(Duration::from_millis(bound)),
            )
        })
    }
}

/// A gap as people read it: `3.2 days`, `5.0 hours`, `250 ms`.
fn approx(ms: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("days", 86_400_000),
        ("hours", 3_600_000),
        ("minutes", 60_000),
        ("s", 1000),
    ];
    UNITS.iter().find(|(_, size)| ms >= *size).map_or_else(
        || format!("{ms} ms"),
        |(unit, size)| format!("{:.1} {unit}", ms as f64 / *size as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 1_796_515_200_000; // 2026-12-06

    fn defaults() -> Bounds {
        Bounds::new(
            Some(Duration::from_secs(86_400)),
            Some(Duration::from_secs(3650 * 86_400)),
        )
    }

    #[test]
    fn backfill_of_last_month_and_last_year_is_accepted() {
        let b = defaults();
        assert_eq!(b.check(NOW - 30 * DAY, Some(NOW)), None);
        assert_eq!(b.check(NOW - 375 * DAY, Some(NOW)), None);
        assert_eq!(b.check(NOW, Some(NOW)), None);
        assert_eq!(b.check(NOW + DAY / 2, Some(NOW)), None);
    }

    #[test]
    fn nonsense_timestamps_are_rejected_with_the_bound_named() {
        let b = defaults();
        // Seconds read as milliseconds: January 1970.
        let why = b.check(NOW / 1000, Some(NOW)).expect("1970 is rejected");
        assert!(
            why.contains("behind") && why.contains("ingest.max_timestamp_age 3650d"),
            "{why}"
        );
        // Microseconds read as milliseconds: tens of thousands of years ahead.
        let why = b
            .check(NOW * 1000, Some(NOW))
            .expect("the far future is rejected");
        assert!(
            why.contains("ahead of") && why.contains("ingest.max_timestamp_skew 1d"),
            "{why}"
        );
        assert!(b.check(NOW + 2 * DAY, Some(NOW)).is_some());
    }

    #[test]
    fn off_and_missing_record_timestamps_bound_nothing() {
        let b = Bounds::new(None, None);
        assert_eq!(b.check(0, Some(NOW)), None);
        assert_eq!(b.check(i64::MAX, Some(NOW)), None);
        assert_eq!(defaults().check(0, None), None);
        assert!(defaults().check(i64::MIN, Some(i64::MAX)).is_some());
        assert_eq!(approx(250), "250 ms");
        assert_eq!(approx(3 * DAY as u64 + DAY as u64 / 5), "3.2 days");
    }
}
