//! JavaScript and TypeScript plugins: one npm workspace in plugins/ (its
//! package.json and committed package-lock.json pin the SDK's toolchains),
//! installed with `npm ci`, each plugin built by the SDK's
//! `scim-plugin-build`.

use anyhow::{Context, bail};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The SDK's build command, run in a plugin's folder.
const BUILD: &str = "sdk-js/bin/build.js";

/// The JavaScript plugins: folders under plugins/ whose package.json builds
/// with `scim-plugin-build`.
pub fn plugins(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("plugins")).context("reading plugins/")? {
        let dir = entry?.path();
        let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else { continue };
        let pkg: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}", dir.display()))?;
        let build = pkg.pointer("/scripts/build").and_then(serde_json::Value::as_str).unwrap_or("");
        if build.contains("scim-plugin-build") {
            names.push(dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
    }
    names.sort();
    Ok(names)
}

/// Builds `names` into `out_dir`, returning the components written. A
/// plugin whose sources, SDK and lockfile are unchanged since its last
/// build is not built again.
pub fn build(root: &Path, out_dir: &Path, names: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let plugins = root.join("plugins");
    install(&plugins)?;
    std::fs::create_dir_all(out_dir)?;
    let mut outputs = Vec::new();
    for name in names {
        let dir = plugins.join(name);
        let stamp = out_dir.join(format!(".{name}.js-stamp"));
        let fingerprint = fingerprint(&[&dir, &plugins.join("sdk-js"), &plugins.join("package-lock.json")])?;
        let built = std::fs::read_to_string(&stamp).ok();
        let listed = built.as_deref().and_then(|b| b.split_once('\n')).filter(|(f, _)| *f == fingerprint);
        if let Some((_, list)) = listed {
            let files: Vec<PathBuf> = list.lines().map(PathBuf::from).collect();
            if files.iter().all(|f| f.is_file()) {
                outputs.extend(files);
                continue;
            }
        }
        let files = run_build(&plugins, &dir, out_dir)?;
        let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        std::fs::write(&stamp, format!("{fingerprint}\n{}", list.join("\n")))?;
        outputs.extend(files);
    }
    Ok(outputs)
}

/// `npm ci` in plugins/ unless node_modules was installed from this very
/// lockfile.
fn install(plugins: &Path) -> anyhow::Result<()> {
    let lock = std::fs::read(plugins.join("package-lock.json")).context("reading plugins/package-lock.json")?;
    let stamp = plugins.join("node_modules/.xtask-installed-from");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Ok(());
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(plugins)
        .status()
        .context("running npm ci in plugins/ (are node and npm installed?)")?;
    if !status.success() {
        bail!("npm ci in plugins/ failed");
    }
    std::fs::write(stamp, lock)?;
    Ok(())
}

fn run_build(plugins: &Path, dir: &Path, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("node")
        .arg(plugins.join(BUILD))
        .arg("--out-dir")
        .arg(out_dir)
        .current_dir(dir)
        .output()
        .context("running node (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "building {} failed:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().filter(|l| l.ends_with(".wasm")).map(PathBuf::from).collect())
}

/// A hash of every file under `paths` (names and contents), but
/// node_modules, build/ and dist/.
fn fingerprint(paths: &[&Path]) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    files.sort();
    let mut h = DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f)?.hash(&mut h);
    }
    Ok(format!("{:016x}", h.finish()))
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_file() {
        files.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        let skip = p.file_name().is_some_and(|n| n == "node_modules" || n == "build" || n == "dist");
        if !skip {
            collect(&p, files)?;
        }
    }
    Ok(())
}
