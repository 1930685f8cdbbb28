//! `full-name`: builds `name.formatted` and `displayName` from the name
//! parts, in a configurable format, after tidying the parts: whitespace
//! collapsed, and a part written all in lower or all in upper case given
//! capitals (`jANE` stays as typed, `JANE` becomes `Jane`, `o'brien-smith`
//! becomes `O'Brien-Smith`; mixed case such as `McDonald` or `van der Berg`
//! is left alone).
//!
//! Config (all optional):
//! - `format`: placeholders `{given}`, `{middle}`, `{family}`, `{prefix}`,
//!   `{suffix}`; default `"{given} {family}"`. Empty parts leave no double
//!   spaces or dangling commas.
//! - `display_name`: also set `displayName` (default `true`).
//!
//! Runs on requests (create, replace, patch); answers pass unchanged.

use scim_plugin_sdk::{Context, Direction, Level, Plugin, Rejection, Value, json, log};

pub struct FullName;

impl Plugin for FullName {
    fn map(ctx: &Context, mut user: Value) -> Result<Value, Rejection> {
        if ctx.direction != Direction::Request || ctx.resource_type != "User" || ctx.is_deprovisioning(&user) {
            return Ok(user);
        }
        let format = ctx.config.get("format").and_then(Value::as_str).unwrap_or("{given} {family}");
        let display = ctx.config.get("display_name").and_then(Value::as_bool).unwrap_or(true);
        let Some(name) = user.get_mut("name").and_then(Value::as_object_mut) else { return Ok(user) };
        // One pass over the name: each part tidied in place and kept.
        let mut parts = Parts::default();
        let mut tidied_parts = Vec::new();
        for (key, value) in name.iter_mut() {
            if let (Some(slot), Value::String(part)) = (parts.slot(key), value) {
                if let Some(tidied) = tidy(part) {
                    *part = tidied;
                    tidied_parts.push(key.as_str());
                }
                slot.clone_from(part);
            }
        }
        let formatted = render(format, &parts)?;
        if formatted.is_empty() {
            log(Level::Debug, "no name parts: name.formatted left as it was");
            return Ok(user);
        }
        // The names of the parts, never their values.
        let tidied: Vec<&str> = PARTS.into_iter().filter(|p| tidied_parts.contains(p)).collect();
        if !tidied.is_empty() {
            log(Level::Debug, &format!("tidied {}", tidied.join(", ")));
        }
        log(Level::Debug, &format!("name.formatted from the format {format}"));
        if display {
            name.insert("formatted".into(), json!(formatted.clone()));
            user["displayName"] = json!(formatted);
        } else {
            name.insert("formatted".into(), json!(formatted));
        }
        Ok(user)
    }
}

scim_plugin_sdk::export_plugin!(FullName);

/// The name's parts, in the order messages name them.
const PARTS: [&str; 5] = ["givenName", "middleName", "familyName", "honorificPrefix", "honorificSuffix"];

#[derive(Default)]
struct Parts {
    given: String,
    middle: String,
    family: String,
    prefix: String,
    suffix: String,
}

impl Parts {
    /// Where the name attribute `key` goes, if it is a part.
    fn slot(&mut self, key: &str) -> Option<&mut String> {
        match key {
            "givenName" => Some(&mut self.given),
            "middleName" => Some(&mut self.middle),
            "familyName" => Some(&mut self.family),
            "honorificPrefix" => Some(&mut self.prefix),
            "honorificSuffix" => Some(&mut self.suffix),
            _ => None,
        }
    }
}

/// Fills the placeholders, then drops what an empty part leaves behind.
fn render(format: &str, p: &Parts) -> Result<String, Rejection> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or(""));
        let after = rest.get(open + 1..).unwrap_or("");
        let close = after.find('}').ok_or_else(|| bad_format(format))?;
        out.push_str(match after.get(..close).unwrap_or("") {
            "given" => &p.given,
            "middle" => &p.middle,
            "family" => &p.family,
            "prefix" => &p.prefix,
            "suffix" => &p.suffix,
            _ => return Err(bad_format(format)),
        });
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(clean_separators(&out))
}

