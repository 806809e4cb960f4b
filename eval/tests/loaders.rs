//! Loaders on tiny fixtures copied in shape from the corpora.

use std::path::{Path, PathBuf};

use faultline_correlator::{Bad, EdgeKind};
use faultline_eval::{nezha, petshop, sockshop};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn nezha_faults_use_inject_time_and_service_names() {
    let f = nezha::load_faults(&fixtures().join("nezha/2022-08-22/fault_list.json")).unwrap();
    assert_eq!(f.len(), 2);
    // inject_time, not the (wrong) inject_timestamp.
    assert_eq!(f[0].at, 1_661_140_434_000);
    assert_eq!(f[0].service, "frontend");
    assert_eq!(f[0].class(), "resource");
    assert_eq!(f[1].class(), "code");
    assert_eq!(
        nezha::service_of("cartservice-579f59597d-wc2lz"),
        "cartservice"
    );
}

#[test]
fn nezha_series_read_time_from_the_time_string_and_label_edges_by_callee() {
    let series = nezha::load_series(&fixtures().join("nezha")).unwrap();
    let cpu = series
        .iter()
        .find(|s| s.meta.metric == "CpuUsageRate(%)")
        .expect("adservice cpu");
    assert_eq!(cpu.meta.entity, "adservice");
    // The broken TimeStamp column (1861…) is ignored.
    assert_eq!(cpu.points[0].0, 1_661_140_279_607);
    assert!(series.iter().all(|s| !s.meta.metric.starts_with("Node")));
    let edge = series
        .iter()
        .find(|s| s.meta.series.contains("caller=\"frontend\""))
        .expect("edge series");
    assert_eq!(edge.meta.entity, "cartservice");
    assert_eq!(edge.meta.bad, Bad::Up);
    assert!(edge.points[1].1.is_nan());
}

#[test]
fn sockshop_case_loads_and_labelled_ranking_finds_the_hog() {
    let case = sockshop::load_case(&fixtures().join("sockshop/carts-cpu/1")).unwrap();
    assert_eq!(case.normal.len(), 3);
    assert_eq!(case.anomalous[0].0, 100_000);
    let members = sockshop::labelled_members(&case);
    // carts-db's CPU went down: not its bad direction, so it has no member.
    assert!(members.iter().all(|m| &*m.entity == "carts"));
    let ranked = faultline_eval::evidence::rank_members(
        &sockshop::topology(),
        &members,
        &[],
        &Default::default(),
    );
    assert_eq!(ranked[0], "carts");
}

#[test]
fn petshop_metrics_graph_and_target_load() {
    let dir = fixtures().join("petshop");
    let m = petshop::load_metrics(&dir.join("metrics.csv")).unwrap();
    // requests columns are not watched; latency and availability are.
    assert_eq!(m.columns.len(), 3);
    assert_eq!(m.rows.len(), 3);
    assert!(m.rows[1].1[2].is_nan());
    let g = petshop::load_graph(&dir.join("graph.csv")).unwrap();
    assert_eq!(g.callees("PetSite"), vec!["PetSearch"]);
    assert!(g.graph().edge_weights().all(|e| e.kind == EdgeKind::Calls));
    let issue = petshop::load_issue(&dir.join("target.json")).unwrap();
    assert_eq!(issue.root_cause, "PetSearch");
    let members = petshop::issue_members(&issue, &m, None);
    assert!(members.iter().any(|x| &*x.entity == "PetSearch"));
    assert!(members.iter().any(|x| &*x.entity == "petInfo" && !x.up));
}
