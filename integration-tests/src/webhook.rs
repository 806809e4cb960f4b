//! A webhook receiver the engine delivers incident updates to: it records every request and
//! answers each as the test decides — accept, refuse with a status (and `Retry-After`), or
//! drop the connection without answering.
//!
//! It is a small HTTP/1.1 server on tokio rather than a framework app because a receiver
//! under test must misbehave at the transport level: closing the connection after reading a
//! request, before any response byte, is what a crashing or overloaded receiver does, and
//! frameworks do not let a handler do it. It speaks what a webhook client sends: requests
//! with `Content-Length` or chunked bodies, on keep-alive connections.
//!
//! Every request is recorded with the answer it got, in arrival order, so a test can tell
//! accepted deliveries from refused attempts and from repeats of an accepted update.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::wait;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `200 OK`: the update is taken.
    Accept,
    /// A non-2xx status, with `Retry-After: <seconds>` if set.
    Refuse {
        /// The status code.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// The connection is closed after the request was read, with no response.
    Drop,
}

impl Reply {
    /// `503 Service Unavailable`.
    pub const UNAVAILABLE: Reply = Reply::Refuse {
        status: 503,
        retry_after: None,
    };
    /// `429 Too Many Requests` with `Retry-After: 0` (retry at once).
    pub const THROTTLED_RETRY_NOW: Reply = Reply::Refuse {
        status: 429,
        retry_after: Some(0),
    };

    /// Whether this answer takes the update.
    pub fn is_accept(self) -> bool {
        self == Reply::Accept
    }
}

/// One request as received, with the answer it got.
#[derive(Debug, Clone)]
pub struct Hit {
    /// 0, 1, ...: arrival order over the whole receiver.
    pub seq: usize,
    /// Request method.
    pub method: String,
    /// Request target, e.g. `/hook`.
    pub path: String,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub reply: Reply,
    /// Whether an earlier request to the same path with the same `Idempotency-Key` was
    /// accepted: an idempotent receiver takes such a request as a no-op.
    pub repeat: bool,
}

