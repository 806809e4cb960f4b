//! Invariants over random inputs: determinism, gapless revisions, snapshot continuity and
//! corrupt snapshots.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{S, Step, change, feed, settings, sig, topology};
use crate::correlator::Correlator;
use crate::types::{EdgeKind, IncidentUpdate, Millis, Status, TopologyUpdate, Transition};

const ENTITIES: [&str; 8] = [
    "frontend", "cart", "redis", "catalog", "checkout", "payments", "ghost", "x",
];
const SERIES: [&str; 3] = ["latency", "errors", "cpu"];

/// One random input before timestamps are laid out.
#[derive(Debug, Clone)]
enum Op {
    Sig {
        id: u8,
        entity: usize,
        series: usize,
        value: f64,
    },
    Change {
        id: u8,
        entity: usize,
    },
    Topo {
        from: usize,
        to: usize,
        ttl: Option<Millis>,
        remove: bool,
    },
    Advance(Millis),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), 0..ENTITIES.len(), 0..SERIES.len(), 0.0..60.0f64)
            .prop_map(|(id, entity, series, value)| Op::Sig { id, entity, series, value }),
        1 => (any::<u8>(), 0..ENTITIES.len()).prop_map(|(id, entity)| Op::Change { id, entity }),
        1 => (0..ENTITIES.len(), 0..ENTITIES.len(), proptest::option::of(0..300 * S), any::<bool>())
            .prop_map(|(from, to, ttl, remove)| Op::Topo { from, to, ttl, remove }),
        2 => (0..400 * S).prop_map(Op::Advance),
    ]
}

/// Ops with time steps (≥ 0) and jitter (late or early arrivals).
fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((op(), 0..30 * S, -40 * S..5 * S), 1..120).prop_map(|ops| {
        let mut t = 0;
        ops.into_iter()
            .map(|(op, dt, jitter)| {
                t += dt;
                let at = t + jitter;
                match op {
                    Op::Sig {
                        id,
                        entity,
                        series,
                        value,
                    } => Step::Sig(sig(
                        &format!("s{id}"),
                        ENTITIES[entity],
                        SERIES[series],
                        at,
                        value,
                    )),
                    Op::Change { id, entity } => {
                        Step::Change(change(&format!("c{id}"), ENTITIES[entity], at))
                    }
                    Op::Topo {
                        from,
                        to,
                        ttl,
                        remove,
                    } => Step::Topo(TopologyUpdate {
                        from: ENTITIES[from].into(),
                        to: ENTITIES[to].into(),
                        kind: EdgeKind::Calls,
                        at,
                        ttl,
                        remove,
                    }),
                    Op::Advance(d) => Step::Advance(t + d),
                }
            })
            .collect()
    })
}

fn run(steps: &[Step]) -> Vec<IncidentUpdate> {
    let mut c = Correlator::new(topology(), small());
    let mut out = Vec::new();
    for step in steps {
        feed(&mut c, step, &mut out);
        c.assert_index_consistent();
    }
    c.advance(Millis::MAX, &mut out);
    c.assert_index_consistent();
    assert_eq!(
        c.open_incidents(),
        0,
        "everything resolves at the end of time"
    );
    out
}

/// Small bounds, so that the random runs hit them.
fn small() -> crate::Settings {
    crate::Settings {
        max_members: 3,
        max_open: 3,
        ..settings()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn same_input_gives_same_updates_with_gapless_revisions(steps in steps()) {
        let out = run(&steps);
        prop_assert_eq!(
            postcard::to_stdvec(&out).unwrap(),
            postcard::to_stdvec(&run(&steps)).unwrap()
        );
        let mut last: BTreeMap<&str, &IncidentUpdate> = BTreeMap::new();
        for u in &out {
            let prev = last.insert(&u.incident_id, u);
            prop_assert_eq!(u.revision, prev.map_or(1, |p| p.revision + 1), "{:?}", u);
            prop_assert_eq!(u.status == Status::Resolved, u.transition == Transition::Resolved);
            match prev {
                None => prop_assert_eq!(u.transition, Transition::Opened),
                Some(p) if p.status == Status::Resolved => {
                    prop_assert!(!p.title.contains("merged into"), "merged incidents stay quiet");
                    prop_assert_eq!(u.transition, Transition::Reopened);
                }
                Some(_) => prop_assert_ne!(u.transition, Transition::Reopened),
            }
            prop_assert!(u.members.len() <= 3 && u.member_count >= u.members.len() as u64);
            prop_assert!(u.members.windows(2).all(|w| (w[0].at, &w[0].series) <= (w[1].at, &w[1].series)));
            prop_assert!(u.entities.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn snapshot_at_any_point_continues_identically(steps in steps(), cut in any::<prop::sample::Index>()) {
        let k = cut.index(steps.len() + 1);
        let expected = run(&steps);
        let mut first = Correlator::new(topology(), small());
        let mut out = Vec::new();
        for step in &steps[..k] {
            feed(&mut first, step, &mut out);
        }
        let mut second = Correlator::new(topology(), small());
        second.restore(&first.snapshot()).unwrap();
        second.assert_index_consistent();
        for step in &steps[k..] {
            feed(&mut second, step, &mut out);
        }
        second.advance(Millis::MAX, &mut out);
        prop_assert_eq!(postcard::to_stdvec(&out).unwrap(), postcard::to_stdvec(&expected).unwrap());
    }

    #[test]
    fn garbage_and_bit_flipped_snapshots_are_rejected(
        steps in steps(),
        garbage in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let mut c = Correlator::new(topology(), small());
        let mut out = Vec::new();
        for step in &steps {
            feed(&mut c, step, &mut out);
        }
        let good = c.snapshot();
        prop_assert!(c.restore(&garbage).is_err());
        let mut with_magic = b"FC\x01\x00".to_vec();
        with_magic.extend_from_slice(&garbage);
        prop_assert!(c.restore(&with_magic).is_err());
        let mut flipped = good.clone();
        flipped[flip.index(good.len())] ^= 1 << bit;
        prop_assert!(c.restore(&flipped).is_err());
        prop_assert_eq!(c.snapshot(), good);
    }
}
