//! Where `cargo xtask plugin` put the plugin components, for the tests and
//! benchmarks of the plugin host and of the gateway: each includes this
//! file by path, so the rule is written once.

use std::path::PathBuf;

/// `$SCIM_PLUGIN_DIR` when set (scripts/test sets it to the target
/// directory's `plugins/`, as `cargo metadata` names it), else the nearest
/// ancestor of this binary that cargo tagged (`CACHEDIR.TAG`) and that
/// holds `plugins/`; `None` when there is neither. A test binary is in
/// `<target>/<profile>/deps/`, or in `<target>/<triple>/<profile>/deps/`
/// when built with `--target` (cargo tags `<target>/<triple>` too, but puts
/// no plugins there).
pub fn plugin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SCIM_PLUGIN_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    let mut tagged = exe.ancestors().filter(|a| a.join("CACHEDIR.TAG").is_file()).map(|a| a.join("plugins"));
    tagged.find(|p| p.is_dir())
}

/// [`plugin_dir`] for a test that cannot go on without the plugins: a
/// panic that says how to build them.
#[allow(dead_code, clippy::panic)]
pub fn required_plugin_dir() -> PathBuf {
    plugin_dir().unwrap_or_else(|| panic!("no plugins/ in the target directory: run `cargo xtask plugin`"))
}
