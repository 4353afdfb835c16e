//! `postie send`: flags, the account merge, and the glue to the smtp engine. Flags override
//! what `--account` says; the engine gets a [`MessageSpec`] and [`Settings`], never clap
//! types.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::cli::CliError;
use crate::cli::common::{MailConn, MailConnArgs, MailProtocol};
use crate::cli::oauth::{self as cli_oauth, is_oauth2};
use crate::cli::send_queue;
use crate::cli::send_wire::WireArgs;
use crate::config::Account;
use crate::error::Error;
use crate::exit::Exit;
use crate::fsutil::{AtomicFile, PRIVATE};
use crate::oauth;
use crate::secret::{PasswordLookup, check_user_name, resolve_password};
use crate::smtp::compose::check_files;
use crate::smtp::{
    AttachSpec, AuthMechanism, InlineSpec, MessageSpec, Session, Settings, SmtpError, batch,
    compose,
};
use crate::smtp::{Renew, RenewError};
use crate::tls::TlsOptions;

/// `postie send` flags. Boxed so the subcommand enum stays small.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub options: Box<SendOptions>,
}

#[derive(Debug, Default, clap::Args)]
#[command(
    mut_arg("server", |a| a.help(
        "The server: smtp://HOST[:587] (STARTTLS required) or smtps://HOST[:465] (implicit TLS)",
    )),
    mut_arg("account", |a| a.help(
        "Read defaults from [account.NAME] in the accounts file (else `account NAME` in \
         ~/.msmtprc)",
    )),
    mut_arg("user", |a| a.help(
        "Authenticate as this user (the password comes from --password-*, ~/.netrc or a prompt)",
    )),
    mut_arg("timeout", |a| a.help(
        "Deadline in seconds for connecting (TCP, TLS handshake, greeting, AUTH) and for each \
         read or write after that (default 60)",
    )),
)]
pub struct SendOptions {
    #[command(flatten)]
    pub conn: MailConnArgs,
    /// The SASL mechanism (default: PLAIN, else LOGIN; for an `auth = "oauth2"` account
    /// OAUTHBEARER, else XOAUTH2, with the stored token).
    #[arg(long, value_enum, value_name = "MECH")]
    pub auth: Option<AuthArg>,
    /// Allow sending credentials over an unencrypted connection (trusted networks only).
    #[arg(long)]
    pub allow_insecure_auth: bool,
    /// The name to give in EHLO (default: this machine's FQDN, else localhost).
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// The sender: "Name <addr>" or addr.
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// A recipient (repeatable; comma lists and "Name <addr>" accepted).
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,
    /// A Cc recipient (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,
    /// A Bcc recipient (repeatable): in the envelope only, never in a header.
    #[arg(long, value_name = "ADDR")]
    pub bcc: Vec<String>,
    /// The Reply-To address.
    #[arg(long, value_name = "ADDR")]
    pub reply_to: Option<String>,
    /// The subject (UTF-8; encoded as RFC 2047 when not ASCII).
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,
    /// An extra header "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The envelope sender (MAIL FROM) when it differs from From.
    #[arg(short = 'f', long, value_name = "ADDR")]
    pub envelope_from: Option<String>,
    /// The text body.
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the text body from this file (UTF-8). Without --body or --body-file, the body is
    /// read from stdin when it is not a terminal.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// An HTML alternative read from this file (makes multipart/alternative with the text).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Attach FILE[;type=MIME][;name=NAME] (repeatable).
    #[arg(short = 'a', long = "attach", value_name = "FILE")]
    pub attach: Vec<String>,
    /// An inline part FILE[;cid=ID][;type=MIME] the HTML refers to as cid:ID (repeatable).
    #[arg(long, value_name = "FILE")]
    pub inline: Vec<String>,
    /// Print the complete message on stdout and connect to nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also keep a copy of the message as sent in this file (mode 0600).
    #[arg(long, value_name = "FILE.eml")]
    pub save: Option<PathBuf>,
    /// Send one message per JSON line of FILE ("-" for stdin) over one connection.
    #[arg(long, value_name = "FILE.jsonl", conflicts_with_all = ["save", "body_file", "html", "inline"])]
    pub batch: Option<String>,
    #[command(flatten)]
    pub prepared: crate::cli::message_args::MessageArgs,
    /// Print the SMTP dialogue on stderr (AUTH payloads masked).
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub wire: WireArgs,
    #[command(flatten)]
    pub queue: send_queue::QueueArgs,
}

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthArg {
    /// The default: PLAIN, else LOGIN; for an oauth2 account OAUTHBEARER, else XOAUTH2.
    Auto,
    Plain,
    Login,
    Xoauth2,
    Oauthbearer,
}

