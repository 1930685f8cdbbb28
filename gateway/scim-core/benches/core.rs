//! What the request path will pay for the SCIM core: parsing and evaluating
//! a filter, normalizing and applying an IdP's PATCH, diffing a PUT.
//! Run: `cargo bench -p scim-core --bench core`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // benches may fail loudly

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use scim_core::Filter;
use scim_core::normalize::{Normalizer, Preset};
use scim_core::patch::{ApplyOptions, PatchOp, apply, diff};
use scim_core::schema::Registry;
use serde_json::{Value, json};
use std::hint::black_box;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "7f3e", "externalId": "5c8a10e2", "userName": "kai@contoso.example", "active": true,
        "name": {"givenName": "Kai", "familyName": "Lind", "formatted": "Kai Lind"},
        "emails": [{"value": "kai@contoso.example", "type": "work", "primary": true}, {"value": "kai@home.example", "type": "home"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Retail", "manager": {"value": "2b7e0f55"}}
    })
}

fn group(members: usize) -> Value {
    let members: Vec<Value> = (0..members).map(|i| json!({"value": format!("member-{i:06}")})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "All", "members": members})
}

fn filters(c: &mut Criterion) {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let text =
        r#"emails[type eq "work" and primary eq true].value eq "kai@contoso.example" and not (userType eq "Intern")"#;
    c.bench_function("filter/parse", |b| b.iter(|| Filter::parse(black_box(text)).unwrap()));
    let f = Filter::parse(text).unwrap();
    let u = user();
    c.bench_function("filter/evaluate", |b| b.iter(|| f.matches(black_box(&u), Some(&s))));
    let n = Normalizer::new(Preset::Entra);
    c.bench_function("filter/normalize_entra_match", |b| {
        b.iter(|| n.filter(black_box("externalId eq jyoung"), &s).unwrap())
    });
}

fn patches(c: &mut Criterion) {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let n = Normalizer::new(Preset::Entra);
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "kai.new@contoso.example"},
        {"op": "Replace", "path": "name.familyName", "value": "Lindqvist"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "9c41aa02"}]}
    ]});
    c.bench_function("patch/normalize_entra_4_ops", |b| {
        b.iter_batched(|| body.clone(), |mut v| n.patch(&mut v, &s), BatchSize::SmallInput)
    });
    let mut normalized = body.clone();
    n.patch(&mut normalized, &s);
    let patch = PatchOp::from_json(&normalized).unwrap();
    let u = user();
    c.bench_function("patch/apply_4_ops", |b| b.iter(|| apply(black_box(&u), &patch, &s, n.apply_options()).unwrap()));
    let g = reg.resource("Group").unwrap();
    let big = group(10_000);
    let remove: Vec<Value> = (0..100).map(|i| json!({"$ref": null, "value": format!("member-{:06}", i * 7)})).collect();
    let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Remove", "path": "members", "value": remove}]});
    c.bench_function("patch/entra_remove_100_of_10k_members", |b| {
        b.iter_batched(
            || entra.clone(),
            |mut v| {
                n.patch(&mut v, &g);
                apply(&big, &PatchOp::from_json(&v).unwrap(), &g, ApplyOptions::default()).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    let mut fewer = big.clone();
    fewer["members"].as_array_mut().unwrap().retain(|m| !m["value"].as_str().unwrap().ends_with('7'));
    c.bench_function("diff/group_10k_members_1k_removed", |b| b.iter(|| diff(black_box(&big), &fewer, &g).unwrap()));
    let mut changed = user();
    changed["name"]["familyName"] = json!("Lindqvist");
    changed["active"] = json!(false);
    c.bench_function("diff/user_put", |b| b.iter(|| diff(black_box(&u), &changed, &s).unwrap()));
}

criterion_group!(benches, filters, patches);
criterion_main!(benches);
