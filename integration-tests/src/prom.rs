//! Prometheus text exposition format, parsed just enough to assert on Faultline's metrics.

use std::collections::BTreeMap;

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with any `_bucket`/`_sum` suffix as written).
    pub name: String,
    /// Label names to values, unescaped.
    pub labels: BTreeMap<String, String>,
    /// The value (`NaN`, `+Inf` and `-Inf` included).
    pub value: f64,
}

/// A scrape of `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Every sample, in exposition order.
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// Parses exposition text; comment lines (`# HELP`, `# TYPE`) are skipped.
    pub fn parse(text: &str) -> Result<Self, String> {
        let samples = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| parse_line(l).ok_or_else(|| format!("unparseable metrics line {l:?}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { samples })
    }

    /// Samples of metric `name` whose labels include every pair of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
    }

    /// Sum of metric `name` over every label set including `labels`; 0 when absent (a
    /// counter that never moved is often not exported at all).
    pub fn sum_where(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// Sum of metric `name` over all its label sets; 0 when absent.
    pub fn sum(&self, name: &str) -> f64 {
        self.sum_where(name, &[])
    }

    /// The one sample of `name` including `labels`, if exactly one matches.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut it = self.matching(name, labels);
        let first = it.next()?;
        it.next().is_none().then_some(first.value)
    }

    /// Whether metric `name` is exported at all.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// The lines of metrics whose name starts with `prefix`, for failure messages.
    pub fn render(&self, prefix: &str) -> String {
        let mut out = String::new();
        for s in self.samples.iter().filter(|s| s.name.starts_with(prefix)) {
            out.push_str(&format!("{}{:?} {}\n", s.name, s.labels, s.value));
        }
        out
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let consumed = loop {
            // Skip separators, stop at the closing brace.
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    chars.next();
                } else {
                    break;
                }
            }
            let &(start, c) = chars.peek()?;
            if c == '}' {
                break start + 1;
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            labels.insert(key.trim().to_owned(), value);
        };
        rest = &inner[consumed..];
    }
    let value = match rest.split_whitespace().next()? {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_escapes_and_sums_over_label_sets() {
        let m = Metrics::parse(
            "# HELP faultline_records_total x\n\
             # TYPE faultline_records_total counter\n\
             faultline_records_total{topic=\"m\",outcome=\"ok\"} 7\n\
             faultline_records_total{outcome=\"dead_letter\",topic=\"m\"} 2\n\
             faultline_series 3\n\
             weird{a=\"x\\\"y,z}\"} 1.5e3\n",
        )
        .unwrap();
        assert_eq!(m.sum("faultline_records_total"), 9.0);
        assert_eq!(
            m.get("faultline_records_total", &[("outcome", "ok")]),
            Some(7.0)
        );
        assert_eq!(m.get("faultline_records_total", &[]), None, "two match");
        assert_eq!(m.get("faultline_series", &[]), Some(3.0));
        assert_eq!(m.get("weird", &[("a", "x\"y,z}")]), Some(1500.0));
        assert_eq!(m.sum("absent"), 0.0);
    }
}
