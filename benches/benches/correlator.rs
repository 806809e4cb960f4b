//! Cost of one anomaly in the correlator as the number of open incidents grows.
//!
//! The topology is `SERVICES` services in call chains of three (`a → b → c`), each chain
//! apart from the others, so with `max_hops: 2` an anomaly can only join an incident of its
//! own chain. `open` incidents are opened, one per chain, then every measured anomaly is a
//! new member (a fresh id and series) of one of them: the steady state of a large system
//! with many unrelated incidents at once.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use faultline_correlator::{
    Bad, Correlator, EdgeKind, IncidentUpdate, NodeKind, Settings, Severity, Signal, Topology,
};

const CHAIN: usize = 3;
const SERVICES: usize = 30_000;

fn service(chain: usize, i: usize) -> String {
    format!("svc-{chain}-{i}")
}

fn topology() -> Topology {
    let mut t = Topology::new();
    for c in 0..SERVICES / CHAIN {
        for i in 0..CHAIN {
            t.add_node(&service(c, i), NodeKind::Service);
        }
        for i in 1..CHAIN {
            t.add_edge(&service(c, i - 1), &service(c, i), EdgeKind::Calls);
        }
    }
    t
}

fn signal(n: u64, entity: String, at: i64) -> Signal {
    Signal {
        id: format!("a{n}"),
        series: format!("latency{{service=\"{entity}\",pod=\"{n}\"}}"),
        entity,
        metric: "latency".into(),
        at,
        value: 900.0,
        lower: 90.0,
        upper: 110.0,
        up: true,
        score: 0.99,
        detector: "ensemble".into(),
        rule: "latency".into(),
        bad: Bad::Up,
        severity: Severity::Critical,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("correlator_signal");
    group.throughput(Throughput::Elements(1));
    for open in [10usize, 1_000, 10_000] {
        let settings = Settings {
            // Every measured signal stays inside its incident's span; nothing resolves.
            quiet_period: i64::MAX / 4,
            window: i64::MAX / 4,
            max_members: 50,
            max_open: open,
            ..Settings::default()
        };
        let mut corr = Correlator::new(topology(), settings);
        let mut out: Vec<IncidentUpdate> = Vec::new();
        for chain in 0..open {
            corr.signal(signal(chain as u64, service(chain, 0), 1_000), &mut out);
        }
        assert_eq!(corr.open_incidents(), open);
        let mut n = open as u64;
        group.bench_with_input(BenchmarkId::from_parameter(open), &open, |b, &open| {
            b.iter(|| {
                n += 1;
                let chain = (n.wrapping_mul(2_654_435_761) % open as u64) as usize;
                let entity = service(chain, (n % CHAIN as u64) as usize);
                corr.signal(signal(n, entity, 2_000), &mut out);
                black_box(&out);
                out.clear();
            })
        });
        // Every measured signal joined one of the first incidents: no other ever opened.
        corr.advance(i64::MAX / 2, &mut out);
        let opened: std::collections::BTreeSet<&str> =
            out.iter().map(|u| u.incident_id.as_str()).collect();
        assert_eq!(opened.len(), open, "every signal joined an incident");
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
