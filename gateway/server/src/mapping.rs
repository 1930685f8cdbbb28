//! Loading mapping files from disk for the commands.

use scim_core::schema::Registry;
use scim_mapper::{Compiled, Diagnostic, MappingSource};
use std::path::{Path, PathBuf};

/// Largest mapping or schema file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Why mappings could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// A file could not be read.
    Io(PathBuf, String),
    /// An extension schema file is invalid.
    Schema(PathBuf, Vec<String>),
    /// The mappings have errors (warnings included).
    Diagnostics(Vec<Diagnostic>),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Schema(p, errors) => {
                for e in errors {
                    writeln!(f, "{}:{e}", p.display())?;
                }
                Ok(())
            }
            Self::Diagnostics(d) => {
                for d in d {
                    writeln!(f, "{d}")?;
                }
                Ok(())
            }
        }
    }
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
pub fn read_bounded(path: &Path) -> Result<String, LoadError> {
    let io = |e: std::io::Error| LoadError::Io(path.to_owned(), e.to_string());
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(LoadError::Io(path.to_owned(), format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    std::fs::read_to_string(path).map_err(io)
}

/// The core schemas plus extension schema files.
pub fn registry(schemas: &[PathBuf]) -> Result<Registry, LoadError> {
    let mut registry = Registry::core();
    for path in schemas {
        let text = read_bounded(path)?;
        registry
            .load_extensions(&text, None)
            .map_err(|errors| LoadError::Schema(path.clone(), errors.iter().map(ToString::to_string).collect()))?;
    }
    Ok(registry)
}

/// Reads and compiles mapping files, in order.
pub fn load(files: &[PathBuf], registry: Registry) -> Result<Compiled, LoadError> {
    compile(&read_all(files)?, registry)
}

/// Reads mapping files: (name, text) pairs, in order.
pub fn read_all(files: &[PathBuf]) -> Result<Vec<(String, String)>, LoadError> {
    files.iter().map(|p| Ok((p.display().to_string(), read_bounded(p)?))).collect()
}

/// Compiles mapping texts read by [`read_all`].
pub fn compile(texts: &[(String, String)], registry: Registry) -> Result<Compiled, LoadError> {
    let sources: Vec<MappingSource<'_>> = texts.iter().map(|(name, text)| MappingSource { name, text }).collect();
    scim_mapper::compile(&sources, registry).map_err(LoadError::Diagnostics)
}
