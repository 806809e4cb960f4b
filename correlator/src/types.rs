//! What goes into the correlator and what comes out of it.
//!
//! Inputs: [`Signal`] (one anomaly, as the engine publishes it), [`Change`] (a deploy or
//! config change) and [`TopologyUpdate`] (an edge seen by a tracer). Output: [`IncidentUpdate`],
//! one per revision of an incident. Every timestamp is event time in Unix milliseconds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Unix milliseconds, event time.
pub type Millis = i64;

/// Which way a metric goes when things are bad. Rules declare it (`direction:` in the rule);
/// latency and error counts are `Up`, success rate and throughput are `Down`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Bad {
    /// Higher is worse.
    Up,
    /// Lower is worse.
    Down,
    /// Either way is bad (the default when a rule does not say).
    #[default]
    Both,
}

/// Severity of a rule, and so of an incident (the highest of its members).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Info,
    /// Needs attention.
    #[default]
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// The name used in files, payloads and on the anomalies topic.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One anomaly of one series, as the correlator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The anomaly's deterministic id; a second signal with the same id is folded.
    pub id: String,
    /// Topology node the anomaly belongs to (the rule's entity label value).
    pub entity: String,
    /// Display form of the series: `name{k="v",...}`.
    pub series: String,
    /// Metric name.
    pub metric: String,
    /// Event time of the (onset) point.
    pub at: Millis,
    /// Observed value.
    pub value: f64,
    /// The band the detector expected.
    pub lower: f64,
    /// See `lower`.
    pub upper: f64,
    /// Above the band (else below).
    pub up: bool,
    /// The detector's score in `[0, 1]`.
    pub score: f64,
    /// Detector name.
    pub detector: String,
    /// Rule name.
    pub rule: String,
    /// The rule's bad direction.
    pub bad: Bad,
    /// The rule's severity.
    pub severity: Severity,
}

impl Signal {
    /// Whether the anomaly went the metric's bad way.
    pub fn is_bad_way(&self) -> bool {
        match self.bad {
            Bad::Both => true,
            Bad::Up => self.up,
            Bad::Down => !self.up,
        }
    }

    /// How far outside the expected band the value is, in band half-widths (≥ 0), counted
    /// only when the anomaly went the bad way (0 otherwise). A zero-width band counts the
    /// distance relative to the value's magnitude.
    pub fn magnitude(&self) -> f64 {
        if !self.is_bad_way() {
            return 0.0;
        }
        let half = (self.upper - self.lower) / 2.0;
        let centre = (self.upper + self.lower) / 2.0;
        let excess = if self.up {
            self.value - self.upper
        } else {
            self.lower - self.value
        };
        let scale = if half.is_finite() && half > 0.0 {
            half
        } else {
            centre.abs().max(self.value.abs()).max(f64::MIN_POSITIVE)
        };
        let m = excess.max(0.0) / scale;
        if m.is_finite() { m } else { 0.0 }
    }
}

/// A change to a system: a deploy, a config change, a feature flag, a scale event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Deterministic id (the producer's, or a hash of the record).
    pub id: String,
    /// Topology node changed.
    pub entity: String,
    /// Event time.
    pub at: Millis,
    /// `deploy`, `config`, ... as the producer says.
    pub kind: String,
    /// One line for humans (version, commit, who).
    pub summary: String,
}

/// Kind of a topology edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `from` calls `to` (a dependency: problems of `to` show up at `from`).
    Calls,
    /// `from` (a service or pod) runs on `to` (a host or node).
    RunsOn,
}

/// Kind of a topology node.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A service.
    #[default]
    Service,
    /// A host or Kubernetes node.
    Host,
    /// A pod or container instance.
    Pod,
    /// A database, queue or other managed dependency.
    Resource,
}

/// An edge learned at run time (a topology topic record), e.g. from traces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyUpdate {
    /// Source node.
    pub from: String,
    /// Target node.
    pub to: String,
    /// Edge kind.
    pub kind: EdgeKind,
    /// Event time the edge was seen.
    pub at: Millis,
    /// How long the edge stays without being seen again; `None` = until removed.
    pub ttl: Option<Millis>,
    /// `true` removes the edge instead.
    #[serde(default)]
    pub remove: bool,
}

