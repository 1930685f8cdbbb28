//! Normalizing PATCH bodies, before they are parsed into a PatchOp.

use super::values::{decode_roles, drop_null_refs, fix_booleans, manager_is_canonical, manager_value, parse_bool};
use super::{Normalization as N, Normalizer, Report};
use crate::filter::{CompareOp, Filter};
use crate::patch::PATCH_URN;
use crate::path::{AttrPath, Path, TopKey, classify_key, find_key, get_ci};
use crate::schema::{AttrType, ENTERPRISE_URN, Mutability, ResourceSchema};
use serde_json::{Map, Value, json};

type Obj = Map<String, Value>;

/// One operation being normalized.
struct Op {
    kind: String,
    path: Option<Path>,
    value: Option<Value>,
}

impl Op {
    fn to_json(&self) -> Value {
        let mut m = Obj::new();
        m.insert("op".into(), Value::String(self.kind.clone()));
        if let Some(p) = &self.path {
            m.insert("path".into(), Value::String(p.to_string()));
        }
        if let Some(v) = &self.value {
            m.insert("value".into(), v.clone());
        }
        Value::Object(m)
    }
}

impl Normalizer {
    /// Normalizes a PATCH body (a PatchOp as JSON) for the resource type
    /// `schema`. Operations it cannot read are left for the parser to reject.
    pub fn patch(&self, body: &mut Value, schema: &ResourceSchema<'_>) -> Report {
        let mut r = Report::default();
        let Some(map) = body.as_object_mut() else { return r };
        if self.is_enabled(N::MissingSchemaUrn) && !map.contains_key("schemas") {
            map.insert("schemas".into(), json!([PATCH_URN]));
            r.add(N::MissingSchemaUrn);
        }
        let Some(key) = find_key(map, "Operations") else { return r };
        let Some(Value::Array(ops)) = map.remove(&key) else { return r };
        if key != "Operations" {
            r.add(N::OpNameCase);
        }
        let mut out = Vec::with_capacity(ops.len());
        let mut conditional = Vec::new();
        for op in ops {
            let start = out.len();
            let guarded = self.is_enabled(N::ManagerShape) && is_filtered_manager_remove(&op, schema);
            self.operation(op, schema, &mut out, &mut r);
            if guarded {
                conditional.extend(start..out.len());
            }
        }
        drop_superseded_manager_removes(&mut out, &conditional);
        map.insert("Operations".into(), Value::Array(out));
        r
    }

    fn operation(&self, raw: Value, schema: &ResourceSchema<'_>, out: &mut Vec<Value>, r: &mut Report) {
        let Some(mut op) = self.read_op(&raw, r) else {
            out.push(raw);
            return;
        };
        if self.is_enabled(N::AttributeNameCase) {
            canonical_names(&mut op, schema, r);
        }
        let is_write = matches!(op.kind.as_str(), "add" | "replace");
        match (&op.path, &op.value) {
            (None, Some(Value::Object(attrs))) if is_write => {
                for each in self.split_pathless(&op.kind, attrs, schema, r) {
                    self.path_op(each, schema, out, r);
                }
            }
            _ => self.path_op(op, schema, out, r),
        }
    }

