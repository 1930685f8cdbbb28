//! scim-mapper: declarative attribute mapping for SCIM.
//!
//! A mapping file (TOML) declares rules per resource type and direction.
//! [`compile`] validates them against the SCIM schemas and produces a
//! [`Program`]; the program then maps resources ([`Program::map_resource`]),
//! ListResponses, PATCH requests ([`Program::map_patch`]) and query
//! parameters ([`Program::rewrite_query`]). Compiling reports every problem
//! at once as a [`Diagnostic`] with file, line and column.
//!
//! The crate does no I/O: callers hand it mapping text and documents.
//! The language reference is mappings/README.md.

mod apply;
mod compile;
mod diag;
mod each;
mod error;
mod eval;
mod load;
mod patch;
mod paths;
mod program;
mod query;
mod report;
mod template;
mod transform;

pub use apply::{MapOptions, Operation};
pub use compile::{Compiled, MappingSource, compile};
pub use diag::{Diagnostic, Severity, Sink, did_you_mean, line_col};
pub use error::MapError;
pub use load::LANGUAGE_VERSION;
pub use patch::PatchOutcome;
pub use program::{Direction, Footprint, Managed, Origin, Program, When};
pub use query::{Query, RewrittenQuery};
pub use report::{Failure, Outcome, Report, Skip, Trace};
