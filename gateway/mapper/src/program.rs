//! The compiled form of a mapping: what the loader produces and every
//! request applies. Nothing here is parsed again after load.

use crate::eval::Fit;
use crate::paths::AttrKey;
use crate::template::Template;
use crate::transform::Transform;
use jsonpath_rust::parser::model::JpQuery;
use scim_core::filter::Filter;
use scim_core::path::{Located, Path};
use scim_core::schema::Registry;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

pub use scim_core::Direction;

/// When a rule writes its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// On every write (POST, PUT, PATCH).
    Always,
    /// Only when the resource is created; a PUT carries the current value
    /// over and a PATCH leaves it alone.
    Create,
}

/// Where a rule was written, for diagnostics and `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One place a value can come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A SCIM attribute path of the incoming document, and where it lies
    /// in the schema the rule was compiled against.
    Path(Path, Located),
    /// A JSONPath query over the incoming document.
    JsonPath {
        query: Box<JpQuery>,
        text: String,
        top: Option<String>,
    },
    /// The output of other rules (`@name.formatted`): indexes of the rules
    /// that write that target, in declaration order.
    Ref {
        path: Path,
        rules: Vec<usize>,
    },
    Template(Template),
    Const(Value),
}

/// What a rule does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Writes the first non-empty source, transformed, or the default.
    Set { target: Path, sources: Vec<Source>, transforms: Vec<Transform>, default: Option<Value> },
    /// Deletes an attribute.
    Remove { path: Path },
    /// Moves an attribute to another path.
    Rename { from: Path, to: Path },
    /// Transforms every value the path selects, in place (`from` equal to
    /// `target`, no default, no condition).
    Each { path: Path, transforms: Vec<Transform> },
}

impl Action {
    /// The path this action writes.
    pub(crate) fn target(&self) -> Option<&Path> {
        match self {
            Action::Set { target, .. } => Some(target),
            Action::Rename { to, .. } => Some(to),
            Action::Each { path, .. } => Some(path),
            Action::Remove { .. } => None,
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The rule's `name`, or `User.request[2]`.
    pub(crate) label: String,
    pub(crate) origin: Origin,
    pub(crate) action: Action,
    pub(crate) condition: Option<Filter>,
    pub(crate) when: When,
    /// The attributes the condition reads.
    pub(crate) condition_reads: Vec<AttrKey>,
    /// The attributes the rule reads (condition included); `None` when it
    /// may read anything (a JSONPath that does not start at an attribute).
    pub(crate) reads: Option<Vec<AttrKey>>,
    /// What the target takes (the default for a `remove`).
    pub(crate) fit: Fit,
}

impl Rule {
    /// The path this rule writes.
    pub(crate) fn target(&self) -> Option<&Path> {
        self.action.target()
    }

    /// Every path this rule writes or deletes.
    pub(crate) fn written(&self) -> Vec<&Path> {
        match &self.action {
            Action::Set { target: p, .. } | Action::Remove { path: p } | Action::Each { path: p, .. } => vec![p],
            Action::Rename { from, to } => vec![from, to],
        }
    }

    /// Whether the rule reads the attribute `key` names (or anything).
    pub(crate) fn reads(&self, key: &AttrKey) -> bool {
        self.reads.as_ref().is_none_or(|ks| ks.iter().any(|k| k.overlaps(key)))
    }

    /// The top-level core attribute whose incoming value this rule
    /// discards on every write, whatever the document holds, lower-cased:
    /// a `remove` of it whole, or a write of the whole of it (its own
    /// reads are [`Rule::reads_top`]'s to check), with no condition, on
    /// every write. `None` for any other rule. `core` is the resource
    /// type's core schema URN.
    fn discards_whole(&self, core: &str) -> Option<String> {
        let (Action::Remove { path } | Action::Set { target: path, .. }) = &self.action else { return None };
        let whole = path.filter.is_none() && path.sub.is_none();
        let in_core = path.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(core));
        (whole && in_core && self.condition.is_none() && self.when == When::Always).then(|| path.name.to_lowercase())
    }

    /// Whether the rule reads anything of the top-level attribute `top`
    /// (lower-cased), or may read anything.
    fn reads_top(&self, top: &str) -> bool {
        self.reads.as_ref().is_none_or(|ks| ks.iter().any(|k| k.top == top))
    }

    /// The top-level attributes the rule reads or writes, lower-cased (as
    /// [`AttrKey`] has them), repeats included; `None` when it may read
    /// anything. [`Program::footprint`] and [`Rule::names`] share it.
    fn tops<'a>(&'a self, core: &'a str) -> Option<impl Iterator<Item = String> + 'a> {
        let reads = self.reads.as_ref()?.iter().map(|k| k.top.clone());
        Some(reads.chain(self.written().into_iter().map(move |p| AttrKey::of_path(p, core).top)))
    }

    /// Whether the rule reads or writes anything of the top-level
    /// attribute `top` (lower-cased), or may read anything.
    fn names(&self, top: &str, core: &str) -> bool {
        self.tops(core).is_none_or(|mut tops| tops.any(|t| t == top))
    }
}

/// The rules of one resource type and direction, with their evaluation order.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleList {
    pub(crate) rules: Vec<Rule>,
    /// Indexes into `rules`: references before the rules that read them.
    pub(crate) order: Vec<usize>,
    /// Per rule, the rules whose output it reads through `@` references.
    pub(crate) deps: Vec<Vec<usize>>,
    /// Per rule, whether another rule reads its output (its value is kept
    /// for them while the rules are evaluated).
    pub(crate) read_back: Vec<bool>,
}

