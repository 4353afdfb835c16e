//! A converted account as the `[account.NAME]` table of postie's config.toml, for `postie
//! config import`. A plain `password` is never written: a comment says what to use instead.

use std::fmt::Write;
use std::path::Path;

use super::Converted;

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A table key: bare when TOML allows it, else quoted.
pub fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { name.to_owned() } else { quote(name) }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `[account.NAME]` and its keys; the warnings as comments inside the table (so that
/// replacing the account later replaces them too), so the user sees what was left out.
pub fn render(name: &str, converted: &Converted) -> String {
    let a = &converted.account;
    let mut out = String::new();
    let _ = writeln!(out, "[account.{}]", key(name));
    for w in &converted.warnings {
        let _ = writeln!(out, "# not imported: {}", w.to_string().replace('\n', " "));
    }
    let text_keys: [(&str, Option<String>); 18] = [
        ("pop3_server", a.pop3_server.clone()),
        ("smtp_server", a.smtp_server.clone()),
        ("user", a.user.clone()),
        ("auth", a.auth.clone()),
        ("tls", a.tls.clone()),
        ("cacert", a.cacert.as_deref().map(path_text)),
        ("tls_cert_file", a.tls_cert_file.as_deref().map(path_text)),
        ("tls_key_file", a.tls_key_file.as_deref().map(path_text)),
        ("tls_fingerprint", a.tls_fingerprint.clone()),
        ("password_command", a.password_command.clone()),
        ("from", a.from.clone()),
        ("helo", a.helo.clone()),
        ("pop3_out", a.pop3_out.as_deref().map(path_text)),
        ("pop3_format", a.pop3_format.clone()),
        ("pop3_mda", a.pop3_mda.clone()),
        ("from_policy", a.from_policy.clone()),
        ("aliases", a.aliases.as_deref().map(path_text)),
        ("log", a.log.as_deref().map(path_text)),
    ];
    for (k, v) in text_keys {
        if let Some(v) = v {
            let _ = writeln!(out, "{k} = {}", quote(&v));
        }
    }
    if a.insecure == Some(true) {
        out.push_str("insecure = true\n");
    }
    if let Some(on) = a.syslog {
        let _ = writeln!(out, "syslog = {on}");
    }
    if let Some(t) = a.timeout {
        let _ = writeln!(out, "timeout = {t}");
    }
    if a.password.is_some() {
        out.push_str(
            "# password: not imported (a plain password does not belong in config.toml);\n\
             # give password_command = \"pass show ...\" or password_env = \"VAR\" instead\n",
        );
    }
    out
}

/// The names of the `[account.NAME]` tables of a config.toml text (None if it is not TOML).
pub fn account_names(text: &str) -> Option<Vec<String>> {
    let table: toml::Table = toml::from_str(text).ok()?;
    Some(match table.get("account") {
        Some(toml::Value::Table(accounts)) => accounts.keys().cloned().collect(),
        _ => Vec::new(),
    })
}

/// The account a table header line (`[account.NAME]`, any quoting) opens, if it is one.
fn header_account(line: &str) -> Option<String> {
    let t = line.trim();
    if !t.starts_with('[') || t.starts_with("[[") {
        return None;
    }
    let names = account_names(t)?;
    match names.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// `existing` config.toml text without the `[account.NAME]` tables of `names` (each from its
/// header to the next table header), comments and other tables kept as they are.
pub fn without_accounts(existing: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(existing.len());
    let mut skipping = false;
    for line in existing.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            skipping = header_account(line).is_some_and(|n| names.contains(&n));
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out
}

/// `existing` with `imported` appended (a blank line between), the accounts it replaces
/// removed first. Err: the result would not be TOML with exactly the expected accounts (the
/// text surgery went wrong: nothing is written then).
pub fn merge(existing: &str, imported: &str, replaced: &[String]) -> Result<String, String> {
    let mut text = without_accounts(existing, replaced);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.trim().is_empty() {
        text.push('\n');
    }
    text.push_str(imported);
    let before = account_names(existing).ok_or("the accounts file is not valid TOML")?;
    let added = account_names(imported).ok_or("the imported accounts are not valid TOML")?;
    let after = account_names(&text).ok_or("the merged file would not be valid TOML")?;
    let kept = before.iter().filter(|n| !added.contains(n)).count();
    if after.len() != kept + added.len() {
        return Err("the merged file would not hold the expected accounts".into());
    }
    Ok(text)
}
