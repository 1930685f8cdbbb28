//! Filter parser: never panics; whatever parses prints to text that parses
//! back to the same tree; evaluation and validation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::filter::{Filter, MAX_FILTER_LEN, Mode};
use scim_core::{Path, Registry};

static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::core);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let reg = &*REGISTRY;
    let user = reg.resource("User");
    let resource = serde_json::json!({
        "userName": "bjensen", "active": true, "emails": [{"value": "a@x.com", "type": "work", "primary": true}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"}, "name": {"givenName": "B"}
    });
    for mode in [Mode::Strict, Mode::Lenient] {
        if let Ok(f) = Filter::parse_with(text, mode) {
            // Printing can lengthen a filter (lenient values gain quotes,
            // `1e5` prints as `100000.0`); past the length limit a re-parse
            // is refused for its length, never for anything else.
            let printed = f.to_string();
            match Filter::parse(&printed) {
                Err(e) if printed.len() > MAX_FILTER_LEN => assert!(e.detail.contains("longer than"), "{e}"),
                reparsed => assert_eq!(reparsed.as_ref(), Ok(&f), "round trip of {printed}"),
            }
            let _ = f.matches(&resource, user.as_ref());
            if let Some(u) = &user {
                let _ = f.validate(u);
            }
        }
    }
    if let Ok(p) = Path::parse(text) {
        let mut r = resource.clone();
        let _ = p.get(&r, user.as_ref());
        let _ = p.set(&mut r, serde_json::json!("v"), user.as_ref());
        let _ = p.remove(&mut r, user.as_ref());
    }
});