/// A validated, compiled mapping: load once, apply to every request.
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) registry: Registry,
    /// Keyed by resource type name (`User`, `Group`) and direction.
    pub(crate) lists: BTreeMap<(String, Direction), RuleList>,
    /// Per resource type, the attributes the mapping declares the IdP owns
    /// (`managed = [...]`); absent when not declared.
    pub(crate) managed: BTreeMap<String, Managed>,
}

/// The attributes a mapping declares the IdP owns for one resource type.
#[derive(Debug, Clone, PartialEq)]
pub enum Managed {
    /// `managed = ["*"]`: every attribute.
    All,
    /// These top-level attributes (URN-qualified for an extension's).
    Only(Vec<Path>),
}

impl Program {
    /// A program without rules: every document passes unchanged.
    pub fn identity(registry: Registry) -> Self {
        Self { registry, lists: BTreeMap::new(), managed: BTreeMap::new() }
    }

    /// The schemas this program was compiled against.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn list(&self, resource_type: &str, dir: Direction) -> Option<&RuleList> {
        let found = self.lists.iter().find(|((rt, d), _)| *d == dir && rt == resource_type);
        found.map(|(_, list)| list).filter(|l| !l.rules.is_empty())
    }

    /// How many rules the program holds for a resource type and direction.
    pub fn rule_count(&self, resource_type: &str, dir: Direction) -> usize {
        self.list(resource_type, dir).map_or(0, |l| l.rules.len())
    }

    /// The attributes of a resource type that the mapping declares managed
    /// by the IdP (`managed = [...]` in any of its files, joined), or `None`
    /// when no file declares them. A translated write removes only these.
    pub fn managed(&self, resource_type: &str) -> Option<&Managed> {
        self.managed.get(resource_type)
    }

    /// Who wrote `path` in a change list: `file:line:col` of the rule that
    /// writes or removes it (or the attribute holding it, or one inside
    /// it), the last such rule when several do. A PATCH's `op path` is
    /// looked up by its path.
    pub fn author_of(&self, resource_type: &str, dir: Direction, path: &str) -> Option<String> {
        let wanted = plain(path.rsplit_once(' ').map_or(path, |(_, p)| p));
        let top = |p: &str| p.split(['.', '[']).next().unwrap_or("").to_owned();
        let score = |written: &str| match (written == wanted, wanted.starts_with(written), written.starts_with(&wanted))
        {
            (true, _, _) => 3,
            (_, true, _) | (_, _, true) => 2,
            _ if top(written) == top(&wanted) => 1,
            _ => 0,
        };
        let list = self.list(resource_type, dir)?;
        let best = list
            .rules
            .iter()
            .flat_map(|r| r.written().into_iter().map(move |p| (score(&plain(&p.to_string())), r)))
            .filter(|(s, _)| *s > 0)
            .fold(None::<(u8, &Rule)>, |best, (s, r)| match best {
                Some((b, _)) if b > s => best,
                _ => Some((s, r)),
            });
        best.map(|(_, r)| r.origin.to_string())
    }

    /// The top-level attributes the rules of a resource type and direction
    /// read or write, worked out once (when the gateway compiles a route).
    pub fn footprint(&self, resource_type: &str, dir: Direction) -> Footprint {
        let Some(list) = self.list(resource_type, dir) else { return Footprint::Tops(Vec::new()) };
        let core = self.registry.resource(resource_type).map(|s| s.core_urn().to_owned()).unwrap_or_default();
        let mut tops: Vec<String> = Vec::new();
        for rule in &list.rules {
            let Some(keys) = rule.tops(&core) else { return Footprint::Everything };
            for top in keys {
                if !tops.contains(&top) {
                    tops.push(top);
                }
            }
        }
        Footprint::Tops(tops)
    }

    /// The top-level core attributes whose incoming values the rules of a
    /// resource type and direction discard, lower-cased: every rule that
    /// reads or writes one removes or writes the whole of it (no value
    /// filter, no sub-attribute) with no condition, on every write, and
    /// none reads it. Whatever a body holds under one, no rule sees it and
    /// none of it is left once they ran (okta-to-notion's `password` and
    /// `groups`, removed, and `userName` and `displayName`, written from
    /// other attributes). Empty when a rule may read anything (see
    /// [`Program::footprint`]).
    pub fn discarded(&self, resource_type: &str, dir: Direction) -> Vec<String> {
        let Some(list) = self.list(resource_type, dir) else { return Vec::new() };
        if list.rules.iter().any(|r| r.reads.is_none()) {
            return Vec::new();
        }
        let core = self.registry.resource(resource_type).map(|s| s.core_urn().to_owned()).unwrap_or_default();
        let mut discarded: Vec<String> = list.rules.iter().filter_map(|r| r.discards_whole(&core)).collect();
        discarded.sort_unstable();
        discarded.dedup();
        discarded.retain(|top| {
            list.rules.iter().all(|r| match r.discards_whole(&core) {
                Some(t) if t == *top => !r.reads_top(top),
                _ => !r.names(top, &core),
            })
        });
        discarded
    }

    /// Whether a PUT of this resource type needs the current resource to
    /// carry create-only targets over.
    pub fn replace_needs_current(&self, resource_type: &str) -> bool {
        self.list(resource_type, Direction::Request).is_some_and(|l| l.rules.iter().any(|r| r.when == When::Create))
    }
}

/// The top-level attributes a list of rules reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Footprint {
    /// A rule may read anything (a JSONPath that starts at no attribute).
    Everything,
    /// These, lower-cased (an extension's attribute as `urn:...:name`).
    Tops(Vec<String>),
}

impl Footprint {
    /// Whether the rules may read or write the top-level attribute named
    /// `key` (in any case; a core attribute's plain name).
    pub fn touches(&self, key: &str) -> bool {
        match self {
            Footprint::Everything => true,
            Footprint::Tops(tops) => tops.iter().any(|t| t.eq_ignore_ascii_case(key)),
        }
    }

    /// Whether the rules may read or write the extension `urn`'s object
    /// or an attribute in it (`urn` or `urn:...`, in any case).
    pub fn touches_extension(&self, urn: &str) -> bool {
        let within = |t: &String| {
            t.get(..urn.len()).is_some_and(|head| head.eq_ignore_ascii_case(urn))
                && matches!(t.as_bytes().get(urn.len()), None | Some(b':'))
        };
        match self {
            Footprint::Everything => true,
            Footprint::Tops(tops) => tops.iter().any(within),
        }
    }
}

/// A path lower-cased without its value filters, for comparing.
fn plain(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    out
}
