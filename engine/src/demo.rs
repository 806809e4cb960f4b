//! `faultline demo` and `faultline simulate`: the simulated shop of `faultline-sim` through
//! the whole engine.
//!
//! The demo starts the embedded broker, a webhook receiver, and the engine (configured with
//! the simulator's topology and rules, delivering to the receiver in native JSON), writes
//! the simulated stream as fast as the broker takes it, waits until the engine has
//! processed every record and delivered every update, then prints each injected fault
//! beside the incident that matched it and a summary whose last line is one JSON object.
//!
//! Matching (documented in the README): an incident matches a fault when it opened (its
//! first anomaly's event time) within `[start, end + 1 min]` of the fault; the earliest such
//! incident is the fault's (of several opened at the same instant, the one with the most
//! symptoms, the one SREs would work on; the others count neither way). Its root-cause
//! ranking is the incident's last revision emitted (event time `updated_at`) up to 5 minutes
//! after the fault's end: what SREs saw while it happened, not what a long-lived incident
//! blamed after absorbing later symptoms. An incident matching no fault is counted as
//! unmatched.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use faultline_correlator::{IncidentUpdate, Status};
use faultline_sim::{Fault, SimConfig, SimRecord, Simulation};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;

use crate::run::{Hooks, run_with};

/// Slack after a fault's end within which an incident still matches it.
const MATCH_SLACK_MS: i64 = 60_000;
/// Slack after a fault's end within which a revision still counts as the ranking SREs saw
/// while it happened.
const RANKED_SLACK_MS: i64 = 5 * 60_000;

/// The demo's `correlator:` section. The default reopen window (30 min) outlasts the gap
/// between two faults (about 10 min from one incident's resolution to the next fault), so a
/// later fault two hops away reopened the earlier incident instead of opening its own; a
/// recurrence worth reopening for comes back within a quiet period or so.
const CORRELATOR: &str = "correlator: {reopen_window: 5m}\n";

/// Writes `records` to `producer`, waiting when its queue is full. `throttle` is called
/// with the count written so far every few hundred records and may block.
fn produce(
    producer: &BaseProducer,
    records: impl Iterator<Item = SimRecord>,
    pace: Option<(f64, i64)>,
    throttle: &dyn Fn(u64),
) -> anyhow::Result<u64> {
    let started = Instant::now();
    let mut n = 0u64;
    for r in records {
        if n.is_multiple_of(256) {
            throttle(n);
        }
        if let Some((speed, t0)) = pace {
            let due = Duration::from_secs_f64(((r.at_ms - t0).max(0) as f64 / 1000.0) / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::to(r.topic.name())
            .key(r.key.as_bytes())
            .payload(&r.payload)
            .timestamp(r.at_ms);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back)) => {
                    if e.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::QueueFull) {
                        bail!("producing to `{}` failed: {e}", r.topic.name());
                    }
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        producer.poll(Duration::ZERO);
        n += 1;
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing the simulated stream")?;
    Ok(n)
}

fn producer(brokers: &str) -> anyhow::Result<BaseProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .create()
        .context("creating the simulator's producer")
}

/// `faultline simulate`: writes the simulated stream to `brokers`, as fast as possible or
/// at `speed` × real time, and prints the config and the injected faults.
pub fn simulate(brokers: &str, seed: u64, speed: Option<f64>) -> anyhow::Result<()> {
    let sim = Simulation::new(SimConfig {
        seed,
        ..SimConfig::default()
    });
    eprintln!("# configuration for `faultline run -c` (topology and rules of the simulated shop):");
    println!("{}{}", sim.topology_yaml(), sim.rules_yaml());
    let faults = sim.faults().to_vec();
    let start = SimConfig::default().start_ms;
    let p = producer(brokers)?;
    let n = produce(&p, sim, speed.map(|s| (s.max(1e-3), start)), &|_| {})?;
    for f in &faults {
        eprintln!("{}", serde_json::to_string(f)?);
    }
    eprintln!("wrote {n} records to {brokers}");
    Ok(())
}

/// Receives webhooks; returns its address and what it received.
fn receiver(
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<(SocketAddr, Arc<Mutex<Vec<IncidentUpdate>>>)> {
    use axum::routing::post;
    let got: Arc<Mutex<Vec<IncidentUpdate>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/incidents",
        post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                match serde_json::from_slice::<IncidentUpdate>(&body) {
                    Ok(u) => {
                        sink.lock().unwrap_or_else(|e| e.into_inner()).push(u);
                        axum::http::StatusCode::OK
                    }
                    Err(_) => axum::http::StatusCode::BAD_REQUEST,
                }
            }
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .context("binding the demo's webhook receiver")?;
    let addr = listener.local_addr()?;
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, got))
}

