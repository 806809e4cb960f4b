//! Scenario tests of grouping, timing, lifecycle, changes, bounds and snapshots.

use super::*;
use crate::rank::RankParams;
use crate::types::{Bad, EdgeKind, Severity, Transition};

mod props;

pub(super) const S: Millis = 1_000;

pub(super) fn settings() -> Settings {
    Settings {
        window: 60 * S,
        max_hops: 1,
        group_wait: 10 * S,
        group_interval: 30 * S,
        quiet_period: 120 * S,
        reopen_window: 600 * S,
        flap_limit: 2,
        flap_quiet_factor: 3,
        change_lookback: 300 * S,
        max_members: 50,
        max_open: 100,
        rank: RankParams::default(),
        clock_follows_inputs: true,
    }
}

/// frontend → cart → redis, frontend → catalog; checkout → payments apart.
pub(super) fn topology() -> Topology {
    let mut t = Topology::new();
    t.add_edge("frontend", "cart", EdgeKind::Calls);
    t.add_edge("cart", "redis", EdgeKind::Calls);
    t.add_edge("frontend", "catalog", EdgeKind::Calls);
    t.add_edge("checkout", "payments", EdgeKind::Calls);
    t
}

/// An anomaly `value` above a 0..10 band (magnitude `(value - 10) / 5`).
pub(super) fn sig(id: &str, entity: &str, series: &str, at: Millis, value: f64) -> Signal {
    Signal {
        id: id.into(),
        entity: entity.into(),
        series: format!("{series}{{entity=\"{entity}\"}}"),
        metric: series.into(),
        at,
        value,
        lower: 0.0,
        upper: 10.0,
        up: true,
        score: 0.9,
        detector: "ewma".into(),
        rule: "latency".into(),
        bad: Bad::Up,
        severity: Severity::Warning,
    }
}

pub(super) fn change(id: &str, entity: &str, at: Millis) -> Change {
    Change {
        id: id.into(),
        entity: entity.into(),
        at,
        kind: "deploy".into(),
        summary: format!("{entity} v2"),
    }
}

/// A correlator and everything it emitted.
struct Run {
    c: Correlator,
    out: Vec<IncidentUpdate>,
}

impl Run {
    fn new(s: Settings) -> Self {
        Self {
            c: Correlator::new(topology(), s),
            out: Vec::new(),
        }
    }

    /// Feeds a signal; returns what it emitted.
    fn sig(&mut self, s: Signal) -> Vec<IncidentUpdate> {
        let n = self.out.len();
        self.c.signal(s, &mut self.out);
        self.out[n..].to_vec()
    }

    fn change(&mut self, c: Change) -> Vec<IncidentUpdate> {
        let n = self.out.len();
        self.c.change(c, &mut self.out);
        self.out[n..].to_vec()
    }

    fn at(&mut self, now: Millis) -> Vec<IncidentUpdate> {
        let n = self.out.len();
        self.c.advance(now, &mut self.out);
        self.out[n..].to_vec()
    }
}

fn one(mut v: Vec<IncidentUpdate>) -> IncidentUpdate {
    assert_eq!(v.len(), 1, "expected one update, got {v:#?}");
    v.remove(0)
}

#[test]
fn groups_anomalies_within_max_hops_and_window() {
    let mut r = Run::new(settings());
    assert!(r.sig(sig("1", "cart", "latency", 0, 20.0)).is_empty());
    // redis and frontend are one hop from cart; catalog one hop from frontend.
    r.sig(sig("2", "redis", "latency", 5 * S, 20.0));
    r.sig(sig("3", "frontend", "errors", 6 * S, 20.0));
    r.sig(sig("4", "catalog", "latency", 7 * S, 20.0));
    // Another component, and an entity the graph does not know.
    r.sig(sig("5", "payments", "latency", 8 * S, 20.0));
    r.sig(sig("6", "ghost", "latency", 8 * S, 20.0));
    r.sig(sig("7", "ghost", "errors", 9 * S, 20.0));
    assert_eq!(r.c.open_incidents(), 3);
    let mut opened = r.at(20 * S);
    opened.sort_by_key(|u| (u.opened_at, u.entities.clone()));
    let entities: Vec<_> = opened.iter().map(|u| u.entities.clone()).collect();
    assert_eq!(
        entities,
        vec![
            vec!["cart", "catalog", "frontend", "redis"],
            vec!["ghost"],
            vec!["payments"],
        ]
    );
    assert!(opened.iter().all(|u| u.transition == Transition::Opened));
    assert_eq!(opened[0].member_count, 4);
    assert_eq!(opened[1].member_count, 2);
    // Members sorted by (at, series).
    let ats: Vec<_> = opened[0].members.iter().map(|m| m.at).collect();
    assert_eq!(ats, vec![0, 5 * S, 6 * S, 7 * S]);

    // Same entity but more than `window` after the latest member: a new incident.
    r.sig(sig("8", "cart", "latency", 7 * S + 60 * S + 1, 20.0));
    assert_eq!(r.c.open_incidents(), 4);
    // Exactly `window` after ghost's latest member still joins.
    r.sig(sig("9", "ghost", "cpu", 9 * S + 60 * S, 20.0));
    assert_eq!(r.c.open_incidents(), 4);
}

