//! `postie send --message FILE` and sendmail mode (the `sendmail` symlink, or
//! `--sendmail-args`): an existing message read once, made ready by `smtp::prepared`, its
//! envelope decided here (sender: `-f`, else `--from` or the account's `from`, else the
//! message's From; recipients: the arguments, plus the header fields with `-t`), then handed
//! to the same send step as a composed message.

use std::ffi::OsString;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use lettre::Address;
use lettre::address::Envelope;

use crate::cli::common::MailProtocol;
use crate::cli::error::CliError;
use crate::cli::send::{SendArgs, SendOptions, save, settings};
use crate::cli::sendmail;
use crate::cli::system_mail::{self, Delivery};
use crate::config::Account;
use crate::error::Error;
use crate::exit::{Exit, code};
use crate::smtp::aliases::Aliases;
use crate::smtp::compose::parse_mailboxes;
use crate::smtp::prepared::{Additions, Head, date_now, domain_of, new_message_id, read_crlf};
use crate::smtp::{Delivery as SmtpDelivery, Reply, Session, Settings, SmtpError};

/// Sendmail mode through the symlink: `args` are those after the program name.
pub fn run_sendmail(args: Vec<OsString>) -> Result<Exit, Error> {
    let mut list = Vec::with_capacity(args.len());
    for a in args {
        let text = a.into_string().map_err(|a| {
            CliError::SendmailUsage(format!("{}: not UTF-8 text", a.to_string_lossy()))
        })?;
        list.push(text);
    }
    // `postie send` with no flags: every default as clap gives it.
    let command = <SendArgs as clap::Args>::augment_args(clap::Command::new("send"));
    let matches = command
        .try_get_matches_from(["send"])
        .map_err(|e| CliError::SendmailUsage(e.to_string()))?;
    let SendArgs { mut options } = <SendArgs as clap::FromArgMatches>::from_arg_matches(&matches)
        .map_err(|e| CliError::SendmailUsage(e.to_string()))?;
    options.prepared.sendmail_args = Some(list);
    run(*options)
}

/// `postie send --message` or `--sendmail-args`.
pub fn run(mut args: SendOptions) -> Result<Exit, Error> {
    let Some(sendmail_args) = args.prepared.sendmail_args.take() else {
        return send(&args);
    };
    // In sendmail mode every usage error is sendmail's: exit 64.
    let as_sendmail = |e: Error| match e.exit_code() {
        code::USAGE => CliError::SendmailUsage(e.to_string()).into(),
        _ => e,
    };
    apply_sendmail(&mut args, &sendmail_args).map_err(as_sendmail)?;
    send(&args).map_err(as_sendmail)
}

/// What the sendmail command line says, over `args` (which keeps the flags given before
/// `--sendmail-args`). Without `-a`/`--account` (and without `--server`), the account named
/// `default`.
fn apply_sendmail(args: &mut SendOptions, list: &[String]) -> Result<(), Error> {
    let sm = sendmail::parse(list).map_err(|e| CliError::SendmailUsage(e.to_string()))?;
    if sm.verbose {
        for (option, why) in &sm.ignored {
            eprintln!("postie: sendmail: {option} ignored: {why}");
        }
    }
    let prepared = &mut args.prepared;
    prepared.message.get_or_insert_with(|| "-".to_owned());
    prepared.read_recipients |= sm.read_recipients;
    prepared.full_name = sm.full_name.or(prepared.full_name.take());
    prepared.recipients.extend(sm.recipients);
    args.envelope_from = sm.envelope_from.or(args.envelope_from.take());
    args.verbose |= sm.verbose;
    let account = sm.account.or(args.conn.account.take());
    // `--server` given before `--sendmail-args` needs no account, as msmtp's `--host`.
    args.conn.account = match (account, &args.conn.server) {
        (None, Some(_)) => None,
        (account, _) => Some(account.unwrap_or_else(|| "default".to_owned())),
    };
    Ok(())
}

