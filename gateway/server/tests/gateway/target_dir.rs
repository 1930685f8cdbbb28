//! Where cargo put this test binary's build: shared by the gateway and CLI
//! tests (the CLI tests include this file by path).

use std::path::PathBuf;

/// `<target>/plugins`, where `cargo xtask plugin` puts the components.
/// `<target>` is the topmost ancestor of this binary that cargo tagged
/// (`CACHEDIR.TAG`): the binary is in `<target>/<profile>/deps/`, or in
/// `<target>/<triple>/<profile>/deps/` when built with `--target`.
pub fn plugins() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().filter(|a| a.join("CACHEDIR.TAG").is_file()).last();
    target.unwrap_or_else(|| panic!("{} is in no cargo target directory", exe.display())).join("plugins")
}