#[test]
fn bridging_anomaly_merges_incidents_into_the_oldest() {
    let mut r = Run::new(settings());
    r.sig(sig("a", "redis", "latency", 0, 20.0));
    r.sig(sig("b", "frontend", "errors", S, 20.0));
    assert_eq!(
        r.c.open_incidents(),
        2,
        "redis and frontend are two hops apart"
    );
    let opened = r.at(15 * S);
    assert_eq!(opened.len(), 2);
    let redis = opened.iter().find(|u| u.entities == ["redis"]).unwrap();
    let frontend = opened.iter().find(|u| u.entities == ["frontend"]).unwrap();

    // cart is one hop from both.
    let merged = one(r.sig(sig("c", "cart", "latency", 20 * S, 20.0)));
    assert_eq!(merged.incident_id, frontend.incident_id);
    assert_eq!(merged.status, Status::Resolved);
    assert_eq!(merged.revision, 2);
    assert!(
        merged
            .title
            .contains(&format!("merged into {}", redis.incident_id))
    );
    assert_eq!(r.c.open_incidents(), 1);

    let upd = one(r.at(45 * S));
    assert_eq!(upd.incident_id, redis.incident_id);
    assert_eq!((upd.revision, upd.transition), (2, Transition::Updated));
    assert_eq!(upd.entities, ["cart", "frontend", "redis"]);
    assert_eq!(upd.member_count, 3);
    assert_eq!(upd.opened_at, 0);
    // The absorbed incident never speaks again.
    r.sig(sig("d", "frontend", "errors2", 50 * S, 20.0));
    r.at(2_000 * S);
    assert!(
        r.out
            .iter()
            .filter(|u| u.incident_id == frontend.incident_id)
            .count()
            == 2
    );
}

/// The same anomalies in two arrival orders: `frontend` at 90 s is more than `window` after
/// `cart`'s incident as first seen, but within it once `redis` at 40 s has widened its span.
/// `redis` is not one hop from `frontend`, so no anomaly bridges the two; the incident that
/// `frontend` opened merges into `cart`'s before it ever notifies.
#[test]
fn grouping_does_not_depend_on_the_arrival_order_of_a_span_widening_member() {
    let orders: [&[usize]; 2] = [&[0, 1, 2], &[0, 2, 1]];
    let signals = [
        sig("1", "cart", "latency", 0, 20.0),
        sig("2", "redis", "latency", 40 * S, 20.0),
        sig("3", "frontend", "errors", 90 * S, 20.0),
    ];
    let mut finals = Vec::new();
    for order in orders {
        let mut r = Run::new(settings());
        for &i in order {
            r.sig(signals[i].clone());
        }
        r.at(10_000 * S);
        let ids: BTreeSet<&str> = r.out.iter().map(|u| u.incident_id.as_str()).collect();
        assert_eq!(ids.len(), 1, "{order:?}: one incident, got {:#?}", r.out);
        let last = r.out.last().unwrap();
        assert_eq!(last.transition, Transition::Resolved);
        finals.push((last.entities.clone(), last.member_count));
    }
    assert_eq!(finals[0], finals[1]);
    assert_eq!(finals[0].0, vec!["cart", "frontend", "redis"]);
}

