//! `postie pop3`: flags, account merge, password lookup, and the glue to the engine in
//! `crate::pop3`. Each subcommand carries the connection flags, as mpop users expect to put
//! them after the subcommand.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::cli::CliError;
use crate::cli::common::{InnerFileArgs, MailConnArgs, MailProtocol};
use crate::cli::oauth::{self as cli_oauth, is_oauth2};
use crate::config::Account;
use crate::error::Error;
use crate::exit::Exit;
use crate::exit::code;
use crate::fsutil;
use crate::oauth;
use crate::pop3::client::{AuthChoice, Credentials};
use crate::pop3::connect::{self, ConnectOptions, Session};
use crate::pop3::response::Capabilities;
use crate::pop3::sasl::Method;
use crate::pop3::state::State;
use crate::pop3::store::Store;
use crate::pop3::sync::{self, Format, Pipelining, PullOptions};
use crate::pop3::watch::{self, Attempt};
use crate::pop3::{Pop3Error, printable};
use crate::secret::{self, PasswordLookup, Secret};
use crate::tls::TlsOptions;

#[derive(Debug, clap::Args)]
pub struct Pop3Args {
    #[command(subcommand)]
    pub command: Box<Pop3Command>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Pop3Command {
    /// Print the number of messages and their total size.
    Stat {
        #[command(flatten)]
        conn: ConnArgs,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the server's capabilities (CAPA), one per line. Never logs in: no --user.
    Capa {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Print what the server tells before login: greeting, capabilities, and (over TLS) the
    /// TLS version and the certificate with its SHA-256 fingerprint, for pinning (mpop
    /// --serverinfo). Never logs in: no --user.
    Serverinfo {
        #[command(flatten)]
        conn: ConnArgs,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List messages: number, size, UIDL, From, Subject, Date (from TOP n 0).
    List {
        #[command(flatten)]
        conn: ConnArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Retrieve the messages not retrieved before into a Maildir (or .eml files).
    Pull(PullArgs),
    /// Record every message now on the server as retrieved, without downloading it.
    MarkSeen {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        dest: DestArgs,
        /// One JSON object: {"marked": N, "already": M}.
        #[arg(long)]
        json: bool,
    },
    /// Forget that messages were retrieved, so the next pull retrieves them again.
    Forget {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        dest: DestArgs,
        /// The UIDL to forget (repeatable).
        #[arg(long, value_name = "UIDL", required_unless_present = "all")]
        uidl: Vec<String>,
        /// Forget every message.
        #[arg(long, conflicts_with = "uidl")]
        all: bool,
    },
}

/// Where a pull stores messages and its state, for the commands that only use the state.
#[derive(Debug, Clone, clap::Args)]
pub struct DestArgs {
    /// The folder the pulls store messages in (its state file is found there; default: the
    /// account's pop3_out).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The store's format, as given to pull (default: the account's pop3_format, else
    /// maildir).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// The state file (default: inside DIR, one per server, port and user).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// Connection flags shared by every `postie pop3` subcommand.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("server", |a| a.help(
        "pop3s://host[:995] (implicit TLS) or pop3://host[:110] (STLS, required by default)",
    )),
    mut_arg("user", |a| a.short('u').value_name("USER")),
    mut_arg("account", |a| a.help(
        "Take settings from [account.NAME] in the accounts file (else `account NAME` in \
         ~/.mpoprc); flags override them",
    )),
    mut_arg("timeout", |a| a.help("Seconds to wait for the connection and for every read")),
)]
pub struct ConnArgs {
    #[command(flatten)]
    pub conn: MailConnArgs,
    /// auto (SASL PLAIN, LOGIN, CRAM-MD5, then USER; for an `auth = "oauth2"` account
    /// OAUTHBEARER, then XOAUTH2, with the stored token), or one of plain, login, cram-md5,
    /// xoauth2, oauthbearer (the token: the account's, else the password), user, apop.
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    pub auth: String,
    /// Allow sending a password over an unencrypted connection.
    #[arg(long)]
    pub allow_insecure_auth: bool,
    /// Show the dialogue on stderr (passwords masked).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("no_tnef", |a| a.requires("unpack")),
    mut_arg("no_tnef_container", |a| a.requires("unpack")),
    mut_arg("tnef_body", |a| a.requires("unpack")),
    mut_arg("no_uudecode", |a| a.requires("unpack")),
)]
pub struct PullArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The folder to store messages in (a Maildir by default), or the mbox file (default:
    /// the account's pop3_out). With --all-accounts: accounts without pop3_out go to
    /// DIR/NAME.
    #[arg(long, value_name = "DIR|FILE")]
    pub out: Option<PathBuf>,
    /// maildir (DIR/{tmp,new,cur}), eml (DIR/<uidl>.eml) or mbox (mboxrd, appended to FILE
    /// under fcntl and dot-lock locks). Default: the account's pop3_format, else maildir.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// The state file (default: inside DIR, one per server, port and user).
    #[arg(long, value_name = "FILE", conflicts_with = "all_accounts")]
    pub state: Option<PathBuf>,
    /// Pull every account of the accounts file (and of ~/.mpoprc) that has a POP3 server,
    /// each with its own state and lock; one summary line per account; the exit code is the
    /// worst account's.
    #[arg(long, conflicts_with = "watch")]
    pub all_accounts: bool,
    /// With --all-accounts: how many accounts to pull at once (1: one after another).
    #[arg(long, value_name = "N", requires = "all_accounts", default_value_t = 1)]
    pub parallel: usize,
    /// Retrieve every message, even those retrieved before.
    #[arg(long)]
    pub all: bool,
    /// Delete each message on the server once it is safely stored.
    #[arg(long, conflicts_with = "keep")]
    pub delete: bool,
    /// Keep messages on the server (the default).
    #[arg(long)]
    pub keep: bool,
    /// Skip messages bigger than this many octets (K, M, G suffixes allowed).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Delete on the server the messages retrieved at least DAYS days ago (from the time
    /// the state recorded; 0: as soon as they are stored). Instead of --delete.
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["delete", "keep"])]
    pub delete_after: Option<u64>,
    /// Delete on the server, once retrieved, the messages larger than SIZE (K, M, G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with_all = ["delete", "keep"])]
    pub delete_larger_than: Option<u64>,
    /// Pipe each message to CMD (run by /bin/sh; %F: the envelope sender) instead of
    /// storing it, as mpop's `delivery mda`: recorded (and deleted) only once CMD exits 0;
    /// exit 75 keeps it for the next run; any other status stops the run.
    #[arg(long, value_name = "CMD", conflicts_with_all = ["out", "format", "unpack"])]
    pub mda: Option<String>,
    /// Pipe each new message's header (TOP n 0) to CMD first (%F: envelope sender, %S:
    /// size); its exit status decides, as mpop's `filter`: 0 retrieve, 1 kill (not
    /// retrieved; deleted with --delete), 2 skip (asked again next run), else stop.
    #[arg(long, value_name = "CMD")]
    pub filter: Option<String>,
    /// Retrieve at most this many messages.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also unpack each message's attachments beside it (as `postie unpack`).
    #[arg(long)]
    pub unpack: bool,
    /// With --unpack: what to do with TNEF parts and uuencoded/yEnc blocks, as `postie
    /// unpack` takes it.
    #[command(flatten)]
    pub inner: InnerFileArgs,
    /// One JSON object per message on stdout.
    #[arg(long)]
    pub json: bool,
    /// auto (when the server advertises PIPELINING), on, or off.
    #[arg(long, value_enum, default_value = "auto")]
    pub pipelining: PipeliningArg,
    /// No progress bar and no summary.
    #[arg(long, short = 's')]
    pub silent: bool,
    /// Pull, sleep INTERVAL (30s, 5m, 1h; default 5m), pull again, until Ctrl-C or SIGTERM;
    /// never logging in more often than the server's LOGIN-DELAY allows.
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "5m")]
    pub watch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Maildir,
    Eml,
    Mbox,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PipeliningArg {
    Auto,
    On,
    Off,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&t[..i], 1u64 << 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 1 << 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 500000, 10M)"))
}

