//! Reading a mapping file: TOML syntax, the file's shape and each rule's
//! keys, with every problem collected (not just the first).

pub(crate) mod raw;

use crate::diag::{Sink, did_you_mean};
use crate::program::Direction;
use raw::{RULE_KEYS, RawRule};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Keys allowed at the top of a mapping file.
const TOP_KEYS: [&str; 5] = ["version", "description", "lookups", "User", "Group"];
/// The mapping language version this build reads.
pub const LANGUAGE_VERSION: i64 = 1;

/// A rule as written, with where it starts.
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub(crate) rule: RawRule,
    pub(crate) at: usize,
    pub(crate) index: usize,
}

/// Rules of one resource type and direction.
#[derive(Debug)]
pub(crate) struct RawBlock {
    pub(crate) resource: String,
    pub(crate) dir: Direction,
    pub(crate) rules: Vec<RawEntry>,
}

/// A named lookup table.
#[derive(Debug)]
pub(crate) struct RawLookup {
    pub(crate) at: usize,
    pub(crate) table: BTreeMap<String, String>,
}

/// A `managed = [...]` list of a resource type: the attributes the IdP
/// owns, the only ones a translated write may remove.
#[derive(Debug)]
pub(crate) struct RawManaged {
    pub(crate) resource: String,
    pub(crate) names: Vec<Spanned<String>>,
}

/// A whole mapping file as written.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    pub(crate) lookups: BTreeMap<String, RawLookup>,
    pub(crate) blocks: Vec<RawBlock>,
    pub(crate) managed: Vec<RawManaged>,
}

/// Parses `text`; problems go to `sink`.
pub(crate) fn parse(text: &str, sink: &mut Sink<'_>) -> RawFile {
    let (doc, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        sink.error(e.span().map_or(0, |s| s.start), format!("TOML syntax: {}", e.message().trim()), None);
    }
    let mut file = RawFile::default();
    if !doc.get_ref().keys().any(|k| k.get_ref().as_ref() == "version") && errors.is_empty() {
        let hint = Some(format!("start the file with `version = {LANGUAGE_VERSION}`"));
        sink.error(0, "the mapping language version is missing", hint);
    }
    for (key, value) in doc.get_ref() {
        let at = key.span().start;
        match key.get_ref().as_ref() {
            "version" => check_version(value, sink),
            "description" => {
                de::<String>(value, sink);
            }
            "lookups" => file.lookups = lookups(value, sink),
            name @ ("User" | "Group") => blocks(name, value, sink, &mut file),
            other => sink.error(at, format!("unknown key `{other}`"), did_you_mean(other, TOP_KEYS)),
        }
    }
    file
}

fn check_version(value: &Spanned<DeValue<'_>>, sink: &mut Sink<'_>) {
    if let Some(v) = de::<i64>(value, sink).filter(|v| *v != LANGUAGE_VERSION) {
        let hint = Some(format!("this build reads version {LANGUAGE_VERSION}"));
        sink.error(value.span().start, format!("unsupported mapping language version {v}"), hint);
    }
}

fn lookups(value: &Spanned<DeValue<'_>>, sink: &mut Sink<'_>) -> BTreeMap<String, RawLookup> {
    let Some(table) = as_table(value, "`lookups` must be a table of tables", sink) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for (name, v) in table {
        if let Some(table) = de::<BTreeMap<String, String>>(v, sink) {
            out.insert(name.get_ref().to_string(), RawLookup { at: name.span().start, table });
        }
    }
    out
}

fn blocks(resource: &str, value: &Spanned<DeValue<'_>>, sink: &mut Sink<'_>, file: &mut RawFile) {
    let msg = format!("`{resource}` must be a table with `request` and `response` rule lists and `managed`");
    let Some(table) = as_table(value, &msg, sink) else { return };
    for (key, v) in table {
        let dir = match key.get_ref().as_ref() {
            "request" => Direction::Request,
            "response" => Direction::Response,
            "managed" => {
                if let Some(names) = de::<Vec<Spanned<String>>>(v, sink) {
                    file.managed.push(RawManaged { resource: resource.to_owned(), names });
                }
                continue;
            }
            other => {
                let hint = did_you_mean(other, ["request", "response", "managed"]);
                sink.error(key.span().start, format!("unknown key `{resource}.{other}`"), hint);
                continue;
            }
        };
        let rules = rules(resource, dir, v, sink);
        file.blocks.push(RawBlock { resource: resource.to_owned(), dir, rules });
    }
}

fn rules(resource: &str, dir: Direction, value: &Spanned<DeValue<'_>>, sink: &mut Sink<'_>) -> Vec<RawEntry> {
    let Some(items) = value.get_ref().as_array() else {
        let msg =
            format!("`{resource}.{}` must be an array of rule tables ([[{resource}.{}]])", dir.as_str(), dir.as_str());
        sink.error(value.span().start, msg, None);
        return vec![];
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(table) = as_table(item, "a rule must be a table", sink) else { continue };
        let mut known = true;
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if !RULE_KEYS.contains(&name) {
                sink.error(key.span().start, format!("unknown rule key `{name}`"), did_you_mean(name, RULE_KEYS));
                known = false;
            }
        }
        if let Some(rule) = known.then(|| de::<RawRule>(item, sink)).flatten() {
            out.push(RawEntry { rule, at: item.span().start, index });
        }
    }
    out
}

fn as_table<'a, 'i>(value: &'a Spanned<DeValue<'i>>, msg: &str, sink: &mut Sink<'_>) -> Option<&'a DeTable<'i>> {
    let table = value.get_ref().as_table();
    if table.is_none() {
        sink.error(value.span().start, msg.to_owned(), None);
    }
    table
}

/// Deserializes one value; a failure becomes a diagnostic at its span.
fn de<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, sink: &mut Sink<'_>) -> Option<T> {
    sink.de(value)
}
