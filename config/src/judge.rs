//! From a detector's verdict to a reportable finding: the rule's sensitivity and minimum
//! duration.
//!
//! With no minimum duration an anomalous verdict scoring at least `1 − sensitivity` is
//! reported at once. With one, the onset is held as pending: it is reported (with the onset's
//! time, value and band) once the series has stayed outside the band the detector expected at
//! the onset, on the same side, for the minimum duration of event time; a point back inside the
//! band drops it. This is Prometheus' `for:` applied to a learned band.
//!
//! It lives beside the rules, pure, so that the engine and the evaluations' replays judge
//! alike (the held onset is part of a series' checkpointed state).

use faultline_correlator::Signal;
use faultline_detectors::{Direction, EventTime, Verdict};
use serde::{Deserialize, Serialize};

use crate::CompiledRule;

/// An anomalous onset waiting for the rule's minimum duration to pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Event time of the first anomalous point.
    pub onset: EventTime,
    /// Its value.
    pub value: f64,
    /// Its score.
    pub score: f64,
    /// The band the detector expected at the onset; the series must stay outside it.
    pub lower: f64,
    /// See `lower`.
    pub upper: f64,
    /// Whether the onset was above the band.
    pub up: bool,
}

/// An anomaly to report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    /// Event time of the (onset) point.
    pub at: EventTime,
    /// Its value.
    pub value: f64,
    /// Its score in `[0, 1]`.
    pub score: f64,
    /// The band the detector expected.
    pub lower: f64,
    /// See `lower`.
    pub upper: f64,
    /// Above the band (else below).
    pub up: bool,
}

/// Which series a finding is on, as the correlator names it.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The anomaly's id (deterministic, so a replay folds into the same signal).
    pub id: String,
    /// The entity it is attributed to (a topology node).
    pub entity: String,
    /// The series, as displayed.
    pub series: String,
    /// Its metric name.
    pub metric: String,
}

impl Finding {
    /// The correlator's signal for this finding of `rule`'s detector named `detector`.
    pub fn signal(&self, subject: Subject, rule: &CompiledRule, detector: &str) -> Signal {
        Signal {
            id: subject.id,
            entity: subject.entity,
            series: subject.series,
            metric: subject.metric,
            at: self.at.as_millis(),
            value: self.value,
            lower: self.lower,
            upper: self.upper,
            up: self.up,
            score: self.score,
            detector: detector.to_owned(),
            rule: rule.name.clone(),
            bad: rule.direction,
            severity: rule.severity,
        }
    }
}

impl From<Pending> for Finding {
    fn from(p: Pending) -> Self {
        Self {
            at: p.onset,
            value: p.value,
            score: p.score,
            lower: p.lower,
            upper: p.upper,
            up: p.up,
        }
    }
}

/// Applies `rule` to one verdict of a detector for the point (`at`, `value`); `pending` is
/// that detector's held onset (part of the series' state).
pub fn judge(
    rule: &CompiledRule,
    pending: &mut Option<Pending>,
    at: EventTime,
    value: f64,
    verdict: Verdict,
) -> Option<Finding> {
    let min_ms = i64::try_from(rule.min_duration.as_millis()).unwrap_or(i64::MAX);
    if let Some(p) = *pending {
        let outside = if p.up {
            value > p.upper
        } else {
            value < p.lower
        };
        if outside {
            if at.as_millis().saturating_sub(p.onset.as_millis()) >= min_ms {
                *pending = None;
                return Some(p.into());
            }
            return None;
        }
        *pending = None;
    }
    let Verdict::Anomalous {
        score,
        expected,
        direction,
    } = verdict
    else {
        return None;
    };
    if score < 1.0 - rule.sensitivity {
        return None;
    }
    let finding = Finding {
        at,
        value,
        score,
        lower: expected.lower,
        upper: expected.upper,
        up: direction == Direction::Up,
    };
    if min_ms <= 0 {
        return Some(finding);
    }
    *pending = Some(Pending {
        onset: at,
        value,
        score,
        lower: finding.lower,
        upper: finding.upper,
        up: finding.up,
    });
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use faultline_detectors::Band;

    use crate::Config;

    use super::*;

    fn rule(min_duration: Duration, sensitivity: f64) -> CompiledRule {
        let config = Config::default();
        let mut r = config
            .rule(config.route("m", Vec::<(&str, &str)>::new()))
            .clone();
        r.min_duration = min_duration;
        r.sensitivity = sensitivity;
        r
    }

    fn up(score: f64) -> Verdict {
        Verdict::Anomalous {
            score,
            expected: Band {
                lower: 0.0,
                upper: 10.0,
            },
            direction: Direction::Up,
        }
    }

    const N: Verdict = Verdict::Normal { score: 0.1 };

    fn t(s: i64) -> EventTime {
        EventTime::from_millis(s * 1000)
    }

    #[test]
    fn without_minimum_duration_reports_at_once_above_the_sensitivity() {
        let r = rule(Duration::ZERO, 0.5);
        let mut s = None;
        assert_eq!(
            judge(&r, &mut s, t(0), 20.0, up(0.4)),
            None,
            "below 1 - sensitivity"
        );
        let f = judge(&r, &mut s, t(1), 20.0, up(0.7)).unwrap();
        assert_eq!((f.at, f.value, f.up), (t(1), 20.0, true));
        assert_eq!(judge(&r, &mut s, t(2), 20.0, N), None);
    }

    #[test]
    fn minimum_duration_reports_the_onset_once_the_band_stays_broken() {
        let r = rule(Duration::from_secs(120), 0.5);
        let mut s = None;
        assert_eq!(judge(&r, &mut s, t(0), 20.0, up(0.8)), None);
        assert_eq!(judge(&r, &mut s, t(60), 15.0, N), None, "outside, 60 s");
        let f = judge(&r, &mut s, t(120), 11.0, N).expect("outside for 120 s");
        assert_eq!((f.at, f.value, f.score), (t(0), 20.0, 0.8));
        assert_eq!(s, None);
        assert_eq!(judge(&r, &mut s, t(180), 11.0, N), None, "reported once");
    }

    #[test]
    fn minimum_duration_drops_an_onset_that_returns_inside_the_band() {
        let r = rule(Duration::from_secs(120), 0.5);
        let mut s = None;
        assert_eq!(judge(&r, &mut s, t(0), 20.0, up(0.8)), None);
        assert_eq!(judge(&r, &mut s, t(60), 5.0, N), None, "back inside");
        assert_eq!(s, None);
        assert_eq!(
            judge(&r, &mut s, t(180), 20.0, N),
            None,
            "no pending left to confirm"
        );
    }
}