/// A validated connection config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect: ConnectOptions,
    pub user: String,
    pub lookup: PasswordLookup,
    pub auth: AuthChoice,
    pub allow_insecure_auth: bool,
    /// For an `auth = "oauth2"` account: where the token comes from (the password is then
    /// not looked up).
    pub oauth: Option<oauth::Settings>,
}

fn invalid(flag: &str, why: impl Into<String>) -> Error {
    CliError::invalid(flag, why).into()
}

/// Merges flags over the account (if any) into [`Settings`].
pub fn settings(args: &ConnArgs) -> Result<Settings, Error> {
    let account = args.conn.load_account(MailProtocol::Pop3)?;
    settings_for(args, args.conn.account.as_deref(), &account)
}

/// Merges flags over `account` (named `name`, if it has a name) into [`Settings`].
pub fn settings_for(
    args: &ConnArgs,
    name: Option<&str>,
    account: &Account,
) -> Result<Settings, Error> {
    let conn = args.conn.merge(
        MailProtocol::Pop3,
        account,
        |server| Ok(connect::parse_server(server)?),
        |account| auth_choice(&args.auth, account),
    )?;
    let oauth = match (name, conn.auth) {
        (Some(name), choice) if is_oauth2(account) && takes_token(choice) => {
            let tls = TlsOptions {
                cacert: conn.tls.cacert.clone(),
                ..TlsOptions::default()
            };
            Some(cli_oauth::settings(
                name,
                account,
                tls,
                conn.timeout,
                args.verbose,
            )?)
        }
        _ => None,
    };
    Ok(Settings {
        connect: ConnectOptions {
            server: conn.server,
            tls_mode: conn.tls_mode,
            tls: conn.tls,
            timeout: conn.timeout,
            verbose: args.verbose,
        },
        // The merge refuses a POP3 connection without a user.
        user: conn.user.unwrap_or_default(),
        lookup: PasswordLookup {
            source: conn.password,
            netrc_file: None,
            allow_prompt: true,
        },
        auth: conn.auth,
        allow_insecure_auth: args.allow_insecure_auth,
        oauth,
    })
}

