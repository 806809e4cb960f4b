//! The incident side of the file: `correlator:`, `topology:` and `receivers:` — their format
//! (the `///` docs are the user reference) and their checks.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use faultline_correlator::{EdgeKind, NodeKind, Settings};
use serde::Deserialize;

use crate::compile::duration;
use crate::config::{
    DEFAULT_MAX_BACKOFF, DEFAULT_RECEIVER_TIMEOUT, PAGERDUTY_URL, ReceiverConfig, ReceiverKind,
    ReceiverType, Severity, TopologyConfig, header_problem, http_url_problem,
};
use crate::diagnostics::{Loc, Located, Report};

/// `correlator:` — every key optional.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct CorrelatorSection {
    /// An anomaly joins an incident whose latest member is at most this far from it in
    /// event time (and close on the graph, `max_hops`). Default `5m`.
    pub window: Option<Located<String>>,
    /// Hops on the topology (either direction) within which anomalies group. Default 2.
    pub max_hops: Option<Located<u32>>,
    /// The first notification of a new incident waits this long after its first anomaly,
    /// to collect the other symptoms and rank with them. Default `30s`.
    pub group_wait: Option<Located<String>>,
    /// At most one update per incident per this much event time. Default `1m`.
    pub group_interval: Option<Located<String>>,
    /// An incident with no new anomaly for this long resolves. Default `5m`.
    pub quiet_period: Option<Located<String>>,
    /// A recurrence within this long after resolution reopens the same incident. Default
    /// `30m`.
    pub reopen_window: Option<Located<String>>,
    /// After this many reopenings an incident is flapping: it stops notifying resolve and
    /// reopen, and resolves only after `quiet_period × flap_quiet_factor`. Default 3.
    pub flap_limit: Option<Located<u32>>,
    /// See `flap_limit`. At least 1. Default 4.
    pub flap_quiet_factor: Option<Located<u32>>,
    /// Change events (deploys, config changes) this long before an incident's onset, or
    /// during it, attach to it as evidence. Default `30m`.
    pub change_lookback: Option<Located<String>>,
    /// Member anomalies kept per incident (the strongest; all are counted). Default 200.
    pub max_members: Option<Located<usize>>,
    /// Open incidents kept at most; beyond it the oldest is resolved. Default 10000.
    pub max_open_incidents: Option<Located<usize>>,
}

/// `topology:`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct TopologySection {
    /// Nodes: `{name: checkout, kind: service}`. Nodes named only by an edge are services
    /// (or hosts, as the target of `runs_on`).
    pub nodes: Option<Vec<NodeModel>>,
    /// Edges: `{from: frontend, to: checkout, kind: calls}`.
    pub edges: Option<Vec<EdgeModel>>,
}

/// A topology node.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct NodeModel {
    /// The entity name anomalies carry (the value of a rule's entity label). Required.
    pub name: Located<String>,
    /// `service`, `host`, `pod` or `resource` (a database, queue, ...). Default `service`.
    pub kind: Option<NodeKindModel>,
}

/// Kind of a topology node.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NodeKindModel {
    /// A service.
    Service,
    /// A host or Kubernetes node.
    Host,
    /// A pod or container.
    Pod,
    /// A database, queue or other dependency.
    Resource,
}

/// A topology edge.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct EdgeModel {
    /// Source node. Required.
    pub from: Located<String>,
    /// Target node. Required.
    pub to: Located<String>,
    /// `calls` (`from` depends on `to`) or `runs_on` (`from` runs on host `to`). Default
    /// `calls`.
    pub kind: Option<EdgeKindModel>,
}

/// Kind of a topology edge.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EdgeKindModel {
    /// A dependency: `from` calls `to`.
    Calls,
    /// `from` runs on host `to`.
    RunsOn,
}

/// One receiver of incident updates.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct ReceiverModel {
    /// Names the receiver in logs and metrics. Required; unique.
    pub name: Located<String>,
    /// Payload format: `native`, `alertmanager`, `pagerduty` or `slack`. Required.
    #[serde(rename = "type")]
    pub kind: ReceiverType,
    /// Where updates are POSTed (`http://` or `https://`). Required, except for
    /// `pagerduty`, which defaults to `https://events.pagerduty.com/v2/enqueue`.
    pub url: Option<Located<String>>,
    /// Key of the `X-Faultline-Signature: sha256=<hex>` HMAC-SHA256 header over the body.
    /// Prefer `secret_env`.
    pub secret: Option<Located<String>>,
    /// Name of an environment variable holding the signing secret.
    pub secret_env: Option<Located<String>>,
    /// PagerDuty integration (routing) key; required for `pagerduty` unless
    /// `routing_key_env` is set.
    pub routing_key: Option<Located<String>>,
    /// Name of an environment variable holding the PagerDuty routing key.
    pub routing_key_env: Option<Located<String>>,
    /// Per-request timeout. Default `10s`.
    pub timeout: Option<Located<String>>,
    /// Retries back off exponentially from 500ms up to this. Default `5m`.
    pub max_backoff: Option<Located<String>>,
    /// Incidents below this severity are not sent here. Default `info` (all).
    pub min_severity: Option<Severity>,
    /// Extra HTTP headers, e.g. `Authorization`.
    pub headers: Option<BTreeMap<String, Located<String>>>,
    /// Base URL of this Faultline for links in payloads (Alertmanager `externalURL`).
    pub external_url: Option<Located<String>>,
}

