//! The mapping engine on realistic IdP traffic. Run with
//! `cargo bench -p scim-mapper`; docs/benchmarks.md records the figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::filter::Filter;
use scim_core::patch::PatchOp;
use scim_mapper::{MapOptions, MappingSource, Operation, Program};
use serde_json::{Value, json};
use std::hint::black_box;

const OKTA_USER: &str = include_str!("okta-user.json");

fn program(file: &str) -> Program {
    let text = std::fs::read_to_string(format!("{}/../../mappings/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    scim_mapper::compile(&[MappingSource { name: file, text: &text }], scim_core::Registry::core()).unwrap().program
}

fn resource(c: &mut Criterion) {
    let okta = program("okta-to-notion.toml");
    let mut g = c.benchmark_group("okta_user_2kb");
    g.bench_function("parse_serialize_only", |b| {
        b.iter(|| {
            let doc: Value = serde_json::from_str(black_box(OKTA_USER)).unwrap();
            black_box(serde_json::to_string(&doc).unwrap())
        })
    });
    g.bench_function("parse_map_serialize", |b| {
        b.iter(|| {
            let doc: Value = serde_json::from_str(black_box(OKTA_USER)).unwrap();
            let (out, _) = okta.map_resource("User", Operation::Create, doc, None, MapOptions::default()).unwrap();
            black_box(serde_json::to_string(&out).unwrap())
        })
    });
    let parsed: Value = serde_json::from_str(OKTA_USER).unwrap();
    g.bench_function("map_only", |b| {
        b.iter_batched(
            || parsed.clone(),
            |doc| black_box(okta.map_resource("User", Operation::Create, doc, None, MapOptions::default()).unwrap()),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn patch_and_filter(c: &mut Criterion) {
    let entra = program("entra-to-notion.toml");
    let current = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "j@x.com",
        "name": {"givenName": "Jason", "familyName": "Young", "formatted": "Jason Young"}, "displayName": "Jason Young",
        "emails": [{"value": "j@x.com", "type": "work", "primary": true}], "externalId": "jyoung", "active": true});
    let family = PatchOp::from_json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "name.familyName", "value": "Smith"}]})).unwrap();
    let email = PatchOp::from_json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "N@X.com"}]})).unwrap();
    let mut g = c.benchmark_group("entra_patch");
    g.bench_function("family_name_with_current", |b| {
        b.iter(|| black_box(entra.map_patch("User", &family, Some(&current), MapOptions::default()).unwrap()))
    });
    g.bench_function("work_email_without_current", |b| {
        b.iter(|| black_box(entra.map_patch("User", &email, None, MapOptions::default()).unwrap()))
    });
    g.finish();
    let okta = program("okta-to-notion.toml");
    let filter = Filter::parse(r#"emails[type eq "work"].value eq "Jane@X.com ""#).unwrap();
    c.bench_function("okta_filter_rewrite", |b| b.iter(|| black_box(okta.rewrite_filter("User", &filter).unwrap())));
}

criterion_group!(benches, resource, patch_and_filter);
criterion_main!(benches);
