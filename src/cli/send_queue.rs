//! The outbox flags of `postie send` (`--queue`, `--queue-on-failure`, `--outbox DIR`) and
//! [`deliver`]: one finished message (envelope, bytes, DSN), whatever made it, sent now or
//! queued. It does not compose messages (`send`) nor flush the outbox (`outbox`); the spool
//! and its rules are the engine's (`smtp::outbox`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lettre::address::Envelope;

use crate::cli::CliError;
use crate::cli::common::{MailConnArgs, MailProtocol};
use crate::cli::oauth::is_oauth2;
use crate::config::Account;
use crate::error::Error;
use crate::exit::Exit;
use crate::net::{Family, ServerUrl};
use crate::secret::{PasswordLookup, SecretError, resolve_password};
use crate::smtp::outbox::entry::NewEntry;
use crate::smtp::outbox::{self, Connection, OutboxError, Spool, State};
use crate::smtp::{Dsn, Session, Settings, SmtpError};
use crate::tls::TlsMode;

/// `--queue`, `--queue-on-failure`, `--outbox`: flattened into every command that sends.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct QueueArgs {
    /// Do not connect: write the message to the outbox (`postie outbox flush` sends it) and
    /// print its queue id.
    #[arg(long, conflicts_with = "queue_on_failure")]
    pub queue: bool,
    /// Send now; on a temporary failure (no network, connection refused, timeout, 4xx) put
    /// the message in the outbox instead, print its queue id and exit 0.
    #[arg(long)]
    pub queue_on_failure: bool,
    /// The outbox folder (default: $XDG_STATE_HOME/postie/outbox, else
    /// ~/.local/state/postie/outbox).
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
}

impl QueueArgs {
    /// True when the message goes through the outbox (`--queue` or `--queue-on-failure`).
    pub fn is_requested(&self) -> bool {
        self.queue || self.queue_on_failure
    }

    /// Refuses `--queue`/`--queue-on-failure` with `flag` (a mode that does not queue yet).
    pub fn refuse_with(&self, flag: &str) -> Result<(), CliError> {
        let given = match (self.queue, self.queue_on_failure) {
            (true, _) => "--queue",
            (_, true) => "--queue-on-failure",
            _ => return Ok(()),
        };
        Err(CliError::invalid(
            given,
            format!("cannot be used with {flag}"),
        ))
    }
}

/// One finished message.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub envelope: &'a Envelope,
    pub bytes: &'a [u8],
    pub message_id: Option<&'a str>,
    pub dsn: &'a Dsn,
}

/// The outbox folder: `--outbox`, else `$XDG_STATE_HOME/postie/outbox`, else
/// `~/.local/state/postie/outbox`.
pub fn outbox_dir(flag: Option<&Path>) -> Result<PathBuf, OutboxError> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from)?;
            Some(home.join(".local/state"))
        })
        .ok_or(OutboxError::NoLocation)?;
    Ok(state.join("postie/outbox"))
}

/// What a queued message keeps of the connection flags: no secret, paths made absolute (a
/// flush from cron runs in another folder). `auth` is `--auth`'s value name.
pub fn connection(
    conn: &MailConnArgs,
    auth: Option<&str>,
    helo: Option<&str>,
    allow_insecure_auth: bool,
) -> Connection {
    let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    let cert = conn
        .tls
        .client
        .cert
        .as_ref()
        .map(|c| match std::env::current_dir() {
            Ok(cwd) if !c.starts_with('/') => cwd.join(c).to_string_lossy().into_owned(),
            _ => c.clone(),
        });
    let tls = conn
        .tls
        .tls
        .and_then(|m| clap::ValueEnum::to_possible_value(&m))
        .map(|v| v.get_name().to_owned());
    Connection {
        account: conn.account.clone(),
        server: conn.server.clone(),
        user: conn.user.clone(),
        password_env: conn.password.password_env.clone(),
        password_file: conn.password.password_file.as_ref().map(abs),
        password_command: conn.password.password_command.clone(),
        tls,
        cacert: conn.tls.cacert.as_ref().map(abs),
        insecure: conn.tls.insecure,
        cert,
        key: conn.tls.client.key.as_ref().map(abs),
        pinnedpubkey: conn.tls.client.pinnedpubkey.clone(),
        timeout: conn.timeout,
        auth: auth.map(str::to_owned),
        allow_insecure_auth,
        helo: helo.map(str::to_owned),
    }
}