fn bad_format(format: &str) -> Rejection {
    Rejection::internal(format!(
        "full-name: the format `{format}` has an unknown or unclosed placeholder; use {{given}}, {{middle}}, {{family}}, {{prefix}}, {{suffix}}"
    ))
}

/// Collapses whitespace and removes commas left without a neighbour.
fn clean_separators(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    let joined = words.join(" ");
    let mut pieces: Vec<&str> = joined.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if pieces.is_empty() {
        pieces.push("");
    }
    pieces.join(", ")
}

/// Whitespace collapsed; all-lower or all-upper words capitalized. `None`
/// when the part is that already (the usual case: no copy is made).
fn tidy(part: &str) -> Option<String> {
    let spaced = !part.starts_with(' ')
        && !part.ends_with(' ')
        && !part.contains("  ")
        && !part.contains(|c: char| c.is_whitespace() && c != ' ');
    if spaced && part.split(' ').all(mixed_case) {
        return None;
    }
    Some(part.split_whitespace().map(capitalize).collect::<Vec<_>>().join(" "))
}

fn mixed_case(word: &str) -> bool {
    word.chars().any(char::is_lowercase) && word.chars().any(char::is_uppercase)
}

fn capitalize(word: &str) -> String {
    if mixed_case(word) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len());
    let mut start = true;
    for c in word.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = matches!(c, '-' | '\'' | '’');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(config: Value, user: Value) -> Result<Value, Rejection> {
        FullName::map(&Context::test("User").with_config(config), user)
    }

    #[test]
    fn default_format_tidies_and_fills() {
        let out = map(json!({}), json!({"name": {"givenName": "  bEA ", "familyName": "o'BRIEN-smith"}})).unwrap();
        assert_eq!(out["name"]["givenName"], "bEA");
        assert_eq!(out["name"]["familyName"], "o'BRIEN-smith");
        let out = map(json!({}), json!({"name": {"givenName": "  BEA  ANN", "familyName": "o'brien-smith"}})).unwrap();
        assert_eq!(out["name"]["givenName"], "Bea Ann");
        assert_eq!(out["name"]["familyName"], "O'Brien-Smith");
        assert_eq!(out["name"]["formatted"], "Bea Ann O'Brien-Smith");
        assert_eq!(out["displayName"], "Bea Ann O'Brien-Smith");
    }

    #[test]
    fn custom_format_and_missing_parts() {
        let cfg = json!({"format": "{family}, {given} {middle}", "display_name": false});
        let out = map(cfg.clone(), json!({"name": {"givenName": "Bea", "familyName": "McDonald"}})).unwrap();
        assert_eq!(out["name"]["formatted"], "McDonald, Bea");
        assert!(out.get("displayName").is_none());
        let out = map(cfg, json!({"name": {"givenName": "Bea"}})).unwrap();
        assert_eq!(out["name"]["formatted"], "Bea");
    }

    #[test]
    fn bad_format_is_refused_and_others_pass() {
        let err = map(json!({"format": "{first} {family}"}), json!({"name": {"givenName": "a"}})).unwrap_err();
        assert_eq!(err.status, 500);
        assert!(err.detail.contains("{first} {family}"));
        let group = json!({"displayName": "x"});
        let ctx = Context::test("Group");
        assert_eq!(FullName::map(&ctx, group.clone()).unwrap(), group);
        let leaver = json!({"active": false, "name": {"givenName": "bea"}});
        assert_eq!(map(json!({"format": "{bad}"}), leaver.clone()).unwrap(), leaver);
        let nameless = json!({"userName": "x"});
        assert_eq!(map(json!({}), nameless.clone()).unwrap(), nameless);
    }
}
