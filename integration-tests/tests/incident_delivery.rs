//! Incident delivery end to end: the cascading-latency shop ([`cascade`]) in, incident
//! updates out to webhook receivers and the incidents topic — through receiver outages, a
//! SIGKILL of the engine, and in every payload format.
//!
//! The incidents topic is the engine's own record of every update it derived (it is a
//! receiver like the webhooks, fed from the same outbox, and no test disturbs it), so "every
//! update arrived" means: the webhook took exactly the updates on the topic.
//!
//! `anomalies_of_every_partition_join_incidents` checks the step before delivery: that
//! every symptom, whichever partition it came from, becomes part of an incident.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use faultline_integration_tests::config::Receiver;
use faultline_integration_tests::incident::{Update, is_rfc3339_at, revisions_in_order};
use faultline_integration_tests::series::{Fleet, midnight_days_ago};
use faultline_integration_tests::wait::DEFAULT_TIMEOUT;
use faultline_integration_tests::webhook::{Hit, signature};
use faultline_integration_tests::{
    Anomaly, Broker, Engine, EngineConfig, Producer, Reply, WebhookReceiver, cascade,
    faultline_exe, read_all, unique,
};
use serde_json::{Value, json};

/// Seed of the shop's noise; the incident counts below were observed with it.
const SEED: u64 = 7;
/// Signing secret of the native receiver.
const SECRET: &str = "it-webhook-secret";
/// Requests in flight per receiver in the engine (`notify::CONCURRENCY`): the most updates
/// a SIGKILL can catch acknowledged but not yet marked delivered.
const ENGINE_CONCURRENCY: usize = 4;

/// A broker, a metrics topic and the shop's stream, ready to be produced.
struct Setup {
    broker: Broker,
    dir: tempfile::TempDir,
    topic: String,
    partitions: i32,
    fleet: Fleet,
}

impl Setup {
    fn new(partitions: i32) -> Self {
        let broker = Broker::start(1);
        let topic = unique("it-metrics");
        broker.create_topic(&topic, partitions);
        Self {
            broker,
            dir: tempfile::tempdir().expect("temp dir"),
            topic,
            partitions,
            fleet: cascade::fleet(SEED, midnight_days_ago(3)),
        }
    }

    /// An engine config under `<dir>/<name>` with the shop's rules, correlator and topology,
    /// delivering to `receivers`; its output topics are created.
    fn config(&self, name: &str, receivers: Vec<Receiver>) -> (EngineConfig, std::path::PathBuf) {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut config = EngineConfig::new(&self.broker, &dir, &self.topic);
        cascade::configure(&mut config);
        config.receivers = receivers;
        for t in [
            &config.anomalies_topic,
            &config.dead_letter_topic,
            &config.incidents_topic,
        ] {
            self.broker.create_topic(t, 1);
        }
        let file = config.write(&dir.join("faultline.yaml"));
        (config, file)
    }

    /// Produces points `range` of every series, one sample per record.
    fn produce(&self, producer: &mut Producer, range: std::ops::Range<usize>) {
        producer.send_fleet(&self.topic, self.partitions, &self.fleet, range, 1);
        producer.flush();
    }
}

/// Waits until `engine` has processed everything produced so far and its outbox holds
/// nothing for `receivers`.
fn wait_settled(engine: &mut Engine, setup: &Setup, receivers: &[&str]) {
    let ends = setup.broker.end_offsets(&setup.topic);
    engine.wait_processed(&setup.topic, &ends);
    engine.wait_for_metrics(
        &format!("the outbox is empty for {receivers:?}"),
        DEFAULT_TIMEOUT,
        |m| {
            receivers
                .iter()
                .all(|r| m.get("faultline_notify_pending", &[("receiver", r)]) == Some(0.0))
        },
    );
}

