//! AC@k and Avg@5 on hand-made ranks.

use faultline_eval::score::{ac_at, avg5, median, position, quantile, summary};

#[test]
fn accuracy_at_k_counts_missed_faults_as_misses() {
    let ranks = [Some(1), Some(2), Some(4), None];
    assert_eq!(ac_at(&ranks, 1), 0.25);
    assert_eq!(ac_at(&ranks, 3), 0.5);
    assert_eq!(ac_at(&ranks, 5), 0.75);
    // (0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5
    assert!((avg5(&ranks) - 0.55).abs() < 1e-12);
    assert_eq!(ac_at(&[], 1), 0.0);
    let s = summary(&ranks);
    assert_eq!(s["n"], 4);
    assert_eq!(s["ac3"], 0.5);
}

#[test]
fn position_median_and_quantile() {
    assert_eq!(position(&["a", "b", "c"], "c"), Some(3));
    assert_eq!(position(&["a"], "z"), None);
    assert_eq!(median(&[3.0, 1.0, 2.0, f64::NAN]), Some(2.0));
    assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), Some(2.0));
    assert_eq!(quantile(&[0.0, 10.0], 0.75), Some(7.5));
}

#[test]
fn petshop_client_views_are_their_service() {
    use faultline_eval::petshop::entity_of;
    assert_eq!(
        entity_of("servi-searc.us-west-2.elb.amazonaws.com_remote"),
        "PetSearch_AWS::ECS::Fargate"
    );
    assert_eq!(
        entity_of("lambdastatusupdater_AWS::Lambda"),
        "lambdastatusupdater_AWS::Lambda::Function"
    );
    assert_eq!(entity_of("amazon.com_remote"), "amazon.com_remote");
}

#[test]
fn nezha_edges_use_the_higher_threshold_and_cpu_has_no_min_change() {
    use faultline_eval::nezha::{EDGE_THRESHOLD, LATENCY_MIN_REL, family};
    let edge = family("edge_client_p50").unwrap();
    assert!(
        matches!(edge.spec, faultline_detectors::DetectorSpec::RobustZ(p) if p.threshold == EDGE_THRESHOLD)
    );
    assert_eq!(edge.min_rel, LATENCY_MIN_REL);
    assert_eq!(family("CpuUsageRate(%)").unwrap().min_rel, 0.0);
    assert!(family("NodeCpuUsageRate(%)").is_none());
}
