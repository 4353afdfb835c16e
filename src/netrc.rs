//! The `.netrc` file as curl and Python's `netrc` read it: `machine`, `default`, `login`,
//! `password`, `account`, `macdef` (skipped), tokens separated by white space, `"quoted"`
//! tokens with backslash escapes. Lookup by host and, when given, by login.
//! It does not decide when `.netrc` is consulted: callers do.

use std::io;
use std::path::{Path, PathBuf};

use crate::secret::value::Secret;

/// One `machine` (or `default`) entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// None for the `default` entry.
    pub machine: Option<String>,
    pub login: Option<String>,
    pub password: Option<Secret>,
}

/// A parsed `.netrc`.
#[derive(Debug, Clone, Default)]
pub struct Netrc {
    entries: Vec<Entry>,
}

/// `~/.netrc`, when a home folder is known.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".netrc"))
}

impl Netrc {
    /// Loads `path`; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> io::Result<Option<Netrc>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Netrc::parse(&text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Parses the text of a `.netrc`. Unknown tokens are skipped, as curl does.
    pub fn parse(text: &str) -> Netrc {
        let mut entries: Vec<Entry> = Vec::new();
        let mut tokens = Tokens { rest: text };
        while let Some(tok) = tokens.next_token() {
            match tok.as_str() {
                "machine" => {
                    let name = tokens.next_token().unwrap_or_default();
                    entries.push(Entry {
                        machine: Some(name),
                        ..Entry::default()
                    });
                }
                "default" => entries.push(Entry::default()),
                "login" | "password" | "account" => {
                    let value = tokens.next_token().unwrap_or_default();
                    if let Some(entry) = entries.last_mut() {
                        match tok.as_str() {
                            "login" => entry.login = Some(value),
                            "password" => entry.password = Some(Secret::new(value)),
                            _ => {}
                        }
                    }
                }
                "macdef" => tokens.skip_macro(),
                _ => {}
            }
        }
        Netrc { entries }
    }

    /// The first entry for `host` (whose login is `login`, when given), else `default`.
    pub fn find(&self, host: &str, login: Option<&str>) -> Option<&Entry> {
        let login_ok = |e: &Entry| match (login, e.login.as_deref()) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        };
        self.entries
            .iter()
            .find(|e| {
                e.machine
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(host))
                    && login_ok(e)
            })
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|e| e.machine.is_none() && login_ok(e))
            })
    }
}

struct Tokens<'a> {
    rest: &'a str,
}

impl Tokens<'_> {
    fn next_token(&mut self) -> Option<String> {
        self.rest = self.rest.trim_start();
        if self.rest.starts_with('#') {
            // A comment runs to the end of its line.
            let end = self.rest.find('\n').unwrap_or(self.rest.len());
            self.rest = &self.rest[end..];
            return self.next_token();
        }
        if self.rest.is_empty() {
            return None;
        }
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.rest = &quoted[i + 1..];
                        return Some(out);
                    }
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            out.push(next);
                        }
                    }
                    c => out.push(c),
                }
            }
            self.rest = "";
            return Some(out);
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let tok = self.rest[..end].to_owned();
        self.rest = &self.rest[end..];
        Some(tok)
    }

    /// A macro definition runs to the first empty line.
    fn skip_macro(&mut self) {
        match self.rest.find("\n\n") {
            Some(i) => self.rest = &self.rest[i + 2..],
            None => self.rest = "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\nmachine a.example login alice password \"p w\\\"x\"\n\
        macdef init\ncd /\nmachine evil login x password y\n\n\
        machine b.example\n  login bob\n  password bpw\ndefault login anon password guest\n";

    #[test]
    fn finds_entries_by_host_and_login() {
        let n = Netrc::parse(SAMPLE);
        let a = n.find("A.EXAMPLE", None).expect("a");
        assert_eq!(a.login.as_deref(), Some("alice"));
        assert_eq!(a.password.as_ref().map(Secret::expose), Some("p w\"x"));
        let b = n.find("b.example", Some("bob")).expect("b");
        assert_eq!(b.password.as_ref().map(Secret::expose), Some("bpw"));
        // A login that does not match falls through to `default`.
        let d = n.find("b.example", Some("carol"));
        assert!(d.is_none(), "default has login anon, not carol");
        let d = n.find("c.example", None).expect("default");
        assert_eq!(d.login.as_deref(), Some("anon"));
    }

    #[test]
    fn macro_bodies_are_not_read_as_entries() {
        let n = Netrc::parse(SAMPLE);
        assert!(n.find("evil", None).is_some_and(|e| e.machine.is_none()));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in [
            "machine",
            "login",
            "\"unterminated",
            "machine x password",
            "#",
            "default\n\"\\",
        ] {
            let _ = Netrc::parse(text).find("x", Some("y"));
        }
    }
}
