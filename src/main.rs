//! The `postie` binary: everything, the `sendmail` name included, is `postie::main`.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(postie::main(std::env::args_os().collect()))
}
