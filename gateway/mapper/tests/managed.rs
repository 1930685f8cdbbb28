//! `managed = [...]`: the attributes a mapping declares the IdP owns, the
//! only ones the gateway's translated writes may remove.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use scim_mapper::{Managed, MappingSource};

fn compile(files: &[&str]) -> Result<scim_mapper::Program, Vec<String>> {
    let sources: Vec<MappingSource<'_>> = files.iter().map(|t| MappingSource { name: "m.toml", text: t }).collect();
    scim_mapper::compile(&sources, scim_core::Registry::core())
        .map(|c| c.program)
        .map_err(|d| d.iter().map(ToString::to_string).collect())
}

#[test]
fn a_declared_list_is_kept_per_resource_type_and_joined_across_files() {
    let a = "version = 1\n[User]\nmanaged = [\"userName\", \"emails\"]\n";
    let b = "version = 1\n[User]\nmanaged = [\"EMAILS\", \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\"]\n";
    let p = compile(&[a, b]).unwrap();
    let Some(Managed::Only(paths)) = p.managed("User") else { panic!("a list") };
    let names: Vec<String> = paths.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["userName", "emails", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"],
        "a name given twice (in any case) is kept once"
    );
    assert!(p.managed("Group").is_none(), "no Group list was declared");
}

#[test]
fn a_star_manages_every_attribute_whatever_else_is_listed() {
    let p = compile(&["version = 1\n[Group]\nmanaged = [\"displayName\", \"*\"]\n"]).unwrap();
    assert_eq!(p.managed("Group"), Some(&Managed::All));
}

#[test]
fn an_undeclared_list_is_none() {
    let p = compile(&["version = 1\n"]).unwrap();
    assert!(p.managed("User").is_none());
}

#[test]
fn sub_attributes_filters_and_unknown_names_are_refused_all_at_once() {
    let text = "version = 1\n[User]\nmanaged = [\"name.givenName\", \"emails[type eq \\\"work\\\"]\", \"nope\"]\n";
    let errors = compile(&[text]).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("`name.givenName` is not a top-level attribute path"), "{errors:?}");
    assert!(errors[2].contains("unknown attribute `nope` in `User.managed`"), "{errors:?}");
}