impl AuthArg {
    /// The one mechanism asked for; None for `auto`.
    fn mechanism(self) -> Option<AuthMechanism> {
        match self {
            AuthArg::Auto => None,
            AuthArg::Plain => Some(AuthMechanism::Plain),
            AuthArg::Login => Some(AuthMechanism::Login),
            AuthArg::Xoauth2 => Some(AuthMechanism::Xoauth2),
            AuthArg::Oauthbearer => Some(AuthMechanism::OAuthBearer),
        }
    }
}

pub fn run(args: SendArgs) -> Result<Exit, Error> {
    let args = *args.options;
    let account = args.conn.load_account(MailProtocol::Smtp)?;
    let mut spec = message_spec(&args, &account)?;
    args.wire.apply(&mut spec)?;
    let delivery = args.wire.delivery(&account)?;
    if let Some(source) = &args.batch {
        args.queue.refuse_with("--batch")?;
        return run_batch(&args, &account, &spec, &delivery, source);
    }
    if args.dry_run {
        let bytes = delivery.finish(compose(&spec)?.bytes)?;
        io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| Error::output("stdout", e))?;
        save(args.save.as_deref(), &bytes)?;
        return Ok(Exit::SUCCESS);
    }
    check_files(&spec)?;
    if args.queue.is_requested() {
        return run_queued(&args, &account, &spec, &delivery);
    }
    let settings = settings(&args, &account)?;
    let mut composed = compose(&spec)?;
    let mut session = Session::connect(&settings)?;
    if spec.eight_bit && !session.offers_8bitmime() {
        spec.eight_bit = false;
        composed = compose(&spec)?;
    }
    let bytes = delivery.finish(composed.bytes)?;
    session.send_with(&composed.envelope, &bytes, &delivery.dsn)?;
    session.quit();
    save(args.save.as_deref(), &bytes)?;
    Ok(Exit::SUCCESS)
}

fn run_batch(
    args: &SendOptions,
    account: &Account,
    spec: &MessageSpec,
    delivery: &crate::smtp::Delivery,
    source: &str,
) -> Result<Exit, Error> {
    let settings = if args.dry_run {
        None
    } else {
        Some(settings(args, account)?)
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let summary = if source == "-" {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        batch::run(settings.as_ref(), spec, delivery, &mut input, "-", &mut out)?
    } else {
        let file = std::fs::File::open(source).map_err(|e| SmtpError::BatchRead {
            source_name: source.to_owned(),
            source: e,
        })?;
        let mut input = io::BufReader::new(file);
        batch::run(
            settings.as_ref(),
            spec,
            delivery,
            &mut input,
            source,
            &mut out,
        )?
    };
    if let Some(fatal) = summary.fatal {
        return Err(fatal.into());
    }
    Ok(Exit::from_all_ok(summary.failed == 0))
}

/// The message the flags describe (in a batch: the defaults each line builds on).
fn message_spec(args: &SendOptions, account: &Account) -> Result<MessageSpec, Error> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| SmtpError::usage("--header", format!("{h:?} is not \"Name: value\"")))?;
        // Only blanks around the colon are trimmed: a CR or LF must reach the checks and be
        // refused, not vanish.
        let blank = [' ', '\t'];
        headers.push((
            name.trim_matches(blank).to_owned(),
            value.trim_matches(blank).to_owned(),
        ));
    }
    let (body, raw) = read_body(args)?;
    let html = match &args.html {
        Some(path) => Some(read_text("--html", path)?),
        None => None,
    };
    let mut spec = MessageSpec {
        from: args.from.clone().or_else(|| account.from.clone()),
        to: args.to.clone(),
        cc: args.cc.clone(),
        bcc: args.bcc.clone(),
        reply_to: args.reply_to.clone(),
        subject: args.subject.clone(),
        headers,
        body,
        body_unknown_8bit: None,
        eight_bit: false,
        html,
        attach: args
            .attach
            .iter()
            .map(|a| AttachSpec::parse(a))
            .collect::<Result<_, _>>()?,
        inline: args
            .inline
            .iter()
            .map(|a| InlineSpec::parse(a))
            .collect::<Result<_, _>>()?,
        envelope_from: args.envelope_from.clone(),
    };
    if let Some((what, bytes)) = raw {
        args.wire.set_body(&what, bytes, &mut spec)?;
    }
    Ok(spec)
}