/// Whether `choice` sends an OAuth2 token.
fn takes_token(choice: AuthChoice) -> bool {
    matches!(
        choice,
        AuthChoice::OAuth2 | AuthChoice::Only(Method::XOauth2 | Method::OAuthBearer)
    )
}

/// `--auth` over the account's `auth`; `auto` (the flag's default) leaves it to the account.
fn auth_choice(flag: &str, account: &Account) -> Result<AuthChoice, Error> {
    let oauth = is_oauth2(account);
    let auth_text = match (flag, &account.auth) {
        ("auto", _) if oauth => return Ok(AuthChoice::OAuth2),
        ("auto", Some(text)) => text.clone(),
        (flag, _) => flag.to_owned(),
    };
    if auth_text.eq_ignore_ascii_case("auto") {
        return Ok(AuthChoice::Auto);
    }
    let method = Method::parse(&auth_text).ok_or_else(|| {
        invalid(
            "--auth",
            format!(
                "{auth_text:?}: use auto, plain, login, cram-md5, xoauth2, oauthbearer, user or \
                 apop (or oauth2 in an account)"
            ),
        )
    })?;
    Ok(AuthChoice::Only(method))
}

/// Connects and logs in. With OAuth2, a token the server refuses is refreshed once and the
/// login tried again on a new connection (POP3 allows no second AUTH after a failed one on
/// some servers).
pub fn open(s: &Settings) -> Result<Session, Error> {
    open_noting(s, &mut |_| {})
}

/// [`open`], showing `note` the capabilities the server gave before login (a refused login
/// loses the session, but `--watch` still needs the LOGIN-DELAY it announced).
fn open_noting(s: &Settings, note: &mut dyn FnMut(&Capabilities)) -> Result<Session, Error> {
    let Some(os) = &s.oauth else {
        // The password is looked up first: a missing one should not cost a connection.
        let password = secret::resolve_password(&s.lookup, &s.connect.server.host, &s.user)?;
        return login(s, password, note);
    };
    // The token before the connection, too: a login that is needed should not cost one.
    let token = oauth::access_token(os)?;
    match login(s, token.clone(), note) {
        Err(Error::Pop3(e)) if e.exit_code() == code::AUTH => {
            let renewed = oauth::after_rejection(os, &token)?;
            login(s, renewed, note)
        }
        other => other,
    }
}

fn login(
    s: &Settings,
    password: Secret,
    note: &mut dyn FnMut(&Capabilities),
) -> Result<Session, Error> {
    let (mut session, encrypted) = connect::connect(&s.connect)?;
    note(&session.caps);
    let method = session.choose_method(s.auth, encrypted, s.allow_insecure_auth)?;
    let creds = Credentials {
        user: s.user.clone(),
        password,
    };
    session.login(&creds, method)?;
    Ok(session)
}

/// Runs one subcommand (`pull --all-accounts` is [`crate::cli::pop3_all`]'s: the dispatch
/// sends it there).
pub fn run(command: Pop3Command) -> Result<Exit, Error> {
    match command {
        Pop3Command::Stat { conn, json } => stat(&conn, json),
        Pop3Command::Capa { conn } => capa(&conn),
        Pop3Command::Serverinfo { conn, json } => serverinfo(&conn, json),
        Pop3Command::List { conn, json } => list(&conn, json),
        Pop3Command::Pull(args) => pull(args),
        Pop3Command::MarkSeen { conn, dest, json } => mark_seen(&conn, &dest, json),
        Pop3Command::Forget {
            conn,
            dest,
            uidl,
            all,
        } => forget(&conn, &dest, &uidl, all),
    }
}

