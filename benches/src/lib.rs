//! Benchmark inputs shared by Faultline's criterion suites (see `benches/`).
//!
//! Inputs are seeded and built outside the timed loops, so runs compare like with like. The
//! generator is a tiny inline xorshift rather than a `rand` dependency: benches only need
//! reproducible, cheap, statistically unremarkable noise.

use faultline_detectors::EventTime;

/// One minute, the spacing of [`metric_series`], in milliseconds.
pub const MINUTE_MS: i64 = 60_000;

/// xorshift64* (Vigna 2016): fast, seedable and good enough for synthetic noise.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0 is remapped: xorshift never leaves the zero state).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal, by Box–Muller (one of the pair is discarded; speed does not matter
    /// outside the timed loop).
    pub fn next_gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: keeps ln finite
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// A realistic metric: level 100, a daily sine of amplitude 20, Gaussian noise of σ 2 and a
/// spike of 10–30σ on about one point in a thousand, one point a minute from t = 0.
///
/// Shaped like the latency and throughput series detectors see in production, so that every
/// branch a detector takes on real data (warm, normal, anomalous, seasonal phase changes) is
/// exercised in proportion.
pub fn metric_series(points: usize, seed: u64) -> Vec<(EventTime, f64)> {
    let mut rng = XorShift::new(seed);
    (0..points)
        .map(|i| {
            let minute = i as f64;
            let daily = (std::f64::consts::TAU * minute / 1440.0).sin();
            let mut value = 100.0 + 20.0 * daily + 2.0 * rng.next_gaussian();
            if rng.next_f64() < 1e-3 {
                let sign = if rng.next_f64() < 0.5 { -1.0 } else { 1.0 };
                value += sign * 2.0 * (10.0 + 20.0 * rng.next_f64());
            }
            (EventTime::from_millis(i as i64 * MINUTE_MS), value)
        })
        .collect()
}

/// Replays a series forever, shifting each lap forward in time so event time keeps
/// advancing (a replay that jumped back would exercise the out-of-order path instead).
#[derive(Debug)]
pub struct Replay<'a> {
    series: &'a [(EventTime, f64)],
    next: usize,
    /// Added to every timestamp of the current lap.
    lap_offset_ms: i64,
    /// Length of one lap in event time: the series' span plus one step.
    lap_ms: i64,
}

impl<'a> Replay<'a> {
    /// A replay of `series` (non-empty, ascending timestamps) starting at its first point.
    pub fn new(series: &'a [(EventTime, f64)]) -> Self {
        assert!(!series.is_empty(), "cannot replay an empty series");
        let first = series[0].0.as_millis();
        let last = series[series.len() - 1].0.as_millis();
        Self {
            series,
            next: 0,
            lap_offset_ms: 0,
            lap_ms: last - first + MINUTE_MS,
        }
    }

    /// The next point.
    #[inline]
    pub fn next_point(&mut self) -> (EventTime, f64) {
        let (at, value) = self.series[self.next];
        let point = (
            EventTime::from_millis(at.as_millis() + self.lap_offset_ms),
            value,
        );
        self.next += 1;
        if self.next == self.series.len() {
            self.next = 0;
            self.lap_offset_ms += self.lap_ms;
        }
        point
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_the_same_series() {
        assert_eq!(metric_series(1000, 7), metric_series(1000, 7));
        assert_ne!(metric_series(1000, 7), metric_series(1000, 8));
    }

    #[test]
    fn replay_keeps_event_time_increasing_across_laps() {
        let series = metric_series(3, 1);
        let mut replay = Replay::new(&series);
        let times: Vec<i64> = (0..7).map(|_| replay.next_point().0.as_millis()).collect();
        let expected: Vec<i64> = (0..7).map(|i| i * MINUTE_MS).collect();
        assert_eq!(times, expected);
    }
}
