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
