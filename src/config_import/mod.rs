//! msmtp's and mpop's configuration files (`~/.msmtprc`, `~/.mpoprc`), read as their man
//! pages describe them, turned into postie [`crate::config::Account`]s. Pure: text in, accounts and
//! warnings out ([`parse`], [`convert`]); finding and reading the files is [`load`]'s job, and
//! rendering TOML for `postie config import` is [`render`]'s.
//!
//! Syntax (msmtp(1) and mpop(1), "Configuration files"): one command and its argument per
//! line; blank lines and lines whose first non-blank character is `#` are comments; an
//! argument may be in double quotes, inside which a backslash takes the next character as it
//! is. `defaults` starts settings that every account defined after it inherits; `account NAME
//! [: OTHER[, OTHER...]]` starts an account that also inherits the named earlier accounts (in
//! that order, after the defaults); later settings win. A `#` after blanks outside quotes
//! starts a comment too (so `password ab#c` keeps its `#`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::exit::code;

mod convert;
mod render;

pub use convert::{Converted, Warning, convert};
pub use render::{account_names, merge, render};

/// Which program's file: the defaults and the keys that mean something differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Msmtp,
    Mpop,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Msmtp => "msmtp",
            Flavor::Mpop => "mpop",
        }
    }
}

/// One setting as written: the command, its argument with quotes removed, its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// One account: everything it inherits (defaults, then parents) followed by its own lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcAccount {
    pub name: String,
    /// The line of its `account` command.
    pub line: usize,
    pub settings: Vec<Setting>,
}

impl RcAccount {
    /// The last setting of `key` (later lines override earlier and inherited ones).
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().rev().find(|s| s.key == key)
    }

    /// Every key once, with its last setting, in the order of those settings' lines.
    pub fn effective(&self) -> Vec<&Setting> {
        let mut last: BTreeMap<&str, &Setting> = BTreeMap::new();
        for s in &self.settings {
            last.insert(&s.key, s);
        }
        let mut out: Vec<&Setting> = last.into_values().collect();
        out.sort_by_key(|s| s.line);
        out
    }
}

/// Errors reading an msmtp or mpop configuration file.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error("{}: line {line}: {why}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// msmtp and mpop refuse such a file too.
    #[error(
        "{}: holds a password but is readable by others (mode {mode:o}); run: chmod 600 {}",
        path.display(), path.display()
    )]
    UnsafePermissions { path: PathBuf, mode: u32 },
}

impl RcError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RcError::Read { .. } => code::READ,
            _ => code::CONFIG,
        }
    }
}

/// Parses the text of an msmtp or mpop file (`path` only names it in errors): the accounts in
/// file order, inheritance resolved. Nothing of a malformed line is shown but its number and
/// what is wrong with it, as the line may hold a password.
pub fn parse(path: &Path, text: &str) -> Result<Vec<RcAccount>, RcError> {
    let mut defaults: Vec<Setting> = Vec::new();
    let mut accounts: Vec<RcAccount> = Vec::new();
    // None: before any `defaults` or `account`; Some(None): in defaults; Some(Some(i)):
    // in accounts[i].
    let mut section: Option<Option<usize>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let bad = |why: String| RcError::Malformed {
            path: path.to_owned(),
            line,
            why,
        };
        let Some((key, value)) = split_line(raw).map_err(|why| bad(why.to_owned()))? else {
            continue;
        };
        match key.as_str() {
            "defaults" if !value.is_empty() => {
                return Err(bad("`defaults` takes no argument".into()));
            }
            "defaults" => section = Some(None),
            "account" => {
                let account = new_account(&value, line, &defaults, &accounts).map_err(bad)?;
                accounts.push(account);
                section = Some(Some(accounts.len() - 1));
            }
            _ => {
                let setting = Setting { key, value, line };
                match section {
                    None => {
                        return Err(bad(format!(
                            "`{}` before any `account` or `defaults` line",
                            setting.key
                        )));
                    }
                    Some(None) => defaults.push(setting),
                    Some(Some(a)) => accounts[a].settings.push(setting),
                }
            }
        }
    }
    Ok(accounts)
}