impl Hit {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Idempotency-Key` header.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header("idempotency-key")
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request #{} to {} is not JSON ({e}): {}",
                self.seq,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Whether this request was taken as a new delivery: accepted, and not a repeat of an
    /// accepted idempotency key.
    pub fn is_delivery(&self) -> bool {
        self.reply.is_accept() && !self.repeat
    }
}

/// What a policy sees of a request before answering it.
#[derive(Debug)]
pub struct Incoming<'a> {
    /// Arrival order over the whole receiver.
    pub seq: usize,
    /// Request target.
    pub path: &'a str,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<&'a str>,
    /// Whether a request to this path with this idempotency key was accepted before.
    pub repeat: bool,
}

type Policy = Box<dyn FnMut(&Incoming<'_>) -> Reply + Send>;

struct State {
    hits: Vec<Hit>,
    /// (path, idempotency key) of every accepted request: receivers on different paths
    /// are different receivers.
    accepted_keys: HashSet<(String, String)>,
    policy: Policy,
    /// Requests that could not be parsed (answered 400): a harness or client bug.
    malformed: Vec<String>,
}

/// A running receiver; it stops when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("addr", &self.addr)
            .field("requests", &lock(&self.state).hits.len())
            .finish()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking policy leaves plain bookkeeping behind; keep it readable.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl WebhookReceiver {
    /// A receiver on `127.0.0.1:0` that answers every request with `policy`'s verdict.
    pub fn start(policy: impl FnMut(&Incoming<'_>) -> Reply + Send + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("it-webhook")
            .enable_all()
            .build()
            .expect("start the webhook receiver's runtime");
        let listener = runtime
            .block_on(TcpListener::bind(("127.0.0.1", 0)))
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        let state = Arc::new(Mutex::new(State {
            hits: Vec::new(),
            accepted_keys: HashSet::new(),
            policy: Box::new(policy),
            malformed: Vec::new(),
        }));
        runtime.spawn(accept_loop(listener, state.clone()));
        Self {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// A receiver that accepts everything.
    pub fn accepting() -> Self {
        Self::start(|_| Reply::Accept)
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.state).hits.clone()
    }

    /// Requests that did not parse as HTTP/1.1 (answered 400).
    pub fn malformed(&self) -> Vec<String> {
        lock(&self.state).malformed.clone()
    }

    /// Polls the recorded requests until `done` holds; panics after `timeout` with `what`
    /// and a summary of what arrived.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&[Hit]) -> bool,
    ) -> Vec<Hit> {
        let got = wait::poll(timeout, || {
            let state = lock(&self.state);
            done(&state.hits).then(|| state.hits.clone())
        });
        got.unwrap_or_else(|| {
            let hits = self.hits();
            let accepted = hits.iter().filter(|h| h.is_delivery()).count();
            panic!(
                "webhook receiver: not {what} within {timeout:?}; {} requests, {accepted} \
                 deliveries; last keys: {:?}",
                hits.len(),
                hits.iter()
                    .rev()
                    .take(10)
                    .map(|h| (h.idempotency_key().unwrap_or("-").to_owned(), h.reply))
                    .collect::<Vec<_>>()
            )
        })
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`, computed here independently of the engine.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, state.clone()));
            }
            // Out of descriptors or similar: keep serving what is open.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A request as read off the wire.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut stream = BufReader::new(stream);
    loop {
        let request = match read_request(&mut stream).await {
            Ok(Some(r)) => r,
            // The client closed the connection between requests.
            Ok(None) => return,
            Err(e) => {
                lock(&state).malformed.push(e.to_string());
                let _ = respond(stream.get_mut(), 400, None, true).await;
                return;
            }
        };
        let close = request
            .headers
            .iter()
            .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close"));
        let reply = decide(&state, request);
        let written = match reply {
            // Dropping the stream closes the connection with no response byte sent.
            Reply::Drop => return,
            Reply::Accept => respond(stream.get_mut(), 200, None, close).await,
            Reply::Refuse {
                status,
                retry_after,
            } => respond(stream.get_mut(), status, retry_after, close).await,
        };
        if written.is_err() || close {
            return;
        }
    }
}

/// Asks the policy, records the request with its answer, and returns the answer.
fn decide(state: &Mutex<State>, request: Request) -> Reply {
    let mut state = lock(state);
    let seq = state.hits.len();
    let key = request
        .headers
        .iter()
        .find(|(n, _)| n == "idempotency-key")
        .map(|(_, v)| v.clone());
    let seen = key.as_ref().map(|k| (request.path.clone(), k.clone()));
    let repeat = seen
        .as_ref()
        .is_some_and(|k| state.accepted_keys.contains(k));
    let reply = (state.policy)(&Incoming {
        seq,
        path: &request.path,
        idempotency_key: key.as_deref(),
        repeat,
    });
    if reply.is_accept()
        && let Some(k) = seen
    {
        state.accepted_keys.insert(k);
    }
    state.hits.push(Hit {
        seq,
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.body,
        reply,
        repeat,
    });
    reply
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    retry_after: Option<u64>,
    close: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let body = if status == 200 { "ok" } else { reason };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("retry-after: {s}\r\n"));
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads one request; `None` if the connection closed before its first byte.
async fn read_request(stream: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("bad request line {line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("not HTTP/1.x: {line:?}")));
    }
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed inside the headers".into()));
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {h:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    line.clear();
                    if stream.read_line(&mut line).await? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            stream.read_exact(&mut body[start..]).await?;
            line.clear();
            stream.read_line(&mut line).await?;
        }
    } else if let Some(n) = header("content-length") {
        let n: usize = n
            .parse()
            .map_err(|_| bad(format!("bad content-length {n:?}")))?;
        body.resize(n, 0);
        stream.read_exact(&mut body).await?;
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_test_case_2() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
