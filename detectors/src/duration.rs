//! Durations written with units (`"250ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"`, `"1w"`).
//!
//! Parameters never take bare numbers with an implied unit; this module is the one place
//! that turns the written form into a [`std::time::Duration`] and back.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"<number><unit>"` with unit one of ms, s, m, h, d, w.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{text}` has no unit (use ms, s, m, h, d or w)"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("duration `{text}` does not start with a number"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86_400.0,
        "w" => number * 604_800.0,
        other => return Err(format!("duration `{text}` has unknown unit `{other}`")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("duration `{text}`: {e}"))
}

/// Formats a duration in the largest unit that divides it exactly.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// `#[serde(with = "crate::duration")]` for `Duration` fields.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

/// See [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(format(Duration::from_secs(86_400)), "1d");
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert!(parse("30").is_err());
        assert!(parse("3 parsecs").is_err());
        assert!(parse("-1s").is_err());
    }
}
