//! Turns what went wrong in a session into our kinds: a server's negative reply (by its code
//! and the stage it answered), an I/O error (by its `net::IoClass`: timeouts, refused or
//! dropped connections), a TLS handshake failure (verification causes are named by walking
//! the error's `source()` chain, see `tls::VerifyFailure`). Also the reply parser, which is
//! sans-I/O.

use std::io;

use super::{Reply, SmtpError};
use crate::net::IoClass;

/// Where in the dialogue an error happened; decides what a negative reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// TCP connect, TLS, greeting, EHLO, STARTTLS.
    Connect,
    Auth,
    /// MAIL FROM: the sender.
    Mail,
    /// RCPT TO: one recipient.
    Rcpt,
    /// DATA and the message itself.
    Data,
}

impl Stage {
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Connect => "while connecting",
            Stage::Auth => "during authentication",
            Stage::Mail => "at MAIL FROM",
            Stage::Rcpt => "at RCPT TO",
            Stage::Data => "while sending the message",
        }
    }
}

/// One line of a reply: `ddd-text` (more follow) or `ddd text` / `ddd` (the last).
/// Returns (code, is_last, text).
pub fn parse_reply_line(line: &str) -> Option<(u16, bool, &str)> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(b'2'..=b'5').contains(&digits.as_bytes()[0])
    {
        return None;
    }
    let code = digits.parse().ok()?;
    match line.as_bytes().get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        Some(_) => None,
    }
}

/// What a negative `reply` at `stage` means; `what` names the sender or recipient.
pub fn reply_error(server: &str, stage: Stage, what: &str, reply: Reply) -> SmtpError {
    let server = server.to_owned();
    match (stage, reply.code) {
        (Stage::Auth, 530..=538 | 454 | 500..) => SmtpError::AuthFailed {
            server,
            reply,
            oauth_error: None,
        },
        (_, 552) | (Stage::Data, 452) => SmtpError::TooBig { server, reply },
        (_, 421) | (Stage::Connect | Stage::Auth, _) => SmtpError::Unavailable { server, reply },
        (Stage::Mail, _) => SmtpError::Rejected {
            server,
            what: format!("sender {what}"),
            reply,
        },
        (Stage::Rcpt, _) => SmtpError::Rejected {
            server,
            what: format!("recipient {what}"),
            reply,
        },
        (Stage::Data, _) => SmtpError::Rejected {
            server,
            what: "message".to_owned(),
            reply,
        },
    }
}

/// What an I/O error at `stage` means (its class from `net::IoClass`).
pub fn io_error(server: &str, stage: Stage, err: &io::Error, secs: u64) -> SmtpError {
    let server = server.to_owned();
    match IoClass::of(err) {
        IoClass::Timeout => SmtpError::Timeout {
            server,
            secs,
            stage: stage.describe(),
        },
        IoClass::Unreachable => SmtpError::Connect {
            server,
            detail: err.to_string(),
        },
        IoClass::Closed => SmtpError::Dropped {
            server,
            stage: stage.describe(),
        },
        IoClass::Other => SmtpError::Protocol {
            server,
            detail: format!("{} {err}", stage.describe()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line("250-fake.test\r\n"),
            Some((250, false, "fake.test"))
        );
        assert_eq!(parse_reply_line("250 OK\r\n"), Some((250, true, "OK")));
        assert_eq!(parse_reply_line("354\r\n"), Some((354, true, "")));
        assert_eq!(parse_reply_line("25"), None);
        assert_eq!(parse_reply_line("hello there"), None);
        assert_eq!(parse_reply_line("250+x"), None);
        assert_eq!(parse_reply_line("999 x"), None);
    }

    #[test]
    fn replies_by_stage() {
        let r = |code| Reply {
            code,
            text: "x".into(),
        };
        let e = reply_error("s", Stage::Rcpt, "a@b", r(550));
        assert_eq!(e.exit_code(), 65);
        assert!(e.to_string().contains("recipient a@b"), "{e}");
        assert_eq!(reply_error("s", Stage::Rcpt, "a@b", r(451)).exit_code(), 75);
        assert_eq!(reply_error("s", Stage::Auth, "", r(535)).exit_code(), 77);
        assert_eq!(reply_error("s", Stage::Data, "", r(552)).exit_code(), 65);
        assert!(matches!(
            reply_error("s", Stage::Data, "", r(552)),
            SmtpError::TooBig { .. }
        ));
        assert_eq!(reply_error("s", Stage::Connect, "", r(554)).exit_code(), 69);
        assert_eq!(reply_error("s", Stage::Mail, "", r(421)).exit_code(), 75);
        let t = io_error(
            "s",
            Stage::Data,
            &io::Error::from(io::ErrorKind::WouldBlock),
            3,
        );
        assert_eq!(t.exit_code(), 28);
    }
}
