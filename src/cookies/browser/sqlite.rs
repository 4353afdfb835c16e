//! The SQLite side shared by both readers: open a private copy of a browser database and
//! ask it what its schema is.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{BrowserError, private_copy, with_suffix};

/// An open private copy of a browser database; the copy goes when this is dropped.
#[derive(Debug)]
pub struct Copy {
    pub conn: Connection,
    /// The browser's file (for messages).
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Copy {
    /// Copies `path` with its `-wal`, `-shm` and `-journal` files (the WAL holds the latest
    /// cookies until a checkpoint) and opens the copy. The copy is opened read-write so that
    /// SQLite can replay the WAL into it; the browser's files are only ever read.
    pub fn open(path: &Path) -> Result<Copy, BrowserError> {
        let files: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|s| with_suffix(path, s))
            .collect();
        let (dir, copy) = private_copy(&files)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&copy, flags).map_err(|e| error(path, &e))?;
        let copy = Copy {
            conn,
            path: path.to_owned(),
            _dir: dir,
        };
        // Reading the schema is the first real read: a file that is not a database fails here.
        copy.user_version()?;
        Ok(copy)
    }

    /// `PRAGMA user_version` (Firefox's schema version).
    pub fn user_version(&self) -> Result<i64, BrowserError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| error(&self.path, &e))
    }

    /// The column names of `table` (empty when there is no such table).
    pub fn columns(&self, table: &str) -> Result<Vec<String>, BrowserError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(|e| error(&self.path, &e))?;
        let names = stmt
            .query_map([table], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(|e| error(&self.path, &e))?;
        Ok(names)
    }

    /// Checks that `table` has every column of `needed`; names the missing ones.
    pub fn require(&self, table: &str, needed: &[&str]) -> Result<Vec<String>, BrowserError> {
        let have = self.columns(table)?;
        if have.is_empty() {
            return Err(BrowserError::Schema {
                path: self.path.clone(),
                why: format!("no `{table}` table"),
            });
        }
        let missing: Vec<&str> = needed
            .iter()
            .copied()
            .filter(|n| !have.iter().any(|h| h == n))
            .collect();
        if !missing.is_empty() {
            return Err(BrowserError::Schema {
                path: self.path.clone(),
                why: format!("table `{table}` has no column {}", missing.join(", ")),
            });
        }
        Ok(have)
    }
}

/// A SQLite error on the copy of `path`, as the user should read it.
pub fn error(path: &Path, e: &rusqlite::Error) -> BrowserError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => BrowserError::Locked {
            path: path.to_owned(),
            why: e.to_string(),
        },
        Some(ErrorCode::NotADatabase) => BrowserError::Database {
            path: path.to_owned(),
            why: "not an SQLite database".into(),
        },
        _ => BrowserError::Database {
            path: path.to_owned(),
            why: e.to_string(),
        },
    }
}
