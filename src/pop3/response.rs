//! Pure parsers for what a POP3 server sends: status lines (`+OK`/`-ERR` with RFC 2449/3206
//! response codes), SASL continuations, and the lines of CAPA, STAT, LIST and UIDL.
//! They take bytes and return values or a [`ParseError`]; they never do I/O.

use std::fmt;

/// A response code in brackets after `-ERR` (or `+OK`), RFC 2449 §8 and RFC 3206.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespCode {
    InUse,
    LoginDelay,
    SysTemp,
    SysPerm,
    Auth,
    Other(String),
}

impl RespCode {
    pub fn parse(text: &str) -> RespCode {
        match text.to_ascii_uppercase().as_str() {
            "IN-USE" => RespCode::InUse,
            "LOGIN-DELAY" => RespCode::LoginDelay,
            "SYS/TEMP" => RespCode::SysTemp,
            "SYS/PERM" => RespCode::SysPerm,
            "AUTH" => RespCode::Auth,
            _ => RespCode::Other(text.to_owned()),
        }
    }

    /// The server refuses for now: retry later.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            RespCode::InUse | RespCode::LoginDelay | RespCode::SysTemp
        )
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
            RespCode::Other(s) => s,
        })
    }
}

/// A parsed status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK [text]`
    Ok {
        code: Option<RespCode>,
        text: String,
    },
    /// `-ERR [text]`
    Err {
        code: Option<RespCode>,
        text: String,
    },
    /// `+ [base64]`: a SASL challenge (RFC 5034); empty when the server sent `+` alone.
    Continue(String),
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("a reply that is neither +OK nor -ERR: {0:?}")]
    BadStatus(String),
    #[error("a malformed {what} line: {line:?}")]
    BadLine { what: &'static str, line: String },
}

/// Removes the line end (CRLF or bare LF) of one line.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Splits an optional `[CODE]` off the start of a reply's text.
fn split_code(text: &str) -> (Option<RespCode>, String) {
    if let Some(rest) = text.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        let code = RespCode::parse(&rest[..end]);
        return (Some(code), rest[end + 1..].trim_start().to_owned());
    }
    (None, text.to_owned())
}

/// Parses a status line (with or without its line end).
pub fn parse_reply(line: &[u8]) -> Result<Reply, ParseError> {
    let line = trim_eol(line);
    let rest_of = |prefix: &[u8]| -> Option<String> {
        let rest = line.strip_prefix(prefix)?;
        // `+OK` alone (Dovecot) or `+OK text`; `+OKAY` is not a status.
        match rest.first() {
            None => Some(String::new()),
            Some(b' ' | b'\t') => Some(lossy(&rest[1..])),
            Some(_) => None,
        }
    };
    if let Some(text) = rest_of(b"+OK") {
        let (code, text) = split_code(&text);
        return Ok(Reply::Ok { code, text });
    }
    if let Some(text) = rest_of(b"-ERR") {
        let (code, text) = split_code(&text);
        return Ok(Reply::Err { code, text });
    }
    if let Some(text) = rest_of(b"+") {
        return Ok(Reply::Continue(text.trim().to_owned()));
    }
    Err(ParseError::BadStatus(lossy(line)))
}

fn fields(line: &[u8]) -> Vec<&str> {
    std::str::from_utf8(trim_eol(line))
        .unwrap_or("")
        .split_ascii_whitespace()
        .collect()
}

/// `+OK nn mm` text of STAT: (messages, octets).
pub fn parse_stat(text: &str) -> Result<(u32, u64), ParseError> {
    let bad = || ParseError::BadLine {
        what: "STAT",
        line: text.to_owned(),
    };
    let mut it = text.split_ascii_whitespace();
    let count = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let size = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    Ok((count, size))
}

