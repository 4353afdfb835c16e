//! `postie fetch`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct FetchArgs {}

pub fn run(_args: FetchArgs) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("fetch").into())
}