/// One incident as heard of: every revision delivered, in revision order.
struct Heard {
    first: IncidentUpdate,
    revisions: Vec<IncidentUpdate>,
    resolved: bool,
}

impl Heard {
    /// The ranking SREs saw while `f` was happening: the last revision emitted (event
    /// time) before the fault's end plus [`RANKED_SLACK_MS`], else the first one.
    fn ranked_for(&self, f: &Fault) -> &IncidentUpdate {
        let due = f.end_ms + RANKED_SLACK_MS;
        self.revisions
            .iter()
            .rfind(|u| u.updated_at <= due && !u.candidates.is_empty())
            .unwrap_or(&self.first)
    }

    /// The last revision with a ranking (what an unmatched incident ended up blaming).
    fn last(&self) -> &IncidentUpdate {
        self.revisions
            .iter()
            .rfind(|u| !u.candidates.is_empty())
            .unwrap_or(&self.first)
    }
}

fn incidents(updates: &[IncidentUpdate]) -> BTreeMap<String, Heard> {
    let mut out: BTreeMap<String, Heard> = BTreeMap::new();
    for u in updates {
        let h = out.entry(u.incident_id.clone()).or_insert_with(|| Heard {
            first: u.clone(),
            revisions: Vec::new(),
            resolved: false,
        });
        if u.revision < h.first.revision {
            h.first = u.clone();
        }
        h.resolved |= u.status == Status::Resolved;
        h.revisions.push(u.clone());
    }
    for h in out.values_mut() {
        h.revisions.sort_by_key(|u| u.revision);
        // Redelivered revisions are the same revision.
        h.revisions.dedup_by_key(|u| u.revision);
    }
    // Incidents merged into another before their first notification never opened.
    out.retain(|_, h| h.revisions.iter().any(|u| !u.candidates.is_empty()));
    out
}

