//! Value transforms: the chainable string functions a rule applies to its
//! source value.

mod ascii;

pub(crate) use ascii::to_ascii;

use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Names of the transforms that take no argument.
pub(crate) const SIMPLE: [&str; 6] = ["lower", "upper", "trim", "strip_spaces", "title", "ascii"];
/// Keys that name a transform taking arguments.
pub(crate) const WITH_ARGS: [&str; 5] = ["replace", "split", "before", "after", "lookup"];

/// One compiled transform.
#[derive(Debug, Clone)]
pub(crate) enum Transform {
    Lower,
    Upper,
    Trim,
    StripSpaces,
    Title,
    Ascii,
    Replace { regex: Regex, with: String },
    Split { sep: String, index: i64 },
    Before(String),
    After(String),
    Lookup { table: Arc<BTreeMap<String, String>>, default: Option<String> },
}

impl Transform {
    /// A transform without arguments, by name.
    pub(crate) fn simple(name: &str) -> Option<Self> {
        Some(match name {
            "lower" => Self::Lower,
            "upper" => Self::Upper,
            "trim" => Self::Trim,
            "strip_spaces" => Self::StripSpaces,
            "title" => Self::Title,
            "ascii" => Self::Ascii,
            _ => return None,
        })
    }

    /// Whether applying the transform twice equals applying it once and it
    /// only changes case, spacing or diacritics: a filter literal can be
    /// normalized with it and still compare the way the stored values do.
    pub(crate) fn is_normalizer(&self) -> bool {
        matches!(self, Self::Lower | Self::Upper | Self::Trim | Self::StripSpaces | Self::Title | Self::Ascii)
    }

    /// Applies the transform to one string. Case and trimming change the
    /// string in place (ASCII case needs no tables; a string outside ASCII
    /// is cased by Unicode's rules, as `str::to_lowercase` does).
    pub(crate) fn apply(&self, mut s: String) -> String {
        match self {
            Self::Lower if s.is_ascii() => {
                s.make_ascii_lowercase();
                s
            }
            Self::Lower => s.to_lowercase(),
            Self::Upper if s.is_ascii() => {
                s.make_ascii_uppercase();
                s
            }
            Self::Upper => s.to_uppercase(),
            Self::Trim => trim_in_place(s),
            Self::StripSpaces => s.chars().filter(|c| !c.is_whitespace()).collect(),
            Self::Title => title_case(&s),
            Self::Ascii => to_ascii(&s),
            Self::Replace { regex, with } => regex.replace_all(&s, with.as_str()).into_owned(),
            Self::Split { sep, index } => split_item(&s, sep, *index),
            Self::Before(sep) => s.split_once(sep.as_str()).map_or(s.as_str(), |(b, _)| b).to_owned(),
            Self::After(sep) => s.split_once(sep.as_str()).map_or("", |(_, a)| a).to_owned(),
            Self::Lookup { table, default } => match table.get(&s) {
                Some(v) => v.clone(),
                None => default.clone().unwrap_or(s),
            },
        }
    }
}

/// Applies a chain to a JSON value: strings directly, numbers and booleans
/// as their text, arrays element by element. Objects cannot be transformed.
pub(crate) fn apply_chain(chain: &[Transform], value: Value) -> Result<Value, String> {
    if chain.is_empty() {
        return Ok(value);
    }
    match value {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(Value::String(apply_str(chain, s))),
        Value::Number(n) => Ok(Value::String(apply_str(chain, n.to_string()))),
        Value::Bool(b) => Ok(Value::String(apply_str(chain, b.to_string()))),
        Value::Array(items) => {
            items.into_iter().map(|v| apply_chain(chain, v)).collect::<Result<_, _>>().map(Value::Array)
        }
        Value::Object(_) => Err("transforms apply to strings, numbers and booleans, not to objects".into()),
    }
}

fn apply_str(chain: &[Transform], s: String) -> String {
    chain.iter().fold(s, |acc, t| t.apply(acc))
}

/// `s` without the whitespace around it, as `str::trim` has it. A string
/// that starts and ends with ASCII other than whitespace (most do) is
/// given back as it is, its characters not decoded one by one.
pub(crate) fn trimmed(s: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' '));
    match plain(s.as_bytes().first()) && plain(s.as_bytes().last()) {
        true => s,
        false => s.trim(),
    }
}

/// `s` without the whitespace around it (as `str::trim` has it), in its
/// own buffer.
fn trim_in_place(mut s: String) -> String {
    if trimmed(&s).len() == s.len() {
        return s;
    }
    s.truncate(s.trim_end().len());
    let start = s.len() - s.trim_start().len();
    s.drain(..start);
    s
}

/// Upper-cases the first letter of every word (words break at whitespace
/// and hyphens) and lower-cases the rest: `mary-jane o'neil` -> `Mary-Jane O'neil`.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c.is_whitespace() || c == '-';
    }
    out
}

/// Item `index` of `s` split at `sep` (negative counts from the end); empty
/// when there is no such item.
fn split_item(s: &str, sep: &str, index: i64) -> String {
    if sep.is_empty() {
        return s.to_owned();
    }
    let item = if index >= 0 {
        usize::try_from(index).ok().and_then(|i| s.split(sep).nth(i))
    } else {
        usize::try_from(-(index + 1)).ok().and_then(|i| s.rsplit(sep).nth(i))
    };
    item.unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests;
