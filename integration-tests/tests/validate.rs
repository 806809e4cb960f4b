//! `faultline validate` and `faultline schema`: configuration problems are reported at the
//! place a person has to edit, all of them at once.

use std::process::{Command, Output};

use faultline_integration_tests::faultline_exe;

/// 1-based line and character column of the first occurrence of `needle` in `text`.
fn locate(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the file"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..at].chars().count() + 1)
}

fn faultline(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(faultline_exe!())
        .args(args)
        .output()
        .expect("run faultline-it")
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A problem the output must report: where, and a word the message must contain.
struct Expected {
    file: &'static str,
    /// The text whose first character the location points at.
    at: &'static str,
    /// Found (case-insensitively) in the diagnostic's message.
    mentions: &'static str,
}

#[test]
fn validate_reports_file_line_column_for_every_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Problems found after parsing: all of them in one file, all must be reported.
    let engine = "\
kafka:
  brokers: \"127.0.0.1:9092\"
  topics:
    - {name: metrics, kind: metrics, format: native_json}
state:
  checkpoint_interval: 10parsecs
  max_bytes: 64MiB
defaults:
  sensitivity: 1.5
rules:
  - name: payments
    match:
      metric: cpu_*
      labels:
        service:
          regex: pay(ment
    severity: critical
";
    // An unknown key (a typo of `severity`) stops serde in its file, so it gets its own.
    let rules = "\
rules:
  - name: checkout
    match:
      labels:
        service: checkout
    sevrity: critical
";
    // A YAML syntax error: a second `: ` inside a plain value.
    let broken = "\
log:
  level: info: debug
";
    let files = [
        ("engine.yaml", engine),
        ("rules.yaml", rules),
        ("broken.yaml", broken),
    ];
    let paths: Vec<_> = files
        .iter()
        .map(|(name, text)| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write config");
            p
        })
        .collect();
    let expected = [
        Expected {
            file: "engine.yaml",
            at: "10parsecs",
            mentions: "checkpoint_interval",
        },
        Expected {
            file: "engine.yaml",
            at: "1.5",
            mentions: "sensitivity",
        },
        Expected {
            file: "engine.yaml",
            at: "pay(ment",
            mentions: "regex",
        },
        Expected {
            file: "rules.yaml",
            at: "sevrity",
            mentions: "sevrity",
        },
        Expected {
            file: "broken.yaml",
            at: ": debug",
            mentions: "",
        },
    ];

    let args: Vec<&std::ffi::OsStr> = std::iter::once("validate".as_ref())
        .chain(paths.iter().map(|p| p.as_os_str()))
        .collect();
    let out = faultline(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !out.status.success(),
        "broken files validated:\n{}",
        show(&out)
    );
    for e in &expected {
        let (_, text) = files.iter().find(|(n, _)| *n == e.file).expect("file");
        let (line, column) = locate(text, e.at);
        let path = dir.path().join(e.file);
        let prefix = format!("{}:{line}:{column}: ", path.display());
        let reported = all
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| {
                panic!(
                    "no problem reported at {prefix:?} (`{}`)\n{}",
                    e.at,
                    show(&out)
                )
            });
        assert!(
            reported.to_lowercase().contains(e.mentions),
            "{reported:?} should mention {:?}",
            e.mentions
        );
    }
    let problem_lines = all
        .lines()
        .filter(|l| {
            paths
                .iter()
                .any(|p| l.starts_with(&format!("{}:", p.display())))
        })
        .count();
    assert_eq!(
        problem_lines,
        expected.len(),
        "one line per problem\n{}",
        show(&out)
    );

    // The same settings, fixed, are valid.
    let fixed = engine
        .replace("10parsecs", "10s")
        .replace("1.5", "0.5")
        .replace("pay(ment", "pay(ment)?");
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, fixed).expect("write config");
    let out = faultline(&["validate".as_ref(), good.as_os_str()]);
    assert!(out.status.success(), "valid file rejected:\n{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .to_lowercase()
            .contains("ok"),
        "no OK line:\n{}",
        show(&out)
    );
}

#[test]
fn schema_prints_json_schema_describing_rules() {
    let out = faultline(&["schema".as_ref()]);
    assert!(out.status.success(), "{}", show(&out));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", show(&out)));
    assert!(
        schema.pointer("/properties/rules").is_some(),
        "no `rules` property in the schema:\n{}",
        show(&out)
    );
}
