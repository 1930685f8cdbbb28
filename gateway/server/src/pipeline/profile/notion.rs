//! The `notion` backend profile (`[upstream] profile = "notion"`):
//!
//! - list queries: user filters on the attributes Notion filters on
//!   (`email`, `given_name`, `family_name`), and pages of at most 100;
//! - writes: IdP roles to Notion's role extension through the config's
//!   table, `owner` refused unless allowed; a manager given by id sent as
//!   that manager's email;
//! - answers: a manager's email back to its id, the Notion role back to
//!   the IdP's role value.

mod owner;
mod state;

use super::BackendProfile;
use super::cache::Scope;
use crate::error::GatewayError;
use crate::pipeline::exchange::{Exchange, Purpose, Shape};
use crate::upstream::Reply;
use http::StatusCode;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use scim_core::filter::Filter;
use scim_core::patch::{OpKind, PatchOp, PatchOperation};
use scim_core::path::{AttrPath, Path, get_ci};
use scim_core::{Intent, ScimError};
use scim_mapper::RewrittenQuery;
use serde_json::{Map, Value, json};
pub use state::{NOTION_PAGE, NOTION_URN, Notion};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The most manager lookups one answer makes; later managers keep their email.
const MAX_LOOKUPS: usize = 100;

#[async_trait::async_trait]
impl BackendProfile for Notion {
    fn name(&self) -> &'static str {
        "notion"
    }

    fn list_query(&self, rt: &str, query: &mut RewrittenQuery) -> Result<(), GatewayError> {
        filter(rt, query);
        Ok(())
    }

    fn max_page(&self) -> Option<usize> {
        Some(NOTION_PAGE)
    }

    async fn list(
        &self,
        x: &Exchange<'_>,
        original: &[(String, String)],
        query: &RewrittenQuery,
    ) -> Result<Option<Reply>, GatewayError> {
        let page = |pairs: &[(String, String)]| crate::pipeline::query::rebuild(pairs, query);
        crate::pipeline::paging::merged_list(x, NOTION_PAGE, original, page).await
    }

    async fn request(&self, x: &Exchange<'_>, rt: &str, body: Value, intent: Intent) -> Result<Value, GatewayError> {
        write_request(x, self, rt, body, intent).await
    }

    async fn deleted(&self, x: &Exchange<'_>, rt: &str, id: &str) {
        if rt == "User" {
            forget(x, self, id).await;
        }
    }

    async fn response(&self, x: &Exchange<'_>, shape: Shape, body: Value) -> Result<Value, GatewayError> {
        match shape {
            Shape::Resource("User") | Shape::List("User") | Shape::AnyList => Ok(answer(x, self, body).await),
            _ => Ok(body),
        }
    }
}

/// Rewrites a Users filter to Notion's filter attributes.
fn filter(rt: &str, q: &mut RewrittenQuery) {
    if rt == "User" {
        q.filter = q.filter.take().map(rename);
    }
}

fn notion_attr(path: &AttrPath) -> Option<&'static str> {
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    match (name.as_str(), sub.as_deref()) {
        ("username", None) | ("emails", Some("value")) => Some("email"),
        ("name", Some("givenname")) => Some("given_name"),
        ("name", Some("familyname")) => Some("family_name"),
        _ => None,
    }
}

fn rename(f: Filter) -> Filter {
    let attr = |name: &str| AttrPath::new(None, name, None);
    match f {
        Filter::Compare { path, op, value } => match notion_attr(&path) {
            Some(n) => Filter::Compare { path: attr(n), op, value },
            None => Filter::Compare { path, op, value },
        },
        // emails[type eq "work"].value eq "x": Notion knows one email.
        Filter::ValuePath { path, then: Some(then), .. }
            if path.name.eq_ignore_ascii_case("emails")
                && matches!(&*then, Filter::Compare { path: p, .. } if p.name.eq_ignore_ascii_case("value")) =>
        {
            match *then {
                Filter::Compare { op, value, .. } => Filter::Compare { path: attr("email"), op, value },
                other => other,
            }
        }
        Filter::And(a, b) => Filter::And(Box::new(rename(*a)), Box::new(rename(*b))),
        Filter::Or(a, b) => Filter::Or(Box::new(rename(*a)), Box::new(rename(*b))),
        Filter::Not(a) => Filter::Not(Box::new(rename(*a))),
        other => other,
    }
}

