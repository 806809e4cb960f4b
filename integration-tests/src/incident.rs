//! Incident updates as the engine delivers them in its native JSON (webhook body and
//! incidents-topic record alike), parsed and checked against the contract.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::anomaly::rfc3339_millis;
use crate::broker::Broker;
use crate::consume::read_all;

/// One native incident update, its fields checked for shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The exact payload text.
    pub raw: String,
    /// `incident_id`.
    pub incident_id: String,
    /// `revision`: 1, 2, ...
    pub revision: u32,
    /// `status`: `open` or `resolved`.
    pub status: String,
    /// `transition`: `opened`, `updated`, `resolved` or `reopened`.
    pub transition: String,
    /// `title`.
    pub title: String,
    /// `severity`: `info`, `warning` or `critical`.
    pub severity: String,
    /// `opened_at` (event time, ms).
    pub opened_at: i64,
    /// `updated_at` (event time, ms).
    pub updated_at: i64,
    /// `resolved_at`, when resolved.
    pub resolved_at: Option<i64>,
    /// `entities`.
    pub entities: Vec<String>,
    /// `candidates[0].entity`, if ranked.
    pub top_candidate: Option<String>,
    /// `member_count`.
    pub member_count: u64,
}

impl Update {
    /// Parses one native update; the error names the wrong field and shows the payload.
    pub fn parse(payload: &[u8]) -> Result<Self, String> {
        let raw = String::from_utf8_lossy(payload).into_owned();
        let fail = |what: &str| format!("{what} in incident update {raw}");
        let v: Value = serde_json::from_str(&raw).map_err(|e| fail(&format!("bad JSON ({e})")))?;
        let s = |k: &str| -> Result<String, String> {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| fail(&format!("no string `{k}`")))
        };
        let i = |k: &str| -> Result<i64, String> {
            v.get(k)
                .and_then(Value::as_i64)
                .ok_or_else(|| fail(&format!("no integer `{k}`")))
        };
        if v.get("version").and_then(Value::as_str) != Some("1") {
            return Err(fail("`version` is not \"1\""));
        }
        let revision = v
            .get("revision")
            .and_then(Value::as_u64)
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| *r >= 1)
            .ok_or_else(|| fail("`revision` is not a positive integer"))?;
        let strings = |k: &str| -> Result<Vec<String>, String> {
            v.get(k)
                .and_then(Value::as_array)
                .ok_or_else(|| fail(&format!("no array `{k}`")))?
                .iter()
                .map(|e| e.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| fail(&format!("`{k}` holds a non-string")))
        };
        let u = Update {
            incident_id: s("incident_id")?,
            revision,
            status: s("status")?,
            transition: s("transition")?,
            title: s("title")?,
            severity: s("severity")?,
            opened_at: i("opened_at")?,
            updated_at: i("updated_at")?,
            resolved_at: v.get("resolved_at").and_then(Value::as_i64),
            entities: strings("entities")?,
            top_candidate: v
                .get("candidates")
                .and_then(Value::as_array)
                .ok_or_else(|| fail("no array `candidates`"))?
                .first()
                .and_then(|c| c.get("entity"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            member_count: v
                .get("member_count")
                .and_then(Value::as_u64)
                .ok_or_else(|| fail("no integer `member_count`"))?,
            raw: raw.clone(),
        };
        if u.incident_id.is_empty() || !u.incident_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("`incident_id` is not hex"));
        }
        let transitions = ["opened", "updated", "resolved", "reopened"];
        match (u.status.as_str(), u.transition.as_str()) {
            ("resolved", "resolved") if u.resolved_at.is_some() => {}
            ("open", t) if t != "resolved" && transitions.contains(&t) => {}
            _ => return Err(fail("status, transition and resolved_at disagree")),
        }
        if (u.transition == "opened") != (u.revision == 1) {
            return Err(fail("`opened` is not exactly revision 1"));
        }
        if !["info", "warning", "critical"].contains(&u.severity.as_str()) {
            return Err(fail("unknown `severity`"));
        }
        if u.updated_at < u.opened_at {
            return Err(fail("`updated_at` before `opened_at`"));
        }
        if u.entities.is_empty() || u.member_count == 0 {
            return Err(fail("no entity or no member"));
        }
        Ok(u)
    }

    /// `incident_id:revision`, the idempotency key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.incident_id, self.revision)
    }
}

/// Every update on an incidents `topic` up to its current end, parsed; panics on a
/// malformed one.
pub fn read_updates(broker: &Broker, topic: &str, timeout: std::time::Duration) -> Vec<Update> {
    read_all(broker, topic, timeout)
        .iter()
        .map(|r| {
            Update::parse(r.payload.as_deref().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Checks that, per incident, `keys` (idempotency keys in arrival order) run 1, 2, 3, ...
/// with no gap, repeat or reordering. Returns the revisions seen per incident.
pub fn revisions_in_order<'a>(
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, u32>, String> {
    let mut last: BTreeMap<String, u32> = BTreeMap::new();
    for key in keys {
        let (id, rev) = key
            .rsplit_once(':')
            .and_then(|(id, r)| Some((id, r.parse::<u32>().ok()?)))
            .ok_or_else(|| format!("idempotency key {key:?} is not <incident_id>:<revision>"))?;
        let prev = last.get(id).copied().unwrap_or(0);
        if rev != prev + 1 {
            return Err(format!(
                "incident {id}: revision {rev} arrived after revision {prev} (expected {})",
                prev + 1
            ));
        }
        last.insert(id.to_owned(), rev);
    }
    Ok(last)
}

/// Whether `t` is an RFC 3339 time equal to `ms`.
pub fn is_rfc3339_at(t: &str, ms: i64) -> bool {
    rfc3339_millis(t) == Some(ms)
}
