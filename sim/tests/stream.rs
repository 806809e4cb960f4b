//! The simulated stream: determinism, ground truth, visible faults, well-formed payloads.

use std::collections::{BTreeMap, HashMap};

use faultline_decode::{Format, Item, Kind, decode};
use faultline_sim::{FaultKind, SimConfig, SimRecord, Simulation, Topic};

fn sim(seed: u64) -> Simulation {
    Simulation::new(SimConfig {
        seed,
        ..SimConfig::default()
    })
}

/// Every metric series of a run: (service or host, metric) → (ts, value) in order.
type Series = HashMap<(String, String), Vec<(i64, f64)>>;

fn series(records: &[SimRecord], keys: &[&str]) -> Series {
    let mut out: Series = HashMap::new();
    let wanted = |r: &&SimRecord| r.topic == Topic::Metrics && keys.contains(&r.key.as_str());
    for r in records.iter().filter(wanted) {
        let items: Vec<serde_json::Value> = serde_json::from_slice(&r.payload).unwrap();
        for s in items {
            let labels = &s["labels"];
            let entity = labels["service"]
                .as_str()
                .or(labels["host"].as_str())
                .unwrap();
            let key = (entity.to_owned(), s["name"].as_str().unwrap().to_owned());
            let point = (s["ts"].as_i64().unwrap(), s["value"].as_f64().unwrap());
            out.entry(key).or_default().push(point);
        }
    }
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// How far the median during `[from, to)` is above the median of `[base_from, from)`, in
/// robust standard deviations (1.4826 × MAD) of the baseline, floored at 1% of its median
/// so a nearly constant baseline does not make any change look infinite.
fn shift_in_sigmas(points: &[(i64, f64)], base_from: i64, from: i64, to: i64) -> f64 {
    let mut base: Vec<f64> = points
        .iter()
        .filter(|p| p.0 >= base_from && p.0 < from)
        .map(|p| p.1)
        .collect();
    let mut during: Vec<f64> = points
        .iter()
        .filter(|p| p.0 >= from && p.0 < to)
        .map(|p| p.1)
        .collect();
    assert!(base.len() > 10 && during.len() > 10);
    let m = median(&mut base);
    let mut deviations: Vec<f64> = base.iter().map(|v| (v - m).abs()).collect();
    let sigma = (1.4826 * median(&mut deviations))
        .max(0.01 * m.abs())
        .max(1e-4);
    (median(&mut during) - m) / sigma
}

#[test]
fn same_seed_gives_byte_identical_stream() {
    let a: Vec<SimRecord> = sim(7).collect();
    let b: Vec<SimRecord> = sim(7).collect();
    assert_eq!(a, b);
    let c: Vec<SimRecord> = sim(8).take(a.len()).collect();
    assert_ne!(a[..c.len()], c[..]);
    assert_ne!(sim(7).faults(), sim(8).faults());
}

#[test]
fn every_fault_kind_is_injected_for_seeds_one_to_five() {
    for seed in 1..=5 {
        let s = sim(seed);
        let faults = s.faults();
        assert!(faults.len() >= 6, "seed {seed}");
        for kind in [
            FaultKind::CpuSaturation,
            FaultKind::Latency,
            FaultKind::ErrorBurstAfterDeploy,
            FaultKind::DependencyFailure,
        ] {
            assert!(
                faults.iter().any(|f| f.kind == kind),
                "seed {seed} lacks {kind}"
            );
        }
        let mut causes: Vec<&str> = faults.iter().map(|f| f.root_cause.as_str()).collect();
        causes.sort_unstable();
        causes.dedup();
        assert_eq!(
            causes.len(),
            faults.len(),
            "seed {seed}: root causes repeat"
        );
        let cfg = SimConfig::default();
        for pair in faults.windows(2) {
            assert!(
                pair[0].end_ms + 10 * 60_000 <= pair[1].start_ms,
                "seed {seed}: {pair:?}"
            );
        }
        assert!(faults[0].start_ms >= cfg.start_ms + cfg.warmup_ms);
        assert!(faults.last().unwrap().end_ms + 10 * 60_000 <= cfg.start_ms + cfg.duration_ms());
    }
}

#[test]
fn faults_move_their_root_cause_and_cascades_reach_the_frontend() {
    for seed in 1..=5 {
        let s = sim(seed);
        let faults = s.faults().to_vec();
        let records: Vec<SimRecord> = s.collect();
        let mut keys: Vec<&str> = faults.iter().map(|f| f.root_cause.as_str()).collect();
        keys.push("frontend");
        let all = series(&records, &keys);
        for f in &faults {
            let metric = match f.kind {
                FaultKind::CpuSaturation => "process_cpu_percent",
                FaultKind::Latency => "http_request_duration_p99_ms",
                FaultKind::ErrorBurstAfterDeploy | FaultKind::DependencyFailure => {
                    "http_error_ratio"
                }
            };
            let (base_from, from, to) = (f.start_ms - 15 * 60_000, f.start_ms + 60_000, f.end_ms);
            let at = |entity: &str, metric: &str| {
                shift_in_sigmas(
                    &all[&(entity.to_owned(), metric.to_owned())],
                    base_from,
                    from,
                    to,
                )
            };
            let root = at(&f.root_cause, metric);
            println!(
                "seed {seed} {} {} on {}: {metric} {root:+.1}σ",
                f.id, f.kind, f.root_cause
            );
            assert!(root > 5.0, "seed {seed} {f:?}: {metric} moved {root:.1}σ");
            let frontend_metric = match f.kind {
                FaultKind::ErrorBurstAfterDeploy => "http_error_ratio",
                _ => "http_request_duration_p99_ms",
            };
            let front = at("frontend", frontend_metric);
            println!("    frontend {frontend_metric} {front:+.1}σ");
            if f.kind != FaultKind::ErrorBurstAfterDeploy {
                assert!(front > 5.0, "seed {seed} {f:?}: frontend moved {front:.1}σ");
            }
        }
    }
}

#[test]
fn payloads_decode_with_the_native_decoder_and_nothing_is_nan() {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in sim(1) {
        let kind = match r.topic {
            Topic::Metrics => Kind::Metrics,
            Topic::Logs => Kind::Logs,
            Topic::Events => Kind::Events,
        };
        let text = std::str::from_utf8(&r.payload).unwrap();
        assert!(!text.contains("NaN") && !text.contains("null"), "{text}");
        serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap();
        let mut items = 0;
        decode(Format::NativeJson, kind, &r.payload, &mut |item| {
            match item.unwrap_or_else(|e| panic!("{e}: {text}")) {
                Item::Metric(s) => {
                    assert!(s.value.is_finite());
                    assert!(s.at.as_millis() == r.at_ms);
                    assert!(s.labels.iter().any(|(k, _)| k == "service" || k == "host"));
                }
                Item::Log(l) => {
                    assert!(l.at.as_millis() <= r.at_ms && !l.service.is_empty());
                }
                Item::Event(e) => {
                    assert_eq!(e.kind, "deploy");
                    assert!(e.attributes.iter().any(|(k, _)| k == "version"));
                }
            }
            items += 1;
        })
        .unwrap();
        let c = counts.entry(r.topic.name()).or_default();
        c.0 += 1;
        c.1 += items;
    }
    println!("records, items per topic: {counts:?}");
    let samples = counts["metrics"].1;
    assert!(samples <= 500_000, "{samples} samples");
    assert!(counts["events"].0 >= 4);
}

#[test]
fn faults_bring_warning_and_error_log_lines() {
    let s = sim(1);
    let faults = s.faults().to_vec();
    let records: Vec<SimRecord> = s.filter(|r| r.topic == Topic::Logs).collect();
    let trouble_within = |from: i64, to: i64| -> usize {
        let logs = records.iter().filter(|r| r.at_ms >= from && r.at_ms < to);
        logs.map(|r| {
            let lines: Vec<serde_json::Value> = serde_json::from_slice(&r.payload).unwrap();
            lines.iter().filter(|l| l["level"] != "info").count()
        })
        .sum()
    };
    for f in &faults {
        let length = f.end_ms - f.start_ms;
        let (before, during) = (
            trouble_within(f.start_ms - length, f.start_ms),
            trouble_within(f.start_ms, f.end_ms),
        );
        println!(
            "{} {}: {before} warning/error lines before, {during} during",
            f.id, f.kind
        );
        assert!(during > 2 * before + 10, "{f:?}: {before} → {during}");
    }
}

#[test]
fn records_come_in_non_decreasing_event_time() {
    let cfg = SimConfig::default();
    let mut last = i64::MIN;
    let mut steps = 0;
    let mut s = sim(3);
    while let Some(batch) = s.next_step() {
        steps += 1;
        for r in batch {
            assert!(r.at_ms >= last, "{} after {last}", r.at_ms);
            last = r.at_ms;
        }
    }
    assert_eq!(steps, cfg.duration_ms() / cfg.step_ms);
    assert_eq!(last, cfg.start_ms + cfg.duration_ms() - cfg.step_ms);
}
