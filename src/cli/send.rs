//! `postie send`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct SendArgs {}

pub fn run(_args: SendArgs) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("send").into())
}