/// The clock may notice a quiet incident late (a watermark held back by a slow partition);
/// the resolution is dated by the data, and the reopen window counts from there.
#[test]
fn a_quiet_incident_resolves_as_of_the_end_of_its_quiet_period() {
    for (at, reopens) in [(700 * S, true), (730 * S, false)] {
        let mut r = Run::new(settings());
        r.sig(sig("1", "cart", "latency", 0, 20.0));
        let opened = one(r.at(20 * S));
        // The clock jumps far past the end of the quiet period (120 s).
        let resolved = one(r.at(500 * S));
        assert_eq!(resolved.transition, Transition::Resolved);
        assert_eq!(resolved.resolved_at, Some(120 * S));
        // Reopen window 600 s: until 720 s, not until 1100 s.
        let mut v = r.sig(sig("2", "cart", "latency", at, 20.0));
        v.extend(r.at(at + 20 * S));
        let next = one(v);
        assert_eq!(next.incident_id == opened.incident_id, reopens, "{next:#?}");
        let expected = if reopens {
            Transition::Reopened
        } else {
            Transition::Opened
        };
        assert_eq!(next.transition, expected);
    }
}

#[test]
fn merging_an_unnotified_incident_emits_nothing_for_it() {
    let mut r = Run::new(settings());
    r.sig(sig("a", "redis", "latency", 0, 20.0));
    r.at(10 * S);
    r.sig(sig("b", "frontend", "errors", 11 * S, 20.0));
    assert!(r.sig(sig("c", "cart", "latency", 12 * S, 20.0)).is_empty());
    assert_eq!(r.c.open_incidents(), 1);
    assert_eq!(one(r.at(40 * S)).member_count, 3);
}

#[test]
fn notifies_after_group_wait_and_at_most_once_per_group_interval() {
    let mut r = Run::new(settings());
    r.sig(sig("1", "cart", "latency", 0, 20.0));
    assert!(r.at(10 * S - 1).is_empty());
    let first = one(r.at(10 * S));
    assert_eq!(
        (first.revision, first.transition, first.status),
        (1, Transition::Opened, Status::Open)
    );
    assert_eq!(first.updated_at, 10 * S);

    assert!(r.sig(sig("2", "cart", "errors", 12 * S, 20.0)).is_empty());
    assert!(r.sig(sig("3", "redis", "latency", 20 * S, 20.0)).is_empty());
    assert!(r.at(40 * S - 1).is_empty());
    let second = one(r.at(40 * S));
    assert_eq!(
        (second.revision, second.transition),
        (2, Transition::Updated)
    );
    assert_eq!(second.members.len(), 3);

    // A weaker repeat of a known series changes nothing a consumer sees.
    assert!(r.sig(sig("4", "cart", "latency", 45 * S, 15.0)).is_empty());
    assert!(r.at(80 * S).is_empty());

    // The interval has passed: a new member notifies at once.
    let third = one(r.sig(sig("5", "frontend", "latency", 85 * S, 20.0)));
    assert_eq!((third.revision, third.updated_at), (3, 85 * S));
    assert_eq!(third.member_count, 5);
}

#[test]
fn resolves_after_quiet_period_and_reopens_with_the_same_id() {
    let mut r = Run::new(settings());
    r.sig(sig("1", "cart", "latency", 0, 20.0));
    let opened = one(r.at(10 * S));
    assert!(r.at(120 * S - 1).is_empty());
    let resolved = one(r.at(120 * S));
    assert_eq!(
        (resolved.revision, resolved.transition, resolved.status),
        (2, Transition::Resolved, Status::Resolved)
    );
    assert_eq!(resolved.resolved_at, Some(120 * S));
    assert_eq!(r.c.open_incidents(), 0);

    // A straggler from before the resolution is too late to reopen (or open) anything.
    assert!(r.at(230 * S).is_empty());
    assert!(
        r.sig(sig("late", "cart", "errors", 110 * S, 20.0))
            .is_empty()
    );
    assert_eq!((r.c.late_signals(), r.c.open_incidents()), (1, 0));

    // A neighbour's anomaly within the reopen window reopens it at once.
    let reopened = one(r.sig(sig("2", "redis", "latency", 300 * S, 20.0)));
    assert_eq!(reopened.incident_id, opened.incident_id);
    assert_eq!(
        (reopened.revision, reopened.transition, reopened.status),
        (3, Transition::Reopened, Status::Open)
    );
    assert_eq!((reopened.reopened, reopened.resolved_at), (1, None));
    assert_eq!(r.c.open_incidents(), 1);

    let again = one(r.at(420 * S));
    assert_eq!(
        (again.revision, again.transition),
        (4, Transition::Resolved)
    );
    // Past the reopen window it is forgotten: a recurrence is a new incident.
    r.sig(sig("3", "cart", "latency", 1_021 * S, 20.0));
    let fresh = one(r.at(1_031 * S));
    assert_ne!(fresh.incident_id, opened.incident_id);
    assert_eq!((fresh.revision, fresh.transition), (1, Transition::Opened));
}