    /// Reads op, path and value, folding key and op-name case. `None` when
    /// the operation is not readable (the parser will say why).
    fn read_op(&self, raw: &Value, r: &mut Report) -> Option<Op> {
        let m = raw.as_object()?;
        let fold = self.is_enabled(N::OpNameCase);
        let get = |k: &str| if fold { get_ci(m, k) } else { m.get(k) };
        let known =
            |k: &String| ["op", "path", "value"].iter().any(|n| if fold { n.eq_ignore_ascii_case(k) } else { n == k });
        if !m.keys().all(known) {
            return None; // an unknown member: the parser refuses the op as sent
        }
        let kind = get("op")?.as_str()?;
        if fold && m.keys().any(|k| matches!(k.as_str(), "Op" | "OP" | "Path" | "PATH" | "Value" | "VALUE")) {
            r.add(N::OpNameCase);
        }
        let lower = kind.to_ascii_lowercase();
        if fold && lower != kind {
            r.add(N::OpNameCase);
        }
        let path = match get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(Path::parse(p).ok()?),
            Some(_) => return None,
        };
        let kind = if fold { lower } else { kind.to_owned() };
        Some(Op { kind, path, value: get("value").cloned() })
    }

    /// Splits a path-less add / replace: dotted and URN-qualified keys, a
    /// stray `manager`, null values and read-only attributes each get their
    /// own treatment; plain keys stay together in one path-less op.
    fn split_pathless(&self, kind: &str, attrs: &Obj, schema: &ResourceSchema<'_>, r: &mut Report) -> Vec<Op> {
        let mut rest = Obj::new();
        let mut ops = Vec::new();
        for (key, value) in attrs {
            let qualified = classify_key(key, value, schema).is_ok_and(|k| k.is_qualified_attribute());
            let stray_manager = key.eq_ignore_ascii_case("manager") && schema.top_attribute(None, key).is_none();
            let split = (qualified && self.is_enabled(N::PathlessKeys))
                || (stray_manager && self.is_enabled(N::ManagerShape))
                || (value.is_null() && self.is_enabled(N::NullValue))
                || (self.is_read_only(schema, key) && self.is_enabled(N::ReadOnlyStripped));
            match (split, classify_key(key, value, schema)) {
                (true, Ok(TopKey::Attribute(path))) => {
                    if qualified && self.is_enabled(N::PathlessKeys) {
                        r.add(N::PathlessKeys);
                    }
                    ops.push(Op { kind: kind.to_owned(), path: Some(path), value: Some(value.clone()) });
                }
                _ => drop(rest.insert(key.clone(), value.clone())),
            }
        }
        if !rest.is_empty() {
            let mut value = Value::Object(rest);
            self.fix_pathless_value(&mut value, schema, r);
            ops.insert(0, Op { kind: kind.to_owned(), path: None, value: Some(value) });
        }
        ops
    }

    fn is_read_only(&self, schema: &ResourceSchema<'_>, key: &str) -> bool {
        schema.top_attribute(None, key).is_some_and(|d| d.mutability == Mutability::ReadOnly)
    }

    /// String booleans, `$ref: null` and encoded roles inside a path-less value.
    fn fix_pathless_value(&self, value: &mut Value, schema: &ResourceSchema<'_>, r: &mut Report) {
        let Some(map) = value.as_object_mut() else { return };
        for (key, v) in map.iter_mut() {
            if schema.is_core_urn(key) {
                for (k, cv) in v.as_object_mut().into_iter().flatten() {
                    if let Some(def) = schema.top_attribute(None, k) {
                        self.fix_value(cv, def, r);
                    }
                }
            } else if let Some(ext) = schema.extension(key) {
                for (k, ev) in v.as_object_mut().into_iter().flatten() {
                    if let Some(def) = ext.attribute(k) {
                        self.fix_value(ev, def, r);
                    }
                }
            } else if let Some(def) = schema.top_attribute(None, key) {
                self.fix_value(v, def, r);
            }
        }
    }

    fn fix_value(&self, v: &mut Value, def: &crate::schema::Attribute, r: &mut Report) {
        if self.is_enabled(N::StringBoolean) {
            fix_booleans(v, def, r);
        }
        if self.is_enabled(N::NullRef) && def.sub_attribute("$ref").is_some() {
            drop_null_refs(v, r);
        }
        if self.is_enabled(N::JsonEncodedRole) && def.name == "roles" {
            decode_roles(v, r);
        }
        if self.is_enabled(N::ManagerShape)
            && def.name == "manager"
            && def.ty == AttrType::Complex
            && !manager_is_canonical(v)
        {
            *v = manager_value(v).unwrap_or(Value::Null);
            r.add(N::ManagerShape);
        }
    }

    /// Normalizes one operation that has a path (or is a path-less op left
    /// after splitting) and appends the result to `out`.
    fn path_op(&self, mut op: Op, schema: &ResourceSchema<'_>, out: &mut Vec<Value>, r: &mut Report) {
        let Some(path) = op.path.clone() else {
            out.push(op.to_json());
            return;
        };
        if self.is_enabled(N::ManagerShape) && is_manager(&path, schema) {
            return self.manager_op(op, out, r);
        }
        if self.is_enabled(N::ReadOnlyStripped)
            && path.urn.is_none()
            && self.is_read_only(schema, &path.name)
            && op.kind != "remove"
        {
            r.add(N::ReadOnlyStripped);
            return;
        }
        if self.is_enabled(N::NullValue) && op.kind == "replace" && op.value.as_ref().is_some_and(Value::is_null) {
            r.add(N::NullValue);
            op.kind = "remove".into();
            op.value = None;
        }
        if op.kind == "add" && op.value.as_ref().is_some_and(Value::is_null) && self.is_enabled(N::NullValue) {
            r.add(N::NullValue);
            return;
        }
        let mut path = path;
        if self.is_enabled(N::StringBoolean) {
            fix_filter_booleans(&mut path, schema, r);
        }
        op.path = Some(path.clone());
        let def = schema.top_attribute(path.urn.as_deref(), &path.name);
        if op.kind == "remove"
            && path.filter.is_none()
            && path.sub.is_none()
            && def.is_none_or(|d| d.multi_valued)
            && let Some(value) = op.value.take()
        {
            return expand_member_remove(&path, value, out, r);
        }
        let target = def.and_then(|d| match &path.sub {
            Some(s) => d.sub_attribute(s),
            None => Some(d),
        });
        if let (Some(v), Some(def)) = (op.value.as_mut(), target) {
            self.fix_value(v, def, r);
        }
        out.push(op.to_json());
    }

    /// `manager` in any of Entra ID's shapes becomes the enterprise
    /// extension's `manager: {"value": id}`; a filtered remove removes it.
    fn manager_op(&self, op: Op, out: &mut Vec<Value>, r: &mut Report) {
        let canonical = Path::from(AttrPath::new(Some(ENTERPRISE_URN), "manager", None));
        let value = match op.kind.as_str() {
            "remove" => None,
            _ => op.value.as_ref().and_then(manager_value),
        };
        let remove = Op { kind: "remove".into(), path: Some(canonical.clone()), value: None };
        // A new manager replaces the old one whole: an add alone would merge
        // into the old object and keep its `$ref` and `displayName`.
        let after = match value {
            Some(v) => {
                vec![remove.to_json(), Op { kind: "add".into(), path: Some(canonical), value: Some(v) }.to_json()]
            }
            None => vec![remove.to_json()],
        };
        if after != [op.to_json()] {
            r.add(N::ManagerShape);
        }
        out.extend(after);
    }
}

