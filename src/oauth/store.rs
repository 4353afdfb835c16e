//! Where tokens are kept between runs: one JSON file for every account,
//! `$XDG_DATA_HOME/postie/oauth-tokens.json` (else `~/.local/share/postie/`), mode 0600,
//! replaced atomically; or, for users who keep secrets in `pass` or a keyring, two commands
//! (`oauth_token_command` prints the account's record, `oauth_token_store_command` reads the
//! new one on stdin: never on argv). Every read-refresh-write runs under one lock file beside
//! the store, so two postie processes never refresh with the same (rotated) refresh token.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::fsutil::{self, PRIVATE};
use crate::secret::Secret;

/// What is stored for one account. Tokens are secrets; the rest is shown by `oauth status`.
#[derive(Debug, Clone, Default)]
pub struct TokenRecord {
    pub provider: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub refresh_token: Option<Secret>,
    pub access_token: Option<Secret>,
    /// Unix seconds when the access token expires.
    pub expires_at: Option<u64>,
    /// Unix seconds of the login.
    pub obtained_at: u64,
    /// Unix seconds of the last refresh.
    pub refreshed_at: Option<u64>,
}

/// The record as JSON: plain strings, private to this file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct RawRecord {
    provider: String,
    client_id: String,
    scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    obtained_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refreshed_at: Option<u64>,
}

impl From<RawRecord> for TokenRecord {
    fn from(r: RawRecord) -> TokenRecord {
        TokenRecord {
            provider: r.provider,
            client_id: r.client_id,
            scopes: r.scopes,
            refresh_token: r.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
            access_token: r.access_token.filter(|t| !t.is_empty()).map(Secret::new),
            expires_at: r.expires_at,
            obtained_at: r.obtained_at,
            refreshed_at: r.refreshed_at,
        }
    }
}

