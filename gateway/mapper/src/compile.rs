//! From mapping files to a [`Program`]: validate every rule against the
//! SCIM schemas, compile paths, filters, regexes and templates, resolve
//! `@` references and order the rules. Every problem is reported at once.

mod link;
mod rule;
mod source;

use crate::diag::{Diagnostic, Severity, Sink};
use crate::load::{self, RawFile};
use crate::program::{Direction, Managed, Program, RuleList};
use scim_core::path::Path;
use scim_core::schema::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One mapping file's name (for diagnostics) and text.
#[derive(Debug, Clone, Copy)]
pub struct MappingSource<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// A program that compiled, with the warnings found on the way.
#[derive(Debug)]
pub struct Compiled {
    pub program: Program,
    pub warnings: Vec<Diagnostic>,
}

/// Compiles mapping files, in order, into one program. Rules of the same
/// resource type and direction are concatenated in file order.
///
/// Errors: every diagnostic (errors and warnings), sorted by file and line.
pub fn compile(sources: &[MappingSource<'_>], registry: Registry) -> Result<Compiled, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut lists: BTreeMap<(String, Direction), RuleList> = BTreeMap::new();
    let mut managed: BTreeMap<String, Managed> = BTreeMap::new();
    for source in sources {
        let mut sink = Sink::new(source.name, source.text);
        let raw = load::parse(source.text, &mut sink);
        compile_file(&raw, &registry, &mut sink, &mut lists);
        compile_managed(&raw, &registry, &mut sink, &mut managed);
        diagnostics.append(&mut sink.out);
    }
    link::link_all(&mut lists, &registry, &mut diagnostics);
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(diagnostics);
    }
    Ok(Compiled { program: Program { registry, lists, managed }, warnings: diagnostics })
}

fn compile_file(
    raw: &RawFile,
    registry: &Registry,
    sink: &mut Sink<'_>,
    lists: &mut BTreeMap<(String, Direction), RuleList>,
) {
    let lookups: BTreeMap<String, Arc<BTreeMap<String, String>>> =
        raw.lookups.iter().map(|(name, l)| (name.clone(), Arc::new(l.table.clone()))).collect();
    for block in &raw.blocks {
        let Some(schema) = registry.resource(&block.resource) else {
            continue;
        };
        let list = lists.entry((block.resource.clone(), block.dir)).or_default();
        for entry in &block.rules {
            let mut ctx = rule::Ctx { sink, schema: &schema, lookups: &lookups, dir: block.dir };
            let label = format!("{}.{}[{}]", block.resource, block.dir.as_str(), entry.index);
            if let Some(rule) = ctx.rule(&entry.rule, entry.at, label) {
                list.rules.push(rule);
            }
        }
    }
    for (name, lookup) in &raw.lookups {
        if lookup.table.is_empty() {
            sink.warn(lookup.at, format!("lookup table `{name}` is empty"), None);
        }
    }
}

/// `managed = [...]`: each entry a top-level attribute of the resource type
/// (URN-qualified for an extension's), no sub-attributes or filters, or
/// `"*"` for every attribute. Lists from several files are joined.
fn compile_managed(raw: &RawFile, registry: &Registry, sink: &mut Sink<'_>, out: &mut BTreeMap<String, Managed>) {
    for list in &raw.managed {
        let Some(schema) = registry.resource(&list.resource) else { continue };
        let entry = out.entry(list.resource.clone()).or_insert_with(|| Managed::Only(vec![]));
        for name in &list.names {
            let at = name.span().start;
            if name.get_ref() == "*" {
                *entry = Managed::All;
                continue;
            }
            let parsed = Path::parse(name.get_ref()).ok().filter(|p| p.filter.is_none() && p.sub.is_none());
            let Some(path) = parsed else {
                let hint = Some("name a top-level attribute, such as \"emails\" or \"urn:...:User:manager\"".into());
                sink.error(at, format!("`{}` is not a top-level attribute path", name.get_ref()), hint);
                continue;
            };
            if schema.top_attribute(path.urn.as_deref(), &path.name).is_none() {
                let hint = Some(format!("{} has no such attribute in the loaded schemas", list.resource));
                sink.error(at, format!("unknown attribute `{}` in `{}.managed`", name.get_ref(), list.resource), hint);
                continue;
            }
            if let Managed::Only(paths) = entry
                && !paths.iter().any(|p| p.to_string().eq_ignore_ascii_case(&path.to_string()))
            {
                paths.push(path);
            }
        }
    }
}
