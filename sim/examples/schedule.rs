//! Prints the fault schedule of a seed (first argument, default 1) and the stream's size:
//! `cargo run -p faultline-sim --example schedule -- 7`.

use faultline_sim::{SimConfig, Simulation, Topic};

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let sim = Simulation::new(cfg.clone());
    for f in sim.faults() {
        println!(
            "{:8} {:25} {:15} +{:>5.1} min .. +{:>5.1} min  {}",
            f.id,
            f.kind.to_string(),
            f.root_cause,
            (f.start_ms - cfg.start_ms) as f64 / 60_000.0,
            (f.end_ms - cfg.start_ms) as f64 / 60_000.0,
            f.description
        );
    }
    let (mut records, mut bytes) = ([0usize; 3], 0usize);
    for r in sim {
        records[match r.topic {
            Topic::Metrics => 0,
            Topic::Logs => 1,
            Topic::Events => 2,
        }] += 1;
        bytes += r.payload.len();
    }
    println!(
        "{} simulated min; records: {} metrics, {} logs, {} events; {:.1} MB",
        cfg.duration_ms() / 60_000,
        records[0],
        records[1],
        records[2],
        bytes as f64 / 1e6
    );
}