#[test]
fn flapping_incident_stops_announcing_resolve_and_reopen() {
    let mut r = Run::new(settings());
    r.sig(sig("1", "cart", "latency", 0, 20.0));
    let id = one(r.at(10 * S)).incident_id;
    assert_eq!(one(r.at(120 * S)).transition, Transition::Resolved);
    assert_eq!(
        one(r.sig(sig("2", "cart", "latency", 200 * S, 20.0))).reopened,
        1
    );
    assert_eq!(one(r.at(320 * S)).transition, Transition::Resolved);
    // The second reopen reaches flap_limit: announced, then it stays open.
    let flap = one(r.sig(sig("3", "cart", "latency", 400 * S, 20.0)));
    assert_eq!((flap.transition, flap.reopened), (Transition::Reopened, 2));
    assert!(
        r.at(400 * S + 120 * S).is_empty(),
        "no resolve after the plain quiet period"
    );
    assert!(r.at(400 * S + 360 * S - 1).is_empty());
    let last = one(r.at(400 * S + 360 * S));
    assert_eq!((last.transition, last.revision), (Transition::Resolved, 6));
    // Not reopened any more: a recurrence is a new incident.
    r.sig(sig("4", "cart", "latency", 800 * S, 20.0));
    let fresh = one(r.at(810 * S));
    assert_ne!(fresh.incident_id, id);
    assert_eq!(fresh.transition, Transition::Opened);
}

#[test]
fn folds_duplicate_ids_and_repeats_of_a_series() {
    let mut r = Run::new(settings());
    r.sig(sig("1", "cart", "latency", 2 * S, 20.0));
    r.sig(sig("1", "cart", "latency", 2 * S, 20.0));
    r.sig(sig("2", "cart", "latency", 3 * S, 40.0));
    r.sig(sig("3", "cart", "latency", 4 * S, 30.0));
    r.sig(sig("3", "cart", "latency", 4 * S, 30.0));
    let u = one(r.at(20 * S));
    assert_eq!(u.member_count, 3);
    assert_eq!(u.members.len(), 1);
    let m = &u.members[0];
    assert_eq!((&*m.id, m.value, m.at), ("2", 40.0, 2 * S));
    assert_eq!(m.magnitude, 6.0);
    assert!(
        u.title.starts_with("cart: latency up 6.0x band"),
        "{}",
        u.title
    );
}

#[test]
fn attaches_changes_from_the_lookback_and_during_the_incident() {
    let mut r = Run::new(settings());
    r.change(change("old", "cart", 1_000 * S - 301 * S));
    r.change(change("recent", "cart", 1_000 * S - 299 * S));
    r.change(change("redis-deploy", "redis", 1_000 * S - 100 * S));
    r.change(change("elsewhere", "payments", 1_000 * S - 10 * S));
    r.sig(sig("1", "cart", "latency", 1_000 * S, 20.0));
    let opened = one(r.at(1_010 * S));
    let ids = |u: &IncidentUpdate| u.changes.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&opened), ["recent"]);
    assert_eq!(
        opened
            .candidates
            .iter()
            .find(|c| c.entity == "cart")
            .unwrap()
            .changes,
        ["recent"]
    );

    // During the incident: attaches and makes an update (rate-limited).
    assert!(r.change(change("hotfix", "cart", 1_020 * S)).is_empty());
    r.change(change("unrelated", "catalog", 1_021 * S));
    let upd = one(r.at(1_040 * S));
    assert_eq!(upd.transition, Transition::Updated);
    assert_eq!(ids(&upd), ["recent", "hotfix"]);

    // A new entity brings its remembered changes along.
    r.sig(sig("2", "redis", "latency", 1_050 * S, 20.0));
    let upd = one(r.at(1_070 * S));
    assert_eq!(ids(&upd), ["recent", "redis-deploy", "hotfix"]);
}