/// One `n size` line of LIST (or the text of `+OK n size` for `LIST n`).
pub fn parse_list_line(line: &[u8]) -> Result<(u32, u64), ParseError> {
    let f = fields(line);
    let bad = || ParseError::BadLine {
        what: "LIST",
        line: lossy(trim_eol(line)),
    };
    match f.as_slice() {
        [n, size, ..] => Ok((
            n.parse().map_err(|_| bad())?,
            size.parse().map_err(|_| bad())?,
        )),
        _ => Err(bad()),
    }
}

/// One `n uid` line of UIDL. The UID is kept as bytes: a server may send any octets, and
/// the caller escapes them before they reach a file.
pub fn parse_uidl_line(line: &[u8]) -> Result<(u32, Vec<u8>), ParseError> {
    let line = trim_eol(line);
    let bad = || ParseError::BadLine {
        what: "UIDL",
        line: lossy(line),
    };
    let mut parts = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|p| !p.is_empty());
    let n = parts
        .next()
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|p| p.parse().ok())
        .ok_or_else(bad)?;
    let uid = parts.next().ok_or_else(bad)?.to_vec();
    Ok((n, uid))
}

/// Server capabilities from CAPA (RFC 2449).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Each capability line, as sent.
    pub lines: Vec<String>,
    /// False when CAPA failed (an RFC 1939 server): features are then guessed.
    pub known: bool,
}

impl Capabilities {
    pub fn parse(body: &[u8]) -> Capabilities {
        let lines = body
            .split(|b| *b == b'\n')
            .map(trim_eol)
            .filter(|l| !l.is_empty())
            .map(lossy)
            .collect();
        Capabilities { lines, known: true }
    }

