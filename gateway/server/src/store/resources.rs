//! One resource type's resources in the embedded store.

use super::{MEMORY_BASE, json, resource_reply};
use crate::upstream::Reply;
use http::header::{IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, StatusCode};
use scim_core::Filter;
use scim_core::error::{ScimError, ScimType, error_body};
use scim_core::normalize::{canonical_names, form_decode};
use scim_core::patch::{PatchOp, apply};
use scim_core::schema::{Registry, ResourceSchema};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Largest page served.
pub(super) const MAX_PAGE: usize = 1000;

#[derive(Debug)]
struct Stored {
    doc: Value,
    version: u64,
}

/// The resources of one type, in creation order.
#[derive(Debug, Default)]
pub(super) struct Collection {
    items: BTreeMap<u64, Stored>,
    ids: HashMap<String, u64>,
    seq: u64,
}

/// Paging and projection of a list or search.
#[derive(Debug, Default)]
pub(super) struct ListParams {
    filter: Option<String>,
    start_index: usize,
    count: Option<usize>,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl ListParams {
    pub(super) fn from_query(query: &str) -> Self {
        let mut p = Self { start_index: 1, ..Self::default() };
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            p.set(&form_decode(k), form_decode(v));
        }
        p
    }

    pub(super) fn from_search(body: &[u8]) -> Result<Self, ScimError> {
        let v: Value = crate::json::from_bytes(body).map_err(|e| ScimError::invalid_syntax(e.to_string()))?;
        let Some(map) = v.as_object() else { return Err(ScimError::invalid_syntax("a SearchRequest is an object")) };
        let mut p = Self { start_index: 1, ..Self::default() };
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if k != "schemas" || text.contains(SEARCH_URN) {
                p.set(k, text);
            }
        }
        Ok(p)
    }

    fn set(&mut self, key: &str, value: String) {
        let list = |v: &str| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        match key {
            "filter" => self.filter = Some(value),
            "startIndex" => {
                self.start_index = value.trim().parse::<i64>().map_or(1, |n| usize::try_from(n.max(1)).unwrap_or(1))
            }
            "count" => self.count = value.trim().parse::<i64>().ok().map(|n| usize::try_from(n.max(0)).unwrap_or(0)),
            "attributes" => self.attributes = list(&value),
            "excludedAttributes" => self.excluded = list(&value),
            _ => {}
        }
    }
}

/// `If-Match` / `If-None-Match` of a request.
#[derive(Debug, Default)]
pub(super) struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
}

impl Conditions {
    pub(super) fn from_headers(h: &HeaderMap) -> Self {
        let get = |n| h.get(n).and_then(|v: &http::HeaderValue| v.to_str().ok()).map(str::to_owned);
        Self { if_match: get(IF_MATCH), if_none_match: get(IF_NONE_MATCH) }
    }
}

fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

fn tag_listed(list: &str, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    list.split(',').any(|t| t.trim() == "*" || bare(t) == bare(tag))
}

fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Collection {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    fn find(&self, id: &str) -> Result<(u64, &Stored), Fail> {
        self.ids.get(id).and_then(|seq| self.items.get(seq).map(|s| (*seq, s))).ok_or(Fail::NotFound)
    }

    pub(super) fn list(&self, reg: &Registry, rt: &str, p: &ListParams) -> Res {
        let schema = schema(reg, rt)?;
        let filter = p.filter.as_deref().map(Filter::parse).transpose()?;
        let matched: Vec<&Stored> =
            self.items.values().filter(|s| filter.as_ref().is_none_or(|f| f.matches(&s.doc, Some(&schema)))).collect();
        let count = p.count.unwrap_or(100).min(MAX_PAGE);
        let page: Vec<Value> =
            matched.iter().skip(p.start_index - 1).take(count).map(|s| project(&s.doc, &schema, p)).collect();
        let body = json!({
            "schemas": [LIST_URN],
            "totalResults": matched.len(),
            "startIndex": p.start_index,
            "itemsPerPage": page.len(),
            "Resources": page,
        });
        Ok(json(StatusCode::OK, body))
    }

    pub(super) fn get(&self, id: &str, cond: &Conditions) -> Res {
        let (_, s) = self.find(id)?;
        if cond.if_none_match.as_deref().is_some_and(|l| tag_listed(l, &etag(s.version))) {
            return Ok(resource_reply(StatusCode::NOT_MODIFIED, s.doc.clone()));
        }
        Ok(resource_reply(StatusCode::OK, s.doc.clone()))
    }

    pub(super) fn create(&mut self, reg: &Registry, rt: &str, body: &[u8]) -> Res {
        let schema = schema(reg, rt)?;
        let mut doc = parse_object(body)?;
        canonical_names(&mut doc, &schema);
        validate(&doc, &schema)?;
        self.check_unique(&doc, rt, None)?;
        let id = uuid::Uuid::new_v4().to_string();
        let created = now();
        if let Some(map) = doc.as_object_mut() {
            map.insert("id".into(), Value::String(id.clone()));
            let location = format!("{MEMORY_BASE}{}/{id}", schema.resource_type().endpoint);
            let meta = json!({"resourceType": rt, "created": created, "lastModified": created, "location": location, "version": etag(1)});
            map.insert("meta".into(), meta);
        }
        self.seq += 1;
        self.ids.insert(id, self.seq);
        self.items.insert(self.seq, Stored { doc: doc.clone(), version: 1 });
        Ok(resource_reply(StatusCode::CREATED, doc))
    }

    pub(super) fn replace(&mut self, reg: &Registry, rt: &str, id: &str, body: &[u8], cond: &Conditions) -> Res {
        let schema = schema(reg, rt)?;
        let mut new = parse_object(body)?;
        canonical_names(&mut new, &schema);
        self.update(id, rt, cond, |_| {
            validate(&new, &schema)?;
            Ok(new)
        })
    }

    pub(super) fn patch(&mut self, reg: &Registry, rt: &str, id: &str, body: &[u8], cond: &Conditions) -> Res {
        let schema = schema(reg, rt)?;
        let patch = PatchOp::from_json(&parse_object(body)?)?;
        self.update(id, rt, cond, |current| {
            let mut new = apply(current, &patch, &schema, Default::default())?;
            canonical_names(&mut new, &schema);
            validate(&new, &schema)?;
            Ok(new)
        })
    }

    fn update(
        &mut self,
        id: &str,
        rt: &str,
        cond: &Conditions,
        change: impl FnOnce(&Value) -> Result<Value, ScimError>,
    ) -> Res {
        let (seq, stored) = self.find(id)?;
        if let Some(list) = &cond.if_match
            && !tag_listed(list, &etag(stored.version))
        {
            return Err(Fail::Precondition);
        }
        let mut new = change(&stored.doc)?;
        self.check_unique(&new, rt, Some(id))?;
        let version = stored.version + 1;
        let mut meta = stored.doc.get("meta").cloned().unwrap_or_else(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert("lastModified".into(), Value::String(now()));
            m.insert("version".into(), Value::String(etag(version)));
        }
        if let Some(map) = new.as_object_mut() {
            map.insert("id".into(), Value::String(id.to_owned()));
            map.insert("meta".into(), meta);
        }
        self.items.insert(seq, Stored { doc: new.clone(), version });
        Ok(resource_reply(StatusCode::OK, new))
    }

    pub(super) fn delete(&mut self, id: &str, cond: &Conditions) -> Res {
        let (seq, stored) = self.find(id)?;
        if cond.if_match.as_deref().is_some_and(|l| !tag_listed(l, &etag(stored.version))) {
            return Err(Fail::Precondition);
        }
        self.items.remove(&seq);
        self.ids.remove(id);
        Ok(json(StatusCode::NO_CONTENT, Value::Null))
    }

    /// Drops a deleted user from every group's members.
    pub(super) fn remove_member(&mut self, id: &str) {
        for s in self.items.values_mut() {
            if let Some(Value::Array(members)) = s.doc.get_mut("members") {
                members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
            }
        }
    }

    fn check_unique(&self, doc: &Value, rt: &str, except: Option<&str>) -> Result<(), ScimError> {
        if rt != "User" {
            return Ok(());
        }
        let Some(name) = doc.get("userName").and_then(Value::as_str) else { return Ok(()) };
        let taken = self.items.values().any(|s| {
            s.doc.get("id").and_then(Value::as_str) != except
                && s.doc.get("userName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        if taken {
            return Err(ScimError::new(ScimType::Uniqueness, "userName is already taken"));
        }
        Ok(())
    }
}

fn schema<'a>(reg: &'a Registry, rt: &str) -> Result<ResourceSchema<'a>, ScimError> {
    reg.resource(rt).ok_or_else(|| ScimError::invalid_value(format!("unknown resource type {rt}")))
}

fn parse_object(body: &[u8]) -> Result<Value, ScimError> {
    let v: Value = crate::json::from_bytes(body).map_err(|e| ScimError::invalid_syntax(e.to_string()))?;
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("the body is not a JSON object"));
    }
    Ok(v)
}

/// Required core attributes are present and not empty.
fn validate(doc: &Value, schema: &ResourceSchema<'_>) -> Result<(), ScimError> {
    for attr in schema.core().attributes.iter().filter(|a| a.required && a.name != "id") {
        let present = doc
            .as_object()
            .and_then(|m| scim_core::path::get_ci(m, &attr.name))
            .is_some_and(|v| !v.is_null() && v != "");
        if !present {
            return Err(ScimError::invalid_value(format!("{} is required", attr.name)));
        }
    }
    Ok(())
}

/// Applies `attributes` / `excludedAttributes` at the top level.
fn project(doc: &Value, schema: &ResourceSchema<'_>, p: &ListParams) -> Value {
    let Some(map) = doc.as_object() else { return doc.clone() };
    let top = |name: &str| -> String {
        let name = name.strip_prefix(schema.core_urn()).map_or(name, |n| n.trim_start_matches(':'));
        name.split('.').next().unwrap_or(name).to_ascii_lowercase()
    };
    let always = ["id", "schemas", "meta"];
    let keep = |k: &str| {
        let k = k.to_ascii_lowercase();
        if always.contains(&k.as_str()) {
            return true;
        }
        let listed = p.attributes.is_empty() || p.attributes.iter().any(|a| top(a) == k);
        listed && !p.excluded.iter().any(|a| top(a) == k)
    };
    Value::Object(map.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect::<Map<_, _>>())
}

/// Why a store operation gives no resource.
#[derive(Debug)]
pub(super) enum Fail {
    Scim(ScimError),
    NotFound,
    Precondition,
}

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Self {
        Self::Scim(e)
    }
}

impl Fail {
    pub(super) fn reply(&self) -> Reply {
        match self {
            Self::Scim(e) => super::error(e),
            Self::NotFound => json(StatusCode::NOT_FOUND, error_body(404, None, "no resource with this id")),
            Self::Precondition => {
                json(StatusCode::PRECONDITION_FAILED, error_body(412, None, "the resource has changed (ETag mismatch)"))
            }
        }
    }
}

type Res = Result<Reply, Fail>;
