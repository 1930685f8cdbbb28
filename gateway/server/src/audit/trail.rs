//! What one request leaves for the trail while it runs: one entry per
//! record (a /Bulk request has one per operation), the upstream calls it
//! made and what the backend answered. The pipeline's phases add to it
//! through the request's exchange; the request's end turns it into records.

use super::changes::{ChangeLog, Stage, Values};
use super::record::{BulkRef, Calls, Record, new_id};
use serde_json::Value;
use std::sync::Mutex;
use tokio::sync::OwnedSemaphorePermit;

/// One write being recorded.
#[derive(Debug, Default)]
pub struct Entry {
    pub method: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub external_id: Option<String>,
    pub subject: Option<String>,
    pub deprovisioning: bool,
    pub bulk: Option<BulkRef>,
    /// A /Bulk operation's own status, once known.
    pub status: Option<u16>,
    /// On a shadow route: why the mapping would have refused the write.
    pub shadow_error: Option<String>,
    pub log: ChangeLog,
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<Entry>,
    calls: Calls,
    backend: Vec<u16>,
    room: Option<OwnedSemaphorePermit>,
    /// `shadow` when the changes were only computed.
    shadow: bool,
}

/// A request's trail, shared by its phases.
#[derive(Debug)]
pub struct Trail {
    values: Values,
    inner: Mutex<Inner>,
}

/// What the request's end knows: filled into every record.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    pub route: &'a str,
    pub replica: &'a str,
    pub token: &'a str,
    pub preset: &'a str,
    pub mapping_version: &'a str,
    pub status: u16,
    pub fault: Option<&'a str>,
    pub error: Option<&'a str>,
    pub scim_type: Option<String>,
    pub duration_ms: f64,
    /// The answer's body, for the id, subject and externalId of a create.
    pub body: Option<&'a Value>,
}

impl Trail {
    pub fn new(values: Values) -> Self {
        Self { values, inner: Mutex::new(Inner::default()) }
    }

    /// The route's mode: a shadow route's records say so.
    pub fn set_mode(&self, mode: crate::config::RouteMode) {
        self.with(|i| i.shadow = mode == crate::config::RouteMode::Shadow);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// Starts the record of a write (the next entry of a /Bulk request).
    pub fn begin(&self, method: &str, resource_type: &str, resource_id: Option<&str>, bulk: Option<BulkRef>) {
        let entry = Entry {
            method: method.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.map(str::to_owned),
            bulk,
            log: ChangeLog::new(self.values),
            ..Entry::default()
        };
        self.with(|i| i.entries.push(entry));
    }

    /// Whether a write is being recorded.
    pub fn recording(&self) -> bool {
        self.with(|i| !i.entries.is_empty())
    }

    /// Whether change lists are kept (worth a copy of a document).
    pub fn keeps_changes(&self) -> bool {
        self.values != Values::None
    }

    /// Works on the current entry.
    pub fn entry(&self, f: impl FnOnce(&mut Entry)) {
        self.with(|i| {
            if let Some(e) = i.entries.last_mut() {
                f(e);
            }
        });
    }

    /// The /Bulk operations' own statuses, in order.
    pub fn statuses(&self, statuses: impl Iterator<Item = Option<u16>>) {
        self.with(|i| {
            for (e, s) in i.entries.iter_mut().zip(statuses) {
                e.status = s;
            }
        });
    }

    /// Records what the IdP sent: its paths, subject and externalId.
    pub fn sent(&self, rt: &str, doc: &Value) {
        self.entry(|e| {
            e.log.requested(doc);
            identify(e, rt, doc);
        });
    }

    /// Records a stage's changes to the current entry.
    pub fn stage(&self, stage: Stage, before: &Value, after: &Value, author: &dyn Fn(&str) -> String) {
        self.entry(|e| e.log.stage(stage, before, after, author));
    }

    /// Counts an upstream call and what the backend answered.
    pub fn call(&self, purpose: &str, status: Option<u16>, forward: bool) {
        self.with(|i| {
            match purpose {
                "forward" => i.calls.forward += 1,
                "current_read" => i.calls.current_read += 1,
                "lookup" => i.calls.lookup += 1,
                _ => i.calls.page += 1,
            }
            if let (Some(s), true) = (status, forward) {
                i.backend.push(s);
            }
        });
    }

    /// Keeps the queue room taken for this request's records.
    pub fn hold(&self, room: Option<OwnedSemaphorePermit>) {
        self.with(|i| i.room = room);
    }

    /// The records, and the room held for them; none when nothing was
    /// recorded (reads, refused tokens).
    pub fn finish(&self, o: &Outcome<'_>) -> (Vec<Record>, Option<OwnedSemaphorePermit>) {
        let inner = self.with(std::mem::take);
        let single = inner.entries.len() == 1;
        let records = inner
            .entries
            .into_iter()
            .map(|mut e| {
                if let (true, Some(body)) = (single && o.status < 300, o.body) {
                    let rt = e.resource_type.clone();
                    identify(&mut e, &rt, body);
                }
                record(e, o, inner.calls, &inner.backend, if inner.shadow { "shadow" } else { "enforce" })
            })
            .collect();
        (records, inner.room)
    }
}

/// Fills the subject, externalId and id a document holds, where unknown.
fn identify(e: &mut Entry, rt: &str, doc: &Value) {
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    let subject = if rt == "Group" { "displayName" } else { "userName" };
    e.subject = e.subject.take().or_else(|| text(subject));
    e.external_id = e.external_id.take().or_else(|| text("externalId"));
    e.resource_id = e.resource_id.take().or_else(|| text("id"));
}

fn record(e: Entry, o: &Outcome<'_>, calls: Calls, backend: &[u16], mode: &str) -> Record {
    let (id, at_ms, time) = new_id();
    let status = e.status.unwrap_or(o.status);
    let failed = status >= 400;
    Record {
        id,
        time,
        at_ms,
        request_id: o.request_id.to_owned(),
        trace_id: o.trace_id.map(str::to_owned),
        route: o.route.to_owned(),
        replica: o.replica.to_owned(),
        token: o.token.to_owned(),
        preset: o.preset.to_owned(),
        mode: mode.to_owned(),
        method: e.method,
        resource_type: e.resource_type,
        resource_id: e.resource_id,
        external_id: e.external_id,
        subject: e.subject,
        deprovisioning: e.deprovisioning,
        status,
        backend_statuses: backend.to_vec(),
        fault: match (e.status, failed) {
            (_, false) => None,
            // A /Bulk operation the backend (or the gateway) refused alone.
            (Some(s), true) => Some(if s >= 500 { "upstream" } else { "client" }.to_owned()),
            (None, true) => o.fault.map(str::to_owned),
        },
        scim_type: o.scim_type.clone().filter(|_| failed && e.status.is_none()),
        error: o.error.filter(|_| failed).map(str::to_owned),
        shadow_error: e.shadow_error,
        duration_ms: o.duration_ms,
        mapping_version: o.mapping_version.to_owned(),
        calls,
        bulk: e.bulk,
        requested: e.log.requested,
        changes: e.log.changes,
    }
}