#[test]
fn keeps_the_strongest_members_when_full() {
    let mut r = Run::new(Settings {
        max_members: 2,
        ..settings()
    });
    for (i, v) in [15.0, 35.0, 25.0, 12.0].into_iter().enumerate() {
        r.sig(sig(
            &i.to_string(),
            "cart",
            &format!("m{i}"),
            i as Millis * S,
            v,
        ));
    }
    let u = one(r.at(20 * S));
    assert_eq!(u.member_count, 4);
    let values: Vec<_> = u.members.iter().map(|m| m.value).collect();
    assert_eq!(values, [35.0, 25.0]);
}

#[test]
fn force_resolves_the_oldest_incident_beyond_max_open() {
    let mut r = Run::new(Settings {
        max_open: 2,
        ..settings()
    });
    r.sig(sig("x", "x", "latency", 0, 20.0));
    r.sig(sig("y", "y", "latency", S, 20.0));
    let opened = r.at(20 * S);
    assert_eq!(opened.len(), 2);
    let x = opened.iter().find(|u| u.entities == ["x"]).unwrap();
    let forced = one(r.sig(sig("z", "z", "latency", 21 * S, 20.0)));
    assert_eq!(forced.incident_id, x.incident_id);
    assert_eq!(forced.status, Status::Resolved);
    assert_eq!(r.c.open_incidents(), 2);
}

/// One input of a scripted run.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Sig(Signal),
    Change(Change),
    Topo(TopologyUpdate),
    Advance(Millis),
}

pub(super) fn feed(c: &mut Correlator, step: &Step, out: &mut Vec<IncidentUpdate>) {
    match step {
        Step::Sig(s) => c.signal(s.clone(), out),
        Step::Change(ch) => c.change(ch.clone(), out),
        Step::Topo(u) => c.apply_topology(u),
        Step::Advance(t) => c.advance(*t, out),
    }
}

fn script() -> Vec<Step> {
    vec![
        Step::Change(change("d1", "cart", -50 * S)),
        Step::Sig(sig("1", "cart", "latency", 0, 20.0)),
        Step::Topo(TopologyUpdate {
            from: "redis".into(),
            to: "payments".into(),
            kind: EdgeKind::Calls,
            at: 2 * S,
            ttl: Some(200 * S),
            remove: false,
        }),
        Step::Sig(sig("2", "payments", "errors", 5 * S, 30.0)),
        Step::Sig(sig("3", "checkout", "errors", 6 * S, 30.0)),
        Step::Advance(20 * S),
        Step::Sig(sig("4", "redis", "latency", 25 * S, 50.0)),
        Step::Change(change("d2", "redis", 30 * S)),
        Step::Advance(60 * S),
        Step::Sig(sig("5", "ghost", "latency", 61 * S, 12.0)),
        Step::Advance(200 * S),
        Step::Sig(sig("6", "checkout", "errors", 260 * S, 30.0)),
        Step::Advance(500 * S),
        Step::Sig(sig("7", "payments", "errors", 510 * S, 30.0)),
        Step::Advance(2_000 * S),
    ]
}

#[test]
fn restored_snapshot_continues_exactly_like_the_uninterrupted_run() {
    let steps = script();
    let mut whole = Correlator::new(topology(), settings());
    let mut expected = Vec::new();
    let mut marks = Vec::new();
    for step in &steps {
        marks.push(expected.len());
        feed(&mut whole, step, &mut expected);
    }
    assert!(
        expected
            .iter()
            .any(|u| u.transition == Transition::Reopened)
    );
    for k in 0..steps.len() {
        let mut first = Correlator::new(topology(), settings());
        let mut out = Vec::new();
        for step in &steps[..k] {
            feed(&mut first, step, &mut out);
        }
        let bytes = first.snapshot();
        let mut second = Correlator::new(topology(), settings());
        // Learned state in the target is replaced, not merged.
        second.apply_topology(&TopologyUpdate {
            from: "ghost".into(),
            to: "cart".into(),
            kind: EdgeKind::Calls,
            at: 0,
            ttl: None,
            remove: false,
        });
        second.restore(&bytes).unwrap();
        assert_eq!(second.snapshot(), bytes, "restore is lossless at step {k}");
        let mut rest = Vec::new();
        for step in &steps[k..] {
            feed(&mut second, step, &mut rest);
        }
        assert_eq!(
            postcard::to_stdvec(&rest).unwrap(),
            postcard::to_stdvec(&expected[marks[k]..]).unwrap(),
            "diverged after restoring at step {k}"
        );
    }
}

