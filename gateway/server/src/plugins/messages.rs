//! What plugins log (contract 1.1.0's `logging.log`): counted per plugin and
//! level, and written to the gateway's log at debug with every word of the
//! resource's values taken out, whatever its case. `scim-gateway map
//! --explain` shows them as they are.

use crate::metrics::Metrics;
use scim_plugin_host::Logs;
use serde_json::Value;
use std::collections::HashSet;

const REDACTED: &str = "<redacted>";

/// Counts a call's messages and logs them at debug, redacted against the
/// documents the plugin saw and gave back.
pub(super) fn report(plugin: &str, logs: &Logs, docs: [&Value; 2], metrics: Option<&Metrics>) {
    if logs.is_empty() {
        return;
    }
    if let Some(m) = metrics {
        for line in &logs.lines {
            m.plugin_log_messages.with_label_values(&[plugin, line.level.as_str()]).inc();
        }
        if logs.dropped > 0 {
            m.plugin_log_messages.with_label_values(&[plugin, "dropped"]).inc_by(u64::from(logs.dropped));
        }
    }
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let words = value_words(docs);
    for line in &logs.lines {
        let message = redact(&line.message, &words);
        tracing::debug!(plugin, level = line.level.as_str(), message = message.as_str(), "plugin message");
    }
    if logs.dropped > 0 {
        tracing::debug!(plugin, dropped = logs.dropped, "plugin messages dropped past the call's bounds");
    }
}

/// The words of every value in the documents (letters and digits, two or
/// more, lower case), their `schemas` aside: "Bea Lee", "bea.lee@corp.example"
/// and 12345 give bea, lee, corp, example and 12345. A word of a value in a
/// message is taken out whatever its case or the text around it.
fn value_words(docs: [&Value; 2]) -> HashSet<String> {
    let mut words = HashSet::new();
    for doc in docs {
        collect(doc, &mut words);
    }
    words
}

fn collect(v: &Value, words: &mut HashSet<String>) {
    match v {
        Value::String(s) => words.extend(split(s).map(str::to_lowercase)),
        Value::Number(n) => {
            words.insert(n.to_string());
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, words)),
        Value::Object(map) => map.iter().filter(|(k, _)| *k != "schemas").for_each(|(_, i)| collect(i, words)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// The runs of letters and digits in `s` of two characters or more.
fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().nth(1).is_some())
}

/// `message` with every word of `words` and every word shaped like an
/// e-mail address replaced by `<redacted>`. A message the host cut (ending
/// in `…`) may end in part of a value: a last word that begins any value's
/// word is taken out too.
fn redact(message: &str, words: &HashSet<String>) -> String {
    let Some(kept) = message.strip_suffix('…') else { return redact_whole(message, words) };
    let mut out = redact_whole(kept, words);
    let tail_len: usize = out.chars().rev().take_while(|c| c.is_alphanumeric()).map(char::len_utf8).sum();
    let start = out.len() - tail_len;
    let tail = out.get(start..).unwrap_or_default().to_lowercase();
    if !tail.is_empty() && words.iter().any(|w| w.starts_with(&tail)) {
        out.truncate(start);
        out.push_str(REDACTED);
    }
    out.push('…');
    out
}

fn redact_whole(message: &str, words: &HashSet<String>) -> String {
    let spaced: Vec<&str> = message.split(' ').map(|w| if looks_like_email(w) { REDACTED } else { w }).collect();
    let text = spaced.join(" ");
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        let known = word.chars().nth(1).is_some() && words.contains(&word.to_lowercase());
        out.push_str(if known { REDACTED } else { &word });
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn looks_like_email(word: &str) -> bool {
    word.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_addresses_are_taken_out_of_messages() {
        let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bea.lee",
            "name": {"givenName": "Bea", "familyName": "Li"}, "emails": [{"value": "bea@corp.example"}], "n": 12345});
        let words = value_words([&doc, &json!({"displayName": "Bea Li"})]);
        let said = redact("no manager for BEA LI (bea.lee), mail bea@corp.example or eve@evil.test; 12345 a", &words);
        assert_eq!(
            said,
            "no manager for <redacted> <redacted> (<redacted>.<redacted>), mail <redacted> or <redacted> <redacted> a"
        );
        assert_eq!(redact("format {given} unknown for a User", &words), "format {given} unknown for a User");
        assert_eq!(redact("", &words), "");
    }

    #[test]
    fn a_cut_message_loses_the_start_of_a_value_it_ends_in() {
        let words = value_words([&json!({"name": {"familyName": "Lindqvist"}}), &Value::Null]);
        assert_eq!(redact("no manager for Lindq…", &words), "no manager for <redacted>…");
        assert_eq!(redact("no manager for L…", &words), "no manager for <redacted>…");
        assert_eq!(redact("no manager for Lindqvist…", &words), "no manager for <redacted>…");
        assert_eq!(redact("no manager for the…", &words), "no manager for the…");
        assert_eq!(redact("no manager (…", &words), "no manager (…");
        // Only a cut message: a whole last word is judged whole.
        assert_eq!(redact("no manager for Lindq", &words), "no manager for Lindq");
    }
}
