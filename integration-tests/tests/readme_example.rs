//! The README's example, pasted as written: `faultline run` with no configuration (the
//! embedded broker), then the README's `kcat` block. Its series must come out as an anomaly
//! on the anomalies topic, and its incident on the incidents topic.
//!
//! The block is read from README.md itself (the one fenced `sh` block that produces with
//! `kcat -P`), so the README cannot drift from what works. It runs under `sh` with `kcat` on
//! the PATH (`cargo xtask test` installs it); the only change made to it is the broker
//! address, when the engine could not have Kafka's usual `127.0.0.1:9092` because something
//! else holds that port.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use faultline_integration_tests::anomaly::read_anomalies;
use faultline_integration_tests::incident::read_updates;
use faultline_integration_tests::{Broker, Engine, faultline_exe, read_all, wait};

/// The address the README's block is written for.
const README_ADDRESS: &str = "127.0.0.1:9092";

/// The README's fenced `sh` block that produces with `kcat -P`.
fn readme_block() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme)
        .unwrap_or_else(|e| panic!("read {}: {e}", readme.display()));
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```sh") => current = Some(Vec::new()),
            (Some(_), l) if l.starts_with("```") => blocks.push(current.take().unwrap().join("\n")),
            (Some(block), _) => block.push(line),
            (None, _) => {}
        }
    }
    let mut producing: Vec<String> = blocks
        .into_iter()
        .filter(|b| b.contains("kcat -P"))
        .collect();
    assert_eq!(
        producing.len(),
        1,
        "README.md has exactly one sh block that produces with kcat -P"
    );
    producing.remove(0)
}

#[test]
fn the_readme_example_produces_an_anomaly_and_an_incident() {
    let kcat = ["kcat", "kafkacat"]
        .into_iter()
        .find(|k| Command::new(k).arg("-V").output().is_ok())
        .unwrap_or_else(|| panic!("kcat is not installed (`cargo xtask deps --test` installs it)"));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut engine = Engine::start_embedded(faultline_exe!(), dir.path());
    engine.wait_ready();
    let address = engine
        .embedded_kafka()
        .unwrap_or_else(|| panic!("no `kafka: ADDR (embedded)` line\n{}", engine.diagnostics()));

    let block = readme_block().replace(README_ADDRESS, &address);
    let block = if kcat == "kcat" {
        block
    } else {
        block.replace("kcat ", "kafkacat ")
    };
    let out = Command::new("sh")
        .args(["-euc", &block])
        .current_dir(dir.path())
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "the README block failed ({}):\n{block}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let broker = Broker::at(&address);
    let anomaly = wait::poll(Duration::from_secs(60), || {
        read_anomalies(&broker, "faultline-anomalies", Duration::from_secs(30))
            .into_iter()
            .find(|a| a.series_name == "cpu")
    });
    let Some(anomaly) = anomaly else {
        panic!(
            "the README's example produced no anomaly\n{}",
            engine.diagnostics()
        )
    };
    assert_eq!(anomaly.service.as_deref(), Some("checkout"));
    assert_eq!(anomaly.direction, "up");
    assert_eq!(
        anomaly.at_ms,
        1_764_115_200_000 + 290 * 60_000,
        "the jump the README describes, at its 290th sample"
    );
    assert!(
        read_all(&broker, "faultline-dead-letter", Duration::from_secs(30)).is_empty(),
        "nothing of the example is dead-lettered"
    );
    // Its incident, once the three partitions the example does not write to have been idle
    // for `ingest.idle_timeout` (30 s by default).
    let incident = wait::poll(Duration::from_secs(90), || {
        read_updates(&broker, "faultline-incidents", Duration::from_secs(30))
            .into_iter()
            .find(|u| u.entities.iter().any(|e| e == "checkout"))
    });
    assert!(
        incident.is_some(),
        "the example's anomaly became an incident\n{}",
        engine.diagnostics()
    );
    engine.terminate();
}
