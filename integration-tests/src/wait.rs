//! Polling with a deadline: the only way the tests wait.
//!
//! A condition is re-checked every few milliseconds until it holds or the deadline passes;
//! there is no fixed sleep standing in for synchronisation and no retry of a failed check.

use std::time::{Duration, Instant};

/// Pause between two checks of a condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Default bound on one wait: generous for two shared cores and a debug build, but finite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Calls `check` until it returns `Some`, or gives up after `timeout` and returns `None`.
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
