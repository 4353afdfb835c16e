//! Turns lettre's errors into our kinds. lettre reports a server's negative reply with its
//! code, but certificate failures, refused connections and read timeouts only as generic
//! "connection" or "network" errors: the cause is found by walking the `source()` chain
//! (an `io::Error` kind, a native-tls error, OpenSSL's verification message).

use std::error::Error as StdError;
use std::io;

use lettre::transport::smtp::Error as LettreError;

use super::{Reply, SmtpError};
use crate::tls::{TlsError, VerifyFailure};

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
    fn describe(self) -> &'static str {
        match self {
            Stage::Connect => "while connecting",
            Stage::Auth => "during authentication",
            Stage::Mail => "at MAIL FROM",
            Stage::Rcpt => "at RCPT TO",
            Stage::Data => "while sending the message",
        }
    }
}

/// The server's reply carried by `err`, if it is a negative reply.
pub fn reply_of(err: &LettreError) -> Option<Reply> {
    let code = err.status()?.to_string().parse().ok()?;
    let text = err.source().map(|s| s.to_string()).unwrap_or_default();
    Some(Reply { code, text })
}

/// Classifies `err` that happened at `stage` talking to `server`; `what` names the sender or
/// recipient for MAIL and RCPT replies.
pub fn classify(
    err: &LettreError,
    server: &str,
    host: &str,
    stage: Stage,
    what: &str,
    timeout_secs: u64,
) -> SmtpError {
    let server_s = server.to_owned();
    if let Some(reply) = reply_of(err) {
        return match stage {
            Stage::Auth if matches!(reply.code, 535 | 534 | 530 | 454 | 535..=538) => {
                SmtpError::AuthFailed {
                    server: server_s,
                    reply,
                }
            }
            Stage::Auth if reply.code >= 500 => SmtpError::AuthFailed {
                server: server_s,
                reply,
            },
            Stage::Connect if matches!(reply.code, 421 | 554) => SmtpError::Unavailable {
                server: server_s,
                reply,
            },
            _ if reply.code == 552 || reply.code == 452 && stage == Stage::Data => {
                SmtpError::TooBig {
                    server: server_s,
                    reply,
                }
            }
            _ if reply.code == 421 => SmtpError::Unavailable {
                server: server_s,
                reply,
            },
            Stage::Mail => SmtpError::Rejected {
                server: server_s,
                what: format!("sender {what}"),
                reply,
            },
            Stage::Rcpt => SmtpError::Rejected {
                server: server_s,
                what: format!("recipient {what}"),
                reply,
            },
            Stage::Data => SmtpError::Rejected {
                server: server_s,
                what: "message".to_owned(),
                reply,
            },
            Stage::Connect | Stage::Auth => SmtpError::Unavailable {
                server: server_s,
                reply,
            },
        };
    }
    classify_transport(err, server, host, stage, timeout_secs)
}

fn classify_transport(
    err: &LettreError,
    server: &str,
    host: &str,
    stage: Stage,
    timeout_secs: u64,
) -> SmtpError {
    let server_s = server.to_owned();
    if VerifyFailure::from_error(err).is_some() {
        return SmtpError::Tls(TlsError::handshake(host, err));
    }
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    return SmtpError::Timeout {
                        server: server_s,
                        secs: timeout_secs,
                        stage: stage.describe(),
                    };
                }
                io::ErrorKind::ConnectionRefused
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::AddrNotAvailable => {
                    return SmtpError::Connect {
                        server: server_s,
                        detail: io.to_string(),
                    };
                }
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => {
                    return SmtpError::Dropped {
                        server: server_s,
                        stage: stage.describe(),
                    };
                }
                _ => {}
            }
            let text = io.to_string();
            if text.contains("failed to lookup address") || text.contains("Name or service") {
                return SmtpError::Resolve {
                    server: server_s,
                    detail: text,
                };
            }
        }
        if e.downcast_ref::<native_tls::Error>().is_some() {
            return SmtpError::Tls(TlsError::handshake(host, err));
        }
        let text = e.to_string();
        if text == "incomplete response" {
            return SmtpError::Dropped {
                server: server_s,
                stage: stage.describe(),
            };
        }
        cur = e.source();
    }
    if err.is_tls() {
        return SmtpError::Tls(TlsError::handshake(host, err));
    }
    SmtpError::Protocol {
        server: server_s,
        detail: format!("{} {err}", stage.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_describe_themselves() {
        assert_eq!(Stage::Rcpt.describe(), "at RCPT TO");
    }
}