fn send(args: &SendOptions) -> Result<Exit, Error> {
    let account = args.conn.load_account(MailProtocol::Smtp)?;
    let delivery = args.wire.delivery(&account)?;
    let source = args.prepared.message.as_deref().unwrap_or("-");
    let bytes = read_message(source)?;
    let head = Head::scan(&bytes);
    let sender = envelope_sender(args, &account, &head)?;
    let (from, replace_from) = system_mail::from_field(args, &account, &head, sender.as_ref())?;
    let additions = Additions {
        date: date_now(),
        message_id: new_message_id(domain_of(sender.as_ref().map(AsRef::as_ref))),
        from,
        replace_from,
    };
    let aliases = system_mail::aliases(args, &account)?;
    let envelope = envelope(args, &head, sender, aliases.as_ref())?;
    let bytes = head.rewrite(bytes, &additions);
    if args.dry_run {
        let bytes = delivery.finish(bytes)?;
        io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| Error::output("stdout", e))?;
        save(args.save.as_deref(), &bytes)?;
        return Ok(Exit::SUCCESS);
    }
    if args.queue.is_requested() {
        let message_id = (!head.has("Message-ID")).then_some(additions.message_id.as_str());
        let queued = Queued {
            envelope: &envelope,
            message_id,
        };
        return queue(args, &account, &delivery, &queued, bytes);
    }
    let settings = settings(args, &account)?;
    let size = bytes.len();
    let result = deliver(&settings, &envelope, bytes, &delivery);
    let entry = Delivery {
        server: settings.server(),
        from: envelope.from().map(ToString::to_string).unwrap_or_default(),
        recipients: envelope.to().iter().map(ToString::to_string).collect(),
        size,
        outcome: result.as_ref().map(|(reply, _)| reply),
    };
    system_mail::log(args, &account, &entry);
    let (_, bytes) = result?;
    save(args.save.as_deref(), &bytes)?;
    Ok(Exit::SUCCESS)
}

/// What the outbox keeps of a prepared message besides its bytes.
struct Queued<'a> {
    envelope: &'a Envelope,
    /// The Message-ID postie added (a message's own is read from it by `outbox show`).
    message_id: Option<&'a str>,
}

/// `--queue`/`--queue-on-failure`: signed as it will leave (converted to 7-bit first when
/// signed: the server is not known yet), then sent now or kept by the outbox.
fn queue(
    args: &SendOptions,
    account: &Account,
    delivery: &SmtpDelivery,
    queued: &Queued,
    bytes: Vec<u8>,
) -> Result<Exit, Error> {
    let bytes = delivery.finish_for(bytes, false, "the outbox")?;
    let outgoing = crate::cli::send_queue::Outgoing {
        envelope: queued.envelope,
        bytes: &bytes,
        message_id: queued.message_id,
        dsn: &delivery.dsn,
    };
    let exit = crate::cli::send::queue_or_send(args, account, &outgoing)?;
    save(args.save.as_deref(), &bytes)?;
    Ok(exit)
}

/// The send step of a prepared message: connect, sign for what the server takes (DKIM),
/// send with the DSN parameters, quit. The bytes as sent come back for `--save`.
fn deliver(
    settings: &Settings,
    envelope: &Envelope,
    bytes: Vec<u8>,
    delivery: &SmtpDelivery,
) -> Result<(Reply, Vec<u8>), Error> {
    let mut session = Session::connect(settings)?;
    let bytes = delivery.finish_for(bytes, session.offers_8bitmime(), &settings.server())?;
    let reply = session.send_with(envelope, &bytes, &delivery.dsn)?;
    session.quit();
    Ok((reply, bytes))
}

