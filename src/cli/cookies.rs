//! `postie cookies`: flags and the glue to the engine. (Stub: being built.)

use crate::cli::CliError;
use crate::error::{Error, Exit};

#[derive(Debug, clap::Args)]
pub struct CookiesArgs {}

pub fn run(_args: CookiesArgs) -> Result<Exit, Error> {
    Err(CliError::NotImplemented("cookies").into())
}
