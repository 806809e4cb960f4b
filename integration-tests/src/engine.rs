//! The engine under test as a child process: start, readiness, scrapes, signals, exit.
//!
//! stdout and stderr are drained by background threads into memory, both so the child never
//! blocks on a full pipe and so that every failure message can show what the engine said.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::http::{self, Response};
use crate::prom::Metrics;
use crate::wait::{self, DEFAULT_TIMEOUT};

/// Path of the `faultline-it` binary (the whole CLI), as cargo built it for these tests.
///
/// A macro because `CARGO_BIN_EXE_*` is only set while compiling the test targets.
#[macro_export]
macro_rules! faultline_exe {
    () => {
        ::std::path::Path::new(env!("CARGO_BIN_EXE_faultline-it"))
    };
}

/// stderr lines kept for failure messages.
const STDERR_KEPT: usize = 400;
/// stderr lines shown in a failure message.
const STDERR_SHOWN: usize = 60;

#[derive(Debug, Default)]
struct Output {
    stdout: Vec<String>,
    stderr: VecDeque<String>,
}

/// A running `faultline run`.
#[derive(Debug)]
pub struct Engine {
    child: Child,
    output: Arc<Mutex<Output>>,
    readers: Vec<JoinHandle<()>>,
    http: SocketAddr,
    exited: Option<ExitStatus>,
}

impl Engine {
    /// Starts `exe run --config config` and waits for it to print its HTTP address.
    pub fn start(exe: &Path, config: &Path) -> Self {
        let mut cmd = Command::new(exe);
        cmd.arg("run").arg("--config").arg(config);
        Self::spawn(exe, cmd)
    }

    /// Starts `exe run` with no configuration in `dir` (so with the embedded broker and its
    /// state in `dir/faultline-data`), HTTP on a free port; waits for its HTTP address.
    pub fn start_embedded(exe: &Path, dir: &Path) -> Self {
        let mut cmd = Command::new(exe);
        cmd.args(["run", "--http", "127.0.0.1:0"]).current_dir(dir);
        Self::spawn(exe, cmd)
    }

    /// The embedded broker's address, as printed (`kafka: ADDR (embedded)`).
    pub fn embedded_kafka(&self) -> Option<String> {
        self.stdout_lines().iter().find_map(|l| {
            let rest = l.trim().strip_prefix("kafka:")?.trim();
            Some(rest.strip_suffix("(embedded)")?.trim().to_owned())
        })
    }

    fn spawn(exe: &Path, mut cmd: Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
        let output = Arc::new(Mutex::new(Output::default()));
        let readers = vec![
            drain(
                child.stdout.take().expect("piped stdout"),
                output.clone(),
                |o, l| o.stdout.push(l),
            ),
            drain(
                child.stderr.take().expect("piped stderr"),
                output.clone(),
                |o, l| {
                    if o.stderr.len() == STDERR_KEPT {
                        o.stderr.pop_front();
                    }
                    o.stderr.push_back(l)
                },
            ),
        ];
        let mut engine = Self {
            child,
            output,
            readers,
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            exited: None,
        };
        let addr = wait::poll(Duration::from_secs(60), || {
            if let Some(addr) = engine.printed_http_addr() {
                return Some(Ok(addr));
            }
            engine.poll_exit().map(Err)
        });
        match addr {
            Some(Ok(addr)) => engine.http = addr,
            Some(Err(status)) => panic!(
                "engine exited ({status}) before printing its HTTP address\n{}",
                engine.diagnostics()
            ),
            None => panic!(
                "engine printed no `http: http://ADDR` line within 60 s\n{}",
                engine.diagnostics()
            ),
        }
        engine
    }