/// The body the flags give: `--body`'s text, or the bytes of `--body-file` or stdin (their
/// charset is settled by `--body-charset`), named for messages.
type RawBody = (String, Vec<u8>);

fn read_body(args: &SendOptions) -> Result<(Option<String>, Option<RawBody>), SmtpError> {
    let read_err = |what, path: PathBuf| move |source| SmtpError::Read { what, path, source };
    match (&args.body, &args.body_file) {
        (Some(text), _) => Ok((Some(text.clone()), None)),
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(read_err("--body-file", path.clone()))?;
            Ok((
                None,
                Some((format!("--body-file {}", path.display()), bytes)),
            ))
        }
        (None, None) if args.batch.is_none() && !io::stdin().is_terminal() => {
            let mut bytes = Vec::new();
            io::stdin()
                .read_to_end(&mut bytes)
                .map_err(read_err("body from stdin", PathBuf::from("-")))?;
            Ok((None, Some(("the body from stdin".to_owned(), bytes))))
        }
        (None, None) => Ok((None, None)),
    }
}

fn read_text(what: &'static str, path: &Path) -> Result<String, SmtpError> {
    let bytes = std::fs::read(path).map_err(|source| SmtpError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| SmtpError::Read {
        what,
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Where to connect: `smtp://host[:port]` (587, STARTTLS) or `smtps://host[:port]` (465),
/// by the shared `net::ServerUrl` parser.
pub fn parse_server(value: &str) -> Result<(String, u16, bool), SmtpError> {
    use crate::net::{Family, ServerUrl};
    let url = ServerUrl::parse(value, Family::Smtp)
        .map_err(|e| SmtpError::usage("--server", format!("{value:?}: {}", e.why)))?;
    Ok((url.host, url.port, url.implicit_tls))
}

pub(crate) fn settings(args: &SendOptions, account: &Account) -> Result<Settings, Error> {
    let conn = args.conn.merge(
        MailProtocol::Smtp,
        account,
        |server| Ok(parse_server(server)?),
        |account| match (args.auth.and_then(AuthArg::mechanism), &account.auth) {
            (Some(m), _) => Ok(vec![m]),
            (None, Some(_)) if is_oauth2(account) => {
                Ok(vec![AuthMechanism::OAuthBearer, AuthMechanism::Xoauth2])
            }
            (None, Some(text)) => Ok(vec![parse_auth(text)?]),
            (None, None) => Ok(Vec::new()),
        },
    )?;
    let oauth = oauth_settings(args, account, &conn)?;
    let (host, port, implicit_tls) = conn.server;
    let mut settings = Settings {
        host,
        port,
        implicit_tls,
        tls_mode: conn.tls_mode,
        tls: conn.tls,
        helo: args
            .helo
            .clone()
            .or_else(|| account.helo.clone())
            .unwrap_or_else(default_helo),
        timeout: conn.timeout,
        credentials: None,
        mechanisms: conn.auth,
        allow_insecure_auth: args.allow_insecure_auth,
        verbose: args.verbose,
        renew: None,
    };
    settings.check_helo()?;
    if let Some(user) = conn.user {
        check_user_name(&user)?;
        // Refuse before asking for a password that would travel in the clear.
        settings.credentials = Some((user.clone(), Default::default()));
        settings.check_auth_policy()?;
        if let Some(os) = oauth {
            settings.credentials = Some((user, oauth::access_token(&os)?));
            settings.renew = Some(Renew::new(move |rejected| {
                oauth::after_rejection(&os, rejected).map_err(|e| RenewError {
                    code: e.exit_code(),
                    source: Box::new(e),
                })
            }));
            return Ok(settings);
        }
        let lookup = PasswordLookup {
            source: conn.password,
            netrc_file: None,
            allow_prompt: true,
        };
        let password = resolve_password(&lookup, &settings.host, &user)?;
        settings.credentials = Some((user, password));
    }
    Ok(settings)
}

/// For an `auth = "oauth2"` account whose mechanism sends a token: its OAuth2 settings
/// (the identity provider trusted as the mail server is: the same `cacert`).
fn oauth_settings(
    args: &SendOptions,
    account: &Account,
    conn: &MailConn<(String, u16, bool), Vec<AuthMechanism>>,
) -> Result<Option<oauth::Settings>, Error> {
    let takes_token = conn
        .auth
        .iter()
        .all(|m| matches!(m, AuthMechanism::Xoauth2 | AuthMechanism::OAuthBearer));
    let Some(name) = &args.conn.account else {
        return Ok(None);
    };
    if !is_oauth2(account) || conn.auth.is_empty() || !takes_token {
        return Ok(None);
    }
    if conn.user.is_none() {
        return Err(CliError::invalid(
            "--user",
            "an oauth2 account needs a user (the address the token belongs to)",
        )
        .into());
    }
    let tls = TlsOptions {
        cacert: conn.tls.cacert.clone(),
        ..TlsOptions::default()
    };
    Ok(Some(cli_oauth::settings(
        name,
        account,
        tls,
        conn.timeout,
        args.verbose,
    )?))
}

fn parse_auth(text: &str) -> Result<AuthMechanism, SmtpError> {
    match text.to_ascii_lowercase().as_str() {
        "plain" => Ok(AuthMechanism::Plain),
        "login" => Ok(AuthMechanism::Login),
        "xoauth2" => Ok(AuthMechanism::Xoauth2),
        "oauthbearer" => Ok(AuthMechanism::OAuthBearer),
        _ => Err(SmtpError::usage(
            "--account",
            format!("auth = {text:?}: plain, login, xoauth2, oauthbearer or oauth2"),
        )),
    }
}

/// This machine's FQDN when its host name has a dot, else `localhost` (as msmtp).
fn default_helo() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| h.contains('.') && !h.ends_with('.'))
        .unwrap_or_else(|| "localhost".to_owned())
}

pub(crate) fn save(path: Option<&Path>, bytes: &[u8]) -> Result<(), Error> {
    let Some(path) = path else {
        return Ok(());
    };
    let what = format!("--save {}", path.display());
    let mut file = AtomicFile::create(path, PRIVATE).map_err(|e| Error::output(&what, e))?;
    file.write_all(bytes)
        .and_then(|()| file.commit())
        .map_err(|e| Error::output(&what, e))
}

/// `--queue`/`--queue-on-failure`: the finished (signed) message goes to the outbox's
/// `deliver`, which sends it now or keeps it; an unsigned queued copy is converted for a
/// server without 8BITMIME when it is sent.
fn run_queued(
    args: &SendOptions,
    account: &Account,
    spec: &MessageSpec,
    delivery: &crate::smtp::Delivery,
) -> Result<Exit, Error> {
    // The server is not known yet: a signed message is composed 7-bit, as the direct path
    // does for a server without 8BITMIME, so no conversion at send time breaks the signature.
    let mut spec = spec.clone();
    spec.eight_bit &= delivery.dkim.is_none();
    let composed = compose(&spec)?;
    let bytes = delivery.finish(composed.bytes)?;
    let outgoing = send_queue::Outgoing {
        envelope: &composed.envelope,
        bytes: &bytes,
        message_id: Some(&composed.message_id),
        dsn: &delivery.dsn,
    };
    let exit = queue_or_send(args, account, &outgoing)?;
    save(args.save.as_deref(), &bytes)?;
    Ok(exit)
}

/// One finished message through the outbox's `deliver`, connected as `args` say: the step
/// `--queue`/`--queue-on-failure` share for composed and prepared (`--message`) messages.
pub(crate) fn queue_or_send(
    args: &SendOptions,
    account: &Account,
    outgoing: &send_queue::Outgoing,
) -> Result<Exit, Error> {
    let auth = args
        .auth
        .and_then(|a| clap::ValueEnum::to_possible_value(&a));
    let conn = send_queue::connection(
        &args.conn,
        auth.as_ref().map(|v| v.get_name()),
        args.helo.as_deref(),
        args.allow_insecure_auth,
    );
    send_queue::deliver(&args.queue, &args.conn, account, conn, outgoing, || {
        settings(args, account)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            parse_server("smtps://mail.example").expect("ok"),
            ("mail.example".into(), 465, true)
        );
        assert_eq!(
            parse_server("smtp://127.0.0.1:2525").expect("ok"),
            ("127.0.0.1".into(), 2525, false)
        );
        assert!(parse_server("http://x").is_err());
        let err = parse_server("mail.example").expect_err("no scheme");
        assert_eq!(
            err.to_string(),
            "--server: \"mail.example\": expected smtp://HOST[:PORT] or smtps://HOST[:PORT]"
        );
    }
}
