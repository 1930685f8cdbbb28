//! What a request asked to change and what the gateway changed on the way,
//! attribute path by attribute path, each change tagged with its stage and
//! its author. The gateway's audit records and `scim-gateway map --explain`
//! both list changes with [`ChangeLog`]: one code path.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The stage of the pipeline that made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The IdP preset fixed a quirk (author: the quirk's kind).
    Normalization,
    /// A WebAssembly plugin (author: its name).
    Plugin,
    /// A mapping rule (author: `file:line:col`).
    Rule,
    /// The backend profile (author: its name).
    Profile,
    /// Update translation (author: `PUT as PATCH`, `PATCH as PUT`).
    Translation,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normalization => "normalization",
            Self::Plugin => "plugin",
            Self::Rule => "rule",
            Self::Profile => "profile",
            Self::Translation => "translation",
        }
    }
}

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One attribute changed by one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub stage: Stage,
    pub author: String,
    pub path: String,
    pub kind: ChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// How much of the values a change list keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Values {
    /// No change list at all: who, what, when and the outcome only.
    None,
    /// The paths, stages and authors, no values.
    #[default]
    Paths,
    /// The values before and after too (never a secret's).
    Full,
}

impl Values {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "paths" => Some(Self::Paths),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

/// The author of normalization's changes: the quirks' kinds it fixed.
pub fn normalization_author(report: &scim_core::normalize::Report) -> String {
    report.applied.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
}

/// Whether a path names a secret, whose value is never recorded.
pub fn is_secret(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["password", "secret", "token", "apikey", "api_key", "credential"].iter().any(|s| lower.contains(s))
}

/// The change list of one write, kept as the policy says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeLog {
    /// What the IdP asked to change: attribute paths (PATCH: `op path`).
    pub requested: Vec<String>,
    pub changes: Vec<Change>,
    #[serde(skip)]
    values: Values,
}

/// Most changes one record keeps; a runaway list is cut here.
const MAX_CHANGES: usize = 500;

impl ChangeLog {
    pub fn new(values: Values) -> Self {
        Self { requested: Vec::new(), changes: Vec::new(), values }
    }

    /// Whether anything is recorded at all.
    pub fn is_on(&self) -> bool {
        self.values != Values::None
    }

    /// Records what the IdP sent: a resource's leaf paths, or a PATCH's
    /// operations.
    pub fn requested(&mut self, sent: &Value) {
        if self.is_on() {
            let mut paths = Vec::new();
            leaves(&view(sent), &mut String::new(), 0, &mut paths);
            paths.sort();
            self.requested = paths;
        }
    }

    /// Records what one stage changed: the paths that differ between
    /// `before` and `after` (resources or PATCH bodies). `author` names who
    /// changed a path. Equal subtrees are skipped whole, so a stage that
    /// changed nothing costs one comparison.
    pub fn stage(&mut self, stage: Stage, before: &Value, after: &Value, author: &dyn Fn(&str) -> String) {
        if !self.is_on() || same(before, after) {
            return;
        }
        let (before, after) = (view(before), view(after));
        let mut found = Vec::new();
        differ(&before, &after, &mut String::new(), 0, &mut found);
        for (path, kind, b, a) in found {
            self.push(stage, author(&path), &path, kind, b, a);
        }
    }

    fn push(
        &mut self,
        stage: Stage,
        author: String,
        path: &str,
        kind: ChangeKind,
        b: Option<&Value>,
        a: Option<&Value>,
    ) {
        if self.changes.len() >= MAX_CHANGES {
            return;
        }
        let keep = self.values == Values::Full && !is_secret(path);
        let (before, after) = match keep {
            true => (b.cloned(), a.cloned()),
            false => (None, None),
        };
        self.changes.push(Change { stage, author, path: path.to_owned(), kind, before, after });
    }
}

/// A PATCH body as a document keyed `op path`, so that its operations diff
/// like attributes; any other value as it is.
fn view(v: &Value) -> std::borrow::Cow<'_, Value> {
    let Some(ops) = v.get("Operations").and_then(Value::as_array) else { return std::borrow::Cow::Borrowed(v) };
    let mut m = Map::new();
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("?").to_ascii_lowercase();
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        match (op.get("path").and_then(Value::as_str), value) {
            (Some(path), value) => insert_unique(&mut m, format!("{name} {path}"), value),
            (None, Value::Object(attrs)) => {
                for (k, v) in attrs {
                    insert_unique(&mut m, format!("{name} {k}"), v);
                }
            }
            (None, value) => insert_unique(&mut m, name, value),
        }
    }
    std::borrow::Cow::Owned(Value::Object(m))
}

fn insert_unique(m: &mut Map<String, Value>, key: String, value: Value) {
    let mut k = key.clone();
    let mut n = 2;
    while m.contains_key(&k) {
        k = format!("{key} #{n}");
        n += 1;
    }
    m.insert(k, value);
}

/// One difference: its path, its kind, the values before and after.
type Found<'v> = (String, ChangeKind, Option<&'v Value>, Option<&'v Value>);

/// The child path of `prefix` for `key`: an extension's attributes follow
/// its URN after a colon, sub-attributes follow a dot. Returns the length
/// to truncate back to.
fn child(prefix: &mut String, key: &str, depth: usize) -> usize {
    let len = prefix.len();
    match (len, depth == 1 && prefix.starts_with("urn:")) {
        (0, _) => {}
        (_, true) => prefix.push(':'),
        (_, false) => prefix.push('.'),
    }
    prefix.push_str(key);
    len
}

