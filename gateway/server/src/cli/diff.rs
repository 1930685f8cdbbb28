//! A readable structural diff of two JSON documents, for `map --diff`.

use scim_core::patch::{PatchOp, PatchOperation};
use serde_json::Value;
use std::fmt::Write;

/// One line per changed leaf: `+ path: new`, `- path: old`, `~ path: old -> new`.
/// Objects are compared key by key; arrays and scalars as whole values.
pub(crate) fn diff(before: &Value, after: &Value) -> String {
    let mut out = String::new();
    walk("", before, after, &mut out);
    if out.is_empty() {
        out.push_str("(no changes)\n");
    }
    out
}

/// The operations the mapping took out (`-`) and put in (`+`).
pub(crate) fn ops_diff(before: &PatchOp, after: &PatchOp) -> String {
    let text = |op: &PatchOperation| {
        let path = op.path.as_ref().map(|p| format!(" {p}")).unwrap_or_default();
        let value = op.value.as_ref().map(|v| format!(" {v}")).unwrap_or_default();
        format!("{}{path}{value}", op.op.as_str())
    };
    let mut out = String::new();
    for op in before.operations.iter().filter(|o| !after.operations.contains(o)) {
        line(&mut out, '-', "op", &text(op));
    }
    for op in after.operations.iter().filter(|o| !before.operations.contains(o)) {
        line(&mut out, '+', "op", &text(op));
    }
    if out.is_empty() {
        out.push_str("(no changes)\n");
    }
    out
}

fn walk(prefix: &str, before: &Value, after: &Value, out: &mut String) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let path = join(prefix, k);
                match b.get(k) {
                    Some(vb) => walk(&path, va, vb, out),
                    None => line(out, '-', &path, &va.to_string()),
                }
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                line(out, '+', &join(prefix, k), &vb.to_string());
            }
        }
        (a, b) if a == b => {}
        (a, b) => line(out, '~', prefix, &format!("{a} -> {b}")),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

fn line(out: &mut String, mark: char, path: &str, text: &str) {
    let _ = writeln!(out, "{mark} {path}: {text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_changes_by_path() {
        let before = json!({"userName": "JDoe", "password": "x", "name": {"givenName": "Jane"}});
        let after = json!({"userName": "jdoe", "name": {"givenName": "Jane", "formatted": "Jane Doe"}});
        assert_eq!(
            diff(&before, &after),
            "~ userName: \"JDoe\" -> \"jdoe\"\n- password: \"x\"\n+ name.formatted: \"Jane Doe\"\n"
        );
        assert_eq!(diff(&after, &after), "(no changes)\n");
    }
}
