//! Turning observations into the correlator's vocabulary: a series' metadata plus a value
//! outside an expected band becomes a [`Signal`] (for the incident engine) or a [`Member`]
//! (for [`faultline_correlator::rank`] directly).

use faultline_correlator::{Bad, Member, Millis, Severity, Signal};
use faultline_detectors::{Direction, Verdict};

/// What a rule file would say about one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesMeta {
    /// Topology node the series speaks about.
    pub entity: String,
    /// Display form, unique per series.
    pub series: String,
    /// Metric family name.
    pub metric: String,
    /// Which way is bad for this metric.
    pub bad: Bad,
}

/// A value against the band a baseline expected it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Event time.
    pub at: Millis,
    /// Observed value.
    pub value: f64,
    /// Lowest expected value.
    pub lower: f64,
    /// Highest expected value.
    pub upper: f64,
    /// The detector's score in `[0, 1]`.
    pub score: f64,
}

impl SeriesMeta {
    /// The signal of `o` by `detector`.
    pub fn signal(&self, o: Observation, detector: &str) -> Signal {
        Signal {
            id: format!("{}@{}", self.series, o.at),
            entity: self.entity.clone(),
            series: self.series.clone(),
            metric: self.metric.clone(),
            at: o.at,
            value: o.value,
            lower: o.lower,
            upper: o.upper,
            up: o.value > o.upper,
            score: o.score,
            detector: detector.to_owned(),
            rule: self.metric.clone(),
            bad: self.bad,
            severity: Severity::Warning,
        }
    }

    /// The signal of an anomalous verdict that went this metric's bad way, else `None`.
    pub fn bad_way_signal(
        &self,
        at: Millis,
        value: f64,
        v: &Verdict,
        detector: &str,
    ) -> Option<Signal> {
        let Verdict::Anomalous {
            score,
            expected,
            direction,
        } = *v
        else {
            return None;
        };
        let mut s = self.signal(
            Observation {
                at,
                value,
                lower: expected.lower,
                upper: expected.upper,
                score,
            },
            detector,
        );
        s.up = direction == Direction::Up;
        s.is_bad_way().then_some(s)
    }
}

/// Ranks the members by entity with `rank`, returning candidate entity names best first.
pub fn rank_members(
    topology: &faultline_correlator::Topology,
    members: &[Member],
    changes: &[faultline_correlator::Change],
    params: &faultline_correlator::RankParams,
) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut by: BTreeMap<&str, faultline_correlator::EntityEvidence<'_>> = BTreeMap::new();
    for m in members {
        by.entry(&*m.entity)
            .or_insert_with(|| faultline_correlator::EntityEvidence {
                entity: &m.entity,
                members: Vec::new(),
                changes: Vec::new(),
            })
            .members
            .push(m);
    }
    for c in changes {
        if let Some(e) = by.get_mut(c.entity.as_str()) {
            e.changes.push(c);
        }
    }
    let onset = members.iter().map(|m| m.at).min().unwrap_or(0);
    let evidence: Vec<_> = by.into_values().collect();
    faultline_correlator::rank(topology, onset, &evidence, params)
        .into_iter()
        .map(|c| c.entity)
        .collect()
}
