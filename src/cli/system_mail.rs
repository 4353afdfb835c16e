//! What system mail needs on top of `--message` and sendmail mode (msmtp's companions): the
//! From policy (`--from-policy`, account key `from_policy`), the aliases file (`aliases`) for
//! recipients without an `@`, and the delivery log (`log`, `syslog`). The pure parts are in
//! `smtp::aliases` and `smtp::delivery_log`; here the account's keys are read and applied.

use std::path::Path;

use lettre::Address;
use lettre::message::Mailbox;

use crate::cli::message_args::FromPolicy;
use crate::cli::send::SendOptions;
use crate::config::{Account, ConfigError};
use crate::error::Error;
use crate::smtp::aliases::Aliases;
use crate::smtp::compose::parse_mailboxes;
use crate::smtp::delivery_log::{self, Entry};
use crate::smtp::prepared::Head;
use crate::smtp::{Reply, SmtpError};

/// The policy: the flag, else the account's `from_policy`, else keep.
pub fn from_policy(args: &SendOptions, account: &Account) -> Result<FromPolicy, Error> {
    if let Some(p) = args.prepared.from_policy {
        return Ok(p);
    }
    match account
        .from_policy
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("keep") => Ok(FromPolicy::Keep),
        Some("envelope") => Ok(FromPolicy::Envelope),
        Some("account") => Ok(FromPolicy::Account),
        Some(other) => Err(invalid(
            args,
            format!("from_policy = {other:?}: keep, envelope or account"),
        )),
    }
}

/// The From field to write, and whether it replaces the message's: with `keep`, a From
/// only for a message without one (the sender, named by `-F`); with `envelope` or
/// `account`, that address under `-F`'s name, else the message's own display name.
pub fn from_field(
    args: &SendOptions,
    account: &Account,
    head: &Head,
    sender: Option<&Address>,
) -> Result<(Option<String>, bool), Error> {
    let policy = from_policy(args, account)?;
    if policy == FromPolicy::Keep && head.has("From") {
        return Ok((None, false));
    }
    let given_name = args
        .prepared
        .full_name
        .clone()
        .filter(|n| !n.trim().is_empty());
    let mailbox = match policy {
        FromPolicy::Account => {
            let text = args
                .from
                .as_ref()
                .or(account.from.as_ref())
                .ok_or_else(|| {
                    SmtpError::usage(
                        "--from-policy",
                        "account: the account has no from (give --from)",
                    )
                })?;
            let mut list = parse_mailboxes("--from", text)?;
            if list.len() != 1 {
                return Err(SmtpError::usage("--from", "give exactly one address").into());
            }
            list.remove(0)
        }
        FromPolicy::Keep | FromPolicy::Envelope => {
            let sender = sender.ok_or_else(|| {
                SmtpError::usage(
                    "--envelope-from",
                    "the null sender cannot be the From field: give -f ADDR",
                )
            })?;
            Mailbox::new(None, sender.clone())
        }
    };
    let name = given_name.or(mailbox.name.clone()).or_else(|| {
        head.from_name
            .clone()
            .filter(|_| policy != FromPolicy::Keep)
    });
    let replace = policy != FromPolicy::Keep;
    Ok((Some(Mailbox::new(name, mailbox.email).to_string()), replace))
}

/// The account's aliases file, when it names one.
pub fn aliases(args: &SendOptions, account: &Account) -> Result<Option<Aliases>, Error> {
    let Some(path) = &account.aliases else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|source| SmtpError::Read {
        what: "aliases",
        path: path.clone(),
        source,
    })?;
    Aliases::parse(&text)
        .map(Some)
        .map_err(|e| invalid(args, format!("aliases {}: {e}", path.display())))
}

/// `recipient` through the aliases when it is a local name (no `@`), else as it is.
pub fn expand<'a>(aliases: Option<&'a Aliases>, recipient: &'a str) -> Vec<&'a str> {
    match aliases.and_then(|a| a.expand(recipient.trim())) {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => vec![recipient],
    }
}

/// What the delivery log records of one message.
#[derive(Debug)]
pub struct Delivery<'a> {
    pub server: String,
    pub from: String,
    pub recipients: Vec<String>,
    pub size: usize,
    pub outcome: Result<&'a Reply, &'a Error>,
}

/// Writes the line to the account's `log` file and, with `syslog = true`, to syslog. A log
/// that cannot be written is a warning: the message's fate is already decided.
pub fn log(args: &SendOptions, account: &Account, d: &Delivery) {
    if account.log.is_none() && account.syslog != Some(true) {
        return;
    }
    let failed = d
        .outcome
        .as_ref()
        .err()
        .map(|e| (e.to_string(), e.exit_code()));
    let entry = Entry {
        time: time::OffsetDateTime::now_utc(),
        account: args.conn.account.as_deref(),
        server: &d.server,
        from: &d.from,
        recipients: &d.recipients,
        size: d.size,
        outcome: match (&d.outcome, &failed) {
            (Ok(reply), _) => Ok(reply),
            (Err(_), Some((why, code))) => Err((why.as_str(), *code)),
            (Err(_), None) => return,
        },
    };
    let line = delivery_log::line(&entry);
    if let Some(path) = &account.log {
        warn_on(path, delivery_log::append(path, &line));
    }
    if account.syslog == Some(true) {
        warn_on(
            Path::new("/dev/log"),
            delivery_log::syslog(&line, failed.is_some()),
        );
    }
}

fn warn_on(path: &Path, result: std::io::Result<()>) {
    if let Err(e) = result {
        eprintln!("postie: warning: delivery log {}: {e}", path.display());
    }
}

fn invalid(args: &SendOptions, why: String) -> Error {
    let name = args.conn.account.clone().unwrap_or_default();
    ConfigError::Invalid { name, why }.into()
}