fn out_err(e: io::Error) -> Error {
    Error::output("stdout", e)
}

fn stat(conn: &ConnArgs, json: bool) -> Result<Exit, Error> {
    let mut session = open(&settings(conn)?)?;
    let (count, size) = session.stat()?;
    session.quit()?;
    let line = if json {
        serde_json::json!({"messages": count, "octets": size}).to_string()
    } else {
        format!("{count} messages, {size} octets")
    };
    writeln!(io::stdout().lock(), "{line}").map_err(out_err)?;
    Ok(Exit::SUCCESS)
}

/// The connection settings of a command that never logs in (no user, no password).
fn connect_settings(args: &ConnArgs) -> Result<ConnectOptions, Error> {
    let account = args.conn.load_account(MailProtocol::Pop3)?;
    let conn = args.conn.merge_with(
        MailProtocol::Pop3,
        &account,
        |server| Ok(connect::parse_server(server)?),
        |_| Ok(()),
        false,
    )?;
    Ok(ConnectOptions {
        server: conn.server,
        tls_mode: conn.tls_mode,
        tls: conn.tls,
        timeout: conn.timeout,
        verbose: args.verbose,
    })
}

fn capa(conn: &ConnArgs) -> Result<Exit, Error> {
    // CAPA is allowed before login: no user, no password.
    let c = connect_settings(conn)?;
    let (mut session, _) = connect::connect(&c)?;
    let caps = session.caps.clone();
    session.quit()?;
    let mut out = io::stdout().lock();
    if !caps.known {
        eprintln!(
            "postie: {}: the server does not support CAPA",
            c.server.host
        );
    }
    for line in caps.lines {
        writeln!(out, "{}", printable(&line)).map_err(out_err)?;
    }
    Ok(Exit::SUCCESS)
}

/// `serverinfo`: connects (TLS as asked), reads greeting and CAPA, sends QUIT; never logs
/// in. Prints the server, the greeting, the TLS version and the leaf certificate (subject,
/// issuer, expiry, SHA-256 fingerprint as `tls_fingerprint` takes it, public-key pin as
/// `--pinnedpubkey` takes it) and the capabilities; or one JSON object.
fn serverinfo(conn: &ConnArgs, json: bool) -> Result<Exit, Error> {
    let c = connect_settings(conn)?;
    let (mut session, _) = connect::connect(&c)?;
    let info = connect::server_info(&session);
    session.quit()?;
    let caps = info.caps.known.then_some(&info.caps.lines);
    let text = if json {
        let cert = info.cert.as_ref().map(|c| {
            serde_json::json!({"subject": c.subject, "issuer": c.issuer,
                "not_after": c.not_after, "sha256_fingerprint": c.fingerprint, "pin": c.pin})
        });
        let v = serde_json::json!({"server": c.server.host, "port": c.server.port,
            "greeting": info.greeting, "tls": info.tls_version, "certificate": cert,
            "capabilities": caps});
        format!("{v}\n")
    } else {
        serverinfo_text(&c, &info)
    };
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(out_err)?;
    Ok(Exit::SUCCESS)
}

/// `serverinfo`'s text: one `Key: value` line each, capabilities indented below.
fn serverinfo_text(c: &ConnectOptions, info: &connect::ServerInfo) -> String {
    let mut t = format!("Server: {} port {}\n", c.server.host, c.server.port);
    t += &format!("Greeting: {}\n", printable(&info.greeting));
    match (&info.tls_version, &info.cert) {
        (Some(v), Some(cert)) => {
            t += &format!("TLS: {v}\n");
            t += &format!("Certificate subject: {}\n", printable(&cert.subject));
            t += &format!("Certificate issuer: {}\n", printable(&cert.issuer));
            t += &format!("Certificate expires: {}\n", cert.not_after);
            t += &format!("SHA-256 fingerprint: {}\n", cert.fingerprint);
            t += &format!("Public key pin: {}\n", cert.pin);
        }
        (Some(v), None) => t += &format!("TLS: {v} (no certificate)\n"),
        _ => t += "TLS: none\n",
    }
    if !info.caps.known {
        t += "Capabilities: unknown (the server does not support CAPA)\n";
        return t;
    }
    t += "Capabilities:\n";
    for line in &info.caps.lines {
        t += &format!("    {}\n", printable(line));
    }
    t
}

