//! Correlator settings (the `correlator:` section of the config). All durations are event
//! time in milliseconds.

use crate::rank::RankParams;
use crate::types::Millis;

/// How anomalies become incidents and when incidents notify and resolve.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// An anomaly joins an incident whose latest member is at most this much earlier or later
    /// (event time) and whose entities are within `max_hops`.
    pub window: Millis,
    /// Graph distance (hops, either direction) within which anomalies group.
    pub max_hops: u32,
    /// The first notification of a new incident waits this long after its first member, to
    /// collect the other symptoms and rank with them (Alertmanager's `group_wait`).
    pub group_wait: Millis,
    /// At most one update per incident per this much event time (`group_interval`).
    pub group_interval: Millis,
    /// An incident with no new member for this long resolves.
    pub quiet_period: Millis,
    /// A recurrence within this long after resolution reopens the incident (same id).
    pub reopen_window: Millis,
    /// An incident reopened this many times stops notifying resolve/reopen transitions
    /// (flapping): it stays open until quiet for `quiet_period × flap_quiet_factor`.
    pub flap_limit: u32,
    /// See `flap_limit`.
    pub flap_quiet_factor: u32,
    /// Change events this long before an incident's onset (or during it) attach as evidence.
    pub change_lookback: Millis,
    /// Members kept per incident (the rest are counted, and the strongest are kept).
    pub max_members: usize,
    /// Open incidents kept at most; beyond it the oldest is force-resolved.
    pub max_open: usize,
    /// Ranking weights.
    pub rank: RankParams,
    /// Whether every input moves the clock to its own time (a single ordered stream, as
    /// in the evaluations). The engine reads many partitions that run ahead of each other,
    /// so it sets this to `false` and moves the clock only with [`advance`] to a low
    /// watermark: an early partition must not resolve incidents a late one still feeds.
    ///
    /// [`advance`]: crate::Correlator::advance
    pub clock_follows_inputs: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            window: 5 * 60_000,
            max_hops: 2,
            group_wait: 30_000,
            group_interval: 60_000,
            quiet_period: 5 * 60_000,
            reopen_window: 30 * 60_000,
            flap_limit: 3,
            flap_quiet_factor: 4,
            change_lookback: 30 * 60_000,
            max_members: 200,
            max_open: 10_000,
            rank: RankParams::default(),
            clock_follows_inputs: true,
        }
    }
}