/// Every update on the incidents topic, by idempotency key, checking that the topic holds
/// each once, with the key header, in revision order per incident.
fn updates_on_topic(broker: &Broker, topic: &str) -> BTreeMap<String, Update> {
    let records = read_all(broker, topic, Duration::from_secs(60));
    let mut keys = Vec::new();
    let mut by_key = BTreeMap::new();
    for r in &records {
        let u = Update::parse(r.payload.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.key_str().as_deref(),
            Some(u.incident_id.as_str()),
            "incidents-topic record key is not the incident id"
        );
        assert_eq!(
            r.header("Idempotency-Key"),
            Some(u.key()),
            "Idempotency-Key header of a topic record"
        );
        keys.push(u.key());
        assert!(
            by_key.insert(u.key(), u).is_none(),
            "update {} twice on the incidents topic",
            keys.last().expect("pushed")
        );
    }
    if let Err(e) = revisions_in_order(keys.iter().map(String::as_str)) {
        panic!("incidents topic out of order: {e}");
    }
    by_key
}

/// Incidents with at least `revisions` revisions.
fn incidents_with(updates: &BTreeMap<String, Update>, revisions: u32) -> usize {
    let mut last: BTreeMap<&str, u32> = BTreeMap::new();
    for u in updates.values() {
        let r = last.entry(&u.incident_id).or_default();
        *r = (*r).max(u.revision);
    }
    last.values().filter(|r| **r >= revisions).count()
}

/// The first accepted request of every idempotency key on `path`, in arrival order.
fn deliveries<'h>(hits: &'h [Hit], path: &str) -> Vec<&'h Hit> {
    hits.iter()
        .filter(|h| h.path == path && h.is_delivery())
        .collect()
}

fn keys_of(hits: &[&Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| {
            h.idempotency_key()
                .unwrap_or_else(|| panic!("request #{} without Idempotency-Key", h.seq))
                .to_owned()
        })
        .collect()
}

/// Waits until `path` of `rx` has taken every key of `expected`.
fn wait_delivered(rx: &WebhookReceiver, path: &str, expected: &BTreeMap<String, Update>) {
    rx.wait_for(
        &format!("every update delivered to {path}"),
        DEFAULT_TIMEOUT,
        |hits| {
            let got: BTreeSet<&str> = hits
                .iter()
                .filter(|h| h.path == path && h.is_delivery())
                .filter_map(Hit::idempotency_key)
                .collect();
            expected.keys().all(|k| got.contains(k.as_str()))
        },
    );
}

fn short(keys: &BTreeSet<String>) -> Vec<&str> {
    keys.iter().take(20).map(String::as_str).collect()
}

