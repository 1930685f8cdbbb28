//! The discovery endpoints of the embedded store (RFC 7644 section 4).

use super::resources::MAX_PAGE;
use scim_core::schema::Registry;
use serde_json::{Value, json};

use scim_core::LIST_RESPONSE_URN as LIST_URN;

pub(super) fn service_provider_config() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scim-gateway/scim-gateway",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "memory:/ServiceProviderConfig"}
    })
}

fn resource_type_doc(rt: &scim_core::schema::ResourceType) -> Value {
    let extensions: Vec<Value> =
        rt.extensions.iter().map(|e| json!({"schema": e.schema, "required": e.required})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "schema": rt.schema,
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("memory:/ResourceTypes/{}", rt.name)}
    })
}

fn list(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

pub(super) fn resource_types(reg: &Registry) -> Value {
    list(reg.resource_types().iter().map(resource_type_doc).collect())
}

pub(super) fn resource_type(reg: &Registry, name: &str) -> Option<Value> {
    reg.resource_types().iter().find(|rt| rt.name == name).map(resource_type_doc)
}

/// Every schema the store keeps: the core ones and each extension.
fn schema_docs(reg: &Registry) -> Vec<Value> {
    reg.schemas()
        .iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .map(|mut doc| {
            let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            if let Some(map) = doc.as_object_mut() {
                map.insert("schemas".into(), json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]));
                map.insert(
                    "meta".into(),
                    json!({"resourceType": "Schema", "location": format!("memory:/Schemas/{id}")}),
                );
            }
            doc
        })
        .collect()
}

pub(super) fn schemas(reg: &Registry) -> Value {
    list(schema_docs(reg))
}

pub(super) fn schema(reg: &Registry, id: &str) -> Option<Value> {
    schema_docs(reg)
        .into_iter()
        .find(|d| d.get("id").and_then(Value::as_str).is_some_and(|d| d.eq_ignore_ascii_case(id)))
}
