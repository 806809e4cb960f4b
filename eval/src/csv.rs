//! A small CSV reader: comma-separated, optional double-quoted fields (`""` escapes a
//! quote), no embedded newlines. That is all the corpora here use, and it keeps the crate
//! free of another dependency.

use std::path::Path;

use anyhow::{Context, Result};

/// One CSV file: its rows as strings (the caller decides which rows are headers).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Every non-empty line, split into fields.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads and splits `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        Ok(Self::parse(&text))
    }

    /// Splits CSV text.
    pub fn parse(text: &str) -> Self {
        let rows = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(split_line)
            .collect();
        Self { rows }
    }

    /// Index of the column named `name` in the first row.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.rows.first()?.iter().position(|h| h == name)
    }
}

fn split_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

/// A number, or NaN for an empty or unparsable field (the corpora use empty for "no data").
pub fn num(field: &str) -> f64 {
    field.trim().parse().unwrap_or(f64::NAN)
}

/// Unix milliseconds of a UTC time written `YYYY-MM-DD HH:MM:SS[.fraction][ anything]`
/// (Nezha's `Time` column and `inject_time`).
pub fn utc_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let clock = rest.split(' ').next()?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let ms = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(3).collect();
        let v: i64 = digits.parse().ok()?;
        v * 10_i64.pow(3 - digits.len() as u32)
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(y, m, day);
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields_and_keeps_empty_ones() {
        let t = Table::parse("a,\"b,c\",,\"d\"\"e\"\r\n\n1,2\n");
        assert_eq!(t.rows[0], vec!["a", "b,c", "", "d\"e"]);
        assert_eq!(t.rows[1], vec!["1", "2"]);
        assert!(num("").is_nan());
        assert_eq!(num(" 2.5"), 2.5);
    }

    #[test]
    fn parses_nezha_time_strings_as_utc() {
        // inject_timestamp of this fault is 1661140434.
        assert_eq!(utc_millis("2022-08-22 03:53:54"), Some(1_661_140_434_000));
        assert_eq!(
            utc_millis("2022-08-22 03:51:19.607158889 +0000 UTC m=+0.113112869"),
            Some(1_661_140_279_607)
        );
        assert_eq!(utc_millis("1970-01-01 00:00:00.5"), Some(500));
        assert_eq!(utc_millis("garbage"), None);
    }
}