    fn find(&self, name: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| {
            let mut it = l.splitn(2, ' ');
            let head = it.next()?;
            head.eq_ignore_ascii_case(name)
                .then(|| it.next().unwrap_or(""))
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The SASL mechanisms advertised, upper-cased.
    pub fn sasl(&self) -> Vec<String> {
        self.find("SASL")
            .map(|m| {
                m.split_ascii_whitespace()
                    .map(|s| s.to_ascii_uppercase())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `LOGIN-DELAY n` (RFC 2449 §6.8): the fewest seconds between two logins, and whether
    /// it may differ per user (a trailing `USER`: CAPA after login gives the user's value).
    pub fn login_delay(&self) -> Option<(u64, bool)> {
        let mut it = self.find("LOGIN-DELAY")?.split_ascii_whitespace();
        let secs = it.next()?.parse().ok()?;
        let per_user = it.next().is_some_and(|w| w.eq_ignore_ascii_case("USER"));
        Some((secs, per_user))
    }

    pub fn pipelining(&self) -> bool {
        self.has("PIPELINING")
    }

    pub fn stls(&self) -> bool {
        self.has("STLS")
    }

    /// USER/PASS is allowed: advertised, or unknown (no CAPA: RFC 1939 servers have it).
    pub fn user(&self) -> bool {
        !self.known || self.has("USER")
    }
}

/// The `<...>` timestamp in a greeting, for APOP.
pub fn apop_timestamp(greeting: &str) -> Option<&str> {
    let start = greeting.find('<')?;
    let end = greeting[start..].find('>')? + start;
    let stamp = &greeting[start..=end];
    stamp.contains('@').then_some(stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_delay_is_read_with_its_per_user_flag() {
        let caps = Capabilities::parse(b"TOP\r\nLOGIN-DELAY 900 USER\r\n");
        assert_eq!(caps.login_delay(), Some((900, true)));
        let caps = Capabilities::parse(b"login-delay 3\r\n");
        assert_eq!(caps.login_delay(), Some((3, false)));
        assert_eq!(
            Capabilities::parse(b"LOGIN-DELAY x\r\n").login_delay(),
            None
        );
        assert_eq!(Capabilities::parse(b"TOP\r\n").login_delay(), None);
    }

    #[test]
    fn status_lines_with_and_without_text() {
        assert_eq!(
            parse_reply(b"+OK\r\n"),
            Ok(Reply::Ok {
                code: None,
                text: String::new()
            })
        );
        assert_eq!(
            parse_reply(b"+OK 2 messages\n"),
            Ok(Reply::Ok {
                code: None,
                text: "2 messages".into()
            })
        );
        assert_eq!(
            parse_reply(b"-ERR [IN-USE] Mailbox locked\r\n"),
            Ok(Reply::Err {
                code: Some(RespCode::InUse),
                text: "Mailbox locked".into()
            })
        );
        assert_eq!(
            parse_reply(b"-ERR [AUTH] Authentication failed."),
            Ok(Reply::Err {
                code: Some(RespCode::Auth),
                text: "Authentication failed.".into()
            })
        );
        assert_eq!(
            parse_reply(b"-ERR [SYS/TEMP] try later\r\n"),
            Ok(Reply::Err {
                code: Some(RespCode::SysTemp),
                text: "try later".into()
            })
        );
        assert_eq!(
            parse_reply(b"-ERR\r\n"),
            Ok(Reply::Err {
                code: None,
                text: String::new()
            })
        );
        assert_eq!(parse_reply(b"+ \r\n"), Ok(Reply::Continue(String::new())));
        assert_eq!(
            parse_reply(b"+ PDEyMzQ+\r\n"),
            Ok(Reply::Continue("PDEyMzQ+".into()))
        );
        assert_eq!(parse_reply(b"+\r\n"), Ok(Reply::Continue(String::new())));
    }

    #[test]
    fn malformed_status_lines_are_errors() {
        for bad in [
            &b"OK\r\n"[..],
            b"+OKAY\r\n",
            b"",
            b"\r\n",
            b"-ER\r\n",
            b"* OK",
        ] {
            assert!(parse_reply(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_classify() {
        assert!(RespCode::parse("in-use").is_temporary());
        assert!(RespCode::parse("LOGIN-DELAY").is_temporary());
        assert!(RespCode::parse("SYS/TEMP").is_temporary());
        assert!(!RespCode::parse("SYS/PERM").is_temporary());
        assert_eq!(RespCode::parse("XYZ"), RespCode::Other("XYZ".into()));
    }

    #[test]
    fn stat_list_uidl_lines() {
        assert_eq!(parse_stat("2 320"), Ok((2, 320)));
        assert!(parse_stat("two").is_err());
        assert!(parse_stat("").is_err());
        assert_eq!(parse_list_line(b"1 120\r\n"), Ok((1, 120)));
        assert_eq!(parse_list_line(b"3 5000000000"), Ok((3, 5_000_000_000)));
        assert!(parse_list_line(b"1\r\n").is_err());
        assert!(parse_list_line(b"x 1\r\n").is_err());
        assert_eq!(
            parse_uidl_line(b"1 whqtswO00WBw418f9t5JxYwZ\r\n"),
            Ok((1, b"whqtswO00WBw418f9t5JxYwZ".to_vec()))
        );
        assert_eq!(
            parse_uidl_line(b"2 a/../b\xff\n"),
            Ok((2, b"a/../b\xff".to_vec()))
        );
        assert!(parse_uidl_line(b"1\r\n").is_err());
        assert!(parse_uidl_line(b"-1 x\r\n").is_err());
    }

    #[test]
    fn capabilities() {
        let caps = Capabilities::parse(
            b"CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN cram-md5\r\n",
        );
        assert!(caps.pipelining());
        assert!(caps.stls());
        assert!(caps.user());
        assert_eq!(caps.sasl(), vec!["PLAIN", "LOGIN", "CRAM-MD5"]);
        let none = Capabilities::default();
        assert!(none.user(), "an RFC 1939 server has USER");
        assert!(!none.pipelining());
        let caps = Capabilities::parse(b"TOP\nSASL PLAIN\n");
        assert!(!caps.user());
    }

    #[test]
    fn apop_timestamps() {
        assert_eq!(
            apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            Some("<1896.697170952@dbc.mtview.ca.us>")
        );
        assert_eq!(apop_timestamp("Dovecot ready."), None);
        assert_eq!(apop_timestamp("x <nope"), None);
    }
}
