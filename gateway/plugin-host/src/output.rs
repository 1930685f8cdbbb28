//! What a plugin returns must still be the same resource: a JSON object of
//! the same resource type with `id` and `meta` unchanged.

use serde_json::Value;

/// The output parsed, or why it is refused. Its core schemas must be the
/// input's; an input without any may gain the one of `resource_type`.
pub(crate) fn check(text: &str, input: &Value, resource_type: &str, max_bytes: usize) -> Result<Value, String> {
    if text.len() > max_bytes {
        return Err(format!("its output is {} bytes, more than its limit of {max_bytes}", text.len()));
    }
    let out: Value = serde_json::from_str(text).map_err(|_| "its output is not JSON".to_owned())?;
    if !out.is_object() {
        return Err("its output is not a JSON object".into());
    }
    for key in ["id", "meta"] {
        if out.get(key) != input.get(key) {
            return Err(format!("it changed `{key}`"));
        }
    }
    let (before, after) = (core_schemas(input), core_schemas(&out));
    let own = format!("urn:ietf:params:scim:schemas:core:2.0:{resource_type}").to_ascii_lowercase();
    if before != after && !(before.is_empty() && after == [own]) {
        let name = |s: &[String]| if s.is_empty() { "none".to_owned() } else { s.join(", ") };
        return Err(format!(
            "its output is not the same resource type (core schemas {} instead of {})",
            name(&after),
            name(&before)
        ));
    }
    Ok(out)
}

/// The core schema URNs a resource names (`...:core:2.0:User`), lower
/// case, sorted, without repeats; extension schemas may come and go.
fn core_schemas(v: &Value) -> Vec<String> {
    let mut urns: Vec<String> = v
        .get("schemas")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_ascii_lowercase)
        .filter(|s| s.contains(":core:") && !s.contains(":extension:"))
        .collect();
    urns.sort();
    urns.dedup();
    urns
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "meta": {"version": "W/\"1\""}, "userName": "a"})
    }

    #[test]
    fn the_same_resource_passes() {
        let mut out = user();
        out["displayName"] = json!("A");
        assert_eq!(check(&out.to_string(), &user(), "User", 1 << 20), Ok(out.clone()));
        // The case of a schema URN does not make another type.
        out["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:user"]);
        assert!(check(&out.to_string(), &user(), "User", 1 << 20).is_ok());
        // An input without schemas may gain its own type's, not another.
        let bare = json!({"userName": "a"});
        let typed = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"});
        assert!(check(&typed.to_string(), &bare, "User", 1 << 20).is_ok());
        assert!(check(&typed.to_string(), &bare, "Group", 1 << 20).is_err());
    }

    #[test]
    fn changes_that_make_another_resource_fail() {
        let input = user();
        let cases = [
            ("{not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2","meta":{"version":"W/\"1\""}}"#,
                "`id`",
            ),
            (r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1"}"#, "`meta`"),
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"1","meta":{"version":"W/\"1\""}}"#,
                "resource type",
            ),
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"1","meta":{"version":"W/\"1\""}}"#,
                "resource type",
            ),
            (r#"{"id":"1","meta":{"version":"W/\"1\""}}"#, "resource type"),
        ];
        for (text, why) in cases {
            let err = check(text, &input, "User", 1 << 20).err().unwrap_or_default();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn output_size_is_bounded() {
        let text = user().to_string();
        assert!(check(&text, &user(), "User", text.len()).is_ok());
        assert!(check(&text, &user(), "User", text.len() - 1).is_err_and(|e| e.contains("more than its limit")));
    }
}
