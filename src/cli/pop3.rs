//! `postie pop3`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct Pop3Args {}

pub fn run(_args: Pop3Args) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("pop3").into())
}
