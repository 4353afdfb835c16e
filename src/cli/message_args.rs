//! The flags of `postie send` for a message that already exists (`--message`, `-t`,
//! `--full-name`, bare recipients, `--sendmail-args`): their own file so that `send.rs`
//! flattens them in without depending on the code that sends such a message
//! (`send_message.rs`).

/// The flags of `postie send` for a message that already exists.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MessageArgs {
    /// Send this existing message (RFC 5322; "-" for stdin) as it is: Bcc removed, Date and
    /// Message-ID added when missing, CRLF line ends.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "subject", "body", "body_file", "html", "attach", "inline", "headers", "reply_to", "batch",
    ])]
    pub message: Option<String>,
    /// With --message: also send to the addresses of the To, Cc and Bcc fields (those of the
    /// first Resent-* block when there is one), as sendmail -t.
    #[arg(short = 't', long, requires = "message")]
    pub read_recipients: bool,
    /// With --message: the name for the From field added to a message that has none
    /// (sendmail -F).
    #[arg(long, value_name = "NAME", requires = "message")]
    pub full_name: Option<String>,
    /// With --message: recipients (as --to; in the envelope only).
    #[arg(value_name = "ADDR", requires = "message")]
    pub recipients: Vec<String>,
    /// With --message: what becomes of the message's From field: keep it (a From is added
    /// only when missing), or replace it with the envelope sender or the account's from,
    /// keeping its display name (msmtp's set_from_header; account key from_policy).
    #[arg(long, value_enum, value_name = "POLICY", requires = "message")]
    pub from_policy: Option<FromPolicy>,
    /// Read the rest of the command line as sendmail's (-t, -i, -f, -F, -r, -o*, -bm, -v,
    /// -a/--account, --, recipients); the message comes from stdin. What the `sendmail`
    /// symlink does.
    #[arg(long, value_name = "ARGS", num_args = 0.., allow_hyphen_values = true)]
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
