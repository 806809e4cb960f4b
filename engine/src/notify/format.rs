//! The four payload formats, rendered from one `IncidentUpdate`.
//!
//! - **Native** ([`native`]): the update exactly as serde serializes it, with a top-level
//!   `"version": "1"` first so consumers can branch on the layout. Also the Kafka record.
//! - **Alertmanager webhook v4** ([`alertmanager`]): one group per incident holding one alert.
//!   `groupKey` is `{}:{incident_id="<id>"}`; labels `alertname="FaultlineIncident"`,
//!   `incident_id`, `severity` and `root_cause` (the top candidate, when there is one); the
//!   fingerprint hashes the incident id only, so it is stable while the ranking changes.
//! - **PagerDuty Events API v2** ([`pagerduty`]): `trigger` for open revisions with
//!   `dedup_key` = incident id, `resolve` (routing key, action, dedup key only) on resolution.
//! - **Slack incoming webhook** ([`slack`]): `text` (the notification fallback) and `blocks`.
//!
//! Times are RFC 3339 UTC with milliseconds; links are `<external_url>/incidents/<id>`.

use faultline_correlator::{IncidentUpdate, Severity, Status};
use serde_json::{Map, Value, json};

use super::{ReceiverConfig, ReceiverKind};

/// Alertmanager's "not ended" time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// PagerDuty's limit on `payload.summary`, in characters.
pub const PAGERDUTY_SUMMARY_MAX: usize = 1024;
/// `alertname` of the Alertmanager alert.
pub const ALERT_NAME: &str = "FaultlineIncident";
/// Candidates listed in human-readable texts.
const TOP: usize = 3;

/// The request body `spec` receives for `update`.
pub fn render(
    spec: &ReceiverConfig,
    update: &IncidentUpdate,
) -> Result<Vec<u8>, serde_json::Error> {
    let external = spec.external_url.as_deref();
    let value = match &spec.kind {
        ReceiverKind::Native | ReceiverKind::Kafka { .. } => return native(update),
        ReceiverKind::Alertmanager => alertmanager(update, &spec.name, external),
        ReceiverKind::PagerDuty { routing_key } => pagerduty(update, routing_key, external),
        ReceiverKind::Slack => slack(update, external),
    };
    serde_json::to_vec(&value)
}

/// The native JSON body.
pub fn native(update: &IncidentUpdate) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Map::new();
    out.insert("version".into(), "1".into());
    if let Value::Object(fields) = serde_json::to_value(update)? {
        out.extend(fields);
    }
    serde_json::to_vec(&Value::Object(out))
}

/// RFC 3339 UTC with milliseconds; out-of-range times clamp to the epoch.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn link(external_url: Option<&str>, incident_id: &str) -> Option<String> {
    external_url.map(|u| format!("{}/incidents/{incident_id}", u.trim_end_matches('/')))
}

fn root_cause(update: &IncidentUpdate) -> Option<&str> {
    update.candidates.first().map(|c| c.entity.as_str())
}

fn status_str(status: Status) -> &'static str {
    match status {
        Status::Open => "firing",
        Status::Resolved => "resolved",
    }
}

fn candidates_line(update: &IncidentUpdate) -> String {
    if update.candidates.is_empty() {
        return "no root-cause candidate ranked".into();
    }
    let list: Vec<String> = update
        .candidates
        .iter()
        .take(TOP)
        .map(|c| format!("{}. {} ({:.2})", c.rank, c.entity, c.score))
        .collect();
    format!("Root-cause candidates: {}", list.join(", "))
}

/// Alertmanager webhook payload, version 4.
pub fn alertmanager(update: &IncidentUpdate, receiver: &str, external_url: Option<&str>) -> Value {
    let mut labels = Map::new();
    labels.insert("alertname".into(), ALERT_NAME.into());
    labels.insert("incident_id".into(), update.incident_id.clone().into());
    labels.insert("severity".into(), update.severity.as_str().into());
    if let Some(rc) = root_cause(update) {
        labels.insert("root_cause".into(), rc.into());
    }
    let description = format!(
        "{}. Entities: {}. {} member anomalies, revision {}.",
        candidates_line(update),
        update.entities.join(", "),
        update.member_count,
        update.revision
    );
    let annotations = json!({
        "summary": update.title,
        "description": description,
    });
    let status = status_str(update.status);
    let ends_at = match (update.status, update.resolved_at) {
        (Status::Resolved, Some(t)) => rfc3339(t),
        (Status::Resolved, None) => rfc3339(update.updated_at),
        (Status::Open, _) => ZERO_TIME.into(),
    };
    let fingerprint = format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(update.incident_id.as_bytes())
    );
    let alert = json!({
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(update.opened_at),
        "endsAt": ends_at,
        "generatorURL": link(external_url, &update.incident_id).unwrap_or_default(),
        "fingerprint": fingerprint,
    });
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{incident_id=\"{}\"}}", update.incident_id),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": { "incident_id": update.incident_id },
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url.unwrap_or_default(),
        "alerts": [alert],
    })
}

