//! POP3 commands as types. `Display` renders the exact wire line, CRLF included;
//! [`Command::masked`] renders what `-v` shows (secrets replaced).

use std::fmt;

use crate::secret::Secret;

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capa,
    Stls,
    User(String),
    Pass(Secret),
    /// `APOP user digest` (the digest is the hex MD5 of timestamp + password).
    Apop {
        user: String,
        digest: Secret,
    },
    /// `AUTH MECH [initial-response]` (RFC 5034); `=` is an empty initial response.
    Auth {
        mechanism: String,
        initial: Option<Secret>,
    },
    /// A line answering a SASL challenge (base64), or `*` to cancel.
    SaslResponse(Secret),
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top(u32, u32),
    Dele(u32),
    Noop,
    Rset,
    Quit,
}

impl Command {
    /// True when a `+OK` reply to this command is followed by a multi-line body.
    pub fn is_multiline(&self) -> bool {
        matches!(
            self,
            Command::Capa
                | Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top(..)
        )
    }

    /// The line as `-v` shows it: credentials are replaced by `(redacted)`, no CRLF.
    pub fn masked(&self) -> String {
        const R: &str = "(redacted)";
        match self {
            Command::Pass(_) => format!("PASS {R}"),
            Command::Apop { user, .. } => format!("APOP {user} {R}"),
            Command::Auth {
                mechanism,
                initial: Some(_),
            } => format!("AUTH {mechanism} {R}"),
            Command::SaslResponse(_) => R.to_owned(),
            other => {
                let line = other.to_string();
                line.trim_end_matches("\r\n").to_owned()
            }
        }
    }

    /// The command's name, for error messages (`RETR`, `PASS`...).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::SaslResponse(_) => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top(..) => "TOP",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Capa => f.write_str("CAPA"),
            Command::Stls => f.write_str("STLS"),
            Command::User(u) => write!(f, "USER {u}"),
            Command::Pass(p) => write!(f, "PASS {}", p.expose()),
            Command::Apop { user, digest } => write!(f, "APOP {user} {}", digest.expose()),
            Command::Auth { mechanism, initial } => match initial {
                Some(i) if i.is_empty() => write!(f, "AUTH {mechanism} ="),
                Some(i) => write!(f, "AUTH {mechanism} {}", i.expose()),
                None => write!(f, "AUTH {mechanism}"),
            },
            Command::SaslResponse(r) => f.write_str(r.expose()),
            Command::Stat => f.write_str("STAT"),
            Command::List(None) => f.write_str("LIST"),
            Command::List(Some(n)) => write!(f, "LIST {n}"),
            Command::Uidl(None) => f.write_str("UIDL"),
            Command::Uidl(Some(n)) => write!(f, "UIDL {n}"),
            Command::Retr(n) => write!(f, "RETR {n}"),
            Command::Top(n, lines) => write!(f, "TOP {n} {lines}"),
            Command::Dele(n) => write!(f, "DELE {n}"),
            Command::Noop => f.write_str("NOOP"),
            Command::Rset => f.write_str("RSET"),
            Command::Quit => f.write_str("QUIT"),
        }?;
        f.write_str("\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_renders_its_exact_bytes() {
        let s = |v: &str| Secret::new(v);
        let cases: Vec<(Command, &str)> = vec![
            (Command::Capa, "CAPA\r\n"),
            (Command::Stls, "STLS\r\n"),
            (Command::User("bob".into()), "USER bob\r\n"),
            (Command::Pass(s("pw 1")), "PASS pw 1\r\n"),
            (
                Command::Apop {
                    user: "bob".into(),
                    digest: s("c4c9334bac560ecc979e58001b3e22fb"),
                },
                "APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n",
            ),
            (
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: None,
                },
                "AUTH PLAIN\r\n",
            ),
            (
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some(s("AGJvYgBwdw==")),
                },
                "AUTH PLAIN AGJvYgBwdw==\r\n",
            ),
            (
                Command::Auth {
                    mechanism: "X".into(),
                    initial: Some(s("")),
                },
                "AUTH X =\r\n",
            ),
            (Command::SaslResponse(s("*")), "*\r\n"),
            (Command::Stat, "STAT\r\n"),
            (Command::List(None), "LIST\r\n"),
            (Command::List(Some(3)), "LIST 3\r\n"),
            (Command::Uidl(None), "UIDL\r\n"),
            (Command::Uidl(Some(7)), "UIDL 7\r\n"),
            (Command::Retr(12), "RETR 12\r\n"),
            (Command::Top(2, 0), "TOP 2 0\r\n"),
            (Command::Dele(4294967295), "DELE 4294967295\r\n"),
            (Command::Noop, "NOOP\r\n"),
            (Command::Rset, "RSET\r\n"),
            (Command::Quit, "QUIT\r\n"),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.to_string(), want, "{cmd:?}");
        }
    }

    #[test]
    fn masked_lines_hide_credentials() {
        assert_eq!(
            Command::Pass(Secret::new("hunter2")).masked(),
            "PASS (redacted)"
        );
        let auth = Command::Auth {
            mechanism: "PLAIN".into(),
            initial: Some(Secret::new("AGJvYgBodW50ZXIy")),
        };
        assert_eq!(auth.masked(), "AUTH PLAIN (redacted)");
        assert_eq!(
            Command::SaslResponse(Secret::new("abc")).masked(),
            "(redacted)"
        );
        assert_eq!(Command::User("bob".into()).masked(), "USER bob");
        assert!(!format!("{:?}", Command::Pass(Secret::new("hunter2"))).contains("hunter2"));
    }

    #[test]
    fn multiline_depends_on_the_argument() {
        assert!(Command::List(None).is_multiline());
        assert!(!Command::List(Some(1)).is_multiline());
        assert!(Command::Uidl(None).is_multiline());
        assert!(!Command::Uidl(Some(1)).is_multiline());
        assert!(Command::Retr(1).is_multiline());
        assert!(Command::Top(1, 0).is_multiline());
        assert!(!Command::Stat.is_multiline());
    }
}
