//! The Kafka-protocol broker a test talks to: librdkafka's mock cluster in this process, or an
//! external Kafka named by `FAULTLINE_TEST_BROKERS`.
//!
//! Either way the engine reaches it over TCP on the address [`Broker::bootstrap`] returns, and
//! every test creates its own uniquely named topics, so parallel tests (and earlier runs
//! against the same external broker) never share data.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::wait;

/// Environment variable naming an external broker (`host:port[,host:port]`) to test against.
pub const EXTERNAL_BROKERS_ENV: &str = "FAULTLINE_TEST_BROKERS";

/// A broker for one test.
pub struct Broker {
    bootstrap: String,
    /// The in-process cluster; dropping it shuts it down, so it lives as long as the test.
    mock: Option<MockCluster<'static, DefaultProducerContext>>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("bootstrap", &self.bootstrap)
            .field("mock", &self.mock.is_some())
            .finish()
    }
}

impl Broker {
    /// The external broker if `FAULTLINE_TEST_BROKERS` is set, else a fresh mock cluster of
    /// `mock_brokers` brokers.
    pub fn start(mock_brokers: i32) -> Self {
        match std::env::var(EXTERNAL_BROKERS_ENV) {
            Ok(list) if !list.trim().is_empty() => Self {
                bootstrap: list.trim().to_owned(),
                mock: None,
            },
            _ => {
                let mock = MockCluster::new(mock_brokers).expect("start the mock Kafka cluster");
                Self {
                    bootstrap: mock.bootstrap_servers(),
                    mock: Some(mock),
                }
            }
        }
    }

    /// A broker someone else runs at `bootstrap` (e.g. an engine's embedded one).
    pub fn at(bootstrap: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_owned(),
            mock: None,
        }
    }

    /// `bootstrap.servers` for clients, the engine included.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Whether this is an external broker (shared, so names must be unique across runs).
    pub fn is_external(&self) -> bool {
        self.mock.is_none()
    }

    /// Creates `name` with `partitions` partitions and waits until its metadata shows them.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        match &self.mock {
            Some(mock) => mock
                .create_topic(name, partitions, 1)
                .unwrap_or_else(|e| panic!("create mock topic {name}: {e}")),
            None => self.create_external_topic(name, partitions),
        }
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .expect("create a metadata client");
        let seen = wait::poll(Duration::from_secs(60), || {
            let md = consumer
                .fetch_metadata(Some(name), Duration::from_secs(5))
                .ok()?;
            let topic = md.topics().iter().find(|t| t.name() == name)?;
            (topic.error().is_none() && topic.partitions().len() == partitions as usize)
                .then_some(())
        });
        assert!(
            seen.is_some(),
            "topic {name} did not show {partitions} partitions within 60 s"
        );
    }

    fn create_external_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .expect("create a Kafka admin client");
        // Test data carries event-time timestamps of the last few days; keep it regardless of
        // the broker's retention defaults.
        let topic =
            NewTopic::new(name, partitions, TopicReplication::Fixed(1)).set("retention.ms", "-1");
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = block_on(admin.create_topics([&topic], &opts))
            .unwrap_or_else(|e| panic!("create topic {name}: {e}"));
        for r in results {
            if let Err((topic, code)) = r {
                panic!("create topic {topic}: {code}");
            }
        }
    }

    /// Each partition of `topic` with its high watermark (the offset the next record gets):
    /// an engine that has processed a partition to here is done with it.
    pub fn end_offsets(&self, topic: &str) -> Vec<(i32, i64)> {
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .expect("create a metadata client");
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .unwrap_or_else(|| panic!("no metadata for {topic}"));
        t.partitions()
            .iter()
            .map(|p| {
                let (_, high) = consumer
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(30))
                    .unwrap_or_else(|e| panic!("watermarks of {topic}/{}: {e}", p.id()));
                (p.id(), high)
            })
            .collect()
    }

    /// A client config pointing at this broker.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        c
    }
}

/// A name no other test, process or earlier run uses: `prefix-pid-nanos-counter`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// Runs a future to completion on this thread (the admin API is async; the tests are not).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
