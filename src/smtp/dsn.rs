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

/// Why a `--notify`, `--ret` or `--envid` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnValueError {
    pub flag: &'static str,
    pub why: String,
}

impl Notify {
    /// Parses `never` or a comma list of `success`, `failure`, `delay` (any case, as msmtp's
    /// `dsn_notify`); `never` combined with another value is refused (RFC 3461 4.1).
    pub fn parse(value: &str) -> Result<Notify, DsnValueError> {
        let bad = |why: String| DsnValueError {
            flag: "--notify",
            why,
        };
        let words: Vec<String> = value
            .split(',')
            .map(|w| w.trim().to_ascii_lowercase())
            .collect();
        if words.iter().any(|w| w == "never") {
            if words.len() > 1 {
                return Err(bad(format!(
                    "{value:?}: never cannot be combined with other values"
                )));
            }
            return Ok(Notify::Never);
        }
        let (mut success, mut failure, mut delay) = (false, false, false);
        for w in &words {
            match w.as_str() {
                "success" => success = true,
                "failure" => failure = true,
                "delay" => delay = true,
                _ => {
                    return Err(bad(format!(
                        "{value:?}: expected never, or a comma list of success, failure, delay"
                    )));
                }
            }
        }
        Ok(Notify::On {
            success,
            failure,
            delay,
        })
    }

    /// The parameter as it goes on RCPT TO: `NOTIFY=NEVER`, `NOTIFY=SUCCESS,FAILURE`...
    pub fn parameter(self) -> String {
        match self {
            Notify::Never => "NOTIFY=NEVER".to_owned(),
            Notify::On {
                success,
                failure,
                delay,
            } => {
                let words: Vec<&str> =
                    [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")]
                        .into_iter()
                        .filter_map(|(on, w)| on.then_some(w))
                        .collect();
                format!("NOTIFY={}", words.join(","))
            }
        }
    }
}

impl Ret {
    /// Parses `full` or `hdrs` (any case).
    pub fn parse(value: &str) -> Result<Ret, DsnValueError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Ret::Full),
            "hdrs" | "headers" => Ok(Ret::Hdrs),
            _ => Err(DsnValueError {
                flag: "--ret",
                why: format!("{value:?}: expected full or hdrs"),
            }),
        }
    }

    /// `RET=FULL` or `RET=HDRS`.
    pub fn parameter(self) -> &'static str {
        match self {
            Ret::Full => "RET=FULL",
            Ret::Hdrs => "RET=HDRS",
        }
    }
}

/// The longest ENVID RFC 3461 (4.4) allows, before xtext encoding.
pub const ENVID_MAX: usize = 100;

impl Dsn {
    /// Checks an `--envid`: printable ASCII (RFC 3461 4.4), at most 100 characters.
    pub fn check_envid(value: &str) -> Result<(), DsnValueError> {
        let printable = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if value.is_empty() || value.len() > ENVID_MAX || !printable {
            return Err(DsnValueError {
                flag: "--envid",
                why: format!(
                    "{value:?}: expected 1 to {ENVID_MAX} printable ASCII characters (RFC 3461)"
                ),
            });
        }
        Ok(())
    }

    /// The parameters of MAIL FROM: `RET=` then `ENVID=` (xtext), each when asked for.
    pub fn mail_parameters(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ret) = self.ret {
            out.push(ret.parameter().to_owned());
        }
        if let Some(id) = &self.envid {
            out.push(format!("ENVID={}", xtext(id)));
        }
        out
    }

    /// The parameter of each RCPT TO, when `--notify` was given.
    pub fn rcpt_parameter(&self) -> Option<String> {
        self.notify.map(Notify::parameter)
    }
}

/// RFC 3461 xtext: `+`, `=`, and every octet outside `!`..`~` as `+XX` (upper-case hex).
pub fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_values_parse_and_render() {
        assert_eq!(Notify::parse("never").expect("ok"), Notify::Never);
        assert_eq!(Notify::Never.parameter(), "NOTIFY=NEVER");
        let n = Notify::parse("Failure, success").expect("ok");
        assert_eq!(n.parameter(), "NOTIFY=SUCCESS,FAILURE");
        let n = Notify::parse("success,failure,delay").expect("ok");
        assert_eq!(n.parameter(), "NOTIFY=SUCCESS,FAILURE,DELAY");
        for bad in ["never,success", "sometimes", "", "success,,"] {
            let e = Notify::parse(bad).expect_err(bad);
            assert_eq!(e.flag, "--notify");
        }
    }

    #[test]
    fn ret_and_envid() {
        assert_eq!(Ret::parse("HDRS").expect("ok").parameter(), "RET=HDRS");
        assert_eq!(Ret::parse("full").expect("ok").parameter(), "RET=FULL");
        assert!(Ret::parse("body").is_err());
        assert!(Dsn::check_envid("QQ314159").is_ok());
        assert!(Dsn::check_envid("").is_err());
        assert!(Dsn::check_envid("é").is_err());
        assert!(Dsn::check_envid("a\r\nRSET").is_err());
        assert!(Dsn::check_envid(&"x".repeat(101)).is_err());
    }

    #[test]
    fn xtext_encodes_plus_equals_and_space() {
        assert_eq!(xtext("a+b=c d~!"), "a+2Bb+3Dc+20d~!");
        assert_eq!(xtext("\x7f"), "+7F");
        let dsn = Dsn {
            notify: None,
            ret: Some(Ret::Hdrs),
            envid: Some("id+1".into()),
            required: false,
        };
        assert_eq!(dsn.mail_parameters(), ["RET=HDRS", "ENVID=id+2B1"]);
        assert_eq!(dsn.rcpt_parameter(), None);
    }
}
