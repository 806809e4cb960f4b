//! Template mining on three Loghub-2k systems, when `../shared/datasets/loghub-2k` exists
//! next to the workspace (skipped with a note otherwise). The bounds are the measured grouping
//! accuracies of the default configuration, rounded down.

use std::path::Path;

use faultline_eval::loghub::{load, mine, score};

#[test]
fn default_miner_groups_hdfs_openssh_and_openstack() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/loghub-2k");
    if !root.is_dir() {
        eprintln!("note: ../shared/datasets/loghub-2k not found; skipping");
        return;
    }
    let systems = load(&root).expect("loghub-2k loads");
    for (name, bound) in [("HDFS", 0.99), ("OpenSSH", 0.95), ("OpenStack", 0.94)] {
        let s = systems.iter().find(|s| s.name == name).expect(name);
        assert_eq!(s.content.len(), 2000, "{name}");
        let (ids, miner) = mine(&s.content);
        let a = score(&ids, &miner, &s.original);
        let c = score(&ids, &miner, &s.corrected);
        assert!(a.ga >= bound, "{name}: GA {} < {bound}", a.ga);
        assert!(c.ga >= bound, "{name}: corrected GA {} < {bound}", c.ga);
    }
}

#[test]
fn evaluation_reports_the_headline_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/loghub-2k");
    if !root.is_dir() {
        return;
    }
    let mut progress = Vec::new();
    let v = faultline_eval::loghub::evaluate(&root, &mut progress).expect("evaluation runs");
    for key in ["ga", "pa", "ga_corrected", "pa_corrected", "lines_per_sec"] {
        assert!(v[key].as_f64().is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["systems"].as_object().unwrap().len(), 16);
    assert!(v["ga"].as_f64().unwrap() >= 0.92, "{v}");
    assert!(v["ga_corrected"].as_f64().unwrap() >= 0.915, "{v}");
}
