//! `postie outbox list|flush|drop|show`: the messages `send --queue` and
//! `--queue-on-failure` left in the outbox. Flushing rebuilds each stored connection into
//! `send`'s flags (the account read again, the password obtained again) and hands the
//! sessions to the engine's flush loop (`smtp::outbox::flush`).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::ValueEnum;

use crate::cli::common::{MailProtocol, TlsModeArg};
use crate::cli::send::{self, AuthArg, SendOptions};
use crate::cli::send_queue::outbox_dir;
use crate::error::Error;
use crate::exit::Exit;
use crate::smtp::outbox::spool::LOCK_WAIT;
use crate::smtp::outbox::{
    self, ConnectFailure, Connection, Entry, FlushOptions, Outcome, Report, Spool, rfc3339,
};
use crate::smtp::{Session, printable};

/// `postie outbox`.
#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    /// The outbox folder (default: $XDG_STATE_HOME/postie/outbox, else
    /// ~/.local/state/postie/outbox).
    #[arg(long, value_name = "DIR", global = true)]
    pub outbox: Option<PathBuf>,
    #[command(subcommand)]
    pub command: OutboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// List the queued messages (id, state, attempts, next try, sender, recipients, last
    /// error), oldest first.
    List {
        /// One JSON object per message (JSON Lines).
        #[arg(long)]
        json: bool,
    },
    /// Send the messages that are due: one connection per account, in queue order.
    Flush(FlushArgs),
    /// Remove a message from the outbox without sending it.
    Drop {
        /// The queue id (as `list` shows it).
        id: String,
    },
    /// Print a message's record, then the message.
    Show {
        /// The queue id.
        id: String,
        /// The record as one JSON object instead (the message stays in its file).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct FlushArgs {
    /// Only this message, whatever its schedule (a failed one is tried again).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Also send the in-doubt messages (the server may have accepted them already: the
    /// recipients may get them twice).
    #[arg(long)]
    pub resend_in_doubt: bool,
    /// Try deferred messages now instead of at their next try.
    #[arg(long)]
    pub now: bool,
    /// One JSON object per message tried (JSON Lines) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the SMTP dialogues on stderr (AUTH payloads masked) and each message sent.
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(args: OutboxArgs) -> Result<Exit, Error> {
    let spool = Spool::new(outbox_dir(args.outbox.as_deref())?);
    match args.command {
        OutboxCommand::List { json } => list(&spool, json),
        OutboxCommand::Flush(flush) => run_flush(&spool, &flush),
        OutboxCommand::Drop { id } => {
            let _lock = spool.lock(LOCK_WAIT)?;
            spool.load(&id)?;
            spool.remove(&id)?;
            Ok(Exit::SUCCESS)
        }
        OutboxCommand::Show { id, json } => show(&spool, &id, json),
    }
}

fn list(spool: &Spool, json: bool) -> Result<Exit, Error> {
    let mut out = io::stdout().lock();
    let mut all_read = true;
    for item in spool.entries()? {
        let entry = match item {
            Ok(e) => e,
            Err(e) => {
                eprintln!("postie: {e}");
                all_read = false;
                continue;
            }
        };
        let text = if json {
            format!("{}\n", view(&entry))
        } else {
            line(&entry)
        };
        out.write_all(text.as_bytes())
            .map_err(|e| Error::output("stdout", e))?;
    }
    Ok(Exit::from_all_ok(all_read))
}

/// One entry for `list`: a summary line, and the last error indented under it.
fn line(e: &Entry) -> String {
    let next = match (e.state, e.next_try) {
        (outbox::State::Deferred, Some(t)) => format!("  next try {}", rfc3339(t)),
        _ => String::new(),
    };
    let from = if e.from.is_empty() { "<>" } else { &e.from };
    let mut text = format!(
        "{}  {}  attempts {}{next}  {from} -> {}  ({})\n",
        e.id,
        e.state.name(),
        e.attempts,
        e.to.join(", "),
        e.connection.label(),
    );
    if let Some(error) = &e.last_error {
        text.push_str(&format!("    {}\n", printable(error)));
    }
    text
}

/// The JSON of one entry in listings: times in RFC 3339, no connection details but its name.
fn view(e: &Entry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "state": e.state.name(),
        "queued_at": rfc3339(e.queued_at),
        "updated_at": rfc3339(e.updated_at),
        "attempts": e.attempts,
        "next_try": e.next_try.map(rfc3339),
        "message_id": e.message_id,
        "from": e.from,
        "to": e.to,
        "size": e.size,
        "account": e.connection.account,
        "server": e.connection.server,
        "last_error": e.last_error,
        "reply": e.reply,
    })
}

fn show(spool: &Spool, id: &str, json: bool) -> Result<Exit, Error> {
    let entry = spool.load(id)?;
    let mut out = io::stdout().lock();
    let text = if json {
        let mut v = view(&entry);
        v["connection"] = serde_json::to_value(&entry.connection).unwrap_or_default();
        v["dsn"] = serde_json::to_value(&entry.dsn).unwrap_or_default();
        v["message_file"] = spool.message_path(id).to_string_lossy().into();
        format!("{v}\n").into_bytes()
    } else {
        let mut text = line(&entry).into_bytes();
        text.extend_from_slice(b"\n");
        text.extend_from_slice(&spool.read_message(id)?);
        text
    };
    out.write_all(&text)
        .map_err(|e| Error::output("stdout", e))?;
    Ok(Exit::SUCCESS)
}

