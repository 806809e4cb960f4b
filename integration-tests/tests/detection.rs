//! End to end detection: seeded series with known faults in, anomalies out.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use faultline_integration_tests::anomaly::read_anomalies;
use faultline_integration_tests::series::{
    FLEET_POINTS, FLEET_STEP_MS, Fleet, midnight_days_ago, mixed_fleet,
};
use faultline_integration_tests::{
    Anomaly, Broker, Engine, EngineConfig, Producer, faultline_exe, read_all, unique,
};

/// Seed of the fleet; every number below was observed with it.
const SEED: u64 = 20_240_501;
/// An anomaly counts as catching a fault if it falls within this many points of it.
const TOLERANCE_POINTS: usize = 30;
/// The detectors learn for the first day; false alarms are bounded only after it.
const LEARNING_POINTS: usize = 1440;
/// False alarms allowed per clean point after the learning day. With the default ensemble at
/// sensitivity 0.5, Gaussian noise alarms ~2.5e-4 per point (30 seeds × 10 series, measured
/// with the detectors crate directly); 1e-3 leaves room for seeds without hiding a
/// regression to "alarm on every wiggle".
const MAX_FALSE_ALARM_RATE: f64 = 1e-3;
/// Sanity bound during the learning day: the calibrators have little history then, and alarm
/// ~0.4% of points; an engine alarming on more than 2% is broken.
const MAX_LEARNING_ALARM_RATE: f64 = 0.02;

#[test]
fn anomalies_from_injected_faults_and_none_from_normal_series() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique("it-metrics");
    let partitions = 2;
    broker.create_topic(&topic, partitions);
    let config = EngineConfig::new(&broker, dir.path(), &topic);
    broker.create_topic(&config.anomalies_topic, 1);
    broker.create_topic(&config.dead_letter_topic, 1);

    let fleet = Fleet::generate(
        mixed_fleet(SEED),
        FLEET_POINTS,
        midnight_days_ago(4),
        FLEET_STEP_MS,
    );
    let mut producer = Producer::new(&broker);
    let records = producer.send_fleet(&topic, partitions, &fleet, 0..fleet.points(), 120);
    producer.flush();
    let ends = broker.end_offsets(&topic);

    let mut engine = Engine::start(
        faultline_exe!(),
        &config.write(&dir.path().join("faultline.yaml")),
    );
    engine.wait_ready();
    let metrics = engine.wait_processed(&topic, &ends);
    let status = engine.terminate();
    assert!(
        status.success(),
        "engine exited with {status} after SIGTERM\n{}",
        engine.diagnostics()
    );

    // Everything was valid: all records ok, nothing dead-lettered.
    assert_eq!(
        metrics.sum_where(
            "faultline_records_total",
            &[("topic", &topic), ("outcome", "ok")]
        ),
        records as f64,
        "every record counted ok\n{}",
        metrics.render("faultline_records")
    );
    assert_eq!(metrics.sum("faultline_dead_letters_total"), 0.0);
    let dead = read_all(&broker, &config.dead_letter_topic, Duration::from_secs(60));
    assert!(dead.is_empty(), "valid input dead-lettered: {dead:?}");

    let anomalies = read_anomalies(&broker, &config.anomalies_topic, Duration::from_secs(60));
    assert_eq!(
        anomalies.len() as f64,
        metrics.sum("faultline_anomalies_total"),
        "anomalies on the topic vs faultline_anomalies_total"
    );
    let ids: HashSet<&str> = anomalies.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        anomalies.len(),
        "an uninterrupted run repeats no id"
    );

    // Attribute every anomaly to its series and point, checking what it says about them.
    let mut by_series: BTreeMap<usize, Vec<(usize, &Anomaly)>> = BTreeMap::new();
    for a in &anomalies {
        let i = fleet
            .by_service(&a.entity_name)
            .unwrap_or_else(|| panic!("anomaly for unknown entity: {}", a.raw));
        let spec = &fleet.specs[i];
        assert_eq!(a.entity_kind, "service", "{}", a.raw);
        assert_eq!(a.series_name, spec.name, "{}", a.raw);
        assert_eq!(
            a.service.as_deref(),
            Some(spec.service.as_str()),
            "{}",
            a.raw
        );
        assert_eq!(a.detector, "ensemble", "{}", a.raw);
        assert!(!a.severity.is_empty(), "{}", a.raw);
        assert_eq!(a.source_topic, topic, "{}", a.raw);
        assert_eq!(
            a.source_partition,
            i64::from(i as i32 % partitions),
            "{}",
            a.raw
        );
        let since = a.at_ms - fleet.base_ms;
        assert!(
            since >= 0
                && since % fleet.step_ms == 0
                && (since / fleet.step_ms) < fleet.points() as i64,
            "at_ms is not the time of a point of the series: {}",
            a.raw
        );
        let k = (since / fleet.step_ms) as usize;
        let sent = fleet.values[i][k];
        assert!(
            (a.value - sent).abs() <= 1e-9 * sent.abs().max(1.0),
            "value {} but point {k} was {sent}: {}",
            a.value,
            a.raw
        );
        by_series.entry(i).or_default().push((k, a));
    }

    let mut report = String::new();
    let (mut learning_alarms, mut learning_points) = (0usize, 0usize);
    let (mut false_alarms, mut clean_points) = (0usize, 0usize);
    let mut misses = Vec::new();
    for (i, spec) in fleet.specs.iter().enumerate() {
        let hits = by_series.get(&i).map(Vec::as_slice).unwrap_or_default();
        let fault_at = spec.fault.map(|f| f.at());
        let clean_end = fault_at.unwrap_or(fleet.points());
        learning_points += LEARNING_POINTS;
        clean_points += clean_end - LEARNING_POINTS;
        learning_alarms += hits.iter().filter(|(k, _)| *k < LEARNING_POINTS).count();
        false_alarms += hits
            .iter()
            .filter(|(k, _)| (LEARNING_POINTS..clean_end).contains(k))
            .count();
        if let (Some(at), Some(dir)) = (fault_at, spec.expected_direction()) {
            let caught = hits.iter().any(|(k, a)| {
                (at..at + TOLERANCE_POINTS).contains(k) && a.direction == dir.as_str()
            });
            if !caught {
                misses.push(format!("{} {:?}", spec.service, spec.fault));
            }
        }
        report.push_str(&format!(
            "{:>9} {:<12} fault {:<45} anomalies at {:?}\n",
            spec.service,
            spec.name,
            spec.fault.map_or("-".to_owned(), |f| format!("{f:?}")),
            hits.iter()
                .map(|(k, a)| format!("{k}{}", if a.direction == "up" { "↑" } else { "↓" }))
                .collect::<Vec<_>>()
        ));
    }
    let rate = false_alarms as f64 / clean_points as f64;
    let learning_rate = learning_alarms as f64 / learning_points as f64;
    println!(
        "{report}false alarms after the learning day: {false_alarms} in {clean_points} clean \
         points ({rate:.2e}/point); during it: {learning_alarms} in {learning_points}"
    );
    assert!(
        misses.is_empty(),
        "faults without an anomaly of the right direction within {TOLERANCE_POINTS} points: \
         {misses:?}\n{report}"
    );
    assert!(
        rate <= MAX_FALSE_ALARM_RATE,
        "false alarm rate {rate:.2e} above {MAX_FALSE_ALARM_RATE:e}\n{report}"
    );
    assert!(
        learning_rate <= MAX_LEARNING_ALARM_RATE,
        "alarm rate during learning {learning_rate:.2e} above {MAX_LEARNING_ALARM_RATE}\n{report}"
    );
}