#[test]
fn webhook_receiver_outage() {
    // One partition: read in event-time order, the stream makes incidents of three to six
    // revisions, which is what ordering needs. (Over several partitions the correlator's
    // clock, their low watermark, lags the data, so most symptoms are already in an
    // incident's first notification and fewer revisions follow.)
    let setup = Setup::new(1);
    // Closed: every request is refused — 503, 429 with `Retry-After: 0`, or the connection
    // dropped after the request was read. Open: most are taken, but the same refusals
    // still come up now and then.
    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    let rx = WebhookReceiver::start(move |req| {
        let refusal = match req.seq % 3 {
            0 => Reply::UNAVAILABLE,
            1 => Reply::THROTTLED_RETRY_NOW,
            _ => Reply::Drop,
        };
        if !gate.load(Ordering::SeqCst) || req.seq % 4 == 0 {
            refusal
        } else {
            Reply::Accept
        }
    });
    let hook = Receiver {
        secret: Some(SECRET.into()),
        ..Receiver::new("hook", "native", rx.url("/hook"))
    };
    let (config, file) = setup.config("engine", vec![hook]);
    let mut producer = Producer::new(&setup.broker);
    setup.produce(&mut producer, 0..setup.fleet.points());

    let mut engine = Engine::start(faultline_exe!(), &file);
    engine.wait_ready();
    // The whole stream is processed, and every update recorded, while the receiver refuses.
    wait_settled(&mut engine, &setup, &["kafka"]);
    let expected = updates_on_topic(&setup.broker, &config.incidents_topic);
    assert!(
        incidents_with(&expected, 3) >= 3,
        "the stream should make at least three incidents of three or more revisions: {:?}",
        expected.keys()
    );
    rx.wait_for(
        "refusing each way at least five times during the outage",
        DEFAULT_TIMEOUT,
        |hits| {
            [Reply::UNAVAILABLE, Reply::THROTTLED_RETRY_NOW, Reply::Drop]
                .iter()
                .all(|r| hits.iter().filter(|h| h.reply == *r).count() >= 5)
        },
    );
    let during = engine.metrics();
    assert!(
        during.get("faultline_notify_pending", &[("receiver", "hook")]) > Some(0.0),
        "updates should be waiting for the refusing receiver"
    );
    open.store(true, Ordering::SeqCst);

    wait_delivered(&rx, "/hook", &expected);
    let after = engine.wait_for_metrics("the hook's outbox is empty", DEFAULT_TIMEOUT, |m| {
        m.get("faultline_notify_pending", &[("receiver", "hook")]) == Some(0.0)
    });
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());

    let hits = rx.hits();
    assert!(rx.malformed().is_empty(), "{:?}", rx.malformed());
    // Every attempt, refused or not, is a signed POST of one native update.
    for h in &hits {
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/hook"));
        assert_eq!(h.header("content-type"), Some("application/json"));
        let sig = h
            .header("x-faultline-signature")
            .unwrap_or_else(|| panic!("request #{} is not signed", h.seq));
        assert_eq!(
            sig,
            signature(SECRET.as_bytes(), &h.body),
            "signature of request #{} does not verify over its body",
            h.seq
        );
        let u = Update::parse(&h.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.idempotency_key(), Some(u.key().as_str()));
    }
    let delivered = deliveries(&hits, "/hook");
    let keys = keys_of(&delivered);
    if let Err(e) = revisions_in_order(keys.iter().map(String::as_str)) {
        panic!("webhook deliveries out of revision order: {e}");
    }
    let got: BTreeSet<String> = keys.iter().cloned().collect();
    let want: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(
        got,
        want,
        "delivered vs on the incidents topic: missing {:?}, extra {:?}",
        short(&want.difference(&got).cloned().collect()),
        short(&got.difference(&want).cloned().collect())
    );
    for h in &delivered {
        let key = h.idempotency_key().expect("checked");
        assert_eq!(
            String::from_utf8_lossy(&h.body),
            expected[key].raw,
            "webhook body of {key} differs from its incidents-topic record"
        );
    }
    // Without a crash, nothing taken is sent again.
    let repeats: Vec<&str> = hits
        .iter()
        .filter(|h| h.repeat)
        .filter_map(Hit::idempotency_key)
        .collect();
    assert!(
        repeats.is_empty(),
        "accepted updates sent again: {repeats:?}"
    );
    let refused = hits.iter().filter(|h| !h.reply.is_accept()).count();
    let failed = after.sum_where(
        "faultline_notify_attempts_total",
        &[("receiver", "hook"), ("outcome", "failed")],
    );
    assert_eq!(failed, 0.0, "the engine gave up on retryable refusals");
    println!(
        "{} updates of {} incidents; {} requests, {refused} refused ({} during the outage), \
         {} retries counted by the engine",
        expected.len(),
        expected
            .values()
            .map(|u| &u.incident_id)
            .collect::<BTreeSet<_>>()
            .len(),
        hits.len(),
        during.sum_where(
            "faultline_notify_attempts_total",
            &[("receiver", "hook"), ("outcome", "retried")]
        ),
        after.sum_where(
            "faultline_notify_attempts_total",
            &[("receiver", "hook"), ("outcome", "retried")]
        ),
    );
}

/// Runs `file` over everything produced so far and stops it once all is delivered.
fn run_to_end(file: &Path, setup: &Setup) {
    let mut engine = Engine::start(faultline_exe!(), file);
    engine.wait_ready();
    wait_settled(&mut engine, setup, &["hook", "kafka"]);
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());
}