fn run_flush(spool: &Spool, args: &FlushArgs) -> Result<Exit, Error> {
    let opts = FlushOptions {
        only: args.id.clone(),
        resend_in_doubt: args.resend_in_doubt,
        ignore_schedule: args.now,
    };
    let verbose = args.verbose;
    let connect = |conn: &Connection| {
        open(conn, verbose).map_err(|e| ConnectFailure {
            message: e.to_string(),
            code: e.exit_code(),
        })
    };
    let mut write_error = None;
    let summary = outbox::flush(spool, &opts, connect, |r| {
        if args.json {
            let line = format!("{}\n", report_json(r));
            if let Err(e) = io::stdout().lock().write_all(line.as_bytes()) {
                write_error.get_or_insert(e);
            }
        } else {
            tell(r, verbose);
        }
    })?;
    if let Some(e) = write_error {
        return Err(Error::output("stdout", e));
    }
    Ok(Exit::with_code(summary.code))
}

/// A session for a stored connection: `send`'s flags again, over the account as it is now.
fn open(conn: &Connection, verbose: bool) -> Result<Session, Error> {
    let args = options_for(conn, verbose);
    let account = args.conn.load_account(MailProtocol::Smtp)?;
    let settings = send::settings(&args, &account)?;
    Ok(Session::connect(&settings)?)
}

/// The `send` flags a stored connection stands for.
fn options_for(c: &Connection, verbose: bool) -> SendOptions {
    let mut args = SendOptions {
        auth: c
            .auth
            .as_deref()
            .and_then(|a| AuthArg::from_str(a, true).ok()),
        allow_insecure_auth: c.allow_insecure_auth,
        helo: c.helo.clone(),
        verbose,
        ..SendOptions::default()
    };
    let conn = &mut args.conn;
    conn.account = c.account.clone();
    conn.server = c.server.clone();
    conn.user = c.user.clone();
    conn.timeout = c.timeout;
    conn.password.password_env = c.password_env.clone();
    conn.password.password_file = c.password_file.clone();
    conn.password.password_command = c.password_command.clone();
    conn.tls.tls = c
        .tls
        .as_deref()
        .and_then(|t| TlsModeArg::from_str(t, true).ok());
    conn.tls.cacert = c.cacert.clone();
    conn.tls.insecure = c.insecure;
    conn.tls.client.cert = c.cert.clone();
    conn.tls.client.key = c.key.clone();
    conn.tls.client.pinnedpubkey = c.pinnedpubkey.clone();
    args
}

/// A flush outcome on stderr: every one but "sent" (that one only with `-v`).
fn tell(r: &Report, verbose: bool) {
    let id = &r.id;
    match &r.outcome {
        Outcome::Sent { .. } if verbose => eprintln!("postie: outbox {id}: sent"),
        Outcome::Sent { .. } => {}
        Outcome::Deferred {
            error, next_try, ..
        } => eprintln!(
            "postie: outbox {id}: deferred until {}: {}",
            rfc3339(*next_try),
            printable(error)
        ),
        Outcome::Failed { error, .. } => eprintln!(
            "postie: outbox {id}: failed permanently, kept aside: {}",
            printable(error)
        ),
        Outcome::InDoubt { error, .. } => eprintln!(
            "postie: outbox {id}: in doubt, the server may have accepted it: {} \
             (postie outbox flush --resend-in-doubt --id {id} sends it again)",
            printable(error)
        ),
        Outcome::KeptInDoubt => eprintln!(
            "postie: outbox {id}: in doubt from an earlier flush, not sent again (check the \
             recipient's mailbox, then: postie outbox flush --resend-in-doubt --id {id}, or \
             postie outbox drop {id})"
        ),
        Outcome::NotTried { error, .. } => {
            eprintln!("postie: outbox {id}: not sent: {}", printable(error));
        }
        Outcome::Unreadable { error } => eprintln!("postie: {error}"),
    }
}

fn report_json(r: &Report) -> serde_json::Value {
    let (outcome, error, next_try, reply) = match &r.outcome {
        Outcome::Sent { reply } => ("sent", None, None, Some(reply)),
        Outcome::Deferred {
            error, next_try, ..
        } => ("deferred", Some(error), Some(rfc3339(*next_try)), None),
        Outcome::Failed { error, reply, .. } => ("failed", Some(error), None, reply.as_ref()),
        Outcome::InDoubt { error, .. } => ("in-doubt", Some(error), None, None),
        Outcome::KeptInDoubt => ("kept-in-doubt", None, None, None),
        Outcome::NotTried { error, .. } => ("not-tried", Some(error), None, None),
        Outcome::Unreadable { error } => ("unreadable", Some(error), None, None),
    };
    serde_json::json!({
        "id": r.id,
        "message_id": r.message_id,
        "outcome": outcome,
        "code": r.outcome.code(),
        "error": error,
        "next_try": next_try,
        "reply": reply,
    })
}
