//! One delivery attempt over HTTP or Kafka, and what its result means for the outbox.

use std::sync::Arc;
use std::time::Duration;

use faultline_correlator::IncidentUpdate;
use metrics::counter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tracing::{error, warn};

use super::{
    IDEMPOTENCY_HEADER, NotifyError, PAGERDUTY_URL, ReceiverConfig, ReceiverKind, SIGNATURE_HEADER,
    format, sign,
};
use crate::telemetry;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("faultline/", env!("CARGO_PKG_VERSION"));
/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Bytes of an error response kept for the log.
const BODY_EXCERPT: usize = 512;

/// Why an entry was given up (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailReason {
    /// A 4xx other than 408 and 429.
    ClientError,
    /// A status that is neither success, retryable nor 4xx (e.g. an unfollowed redirect).
    UnexpectedStatus,
    /// The request could not be built.
    Request,
    /// The payload could not be rendered.
    Format,
    /// The broker refused the record for good (too large, invalid).
    KafkaRejected,
}

impl FailReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::ClientError => "client_error",
            Self::UnexpectedStatus => "unexpected_status",
            Self::Request => "request",
            Self::Format => "format",
            Self::KafkaRejected => "kafka_rejected",
        }
    }
}

/// Why an entry is retried (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RetryReason {
    /// Connection refused, reset, DNS, TLS.
    Connect,
    /// No response within the receiver's timeout.
    Timeout,
    /// 429.
    Throttled,
    /// 408.
    RequestTimeout,
    /// 5xx.
    ServerError,
    /// Another transport error (body, protocol).
    Transport,
    /// A Kafka error that may pass.
    Kafka,
    /// The attempt itself failed unexpectedly.
    Internal,
}

impl RetryReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Throttled => "throttled",
            Self::RequestTimeout => "request_timeout",
            Self::ServerError => "server_error",
            Self::Transport => "transport",
            Self::Kafka => "kafka",
            Self::Internal => "internal",
        }
    }
}

/// The result of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Acknowledged: remove the entry.
    Delivered,
    /// Permanently failed: counted and logged; remove the entry.
    Failed(FailReason),
    /// Try again after `after` (the server's `Retry-After`) or the backoff.
    Retry {
        reason: RetryReason,
        after: Option<Duration>,
    },
}

impl Outcome {
    pub fn retry_internal() -> Self {
        Self::Retry {
            reason: RetryReason::Internal,
            after: None,
        }
    }

    fn count(self, receiver: &str) {
        let (outcome, reason) = match self {
            // Counted by the task with the latency.
            Self::Delivered => return,
            Self::Failed(r) => ("failed", r.as_str()),
            Self::Retry { reason, .. } => ("retried", reason.as_str()),
        };
        counter!(telemetry::NOTIFY_ATTEMPTS, "receiver" => receiver.to_owned(),
            "outcome" => outcome, "reason" => reason)
        .increment(1);
    }
}

/// How a receiver's updates leave the process.
pub(super) enum Transport {
    Http {
        client: reqwest::Client,
        url: reqwest::Url,
    },
    Kafka {
        producer: Arc<FutureProducer>,
        topic: String,
    },
}

impl Transport {
    /// The transport of `spec` (already validated); Kafka receivers share `producer`.
    pub fn new(
        spec: &ReceiverConfig,
        producer: Option<Arc<FutureProducer>>,
    ) -> Result<Self, NotifyError> {
        let invalid = |reason: String| NotifyError::InvalidReceiver {
            name: spec.name.clone(),
            reason,
        };
        if let ReceiverKind::Kafka { topic } = &spec.kind {
            let producer = producer.ok_or_else(|| invalid("no Kafka producer".into()))?;
            return Ok(Self::Kafka {
                producer,
                topic: topic.clone(),
            });
        }
        let raw = spec.url.as_deref().unwrap_or(PAGERDUTY_URL);
        let url = reqwest::Url::parse(raw).map_err(|e| invalid(format!("url `{raw}`: {e}")))?;
        let mut headers = HeaderMap::new();
        for (k, v) in &spec.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| invalid(format!("`{k}` is not a valid header name")))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| invalid(format!("the value of header `{k}` is not valid")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(spec.timeout)
            .default_headers(headers)
            .build()
            .map_err(|source| NotifyError::HttpClient {
                name: spec.name.clone(),
                source,
            })?;
        Ok(Self::Http { client, url })
    }

    /// One attempt to deliver `update`; counts and logs everything but success.
    pub async fn send(&self, spec: &ReceiverConfig, update: &IncidentUpdate) -> Outcome {
        let outcome = match self {
            Self::Http { client, url } => post(client, url, spec, update).await,
            Self::Kafka { producer, topic } => produce(producer, topic, spec, update).await,
        };
        outcome.count(&spec.name);
        outcome
    }
}