/// From, Subject and Date of a header block, decoded.
pub fn summarize(header: &[u8]) -> (String, String, String) {
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(header) else {
        return Default::default();
    };
    let from = msg
        .from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(addr)) => format!("{n} <{addr}>"),
            (None, Some(addr)) => addr.to_owned(),
            (Some(n), None) => n.to_owned(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let subject = msg.subject().unwrap_or("").to_owned();
    let date = msg.date().map(|d| d.to_rfc3339()).unwrap_or_default();
    (from, subject, date)
}

/// A field of the tab-separated `list` output: line breaks and tabs become spaces, other
/// control characters are escaped (the text is the sender's, and goes to a terminal).
fn one_line(s: &str) -> String {
    printable(&s.replace(['\t', '\r', '\n'], " ")).into_owned()
}

fn list(conn: &ConnArgs, json: bool) -> Result<Exit, Error> {
    let mut session = open(&settings(conn)?)?;
    let listed = session.list()?;
    let uidls: std::collections::HashMap<u32, Vec<u8>> =
        session.uidl()?.unwrap_or_default().into_iter().collect();
    let mut out = io::stdout().lock();
    for l in listed {
        let uidl = uidls
            .get(&l.number)
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_default();
        let (from, subject, date) = match session.top_header(l.number) {
            Ok(h) => summarize(&h),
            Err(Pop3Error::Refused { .. }) => Default::default(),
            Err(e) => return Err(e.into()),
        };
        let line = if json {
            serde_json::json!({
                "number": l.number, "size": l.size, "uidl": uidl,
                "from": from, "subject": subject, "date": date,
            })
            .to_string()
        } else {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                l.number,
                l.size,
                one_line(&uidl),
                one_line(&from),
                one_line(&subject),
                date
            )
        };
        writeln!(out, "{line}").map_err(out_err)?;
    }
    drop(out);
    session.quit()?;
    Ok(Exit::SUCCESS)
}

/// A message's problem on stderr (the server's UIDL and text escaped for the terminal).
pub fn warn_outcome(o: &sync::Outcome) {
    if let Some(e) = &o.error {
        let (uidl, e) = (printable(&o.uidl), printable(e));
        eprintln!("postie: message {} ({uidl}): {e}", o.number);
    }
}

fn pull(args: PullArgs) -> Result<Exit, Error> {
    if args.limit == Some(0) {
        return Err(invalid("--limit", "must be at least 1"));
    }
    let account = args.conn.conn.load_account(MailProtocol::Pop3)?;
    let s = settings_for(&args.conn, args.conn.conn.account.as_deref(), &account)?;
    let interval = match &args.watch {
        None => None,
        Some(text) => Some(watch::parse_interval(text).ok_or_else(|| {
            invalid("--watch", format!("{text:?}: give seconds, or 30s, 5m, 1h"))
        })?),
    };
    let dest = match (&args.mda, &args.out, &account.pop3_mda, &account.pop3_out) {
        (Some(cmd), ..) => Dest::Mda(cmd.clone()),
        (None, Some(out), ..) => Dest::Store(out.clone(), format_of(args.format, &account)?),
        (None, None, Some(cmd), _) => Dest::Mda(cmd.clone()),
        (None, None, None, Some(out)) => {
            Dest::Store(out.clone(), format_of(args.format, &account)?)
        }
        (None, None, None, None) => {
            return Err(invalid(
                "--out",
                "required (or --mda, or an account's pop3_out or pop3_mda)",
            ));
        }
    };
    let mut opts = pull_options(&args, &s, dest)?;
    opts.progress &= interval.is_none();
    opts.stop = interval.map(|_| fsutil::stop_requested as fn() -> bool);
    if let Some(interval) = interval {
        return watch_loop(&s, &opts, &args, interval);
    }
    let mut session = open(&s)?;
    let summary = pull_session(&mut session, &opts, args.json)?;
    if !args.silent {
        note_undated(&summary);
    }
    if !args.silent && !args.json {
        eprintln!("postie: {}", summary_text(&summary));
    }
    Ok(summary_exit(&summary))
}

/// Says once that an older state file's entries count as retrieved now.
pub fn note_undated(summary: &sync::Summary) {
    if summary.undated > 0 {
        eprintln!(
            "postie: the state had no retrieval times (an older postie wrote it): its {} \
             messages count as retrieved now, for --delete-after",
            summary.undated
        );
    }
}