/// A write's body (a resource or a PatchOp) in Notion's terms.
async fn write_request(
    x: &Exchange<'_>,
    n: &Notion,
    rt: &str,
    body: Value,
    intent: Intent,
) -> Result<Value, GatewayError> {
    if rt != "User" {
        return Ok(body);
    }
    let is_patch = scim_core::patch::is_patch_op(&body);
    match is_patch {
        true => patch_request(x, n, &body, intent).await,
        false => resource_request(x, n, body, intent).await,
    }
}

async fn resource_request(x: &Exchange<'_>, n: &Notion, mut doc: Value, intent: Intent) -> Result<Value, GatewayError> {
    let Some(map) = doc.as_object_mut() else { return Ok(doc) };
    if !n.settings.roles.is_empty() {
        if let Some(role) = get_ci(map, "roles").and_then(idp_role).and_then(|r| n.role_for(&r)) {
            set_role(map, role);
        }
        map.retain(|k, _| !k.eq_ignore_ascii_case("roles"));
    }
    guard_owner(n, map, intent)?;
    manager_in(x, n, map, intent).await?;
    Ok(doc)
}

/// The enterprise `manager.value` of a resource or path-less PATCH value
/// (any case), as an id, replaced by that manager's email; the manager is
/// left out when it cannot be had for a deprovisioning.
async fn manager_in(
    x: &Exchange<'_>,
    n: &Notion,
    map: &mut Map<String, Value>,
    intent: Intent,
) -> Result<(), GatewayError> {
    let id = manager_value(map).and_then(|v| v.as_str()).filter(|v| !v.contains('@')).map(str::to_owned);
    let Some(id) = id else { return Ok(()) };
    match manager_email(x, n, &id, intent).await? {
        Some(email) => {
            if let Some(v) = manager_value(map) {
                *v = Value::String(email);
            }
        }
        None => {
            if let Some(ext) = map.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(ENTERPRISE))
                && let Some(e) = ext.1.as_object_mut()
            {
                e.retain(|k, _| !k.eq_ignore_ascii_case("manager"));
            }
        }
    }
    Ok(())
}

fn manager_value(map: &mut Map<String, Value>) -> Option<&mut Value> {
    let ext = find_ci(map, ENTERPRISE)?.as_object_mut()?;
    let manager = find_ci(ext, "manager")?.as_object_mut()?;
    find_ci(manager, "value")
}

fn find_ci<'m>(m: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    m.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// The role the IdP sends: the primary one, else the first.
fn idp_role(roles: &Value) -> Option<String> {
    let items: Vec<&Value> = match roles {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let primary = items.iter().find(|r| r.get("primary") == Some(&Value::Bool(true))).or_else(|| items.first());
    primary.and_then(|r| match r {
        Value::String(s) => Some(s.clone()),
        other => other.get("value").and_then(Value::as_str).map(str::to_owned),
    })
}

fn set_role(map: &mut Map<String, Value>, role: &str) {
    let ext = map.entry(NOTION_URN).or_insert_with(|| Value::Object(Map::new()));
    if let Some(e) = ext.as_object_mut() {
        e.insert("role".into(), Value::String(role.to_owned()));
    }
    if let Some(Value::Array(schemas)) = map.get_mut("schemas")
        && !schemas.iter().any(|s| s == NOTION_URN)
    {
        schemas.push(Value::String(NOTION_URN.into()));
    }
}

/// `owner` is granted only with `allow_owner`; a deprovisioning drops it
/// instead of failing.
fn guard_owner(n: &Notion, map: &mut Map<String, Value>, intent: Intent) -> Result<(), GatewayError> {
    if n.settings.allow_owner || !owner::in_map(map) {
        return Ok(());
    }
    if intent.is_deprovision() {
        owner::drop_from(map);
        return Ok(());
    }
    Err(owner_refused())
}

fn owner_refused() -> GatewayError {
    GatewayError::Scim(ScimError::mutability(
        "the Notion workspace owner role is not granted through the gateway (set allow_owner in [upstream.notion])",
    ))
}

async fn patch_request(x: &Exchange<'_>, n: &Notion, body: &Value, intent: Intent) -> Result<Value, GatewayError> {
    let ops = PatchOp::from_json(body)?;
    let mut out = Vec::with_capacity(ops.operations.len());
    for op in ops.operations {
        out.extend(patch_op(x, n, op, intent).await?);
    }
    Ok(PatchOp { operations: out }.into_json())
}

fn is_roles(p: &Path) -> bool {
    p.name.eq_ignore_ascii_case("roles") && p.urn.as_deref().is_none_or(|u| u.contains(":core:"))
}

fn notion_role_path() -> Path {
    Path::from(AttrPath::new(Some(NOTION_URN), "role", None))
}

/// One PATCH operation in Notion's terms: zero, one or two operations.
async fn patch_op(
    x: &Exchange<'_>,
    n: &Notion,
    mut op: PatchOperation,
    intent: Intent,
) -> Result<Vec<PatchOperation>, GatewayError> {
    let mut extra = Vec::new();
    if !n.settings.allow_owner && owner::in_op(&op) {
        if !intent.is_deprovision() {
            return Err(owner_refused());
        }
        match op.value.as_mut().and_then(Value::as_object_mut).filter(|_| op.path.is_none()) {
            Some(map) => owner::drop_from(map),
            None => return Ok(vec![]),
        }
    }
    match op.path.clone() {
        Some(p) if is_roles(&p) && !n.settings.roles.is_empty() => {
            let role = op.value.as_ref().and_then(idp_role).and_then(|r| n.role_for(&r));
            return Ok(match (op.op, role) {
                (OpKind::Remove, _) | (_, None) => vec![],
                (_, Some(r)) => vec![PatchOperation::new(OpKind::Replace, notion_role_path(), Some(json!(r)))],
            });
        }
        Some(p)
            if p.urn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE))
                && p.name.eq_ignore_ascii_case("manager") =>
        {
            op.value = patch_manager(x, n, op.value.take(), p.sub.as_deref(), intent).await?;
            if op.value.is_none() && op.op != OpKind::Remove {
                return Ok(vec![]);
            }
        }
        None => {
            if let Some(map) = op.value.as_mut().and_then(Value::as_object_mut) {
                if !n.settings.roles.is_empty() {
                    let role = get_ci(map, "roles").and_then(idp_role).and_then(|r| n.role_for(&r)).map(str::to_owned);
                    map.retain(|k, _| !k.eq_ignore_ascii_case("roles"));
                    if let Some(r) = role {
                        extra.push(PatchOperation::new(OpKind::Replace, notion_role_path(), Some(json!(r))));
                    }
                }
                manager_in(x, n, map, intent).await?;
            }
        }
        _ => {}
    }
    let keep = !(op.path.is_none() && op.value.as_ref().and_then(Value::as_object).is_some_and(Map::is_empty));
    Ok(keep.then_some(op).into_iter().chain(extra).collect())
}

