//! Timestamps in the units producers write, to [`EventTime`] milliseconds.
//!
//! Every format rejects instants before 1970: they come from unset clocks or unit mistakes,
//! and no detector window reaches back that far.

use faultline_detectors::EventTime;

const BEFORE_1970: &str = "timestamp before 1970";

/// Milliseconds since the epoch, as an integer.
pub(crate) fn from_millis(ms: i64) -> Result<EventTime, String> {
    if ms < 0 {
        return Err(BEFORE_1970.to_owned());
    }
    Ok(EventTime::from_millis(ms))
}

/// Milliseconds since the epoch with a fraction, truncated to whole milliseconds.
pub(crate) fn from_fractional_millis(ms: f64) -> Result<EventTime, String> {
    if !ms.is_finite() {
        return Err("timestamp is not finite".to_owned());
    }
    if ms < 0.0 {
        return Err(BEFORE_1970.to_owned());
    }
    // 2^63 is exactly representable; anything at or past it does not fit an i64.
    if ms >= 9_223_372_036_854_775_808.0 {
        return Err("timestamp out of range".to_owned());
    }
    Ok(EventTime::from_millis(ms as i64))
}

/// Nanoseconds since the epoch, floored to milliseconds.
pub(crate) fn from_nanos(ns: i64) -> Result<EventTime, String> {
    from_millis(ns.div_euclid(1_000_000))
}

/// Unsigned nanoseconds since the epoch (OTLP's `fixed64`), floored to milliseconds.
pub(crate) fn from_unsigned_nanos(ns: u64) -> EventTime {
    // u64::MAX ns / 1e6 is far below i64::MAX ms, so the cast cannot wrap.
    EventTime::from_millis((ns / 1_000_000) as i64)
}

/// An RFC 3339 date-time such as `2024-05-01T12:00:00.250+02:00`.
pub(crate) fn from_rfc3339(text: &str) -> Result<EventTime, String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|err| format!("timestamp {text:?} is not rfc 3339 ({err})"))?;
    from_millis(parsed.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_offsets_and_fractions() {
        let at = from_rfc3339("2024-05-01T12:00:00.250+02:00").unwrap();
        assert_eq!(at.as_millis(), 1_714_557_600_250);
        assert_eq!(from_rfc3339("1970-01-01T00:00:00Z").unwrap().as_millis(), 0);
        let err = from_rfc3339("yesterday").unwrap_err();
        assert!(
            err.starts_with("timestamp \"yesterday\" is not rfc 3339"),
            "{err}"
        );
        assert_eq!(
            from_rfc3339("1969-12-31T23:59:59Z").unwrap_err(),
            BEFORE_1970
        );
    }

    #[test]
    fn converts_units_and_rejects_the_unrepresentable() {
        assert_eq!(
            from_nanos(1_465_839_830_100_400_200).unwrap().as_millis(),
            1_465_839_830_100
        );
        assert_eq!(from_nanos(-1).unwrap_err(), BEFORE_1970);
        assert_eq!(from_fractional_millis(1.5).unwrap().as_millis(), 1);
        assert!(from_fractional_millis(f64::INFINITY).is_err());
        assert!(from_fractional_millis(1e19).is_err());
        assert_eq!(
            from_unsigned_nanos(u64::MAX).as_millis(),
            18_446_744_073_709
        );
    }
}
