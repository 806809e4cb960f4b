//! Routing a series to its rule: metric and label matchers, compiled once at load.
//!
//! The engine routes each *new* series once and keeps the [`RouteId`], so routing only has
//! to be cheap, not free: patterns are compiled at load time and a rule is rejected by its
//! metric matcher before any label is looked at.

use globset::GlobMatcher;
use regex::Regex;

use crate::config::{CompiledRule, Config};

/// Which rule a series was routed to: an index into the [`Config`] that issued it.
///
/// It is only meaningful for that `Config`; after a reload, route again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteId(u32);

impl RouteId {
    /// No rule matched: the series gets the `defaults`.
    pub const DEFAULT: RouteId = RouteId(u32::MAX);

    /// Whether no rule matched.
    pub fn is_default(self) -> bool {
        self == Self::DEFAULT
    }
}

/// The `match:` of a rule. A series matches when its metric matches and every label
/// matcher holds; an empty matcher matches every series.
#[derive(Debug, Clone, Default)]
pub struct RuleMatcher {
    /// Test on the metric name.
    pub metric: MetricMatcher,
    /// Tests on labels, by label name; all must hold.
    pub labels: Vec<(String, LabelMatcher)>,
}

/// Test on a metric name.
#[derive(Debug, Clone, Default)]
pub enum MetricMatcher {
    /// Every metric.
    #[default]
    Any,
    /// A glob over the whole name.
    Glob(GlobMatcher),
    /// A regex, unanchored unless written with `^`/`$`.
    Regex(Regex),
}

impl MetricMatcher {
    fn matches(&self, metric: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Glob(glob) => glob.is_match(metric),
            Self::Regex(regex) => regex.is_match(metric),
        }
    }
}

/// Test on one label. The positive tests need the label present; the negative ones hold
/// for an absent label too.
#[derive(Debug, Clone)]
pub enum LabelMatcher {
    /// Present with exactly this value.
    Equals(String),
    /// Absent, or present with another value.
    NotEquals(String),
    /// Present with a value the regex matches (unanchored unless written with `^`/`$`).
    Regex(Regex),
    /// Absent, or present with a value the regex does not match.
    NotRegex(Regex),
    /// Present with a value the glob matches as a whole.
    Glob(GlobMatcher),
    /// `true`: the label is absent; `false`: it is present, with any value.
    Absent(bool),
}

impl LabelMatcher {
    fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Self::Absent(absent), value) => *absent == value.is_none(),
            (Self::Equals(want), Some(v)) => v == want,
            (Self::NotEquals(unwanted), Some(v)) => v != unwanted,
            (Self::Regex(regex), Some(v)) => regex.is_match(v),
            (Self::NotRegex(regex), Some(v)) => !regex.is_match(v),
            (Self::Glob(glob), Some(v)) => glob.is_match(v),
            (Self::Equals(_) | Self::Regex(_) | Self::Glob(_), None) => false,
            (Self::NotEquals(_) | Self::NotRegex(_), None) => true,
        }
    }
}

impl RuleMatcher {
    /// Whether a series with this metric name and these labels matches.
    pub fn matches<I, K, V>(&self, metric: &str, labels: I) -> bool
    where
        I: IntoIterator<Item = (K, V)> + Clone,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.metric.matches(metric)
            && self.labels.iter().all(|(name, matcher)| {
                let value = labels
                    .clone()
                    .into_iter()
                    .find(|(k, _)| k.as_ref() == name.as_str());
                matcher.holds(value.as_ref().map(|(_, v)| v.as_ref()))
            })
    }
}

impl Config {
    /// The first rule whose matcher matches the series, or [`RouteId::DEFAULT`].
    pub fn route<I, K, V>(&self, metric: &str, labels: I) -> RouteId
    where
        I: IntoIterator<Item = (K, V)> + Clone,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.rules
            .iter()
            .position(|rule| rule.matcher.matches(metric, labels.clone()))
            .and_then(|i| u32::try_from(i).ok())
            .map_or(RouteId::DEFAULT, RouteId)
    }

    /// The rule a [`RouteId`] from [`Config::route`] stands for. An id this `Config` did not
    /// issue gives the defaults rather than a panic.
    pub fn rule(&self, id: RouteId) -> &CompiledRule {
        self.rules
            .get(id.0 as usize)
            .map_or(&self.defaults.compiled, |rule| &rule.compiled)
    }

    /// The entity of a series: the first of the rule's `entity_labels` the series has, as
    /// `(label name, label value)`.
    pub fn entity<'a, I, K>(&self, id: RouteId, labels: I) -> Option<(&str, &'a str)>
    where
        I: IntoIterator<Item = (K, &'a str)> + Clone,
        K: AsRef<str>,
    {
        self.rule(id).entity_labels.iter().find_map(|name| {
            labels
                .clone()
                .into_iter()
                .find(|(k, _)| k.as_ref() == name.as_str())
                .map(|(_, value)| (name.as_str(), value))
        })
    }
}
