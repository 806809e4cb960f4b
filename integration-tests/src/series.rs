//! Seeded synthetic metric series with known faults: the ground truth the detection tests
//! compare the engine's anomalies against.
//!
//! Std-only and deterministic: the same [`SeriesSpec`] gives the same values on every machine
//! and every run, so a failing assertion can be reproduced exactly. Values depend only on the
//! point index; the time base only places the points on the calendar, and it is aligned to a
//! UTC midnight so that the daily pattern always has the same phase.

use std::fmt::Write as _;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// xorshift64* — small, fast, and good enough for test noise.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; zero is remapped since xorshift cannot leave it).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `(0, 1]` (never zero, so it can go through `ln`).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal, by Box–Muller (one of the pair is dropped: simplicity over speed).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// What goes wrong in a series, from point `at` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// One point `size` above (or below, if negative) the normal value.
    Spike {
        /// Index of the spiked point.
        at: usize,
        /// Added to that one point.
        size: f64,
    },
    /// Every point from `at` on is shifted by `delta`.
    LevelShift {
        /// Index of the first shifted point.
        at: usize,
        /// Added to every point from `at` on.
        delta: f64,
    },
    /// The daily pattern flips phase at `at` (peak becomes trough): a break of the rhythm
    /// while the mean stays where it was.
    SeasonalFlip {
        /// Index of the first flipped point.
        at: usize,
    },
}

impl Fault {
    /// Index of the first faulty point.
    pub fn at(&self) -> usize {
        match *self {
            Fault::Spike { at, .. } | Fault::LevelShift { at, .. } | Fault::SeasonalFlip { at } => {
                at
            }
        }
    }
}

/// Direction an anomaly is expected to have, as the engine spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Above the expected band.
    Up,
    /// Below the expected band.
    Down,
}

impl Expect {
    /// The `direction` field value of an anomaly.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Up => "up",
            Expect::Down => "down",
        }
    }
}

/// A synthetic series: identity, shape and optional fault.
#[derive(Debug, Clone)]
pub struct SeriesSpec {
    /// Metric name.
    pub name: String,
    /// The `service` label: the entity the engine attributes anomalies to.
    pub service: String,
    /// The `host` label.
    pub host: String,
    /// Mean value.
    pub level: f64,
    /// Standard deviation of the Gaussian noise.
    pub noise: f64,
    /// Amplitude of the daily sine (0 for none); peaks at 06:00 UTC.
    pub daily_amplitude: f64,
    /// Seed of the noise.
    pub seed: u64,
    /// What goes wrong, if anything.
    pub fault: Option<Fault>,
}

impl SeriesSpec {
    /// The values of the first `n` points, one per `step_ms` from a UTC midnight.
    pub fn values(&self, n: usize, step_ms: i64) -> Vec<f64> {
        let mut rng = Rng::new(self.seed);
        (0..n)
            .map(|i| {
                let phase =
                    std::f64::consts::TAU * ((i as i64 * step_ms) % DAY_MS) as f64 / DAY_MS as f64;
                let mut season = self.daily_amplitude * phase.sin();
                let mut value = self.level + self.noise * rng.normal();
                match self.fault {
                    Some(Fault::Spike { at, size }) if i == at => value += size,
                    Some(Fault::LevelShift { at, delta }) if i >= at => value += delta,
                    Some(Fault::SeasonalFlip { at }) if i >= at => season = -season,
                    _ => {}
                }
                value + season
            })
            .collect()
    }

    /// The direction an anomaly at the fault should have, if the fault has an obvious one.
    pub fn expected_direction(&self) -> Option<Expect> {
        match self.fault? {
            Fault::Spike { size, .. } => Some(if size > 0.0 { Expect::Up } else { Expect::Down }),
            Fault::LevelShift { delta, .. } => Some(if delta > 0.0 {
                Expect::Up
            } else {
                Expect::Down
            }),
            // Flipped at the daily peak, the value falls to the trough.
            Fault::SeasonalFlip { .. } => Some(Expect::Down),
        }
    }

    /// The labels object of this series, as JSON text.
    pub fn labels_json(&self) -> String {
        format!(
            r#"{{"service":{},"host":{}}}"#,
            json_string(&self.service),
            json_string(&self.host)
        )
    }
}

