//! SCIM filters (RFC 7644 section 3.4.2.2): the syntax tree, a parser with a
//! strict and a lenient mode, a printer, and an evaluator.
//!
//! Precedence, tightest first: attribute expressions and `not ( )`, then
//! `and`, then `or`. `and` and `or` associate to the left.

mod eval;
mod lexer;
mod parser;

pub use parser::{MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS};

use crate::error::ScimError;
use crate::path::AttrPath;
use serde_json::Value;
use std::fmt;

/// A comparison operator. `pr` is [`Filter::Present`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Parses an operator name, ignoring case.
    pub fn parse(word: &str) -> Option<Self> {
        const OPS: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        OPS.iter().find(|(name, _)| name.eq_ignore_ascii_case(word)).map(|(_, op)| *op)
    }

    /// The operator's lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Whether the operator orders values (gt, ge, lt, le).
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`; `value` is a JSON string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `path pr`
    Present(AttrPath),
    /// `path[filter]`, optionally followed by a comparison on one of the
    /// matched value's sub-attributes: `emails[type eq "work"].value eq "x"`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
        then: Option<Box<Filter>>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// How forgiving the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// RFC 7644 only: string values must be quoted.
    #[default]
    Strict,
    /// What IdPs send: an unquoted value that is not a number, `true`,
    /// `false` or `null` is read as a string (`externalId eq jyoung`).
    Lenient,
}

impl Filter {
    /// Parses an RFC 7644 filter. Errors are `invalidFilter` and say where.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        parser::parse(text, Mode::Strict)
    }

    /// Parses with the given [`Mode`].
    pub fn parse_with(text: &str, mode: Mode) -> Result<Self, ScimError> {
        parser::parse(text, mode)
    }

    fn precedence(&self) -> u8 {
        match self {
            Self::Or(..) => 1,
            Self::And(..) => 2,
            _ => 3,
        }
    }

    /// Calls `f` on every attribute path in the filter, value-filter paths
    /// and their sub-attribute comparisons included.
    pub fn visit_paths_mut(&mut self, f: &mut dyn FnMut(&mut AttrPath, Option<&mut Value>)) {
        match self {
            Self::Compare { path, value, .. } => f(path, Some(value)),
            Self::Present(path) => f(path, None),
            Self::ValuePath { path, filter, then } => {
                f(path, None);
                filter.visit_paths_mut(f);
                if let Some(t) = then {
                    t.visit_paths_mut(f);
                }
            }
            Self::And(a, b) | Self::Or(a, b) => {
                a.visit_paths_mut(f);
                b.visit_paths_mut(f);
            }
            Self::Not(inner) => inner.visit_paths_mut(f),
        }
    }
}

fn write_child(f: &mut fmt::Formatter<'_>, child: &Filter, parens: bool) -> fmt::Result {
    if parens { write!(f, "({child})") } else { write!(f, "{child}") }
}

impl fmt::Display for Filter {
    /// Prints the canonical form: lower-case operators, JSON literals, and
    /// parentheses exactly where the tree needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::ValuePath { path, filter, then } => {
                write!(f, "{path}[{filter}]")?;
                match then {
                    Some(t) => write!(f, ".{t}"),
                    None => Ok(()),
                }
            }
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::And(a, b) | Self::Or(a, b) => {
                let (prec, word) = (self.precedence(), if matches!(self, Self::And(..)) { "and" } else { "or" });
                write_child(f, a, a.precedence() < prec)?;
                write!(f, " {word} ")?;
                write_child(f, b, b.precedence() <= prec)
            }
        }
    }
}

#[cfg(test)]
mod tests;