    fn printed_http_addr(&self) -> Option<SocketAddr> {
        let out = self.output.lock().expect("output lock");
        out.stdout.iter().find_map(|l| {
            let url = l.trim().strip_prefix("http:")?.trim();
            let hostport = url.strip_prefix("http://")?.trim_end_matches('/');
            hostport.parse().ok()
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address of the engine's HTTP server.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// `GET path` on the engine.
    pub fn get(&self, path: &str) -> std::io::Result<Response> {
        http::get(self.http, path, Duration::from_secs(10))
    }

    /// Waits until `/healthz` and `/readyz` answer 200 (the engine has its partitions).
    pub fn wait_ready(&mut self) {
        for path in ["/healthz", "/readyz"] {
            let mut last = String::new();
            let ok = wait::poll(DEFAULT_TIMEOUT, || {
                if let Some(status) = self.poll_exit() {
                    return Some(Err(status));
                }
                match self.get(path) {
                    Ok(r) if r.status == 200 => Some(Ok(())),
                    Ok(r) => {
                        last = format!("{} {}", r.status, r.body);
                        None
                    }
                    Err(e) => {
                        last = e.to_string();
                        None
                    }
                }
            });
            match ok {
                Some(Ok(())) => {}
                Some(Err(status)) => panic!(
                    "engine exited ({status}) while waiting for {path}\n{}",
                    self.diagnostics()
                ),
                None => panic!(
                    "{path} not 200 within {DEFAULT_TIMEOUT:?} (last: {last})\n{}",
                    self.diagnostics()
                ),
            }
        }
    }

    /// One scrape of `/metrics`; panics (with diagnostics) if it fails.
    pub fn metrics(&mut self) -> Metrics {
        match self.try_metrics() {
            Ok(m) => m,
            Err(e) => panic!("scrape /metrics: {e}\n{}", self.diagnostics()),
        }
    }

    fn try_metrics(&self) -> Result<Metrics, String> {
        let r = self.get("/metrics").map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("/metrics answered {}: {}", r.status, r.body));
        }
        Metrics::parse(&r.body)
    }

    /// Scrapes `/metrics` until `done` holds and returns that scrape. Fails with the last
    /// scrape and the engine's output if the deadline passes or the engine exits.
    pub fn wait_for_metrics(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Metrics) -> bool,
    ) -> Metrics {
        let mut last = Metrics::default();
        let result = wait::poll(timeout, || {
            if let Some(status) = self.poll_exit() {
                return Some(Err(status));
            }
            let m = self.try_metrics().ok()?;
            if done(&m) {
                return Some(Ok(m));
            }
            last = m;
            None
        });
        match result {
            Some(Ok(m)) => m,
            Some(Err(status)) => panic!(
                "engine exited ({status}) while waiting until {what}\n{}",
                self.diagnostics()
            ),
            None => panic!(
                "not {what} within {timeout:?}; last scrape:\n{}\n{}",
                last.render("faultline_"),
                self.diagnostics()
            ),
        }
    }

    /// Waits until `faultline_partition_next_offset` of every `(partition, end)` of `topic`
    /// has reached `end`: everything produced so far has been processed.
    pub fn wait_processed(&mut self, topic: &str, ends: &[(i32, i64)]) -> Metrics {
        let what = format!("{topic} is processed up to {ends:?}");
        self.wait_for_metrics(&what, DEFAULT_TIMEOUT, |m| {
            ends.iter().all(|&(p, end)| {
                let p = p.to_string();
                m.get(
                    "faultline_partition_next_offset",
                    &[("topic", topic), ("partition", &p)],
                )
                .is_some_and(|o| o >= end as f64)
            })
        })
    }

    /// Sends SIGTERM and waits (60 s at most) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        if let Some(status) = self.poll_exit() {
            panic!(
                "engine had already exited ({status}) before SIGTERM\n{}",
                self.diagnostics()
            );
        }
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        match wait::poll(Duration::from_secs(60), || self.poll_exit()) {
            Some(status) => {
                self.join_readers();
                status
            }
            None => panic!(
                "engine did not exit within 60 s of SIGTERM\n{}",
                self.diagnostics()
            ),
        }
    }

    /// SIGKILL: no chance to checkpoint or flush. Waits for the process to be gone.
    pub fn kill(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("wait for the killed engine"));
        }
        self.join_readers();
    }

    /// Resident set size from `/proc/<pid>/status`, in KiB (Linux only).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    /// The exit status, if the process has exited.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait on the engine");
        }
        self.exited
    }

    /// What the engine printed: all of stdout and the tail of stderr.
    pub fn diagnostics(&self) -> String {
        let out = self.output.lock().expect("output lock");
        let skip = out.stderr.len().saturating_sub(STDERR_SHOWN);
        let stderr: Vec<&str> = out.stderr.iter().skip(skip).map(String::as_str).collect();
        format!(
            "--- engine pid {} ({}) stdout ---\n{}\n--- engine stderr (last {} lines) ---\n{}\n---",
            self.child.id(),
            self.exited
                .map_or_else(|| "running".to_owned(), |s| s.to_string()),
            out.stdout.join("\n"),
            stderr.len(),
            stderr.join("\n"),
        )
    }

    /// Lines the engine printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.output.lock().expect("output lock").stdout.clone()
    }

    fn join_readers(&mut self) {
        // The pipes close when the process is gone, so the readers finish promptly.
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // A failed test must not leave an engine running.
        if self.poll_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<Output>>,
    push: fn(&mut Output, String),
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                    push(&mut output.lock().expect("output lock"), line);
                }
            }
        }
    })
}

/// Resident set size of process `pid` from `/proc/<pid>/status`, in KiB (Linux only).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
