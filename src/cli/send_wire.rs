//! `postie send`'s flags for what travels with a message beyond its composition: delivery
//! status notifications (`--notify`, `--ret`, `--envid`, `--require-dsn`; RFC 3461), the
//! read-receipt request (`--disposition-notification-to`), DKIM signing (`--dkim-key`,
//! `--dkim-domain`, `--dkim-selector`, or the account's `dkim_*` keys) and the charset of
//! a body read from a file or stdin (`--body-charset`). They become an
//! [`smtp::Delivery`](crate::smtp::Delivery) and additions to the [`MessageSpec`]; the
//! engine never sees these clap types.

use std::path::PathBuf;

use crate::cli::CliError;
use crate::config::Account;
use crate::error::Error;
use crate::smtp::charset::{BodyText, decode_body};
use crate::smtp::compose::parse_mailboxes;
use crate::smtp::dkim::Signer;
use crate::smtp::dsn::{DsnValueError, Notify, Ret};
use crate::smtp::{Delivery, Dsn, MessageSpec};

#[derive(Debug, Default, clap::Args)]
pub struct WireArgs {
    /// Ask for delivery status notifications: `never`, or a comma list of success, failure,
    /// delay (RFC 3461 NOTIFY on each recipient; sent when the server offers DSN).
    #[arg(long, value_name = "WHEN", help_heading = "Delivery receipts")]
    pub notify: Option<String>,
    /// What a delivery status notification returns of the message: full or hdrs.
    #[arg(long, value_name = "full|hdrs", help_heading = "Delivery receipts")]
    pub ret: Option<String>,
    /// An envelope id the notifications quote back (ENVID; printable ASCII, at most 100).
    #[arg(long, value_name = "ID", help_heading = "Delivery receipts")]
    pub envid: Option<String>,
    /// Fail (exit 69, nothing sent) when the server does not offer DSN, instead of warning
    /// and sending without notifications.
    #[arg(long, help_heading = "Delivery receipts")]
    pub require_dsn: bool,
    /// Ask the reader's program for a read receipt to ADDR (Disposition-Notification-To);
    /// never asked for otherwise.
    #[arg(long, value_name = "ADDR", help_heading = "Delivery receipts")]
    pub disposition_notification_to: Option<String>,
    /// Sign with DKIM using this private key (PEM RSA or Ed25519, or dkimpy's base64
    /// Ed25519 key); it must not be readable by group or others (exit 78).
    #[arg(long, value_name = "FILE", help_heading = "DKIM")]
    pub dkim_key: Option<PathBuf>,
    /// The signing domain (d=), whose DNS publishes the public key.
    #[arg(long, value_name = "DOMAIN", help_heading = "DKIM")]
    pub dkim_domain: Option<String>,
    /// The selector (s=): the key is at SELECTOR._domainkey.DOMAIN.
    #[arg(long, value_name = "SELECTOR", help_heading = "DKIM")]
    pub dkim_selector: Option<String>,
    /// The charset of a body read from --body-file or stdin when it is not UTF-8 (latin-1,
    /// cp1252, ...): decoded and sent as UTF-8. Without it, a body that is not UTF-8 is sent
    /// unchanged as charset=unknown-8bit, with a warning.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["body", "batch"])]
    pub body_charset: Option<String>,
    /// Send non-ASCII text as 8bit instead of quoted-printable or base64 when the server
    /// offers 8BITMIME (otherwise the message stays 7-bit as without this flag).
    #[arg(long = "8bit")]
    pub eight_bit: bool,
}

impl From<DsnValueError> for CliError {
    fn from(e: DsnValueError) -> CliError {
        CliError::invalid(e.flag, e.why)
    }
}

impl WireArgs {
    /// The DSN parameters and the DKIM signer (flags over the account's keys).
    pub fn delivery(&self, account: &Account) -> Result<Delivery, Error> {
        Ok(Delivery {
            dsn: self.dsn()?,
            dkim: self.signer(account)?,
        })
    }

    fn dsn(&self) -> Result<Dsn, CliError> {
        if let Some(id) = &self.envid {
            Dsn::check_envid(id)?;
        }
        Ok(Dsn {
            notify: self.notify.as_deref().map(Notify::parse).transpose()?,
            ret: self.ret.as_deref().map(Ret::parse).transpose()?,
            envid: self.envid.clone(),
            required: self.require_dsn,
        })
    }

    fn signer(&self, account: &Account) -> Result<Option<Signer>, Error> {
        let key = self.dkim_key.as_ref().or(account.dkim_key.as_ref());
        let domain = self.dkim_domain.as_ref().or(account.dkim_domain.as_ref());
        let selector = self
            .dkim_selector
            .as_ref()
            .or(account.dkim_selector.as_ref());
        match (key, domain, selector) {
            (None, None, None) => Ok(None),
            (Some(key), Some(domain), Some(selector)) => {
                Ok(Some(Signer::load(key, domain, selector)?))
            }
            _ => Err(CliError::invalid(
                "--dkim-key",
                "DKIM signing needs --dkim-key, --dkim-domain and --dkim-selector together \
                 (or the account's dkim_key, dkim_domain, dkim_selector)",
            )
            .into()),
        }
    }

    /// Adds what these flags ask of the message to `spec`: headers, `--8bit`.
    pub fn apply(&self, spec: &mut MessageSpec) -> Result<(), Error> {
        spec.eight_bit = self.eight_bit;
        if let Some(addr) = &self.disposition_notification_to {
            let flag = "--disposition-notification-to";
            let list = parse_mailboxes(flag, addr)?;
            // The addresses only: a display name would need RFC 2047 words of its own.
            let value: Vec<String> = list.iter().map(|m| m.email.to_string()).collect();
            spec.headers
                .push(("Disposition-Notification-To".to_owned(), value.join(", ")));
        }
        Ok(())
    }

    /// A body read from `what` (`--body-file F`, stdin) as `spec`'s text, in the declared
    /// charset; bytes that are not UTF-8 and not declared are kept for `unknown-8bit`.
    pub fn set_body(
        &self,
        what: &str,
        bytes: Vec<u8>,
        spec: &mut MessageSpec,
    ) -> Result<(), Error> {
        match decode_body(what, bytes, self.body_charset.as_deref())? {
            BodyText::Text(text) => spec.body = Some(text),
            BodyText::Unknown8bit(bytes) => {
                eprintln!(
                    "postie: warning: {what}: not UTF-8 and no --body-charset: sent unchanged \
                     as charset=unknown-8bit (quoted-printable)"
                );
                spec.body = None;
                spec.body_unknown_8bit = Some(bytes);
            }
        }
        Ok(())
    }
}