/// A pull's exit status: 1 when some messages failed, else 75 when the MDA deferred some
/// (they are tried again next run), else 0.
pub fn summary_exit(summary: &sync::Summary) -> Exit {
    match (summary.failed, summary.deferred) {
        (0, 0) => Exit::SUCCESS,
        (0, _) => Exit::with_code(code::TEMPFAIL),
        _ => Exit::SOME_FAILED,
    }
}

/// Where a pull delivers.
#[derive(Debug, Clone)]
pub enum Dest {
    /// A Maildir, `.eml` folder or mbox file.
    Store(PathBuf, Format),
    /// An MDA command (`--mda`, `pop3_mda`).
    Mda(String),
}

/// The folder of `--mda`'s state and temporary files: beside `--state FILE`, else
/// `$XDG_STATE_HOME/postie/pop3` (`~/.local/state/postie/pop3`), as mpop keeps its UIDLs
/// in `~/.mpop_uidls`.
fn mda_dir(state: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(state) = state {
        return Ok(fsutil::parent_dir(state).to_owned());
    }
    crate::config::xdg_base("XDG_STATE_HOME", ".local/state")
        .map(|base| base.join("postie").join("pop3"))
        .ok_or_else(|| invalid("--state", "needed with --mda when $HOME is unset"))
}

/// `--format`, else the account's `pop3_format`, else maildir.
pub fn format_of(flag: Option<FormatArg>, account: &Account) -> Result<Format, Error> {
    match (flag, account.pop3_format.as_deref()) {
        (Some(f), _) => Ok(format(f)),
        (None, None) => Ok(Format::Maildir),
        (None, Some(text)) => account_format(text),
    }
}

/// An account's `pop3_format`.
fn account_format(text: &str) -> Result<Format, Error> {
    match text.to_ascii_lowercase().as_str() {
        "maildir" => Ok(Format::Maildir),
        "eml" => Ok(Format::Eml),
        "mbox" => Ok(Format::Mbox),
        _ => Err(invalid(
            "--account",
            format!("pop3_format = {text:?}: maildir, eml or mbox"),
        )),
    }
}

/// The engine's options for one pull to `dest` (no stop flag; a progress bar on a terminal).
pub fn pull_options(args: &PullArgs, s: &Settings, dest: Dest) -> Result<PullOptions, Error> {
    if args.filter.as_deref().is_some_and(|f| f.trim().is_empty()) {
        return Err(invalid("--filter", "an empty command"));
    }
    let (out, format, mda) = match dest {
        Dest::Store(out, format) => (out, format, None),
        Dest::Mda(cmd) if cmd.trim().is_empty() => {
            return Err(invalid("--mda", "an empty command"));
        }
        Dest::Mda(cmd) => (mda_dir(args.state.as_deref())?, Format::Maildir, Some(cmd)),
    };
    let state = state_path(args.state.as_deref(), &out, format, s);
    Ok(PullOptions {
        out,
        format,
        state,
        all: args.all,
        delete: args.delete,
        max_size: args.max_size,
        limit: args.limit,
        unpack: args.unpack,
        unpack_options: args.inner.options(),
        pipelining: match args.pipelining {
            PipeliningArg::Auto => Pipelining::Auto,
            PipeliningArg::On => Pipelining::On,
            PipeliningArg::Off => Pipelining::Off,
        },
        progress: !args.silent && !args.json && io::stderr().is_terminal(),
        stop: None,
        delete_after: args.delete_after,
        delete_larger_than: args.delete_larger_than,
        mda,
        filter: args.filter.clone(),
    })
}

pub fn summary_text(summary: &sync::Summary) -> String {
    let deferred = match summary.deferred {
        0 => String::new(),
        n => format!(", {n} deferred by the MDA"),
    };
    format!(
        "{} stored ({} octets), {} deleted, {} skipped, {} failed{deferred}",
        summary.stored, summary.bytes, summary.deleted, summary.skipped, summary.failed
    )
}

/// A run's totals as JSON (`--watch` and `--all-accounts` lines; `deferred` only when the
/// MDA deferred some).
pub fn summary_json(summary: &sync::Summary) -> serde_json::Value {
    let mut v = serde_json::json!({"stored": summary.stored, "octets": summary.bytes,
        "deleted": summary.deleted, "skipped": summary.skipped, "failed": summary.failed});
    if summary.deferred > 0 {
        v["deferred"] = summary.deferred.into();
    }
    v
}