/// The operation's path, and its value's keys, in the schema's spelling.
fn canonical_names(op: &mut Op, schema: &ResourceSchema<'_>, r: &mut Report) {
    if op.path.as_ref().is_some_and(|p| super::names::is_core_urn_path(p, schema)) {
        op.path = None;
        r.add(N::AttributeNameCase);
    }
    let Some(path) = op.path.as_mut() else {
        if let Some(m) = op.value.as_mut().and_then(Value::as_object_mut) {
            super::names::resource(m, schema, r);
        }
        return;
    };
    if super::names::path(path, schema) {
        r.add(N::AttributeNameCase);
    }
    let top = schema.top_attribute(path.urn.as_deref(), &path.name);
    let target = match &path.sub {
        Some(s) => top.and_then(|t| t.sub_attribute(s)),
        None => top,
    };
    if let (Some(def), Some(v)) = (target, op.value.as_mut()) {
        super::names::value_of(v, def, r);
    }
}

fn is_manager(path: &Path, schema: &ResourceSchema<'_>) -> bool {
    let unqualified = path.urn.is_none() && schema.top_attribute(None, &path.name).is_none();
    let enterprise = path.urn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE_URN));
    let named = path.name.eq_ignore_ascii_case("manager") && (unqualified || enterprise);
    match (&path.filter, path.sub.as_deref()) {
        (Some(_), _) | (None, None) => named,
        (None, Some(s)) => named && unqualified && s.eq_ignore_ascii_case("value"),
    }
}