/// The object a value is walked into (not a PATCH view's value).
fn walked<'v>(v: &'v Value, key: &str) -> Option<&'v Map<String, Value>> {
    v.as_object().filter(|m| !m.is_empty() && !key.contains(' '))
}

/// The leaf paths where two documents differ: objects are walked, arrays
/// and scalars are leaves; equal subtrees are skipped.
fn differ<'v>(before: &'v Value, after: &'v Value, prefix: &mut String, depth: usize, out: &mut Vec<Found<'v>>) {
    let (Some(old), Some(new)) = (before.as_object(), after.as_object()) else { return };
    let mut aligned = new.iter();
    for (k, was) in old {
        let len = child(prefix, k, depth);
        // Most keys keep their place: look there before hashing.
        let now = match aligned.next() {
            Some((key, v)) if key == k => Some(v),
            _ => new.get(k),
        };
        match now {
            None => every(was, k, prefix, depth, &mut |p, v| out.push((p, ChangeKind::Removed, Some(v), None))),
            Some(now) if same(now, was) => {}
            Some(now) => match (walked(was, k), walked(now, k)) {
                (Some(_), Some(_)) => differ(was, now, prefix, depth + 1, out),
                _ => out.push((prefix.clone(), ChangeKind::Changed, Some(was), Some(now))),
            },
        }
        prefix.truncate(len);
    }
    for (k, now) in new.iter().filter(|(k, _)| !old.contains_key(*k)) {
        let len = child(prefix, k, depth);
        every(now, k, prefix, depth, &mut |p, v| out.push((p, ChangeKind::Added, None, Some(v))));
        prefix.truncate(len);
    }
}

/// Whether two values are equal: objects with their keys in the same order
/// are compared in order (no hashing), anything else with `==`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            let in_order = x.iter().zip(y.iter()).all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy));
            in_order || a == b
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        _ => a == b,
    }
}

/// Every leaf under `v` (at `prefix`), with its path.
fn every<'v>(v: &'v Value, key: &str, prefix: &mut String, depth: usize, f: &mut dyn FnMut(String, &'v Value)) {
    match walked(v, key) {
        Some(m) => {
            for (k, inner) in m {
                let len = child(prefix, k, depth + 1);
                every(inner, k, prefix, depth + 1, f);
                prefix.truncate(len);
            }
        }
        None => f(prefix.clone(), v),
    }
}

/// Every leaf path of a document.
fn leaves(v: &Value, prefix: &mut String, depth: usize, out: &mut Vec<String>) {
    let Some(m) = v.as_object() else { return };
    for (k, inner) in m {
        let len = child(prefix, k, depth);
        every(inner, k, prefix, depth, &mut |p, _| out.push(p));
        prefix.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn by(_: &str) -> String {
        "t".into()
    }

    #[test]
    fn a_stage_lists_added_removed_and_changed_paths() {
        let mut log = ChangeLog::new(Values::Full);
        let before = json!({"userName": "A", "name": {"givenName": "a"}, "title": "x"});
        let after = json!({"userName": "a", "name": {"givenName": "a", "formatted": "a b"}});
        log.stage(Stage::Rule, &before, &after, &by);
        let got: Vec<(&str, ChangeKind)> = log.changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            got,
            [("userName", ChangeKind::Changed), ("name.formatted", ChangeKind::Added), ("title", ChangeKind::Removed)],
            "in the document's order"
        );
        assert_eq!(log.changes[0].after, Some(json!("a")));
    }

    #[test]
    fn paths_policy_keeps_no_values_and_full_never_keeps_a_password() {
        let before = json!({"password": "hunter2", "emails": [{"value": "a@x"}]});
        let after = json!({"password": "Hunter2!", "emails": [{"value": "b@x"}]});
        let mut paths = ChangeLog::new(Values::Paths);
        paths.stage(Stage::Plugin, &before, &after, &by);
        assert!(paths.changes.iter().all(|c| c.before.is_none() && c.after.is_none()));
        let mut full = ChangeLog::new(Values::Full);
        full.stage(Stage::Plugin, &before, &after, &by);
        let pw = full.changes.iter().find(|c| c.path == "password").unwrap();
        assert_eq!((pw.before.as_ref(), pw.after.as_ref()), (None, None));
        assert!(full.changes.iter().any(|c| c.path == "emails" && c.after.is_some()));
        let mut none = ChangeLog::new(Values::None);
        none.stage(Stage::Plugin, &before, &after, &by);
        none.requested(&after);
        assert!(none.changes.is_empty() && none.requested.is_empty());
    }

    #[test]
    fn patch_operations_diff_by_op_and_path_and_extensions_by_urn() {
        let mut log = ChangeLog::new(Values::Paths);
        let sent = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"},
            {"op": "add", "value": {"title": "t"}}]});
        log.requested(&sent);
        assert_eq!(log.requested, ["add title", "replace active"]);
        let mapped = json!({"Operations": [{"op": "replace", "path": "active", "value": false}]});
        log.stage(Stage::Normalization, &sent, &mapped, &by);
        let got: Vec<&str> = log.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(got, ["replace active", "add title"]);
        let ext = json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "1"}}});
        log.requested(&ext);
        assert_eq!(log.requested, ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"]);
    }
}
