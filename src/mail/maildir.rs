//! Maildir delivery (`DIR/{tmp,new,cur}`) as mutt, neomutt and mblaze read it: a unique name
//! (`secs.M<usec>P<pid>Q<n>.<host>`), the message written in `tmp/`, fsynced, renamed into
//! `new/`, and `new/` fsynced. The two steps are separate so a caller can record its own
//! state between them (`postie pop3 pull` does).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fsutil;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A Maildir folder.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    host: String,
}

/// A message being written in `tmp/`.
#[derive(Debug)]
pub struct TmpMessage {
    pub file: File,
    pub name: String,
    tmp_path: PathBuf,
    published: bool,
}

impl TmpMessage {
    /// fsyncs the message's octets.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl Drop for TmpMessage {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

impl Maildir {
    /// Opens `root`, creating `tmp`, `new` and `cur` (mode 0700) when missing.
    pub fn create(root: &Path) -> io::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            fsutil::create_private_dir_all(&root.join(sub))?;
        }
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into());
        // Maildir's rule: `/` and `:` in the host name are written as octal escapes.
        let host = host.replace('/', "\\057").replace(':', "\\072");
        Ok(Maildir {
            root: root.to_owned(),
            host,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A name no other delivery uses.
    pub fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let q = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            q,
            self.host
        )
    }

    /// Starts a message in `tmp/` (0600, never replacing a file).
    pub fn begin(&self) -> io::Result<TmpMessage> {
        loop {
            let name = self.unique_name();
            let tmp_path = self.root.join("tmp").join(&name);
            match fsutil::create_new(&tmp_path, fsutil::PRIVATE) {
                Ok(file) => {
                    return Ok(TmpMessage {
                        file,
                        name,
                        tmp_path,
                        published: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves a synced message into `new/` and fsyncs `new/`. Returns its path.
    pub fn publish(&self, msg: TmpMessage) -> io::Result<PathBuf> {
        let dest = self.link(msg)?;
        self.sync_new()?;
        Ok(dest)
    }

    /// Moves a synced message into `new/` without syncing the folder (a caller that
    /// publishes a batch calls [`Maildir::sync_new`] once after it).
    pub fn link(&self, mut msg: TmpMessage) -> io::Result<PathBuf> {
        let dest = self.root.join("new").join(&msg.name);
        // A hard link fails rather than replace an existing file.
        std::fs::hard_link(&msg.tmp_path, &dest)?;
        msg.published = true;
        std::fs::remove_file(&msg.tmp_path)?;
        Ok(dest)
    }

    /// fsyncs `new/`, so the messages linked into it survive a crash.
    pub fn sync_new(&self) -> io::Result<()> {
        fsutil::sync_dir(&self.root.join("new"))
    }

    /// Writes, syncs and publishes `bytes` in one go.
    pub fn deliver(&self, bytes: &[u8]) -> io::Result<PathBuf> {
        use std::io::Write as _;
        let mut msg = self.begin()?;
        msg.file.write_all(bytes)?;
        msg.sync()?;
        self.publish(msg)
    }

    /// True when a message named `name` is in `new/`, or in `cur/` with any flags.
    pub fn contains(&self, name: &str) -> bool {
        if self.root.join("new").join(name).exists() || self.root.join("cur").join(name).exists() {
            return true;
        }
        let prefix = format!("{name}:");
        std::fs::read_dir(self.root.join("cur")).is_ok_and(|dir| {
            dir.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn delivers_into_new_with_unique_private_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let md = Maildir::create(&dir.path().join("mail")).expect("create");
        let a = md.deliver(b"Subject: a\r\n\r\nA\r\n").expect("a");
        let b = md.deliver(b"Subject: b\r\n\r\nB\r\n").expect("b");
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).expect("read"), b"Subject: a\r\n\r\nA\r\n");
        assert_eq!(
            std::fs::metadata(&a).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_dir(md.root().join("tmp"))
                .expect("ls")
                .count(),
            0
        );
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(md.contains(&name));
        std::fs::rename(&a, md.root().join("cur").join(format!("{name}:2,S"))).expect("mv");
        assert!(
            md.contains(&name),
            "moved to cur/ with flags by a mail reader"
        );
        assert!(!md.contains("nope"));
    }

    #[test]
    fn an_unpublished_message_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let md = Maildir::create(dir.path()).expect("create");
        drop(md.begin().expect("begin"));
        assert_eq!(
            std::fs::read_dir(md.root().join("tmp"))
                .expect("ls")
                .count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(md.root().join("new"))
                .expect("ls")
                .count(),
            0
        );
    }
}
