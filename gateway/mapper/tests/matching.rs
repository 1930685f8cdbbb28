//! Each shipped mapping names the IdP matching attribute it supports; this
//! runs that IdP's exact matching query against a resource created through
//! the mapping, the way the gateway will: normalize, rewrite, evaluate on
//! what the backend stores. A query for someone else must not match.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use scim_core::filter::{Filter, Mode};
use scim_core::normalize::{Normalizer, Preset};
use scim_mapper::{MapOptions, MappingSource, Operation, Program};
use serde_json::{Value, json};

fn program(file: &str) -> Program {
    let path = format!("{}/../../mappings/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    scim_mapper::compile(&[MappingSource { name: file, text: &text }], scim_core::Registry::core()).unwrap().program
}

/// What the backend stores after the IdP's create went through the gateway.
fn create(program: &Program, preset: Preset, mut body: Value) -> Value {
    let registry = program.registry().clone();
    let schema = registry.resource("User").unwrap();
    Normalizer::new(preset).resource(&mut body, &schema);
    program.map_resource("User", Operation::Create, body, None, MapOptions::default()).unwrap().0
}

/// Whether the IdP's filter, as the gateway forwards it, finds `stored`.
fn finds(program: &Program, preset: Preset, filter: &str, stored: &Value) -> bool {
    let registry = program.registry().clone();
    let schema = registry.resource("User").unwrap();
    let (parsed, _) = Normalizer::new(preset).filter(filter, &schema).unwrap();
    let rewritten = program.rewrite_filter("User", &parsed).unwrap();
    // The forwarded text must parse as a strict RFC 7644 filter.
    let forwarded = Filter::parse_with(&rewritten.to_string(), Mode::Strict).unwrap();
    forwarded.matches(stored, Some(&schema))
}

#[test]
fn okta_username_matching_finds_the_created_user() {
    let p = program("okta-to-notion.toml");
    let stored = create(
        &p,
        Preset::Okta,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Jane.Doe@Example.com",
               "name": {"givenName": "Jane", "familyName": "Doe"},
               "emails": [{"primary": true, "value": "Jane.Doe@Example.com", "type": "work"}], "active": true}),
    );
    assert!(finds(&p, Preset::Okta, r#"userName eq "Jane.Doe@Example.com""#, &stored));
    assert!(finds(&p, Preset::Okta, r#"userName eq "Jane.Doe@Example.com ""#, &stored));
    assert!(finds(&p, Preset::Okta, r#"emails[type eq "work"].value eq "Jane.Doe@Example.com ""#, &stored));
    assert!(!finds(&p, Preset::Okta, r#"userName eq "john@example.com""#, &stored));
}

#[test]
fn entra_matching_on_external_id_and_work_email() {
    let p = program("entra-to-notion.toml");
    let stored = create(
        &p,
        Preset::Entra,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "jyoung",
               "userName": "jyoung@contoso.onmicrosoft.com", "active": true,
               "emails": [{"primary": true, "type": "work", "value": "Jason.Young@Contoso.com"}],
               "name": {"familyName": "Young", "givenName": "Jason"}}),
    );
    assert_eq!(stored["userName"], "jason.young@contoso.com");
    assert!(finds(&p, Preset::Entra, "externalId eq jyoung", &stored));
    assert!(finds(&p, Preset::Entra, r#"externalId eq "jyoung""#, &stored));
    assert!(finds(&p, Preset::Entra, r#"emails[type eq "work"].value eq "Jason.Young@Contoso.com""#, &stored));
    assert!(!finds(&p, Preset::Entra, "externalId eq someoneelse", &stored));
}

#[test]
fn rename_roundtrip_matching_on_external_id() {
    let p = program("rename-roundtrip.toml");
    let stored = create(
        &p,
        Preset::Entra,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "jyoung", "userName": "jyoung@x.com"}),
    );
    assert!(stored.get("externalId").is_none(), "the backend holds employeeNumber, not externalId: {stored}");
    assert!(finds(&p, Preset::Entra, "externalId eq jyoung", &stored));
    assert!(finds(&p, Preset::Entra, r#"userName eq "jyoung@x.com""#, &stored));
    assert!(!finds(&p, Preset::Entra, "externalId eq other", &stored));
}

#[test]
fn identity_matching_on_username() {
    let p = program("identity.toml");
    let stored = create(
        &p,
        Preset::Okta,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jdoe"}),
    );
    assert!(finds(&p, Preset::Okta, r#"userName eq "JDOE""#, &stored));
    assert!(!finds(&p, Preset::Okta, r#"userName eq "jdoe2""#, &stored));
}
