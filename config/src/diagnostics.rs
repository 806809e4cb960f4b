//! Problems found in configuration files, each pinned to `file:line:column`.
//!
//! Every problem — a YAML syntax error, an unknown key, a bad regex, a rule name used twice —
//! becomes one [`Diagnostic`] carrying the place in the file a person has to edit. Values
//! that are checked after deserialization are read as [`Located`] so their position
//! survives until the check runs.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_saphyr::{MessageFormatter, Spanned};

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", hint_suffix(.hint))]
pub struct Diagnostic {
    /// The file as it was named to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, starting lowercase and naming the offending key or value.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
}

/// Every problem found while loading, in file order; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

fn lines(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A 1-based line and column in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Loc {
    pub line: usize,
    pub column: usize,
}

impl Loc {
    /// Where a file-level problem (one that has no better place) is reported.
    pub const START: Loc = Loc { line: 1, column: 1 };

    fn of(location: serde_saphyr::Location) -> Self {
        // A location of 0 means serde-saphyr could not track it (it cannot through serde's
        // buffered `flatten`/`untagged`/internally tagged paths, which this crate avoids);
        // the start of the file is the least misleading place left.
        match (location.line(), location.column()) {
            (0, _) | (_, 0) => Self::START,
            (line, column) => Self {
                line: line as usize,
                column: column as usize,
            },
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A deserialized value and where it was written, for checks that run after parsing.
///
/// Equality and order look at the value only, so a `Located<String>` can key a map.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    pub value: T,
    pub at: Loc,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<T>::deserialize(deserializer)?;
        Ok(Self {
            value: spanned.value,
            // The use site: with an alias, that is the line the reader of this part of the
            // file is looking at.
            at: Loc::of(spanned.referenced),
        })
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl<T: Ord> PartialOrd for Located<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Located<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

/// The location is not part of the file format, so the schema is the value's.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Collects the problems of one file.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub file: &'a str,
    pub out: &'a mut Vec<Diagnostic>,
}

impl Report<'_> {
    pub fn error(&mut self, at: Loc, message: impl Into<String>, hint: Option<String>) {
        self.out.push(Diagnostic {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
            hint,
        });
    }
}

/// Turns a serde-saphyr error into a diagnostic with a message in this crate's style.
/// `text` is the file's content, to quote the offending value.
pub(crate) fn from_yaml_error(file: &str, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let location = error.location();
    let at = location.map_or(Loc::START, Loc::of);
    let inner = error.without_snippet();
    let (message, hint) = match inner {
        serde_saphyr::Error::InvalidScalar { ty, .. } => {
            let what = match *ty {
                "floating point" | "f32" | "f64" => "a number",
                "boolean" | "bool" => "`true` or `false`",
                t if t.starts_with('u') => "a whole number, 0 or more",
                t if t.starts_with('i') => "a whole number",
                t => t,
            };
            let found = location.and_then(|l| quote(text, l.span()));
            let found = found.map(|f| format!(", found `{f}`")).unwrap_or_default();
            (format!("expected {what}{found}"), None)
        }
        serde_saphyr::Error::SerdeMissingField { field, .. } => {
            (format!("missing key `{field}`"), None)
        }
        serde_saphyr::Error::NullIntoString { .. } => (
            "a value is required here".to_owned(),
            Some("write a value, or leave the key out for its default".to_owned()),
        ),
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => (
            format!("unknown key `{field}`"),
            Some(allowed_hint(field, expected, "allowed keys")),
        ),
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let what = if expected[..] == faultline_detectors::DetectorSpec::NAMES[..] {
                "detector kind"
            } else {
                "value"
            };
            (
                format!("unknown {what} `{variant}`"),
                Some(allowed_hint(variant, expected, "expected one of")),
            )
        }
        serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => (
            format!("key `{key}` appears twice in the same mapping"),
            None,
        ),
        other => {
            let text = serde_saphyr::DefaultMessageFormatter.format_message(other);
            // Messages from dependencies may carry line breaks; a diagnostic is one line.
            (text.split_whitespace().collect::<Vec<_>>().join(" "), None)
        }
    };
    Diagnostic {
        file: file.to_owned(),
        line: at.line,
        column: at.column,
        message,
        hint,
    }
}

/// The source text of a short, single-line span.
fn quote(text: &str, span: serde_saphyr::Span) -> Option<&str> {
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let found = text.get(start..start.checked_add(len)?)?;
    (!found.is_empty() && found.len() <= 80 && !found.contains('\n')).then_some(found)
}

/// `allowed keys: a, b, c`, led by a suggestion when one of them is a likely typo fix.
pub(crate) fn allowed_hint(given: &str, allowed: &[&str], label: &str) -> String {
    let list = allowed.join(", ");
    match closest(given, allowed) {
        Some(best) => format!("did you mean `{best}`? {label}: {list}"),
        None => format!("{label}: {list}"),
    }
}

/// The allowed word within two edits of `given`, if there is one.
fn closest<'a>(given: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(given, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_column_message_and_hint() {
        let d = Diagnostic {
            file: "a.yaml".into(),
            line: 3,
            column: 7,
            message: "unknown key `x`".into(),
            hint: Some("allowed keys: y".into()),
        };
        assert_eq!(
            d.to_string(),
            "a.yaml:3:7: unknown key `x` (allowed keys: y)"
        );
        let plain = Diagnostic {
            hint: None,
            ..d.clone()
        };
        assert_eq!(plain.to_string(), "a.yaml:3:7: unknown key `x`");
        assert_eq!(
            Diagnostics(vec![d, plain]).to_string(),
            "a.yaml:3:7: unknown key `x` (allowed keys: y)\na.yaml:3:7: unknown key `x`"
        );
    }

    #[test]
    fn suggests_only_near_misses() {
        assert_eq!(
            closest("treshold", &["threshold", "warmup"]),
            Some("threshold")
        );
        assert_eq!(closest("bogus", &["threshold", "warmup"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