impl From<&TokenRecord> for RawRecord {
    fn from(r: &TokenRecord) -> RawRecord {
        RawRecord {
            provider: r.provider.clone(),
            client_id: r.client_id.clone(),
            scopes: r.scopes.clone(),
            refresh_token: r.refresh_token.as_ref().map(|s| s.expose().to_owned()),
            access_token: r.access_token.as_ref().map(|s| s.expose().to_owned()),
            expires_at: r.expires_at,
            obtained_at: r.obtained_at,
            refreshed_at: r.refreshed_at,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    #[serde(default)]
    accounts: BTreeMap<String, RawRecord>,
}

/// Where an account's record lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The shared token file.
    File(PathBuf),
    /// Commands: `read` prints the record (JSON, or a bare refresh token); `write` gets the
    /// new record on stdin (an empty stdin on logout). Without `write` a rotated refresh
    /// token cannot be kept: postie says so.
    Commands { read: String, write: Option<String> },
}

/// The default token file: `$XDG_DATA_HOME/postie/oauth-tokens.json`, else
/// `$HOME/.local/share/postie/oauth-tokens.json`.
pub fn default_path() -> Option<PathBuf> {
    crate::config::xdg_base("XDG_DATA_HOME", ".local/share")
        .map(|base| base.join("postie").join("oauth-tokens.json"))
}

/// One account's place in a store, and the lock that guards it.
#[derive(Debug, Clone)]
pub struct Store {
    pub account: String,
    pub location: Location,
    /// The lock file (beside the token file; in the data folder for commands).
    pub lock_path: PathBuf,
}

/// Held while a record is read, refreshed and written back.
#[derive(Debug)]
pub struct Locked(#[allow(dead_code)] File);

impl Store {
    /// Takes the store's lock, waiting for another postie that holds it.
    pub fn lock(&self) -> Result<Locked, OAuthError> {
        if let Some(dir) = self.lock_path.parent() {
            fsutil::create_private_dir_all(dir).map_err(|e| self.io_error(&self.lock_path, e))?;
        }
        fsutil::lock_file(&self.lock_path, PRIVATE)
            .map(Locked)
            .map_err(|e| self.io_error(&self.lock_path, e))
    }

    /// The account's record; None when it never logged in (or logged out).
    pub fn load(&self, _lock: &Locked) -> Result<Option<TokenRecord>, OAuthError> {
        match &self.location {
            Location::File(path) => {
                let mut file = read_file(path)?;
                Ok(file.accounts.remove(&self.account).map(TokenRecord::from))
            }
            Location::Commands { read, .. } => {
                let out = run(read, None).map_err(|why| self.command_error(read, why))?;
                Ok(parse_command_output(&out))
            }
        }
    }

    /// Replaces the account's record (None: removes it).
    pub fn save(&self, _lock: &Locked, record: Option<&TokenRecord>) -> Result<(), OAuthError> {
        match &self.location {
            Location::File(path) => {
                let mut file = read_file(path)?;
                file.version = 1;
                match record {
                    Some(r) => file.accounts.insert(self.account.clone(), r.into()),
                    None => file.accounts.remove(&self.account),
                };
                let text = serde_json::to_vec_pretty(&file).unwrap_or_default();
                if let Some(dir) = path.parent() {
                    fsutil::create_private_dir_all(dir).map_err(|e| self.io_error(path, e))?;
                }
                fsutil::write_atomic(path, &text, PRIVATE).map_err(|e| self.io_error(path, e))
            }
            Location::Commands { write: None, .. } => Err(OAuthError::ReadOnlyStore {
                account: self.account.clone(),
            }),
            Location::Commands {
                write: Some(write), ..
            } => {
                let input = match record {
                    Some(r) => serde_json::to_vec(&RawRecord::from(r)).unwrap_or_default(),
                    None => Vec::new(),
                };
                run(write, Some(&input))
                    .map(|_| ())
                    .map_err(|why| self.command_error(write, why))
            }
        }
    }

    fn io_error(&self, path: &Path, source: io::Error) -> OAuthError {
        OAuthError::Store {
            path: path.to_owned(),
            source,
        }
    }

    fn command_error(&self, command: &str, why: String) -> OAuthError {
        OAuthError::StoreCommand {
            account: self.account.clone(),
            command: command.to_owned(),
            why,
        }
    }
}

/// Every account's record in the token file at `path` (for `oauth status`).
pub fn list(path: &Path) -> Result<Vec<(String, TokenRecord)>, OAuthError> {
    Ok(read_file(path)?
        .accounts
        .into_iter()
        .map(|(name, raw)| (name, TokenRecord::from(raw)))
        .collect())
}

/// The token file; a missing one is empty. One readable by others is refused, as the
/// accounts file is: it holds refresh tokens.
fn read_file(path: &Path) -> Result<StoreFile, OAuthError> {
    use std::os::unix::fs::PermissionsExt;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(StoreFile::default()),
        Err(source) => {
            return Err(OAuthError::Store {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0);
    if mode & 0o077 != 0 {
        return Err(OAuthError::UnsafeStore {
            path: path.to_owned(),
            mode,
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| OAuthError::CorruptStore {
        path: path.to_owned(),
        // serde_json's messages name a position, never the text.
        why: crate::config::without_values(&e.to_string()),
    })
}

/// A command's output: a JSON record, or a bare refresh token on the first line.
fn parse_command_output(out: &str) -> Option<TokenRecord> {
    let text = out.trim();
    if text.is_empty() {
        return None;
    }
    if text.starts_with('{')
        && let Ok(raw) = serde_json::from_str::<RawRecord>(text)
    {
        return Some(raw.into());
    }
    let line = text.lines().next().unwrap_or("").trim();
    Some(TokenRecord {
        refresh_token: Some(Secret::new(line)),
        ..TokenRecord::default()
    })
}

/// Runs `command` with `sh -c`, feeding `input` on stdin; its stdout.
fn run(command: &str, input: Option<&[u8]>) -> Result<String, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A command that does not read its input is its own business: its exit status says.
        let _ = stdin.write_all(bytes);
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("exited with {}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|_| "printed something that is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record(refresh: &str) -> TokenRecord {
        TokenRecord {
            provider: "custom".into(),
            client_id: "cid".into(),
            scopes: vec!["mail".into()],
            refresh_token: Some(Secret::new(refresh)),
            access_token: Some(Secret::new("at")),
            expires_at: Some(100),
            obtained_at: 50,
            refreshed_at: None,
        }
    }

    fn file_store(dir: &Path, account: &str) -> Store {
        Store {
            account: account.into(),
            location: Location::File(dir.join("sub/oauth-tokens.json")),
            lock_path: dir.join("sub/oauth-tokens.lock"),
        }
    }

    #[test]
    fn the_file_keeps_each_account_private_and_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file_store(dir.path(), "a");
        let b = file_store(dir.path(), "b");
        let lock = a.lock().expect("lock");
        assert!(a.load(&lock).expect("load").is_none());
        a.save(&lock, Some(&record("rt-a"))).expect("save a");
        b.save(&lock, Some(&record("rt-b"))).expect("save b");
        let got = a.load(&lock).expect("load").expect("some");
        assert_eq!(got.refresh_token.expect("rt").expose(), "rt-a");
        assert_eq!(got.expires_at, Some(100));
        let path = dir.path().join("sub/oauth-tokens.json");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        a.save(&lock, None).expect("remove");
        assert!(a.load(&lock).expect("load").is_none());
        assert_eq!(list(&path).expect("list").len(), 1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(b.load(&lock), Err(OAuthError::UnsafeStore { .. })));
        std::fs::write(&path, "{not json rt-b").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = b.load(&lock).expect_err("corrupt");
        assert!(matches!(err, OAuthError::CorruptStore { .. }), "{err}");
        assert!(!err.to_string().contains("rt-b"), "{err}");
    }

    #[test]
    fn commands_read_and_write_the_record_on_stdin_and_stdout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kept = dir.path().join("kept.json");
        let store = Store {
            account: "a".into(),
            location: Location::Commands {
                read: format!("cat {} 2>/dev/null || true", kept.display()),
                write: Some(format!("cat > {}", kept.display())),
            },
            lock_path: dir.path().join("lock"),
        };
        let lock = store.lock().expect("lock");
        assert!(store.load(&lock).expect("load").is_none());
        store.save(&lock, Some(&record("rt-1"))).expect("save");
        let got = store.load(&lock).expect("load").expect("some");
        assert_eq!(got.refresh_token.expect("rt").expose(), "rt-1");
        let bare = parse_command_output("just-a-refresh-token\n").expect("some");
        assert_eq!(
            bare.refresh_token.expect("rt").expose(),
            "just-a-refresh-token"
        );
        assert!(bare.access_token.is_none());
        let read_only = Store {
            location: Location::Commands {
                read: "echo x".into(),
                write: None,
            },
            ..store.clone()
        };
        assert!(matches!(
            read_only.save(&lock, None),
            Err(OAuthError::ReadOnlyStore { .. })
        ));
        let failing = Store {
            location: Location::Commands {
                read: "exit 4".into(),
                write: None,
            },
            ..store
        };
        assert!(matches!(
            failing.load(&lock),
            Err(OAuthError::StoreCommand { .. })
        ));
    }
}
