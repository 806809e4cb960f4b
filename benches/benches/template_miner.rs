//! Cost of mining one log line with the default [`TemplateMiner`], on a warmed-up miner fed a
//! synthetic service's log stream, and the memory a miner holds per template and per service.
//!
//! The stream mixes 120 templates of the shapes real services print (block and request
//! lines, sessions, key=value status lines, Java-style and syslog-style messages) with
//! numbers, IPs and ports, hex and UUID ids, paths, durations and user names filled in from a
//! seeded generator. The miner learns every template on a first lap before timing, so the
//! figure is the steady state (a line matching a known template), which is what a service
//! sends nearly all the time. Lines are mined in batches of [`BATCH`], so the elements/s
//! criterion prints is lines per second on one core.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultline_benches::XorShift;
use faultline_detectors::logs::{MinerParams, TemplateMiner};

const LINES: usize = 100_000;
const BATCH: usize = 1_000;
const SEED: u64 = 0x10C5_FA17;

/// Template shapes; `{…}` are filled per line. Each shape comes in six variants, printed by
/// six components (the line's first word), and `{w}` is a word of the variant.
const SHAPES: [&str; 20] = [
    "Received block {blk} of size {int} from {ip}",
    "PacketResponder {int} for block {blk} {w}",
    "session opened for user {user} by (uid={int})",
    "Failed password for {user} from {ip} port {int} ssh2",
    "Connection closed by {ip} [preauth]",
    "[instance: {uuid}] Took {float} seconds to {w} the instance on the hypervisor.",
    "{ip} \"GET {path} HTTP/1.1\" status: {int} len: {int} time: {float}",
    "Starting {w} task {int}.{int} in stage {float} (TID {int}, {host}, partition {int}, PROCESS_LOCAL, {int} bytes)",
    "Got assigned task {int}",
    "Removing {w} {path} after {dur}",
    "org.apache.hadoop.{w}.Client: Retrying connect to server: {host}:{int}. Already tried {int} time(s)",
    "status={w} code={int} latency={dur} trace_id={hex}",
    "user {user} requested {path} with id {uuid} in {dur}",
    "Cache miss for key {hex}, loading from {host}:{int}",
    "Job {int} finished: {w} at {path}:{int}, took {float} s",
    "kernel: [{float}] {w}: link is not ready",
    "WARN pool exhausted: active={int} idle={int} waiting={int}",
    "Transaction {hex} committed after {int} retries",
    "GC pause (G1 Evacuation Pause) (young) {int}M->{int}M({int}M) {dur}",
    "health check {w} for {host} ({ip}:{int})",
];
const WORDS: [&str; 6] = ["start", "stop", "spawn", "destroy", "commit", "flush"];
const COMPONENTS: [&str; 6] = [
    "Scheduler:",
    "Storage:",
    "Network:",
    "Auth:",
    "Cache:",
    "Worker:",
];
const USERS: [&str; 8] = [
    "root", "admin", "alice", "bob", "guest", "test", "oracle", "www",
];

fn fill(shape: &str, variant: usize, rng: &mut XorShift) -> String {
    let mut out = String::with_capacity(shape.len() + 64);
    out.push_str(COMPONENTS[variant % COMPONENTS.len()]);
    out.push(' ');
    let mut rest = shape;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("closed slot");
        let r = rng.next_u64();
        match &rest[open + 1..close] {
            "blk" => out.push_str(&format!("blk_{}", r as i64)),
            "int" => out.push_str(&(r % 100_000).to_string()),
            "float" => out.push_str(&format!("{:.3}", (r % 100_000) as f64 / 1000.0)),
            "ip" => out.push_str(&format!(
                "10.{}.{}.{}",
                r % 256,
                (r >> 8) % 256,
                (r >> 16) % 256
            )),
            "host" => out.push_str(&format!("node-{}.cluster.local", r % 512)),
            "uuid" => out.push_str(&format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                r >> 32,
                (r >> 16) & 0xffff,
                r & 0xffff,
                (r >> 48) & 0xffff,
                r & 0xffff_ffff_ffff
            )),
            "hex" => out.push_str(&format!("{r:016x}")),
            "path" => out.push_str(&format!("/var/lib/app/{}/{}.dat", r % 97, r % 1000)),
            "dur" => out.push_str(&format!("{}ms", r % 5000)),
            "user" => out.push_str(USERS[(r % USERS.len() as u64) as usize]),
            "w" => out.push_str(WORDS[variant % WORDS.len()]),
            other => unreachable!("unknown slot {other}"),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// One service's stream: each line picks one of 120 templates (20 shapes × 6 variants),
/// skewed so a few templates dominate, as in real logs.
fn lines() -> Vec<String> {
    let mut rng = XorShift::new(SEED);
    (0..LINES)
        .map(|_| {
            let pick = (rng.next_f64() * rng.next_f64() * 120.0) as usize;
            fill(SHAPES[pick % SHAPES.len()], pick / SHAPES.len(), &mut rng)
        })
        .collect()
}

fn warmed(lines: &[String]) -> TemplateMiner {
    let mut miner = TemplateMiner::new(MinerParams::default()).expect("default miner");
    for l in lines {
        miner.mine(l);
    }
    miner
}

/// Prints, once, the memory of a miner after the stream: per service (`state_bytes`, the
/// snapshot's length) and per template.
fn report_state_bytes(_: &mut Criterion) {
    let lines = lines();
    let miner = warmed(&lines);
    let bytes = miner.state_bytes();
    println!("template miner after {LINES} lines:");
    println!(
        "templates {:>5}  state_bytes {bytes:>8}  snapshot_bytes {:>8}  bytes/template {:>6.0}",
        miner.len(),
        miner.snapshot().len(),
        bytes as f64 / miner.len().max(1) as f64
    );
    println!();
}

fn mine(c: &mut Criterion) {
    let lines = lines();
    let mut miner = warmed(&lines);
    let mut group = c.benchmark_group("faultline_detectors::logs::TemplateMiner");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut at = 0;
    group.bench_function("mine", |b| {
        b.iter(|| {
            let batch = &lines[at..at + BATCH];
            at = (at + BATCH) % LINES;
            for l in batch {
                black_box(miner.mine(black_box(l)));
            }
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = template_miner;
    config = config();
    targets = report_state_bytes, mine
}
criterion_main!(template_miner);
