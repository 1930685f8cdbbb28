//! The HTTP pieces of the proxy that the pipeline puts in order: path
//! checks, endpoint classification, body reading, header handling and URL
//! rewriting. None of them knows the phase order; `pipeline` does.

pub mod body;
pub mod endpoint;
pub mod headers;
pub mod paths;
pub mod rewrite;
pub mod verbatim;
