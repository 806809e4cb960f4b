//! Anomalies as the engine publishes them, parsed and checked against the contract.

use std::time::Duration;

use serde_json::Value;

use crate::broker::Broker;
use crate::consume::{Record, read_all};

/// One anomaly record, its fields checked for shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// The record's key (the entity name).
    pub key: Option<String>,
    /// The exact payload text, for byte-for-byte comparisons across runs.
    pub raw: String,
    /// `id`: 16 hex digits, deterministic from series, detector and time.
    pub id: String,
    /// `series.name`.
    pub series_name: String,
    /// `series.labels.service`, if present.
    pub service: Option<String>,
    /// `entity.kind`.
    pub entity_kind: String,
    /// `entity.name`.
    pub entity_name: String,
    /// `at_ms`.
    pub at_ms: i64,
    /// `value`.
    pub value: f64,
    /// `score`, in `[0, 1]`.
    pub score: f64,
    /// `direction`: `up` or `down`.
    pub direction: String,
    /// `expected.lower`.
    pub lower: f64,
    /// `expected.upper`.
    pub upper: f64,
    /// `detector`.
    pub detector: String,
    /// `severity`.
    pub severity: String,
    /// `source.topic`.
    pub source_topic: String,
    /// `source.partition`.
    pub source_partition: i64,
    /// `source.offset`.
    pub source_offset: i64,
}

impl Anomaly {
    /// Parses and checks one record of the anomalies topic; the error says which field is
    /// wrong and shows the payload.
    pub fn parse(record: &Record) -> Result<Self, String> {
        let raw = record.payload_str();
        let fail = |what: &str| format!("{what} in anomaly {raw}");
        let v: Value = serde_json::from_str(&raw).map_err(|e| fail(&format!("bad JSON ({e})")))?;
        let s = |path: &[&str]| -> Result<String, String> {
            lookup(&v, path)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| fail(&format!("no string at {}", path.join("."))))
        };
        let f = |path: &[&str]| -> Result<f64, String> {
            lookup(&v, path)
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite())
                .ok_or_else(|| fail(&format!("no finite number at {}", path.join("."))))
        };
        let i = |path: &[&str]| -> Result<i64, String> {
            lookup(&v, path)
                .and_then(Value::as_i64)
                .ok_or_else(|| fail(&format!("no integer at {}", path.join("."))))
        };
        let a = Anomaly {
            key: record.key_str(),
            id: s(&["id"])?,
            series_name: s(&["series", "name"])?,
            service: lookup(&v, &["series", "labels", "service"])
                .and_then(Value::as_str)
                .map(str::to_owned),
            entity_kind: s(&["entity", "kind"])?,
            entity_name: s(&["entity", "name"])?,
            at_ms: i(&["at_ms"])?,
            value: f(&["value"])?,
            score: f(&["score"])?,
            direction: s(&["direction"])?,
            lower: f(&["expected", "lower"])?,
            upper: f(&["expected", "upper"])?,
            detector: s(&["detector"])?,
            severity: s(&["severity"])?,
            source_topic: s(&["source", "topic"])?,
            source_partition: i(&["source", "partition"])?,
            source_offset: i(&["source", "offset"])?,
            raw: raw.clone(),
        };
        if a.id.len() != 16 || !a.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("id is not 16 hex digits"));
        }
        if !(0.0..=1.0).contains(&a.score) {
            return Err(fail("score outside [0, 1]"));
        }
        if a.direction != "up" && a.direction != "down" {
            return Err(fail("direction neither up nor down"));
        }
        if a.lower > a.upper {
            return Err(fail("expected.lower above expected.upper"));
        }
        s(&["rule"])?;
        let at = s(&["at"])?;
        match rfc3339_millis(&at) {
            Some(ms) if ms == a.at_ms => {}
            Some(ms) => return Err(fail(&format!("at is {ms} ms but at_ms is {}", a.at_ms))),
            None => return Err(fail("at is not RFC 3339")),
        }
        if a.key.as_deref() != Some(a.entity_name.as_str()) {
            return Err(fail(&format!(
                "record key {:?} is not the entity name",
                a.key
            )));
        }
        Ok(a)
    }
}

fn lookup<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// Every anomaly on `topic` up to its current end, parsed; panics on a malformed one.
pub fn read_anomalies(broker: &Broker, topic: &str, timeout: Duration) -> Vec<Anomaly> {
    read_all(broker, topic, timeout)
        .iter()
        .map(|r| Anomaly::parse(r).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Milliseconds since the epoch of an RFC 3339 timestamp (`2024-05-01T12:00:00.250Z`,
/// `...+02:00`); `None` if it is not one.
pub fn rfc3339_millis(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut pos = 19;
    let mut millis = 0;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        pos = start;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let frac = t.get(start..pos)?;
        if frac.is_empty() {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..frac.len().min(3)]);
        millis = padded.parse::<i64>().ok()?;
    }
    let offset_min = match t.get(pos..)? {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") && &o[3..4] == ":" => {
            let m = num(pos + 1..pos + 3)? * 60 + num(pos + 4..pos + 6)?;
            if o.starts_with('-') { -m } else { m }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + s * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_millis;

    #[test]
    fn rfc3339_parses_to_epoch_millis() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_millis("2024-03-01T12:34:56.789Z"),
            Some(1_709_296_496_789)
        );
        assert_eq!(
            rfc3339_millis("2024-03-01T14:34:56.789+02:00"),
            Some(1_709_296_496_789)
        );
        assert_eq!(
            rfc3339_millis("2024-03-01T12:34:56.7Z"),
            Some(1_709_296_496_700)
        );
        assert_eq!(rfc3339_millis("2024-03-01 12:34"), None);
    }
}
