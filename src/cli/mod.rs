//! Command-line definitions (clap derive) and the glue that turns raw arguments into the
//! validated configs the engines take. One file per subcommand; engines never see clap types.
//!
//! Each subcommand file exposes `XxxArgs` (clap) and `run(XxxArgs) -> Result<Exit, Error>`.
//! Shared flag groups (password sources, TLS) live in [`common`].

// Doc comments in src/cli/ are clap's help text, where brackets and angle brackets mean syntax
// (`host[:995]`, `FILE[;type=MIME]`), not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use std::io::{self, Write};

use clap::{CommandFactory, Parser, Subcommand};

use crate::error::Error;
use crate::exit::Exit;

pub mod batch;
pub mod browser_cookies;
pub mod common;
pub mod config_cmd;
pub mod cookies;
pub mod error;
pub mod fetch;
mod fetch_many;
pub mod fetch_tls;
pub mod json_out;
pub mod message_args;
pub mod oauth;
pub mod outbox;
pub mod pop3;
pub mod pop3_all;
pub mod qs;
pub mod send;
pub mod send_message;
pub mod send_queue;
pub mod send_wire;
pub mod sendmail;
pub mod system_mail;
pub mod unpack;
pub mod url;
pub mod url_template;

pub use error::CliError;

/// postie: HTTP and mail client work for scripts.
#[derive(Debug, Parser)]
#[command(name = "postie", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP(S) GET/POST with curl's flag names, redirects and a cookie jar.
    Fetch(fetch::FetchArgs),
    /// Inspect and convert cookie jars (Netscape cookies.txt).
    Cookies(cookies::CookiesArgs),
    /// URL tools with the semantics of CPython's urllib.parse.
    Url(url::UrlArgs),
    /// Query-string tools with the semantics of CPython's urllib.parse.
    Qs(qs::QsArgs),
    /// Turn messages into their text and their attachments, safely.
    Unpack(unpack::UnpackArgs),
    /// POP3 client: list, pull and unpack a mailbox.
    Pop3(pop3::Pop3Args),
    /// Send mail with attachments over SMTP.
    Send(send::SendArgs),
    /// The messages `send --queue` kept: list, flush (send), drop, show.
    Outbox(outbox::OutboxArgs),
    /// The accounts file: import accounts from ~/.msmtprc or ~/.mpoprc.
    Config(config_cmd::ConfigArgs),
    /// OAuth2 for mail accounts: sign in, print a token, status, sign out.
    #[command(name = "oauth")]
    OAuth(oauth::OAuthArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout.
    Man,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Runs the subcommand.
pub fn dispatch(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Fetch(args) => fetch::run(args),
        Command::Cookies(args) => cookies::run(args),
        Command::Url(args) => url::run(args),
        Command::Qs(args) => qs::run(args),
        Command::Unpack(args) => unpack::run(args),
        Command::Pop3(args) => match *args.command {
            pop3::Pop3Command::Pull(pull) if pull.all_accounts => pop3_all::run(&pull),
            command => pop3::run(command),
        },
        Command::Send(args) if args.options.prepared.is_set() => send_message::run(*args.options),
        Command::Send(args) => send::run(args),
        Command::Outbox(args) => outbox::run(args),
        Command::Config(args) => config_cmd::run(args),
        Command::OAuth(args) => oauth::run(args),
        Command::Completions(args) => completions(args.shell),
        Command::Man => man(),
    }
}

fn completions(shell: clap_complete::Shell) -> Result<Exit, Error> {
    let mut cmd = Cli::command();
    // clap_complete panics on a write error, so render first and write ourselves.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "postie", &mut script);
    io::stdout()
        .lock()
        .write_all(&script)
        .map_err(|e| Error::output("stdout", e))?;
    Ok(Exit::SUCCESS)
}

fn man() -> Result<Exit, Error> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd)
        .render(&mut io::stdout().lock())
        .map_err(|e| Error::output("stdout", e))?;
    Ok(Exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
