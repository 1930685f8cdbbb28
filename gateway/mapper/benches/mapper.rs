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
    raw_document(c);
}

/// What a raw-text request document could save at most (docs/benchmarks.md,
/// issue 22): against `okta_user_2kb/parse_serialize_only`, the
/// attributes okta-to-notion's rules read or write ([`TOUCHED`]) built as
/// values, every other one only scanned (as a raw span would be read), and
/// the text of those written back copied.
fn raw_document(c: &mut Criterion) {
    let whole: serde_json::Map<String, Value> = serde_json::from_str(OKTA_USER).unwrap();
    let removed = ["password", "groups"];
    let untouched = whole.iter().filter(|(k, _)| !TOUCHED.contains(&k.as_str()) && !removed.contains(&k.as_str()));
    let untouched: serde_json::Map<String, Value> = untouched.map(|(k, v)| (k.clone(), v.clone())).collect();
    let untouched = serde_json::to_vec(&untouched).unwrap();
    let mut g = c.benchmark_group("raw_document");
    g.bench_function("okta_user_2kb_upper_bound", |b| {
        b.iter(|| {
            let mut de = serde_json::Deserializer::from_str(black_box(OKTA_USER));
            let built = serde::de::Deserializer::deserialize_map(&mut de, Split).unwrap();
            let mut out = serde_json::to_vec(&built).unwrap();
            out.extend_from_slice(&untouched);
            black_box(out)
        })
    });
    g.finish();
}

/// The top-level attributes of Okta's create that okta-to-notion's rules
/// read or write. Normalization looks into the others too (sub-attribute
/// names, nulls, string booleans); that is taken as free, which is what
/// makes this a bound.
const TOUCHED: [&str; 5] = ["schemas", "userName", "name", "displayName", "emails"];
/// Builds the [`TOUCHED`] attributes, scans the others. (Keys are borrowed:
/// Okta's create has none with an escape.)
struct Split;

impl<'de> serde::de::Visitor<'de> for Split {
    type Value = serde_json::Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut built = serde_json::Map::new();
        while let Some(key) = map.next_key::<&str>()? {
            if TOUCHED.contains(&key) {
                built.insert(key.to_owned(), map.next_value::<Value>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(built)
    }
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