/// `NAME [: PARENT[, PARENT...]]` on `line`: the new account with the defaults so far and its
/// parents' settings.
fn new_account(
    arg: &str,
    line: usize,
    defaults: &[Setting],
    earlier: &[RcAccount],
) -> Result<RcAccount, String> {
    let (name, parents) = match arg.split_once(':') {
        Some((name, parents)) => (name.trim(), Some(parents)),
        None => (arg.trim(), None),
    };
    if name.is_empty() {
        return Err("`account` needs a name".into());
    }
    if earlier.iter().any(|a| a.name == name) {
        return Err(format!("account {name} is defined twice"));
    }
    let mut settings = defaults.to_vec();
    for parent in parents.into_iter().flat_map(|p| p.split(',')) {
        let parent = parent.trim();
        let found = earlier.iter().find(|a| a.name == parent).ok_or_else(|| {
            format!("account {name} inherits from {parent:?}, which is not defined before it")
        })?;
        settings.extend(found.settings.iter().cloned());
    }
    Ok(RcAccount {
        name: name.to_owned(),
        line,
        settings,
    })
}

/// A line's command and argument, or None for a blank or comment line.
fn split_line(raw: &str) -> Result<Option<(String, String)>, &'static str> {
    let text = raw.trim_start();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let (key, rest) = text.split_at(end);
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("a command is letters, digits and `_`");
    }
    Ok(Some((key.to_owned(), argument(rest.trim_start())?)))
}

/// An argument: double quotes group (a backslash inside takes the next character as it is),
/// a `#` at the start or after a blank outside quotes ends the line, trailing blanks outside
/// quotes go.
fn argument(text: &str) -> Result<String, &'static str> {
    let mut out = String::new();
    // out's length up to the last quoted character: trimming stops there.
    let mut keep = 0;
    let (mut quoted, mut prev_blank) = (false, true);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') => quoted = false,
            (true, '\\') => out.push(chars.next().ok_or("a quoted argument ends in `\\`")?),
            (true, c) => out.push(c),
            (false, '"') => quoted = true,
            (false, '#') if prev_blank => break,
            (false, c) => out.push(c),
        }
        if quoted || c == '"' {
            keep = out.len();
        }
        prev_blank = !quoted && c.is_whitespace();
    }
    if quoted {
        return Err("a double quote is not closed");
    }
    let trimmed = out.trim_end().len().max(keep);
    out.truncate(trimmed);
    Ok(out)
}

/// The file `--account` falls back on: `~/.mpoprc` (else `$XDG_CONFIG_HOME/mpop/config`) for
/// mpop, `~/.msmtprc` (else `$XDG_CONFIG_HOME/msmtp/config`) for msmtp, as each program looks.
pub fn default_path(flavor: Flavor) -> Option<PathBuf> {
    let var = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    let home = var("HOME");
    let dot = home
        .as_ref()
        .map(|h| h.join(format!(".{}rc", flavor.name())));
    if let Some(p) = dot.as_ref().filter(|p| p.exists()) {
        return Some(p.clone());
    }
    let xdg = var("XDG_CONFIG_HOME").or_else(|| home.map(|h| h.join(".config")));
    xdg.map(|x| x.join(flavor.name()).join("config"))
        .filter(|p| p.exists())
        .or(dot)
}

/// Reads and parses `path`; None when it does not exist. A file with a `password` must be
/// private (msmtp's and mpop's own rule).
pub fn load(path: &Path) -> Result<Option<Vec<RcAccount>>, RcError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RcError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let accounts = parse(path, &text)?;
    let has_password = accounts
        .iter()
        .any(|a| a.settings.iter().any(|s| s.key == "password"));
    if has_password {
        check_private(path)?;
    }
    Ok(Some(accounts))
}

fn check_private(path: &Path) -> Result<(), RcError> {
    match crate::config::shared_mode(path) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => Err(RcError::UnsafePermissions {
            path: path.to_owned(),
            mode,
        }),
        Err(source) => Err(RcError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Account `name` of the file at `path` as a postie account, with its warnings; None when the
/// file or the account is not there.
pub fn find_account(
    flavor: Flavor,
    path: &Path,
    name: &str,
    home: Option<&Path>,
) -> Result<Option<Converted>, RcError> {
    let Some(accounts) = load(path)? else {
        return Ok(None);
    };
    Ok(accounts
        .iter()
        .find(|a| a.name == name)
        .map(|a| convert(flavor, a, home)))
}

/// Every account of the file at `path`, converted; None when the file does not exist.
pub fn all_accounts(
    flavor: Flavor,
    path: &Path,
    home: Option<&Path>,
) -> Result<Option<Vec<(String, Converted)>>, RcError> {
    let accounts = load(path)?;
    Ok(accounts.map(|all| {
        all.iter()
            .map(|a| (a.name.clone(), convert(flavor, a, home)))
            .collect()
    }))
}

#[cfg(test)]
mod tests;
