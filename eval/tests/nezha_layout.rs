//! The Nezha loader finds its files by shape (date folders, `root_cause_*.json`,
//! `*call_graph*.csv`), so it reads any system's days in that layout, and says which file is
//! missing when it cannot.

use std::fs;
use std::path::Path;

use faultline_eval::nezha::{self, Layout};

const POD: &str = "\
Time,TimeStamp,PodName,CpuUsageRate(%)
2031-02-03 10:00:00.5 +0000 UTC,0,ts-food-service-f5756978c-k8vqf,1.0
2031-02-03 10:01:00.5 +0000 UTC,0,ts-food-service-f5756978c-k8vqf,1.2
";

const FAULTS: &str = r#"{"10": [{"inject_time": "2031-02-03 10:01:00",
"inject_timestamp": "0", "inject_pod": "ts-food-service-f5756978c-k8vqf",
"inject_type": "cpu_contention"}]}"#;

/// One Train-Ticket-like day, `2031-02-03`, plus a folder that is not a day.
fn write_corpus(root: &Path) {
    let metric = root.join("2031-02-03/metric");
    fs::create_dir_all(&metric).unwrap();
    fs::create_dir_all(root.join("notes")).unwrap();
    fs::write(root.join("2031-02-03/fault_list.json"), FAULTS).unwrap();
    fs::write(
        metric.join("ts-food-service-f5756978c-k8vqf_metric.csv"),
        POD,
    )
    .unwrap();
    fs::write(
        metric.join("dependency.csv"),
        "Source,Target,Weight\nts-gateway-service,ts-food-service,3\n",
    )
    .unwrap();
    fs::write(
        root.join("tt_call_graph.csv"),
        "source,target\nts-food-service,ts-station-service\n",
    )
    .unwrap();
    fs::write(root.join("root_cause_ts.json"), "{}").unwrap();
}

#[test]
fn finds_a_day_of_any_date_with_its_call_graph_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_corpus(root);

    let layout = Layout::discover(root).unwrap();
    assert_eq!(layout.days, vec!["2031-02-03"]);
    assert_eq!(layout.call_graph, Some(root.join("tt_call_graph.csv")));
    assert_eq!(layout.labels, root.join("root_cause_ts.json"));

    let series = nezha::load_series(root).unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].meta.entity, "ts-food-service");
    assert_eq!(series[0].points[0].0, 1_927_879_200_500);
    let topology = nezha::load_topology(root).unwrap();
    assert_eq!(
        topology.callees("ts-gateway-service"),
        vec!["ts-food-service"]
    );
    assert_eq!(
        topology.callees("ts-food-service"),
        vec!["ts-station-service"]
    );

    let v = nezha::evaluate(root, &mut Vec::new()).unwrap();
    assert_eq!(v["days"], serde_json::json!(["2031-02-03"]));
    assert_eq!(v["faults"], 1);
}

#[test]
fn without_a_call_graph_file_the_topology_is_the_days_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_corpus(root);
    fs::remove_file(root.join("tt_call_graph.csv")).unwrap();
    assert_eq!(Layout::discover(root).unwrap().call_graph, None);
    let topology = nezha::load_topology(root).unwrap();
    assert!(topology.callees("ts-food-service").is_empty());
}

#[test]
fn a_folder_without_ground_truth_labels_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_corpus(root);
    fs::remove_file(root.join("root_cause_ts.json")).unwrap();
    let err = nezha::evaluate(root, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&root.display().to_string()), "{err}");
    assert!(err.contains("root_cause_*.json"), "{err}");
}

#[test]
fn a_missing_fault_list_or_two_label_files_are_errors_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_corpus(root);
    fs::write(root.join("root_cause_hipster.json"), "{}").unwrap();
    let err = Layout::discover(root).unwrap_err().to_string();
    assert!(
        err.contains("root_cause_hipster.json, root_cause_ts.json"),
        "{err}"
    );

    fs::remove_file(root.join("root_cause_hipster.json")).unwrap();
    fs::remove_file(root.join("2031-02-03/fault_list.json")).unwrap();
    let err = Layout::discover(root).unwrap_err().to_string();
    let day = root.join("2031-02-03").display().to_string();
    assert!(
        err.contains(&day) && err.contains("fault_list.json"),
        "{err}"
    );
}

#[test]
fn gzipped_metric_files_and_dateless_folders_are_errors_that_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_corpus(root);
    let metric = root.join("2031-02-03/metric");
    fs::write(metric.join("front_service.csv.gz"), [0x1f, 0x8b]).unwrap();
    let err = nezha::load_series(root).unwrap_err().to_string();
    assert!(
        err.contains("front_service.csv.gz") && err.contains("gzip"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = nezha::evaluate(empty.path(), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}
