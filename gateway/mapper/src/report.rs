//! What the engine tells its caller besides the mapped document.

use serde::Serialize;
use serde_json::Value;

/// Why a rule did or did not write its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule wrote its output (or removed its target, when empty).
    Fired,
    /// Its `when` condition was false.
    ConditionFalse,
    /// A create-only rule on a replace: the current value was carried over.
    CarriedOver,
    /// A create-only rule on a PATCH, or a rule the request does not touch.
    NotApplicable,
    /// Its inputs were not all known (see [`Report::skipped`]).
    Skipped,
    /// It failed; see [`Report::failures`].
    Failed,
}

/// One rule's evaluation, for `--explain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub rule: String,
    /// `file:line:col` of the rule.
    pub at: String,
    pub outcome: Outcome,
    /// The source paths read and what they held.
    pub inputs: Vec<(String, Value)>,
    /// What the rule produced (`null`: nothing, so the target is removed).
    pub output: Option<Value>,
}

/// A rule that failed; its target was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub rule: String,
    pub target: String,
    pub message: String,
}

/// A rule that was not computed because an input could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub rule: String,
    pub target: String,
    /// The inputs that were missing.
    pub missing: Vec<String>,
}

/// Everything the engine noticed while mapping one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Per-rule traces, filled only when explaining.
    pub traces: Vec<Trace>,
    /// Rules that failed while the request went through (deprovisioning).
    pub failures: Vec<Failure>,
    /// Rules skipped for lack of inputs.
    pub skipped: Vec<Skip>,
    /// IdP operations or attributes that rules dropped or replaced.
    pub dropped: Vec<String>,
    /// Create-only targets that a replace could not carry over because no
    /// current resource was given.
    pub needs_current: Vec<String>,
}

impl Report {
    /// Whether nothing needs the caller's attention.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.skipped.is_empty() && self.needs_current.is_empty()
    }

    /// Appends another report's entries.
    pub fn extend(&mut self, other: Report) {
        self.traces.extend(other.traces);
        self.failures.extend(other.failures);
        self.skipped.extend(other.skipped);
        self.dropped.extend(other.dropped);
        self.needs_current.extend(other.needs_current);
    }
}
