//! `cargo xtask plugin [NAME...]`: builds plugins (every one when no name
//! is given) into components in `<target dir>/plugins/NAME.wasm`.
//!
//! - Rust plugins (crates under plugins/) are built for
//!   wasm32-unknown-unknown with the `plugin` profile, and each core module
//!   is turned into a component with wit-component. Nothing is needed beyond
//!   `rustup target add wasm32-unknown-unknown`.
//! - JavaScript and TypeScript plugins (folders under plugins/ whose
//!   package.json has a `build` script using `scim-plugin-build`) are
//!   built by the SDK's `scim-plugin-build` after
//!   `npm ci` in plugins/ (one workspace, one committed lockfile, which pins
//!   the toolchains); it needs node and npm.
//!
//! Every component is then checked to import nothing but the host's
//! `logging`.

mod js;

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((task, names)) if task == "plugin" => build_plugins(names),
        _ => bail!("usage: cargo xtask plugin [NAME...]"),
    }
}

/// Where the workspace and its target directory are, asked of cargo at run
/// time (a path compiled in would be wrong when one target directory serves
/// several checkouts).
struct Layout {
    root: PathBuf,
    target: PathBuf,
    /// Test plugins that declare `[package.metadata.scim-plugin]
    /// test-imports = true`: built even though they import something, so
    /// that the host's refusal can be tested.
    test_imports: Vec<String>,
}

fn layout(cargo: &str) -> anyhow::Result<Layout> {
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    let path = |key: &str| meta.get(key).and_then(serde_json::Value::as_str).map(PathBuf::from);
    let test_imports = meta
        .get("packages")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.pointer("/metadata/scim-plugin/test-imports") == Some(&serde_json::Value::Bool(true)))
        .filter_map(|p| p.get("name").and_then(serde_json::Value::as_str).map(str::to_owned))
        .collect();
    match (path("workspace_root"), path("target_directory")) {
        (Some(root), Some(target)) => Ok(Layout { root, target, test_imports }),
        _ => bail!("cargo metadata names no workspace root or target directory"),
    }
}

/// Every plugin crate: a directory under plugins/ with a Cargo.toml, but
/// not the SDK.
fn all_plugins(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("plugins")).context("reading plugins/")? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "sdk" && entry.path().join("Cargo.toml").is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn build_plugins(names: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let Layout { root, target, test_imports } = layout(&cargo)?;
    let js_all = js::plugins(&root)?;
    let (js_names, rust_names): (Vec<String>, Vec<String>) = match names.is_empty() {
        true => (js_all, all_plugins(&root)?),
        false => names.iter().cloned().partition(|n| js_all.contains(n)),
    };
    build_rust(&cargo, &target, &rust_names, &test_imports)?;
    if !js_names.is_empty() {
        for out in js::build(&root, &target.join("plugins"), &js_names)? {
            check_imports(&out, &[])?;
            println!("{}", out.display());
        }
    }
    Ok(())
}

fn build_rust(cargo: &str, target: &Path, names: &[String], test_imports: &[String]) -> anyhow::Result<()> {
    for n in names {
        // The crates are plain libraries (so their tests run natively); the
        // cdylib is asked for here, for wasm only.
        let status = Command::new(cargo)
            .args(["rustc", "--quiet", "--lib", "--crate-type", "cdylib", "-p", n])
            .args(["--target", "wasm32-unknown-unknown", "--profile", "plugin"])
            .status()
            .context("running cargo rustc")?;
        if !status.success() {
            bail!("building {n} failed (is the target installed? rustup target add wasm32-unknown-unknown)");
        }
    }
    let out_dir = target.join("plugins");
    std::fs::create_dir_all(&out_dir)?;
    for n in names {
        let core = target.join("wasm32-unknown-unknown/plugin").join(format!("{}.wasm", n.replace('-', "_")));
        let bytes = std::fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
        let component = wit_component::ComponentEncoder::default()
            .module(&bytes)
            .with_context(|| format!("{n}: the module has no component type (does it call export_plugin!?)"))?
            .validate(true)
            .encode()
            .with_context(|| format!("{n}: turning the module into a component"))?;
        let out = out_dir.join(format!("{n}.wasm"));
        std::fs::write(&out, component)?;
        check_imports(&out, test_imports)?;
        println!("{}", out.display());
    }
    Ok(())
}

/// The one import a plugin may have: the host's logging.
const PROVIDED: &str = "scim-gateway:plugin/logging@1.1.0";

/// Fails when the component at `path` imports anything but [`PROVIDED`],
/// unless it is one of the `exempt` test plugins.
fn check_imports(path: &Path, exempt: &[String]) -> anyhow::Result<()> {
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let refused: Vec<String> = component_imports(&bytes)?.into_iter().filter(|i| i != PROVIDED).collect();
    if !refused.is_empty() && !exempt.contains(&name) {
        bail!("{name}: the component imports {}; plugins may import only {PROVIDED}", refused.join(", "));
    }
    Ok(())
}

/// The names a component imports at its top level (the gateway gives
/// plugins none); nested components and modules are wired inside it.
fn component_imports(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import?.name.0.to_owned());
                }
            }
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(names)
}