/// Lifecycle state of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Firing.
    Open,
    /// Quiet for the configured period.
    Resolved,
}

/// Why a revision was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// First notification of the incident.
    Opened,
    /// Members, severity or ranking changed.
    Updated,
    /// Quiet for the configured period.
    Resolved,
    /// Recurred within the reopen window after being resolved.
    Reopened,
}

/// The parts of a candidate's score; `score` combines them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreParts {
    /// Strongest deviation of the candidate's own metrics in their bad direction (band
    /// half-widths), after robust aggregation.
    pub severity: f64,
    /// Onset order: 1 for the earliest anomalous entity, decaying for later onsets.
    pub onset: f64,
    /// Position in the dependency graph (personalized PageRank over reversed call edges).
    pub graph: f64,
    /// Recent change events on the candidate (0 when none).
    pub change: f64,
}

/// One ranked root-cause candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Topology node.
    pub entity: String,
    /// 1-based rank.
    pub rank: u32,
    /// Combined score in `[0, 1]` (higher = more likely the cause).
    pub score: f64,
    /// The parts of the score.
    pub evidence: ScoreParts,
    /// Earliest anomaly onset on this entity, if it had one.
    pub onset: Option<Millis>,
    /// The member series that speak against it, strongest first (at most a few).
    pub series: Vec<String>,
    /// Ids of change events on it within the lookback.
    pub changes: Vec<String>,
}

/// One member anomaly of an incident. Its strings are shared (`Arc<str>`): every update of
/// an incident carries all its members, so cloning them must not copy the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Anomaly id.
    pub id: Arc<str>,
    /// Entity.
    pub entity: Arc<str>,
    /// Series display form.
    pub series: Arc<str>,
    /// Metric name.
    pub metric: Arc<str>,
    /// Event time.
    pub at: Millis,
    /// Value.
    pub value: f64,
    /// Expected band.
    pub lower: f64,
    /// See `lower`.
    pub upper: f64,
    /// `up` or `down`.
    pub up: bool,
    /// Detector score.
    pub score: f64,
    /// Magnitude in the bad direction (see [`Signal::magnitude`]).
    pub magnitude: f64,
    /// Detector.
    pub detector: Arc<str>,
    /// Rule.
    pub rule: Arc<str>,
}

impl From<&Signal> for Member {
    fn from(s: &Signal) -> Self {
        Self {
            id: Arc::from(s.id.as_str()),
            entity: Arc::from(s.entity.as_str()),
            series: Arc::from(s.series.as_str()),
            metric: Arc::from(s.metric.as_str()),
            at: s.at,
            value: s.value,
            lower: s.lower,
            upper: s.upper,
            up: s.up,
            score: s.score,
            magnitude: s.magnitude(),
            detector: Arc::from(s.detector.as_str()),
            rule: Arc::from(s.rule.as_str()),
        }
    }
}

/// One revision of one incident: what every sink receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    /// Stable id (hex), the same across replays.
    pub incident_id: String,
    /// 1, 2, ...: grows by one for every emitted update of this incident.
    pub revision: u32,
    /// State after this update.
    pub status: Status,
    /// What happened.
    pub transition: Transition,
    /// One line: the top candidate and what is wrong with it.
    pub title: String,
    /// Highest severity among members.
    pub severity: Severity,
    /// Event time of the first member anomaly.
    pub opened_at: Millis,
    /// Event time this revision was derived at.
    pub updated_at: Millis,
    /// Event time it resolved (for `Resolved`).
    pub resolved_at: Option<Millis>,
    /// Root-cause candidates, best first.
    pub candidates: Vec<Candidate>,
    /// Member anomalies, in event-time order (capped; `member_count` has the total).
    pub members: Vec<Member>,
    /// Total members folded into the incident.
    pub member_count: u64,
    /// Entities involved, sorted.
    pub entities: Vec<String>,
    /// Change events attached as evidence.
    pub changes: Vec<Change>,
    /// How many times it was reopened.
    pub reopened: u32,
}

impl IncidentUpdate {
    /// `incident_id:revision`: the idempotency key of this update.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.incident_id, self.revision)
    }
}