/// The message from `source` ("-": stdin), read once, its line ends made CRLF on the way.
fn read_message(source: &str) -> Result<Vec<u8>, SmtpError> {
    let read_error = |source_err: io::Error| SmtpError::Read {
        what: "--message",
        path: PathBuf::from(source),
        source: source_err,
    };
    let mut bytes = Vec::new();
    if source == "-" {
        let stdin = io::stdin();
        read_crlf(&mut stdin.lock(), &mut bytes).map_err(read_error)?;
        return Ok(bytes);
    }
    let file = std::fs::File::open(source).map_err(read_error)?;
    // Room for the file and its CRs, so the buffer is not grown (and copied) while reading.
    let size = file.metadata().map_or(0, |m| m.len());
    bytes.reserve(usize::try_from(size + size / 32 + 4096).unwrap_or(0));
    read_crlf(&mut BufReader::with_capacity(64 * 1024, file), &mut bytes).map_err(read_error)?;
    Ok(bytes)
}

/// MAIL FROM: `-f`/`--envelope-from`, else `--from` or the account's `from`, else the
/// message's From. `-f ''` or `-f '<>'` is the null sender (for bounces).
fn envelope_sender(
    args: &SendOptions,
    account: &Account,
    head: &Head,
) -> Result<Option<Address>, Error> {
    if let Some(given) = &args.envelope_from {
        if matches!(given.trim(), "" | "<>") {
            return Ok(None);
        }
        return Ok(Some(one_address("--envelope-from", given)?));
    }
    if let Some(from) = args.from.as_ref().or(account.from.as_ref()) {
        return Ok(Some(one_address("--from", from)?));
    }
    match &head.from {
        Some(from) => Ok(Some(bare_address("From", from)?)),
        None => Err(SmtpError::usage(
            "--envelope-from",
            "no sender: give -f ADDR, --from, an account with a from, or a From field in the message",
        )
        .into()),
    }
}

/// RCPT TO: every address given (`--to`, `--cc`, `--bcc`, bare), then with `-t` those of
/// the header fields; each once (the domain compared without case).
fn envelope(
    args: &SendOptions,
    head: &Head,
    sender: Option<Address>,
    aliases: Option<&Aliases>,
) -> Result<Envelope, Error> {
    let mut all: Vec<Address> = Vec::new();
    let given = [
        ("--to", &args.to),
        ("--cc", &args.cc),
        ("--bcc", &args.bcc),
        ("ADDR", &args.prepared.recipients),
    ];
    for (flag, values) in given {
        for value in values {
            for one in system_mail::expand(aliases, value) {
                all.extend(parse_mailboxes(flag, one)?.into_iter().map(|m| m.email));
            }
        }
    }
    if args.prepared.read_recipients {
        for text in &head.recipients {
            for one in system_mail::expand(aliases, text) {
                all.push(bare_address("-t", one)?);
            }
        }
    }
    let mut rcpts: Vec<Address> = Vec::with_capacity(all.len());
    for a in all {
        let dup = rcpts
            .iter()
            .any(|r| r.user() == a.user() && r.domain().eq_ignore_ascii_case(a.domain()));
        if !dup {
            rcpts.push(a);
        }
    }
    if rcpts.is_empty() {
        let why = "no recipient: give addresses (or --to, --cc, --bcc), or -t to read them from the message";
        return Err(SmtpError::usage("--message", why).into());
    }
    Envelope::new(sender, rcpts).map_err(|e| SmtpError::usage("--message", e.to_string()).into())
}

fn one_address(flag: &str, text: &str) -> Result<Address, SmtpError> {
    let mut list = parse_mailboxes(flag, text)?;
    if list.len() != 1 {
        return Err(SmtpError::usage(flag, "give exactly one address"));
    }
    Ok(list.remove(0).email)
}

/// An address found in a header field; a local name alone (`root`) is refused unless the
/// aliases file names it.
fn bare_address(field: &str, text: &str) -> Result<Address, SmtpError> {
    text.parse().map_err(|_| {
        SmtpError::usage(
            field,
            format!(
                "{} is not a mail address (user@domain; an account's aliases file can map local names)",
                crate::smtp::printable(&format!("{text:?}"))
            ),
        )
    })
}
