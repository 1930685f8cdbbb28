//! Where cargo put this test binary's build: shared by the gateway and CLI
//! tests (the CLI tests include this file by path).

use std::path::PathBuf;

/// `<target>/plugins`, where `cargo xtask plugin` puts the components: the
/// nearest ancestor of this binary that cargo tagged (`CACHEDIR.TAG`) and
/// that holds `plugins/`. The binary is in `<target>/<profile>/deps/`, or in
/// `<target>/<triple>/<profile>/deps/` when built with `--target` (cargo
/// tags `<target>/<triple>` too, but puts no plugins there).
pub fn plugins() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut tagged = exe.ancestors().filter(|a| a.join("CACHEDIR.TAG").is_file()).map(|a| a.join("plugins"));
    tagged
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("no plugins/ in the target directory of {}: run `cargo xtask plugin`", exe.display()))
}
