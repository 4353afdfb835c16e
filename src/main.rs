//! The `postie` binary: parse the arguments, run, print an error once, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = postie::cli::Cli::parse_from(postie::cli::fetch::wget_aliases(std::env::args_os()));
    match postie::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("postie: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
