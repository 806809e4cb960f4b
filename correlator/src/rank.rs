//! Root-cause ranking. (Placeholder scoring: to be replaced by the real ranking.)

use crate::topology::Topology;
use crate::types::{Candidate, Change, Member, Millis, ScoreParts};

/// Ranking weights and knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct RankParams {
    /// Weight of the severity part.
    pub severity: f64,
    /// Weight of the onset part.
    pub onset: f64,
    /// Weight of the graph part.
    pub graph: f64,
    /// Weight of the change part.
    pub change: f64,
    /// Candidates reported.
    pub top: usize,
}

impl Default for RankParams {
    fn default() -> Self {
        Self {
            severity: 0.6,
            onset: 0.15,
            graph: 0.15,
            change: 0.1,
            top: 5,
        }
    }
}

/// What the incident knows about one entity.
#[derive(Debug, Clone)]
pub struct EntityEvidence<'a> {
    /// Topology node.
    pub entity: &'a str,
    /// Its member anomalies.
    pub members: Vec<&'a Member>,
    /// Change events on it within the lookback.
    pub changes: Vec<&'a Change>,
}

/// Ranks the candidates of one incident whose first member is at `onset`. Deterministic:
/// ties break by entity name.
pub fn rank(
    _topology: &Topology,
    _onset: Millis,
    evidence: &[EntityEvidence<'_>],
    p: &RankParams,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = evidence
        .iter()
        .map(|e| {
            let severity = e.members.iter().map(|m| m.magnitude).fold(0.0, f64::max);
            Candidate {
                entity: e.entity.to_owned(),
                rank: 0,
                score: severity / (1.0 + severity),
                evidence: ScoreParts {
                    severity,
                    ..ScoreParts::default()
                },
                onset: e.members.iter().map(|m| m.at).min(),
                series: e.members.iter().take(3).map(|m| m.series.clone()).collect(),
                changes: e.changes.iter().map(|c| c.id.clone()).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.entity.cmp(&b.entity)));
    out.truncate(p.top);
    for (i, c) in out.iter_mut().enumerate() {
        c.rank = i as u32 + 1;
    }
    out
}