fn dur(w: Option<Located<String>>, default: Duration, what: &str, r: &mut Report<'_>) -> i64 {
    let d = match w {
        None => default,
        Some(w) => {
            let d = duration(&w, what, r).unwrap_or(default);
            if d.is_zero() {
                r.error(w.at, format!("`{what}` must be more than 0s"), None);
            }
            d
        }
    };
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn at_least<T: PartialOrd + Copy + std::fmt::Display>(
    w: Option<Located<T>>,
    default: T,
    min: T,
    what: &str,
    r: &mut Report<'_>,
) -> T {
    match w {
        None => default,
        Some(w) if w.value < min => {
            r.error(w.at, format!("`{what}` must be at least {min}"), None);
            default
        }
        Some(w) => w.value,
    }
}

pub(crate) fn correlator(section: Option<CorrelatorSection>, r: &mut Report<'_>) -> Settings {
    let s = section.unwrap_or_default();
    let d = Settings::default();
    let ms = |m: i64| Duration::from_millis(m as u64);
    Settings {
        window: dur(s.window, ms(d.window), "correlator.window", r),
        max_hops: at_least(s.max_hops, d.max_hops, 0, "correlator.max_hops", r),
        group_wait: match s.group_wait {
            // Zero is allowed here: notify on the first anomaly.
            Some(w) => duration(&w, "correlator.group_wait", r)
                .map_or(d.group_wait, |x| x.as_millis() as i64),
            None => d.group_wait,
        },
        group_interval: dur(
            s.group_interval,
            ms(d.group_interval),
            "correlator.group_interval",
            r,
        ),
        quiet_period: dur(
            s.quiet_period,
            ms(d.quiet_period),
            "correlator.quiet_period",
            r,
        ),
        reopen_window: dur(
            s.reopen_window,
            ms(d.reopen_window),
            "correlator.reopen_window",
            r,
        ),
        flap_limit: at_least(s.flap_limit, d.flap_limit, 1, "correlator.flap_limit", r),
        flap_quiet_factor: at_least(
            s.flap_quiet_factor,
            d.flap_quiet_factor,
            1,
            "correlator.flap_quiet_factor",
            r,
        ),
        change_lookback: dur(
            s.change_lookback,
            ms(d.change_lookback),
            "correlator.change_lookback",
            r,
        ),
        max_members: at_least(s.max_members, d.max_members, 1, "correlator.max_members", r),
        max_open: at_least(
            s.max_open_incidents,
            d.max_open,
            1,
            "correlator.max_open_incidents",
            r,
        ),
        ..d
    }
}

pub(crate) fn topology(section: Option<TopologySection>, r: &mut Report<'_>) -> TopologyConfig {
    let s = section.unwrap_or_default();
    let mut seen: HashMap<String, Loc> = HashMap::new();
    let mut nodes = Vec::new();
    for n in s.nodes.unwrap_or_default() {
        if n.name.value.trim().is_empty() {
            r.error(n.name.at, "node name is empty", None);
            continue;
        }
        if let Some(first) = seen.insert(n.name.value.clone(), n.name.at) {
            let msg = format!("node `{}` is declared twice", n.name.value);
            r.error(n.name.at, msg, Some(format!("first declared at {first}")));
            continue;
        }
        let kind = match n.kind.unwrap_or(NodeKindModel::Service) {
            NodeKindModel::Service => NodeKind::Service,
            NodeKindModel::Host => NodeKind::Host,
            NodeKindModel::Pod => NodeKind::Pod,
            NodeKindModel::Resource => NodeKind::Resource,
        };
        nodes.push((n.name.value, kind));
    }
    let mut edges = Vec::new();
    for e in s.edges.unwrap_or_default() {
        let mut ok = true;
        for end in [&e.from, &e.to] {
            if end.value.trim().is_empty() {
                r.error(end.at, "edge end is empty", None);
                ok = false;
            }
        }
        if ok && e.from.value == e.to.value {
            let msg = format!("edge from `{}` to itself", e.from.value);
            r.error(e.to.at, msg, None);
            ok = false;
        }
        let kind = match e.kind.unwrap_or(EdgeKindModel::Calls) {
            EdgeKindModel::Calls => EdgeKind::Calls,
            EdgeKindModel::RunsOn => EdgeKind::RunsOn,
        };
        if ok {
            edges.push((e.from.value, e.to.value, kind));
        }
    }
    TopologyConfig { nodes, edges }
}

/// The name the incidents topic is delivered under (metrics, outbox keys).
pub const KAFKA_RECEIVER: &str = "kafka";

/// `value` or the environment variable `env` names.
fn secret(
    value: Option<Located<String>>,
    env: Option<Located<String>>,
    what: &str,
    r: &mut Report<'_>,
) -> Option<String> {
    match (value, env) {
        (Some(_), Some(e)) => {
            let msg = format!("set either `{what}` or `{what}_env`, not both");
            r.error(e.at, msg, None);
            None
        }
        (Some(v), None) => {
            if v.value.is_empty() {
                r.error(v.at, format!("`{what}` is empty"), None);
            }
            Some(v.value)
        }
        (None, Some(e)) => match std::env::var(&e.value) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => {
                let msg = format!("environment variable `{}` is not set", e.value);
                r.error(e.at, msg, Some(format!("`{what}_env` names the variable")));
                None
            }
        },
        (None, None) => None,
    }
}