/// Queues `msg` (`--queue`), or sends it now and queues it on a temporary failure
/// (`--queue-on-failure`); callers check [`QueueArgs::is_requested`] first. `settings`
/// builds the session settings (and gets the password) only when postie connects now.
pub fn deliver(
    queue: &QueueArgs,
    conn_args: &MailConnArgs,
    account: &Account,
    conn: Connection,
    msg: &Outgoing,
    settings: impl FnOnce() -> Result<Settings, Error>,
) -> Result<Exit, Error> {
    check_unattended(conn_args, account, conn.allow_insecure_auth)?;
    let spool = Spool::new(outbox_dir(queue.outbox.as_deref())?);
    if queue.queue {
        let entry = enqueue(&spool, conn, msg, State::Queued, 0, None)?;
        print_id(&entry.id)?;
        return Ok(Exit::SUCCESS);
    }
    let failed = match send_now(&settings()?, msg) {
        Ok(()) => return Ok(Exit::SUCCESS),
        Err(f) => f,
    };
    let code = failed.error.exit_code();
    if failed.in_doubt {
        let why = failed.error.to_string();
        let entry = enqueue(&spool, conn, msg, State::InDoubt, 1, Some(why.clone()))?;
        eprintln!(
            "postie: {why}: the server may have accepted the message; kept in the outbox as \
             in-doubt {id} (postie outbox flush --resend-in-doubt --id {id} sends it again)",
            id = entry.id
        );
        return Ok(Exit::with_code(code));
    }
    if !outbox::is_temporary(code) {
        return Err(failed.error.into());
    }
    let why = failed.error.to_string();
    let entry = enqueue(&spool, conn, msg, State::Queued, 1, Some(why.clone()))?;
    eprintln!("postie: {why}; queued as {}", entry.id);
    print_id(&entry.id)?;
    Ok(Exit::SUCCESS)
}

/// The queue id on stdout, for scripts (`id=$(postie send --queue ...)`).
fn print_id(id: &str) -> Result<(), Error> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{id}").map_err(|e| Error::output("stdout", e))
}

/// A failed immediate send: the error, and whether the final dot had gone out.
struct NotSent {
    error: SmtpError,
    in_doubt: bool,
}

fn send_now(settings: &Settings, msg: &Outgoing) -> Result<(), NotSent> {
    let not_sent = |error| NotSent {
        error,
        in_doubt: false,
    };
    let mut session = Session::connect(settings).map_err(not_sent)?;
    let dot_sent = Arc::new(AtomicBool::new(false));
    let flag = dot_sent.clone();
    let hook = Box::new(move || {
        flag.store(true, Ordering::SeqCst);
        Ok(())
    });
    match session.send_checkpointed(msg.envelope, msg.bytes, msg.dsn, hook) {
        Ok(_) => {
            session.quit();
            Ok(())
        }
        Err(error) => {
            let replied = error.reply_code().is_some();
            Err(NotSent {
                in_doubt: dot_sent.load(Ordering::SeqCst) && !replied,
                error,
            })
        }
    }
}

fn enqueue(
    spool: &Spool,
    connection: Connection,
    msg: &Outgoing,
    state: State,
    attempts: u32,
    last_error: Option<String>,
) -> Result<outbox::Entry, OutboxError> {
    let new = NewEntry {
        envelope: msg.envelope.clone(),
        message_id: msg.message_id.map(str::to_owned),
        connection,
        dsn: msg.dsn.clone(),
        state,
        attempts,
        last_error,
    };
    spool.enqueue(new, msg.bytes, outbox::now())
}

/// A queued message must be sendable without a terminal: a user whose password would only
/// come from a prompt (no `--password-*`, no account source, no `~/.netrc` entry) is refused,
/// and so is AUTH over a connection that will never be encrypted. No secret is read here
/// (a client certificate's pass phrase neither: it is left out of this check), only
/// `~/.netrc`'s presence.
fn check_unattended(
    conn_args: &MailConnArgs,
    account: &Account,
    allow_insecure_auth: bool,
) -> Result<(), Error> {
    let mut conn_args = conn_args.clone();
    conn_args.tls.client.cert = None;
    conn_args.tls.client.key = None;
    let account = Account {
        tls_cert_file: None,
        tls_key_file: None,
        ..account.clone()
    };
    let conn = conn_args.merge(
        MailProtocol::Smtp,
        &account,
        |s| {
            ServerUrl::parse(s, Family::Smtp)
                .map_err(|e| SmtpError::usage("--server", format!("{s:?}: {}", e.why)).into())
        },
        |_| Ok(()),
    )?;
    let Some(user) = conn.user else {
        return Ok(());
    };
    let url = conn.server;
    if !url.implicit_tls && conn.tls_mode == TlsMode::None && !allow_insecure_auth {
        return Err(SmtpError::InsecureAuth {
            server: format!("{}:{}", url.host, url.port),
        }
        .into());
    }
    if conn.password.is_some() || is_oauth2(&account) {
        return Ok(());
    }
    let lookup = PasswordLookup {
        source: None,
        netrc_file: None,
        allow_prompt: false,
    };
    match resolve_password(&lookup, &url.host, &user) {
        Err(SecretError::NoSource { user, host }) => {
            Err(OutboxError::NeedsPrompt { user, host }.into())
        }
        _ => Ok(()),
    }
}