/// Pulls on a logged-in session: each message's problem on stderr, its JSON line on stdout.
fn pull_session(
    session: &mut Session,
    opts: &PullOptions,
    json: bool,
) -> Result<sync::Summary, Error> {
    let mut stdout = io::stdout().lock();
    let mut write_failure = None;
    let summary = sync::pull(session, opts, &mut |o| {
        warn_outcome(o);
        if json && write_failure.is_none() {
            let line = serde_json::to_string(o).unwrap_or_default();
            if let Err(e) = writeln!(stdout, "{line}") {
                write_failure = Some(e);
            }
        }
    })?;
    match write_failure {
        Some(e) => Err(out_err(e)),
        None => Ok(summary),
    }
}

/// `--watch`: pull, sleep, pull again, as [`watch::Schedule`] allows, until SIGINT or
/// SIGTERM (exit 0 once the messages being stored are stored and QUIT is sent) or a failure
/// that retrying cannot fix (its exit code).
fn watch_loop(
    s: &Settings,
    opts: &PullOptions,
    args: &PullArgs,
    interval: std::time::Duration,
) -> Result<Exit, Error> {
    fsutil::stop_gracefully();
    let mut schedule = watch::Schedule::new(interval);
    loop {
        // Waits count from the end of the last login (the server's clock starts there at
        // the latest), or from the start of an attempt that never logged in.
        let mut since = std::time::Instant::now();
        let result = watch_once(s, opts, args.json, &mut schedule, &mut since);
        let attempt = match &result {
            Ok(_) => Attempt::Pulled,
            Err(e) if is_login_delay(e) => Attempt::LoginDelay,
            Err(e) if watch::retryable(e.exit_code()) => Attempt::Temporary,
            Err(_) => Attempt::Fatal,
        };
        let next = schedule.next(attempt);
        let stopping = fsutil::stop_requested();
        report_watch(&result, next, args)?;
        match (result, next) {
            (Err(e), None) => return Err(e),
            _ if stopping => return Ok(Exit::SUCCESS),
            (_, Some(wait)) if fsutil::sleep_unless_stopped(since + wait) => {
                return Ok(Exit::SUCCESS);
            }
            _ => {}
        }
    }
}

/// One login and pull of the watch; learns the server's LOGIN-DELAY (the user's own, when
/// CAPA says it depends on the user, by asking again after login).
fn watch_once(
    s: &Settings,
    opts: &PullOptions,
    json: bool,
    schedule: &mut watch::Schedule,
    logged_in: &mut std::time::Instant,
) -> Result<sync::Summary, Error> {
    let mut per_user = false;
    let mut session = open_noting(s, &mut |caps| {
        if let Some((secs, user)) = caps.login_delay() {
            schedule.set_login_delay(secs);
            per_user = user;
        }
    })?;
    *logged_in = std::time::Instant::now();
    if per_user && let Some((secs, _)) = session.capa()?.login_delay() {
        schedule.set_login_delay(secs);
    }
    pull_session(&mut session, opts, json)
}

fn is_login_delay(e: &Error) -> bool {
    matches!(
        e,
        Error::Pop3(Pop3Error::Refused {
            code: Some(crate::pop3::RespCode::LoginDelay),
            ..
        })
    )
}

