use faultline_config::Config;
use faultline_decode::{Labels, Sample};
use faultline_detectors::{DetectorSpec, EventTime};

use super::*;

fn sample(name: &str, service: &str) -> Sample<'static> {
    Sample {
        name: name.to_owned().into(),
        labels: Labels::from_pairs([("service".to_owned(), service.to_owned())]).unwrap(),
        at: EventTime::from_millis(0),
        value: 1.0,
    }
}

fn make(s: &Sample<'_>) -> Series {
    let config = Config::default();
    let route = config.route(&s.name, Vec::<(&str, &str)>::new());
    Series::new(
        SeriesKey::of(s),
        route,
        vec![Slot {
            detector: DetectorSpec::default_for("ewma").unwrap().build(),
            pending: None,
        }],
    )
}

const P0: PartitionId = PartitionId {
    topic: 0,
    partition: 0,
};
const P1: PartitionId = PartitionId {
    topic: 0,
    partition: 1,
};

#[test]
fn finds_the_same_series_again_and_tells_series_apart() {
    let mut t = SeriesTable::new(100, u64::MAX);
    t.add_shard(P0);
    let mut churn = Churn::default();
    let a = sample("cpu", "a");
    t.get_or_create(P0, &a, &mut churn, || make(&a))
        .unwrap()
        .dirty = false;
    t.get_or_create(P0, &a, &mut churn, || panic!("must not create twice"))
        .unwrap();
    let b = sample("cpu", "b");
    t.get_or_create(P0, &b, &mut churn, || make(&b)).unwrap();
    assert_eq!(churn.created, 2);
    assert_eq!(t.len(), 2);
    assert!(
        t.get_or_create(P1, &a, &mut churn, || make(&a)).is_none(),
        "P1 not owned"
    );
}

#[test]
fn evicts_the_least_recently_used_series_across_shards_at_the_count_cap() {
    let mut t = SeriesTable::new(3, u64::MAX);
    t.add_shard(P0);
    t.add_shard(P1);
    let mut churn = Churn::default();
    let s: Vec<_> = (0..4).map(|i| sample("m", &i.to_string())).collect();
    t.get_or_create(P0, &s[0], &mut churn, || make(&s[0]));
    t.get_or_create(P1, &s[1], &mut churn, || make(&s[1]));
    t.get_or_create(P0, &s[2], &mut churn, || make(&s[2]));
    // Touch s0 so that s1 (in the other shard) is the least recently used.
    t.get_or_create(P0, &s[0], &mut churn, || unreachable!());
    t.get_or_create(P0, &s[3], &mut churn, || make(&s[3]));
    assert_eq!(churn.evicted, 1);
    assert_eq!(t.len(), 3);
    assert!(t.shard(P1).unwrap().is_empty(), "s1 was evicted");
    assert_eq!(
        t.shard(P1).unwrap().removed.len(),
        1,
        "its stored state is deleted next"
    );
    assert_eq!(t.shard(P0).unwrap().len(), 3);
}

#[test]
fn byte_cap_bounds_the_charged_bytes() {
    let one = make(&sample("m", "x")).bytes as u64;
    let mut t = SeriesTable::new(1_000_000, one * 10 + one / 2);
    t.add_shard(P0);
    let mut churn = Churn::default();
    for i in 0..100 {
        let s = sample("m", &i.to_string());
        t.get_or_create(P0, &s, &mut churn, || make(&s));
        assert!(t.bytes() <= one * 10 + one / 2);
    }
    assert_eq!(t.len(), 10);
    assert_eq!(churn.evicted, 90);
    t.remeasure();
    assert!(t.bytes() <= one * 10 + one / 2);
}

#[test]
fn removing_a_shard_releases_its_series() {
    let mut t = SeriesTable::new(10, u64::MAX);
    t.add_shard(P0);
    let mut churn = Churn::default();
    let a = sample("m", "a");
    t.get_or_create(P0, &a, &mut churn, || make(&a));
    assert_eq!(t.len(), 1);
    t.remove_shard(P0);
    assert_eq!((t.len(), t.bytes()), (0, 0));
}
