//! `isobatch completions SHELL`: the shell's completion script for every
//! subcommand and flag, generated from the command-line definition itself
//! (clap_complete), so it never falls behind the flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::{EXIT_OK, Error};

/// Prints the completion script for `args.shell` on stdout.
pub fn run(args: CompletionsArgs) -> Result<i32, Error> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "isobatch", &mut buf);
    super::man::write_stdout(&buf)?;
    Ok(EXIT_OK)
}