async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    spec: &ReceiverConfig,
    update: &IncidentUpdate,
) -> Outcome {
    let body = match format::render(spec, update) {
        Ok(b) => b,
        Err(e) => {
            error!(receiver = %spec.name, incident_id = %update.incident_id,
                revision = update.revision, error = %e, "notification payload not rendered");
            return Outcome::Failed(FailReason::Format);
        }
    };
    let mut req = client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_HEADER, update.idempotency_key());
    if let Some(secret) = &spec.secret {
        req = req.header(SIGNATURE_HEADER, sign::signature(secret.as_bytes(), &body));
    }
    let resp = match req.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            let outcome = if e.is_builder() {
                Outcome::Failed(FailReason::Request)
            } else {
                let reason = if e.is_timeout() {
                    RetryReason::Timeout
                } else if e.is_connect() {
                    RetryReason::Connect
                } else {
                    RetryReason::Transport
                };
                Outcome::Retry {
                    reason,
                    after: None,
                }
            };
            warn!(receiver = %spec.name, incident_id = %update.incident_id,
                revision = update.revision, error = %e, ?outcome, "notification request failed");
            return outcome;
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let retry_after = retry_after(resp.headers());
    let outcome = classify(status, retry_after);
    let excerpt = excerpt(resp).await;
    match outcome {
        Outcome::Failed(_) => error!(receiver = %spec.name, incident_id = %update.incident_id,
            revision = update.revision, status = status.as_u16(), body = %excerpt,
            "notification rejected; not retried"),
        _ => warn!(receiver = %spec.name, incident_id = %update.incident_id,
            revision = update.revision, status = status.as_u16(), body = %excerpt,
            "notification not accepted; will retry"),
    }
    outcome
}

/// What a non-success status means.
pub(super) fn classify(status: StatusCode, retry_after: Option<Duration>) -> Outcome {
    let retry = |reason| Outcome::Retry {
        reason,
        after: retry_after,
    };
    match status.as_u16() {
        200..=299 => Outcome::Delivered,
        408 => retry(RetryReason::RequestTimeout),
        429 => retry(RetryReason::Throttled),
        500..=599 => retry(RetryReason::ServerError),
        400..=499 => Outcome::Failed(FailReason::ClientError),
        _ => Outcome::Failed(FailReason::UnexpectedStatus),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: the backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

async fn excerpt(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_EXCERPT {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(BODY_EXCERPT);
    String::from_utf8_lossy(&buf).into_owned()
}

async fn produce(
    producer: &FutureProducer,
    topic: &str,
    spec: &ReceiverConfig,
    update: &IncidentUpdate,
) -> Outcome {
    let payload = match format::native(update) {
        Ok(b) => b,
        Err(e) => {
            error!(receiver = %spec.name, incident_id = %update.incident_id, error = %e,
                "notification payload not rendered");
            return Outcome::Failed(FailReason::Format);
        }
    };
    let key = update.idempotency_key();
    let mut headers = OwnedHeaders::new().insert(Header {
        key: IDEMPOTENCY_HEADER,
        value: Some(key.as_str()),
    });
    let signature = spec
        .secret
        .as_ref()
        .map(|s| sign::signature(s.as_bytes(), &payload));
    if let Some(sig) = &signature {
        headers = headers.insert(Header {
            key: SIGNATURE_HEADER,
            value: Some(sig.as_str()),
        });
    }
    let record = FutureRecord::to(topic)
        .key(update.incident_id.as_str())
        .payload(&payload)
        .headers(headers);
    let sent = tokio::time::timeout(spec.timeout, producer.send(record, spec.timeout)).await;
    let outcome = match sent {
        Ok(Ok(_)) => return Outcome::Delivered,
        Ok(Err((e, _))) => kafka_outcome(&e),
        Err(_) => Outcome::Retry {
            reason: RetryReason::Timeout,
            after: None,
        },
    };
    warn!(receiver = %spec.name, topic, incident_id = %update.incident_id,
        revision = update.revision, ?outcome, "notification record not acknowledged");
    outcome
}

fn kafka_outcome(e: &KafkaError) -> Outcome {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidRecord,
        ) => Outcome::Failed(FailReason::KafkaRejected),
        _ => Outcome::Retry {
            reason: RetryReason::Kafka,
            after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_are_exactly_408_429_and_5xx() {
        for code in [408, 429, 500, 502, 503, 504, 599] {
            let s = StatusCode::from_u16(code).unwrap();
            assert!(matches!(classify(s, None), Outcome::Retry { .. }), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 410, 413, 422] {
            let s = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                classify(s, None),
                Outcome::Failed(FailReason::ClientError),
                "{code}"
            );
        }
        assert_eq!(classify(StatusCode::OK, None), Outcome::Delivered);
        assert_eq!(
            classify(StatusCode::MOVED_PERMANENTLY, None),
            Outcome::Failed(FailReason::UnexpectedStatus)
        );
    }

    #[test]
    fn retry_after_seconds_are_honoured_and_dates_ignored() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(Duration::ZERO)),
            Outcome::Retry {
                reason: RetryReason::Throttled,
                after: Some(Duration::ZERO)
            }
        );
    }
}
