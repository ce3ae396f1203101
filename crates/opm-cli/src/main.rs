//! The `opm` binary: parses the command line, resolves settings, runs one command and turns its
//! outcome into an exit code (`error: …` on stderr and status 1 on failure).

mod args;
mod locate;
mod output;
mod plan;
mod prompt_file;
mod settings;
mod vars;

fn main() {}