#[test]
fn sigkill_mid_stream_delivers_every_update_once() {
    // One partition: with several, which partition's records the engine reads first moves
    // the correlator's low watermark differently in every run, so even two uninterrupted
    // runs may time an incident's revisions differently. With one, a run is a function of
    // the input alone, and the crashed run must equal the reference.
    let setup = Setup::new(1);
    let crash_rx = WebhookReceiver::accepting();
    let reference_rx = WebhookReceiver::accepting();
    let (_, crash_file) = setup.config(
        "crash",
        vec![Receiver::new("hook", "native", crash_rx.url("/hook"))],
    );
    let (_, reference_file) = setup.config(
        "reference",
        vec![Receiver::new("hook", "native", reference_rx.url("/hook"))],
    );
    // The first part ends while the payments incident grows (its database slowed at
    // +60 min, its callers follow at +64, +68 and +72 min); the engine dies early in the
    // second, which holds the rest of it and the catalog incident.
    let first = cascade::LEARNING + 66;
    let second = cascade::LEARNING + 300;
    let mut producer = Producer::new(&setup.broker);
    setup.produce(&mut producer, 0..first);
    let first_ends = setup.broker.end_offsets(&setup.topic);

    let mut engine = Engine::start(faultline_exe!(), &crash_file);
    engine.wait_ready();
    wait_settled(&mut engine, &setup, &["hook", "kafka"]);
    let before = deliveries(&crash_rx.hits(), "/hook").len();
    assert!(before > 0, "no incident delivered before the kill");
    let checkpoints = engine.metrics().sum("faultline_checkpoints_total");
    engine.wait_for_metrics("a checkpoint of the first part", DEFAULT_TIMEOUT, |m| {
        m.sum("faultline_checkpoints_total") > checkpoints
    });

    setup.produce(&mut producer, first..second);
    let (_, first_end) = first_ends[0];
    let topic = setup.topic.clone();
    let at_kill = engine.wait_for_metrics("processing the second part", DEFAULT_TIMEOUT, |m| {
        m.get(
            "faultline_partition_next_offset",
            &[("topic", &topic), ("partition", "0")],
        )
        .is_some_and(|o| o > first_end as f64)
    });
    engine.kill();
    let requests_before_restart = crash_rx.hits().len();

    setup.produce(&mut producer, second..setup.fleet.points());
    run_to_end(&crash_file, &setup);
    run_to_end(&reference_file, &setup);

    let reference = reference_rx.hits();
    let crashed = crash_rx.hits();
    let want = deliveries(&reference, "/hook");
    let got = deliveries(&crashed, "/hook");
    for (name, d) in [("reference", &want), ("crashed", &got)] {
        if let Err(e) = revisions_in_order(keys_of(d).iter().map(String::as_str)) {
            panic!("{name} run delivered out of revision order: {e}");
        }
    }
    let updates: BTreeMap<String, Update> = want
        .iter()
        .map(|h| {
            let u = Update::parse(&h.body).unwrap_or_else(|e| panic!("{e}"));
            (u.key(), u)
        })
        .collect();
    assert!(
        incidents_with(&updates, 3) >= 2,
        "the reference run should have incidents of three or more revisions: {:?}",
        updates.keys()
    );
    let want_keys: BTreeSet<String> = keys_of(&want).into_iter().collect();
    let got_keys: BTreeSet<String> = keys_of(&got).into_iter().collect();
    assert_eq!(
        got_keys,
        want_keys,
        "crashed run vs reference: missing {:?}, extra {:?}",
        short(&want_keys.difference(&got_keys).cloned().collect()),
        short(&got_keys.difference(&want_keys).cloned().collect())
    );
    let reference_body: BTreeMap<&str, &[u8]> = want
        .iter()
        .map(|h| (h.idempotency_key().expect("keyed"), h.body.as_slice()))
        .collect();
    for h in &got {
        let key = h.idempotency_key().expect("keyed");
        assert_eq!(
            String::from_utf8_lossy(&h.body),
            String::from_utf8_lossy(reference_body[key]),
            "update {key} differs from the reference run's"
        );
    }
    // At-least-once: only an update acknowledged just before the kill may come again (the
    // engine had not yet marked it delivered), after the restart and byte for byte.
    let repeats: Vec<&Hit> = crashed.iter().filter(|h| h.repeat).collect();
    for r in &repeats {
        let key = r.idempotency_key().expect("keyed");
        let first = got
            .iter()
            .find(|h| h.idempotency_key() == Some(key))
            .expect("a repeat follows its delivery");
        assert!(
            first.seq < requests_before_restart && r.seq >= requests_before_restart,
            "update {key} sent again without a crash in between (requests #{} and #{})",
            first.seq,
            r.seq
        );
        assert_eq!(r.body, first.body, "repeat of {key} differs");
    }
    assert!(
        repeats.len() <= ENGINE_CONCURRENCY,
        "{} updates sent again after the restart; at most {ENGINE_CONCURRENCY} can have been \
         in flight at the kill",
        repeats.len()
    );
    assert!(
        reference.iter().all(|h| !h.repeat),
        "the reference run sent an accepted update again"
    );
    println!(
        "{} updates; {before} delivered before the second part; killed at next offset {:?} \
         (first part ended at {first_end}); {} requests before the restart; {} repeats after it",
        want.len(),
        at_kill.get(
            "faultline_partition_next_offset",
            &[("topic", &setup.topic), ("partition", "0")]
        ),
        requests_before_restart,
        repeats.len()
    );
}

/// Keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> &'v str {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {} in {v}", path.join(".")))
}

const EXTERNAL_URL: &str = "http://faultline.example:9464";
const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdef012345";

fn check_alertmanager(h: &Hit, u: &Update, fingerprints: &mut BTreeMap<String, String>) {
    let v = h.json();
    let status = if u.status == "resolved" {
        "resolved"
    } else {
        "firing"
    };
    assert_eq!(
        keys(&v),
        BTreeSet::from([
            "version",
            "groupKey",
            "truncatedAlerts",
            "status",
            "receiver",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "alerts",
        ]),
        "Alertmanager v4 top-level fields: {v}"
    );
    assert_eq!(v["version"], "4");
    assert_eq!(
        v["groupKey"],
        format!("{{}}:{{incident_id=\"{}\"}}", u.incident_id)
    );
    assert_eq!(v["truncatedAlerts"], 0);
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["receiver"], "am");
    assert_eq!(v["groupLabels"], json!({ "incident_id": u.incident_id }));
    assert_eq!(v["externalURL"], EXTERNAL_URL);
    let alerts = v["alerts"].as_array().expect("alerts is an array");
    assert_eq!(alerts.len(), 1, "one alert per incident: {v}");
    let a = &alerts[0];
    assert_eq!(
        keys(a),
        BTreeSet::from([
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        ]),
        "Alertmanager v4 alert fields: {a}"
    );
    assert_eq!(a["status"], status);
    // One alert: the common labels and annotations are its own.
    assert_eq!(v["commonLabels"], a["labels"]);
    assert_eq!(v["commonAnnotations"], a["annotations"]);
    let labels = a["labels"].as_object().expect("labels is an object");
    assert!(
        labels.values().all(Value::is_string),
        "label values are strings: {a}"
    );
    assert_eq!(a["labels"]["alertname"], "FaultlineIncident");
    assert_eq!(a["labels"]["incident_id"], u.incident_id.as_str());
    assert_eq!(a["labels"]["severity"], u.severity.as_str());
    assert_eq!(
        a["labels"].get("root_cause").and_then(Value::as_str),
        u.top_candidate.as_deref()
    );
    let annotations = a["annotations"].as_object().expect("annotations object");
    assert!(annotations.values().all(Value::is_string), "{a}");
    assert_eq!(a["annotations"]["summary"], u.title.as_str());
    assert!(!str_at(a, &["annotations", "description"]).is_empty());
    assert!(
        is_rfc3339_at(str_at(a, &["startsAt"]), u.opened_at),
        "startsAt is opened_at in RFC 3339: {a}"
    );
    let ends = str_at(a, &["endsAt"]);
    match u.resolved_at {
        None => assert_eq!(ends, "0001-01-01T00:00:00Z", "endsAt while firing"),
        Some(t) => assert!(is_rfc3339_at(ends, t), "endsAt is resolved_at: {a}"),
    }
    assert_eq!(
        a["generatorURL"],
        format!("{EXTERNAL_URL}/incidents/{}", u.incident_id)
    );
    let fp = str_at(a, &["fingerprint"]);
    assert!(
        fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_hexdigit()),
        "fingerprint: {fp}"
    );
    let first = fingerprints
        .entry(u.incident_id.clone())
        .or_insert_with(|| fp.to_owned());
    assert_eq!(
        first, fp,
        "fingerprint of {} changed between revisions",
        u.incident_id
    );
}