#[test]
fn rejects_truncated_and_invalid_snapshots_and_keeps_its_state() {
    let mut c = Correlator::new(topology(), settings());
    let mut out = Vec::new();
    for step in &script()[..8] {
        feed(&mut c, step, &mut out);
    }
    let good = c.snapshot();
    for n in 0..good.len() {
        assert!(c.restore(&good[..n]).is_err(), "truncated to {n}");
    }
    assert!(matches!(
        c.restore(&[b"FC".as_slice(), &[9, 0], &good[4..]].concat()),
        Err(SnapshotError::UnsupportedVersion { found: 9, .. })
    ));
    // Checksummed but impossible: an incident without members.
    let mut state = State::decode(&good).unwrap();
    state.incidents[0].members.clear();
    assert!(matches!(
        c.restore(&state.encode()),
        Err(SnapshotError::Invalid { .. })
    ));
    assert_eq!(c.snapshot(), good);
}

#[test]
fn with_a_driven_clock_an_early_input_does_not_resolve_what_a_late_one_still_feeds() {
    let driven = Settings {
        clock_follows_inputs: false,
        ..settings()
    };
    let mut r = Run::new(driven);
    r.at(0);
    assert!(r.sig(sig("1", "cart", "latency", 0, 20.0)).is_empty());
    // A partition far ahead: its anomaly at +10 min does not move the clock...
    assert!(
        r.sig(sig("2", "checkout", "latency", 600 * S, 20.0))
            .is_empty()
    );
    assert_eq!(r.c.now(), 0);
    // ...so the lagging partition's anomaly still joins the first incident.
    assert!(
        r.sig(sig("3", "frontend", "latency", 5 * S, 20.0))
            .is_empty()
    );
    let opened = r.at(10 * S);
    let first = opened
        .iter()
        .find(|u| u.entities.contains(&"cart".to_owned()))
        .expect("the cart incident opens at its group_wait");
    assert_eq!(first.entities, ["cart", "frontend"]);
    // The same inputs with the clock following them: the +10 min anomaly resolves the
    // first incident, and the lagging one arrives too late to join or reopen it.
    let mut f = Run::new(settings());
    f.sig(sig("1", "cart", "latency", 0, 20.0));
    f.sig(sig("2", "checkout", "latency", 600 * S, 20.0));
    f.sig(sig("3", "frontend", "latency", 5 * S, 20.0));
    assert_eq!(f.c.late_signals(), 1);
}

#[test]
fn anomalies_the_good_way_never_become_incidents() {
    let mut r = Run::new(settings());
    let mut faster = sig("1", "cart", "latency", 0, -5.0);
    faster.up = false;
    assert!(r.sig(faster.clone()).is_empty());
    assert!(r.at(600 * S).is_empty(), "nothing opens");
    assert_eq!(r.c.good_way_signals(), 1);
    assert_eq!(r.c.open_incidents(), 0);
    // Declared `both`, the same drop is a symptom.
    faster.bad = Bad::Both;
    faster.id = "2".into();
    faster.at = 601 * S;
    r.sig(faster);
    assert_eq!(r.c.open_incidents(), 1);
}

#[test]
fn the_title_names_the_top_candidate_and_a_real_symptom() {
    let mut r = Run::new(settings());
    r.at(0);
    r.sig(sig("1", "frontend", "latency", 0, 40.0));
    r.sig(sig("2", "cart", "latency", S, 60.0));
    let u = r.at(10 * S).pop().expect("opened");
    let top = &u.candidates[0].entity;
    let own = u.members.iter().any(|m| *m.entity == **top);
    if own {
        assert!(
            u.title.starts_with(&format!("{top}: latency up")),
            "{}",
            u.title
        );
    } else {
        assert!(
            u.title.starts_with(&format!("{top} suspected: ")),
            "{}",
            u.title
        );
    }
    // Every title names a symptom some member really has.
    let symptom = u.title.rsplit(": ").next().unwrap_or_default();
    assert!(symptom.starts_with("latency up "), "{}", u.title);
}
