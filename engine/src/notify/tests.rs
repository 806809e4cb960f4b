//! End-to-end outbox tests: a real RocksDB in a temporary directory and a real HTTP receiver
//! (axum on `127.0.0.1:0`) whose answers each test scripts. The test thread plays the
//! pipeline: it calls `enqueue` and `shutdown` synchronously while the runtime delivers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use faultline_correlator::{
    Candidate, Change, IncidentUpdate, Member, ScoreParts, Severity, Status, Transition,
};
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::*;
use crate::store::Store;

mod format;

/// One request the receiver saw, with the status it answered.
#[derive(Debug, Clone)]
struct Seen {
    key: String,
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

type Script = Box<dyn Fn(&str, usize) -> (u16, Option<&'static str>) + Send + Sync>;

/// The scripted receiver: `script(idempotency key, request number)` → (status, Retry-After).
struct Hook {
    seen: Mutex<Vec<Seen>>,
    script: Script,
    count: watch::Sender<usize>,
}

async fn receive(
    State(hook): State<Arc<Hook>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, &'static str) {
    let key = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let n = hook.seen.lock().unwrap().len();
    let (status, retry_after) = (hook.script)(&key, n);
    hook.seen.lock().unwrap().push(Seen {
        key,
        status,
        headers,
        body: body.to_vec(),
    });
    hook.count.send_modify(|c| *c += 1);
    let mut out = HeaderMap::new();
    if let Some(r) = retry_after {
        out.insert("retry-after", HeaderValue::from_static(r));
    }
    let body = if status == 400 { "bad payload" } else { "" };
    (StatusCode::from_u16(status).unwrap(), out, body)
}

struct Harness {
    rt: Runtime,
    hook: Arc<Hook>,
    url: String,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new(
        script: impl Fn(&str, usize) -> (u16, Option<&'static str>) + Send + Sync + 'static,
    ) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hook = Arc::new(Hook {
            seen: Mutex::new(Vec::new()),
            script: Box::new(script),
            count: watch::Sender::new(0),
        });
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(hook.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        Self {
            rt,
            hook,
            url: format!("http://{addr}/hook"),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn spec(&self, name: &str, kind: ReceiverKind) -> ReceiverConfig {
        let mut s = ReceiverConfig::new(name, kind, Some(self.url.clone()));
        s.max_backoff = Duration::from_millis(20);
        s.timeout = Duration::from_secs(5);
        s
    }

    fn open(&self, specs: Vec<ReceiverConfig>) -> Outbox {
        let store = Store::open(self.dir.path()).unwrap();
        Outbox::start(store.db().clone(), specs, None, self.rt.handle().clone()).unwrap()
    }

    /// Blocks until `pred` holds over the requests seen (10 s at most).
    fn wait_seen(&self, pred: impl Fn(&[Seen]) -> bool) {
        let mut rx = self.hook.count.subscribe();
        let hook = self.hook.clone();
        self.rt
            .block_on(async move {
                tokio::time::timeout(Duration::from_secs(10), async {
                    rx.wait_for(|_| pred(&hook.seen.lock().unwrap()))
                        .await
                        .is_ok()
                })
                .await
            })
            .ok()
            .filter(|ok| *ok)
            .expect("the receiver saw what was expected in time");
    }

    fn seen(&self) -> Vec<Seen> {
        self.hook.seen.lock().unwrap().clone()
    }

    /// How many times each key was accepted (2xx).
    fn accepted(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for s in self.seen() {
            if (200..300).contains(&s.status) {
                *out.entry(s.key).or_default() += 1;
            }
        }
        out
    }
}

fn candidate(entity: &str, rank: u32, score: f64) -> Candidate {
    Candidate {
        entity: entity.into(),
        rank,
        score,
        evidence: ScoreParts {
            severity: 3.0,
            onset: 1.0,
            graph: 0.5,
            change: 0.0,
        },
        onset: Some(1_700_000_000_000),
        series: vec![format!("latency{{service=\"{entity}\"}}")],
        changes: vec![],
    }
}

fn update(id: &str, revision: u32, status: Status, severity: Severity) -> IncidentUpdate {
    let opened_at = 1_700_000_000_000;
    let updated_at = opened_at + i64::from(revision) * 60_000;
    IncidentUpdate {
        incident_id: id.into(),
        revision,
        status,
        transition: match (status, revision) {
            (Status::Resolved, _) => Transition::Resolved,
            (_, 1) => Transition::Opened,
            _ => Transition::Updated,
        },
        title: format!("db latency up, affecting checkout ({id})"),
        severity,
        opened_at,
        updated_at,
        resolved_at: (status == Status::Resolved).then_some(updated_at),
        candidates: vec![
            candidate("db", 1, 0.82),
            candidate("checkout", 2, 0.41),
            candidate("web", 3, 0.2),
            candidate("cdn", 4, 0.1),
        ],
        members: vec![Member {
            id: "m1".into(),
            entity: "db".into(),
            series: "latency{service=\"db\"}".into(),
            metric: "latency".into(),
            at: opened_at,
            value: 900.0,
            lower: 10.0,
            upper: 50.0,
            up: true,
            score: 0.99,
            magnitude: 42.5,
            detector: "ewma".into(),
            rule: "latency".into(),
        }],
        member_count: 3,
        entities: vec!["checkout".into(), "db".into(), "web".into()],
        changes: vec![Change {
            id: "c1".into(),
            entity: "db".into(),
            at: opened_at - 60_000,
            kind: "deploy".into(),
            summary: "db v2.3.1".into(),
        }],
        reopened: 0,
    }
}

fn open(id: &str, revision: u32) -> IncidentUpdate {
    update(id, revision, Status::Open, Severity::Critical)
}

/// The revisions of `incident` in the order the receiver saw them, with their statuses.
fn requests_of(seen: &[Seen], incident: &str) -> Vec<(u32, u16)> {
    seen.iter()
        .filter_map(|s| {
            let (id, rev) = s.key.split_once(':')?;
            (id == incident).then(|| (rev.parse().unwrap(), s.status))
        })
        .collect()
}

/// Revision r+1 is first requested only after r got its final answer.
fn assert_in_revision_order(seen: &[Seen], incident: &str) {
    let reqs = requests_of(seen, incident);
    for w in reqs.windows(2) {
        let ((a, sa), (b, _)) = (w[0], w[1]);
        assert!(
            b == a || (b > a && sa != 503 && sa != 429),
            "{incident}: revision {b} requested after {a} answered {sa}: {reqs:?}"
        );
    }
}

#[test]
fn retries_transient_errors_and_delivers_each_revision_once_in_order() {
    // Three 503s, one 429 with `Retry-After: 0`, then success.
    let h = Harness::new(|_, n| match n {
        0..=2 => (503, None),
        3 => (429, Some("0")),
        _ => (200, None),
    });
    let outbox = h.open(vec![h.spec("native", ReceiverKind::Native)]);
    let first: Vec<_> = ["a", "b", "c"].iter().map(|id| open(id, 1)).collect();
    assert_eq!(outbox.enqueue(&first).unwrap(), 3);
    let later = [
        open("a", 2),
        open("b", 2),
        open("a", 3),
        open("c", 2),
        open("c", 3),
    ];
    assert_eq!(outbox.enqueue(&later).unwrap(), 5);
    assert_eq!(outbox.enqueue(&[open("b", 3)]).unwrap(), 1);
    outbox.shutdown(Duration::from_secs(10));
    assert_eq!(outbox.pending(), 0);

    let seen = h.seen();
    assert!(seen.iter().any(|s| s.status == 429));
    let accepted = h.accepted();
    for id in ["a", "b", "c"] {
        for rev in 1..=3 {
            assert_eq!(accepted.get(&format!("{id}:{rev}")), Some(&1), "{id}:{rev}");
        }
        assert_in_revision_order(&seen, id);
        let delivered: Vec<u32> = requests_of(&seen, id)
            .into_iter()
            .filter(|(_, s)| *s == 200)
            .map(|(r, _)| r)
            .collect();
        assert_eq!(delivered, [1, 2, 3], "{id}");
    }
    assert_eq!(accepted.len(), 9);
    for s in &seen {
        assert_eq!(s.headers["content-type"], "application/json");
        assert!(
            s.headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("faultline/")
        );
        let body: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(body["version"], "1");
        let key = format!(
            "{}:{}",
            body["incident_id"].as_str().unwrap(),
            body["revision"]
        );
        assert_eq!(s.key, key, "the idempotency key names the body's revision");
    }
}

#[test]
fn client_errors_are_not_retried_and_do_not_block_later_revisions() {
    let h = Harness::new(|key, _| {
        if key == "a:1" {
            (400, None)
        } else {
            (200, None)
        }
    });
    let outbox = h.open(vec![h.spec("native", ReceiverKind::Native)]);
    assert_eq!(outbox.enqueue(&[open("a", 1), open("a", 2)]).unwrap(), 2);
    outbox.shutdown(Duration::from_secs(10));
    assert_eq!(outbox.pending(), 0, "a permanent failure leaves the outbox");
    let seen = h.seen();
    assert_eq!(requests_of(&seen, "a"), [(1, 400), (2, 200)]);
}

#[test]
fn a_retrying_incident_does_not_hold_up_others_and_restart_redelivers_it_once() {
    let healthy = Arc::new(AtomicBool::new(false));
    let gate = healthy.clone();
    let h = Harness::new(move |key, _| {
        if key.starts_with("b:") && !gate.load(Ordering::SeqCst) {
            (503, None)
        } else {
            (200, None)
        }
    });
    let spec = h.spec("native", ReceiverKind::Native);
    {
        let outbox = h.open(vec![spec.clone()]);
        assert_eq!(outbox.enqueue(&[open("b", 1), open("a", 1)]).unwrap(), 2);
        // `a` goes through while `b` keeps failing.
        h.wait_seen(|s| {
            s.iter().any(|r| r.key == "a:1" && r.status == 200)
                && s.iter().filter(|r| r.key == "b:1").count() >= 3
        });
        assert!(outbox.drain_until(1, Duration::from_secs(10)));
        assert_eq!(outbox.pending(), 1);
        outbox.shutdown(Duration::ZERO);
    }
    // Restart: the same directory, a new database handle.
    healthy.store(true, Ordering::SeqCst);
    let outbox = h.open(vec![spec]);
    // The replay re-derives a:1 and b:1; only a:2 is new (b:1 is delivered from the
    // reloaded outbox, not re-recorded).
    assert_eq!(
        outbox
            .enqueue(&[open("b", 1), open("a", 1), open("a", 2)])
            .unwrap(),
        1
    );
    outbox.shutdown(Duration::from_secs(10));
    assert_eq!(outbox.pending(), 0);
    assert_eq!(
        outbox
            .enqueue(&[open("a", 1), open("a", 2), open("b", 1)])
            .unwrap(),
        0
    );
    let accepted = h.accepted();
    assert_eq!(accepted.get("a:1"), Some(&1));
    assert_eq!(accepted.get("a:2"), Some(&1));
    assert_eq!(accepted.get("b:1"), Some(&1));
    assert_eq!(accepted.len(), 3);
}

#[test]
fn signature_header_verifies_with_the_secret_over_the_exact_body() {
    let h = Harness::new(|_, _| (200, None));
    let mut spec = h.spec("signed", ReceiverKind::Alertmanager);
    spec.secret = Some("s3cret".into());
    spec.headers = vec![("Authorization".into(), "Bearer t0ken".into())];
    let outbox = h.open(vec![spec]);
    outbox.enqueue(&[open("a", 1)]).unwrap();
    outbox.shutdown(Duration::from_secs(10));
    let seen = h.seen();
    assert_eq!(seen.len(), 1);
    let sig = seen[0].headers[SIGNATURE_HEADER].to_str().unwrap();
    assert!(sign::verify(b"s3cret", &seen[0].body, sig));
    assert!(!sign::verify(b"other", &seen[0].body, sig));
    assert_eq!(seen[0].headers["authorization"], "Bearer t0ken");
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "signed");
}

#[test]
fn min_severity_skips_low_updates_but_sends_the_resolve_it_owes() {
    let h = Harness::new(|_, _| (200, None));
    let mut spec = h.spec("pager", ReceiverKind::Native);
    spec.min_severity = Severity::Critical;
    let outbox = h.open(vec![spec, h.spec("all", ReceiverKind::Native)]);
    let updates = [
        // Warning, then critical, then resolved: the first is not sent to `pager`.
        update("c", 1, Status::Open, Severity::Warning),
        update("c", 2, Status::Open, Severity::Critical),
        update("c", 3, Status::Resolved, Severity::Critical),
        // Never critical: nothing to `pager`, not even the resolve.
        update("d", 1, Status::Open, Severity::Warning),
        update("d", 2, Status::Resolved, Severity::Warning),
        // Notified at critical; the resolve goes out whatever its severity.
        update("e", 1, Status::Open, Severity::Critical),
        update("e", 2, Status::Resolved, Severity::Warning),
    ];
    // `all` gets 7, `pager` gets c:2, c:3, e:1, e:2.
    assert_eq!(outbox.enqueue(&updates).unwrap(), 11);
    outbox.shutdown(Duration::from_secs(10));
    let accepted = h.accepted();
    let twice: Vec<&str> = {
        let mut k: Vec<&str> = accepted
            .iter()
            .filter(|(_, n)| **n == 2)
            .map(|(k, _)| k.as_str())
            .collect();
        k.sort_unstable();
        k
    };
    assert_eq!(twice, ["c:2", "c:3", "e:1", "e:2"]);
    assert_eq!(accepted.values().filter(|n| **n == 1).count(), 3);
}

#[test]
fn markers_of_long_idle_incidents_are_collected() {
    let h = Harness::new(|_, _| (200, None));
    let outbox = h.open(vec![h.spec("native", ReceiverKind::Native)]);
    assert_eq!(outbox.enqueue(&[open("old", 1)]).unwrap(), 1);
    assert_eq!(
        outbox.enqueue(&[open("old", 1)]).unwrap(),
        0,
        "marker drops it"
    );
    let mut late = open("new", 1);
    late.updated_at += outbox::MARKER_TTL_MILLIS + 1;
    assert_eq!(outbox.enqueue(&[late]).unwrap(), 1);
    // `old` was idle for more than the TTL of event time: its marker is gone.
    assert_eq!(outbox.enqueue(&[open("old", 1)]).unwrap(), 1);
    outbox.shutdown(Duration::from_secs(10));
}

#[test]
fn start_rejects_unusable_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = Some("http://127.0.0.1:1/x".to_owned());
    let cases = [
        vec![
            ReceiverConfig::new("a", ReceiverKind::Native, url.clone()),
            ReceiverConfig::new("a", ReceiverKind::Slack, url.clone()),
        ],
        vec![ReceiverConfig::new("a", ReceiverKind::Native, None)],
        vec![ReceiverConfig::new(
            "a",
            ReceiverKind::Native,
            Some("ftp://x".into()),
        )],
        vec![ReceiverConfig::new(
            "k",
            ReceiverKind::Kafka {
                topic: "incidents".into(),
            },
            None,
        )],
        vec![{
            let mut s = ReceiverConfig::new("h", ReceiverKind::Native, url.clone());
            s.headers = vec![("bad header".into(), "v".into())];
            s
        }],
    ];
    for receivers in cases {
        let err =
            Outbox::start(store.db().clone(), receivers, None, rt.handle().clone()).unwrap_err();
        assert!(matches!(err, NotifyError::InvalidReceiver { .. }), "{err}");
    }
    // PagerDuty has a default URL.
    let pd = ReceiverConfig::new(
        "pd",
        ReceiverKind::PagerDuty {
            routing_key: "R".into(),
        },
        None,
    );
    let outbox = Outbox::start(store.db().clone(), vec![pd], None, rt.handle().clone()).unwrap();
    outbox.shutdown(Duration::ZERO);
}

#[test]
fn kafka_receiver_publishes_native_records_keyed_by_incident() {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    use rdkafka::mocking::MockCluster;

    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("incidents", 1, 1).unwrap();
    let mut client = rdkafka::ClientConfig::new();
    client.set("bootstrap.servers", cluster.bootstrap_servers());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let spec = ReceiverConfig::new(
        "stream",
        ReceiverKind::Kafka {
            topic: "incidents".into(),
        },
        None,
    );
    let outbox = Outbox::start(
        store.db().clone(),
        vec![spec],
        Some(client.clone()),
        rt.handle().clone(),
    )
    .unwrap();
    assert_eq!(outbox.enqueue(&[open("k", 1), open("k", 2)]).unwrap(), 2);
    outbox.shutdown(Duration::from_secs(20));
    assert_eq!(outbox.pending(), 0, "acknowledged by the broker");

    let consumer: BaseConsumer = client
        .clone()
        .set("group.id", "notify-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["incidents"]).unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        if got.len() == 2 {
            break;
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let headers = m.headers().unwrap();
            let idem = headers
                .iter()
                .find(|h| h.key == IDEMPOTENCY_HEADER)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned());
            let body: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            got.push((m.key().map(<[u8]>::to_vec), idem, body["revision"].clone()));
        }
    }
    assert_eq!(
        got,
        [
            (Some(b"k".to_vec()), Some("k:1".into()), Value::from(1)),
            (Some(b"k".to_vec()), Some("k:2".into()), Value::from(2)),
        ]
    );
}