fn check_pagerduty(h: &Hit, u: &Update) {
    let v = h.json();
    assert_eq!(v["routing_key"], ROUTING_KEY);
    assert_eq!(v["dedup_key"], u.incident_id.as_str(), "dedup_key: {v}");
    if u.status == "resolved" {
        assert_eq!(
            v,
            json!({ "routing_key": ROUTING_KEY, "event_action": "resolve",
                "dedup_key": u.incident_id }),
            "a resolve carries routing_key, event_action and dedup_key only"
        );
        return;
    }
    assert_eq!(v["event_action"], "trigger", "{v}");
    let allowed = BTreeSet::from([
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "images",
        "links",
        "client",
        "client_url",
    ]);
    assert!(
        keys(&v).is_subset(&allowed),
        "Events v2 top-level fields: {v}"
    );
    let p = &v["payload"];
    let allowed = BTreeSet::from([
        "summary",
        "source",
        "severity",
        "timestamp",
        "component",
        "group",
        "class",
        "custom_details",
    ]);
    assert!(keys(p).is_subset(&allowed), "Events v2 payload fields: {p}");
    let summary = str_at(p, &["summary"]);
    assert!(
        !summary.is_empty() && summary.chars().count() <= 1024,
        "summary of 1 to 1024 characters: {summary:?}"
    );
    assert!(u.title.starts_with(summary), "summary is the title: {p}");
    assert!(!str_at(p, &["source"]).is_empty(), "{p}");
    let severity = str_at(p, &["severity"]);
    assert!(
        ["critical", "error", "warning", "info"].contains(&severity),
        "severity {severity}"
    );
    assert_eq!(severity, u.severity, "severity follows the incident's");
    assert!(
        is_rfc3339_at(str_at(p, &["timestamp"]), u.updated_at),
        "timestamp is updated_at in RFC 3339: {p}"
    );
}

fn check_slack(h: &Hit, u: &Update) {
    let v = h.json();
    let text = str_at(&v, &["text"]);
    let head = if u.status == "resolved" {
        "[RESOLVED]".to_owned()
    } else {
        format!("[FIRING:{}]", u.severity)
    };
    assert!(text.starts_with(&head), "text {text:?} starts with {head}");
    let blocks = v["blocks"].as_array().expect("blocks is an array");
    assert!(!blocks.is_empty(), "{v}");
    for b in blocks {
        assert!(
            ["section", "context"].contains(&str_at(b, &["type"])),
            "block type: {b}"
        );
    }
    let all = v.to_string();
    assert!(
        all.contains(&u.incident_id),
        "the message names the incident"
    );
}

