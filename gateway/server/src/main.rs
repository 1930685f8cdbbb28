//! The `scim-gateway` command: parses arguments and hands over to the library.

use clap::Parser;
use std::process::ExitCode;

// mimalloc: the request path allocates many small, short-lived values
// (parsed JSON, headers); see docs/benchmarks.md for what it saves.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = scim_gateway::cli::Cli::parse();
    let code = scim_gateway::cli::run(cli, &mut std::io::stdin(), &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(code)
}
