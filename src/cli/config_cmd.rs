//! `postie config import --from msmtp|mpop [--file F] [--write [--force]]`: the accounts of an
//! msmtp or mpop file as postie's `[account.NAME]` tables, printed, or added to the accounts
//! file (atomically, mode 0600; an existing account is replaced only with `--force`). Plain
//! passwords are never carried over (see [`config_import::render`]).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::CliError;
use crate::config;
use crate::config_import::{self, Flavor, RcError};
use crate::error::Error;
use crate::exit::Exit;
use crate::fsutil;

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print (or add with --write) the accounts of ~/.msmtprc or ~/.mpoprc as postie accounts.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Whose file: msmtp (~/.msmtprc) or mpop (~/.mpoprc).
    #[arg(long, value_enum)]
    pub from: FromArg,
    /// Read this file instead.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Add the accounts to postie's accounts file instead of printing them.
    #[arg(long)]
    pub write: bool,
    /// With --write: replace accounts of the same name.
    #[arg(long, requires = "write")]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FromArg {
    Msmtp,
    Mpop,
}

pub fn run(args: ConfigArgs) -> Result<Exit, Error> {
    match args.command {
        ConfigCommand::Import(args) => import(&args),
    }
}

fn import(args: &ImportArgs) -> Result<Exit, Error> {
    let flavor = match args.from {
        FromArg::Msmtp => Flavor::Msmtp,
        FromArg::Mpop => Flavor::Mpop,
    };
    let path = match &args.file {
        Some(p) => p.clone(),
        None => config_import::default_path(flavor).ok_or_else(|| {
            CliError::invalid("--file", "no ~/.{msmtp,mpop}rc location: $HOME is unset")
        })?,
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let Some(accounts) = config_import::all_accounts(flavor, &path, home.as_deref())? else {
        let source = io::Error::new(io::ErrorKind::NotFound, "no such file");
        return Err(RcError::Read { path, source }.into());
    };
    let mut text = format!(
        "# imported from {} by postie config import --from {}\n",
        path.display(),
        flavor.name()
    );
    for (name, converted) in &accounts {
        for w in &converted.warnings {
            eprintln!("postie: {}: {w}", path.display());
        }
        text.push_str(&config_import::render(name, converted));
        text.push('\n');
    }
    if !args.write {
        io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::output("stdout", e))?;
        return Ok(Exit::SUCCESS);
    }
    let names: Vec<String> = accounts.into_iter().map(|(n, _)| n).collect();
    write(&text, &names, args.force)
}

/// Adds `text` (the tables of `names`) to the accounts file.
fn write(text: &str, names: &[String], force: bool) -> Result<Exit, Error> {
    let dest = config::default_path().ok_or(config::ConfigError::NoLocation)?;
    let existing = match std::fs::read_to_string(&dest) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(config::ConfigError::Read { path: dest, source }.into()),
    };
    let present = config_import::account_names(&existing).ok_or_else(|| parse_error(&dest))?;
    let clash: Vec<String> = names
        .iter()
        .filter(|n| present.contains(n))
        .cloned()
        .collect();
    if !clash.is_empty() && !force {
        return Err(CliError::invalid(
            "--write",
            format!(
                "{} already has account(s) {}: give --force to replace them",
                dest.display(),
                clash.join(", ")
            ),
        )
        .into());
    }
    let merged = config_import::merge(&existing, text, &clash).map_err(|why| {
        config::ConfigError::Parse {
            path: dest.clone(),
            why,
        }
    })?;
    fsutil::create_private_dir_all(fsutil::parent_dir(&dest))
        .and_then(|()| fsutil::write_atomic(&dest, merged.as_bytes(), 0o600))
        .map_err(|e| Error::output(dest.display().to_string(), e))?;
    eprintln!(
        "postie: {}: {} account(s) written ({} replaced)",
        dest.display(),
        names.len(),
        clash.len()
    );
    Ok(Exit::SUCCESS)
}

fn parse_error(path: &Path) -> Error {
    config::ConfigError::Parse {
        path: path.to_owned(),
        why: "not valid TOML (fix it before importing into it)".into(),
    }
    .into()
}
