//! postie: one binary for the HTTP and mail client work that people script.
//!
//! Every capability lives in this library; `src/main.rs` only hands its arguments to [`main`],
//! which parses them (as sendmail's when the program is named `sendmail`), calls [`run`] and
//! turns the result into an exit code.
//!
//! Module map:
//! - [`cli`]: clap definitions, one file per subcommand; turns raw arguments into validated
//!   configs for the engines (engines never see clap types).
//! - [`exit`]: the one exit-code table, [`Exit`], the walk along an error's source chain (a
//!   leaf every module may import).
//! - [`error`]: the top-level error wrapping each module's error (used by `cli` and here only).
//! - [`fetch`]: the HTTP engine over ureq (`postie fetch`).
//! - [`cookies`]: the Netscape cookies.txt format and the jar (load, lock, merge, save).
//! - [`urlparse`]: CPython's `urllib.parse` semantics, pure (`postie url`, `postie qs`).
//! - [`smtp`]: message composition and SMTP submission over lettre (`postie send`).
//! - [`pop3`]: the hand-written POP3 client (`postie pop3`).
//! - [`oauth`]: OAuth2 for the mail accounts: login, the token store, refresh (`postie oauth`).
//! - [`mail`]: message parsing, safe attachment names, saving, Maildir (`postie unpack`).
//! - [`secret`], [`netrc`], [`config`], [`tls`], [`fsutil`]: pieces the engines share:
//!   passwords that never print, `.netrc`, the accounts file, TLS settings, atomic writes.
//! - [`config_import`]: msmtp's and mpop's configuration files read as postie accounts.
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod config_import;
pub mod cookies;
pub mod error;
pub mod exit;
pub mod fetch;
pub mod fsutil;
pub mod mail;
pub mod net;
pub mod netrc;
pub mod oauth;
pub mod pop3;
pub mod secret;
pub mod smtp;
pub mod tls;
pub mod urlparse;

pub use error::Error;
pub use exit::Exit;

/// The whole program: the arguments (the program name first) in, the exit code out; errors
/// printed once as `postie: <what>: <why>`. Started under the name `sendmail` (a symlink),
/// the arguments are sendmail's (`cli::sendmail`).
pub fn main(args: Vec<std::ffi::OsString>) -> u8 {
    let result = if cli::sendmail::invoked_as_sendmail(args.first()) {
        cli::send_message::run_sendmail(args.into_iter().skip(1).collect())
    } else {
        let args = cli::fetch::wget_aliases(args.into_iter());
        run(<cli::Cli as clap::Parser>::parse_from(args))
    };
    match result {
        Ok(exit) => exit.code(),
        Err(err) if err.is_broken_pipe() => exit::code::OK,
        Err(err) => {
            eprintln!("postie: {err}");
            err.exit_code()
        }
    }
}

/// Runs one parsed command line. `Ok` carries the exit status of a command that completed
/// (a batch may complete with some items failed, each already reported on stderr).
pub fn run(cli: cli::Cli) -> Result<Exit, Error> {
    cli::dispatch(cli)
}