fn http_url(w: &Located<String>, what: &str, r: &mut Report<'_>) {
    if let Some(p) = http_url_problem(w.value.trim()) {
        r.error(
            w.at,
            format!("`{what}`: {p}"),
            Some("e.g. `https://hooks.example.com/faultline`".into()),
        );
    }
}

pub(crate) fn receivers(
    list: Option<Located<Vec<ReceiverModel>>>,
    r: &mut Report<'_>,
) -> Vec<ReceiverConfig> {
    let mut seen: HashMap<String, Loc> = HashMap::new();
    let mut out = Vec::new();
    for m in list.map(|l| l.value).unwrap_or_default() {
        if m.name.value.trim().is_empty() {
            r.error(m.name.at, "receiver name is empty", None);
        } else if m.name.value == KAFKA_RECEIVER {
            let hint = "the incidents topic (`kafka.incidents_topic`) is delivered under that name";
            r.error(
                m.name.at,
                "receiver name `kafka` is reserved",
                Some(hint.into()),
            );
        } else if let Some(first) = seen.insert(m.name.value.clone(), m.name.at) {
            let msg = format!("receiver `{}` is listed twice", m.name.value);
            r.error(m.name.at, msg, Some(format!("first listed at {first}")));
        }
        let url = match (&m.url, m.kind) {
            (Some(u), _) => {
                http_url(u, "url", r);
                u.value.trim().to_owned()
            }
            (None, ReceiverType::Pagerduty) => PAGERDUTY_URL.to_owned(),
            (None, _) => {
                let msg = format!("receiver `{}` needs a `url`", m.name.value);
                r.error(m.name.at, msg, None);
                String::new()
            }
        };
        let routing_key = secret(m.routing_key, m.routing_key_env, "routing_key", r);
        if m.kind == ReceiverType::Pagerduty && routing_key.is_none() {
            let msg = format!(
                "pagerduty receiver `{}` needs a `routing_key`",
                m.name.value
            );
            let hint = "the integration key of a PagerDuty Events API v2 integration";
            r.error(m.name.at, msg, Some(hint.into()));
        }
        if let Some(e) = &m.external_url {
            http_url(e, "external_url", r);
        }
        let mut headers = Vec::new();
        for (name, value) in m.headers.unwrap_or_default() {
            if let Some(p) = header_problem(&name, &value.value) {
                r.error(value.at, format!("`headers`: {p}"), None);
            }
            headers.push((name, value.value));
        }
        let kind = match m.kind {
            ReceiverType::Native => ReceiverKind::Native,
            ReceiverType::Alertmanager => ReceiverKind::Alertmanager,
            ReceiverType::Pagerduty => ReceiverKind::PagerDuty {
                routing_key: routing_key.unwrap_or_default(),
            },
            ReceiverType::Slack => ReceiverKind::Slack,
        };
        let ms = |x: i64| Duration::from_millis(x as u64);
        out.push(ReceiverConfig {
            secret: secret(m.secret, m.secret_env, "secret", r),
            timeout: ms(dur(m.timeout, DEFAULT_RECEIVER_TIMEOUT, "timeout", r)),
            max_backoff: ms(dur(m.max_backoff, DEFAULT_MAX_BACKOFF, "max_backoff", r)),
            min_severity: m.min_severity.unwrap_or(Severity::Info),
            headers,
            external_url: m.external_url.map(|e| e.value.trim().to_owned()),
            name: m.name.value,
            kind,
            url: Some(url),
        });
    }
    out
}
