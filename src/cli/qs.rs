//! `postie qs`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct QsArgs {}

pub fn run(_args: QsArgs) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("qs").into())
}
