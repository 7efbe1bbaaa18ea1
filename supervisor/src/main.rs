//! `isobatch`: the supervisor binary. Parses the command line, runs the
//! subcommand, maps errors to the documented exit codes.

mod braces;
mod cli;
mod commands;
mod config;
mod discovery;
mod error;
mod exec_template;
mod failed_filter;
mod journal;
mod layout;
mod lock;
mod preflight;
mod report;
mod resume;
mod runner;
mod slurm;
mod sysmem;
mod unix;

use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::EXIT_USAGE;

fn main() {
    // Workers re-executing this binary skip the CLI parser: it costs every fresh worker time.
    if std::env::args_os().nth(1).is_some_and(|a| a == "__worker") {
        let args = std::env::args_os()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned());
        std::process::exit(isobatch_worker::main_with_args(args));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.command {
        Command::Run(args) => commands::run::run(*args),
        Command::Status(args) => commands::status::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Logs(args) => commands::logs::run(args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man(args) => commands::man::run(args),
        Command::SlurmElement(args) => slurm::element::run(args),
        Command::Report(args) => commands::report::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // A closed stderr must not turn a refusal into a panic (exit 101).
            let _ = writeln!(std::io::stderr(), "isobatch: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