/// The watch's line for one pull: on stderr (JSON on stdout with `--json`), only when
/// something happened, unless `-v`.
fn report_watch(
    result: &Result<sync::Summary, Error>,
    next: Option<std::time::Duration>,
    args: &PullArgs,
) -> Result<(), Error> {
    let changed = match result {
        Ok(sum) => sum.stored + sum.deleted + sum.failed + sum.deferred > 0,
        Err(_) => true,
    };
    if args.silent || !(changed || args.conn.verbose) {
        return Ok(());
    }
    let when = now_rfc3339();
    let next_s = next.map(|d| d.as_secs());
    if args.json {
        let mut v = match result {
            Ok(sum) => summary_json(sum),
            Err(e) => serde_json::json!({"error": e.to_string(), "exit": e.exit_code()}),
        };
        v["watch"] = when.into();
        v["next_in_s"] = next_s.into();
        return writeln!(io::stdout().lock(), "{v}").map_err(out_err);
    }
    let what = match result {
        Ok(sum) => summary_text(sum),
        Err(e) => e.to_string(),
    };
    match next_s {
        Some(n) => eprintln!("postie: {when}: {what}; next pull in {n} s"),
        None => eprintln!("postie: {when}: {what}; stopping"),
    }
    Ok(())
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn format(arg: FormatArg) -> Format {
    match arg {
        FormatArg::Maildir => Format::Maildir,
        FormatArg::Eml => Format::Eml,
        FormatArg::Mbox => Format::Mbox,
    }
}

/// `--state`, else the default state file of (server, port, user) for the store at `out`.
fn state_path(state: Option<&Path>, out: &Path, format: Format, s: &Settings) -> PathBuf {
    state.map(Path::to_owned).unwrap_or_else(|| {
        let server = &s.connect.server;
        sync::default_state_path(out, format, &server.host, server.port, &s.user)
    })
}

/// The settings, the state file `dest` names (its `--out`, else the account's `pop3_out`,
/// else the one `pull` keeps for the account's `pop3_mda`), and the store it describes (to
/// check stored files; an MDA's, as `pull` opens it).
fn dest_state(
    conn: &ConnArgs,
    dest: &DestArgs,
) -> Result<(Settings, PathBuf, Option<Store>), Error> {
    let account = conn.conn.load_account(MailProtocol::Pop3)?;
    let s = settings_for(conn, conn.conn.account.as_deref(), &account)?;
    let out = match (&dest.out, &account.pop3_out, &dest.state) {
        (Some(out), _, _) | (None, Some(out), _) => out,
        // `--state` alone: no store to look into.
        (None, None, Some(state)) => return Ok((s, state.clone(), None)),
        (None, None, None) if let Some(cmd) = &account.pop3_mda => {
            let dir = mda_dir(None)?;
            let store = Store::mda(&dir, cmd)?;
            let state = state_path(None, &dir, Format::Maildir, &s);
            return Ok((s, state, Some(store)));
        }
        (None, None, None) => {
            return Err(invalid(
                "--out",
                "required (or --state, or an account's pop3_out)",
            ));
        }
    };
    let format = format_of(dest.format, &account)?;
    let store = Store::open(out, format)?;
    let state = state_path(dest.state.as_deref(), out, format, &s);
    Ok((s, state, Some(store)))
}

fn mark_seen(conn: &ConnArgs, dest: &DestArgs, json: bool) -> Result<Exit, Error> {
    let (s, state, store) = dest_state(conn, dest)?;
    let mut session = open(&s)?;
    let exists = |name: &str| store.as_ref().is_some_and(|st| st.exists(name));
    let marked = sync::mark_seen(&mut session, &state, exists)?;
    let line = if json {
        serde_json::to_string(&marked).unwrap_or_default()
    } else {
        format!(
            "postie: {} messages marked as retrieved ({} were already)",
            marked.marked, marked.already
        )
    };
    match json {
        true => writeln!(io::stdout().lock(), "{line}").map_err(out_err)?,
        false => eprintln!("{line}"),
    }
    Ok(Exit::SUCCESS)
}

fn forget(conn: &ConnArgs, dest: &DestArgs, uidls: &[String], all: bool) -> Result<Exit, Error> {
    let (_, path, store) = dest_state(conn, dest)?;
    let exists = |name: &str| store.as_ref().is_some_and(|st| st.exists(name));
    let mut state = State::open(&path, exists)?;
    let mut forgotten = 0;
    if all {
        forgotten = state.forget(None)?;
    }
    for u in uidls {
        let n = state.forget(Some(u.as_bytes()))?;
        if n == 0 {
            eprintln!("postie: {}: not in the state", printable(u));
        }
        forgotten += n;
    }
    eprintln!("postie: {forgotten} messages forgotten; the next pull retrieves them again");
    Ok(Exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500"), Ok(500));
        assert_eq!(parse_size("10k"), Ok(10240));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn headers_are_decoded() {
        let (from, subject, date) = summarize(
            b"From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.com>\r\nSubject: =?UTF-8?B?SGFsbG8gV2VsdA==?=\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\n",
        );
        assert_eq!(from, "J\u{fc}rgen <j@example.com>");
        assert_eq!(subject, "Hallo Welt");
        assert!(date.starts_with("2026-11-21T10:00:00"), "{date}");
    }

    #[test]
    fn list_fields_escape_control_characters() {
        let (from, subject, _) = summarize(
            b"From: =?UTF-8?Q?Evil=1B]0;x=07?= <e@example.com>\r\nSubject: =?UTF-8?B?G1sySmhp?=\r\n\r\n",
        );
        assert!(
            from.contains('\x1b') && subject.contains('\x1b'),
            "decoded as sent"
        );
        assert_eq!(one_line(&from), "Evil\\x1b]0;x\\x07 <e@example.com>");
        assert_eq!(one_line(&subject), "\\x1b[2Jhi");
        assert_eq!(one_line("a\tb\r\nc"), "a b  c");
    }
}