/// A manager value in a PATCH: `{"value": id}` (or, with a sub-attribute
/// in the path, `manager.value`, the id alone) turned into the email.
async fn patch_manager(
    x: &Exchange<'_>,
    n: &Notion,
    value: Option<Value>,
    sub: Option<&str>,
    intent: Intent,
) -> Result<Option<Value>, GatewayError> {
    let id = match (&value, sub) {
        (Some(Value::String(s)), Some(_)) => Some(s.clone()),
        (Some(v), None) => v.get("value").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let Some(id) = id.filter(|i| !i.contains('@')) else { return Ok(value) };
    Ok(manager_email(x, n, &id, intent).await?.map(|email| match sub {
        Some(_) => Value::String(email),
        None => json!({"value": email}),
    }))
}

/// The email of the user `id` (its userName, which Notion keeps as the
/// email), cached. A manager the backend does not know is a 400; a lookup
/// that fails is the backend's error. A deprovisioning never waits on the
/// backend: it takes the cache's answer or goes on without the manager
/// (`None`; Notion removes a deactivated user from the workspace anyway).
async fn manager_email(x: &Exchange<'_>, n: &Notion, id: &str, intent: Intent) -> Result<Option<String>, GatewayError> {
    let cached = n.managers.get(Scope::of(x), &id_key(id)).await;
    if cached.is_some() || intent.is_deprovision() {
        return Ok(cached);
    }
    match lookup_email(x, id).await? {
        Some(email) => {
            remember(x, n, vec![(id.to_owned(), email.clone())]).await;
            Ok(Some(email))
        }
        None => Err(ScimError::invalid_value(format!("the manager \"{id}\" is not a user of the backend")).into()),
    }
}

/// `GET /Users/{id}`'s userName; `None` when there is no such user.
async fn lookup_email(x: &Exchange<'_>, id: &str) -> Result<Option<String>, GatewayError> {
    if !crate::proxy::paths::plain_id(id) {
        return Ok(None);
    }
    let reply = x.read(&format!("/Users/{id}"), None, Purpose::Lookup).await?;
    match reply.status {
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::OK => {
            let doc: Value = crate::json::from_bytes(&reply.body)
                .map_err(|_| GatewayError::BadUpstreamReply("the manager's resource is not JSON".into()))?;
            Ok(doc.get("userName").and_then(Value::as_str).map(str::to_owned))
        }
        s => Err(GatewayError::BadUpstreamReply(format!("looking up the manager gave {s}"))),
    }
}

fn id_key(id: &str) -> String {
    format!("notion-manager-id:{id}")
}

fn email_key(email: &str) -> String {
    format!("notion-manager-email:{}", email.to_lowercase())
}

/// Remembers users' emails by id and ids by email.
async fn remember(x: &Exchange<'_>, n: &Notion, users: Vec<(String, String)>) {
    let entries = users.into_iter().flat_map(|(id, email)| [(email_key(&email), id.clone()), (id_key(&id), email)]);
    n.managers.put(Scope::of(x), entries.collect()).await;
}

/// One user as the backend answered it: its email remembered, and an email
/// it had before forgotten, so that no replica maps the old one to it.
async fn remember_one(x: &Exchange<'_>, n: &Notion, id: &str, email: &str) {
    let before = n.managers.get(Scope::of(x), &id_key(id)).await;
    if let Some(old) = before.filter(|old| !old.eq_ignore_ascii_case(email)) {
        n.managers.forget(Scope::of(x), &[email_key(&old)]).await;
    }
    remember(x, n, vec![(id.to_owned(), email.to_owned())]).await;
}

/// A deleted user forgotten, by id and by email.
async fn forget(x: &Exchange<'_>, n: &Notion, id: &str) {
    let mut keys = vec![id_key(id)];
    keys.extend(n.managers.get(Scope::of(x), &id_key(id)).await.map(|email| email_key(&email)));
    n.managers.forget(Scope::of(x), &keys).await;
}

/// An answer in the IdP's terms: managers' emails back to ids, the Notion
/// role back to the IdP's role value. Lookups that fail leave the value.
async fn answer(x: &Exchange<'_>, n: &Notion, mut body: Value) -> Value {
    let mut lookups = 0;
    match body.get_mut("Resources").and_then(Value::as_array_mut) {
        Some(items) => {
            // The page names users by id and email already: managers on it
            // need no lookup.
            remember(x, n, items.iter().filter_map(id_and_email).collect()).await;
            for item in items {
                user_back(x, n, item, &mut lookups).await;
            }
        }
        None => {
            if let Some((id, email)) = id_and_email(&body) {
                remember_one(x, n, &id, &email).await;
            }
            user_back(x, n, &mut body, &mut lookups).await;
        }
    }
    body
}

/// A user's id and email (its userName), as the backend answered them.
fn id_and_email(user: &Value) -> Option<(String, String)> {
    let field = |k: &str| user.get(k).and_then(Value::as_str);
    Some((field("id")?.to_owned(), field("userName").filter(|e| e.contains('@'))?.to_owned()))
}

async fn user_back(x: &Exchange<'_>, n: &Notion, user: &mut Value, lookups: &mut usize) {
    if let Some(role) = user.get(NOTION_URN).and_then(|e| e.get("role")).and_then(Value::as_str)
        && let (Some(idp), Some(m)) = (n.idp_role_for(role).map(str::to_owned), user.as_object_mut())
    {
        m.insert("roles".into(), json!([{"value": idp, "primary": true}]));
    }
    let email = user.pointer(&format!("/{ENTERPRISE}/manager/value")).and_then(Value::as_str).map(str::to_owned);
    let Some(email) = email.filter(|e| e.contains('@')) else { return };
    if let Some(id) = manager_id(x, n, &email, lookups).await
        && let Some(v) = user.pointer_mut(&format!("/{ENTERPRISE}/manager/value"))
    {
        *v = Value::String(id);
    }
}

async fn manager_id(x: &Exchange<'_>, n: &Notion, email: &str, lookups: &mut usize) -> Option<String> {
    if let Some(id) = n.managers.get(Scope::of(x), &email_key(email)).await {
        return Some(id);
    }
    if *lookups >= MAX_LOOKUPS {
        return None;
    }
    *lookups += 1;
    let filter = format!("email eq {}", Value::String(email.to_owned()));
    let query = format!("filter={}", utf8_percent_encode(&filter, NON_ALPHANUMERIC));
    let reply = x.read("/Users", Some(&query), Purpose::Lookup).await.ok()?;
    let doc: Value = crate::json::from_bytes(&reply.body).ok().filter(|_| reply.status == StatusCode::OK)?;
    // The one user whose email it is, whatever else a lax backend returned.
    let found = doc
        .get("Resources")
        .and_then(Value::as_array)?
        .iter()
        .find(|u| u.get("userName").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case(email)))?;
    let id = found.get("id").and_then(Value::as_str)?.to_owned();
    remember(x, n, vec![(id.clone(), email.to_owned())]).await;
    Some(id)
}

#[cfg(test)]
mod tests;
