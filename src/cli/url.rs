//! `postie url`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct UrlArgs {}

pub fn run(_args: UrlArgs) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("url").into())
}
