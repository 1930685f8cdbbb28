//! Linking a program: `@` references resolved to the rules that write
//! them, rules ordered so references come first, cycles refused, and a
//! warning for request renames without an inverse.

use crate::diag::{Diagnostic, Severity, did_you_mean};
use crate::paths::path_key;
use crate::program::{Action, Direction, Rule, RuleList, Source};
use scim_core::schema::Registry;
use std::collections::BTreeMap;

pub(crate) fn link_all(
    lists: &mut BTreeMap<(String, Direction), RuleList>,
    registry: &Registry,
    out: &mut Vec<Diagnostic>,
) {
    for ((resource, dir), list) in lists.iter_mut() {
        let Some(schema) = registry.resource(resource) else { continue };
        let core = schema.core_urn();
        resolve_refs(list, core, out);
        order(list, &format!("{resource}.{}", dir.as_str()), out);
    }
    rename_inverses(lists, registry, out);
}

fn diag(rule: &Rule, severity: Severity, message: String, hint: Option<String>) -> Diagnostic {
    let o = &rule.origin;
    Diagnostic { severity, file: o.file.clone(), line: o.line, col: o.col, message, hint }
}

fn resolve_refs(list: &mut RuleList, core: &str, out: &mut Vec<Diagnostic>) {
    let mut writers: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, rule) in list.rules.iter().enumerate() {
        if let Some(t) = rule.target() {
            writers.entry(path_key(t, core)).or_default().push(i);
        }
    }
    for rule in &mut list.rules {
        let mut missing = Vec::new();
        for source in sources_mut(rule) {
            if let Source::Ref { path, rules } = source {
                match writers.get(&path_key(path, core)) {
                    Some(w) => rules.clone_from(w),
                    None => missing.push(path.to_string()),
                }
            }
        }
        for m in missing {
            let hint = did_you_mean(&m, writers.keys().map(String::as_str));
            out.push(diag(rule, Severity::Error, format!("`@{m}` names no rule's target"), hint));
        }
    }
}

/// Every source of a rule, template fields included.
pub(crate) fn sources_mut(rule: &mut Rule) -> Vec<&mut Source> {
    let Action::Set { sources, .. } = &mut rule.action else { return vec![] };
    let mut out = Vec::new();
    for s in sources.iter_mut() {
        match s {
            Source::Template(t) => out.extend(t.fields.iter_mut()),
            other => out.push(other),
        }
    }
    out
}

/// Rule indexes a rule reads through `@` references.
fn deps(rule: &Rule) -> Vec<usize> {
    let Action::Set { sources, .. } = &rule.action else { return vec![] };
    let mut out = Vec::new();
    for s in sources {
        match s {
            Source::Ref { rules, .. } => out.extend(rules),
            Source::Template(t) => {
                for f in &t.fields {
                    if let Source::Ref { rules, .. } = f {
                        out.extend(rules);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Kahn's algorithm, stable by declaration order.
fn order(list: &mut RuleList, block: &str, out: &mut Vec<Diagnostic>) {
    let n = list.rules.len();
    let deps: Vec<Vec<usize>> = list.rules.iter().map(deps).collect();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| {
            !done.get(i).copied().unwrap_or(true)
                && deps.get(i).is_some_and(|d| d.iter().all(|&j| done.get(j).copied().unwrap_or(false)))
        });
        let Some(i) = next else { break };
        if let Some(d) = done.get_mut(i) {
            *d = true;
        }
        order.push(i);
    }
    if order.len() < n {
        let stuck: Vec<&Rule> =
            (0..n).filter(|&i| !done.get(i).copied().unwrap_or(true)).filter_map(|i| list.rules.get(i)).collect();
        let names: Vec<&str> = stuck.iter().map(|r| r.label.as_str()).collect();
        for rule in &stuck {
            let msg = format!("rules of {block} read each other's output in a cycle: {}", names.join(" -> "));
            let hint = Some("an `@` reference must not lead back to the rule itself".into());
            out.push(diag(rule, Severity::Error, msg, hint));
        }
    }
    list.order = order;
    list.read_back = (0..n).map(|i| deps.iter().any(|d| d.contains(&i))).collect();
    list.deps = deps;
}

fn rename_inverses(lists: &BTreeMap<(String, Direction), RuleList>, registry: &Registry, out: &mut Vec<Diagnostic>) {
    for ((resource, dir), list) in lists {
        if *dir != Direction::Request {
            continue;
        }
        let Some(schema) = registry.resource(resource) else { continue };
        let core = schema.core_urn();
        let response = lists.get(&(resource.clone(), Direction::Response));
        for rule in &list.rules {
            let Action::Rename { from, to } = &rule.action else { continue };
            let (from_key, to_key) = (path_key(from, core), path_key(to, core));
            let inverted = response.is_some_and(|r| r.rules.iter().any(|rr| is_inverse(rr, &from_key, &to_key, core)));
            if !inverted {
                let msg = format!(
                    "request rule renames `{from}` to `{to}` but no response rule renames it back: filters on `{from}` and the IdP's view of it will break"
                );
                let hint = Some(format!("add [[{resource}.response]] rename = \"{to}\", to = \"{from}\""));
                out.push(diag(rule, Severity::Warning, msg, hint));
            }
        }
    }
}

fn is_inverse(rule: &Rule, from_key: &str, to_key: &str, core: &str) -> bool {
    match &rule.action {
        Action::Rename { from, to } => path_key(from, core) == to_key && path_key(to, core) == from_key,
        Action::Set { target, sources, .. } => {
            path_key(target, core) == from_key
                && matches!(sources.as_slice(), [Source::Path(p, _)] if path_key(p, core) == to_key)
        }
        Action::Remove { .. } | Action::Each { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::{MappingSource, compile};
    use crate::program::Direction;

    #[test]
    fn a_rules_output_is_read_back_only_when_another_rule_names_it() {
        let text = r#"
version = 1
[[User.request]]
target = "name.formatted"
template = "{name.givenName} {name.familyName}"
[[User.request]]
target = "displayName"
from = "@name.formatted"
[[User.request]]
target = "nickName"
template = "{@displayName}!"
[[User.request]]
target = "title"
from = "userName"
"#;
        let program = compile(&[MappingSource { name: "m.toml", text }], scim_core::Registry::core()).unwrap().program;
        let list = program.list("User", Direction::Request).unwrap();
        assert_eq!(list.read_back, [true, true, false, false]);
    }
}