fn clock(ms: i64, start: i64) -> String {
    let s = (ms - start) / 1000;
    format!("T+{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn top(u: &IncidentUpdate, n: usize) -> String {
    u.candidates
        .iter()
        .take(n)
        .map(|c| format!("{} ({:.2})", c.entity, c.score))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The demo's verdict, also the last line it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Faults injected.
    pub faults: usize,
    /// Faults an incident matched.
    pub found: usize,
    /// Of those, how many had the root cause ranked first.
    pub top1: usize,
    /// Incidents matching no fault.
    pub unmatched_incidents: usize,
}

/// Matches incidents to faults and prints the report; returns the summary.
pub fn report(faults: &[Fault], updates: &[IncidentUpdate], start: i64) -> Summary {
    let heard = incidents(updates);
    let mut matched = std::collections::BTreeSet::new();
    let (mut found, mut top1) = (0, 0);
    println!();
    println!("injected faults and the incidents that found them:");
    for f in faults {
        let hit = heard
            .values()
            .filter(|h| {
                let at = h.first.opened_at;
                at >= f.start_ms && at <= f.end_ms + MATCH_SLACK_MS
            })
            .min_by_key(|h| {
                let symptoms = h.ranked_for(f).member_count;
                (
                    h.first.opened_at,
                    std::cmp::Reverse(symptoms),
                    h.first.incident_id.clone(),
                )
            });
        println!(
            "  {} {} {} on {} ({})",
            f.id,
            clock(f.start_ms, start),
            f.kind,
            f.root_cause,
            f.description
        );
        match hit {
            None => println!("      missed: no incident opened during the fault"),
            Some(h) => {
                matched.insert(h.first.incident_id.clone());
                found += 1;
                let ranked = h.ranked_for(f);
                let right = ranked.candidates.first().map(|c| c.entity.as_str())
                    == Some(f.root_cause.as_str());
                top1 += usize::from(right);
                println!(
                    "      incident {} opened {} (+{}s), {} revision(s), {} symptom(s){}",
                    h.first.incident_id,
                    clock(h.first.opened_at, start),
                    (h.first.opened_at - f.start_ms) / 1000,
                    ranked.revision,
                    ranked.member_count,
                    if h.resolved { ", resolved" } else { "" }
                );
                println!(
                    "      root cause {}: {}",
                    if right { "right" } else { "WRONG" },
                    top(ranked, 3)
                );
            }
        }
    }
    let unmatched: Vec<&Heard> = heard
        .values()
        .filter(|h| !matched.contains(&h.first.incident_id))
        .filter(|h| {
            !faults.iter().any(|f| {
                h.first.opened_at >= f.start_ms && h.first.opened_at <= f.end_ms + MATCH_SLACK_MS
            })
        })
        .collect();
    if !unmatched.is_empty() {
        println!("incidents matching no fault:");
        for h in &unmatched {
            println!(
                "  {} opened {}: {} — {}",
                h.first.incident_id,
                clock(h.first.opened_at, start),
                h.last().title,
                top(h.last(), 3)
            );
        }
    }
    Summary {
        faults: faults.len(),
        found,
        top1,
        unmatched_incidents: unmatched.len(),
    }
}

/// `faultline demo`.
pub fn demo(seed: u64) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let sim = Simulation::new(SimConfig {
        seed,
        ..SimConfig::default()
    });
    let faults = sim.faults().to_vec();
    let start = SimConfig::default().start_ms;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (hook_addr, received) = receiver(&rt)?;
    let state = tempfile::tempdir().context("creating the demo's state directory")?;
    let yaml = format!(
        "state: {{dir: {:?}, checkpoint_interval: 5s}}\nhttp: {{listen: \"127.0.0.1:0\"}}\nlog: {{level: {}}}\nreceivers:\n  - {{name: demo, type: native, url: \"http://{hook_addr}/incidents\"}}\n{}{}{}",
        state.path().display().to_string(),
        std::env::var("FAULTLINE_DEMO_LOG").unwrap_or_else(|_| "warn".into()),
        CORRELATOR,
        sim.topology_yaml(),
        sim.rules_yaml()
    );
    let mut config = faultline_config::load_str("<demo>", &yaml)
        .map_err(|d| anyhow::anyhow!("the demo's configuration is invalid:\n{d}"))?;
    let (cluster, brokers) = crate::run::embedded_broker(&config)?;
    config.kafka.brokers = Some(brokers.clone());
    println!("kafka: {brokers} (embedded)");
    println!("webhook receiver: http://{hook_addr}/incidents");
    println!(
        "simulating {} faults over {} simulated minutes (seed {seed})",
        faults.len(),
        SimConfig::default().duration_ms() / 60_000
    );

    let hooks = Hooks::default();
    let engine = {
        let hooks = hooks.clone();
        std::thread::Builder::new()
            .name("faultline-engine".into())
            .spawn(move || run_with(config, hooks))?
    };
    // The embedded broker keeps only about 5 MB per partition, so stay close to the
    // engine: write while it is at most this many records behind.
    const AHEAD: u64 = 4_000;
    let p = producer(&brokers)?;
    let processed = hooks.processed.clone();
    let produced = produce(&p, sim, None, &|n| {
        while n > processed.load(Ordering::SeqCst) + AHEAD && !engine.is_finished() {
            p.poll(Duration::from_millis(5));
        }
    })?;
    println!(
        "wrote {produced} records in {:.1}s; waiting for the engine",
        started.elapsed().as_secs_f64()
    );
    let mut settled_since: Option<Instant> = None;
    let (mut last, mut moved) = (0, Instant::now());
    loop {
        let now = hooks.processed.load(Ordering::SeqCst);
        if now != last {
            (last, moved) = (now, Instant::now());
        }
        if engine.is_finished() {
            break;
        }
        let done = hooks.processed.load(Ordering::SeqCst) >= produced
            && hooks.outbox.get().is_some_and(|o| o.pending() == 0);
        match (done, settled_since) {
            (true, None) => settled_since = Some(Instant::now()),
            (true, Some(t)) if t.elapsed() >= Duration::from_secs(2) => break,
            (false, _) => settled_since = None,
            _ => {}
        }
        if now < produced && moved.elapsed() > Duration::from_secs(60) {
            hooks.stop.store(true, Ordering::SeqCst);
            bail!("the engine stalled after {now} of {produced} records");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    hooks.stop.store(true, Ordering::SeqCst);
    match engine.join() {
        Ok(r) => r.context("the engine failed")?,
        Err(_) => bail!("the engine thread panicked"),
    }
    // Every Kafka client (this producer, and the outbox's, which the hooks hold) goes before
    // the broker it talks to: stopped first, the broker leaves them logging that all
    // brokers are down.
    drop(p);
    drop(hooks);
    drop(cluster);
    let updates = received.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let summary = report(&faults, &updates, start);
    println!(
        "{} of {} faults became incidents, root cause ranked first for {}; {} incident(s) matched no fault; {} updates delivered; {:.1}s",
        summary.found,
        summary.faults,
        summary.top1,
        summary.unmatched_incidents,
        updates.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", json!(summary));
    Ok(summary)
}
