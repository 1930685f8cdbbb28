//! One audit record: a provisioning write, who sent it, what the gateway
//! did with it and how it ended.

use super::changes::Change;
use serde::{Deserialize, Serialize};

/// The upstream calls a write made, by purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    pub forward: u32,
    pub current_read: u32,
    pub lookup: u32,
    pub page: u32,
}

/// A record of one provisioning write (a request, or one operation of a
/// /Bulk request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Time-ordered (UUIDv7): sorting by id sorts by time.
    pub id: String,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// Milliseconds since the epoch (what queries filter on).
    pub at_ms: i64,
    pub request_id: String,
    /// The request's trace (32 hex digits), when traces are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub route: String,
    pub replica: String,
    /// The name of the IdP token that authenticated the request.
    pub token: String,
    /// The route's IdP preset.
    pub preset: String,
    /// `enforce`, or `shadow`: the backend got what the IdP sent and the
    /// changes are what the gateway would have made.
    pub mode: String,
    pub method: String,
    pub resource_type: String,
    /// The backend's id of the resource, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// `userName` of a User, `displayName` of a Group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub deprovisioning: bool,
    /// The status answered to the IdP (a /Bulk operation's own status).
    pub status: u16,
    /// What the backend answered, in order.
    pub backend_statuses: Vec<u16>,
    /// `client`, `upstream` or `gateway` for an error; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    /// The gateway's error kind (a bounded label), or the backend's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// On a shadow route: why the mapping would have refused the write
    /// (the backend got it as the IdP sent it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_error: Option<String>,
    pub duration_ms: f64,
    pub mapping_version: String,
    pub calls: Calls,
    /// For a /Bulk operation: its index and `bulkId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<BulkRef>,
    /// What the IdP asked to change (attribute paths; PATCH: `op path`).
    pub requested: Vec<String>,
    /// What the gateway changed on the way, stage by stage.
    pub changes: Vec<Change>,
}

/// Where a record sits in a /Bulk request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRef {
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
}

/// A new time-ordered id and the time it stands for.
pub fn new_id() -> (String, i64, String) {
    let now = time::OffsetDateTime::now_utc();
    let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    (uuid::Uuid::now_v7().to_string(), ms, rfc3339_ms(ms))
}

/// `2026-12-03T04:05:06.789Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&f).unwrap_or_default()
}

/// Milliseconds since the epoch from RFC 3339 text, or from a number.
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_times_round_trip() {
        let (a, ms, text) = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let (b, _, _) = new_id();
        assert!(a < b, "{a} {b}");
        assert_eq!(parse_time(&text), Some(ms));
        assert_eq!(parse_time("1000"), Some(1000));
        assert_eq!(parse_time("yesterday"), None);
    }
}
