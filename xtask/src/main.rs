//! `cargo xtask`: the README's two commands on a machine that has only the Rust toolchain,
//! a C compiler and Python.
//!
//! The engine links RocksDB and librdkafka, whose `-sys` crates build C and C++ from source
//! and need a few system packages: libclang (RocksDB's bindgen), a C++ compiler, OpenSSL
//! headers and pkg-config (librdkafka's TLS), make and perl (librdkafka's configure). The
//! tests also run the README's example, which produces with `kcat`. This program checks
//! for each, installs what is missing with the system's package manager (apt-get; as root,
//! or through sudo), and then runs cargo. It uses only the standard library, so it builds
//! in a second before anything else.
//!
//! - `cargo xtask demo [ARGS]`: `cargo run --release -p faultline-engine -- demo ARGS`
//! - `cargo xtask test [ARGS]`: `cargo nextest run --workspace` (or `cargo test` where
//!   nextest is not installed), with `--locked --no-fail-fast` and ARGS
//! - `cargo xtask deps [--test]`: only the installation (`--test`: with the test tools)

use std::env;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

/// A system package the build or the tests need, and how to tell it is there.
struct Need {
    /// Debian's package name.
    package: &'static str,
    /// What it is for, shown when it is installed.
    why: &'static str,
    present: fn() -> bool,
    /// Only the tests need it.
    test_only: bool,
}

const NEEDS: &[Need] = &[
    Need {
        package: "libclang-dev",
        why: "RocksDB's bindings are generated with libclang",
        present: has_libclang,
        test_only: false,
    },
    Need {
        package: "g++",
        why: "RocksDB is C++",
        present: || on_path("c++") || on_path("g++") || on_path("clang++"),
        test_only: false,
    },
    Need {
        package: "libssl-dev",
        why: "librdkafka and the webhook client use OpenSSL",
        present: || Path::new("/usr/include/openssl/ssl.h").exists() || pkg_config("openssl"),
        test_only: false,
    },
    Need {
        package: "pkg-config",
        why: "librdkafka finds OpenSSL with it",
        present: || on_path("pkg-config"),
        test_only: false,
    },
    Need {
        package: "make",
        why: "librdkafka's build",
        present: || on_path("make"),
        test_only: false,
    },
    Need {
        package: "perl",
        why: "librdkafka's configure",
        present: || on_path("perl"),
        test_only: false,
    },
    Need {
        package: "kcat",
        why: "the tests run the README's example, which produces with kcat",
        present: || on_path("kcat") || on_path("kafkacat"),
        test_only: true,
    },
];

fn main() -> ExitCode {
    let mut args = env::args_os().skip(1);
    let command = args.next().and_then(|c| c.into_string().ok());
    let rest: Vec<OsString> = args.collect();
    let result = match command.as_deref() {
        Some("demo") => install(false).and_then(|()| {
            cargo(
                ["run", "--release", "--locked", "-p", "faultline-engine", "--", "demo"],
                &rest,
            )
        }),
        Some("test") => install(true).and_then(|()| test(&rest)),
        Some("deps") => install(rest.iter().any(|a| a == "--test")),
        _ => Err(
            "usage: cargo xtask demo [ARGS] | test [ARGS] | deps [--test]\n  demo: the demo (cargo run --release -p faultline-engine -- demo)\n  test: the tests (cargo nextest run --workspace, or cargo test)\n  deps: only install the system packages the build (and, with --test, the tests) need"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Installs the missing packages (with the test tools if `tests`).
fn install(tests: bool) -> Result<(), String> {
    let missing: Vec<&Need> = NEEDS
        .iter()
        .filter(|n| (tests || !n.test_only) && !(n.present)())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|n| n.package).collect();
    for n in &missing {
        eprintln!("xtask: installing {} ({})", n.package, n.why);
    }
    if !on_path("apt-get") {
        return Err(format!(
            "these system packages are missing and there is no apt-get to install them: {} \
             (Debian names; install the equivalents, then run again)",
            packages.join(" ")
        ));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let sudo: &[&str] = if root { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| -> Result<(), String> {
        let mut argv: Vec<&str> = sudo.to_vec();
        argv.push("apt-get");
        argv.extend_from_slice(args);
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("`{}` failed ({status})", argv.join(" ")))
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&packages);
    apt(&args)?;
    let still: Vec<&str> = missing
        .iter()
        .filter(|n| !(n.present)())
        .map(|n| n.package)
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "installed, but still not found: {}",
            still.join(" ")
        ))
    }
}

/// The workspace's tests with nextest where it is installed, else `cargo test`.
fn test(rest: &[OsString]) -> Result<(), String> {
    let nextest = Command::new(cargo_exe())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if nextest {
        cargo(
            [
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ],
            rest,
        )
    } else {
        cargo(["test", "--workspace", "--locked", "--no-fail-fast"], rest)
    }
}

fn cargo<const N: usize>(args: [&str; N], rest: &[OsString]) -> Result<(), String> {
    let status = Command::new(cargo_exe())
        .args(args)
        .args(rest)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("`cargo {}` failed ({status})", args.join(" ")))
}

/// The cargo that runs this (so a toolchain chosen with `+stable` carries over).
fn cargo_exe() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn pkg_config(lib: &str) -> bool {
    Command::new("pkg-config")
        .args(["--exists", lib])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether bindgen will find a libclang: `LIBCLANG_PATH`, or a `libclang*.so*` (not the
/// C++ API library `libclang-cpp`) where clang-sys looks.
fn has_libclang() -> bool {
    let mut dirs: Vec<std::path::PathBuf> = env::var_os("LIBCLANG_PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    for base in [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ] {
        dirs.push(base.into());
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("llvm") {
                dirs.push(e.path().join("lib"));
            }
        }
    }
    dirs.iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libclang")
                    && !name.starts_with("libclang-cpp")
                    && !name.starts_with("libclang_rt")
                    && name.contains(".so")
            })
        })
    })
}