#[test]
fn payload_shapes() {
    let setup = Setup::new(3);
    let rx = WebhookReceiver::accepting();
    let receivers = vec![
        Receiver {
            external_url: Some(EXTERNAL_URL.into()),
            secret: Some(SECRET.into()),
            ..Receiver::new("am", "alertmanager", rx.url("/am"))
        },
        Receiver {
            routing_key: Some(ROUTING_KEY.into()),
            ..Receiver::new("pd", "pagerduty", rx.url("/pd"))
        },
        Receiver::new("slack", "slack", rx.url("/slack")),
    ];
    let (config, file) = setup.config("engine", receivers);
    let mut producer = Producer::new(&setup.broker);
    setup.produce(&mut producer, 0..setup.fleet.points());
    let mut engine = Engine::start(faultline_exe!(), &file);
    engine.wait_ready();
    wait_settled(&mut engine, &setup, &["am", "pd", "slack", "kafka"]);
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());

    let expected = updates_on_topic(&setup.broker, &config.incidents_topic);
    assert!(
        expected.values().any(|u| u.status == "resolved")
            && expected.values().any(|u| u.transition == "updated"),
        "the stream should update and resolve incidents: {:?}",
        expected.keys()
    );
    let hits = rx.hits();
    assert!(rx.malformed().is_empty(), "{:?}", rx.malformed());
    let want: BTreeSet<String> = expected.keys().cloned().collect();
    let mut fingerprints = BTreeMap::new();
    for path in ["/am", "/pd", "/slack"] {
        let delivered = deliveries(&hits, path);
        let keys = keys_of(&delivered);
        if let Err(e) = revisions_in_order(keys.iter().map(String::as_str)) {
            panic!("{path} out of revision order: {e}");
        }
        let got: BTreeSet<String> = keys.into_iter().collect();
        assert_eq!(
            got, want,
            "{path} got other updates than the incidents topic"
        );
        for h in &delivered {
            assert_eq!(h.header("content-type"), Some("application/json"));
            let u = &expected[h.idempotency_key().expect("keyed")];
            match path {
                "/am" => {
                    assert_eq!(
                        h.header("x-faultline-signature"),
                        Some(signature(SECRET.as_bytes(), &h.body).as_str()),
                        "signature over the Alertmanager body"
                    );
                    check_alertmanager(h, u, &mut fingerprints);
                }
                "/pd" => {
                    assert_eq!(h.header("x-faultline-signature"), None, "no secret set");
                    check_pagerduty(h, u);
                }
                _ => check_slack(h, u),
            }
        }
    }
    let distinct: BTreeSet<&String> = fingerprints.values().collect();
    assert_eq!(
        distinct.len(),
        fingerprints.len(),
        "two incidents share an Alertmanager fingerprint"
    );
    println!(
        "{} updates of {} incidents checked in three formats",
        expected.len(),
        fingerprints.len()
    );
}

#[test]
fn anomalies_of_every_partition_join_incidents() {
    // The shop's series spread over three partitions, produced before the engine starts (a
    // backlog, as after downtime): the engine reads one partition's fetched batch before
    // another's, and the correlator's clock, the low watermark of the partitions, must wait
    // for the partitions it has not read yet rather than run ahead with the first one.
    let setup = Setup::new(3);
    let (config, file) = setup.config("engine", Vec::new());
    let mut producer = Producer::new(&setup.broker);
    setup.produce(&mut producer, 0..setup.fleet.points());
    run_to_end_kafka(&file, &setup);

    let updates = updates_on_topic(&setup.broker, &config.incidents_topic);
    let learning_end = setup.fleet.ts(cascade::LEARNING);
    let mut missing = Vec::new();
    let mut symptoms = 0;
    for r in read_all(
        &setup.broker,
        &config.anomalies_topic,
        Duration::from_secs(60),
    ) {
        let a = Anomaly::parse(&r).unwrap_or_else(|e| panic!("{e}"));
        // Latency going down is the good way: published, but no symptom of an incident.
        if a.direction != "up" || a.at_ms < learning_end {
            continue;
        }
        symptoms += 1;
        let joined = updates.values().any(|u| {
            u.entities.contains(&a.entity_name) && u.opened_at <= a.at_ms && a.at_ms <= u.updated_at
        });
        if !joined {
            missing.push(format!(
                "{} at +{} min (partition {})",
                a.entity_name,
                (a.at_ms - learning_end) / cascade::STEP_MS,
                a.source_partition
            ));
        }
    }
    assert!(
        symptoms >= 7,
        "every faulty service should show: {symptoms} symptoms"
    );
    assert!(
        missing.is_empty(),
        "bad-way anomalies in no incident (dropped as late by a correlator clock that ran \
         ahead of a partition not read yet?): {missing:?}"
    );
}

/// Runs `file` (no webhooks) over everything produced so far until the incidents topic
/// holds every update, then stops it.
fn run_to_end_kafka(file: &Path, setup: &Setup) {
    let mut engine = Engine::start(faultline_exe!(), file);
    engine.wait_ready();
    wait_settled(&mut engine, setup, &["kafka"]);
    let status = engine.terminate();
    assert!(status.success(), "exit {status}\n{}", engine.diagnostics());
}
