//! Durations and sizes written with their units.
//!
//! A bare `30` could mean seconds or milliseconds, bytes or megabytes; the file format never
//! guesses. Durations share their syntax with detector parameters
//! ([`faultline_detectors::duration`]) so one spelling works everywhere.

use std::time::Duration;

/// `"<number><unit>"` with unit ms, s, m, h, d or w.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    faultline_detectors::duration::parse(text)
}

const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
];

/// `"<number><unit>"` with unit B, KiB, MiB, GiB, TiB (binary) or KB, MB, GB, TB (decimal);
/// the number may have a fraction (`"1.5GiB"`), the result is rounded down to whole bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("size `{text}` has no unit"))?;
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let scale = SIZE_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| format!("size `{text}` has unknown unit `{unit}`"))?;
    if let Ok(whole) = number.parse::<u64>() {
        return whole
            .checked_mul(scale)
            .ok_or_else(|| format!("size `{text}` is too large"));
    }
    let fractional: f64 = number
        .parse()
        .map_err(|_| format!("size `{text}` does not start with a number"))?;
    let bytes = fractional * scale as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("size `{text}` is too large"));
    }
    Ok(bytes as u64)
}

/// The units [`parse_size`] accepts, for hints.
pub(crate) const SIZE_HINT: &str =
    "write a number and a unit: B, KiB, MiB, GiB, TiB, KB, MB, GB or TB, e.g. `512MiB`";

/// The units [`parse_duration`] accepts, for hints.
pub(crate) const DURATION_HINT: &str = "write a number and a unit: ms, s, m, h, d or w, e.g. `30s`";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_sizes() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("3MB"), Ok(3_000_000));
        assert_eq!(parse_size("0B"), Ok(0));
    }

    #[test]
    fn rejects_sizes_without_a_known_unit() {
        assert!(parse_size("1024").unwrap_err().contains("no unit"));
        assert!(parse_size("2Gb").unwrap_err().contains("unknown unit `Gb`"));
        assert!(parse_size("GiB").unwrap_err().contains("does not start"));
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn parses_durations_like_detector_parameters() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("10").is_err());
    }
}
