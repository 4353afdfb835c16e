//! Delivery status notification parameters (RFC 3461) asked for one message: what
//! `--notify`, `--ret`, `--envid` and `--require-dsn` say. The outbox stores them with a
//! queued message so a flush asks for the same receipts; the session renders them on
//! MAIL FROM and RCPT TO when the server offers DSN.

use serde::{Deserialize, Serialize};

/// The DSN parameters of one message; the default asks for nothing (no DSN parameter sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dsn {
    /// `NOTIFY=` on each RCPT TO; `None` leaves the server's default.
    pub notify: Option<Notify>,
    /// `RET=` on MAIL FROM.
    pub ret: Option<Ret>,
    /// `ENVID=` on MAIL FROM (xtext-encoded on the wire).
    pub envid: Option<String>,
    /// A server without DSN is an error (exit 69) instead of a warning.
    pub required: bool,
}

/// `NOTIFY=NEVER`, or any of SUCCESS, FAILURE, DELAY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notify {
    Never,
    On {
        success: bool,
        failure: bool,
        delay: bool,
    },
}

/// `RET=FULL` or `RET=HDRS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ret {
    Full,
    Hdrs,
}

impl Dsn {
    /// True when any DSN parameter would be sent.
    pub fn asks(&self) -> bool {
        self.notify.is_some() || self.ret.is_some() || self.envid.is_some()
    }
}
