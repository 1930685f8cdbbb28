//! `hostile-wasi`: a plugin for testing the host, never for production. It
//! imports `wasi:random/random@0.2.0` and calls it from `map-resource`. The
//! gateway gives plugins no imports, so the host must refuse to load it and
//! name the import in its message.

wit_bindgen::generate!({
    inline: "
        package scim-gateway:hostile-wasi;
        world hostile-wasi {
            import wasi:random/random@0.2.0;
            export scim-gateway:plugin/mapper@1.1.0;
        }
    ",
    path: ["../wit", "wit/random.wit"],
    world: "scim-gateway:hostile-wasi/hostile-wasi",
    generate_all,
});

use exports::scim_gateway::plugin::mapper::{Context, Guest, Rejection};

struct HostileWasi;

impl Guest for HostileWasi {
    fn map_resource(_ctx: Context, text: String) -> Result<String, Rejection> {
        let n = wasi::random::random::get_random_u64();
        Ok(format!("{{\"random\":{n},\"was\":{}}}", text.len()))
    }
}

export!(HostileWasi);