/// One native-JSON sample line: `{"name":..,"labels":{..},"ts":..,"value":..}`.
pub fn sample_json(name: &str, labels_json: &str, ts_ms: i64, value: f64) -> String {
    let mut out = String::with_capacity(96);
    // `{:?}` of an f64 prints a round-trippable number (`1.0`, `1e300`), never `NaN` here.
    let _ = write!(
        out,
        r#"{{"name":{},"labels":{labels_json},"ts":{ts_ms},"value":{value:?}}}"#,
        json_string(name)
    );
    out
}

/// `s` as a JSON string literal (std-only, so this module also builds outside the crate).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A UTC midnight `days` days before now: a time base that puts generated data in the recent
/// past (so no broker retention deletes it) with a fixed daily phase.
pub fn midnight_days_ago(days: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    (now / DAY_MS - days) * DAY_MS
}

/// Points per series in the detection scenarios: three days at one per minute, so the daily
/// pattern is seen twice before the faults, which all fall on the third day.
pub const FLEET_POINTS: usize = 3 * 1440;
/// Spacing of the points in event time.
pub const FLEET_STEP_MS: i64 = 60_000;

/// A fleet of series: normal ones (flat and daily-seasonal, at different scales) and one per
/// fault kind, each fault on the third day after two days of normal behaviour.
///
/// Every series has its own `service`, so each anomaly's entity names exactly one series.
pub fn mixed_fleet(seed: u64) -> Vec<SeriesSpec> {
    let day3 = 2 * 1440;
    let spec = |i: u64, name: &str, service: &str, level, noise, amp, fault| SeriesSpec {
        name: name.to_owned(),
        service: service.to_owned(),
        host: format!("h{i}"),
        level,
        noise,
        daily_amplitude: amp,
        seed: seed ^ (i + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        fault,
    };
    let flip = Fault::SeasonalFlip { at: day3 + 360 };
    let spike = Fault::Spike {
        at: day3 + 480,
        size: 24.0,
    };
    let shift_up = Fault::LevelShift {
        at: day3 + 580,
        delta: 36.0,
    };
    let shift_down = Fault::LevelShift {
        at: day3 + 860,
        delta: -48.0,
    };
    vec![
        // Normal.
        spec(0, "cpu", "cart", 50.0, 2.0, 0.0, None),
        spec(1, "latency_ms", "search", 200.0, 10.0, 0.0, None),
        spec(2, "queue_depth", "mailer", 5.0, 0.5, 0.0, None),
        spec(3, "rps", "frontend", 100.0, 3.0, 30.0, None),
        spec(4, "rps", "catalog", 1000.0, 20.0, 200.0, None),
        spec(5, "mem_mb", "auth", 800.0, 5.0, 40.0, None),
        // Faulty: the daily rhythm flipping at its 06:00 peak, a spike up at 08:00, a shift
        // up at 09:40 and a shift down at 14:20.
        spec(6, "cpu", "checkout", 40.0, 2.0, 0.0, Some(spike)),
        spec(7, "latency_ms", "payments", 120.0, 6.0, 0.0, Some(shift_up)),
        spec(8, "rps", "shipping", 300.0, 8.0, 0.0, Some(shift_down)),
        spec(9, "rps", "orders", 500.0, 10.0, 100.0, Some(flip)),
    ]
}

/// A fleet with its generated values placed on the calendar.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The series, in order; series `i` goes to partition `i % partitions`.
    pub specs: Vec<SeriesSpec>,
    /// `values[i][k]`: point `k` of series `i`.
    pub values: Vec<Vec<f64>>,
    /// Event time of point 0 (a UTC midnight).
    pub base_ms: i64,
    /// Event-time spacing of the points.
    pub step_ms: i64,
}

impl Fleet {
    /// Generates `points` points of every series, starting at `base_ms`.
    pub fn generate(specs: Vec<SeriesSpec>, points: usize, base_ms: i64, step_ms: i64) -> Self {
        let values = specs.iter().map(|s| s.values(points, step_ms)).collect();
        Self {
            specs,
            values,
            base_ms,
            step_ms,
        }
    }

    /// Event time of point `k`.
    pub fn ts(&self, k: usize) -> i64 {
        self.base_ms + k as i64 * self.step_ms
    }

    /// Points per series.
    pub fn points(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The index of the series with this `service` label.
    pub fn by_service(&self, service: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.service == service)
    }
}