fn pagerduty_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// PagerDuty Events API v2 `enqueue` body.
pub fn pagerduty(update: &IncidentUpdate, routing_key: &str, external_url: Option<&str>) -> Value {
    if update.status == Status::Resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": update.incident_id,
        });
    }
    let rc = root_cause(update);
    let class = rc
        .and_then(|e| update.members.iter().find(|m| *m.entity == *e))
        .map_or("incident", |m| &*m.rule);
    let candidates: Vec<Value> = update
        .candidates
        .iter()
        .map(
            |c| json!({ "rank": c.rank, "entity": c.entity, "score": c.score, "series": c.series }),
        )
        .collect();
    let changes: Vec<Value> = update
        .changes
        .iter()
        .map(|c| json!({ "entity": c.entity, "kind": c.kind, "summary": c.summary, "at": rfc3339(c.at) }))
        .collect();
    let mut payload = Map::new();
    payload.insert(
        "summary".into(),
        truncate_chars(&update.title, PAGERDUTY_SUMMARY_MAX).into(),
    );
    payload.insert("source".into(), rc.unwrap_or("faultline").into());
    payload.insert(
        "severity".into(),
        pagerduty_severity(update.severity).into(),
    );
    payload.insert("timestamp".into(), rfc3339(update.updated_at).into());
    if let Some(rc) = rc {
        payload.insert("component".into(), rc.into());
    }
    payload.insert("group".into(), "faultline".into());
    payload.insert("class".into(), class.into());
    payload.insert(
        "custom_details".into(),
        json!({
            "incident_id": update.incident_id,
            "revision": update.revision,
            "transition": update.transition,
            "opened_at": rfc3339(update.opened_at),
            "member_count": update.member_count,
            "entities": update.entities,
            "candidates": candidates,
            "changes": changes,
            "reopened": update.reopened,
        }),
    );
    let mut body = Map::new();
    body.insert("routing_key".into(), routing_key.into());
    body.insert("event_action".into(), "trigger".into());
    body.insert("dedup_key".into(), update.incident_id.clone().into());
    body.insert("payload".into(), Value::Object(payload));
    body.insert("client".into(), "Faultline".into());
    if let Some(href) = link(external_url, &update.incident_id) {
        body.insert("client_url".into(), href.clone().into());
        body.insert(
            "links".into(),
            json!([{ "href": href, "text": "Faultline incident" }]),
        );
    }
    Value::Object(body)
}

/// Escapes the three characters Slack's mrkdwn reserves.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack incoming-webhook message.
pub fn slack(update: &IncidentUpdate, external_url: Option<&str>) -> Value {
    let head = match update.status {
        Status::Open => format!("[FIRING:{}]", update.severity.as_str()),
        Status::Resolved => "[RESOLVED]".to_owned(),
    };
    let title = slack_escape(&update.title);
    let text = format!("{head} {title}");
    let mut body = format!("*{head} {title}*");
    if update.candidates.is_empty() {
        body.push_str("\nNo root-cause candidate ranked.");
    } else {
        body.push_str("\nTop root-cause candidates:");
        for c in update.candidates.iter().take(TOP) {
            body.push_str(&format!(
                "\n{}. `{}` (score {:.2})",
                c.rank,
                slack_escape(&c.entity),
                c.score
            ));
        }
    }
    let mut context = format!(
        "incident `{}` · revision {} · {} member anomalies",
        update.incident_id, update.revision, update.member_count
    );
    if let Some(href) = link(external_url, &update.incident_id) {
        context.push_str(&format!(" · <{href}|open in Faultline>"));
    }
    json!({
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": body } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context } ] },
        ],
    })
}
