//! The correlator's clock: a low watermark over the metrics partitions, with idleness.
//!
//! Partitions run ahead of one another (a backlog batch of one arrives before another's), so
//! the clock is the least latest event time among the partitions that may still deliver
//! older records: those with records left to read (consumer lag from the client's
//! statistics) and those that received a record within the idle timeout. A partition that
//! has nothing left to read and has been quiet for the idle timeout no longer holds the
//! clock (source idleness, as streaming engines call it): a producer that writes to some
//! partitions only, or a topic gone silent, would otherwise stop every incident. It rejoins
//! with its next record. A partition assigned but never read holds the clock where it is
//! until the idle timeout has passed since its assignment, since it may hold anything.
//!
//! When every partition is idle, everything there was to read has been read, so the clock
//! is the latest event time of any partition.

use std::time::{Duration, Instant};

/// What the clock needs to know of one metrics partition.
#[derive(Debug, Clone, Copy)]
pub(super) struct InputClock {
    /// Latest sample event time read from it (ms), if any.
    pub latest: Option<i64>,
    /// When its last record with a sample was received (wall clock), if any.
    pub last_record: Option<Instant>,
    /// When it was assigned (wall clock).
    pub assigned: Instant,
    /// Whether it has records left to read (consumer lag > 0).
    pub lagging: bool,
}

/// The clock over `inputs` at wall-clock `now`: `None` while some partition holds it where
/// it is (or no partition has any event time).
pub(super) fn low_watermark(
    inputs: impl IntoIterator<Item = InputClock>,
    now: Instant,
    idle: Duration,
) -> Option<i64> {
    let recent = |t: Instant| now.saturating_duration_since(t) <= idle;
    let (mut low, mut high) = (None::<i64>, None::<i64>);
    for p in inputs {
        let active = p.lagging || recent(p.last_record.unwrap_or(p.assigned));
        match (active, p.latest) {
            (true, Some(t)) => low = Some(low.map_or(t, |l| l.min(t))),
            // Not read from yet: it may hold anything, so the clock waits for it.
            (true, None) if p.last_record.is_none() => return None,
            // Records but no event time in them (all dead-lettered, or not samples).
            (true, None) => {}
            (false, t) => high = high.max(t),
        }
    }
    low.or(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(30);

    fn input(latest: Option<i64>, record_ago: Option<u64>, assigned_ago: u64) -> InputClock {
        let now = Instant::now();
        let ago = |s: u64| now.checked_sub(Duration::from_secs(s)).unwrap_or(now);
        InputClock {
            latest,
            last_record: record_ago.map(ago),
            assigned: ago(assigned_ago),
            lagging: false,
        }
    }

    #[test]
    fn active_partitions_hold_the_clock_at_the_least_of_them() {
        let inputs = [
            input(Some(5_000), Some(1), 100),
            input(Some(3_000), Some(2), 100),
        ];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(3_000));
    }

    #[test]
    fn a_quiet_partition_stops_holding_the_clock_after_the_idle_timeout() {
        let behind = input(Some(1_000), Some(31), 100);
        let inputs = [input(Some(5_000), Some(1), 100), behind];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(5_000));
        // Still within the timeout, it holds.
        let inputs = [
            input(Some(5_000), Some(1), 100),
            input(Some(1_000), Some(29), 100),
        ];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(1_000));
    }

    #[test]
    fn a_lagging_partition_holds_the_clock_however_long_it_was_quiet() {
        let mut behind = input(Some(1_000), Some(600), 900);
        behind.lagging = true;
        let inputs = [input(Some(5_000), Some(1), 900), behind];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(1_000));
    }

    #[test]
    fn a_partition_never_read_holds_the_clock_until_the_idle_timeout_after_assignment() {
        let inputs = [input(Some(5_000), Some(1), 10), input(None, None, 10)];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), None);
        let inputs = [input(Some(5_000), Some(1), 40), input(None, None, 40)];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(5_000));
    }

    #[test]
    fn when_every_partition_is_idle_the_clock_is_the_latest_event_time_read() {
        let inputs = [
            input(Some(5_000), Some(60), 100),
            input(Some(9_000), Some(45), 100),
            input(None, None, 100),
        ];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(9_000));
        assert_eq!(low_watermark([], Instant::now(), IDLE), None);
    }

    #[test]
    fn a_partition_whose_records_carry_no_event_time_does_not_hold_the_clock() {
        let inputs = [input(Some(5_000), Some(1), 100), input(None, Some(1), 100)];
        assert_eq!(low_watermark(inputs, Instant::now(), IDLE), Some(5_000));
    }
}
