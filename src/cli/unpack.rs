//! `postie unpack`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct UnpackArgs {}

pub fn run(_args: UnpackArgs) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("unpack").into())
}