/// `remove manager[value eq "old"]` as Entra ID sends it.
fn is_filtered_manager_remove(op: &Value, schema: &ResourceSchema<'_>) -> bool {
    let Some(m) = op.as_object() else { return false };
    if !m.keys().all(|k| ["op", "path", "value"].iter().any(|n| n.eq_ignore_ascii_case(k))) {
        return false;
    }
    let field = |k: &str| get_ci(m, k).and_then(Value::as_str);
    let path = field("path").and_then(|p| Path::parse(p).ok());
    field("op").is_some_and(|o| o.eq_ignore_ascii_case("remove"))
        && path.is_some_and(|p| p.filter.is_some() && is_manager(&p, schema))
}

/// A filtered manager remove becomes a plain remove; when the same PatchOp
/// also sets a manager, that remove could clear the new one (depending on
/// the order), and the set replaces the old manager anyway: drop it.
fn drop_superseded_manager_removes(out: &mut Vec<Value>, conditional: &[usize]) {
    let manager = Path::from(AttrPath::new(Some(ENTERPRISE_URN), "manager", None)).to_string();
    let sets_manager = out
        .iter()
        .any(|o| o.get("op").is_some_and(|k| k != "remove") && o.get("path").and_then(Value::as_str) == Some(&manager));
    if !sets_manager || conditional.is_empty() {
        return;
    }
    let mut i = 0;
    out.retain(|_| {
        i += 1;
        !conditional.contains(&(i - 1))
    });
}

/// Entra ID's `{"op":"Remove","path":"members","value":[{"value":id}]}`
/// means "remove these members"; as RFC 7644 reads it, it removes all of
/// them. It becomes one exact remove per listed value: `[value eq "id"]`, or
/// for a value without `value`, the `eq` terms of all its simple fields. A
/// list that names nothing removes nothing; a null value is no value at all
/// (an RFC remove of the whole attribute).
fn expand_member_remove(path: &Path, value: Value, out: &mut Vec<Value>, r: &mut Report) {
    let items = match value {
        Value::Null => return out.push(json!({"op": "remove", "path": path.to_string()})),
        Value::Array(items) => items,
        other => vec![other],
    };
    r.add(N::MemberRemoveValues);
    for filter in items.iter().filter_map(identity_filter) {
        let exact = Path { urn: path.urn.clone(), name: path.name.clone(), filter: Some(Box::new(filter)), sub: None };
        out.push(json!({"op": "remove", "path": exact.to_string()}));
    }
}

/// The filter that selects exactly this value of a multi-valued attribute.
fn identity_filter(item: &Value) -> Option<Filter> {
    let eq = |name: &str, value: &Value| Filter::Compare {
        path: AttrPath::new(None, name, None),
        op: CompareOp::Eq,
        value: value.clone(),
    };
    let scalar = |v: &Value| v.is_string() || v.is_number() || v.is_boolean();
    match item {
        v if scalar(v) => Some(eq("value", v)),
        Value::Object(m) => match get_ci(m, "value") {
            Some(id) if scalar(id) => Some(eq("value", id)),
            _ => m
                .iter()
                .filter(|(k, v)| scalar(v) && crate::path::is_attr_name(k))
                .map(|(k, v)| eq(k, v))
                .reduce(|a, b| Filter::And(Box::new(a), Box::new(b))),
        },
        _ => None,
    }
}

/// `roles[primary eq "True"]`: string literals compared with boolean
/// sub-attributes become booleans.
fn fix_filter_booleans(path: &mut Path, schema: &ResourceSchema<'_>, r: &mut Report) {
    let Some(parent) = schema.top_attribute(path.urn.as_deref(), &path.name) else { return };
    let Some(filter) = path.filter.as_mut() else { return };
    filter.visit_paths_mut(&mut |p, value| {
        let is_bool = parent.sub_attribute(&p.name).is_some_and(|d| d.ty == AttrType::Boolean);
        if let (true, Some(v)) = (is_bool, value)
            && let Some(b) = v.as_str().and_then(parse_bool)
        {
            *v = Value::Bool(b);
            r.add(N::StringBoolean);
        }
    });
}
