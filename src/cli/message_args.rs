//! The flags of `postie send` for a message that already exists (`--message`, `-t`,
//! `--full-name`, bare recipients, `--sendmail-args`): their own file so that `send.rs`
//! flattens them in without depending on the code that sends such a message
//! (`send_message.rs`).

/// The flags that build or change a composed message, so make no sense for one that
/// already exists (`--message`, `--sendmail-args`): refused with them rather than ignored.
const COMPOSE_ONLY: [&str; 12] = [
    "subject",
    "body",
    "body_file",
    "html",
    "attach",
    "inline",
    "headers",
    "reply_to",
    "batch",
    "body_charset",
    "eight_bit",
    "disposition_notification_to",
];

/// The flags of `postie send` for a message that already exists.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MessageArgs {
    /// Send this existing message (RFC 5322; "-" for stdin) as it is: Bcc removed, Date and
    /// Message-ID added when missing, CRLF line ends.
    #[arg(long, value_name = "FILE", group = "prepared", conflicts_with_all = COMPOSE_ONLY)]
    pub message: Option<String>,
    /// With --message or --sendmail-args: also send to the addresses of the To, Cc and Bcc fields (those of the
    /// first Resent-* block when there is one), as sendmail -t.
    #[arg(short = 't', long, requires = "prepared")]
    pub read_recipients: bool,
    /// With --message or --sendmail-args: the name for the From field added to a message that has none
    /// (sendmail -F).
    #[arg(long, value_name = "NAME", requires = "prepared")]
    pub full_name: Option<String>,
    /// With --message or --sendmail-args: recipients (as --to; in the envelope only).
    #[arg(value_name = "ADDR", requires = "prepared")]
    pub recipients: Vec<String>,
    /// With --message or --sendmail-args: what becomes of the message's From field: keep it (a From is added
    /// only when missing), or replace it with the envelope sender or the account's from,
    /// keeping its display name (msmtp's set_from_header; account key from_policy).
    #[arg(long, value_enum, value_name = "POLICY", requires = "prepared")]
    pub from_policy: Option<FromPolicy>,
    /// Read the rest of the command line as sendmail's (-t, -i, -f, -F, -r, -o*, -bm, -v,
    /// -a/--account, --, recipients); the message comes from stdin. What the `sendmail`
    /// symlink does.
    #[arg(
        long,
        value_name = "ARGS",
        num_args = 0..,
        allow_hyphen_values = true,
        group = "prepared",
        conflicts_with_all = COMPOSE_ONLY
    )]
    pub sendmail_args: Option<Vec<String>>,
}

impl MessageArgs {
    /// True when `postie send` sends an existing message rather than composing one.
    pub fn is_set(&self) -> bool {
        self.message.is_some() || self.sendmail_args.is_some()
    }
}

/// `--from-policy` (and the account's `from_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FromPolicy {
    /// Leave From as it is; add one only when missing.
    Keep,
    /// Replace From with the envelope sender.
    Envelope,
    /// Replace From with the account's from (or --from).
    Account,
}
