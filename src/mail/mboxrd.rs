//! mboxrd writing for `postie pop3 pull --format mbox`: the `From ` envelope line, the
//! quoting of `From ` and `>From ` lines, and the locks mail readers take before they touch
//! an mbox (an `fcntl` lock on the file, then a `FILE.lock` dot-lock, in that order, as mutt
//! and mpop take them).
//!
//! Quoting is mboxrd: every line matching `^>*From ` gets one more `>`, so un-quoting (drop
//! one `>` from such lines) gives the message back byte for byte, which mboxo cannot do.
//! Line ends are kept as the server sent them (CRLF): the message after un-quoting is the
//! one RETR gave, as the Maildir and eml stores keep it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::fsutil;

/// The envelope sender for the `From ` line: the first Return-Path of the header, without
/// its angle brackets; `MAILER-DAEMON` for a null (`<>`) or missing one, as procmail and
/// mutt write it. Anything but printable ASCII becomes `_`, so the line stays one token.
pub fn envelope_sender(message: &[u8]) -> String {
    let end = memchr::memmem::find(message, b"\n\n")
        .or_else(|| memchr::memmem::find(message, b"\r\n\r\n"))
        .unwrap_or(message.len());
    let header = &message[..end];
    let mut value = None;
    for line in header.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"Return-Path") {
            value = Some(&line[colon + 1..]);
            break;
        }
    }
    let text = String::from_utf8_lossy(value.unwrap_or_default());
    let addr = text.trim().trim_start_matches('<');
    let addr = addr.split('>').next().unwrap_or("").trim();
    if addr.is_empty() {
        return "MAILER-DAEMON".into();
    }
    addr.chars()
        .map(|c| match c {
            '!'..='~' => c,
            _ => '_',
        })
        .collect()
}

/// `From SENDER Www Mmm dd hh:mm:ss yyyy\n` (asctime, UTC) for the retrieval time `when`.
pub fn from_line(sender: &str, when: SystemTime) -> Vec<u8> {
    let t = time::OffsetDateTime::from(when);
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let date = t
        .format(fmt)
        .unwrap_or_else(|_| "Thu Jan  1 00:00:00 1970".into());
    format!("From {sender} {date}\n").into_bytes()
}

/// True when `line` needs one more `>` (it matches `^>*From `).
pub fn needs_quoting(line: &[u8]) -> bool {
    let rest = &line[line.iter().take_while(|b| **b == b'>').count()..];
    rest.starts_with(b"From ")
}

/// Writes one mbox entry: `envelope`, the message read from `message` with its lines quoted,
/// a line end if the message lacks a final one, and the empty line that ends the entry.
/// Returns the octets written.
pub fn write_entry<R: BufRead, W: Write>(
    envelope: &[u8],
    message: &mut R,
    out: &mut W,
) -> io::Result<u64> {
    out.write_all(envelope)?;
    let mut written = envelope.len() as u64;
    let mut line = Vec::new();
    let mut ended = true;
    loop {
        line.clear();
        if message.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if needs_quoting(&line) {
            out.write_all(b">")?;
            written += 1;
        }
        out.write_all(&line)?;
        written += line.len() as u64;
        ended = line.ends_with(b"\n");
    }
    let tail: &[u8] = if ended { b"\n" } else { b"\n\n" };
    out.write_all(tail)?;
    Ok(written + tail.len() as u64)
}

/// How long [`MboxLock::acquire`] waits for another holder of either lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// A dot-lock older than this is left over from a crash and is removed (as mutt does with a
/// stale lock; procmail's default is 17 minutes, mutt asks).
const STALE_DOTLOCK: Duration = Duration::from_secs(300);

/// An mbox opened for appending and locked (fcntl, then `FILE.lock`); dropping it removes
/// the dot-lock and closes the file, which releases the fcntl lock.
#[derive(Debug)]
pub struct MboxLock {
    pub file: File,
    dotlock: Option<PathBuf>,
}

impl MboxLock {
    /// Opens (creating it 0600) and locks `path`, waiting up to `wait` for other holders;
    /// `WouldBlock` when they keep it. A folder where no dot-lock can be made (not writable,
    /// like a system spool without mutt_dotlock's group) is locked with fcntl alone.
    pub fn acquire(path: &Path, wait: Duration) -> io::Result<MboxLock> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(fsutil::PRIVATE)
            .open(path)?;
        let deadline = Instant::now() + wait;
        loop {
            use rustix::fs::{FlockOperation, fcntl_lock};
            match fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {
                    if Instant::now() >= deadline {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let dotlock = dotlock(path, deadline)?;
        Ok(MboxLock { file, dotlock })
    }
}

impl Drop for MboxLock {
    fn drop(&mut self) {
        if let Some(p) = &self.dotlock {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Creates `PATH.lock` with O_EXCL, retrying until `deadline`; `None` when the folder
/// allows no dot-lock.
fn dotlock(path: &Path, deadline: Instant) -> io::Result<Option<PathBuf>> {
    let lock = PathBuf::from(format!("{}.lock", path.display()));
    loop {
        match fsutil::create_new(&lock, 0o644) {
            Ok(_) => return Ok(Some(lock)),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let age = std::fs::symlink_metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| m.elapsed().ok());
                if age.is_some_and(|a| a > STALE_DOTLOCK) {
                    let _ = std::fs::remove_file(&lock);
                    continue;
                }
                if Instant::now() >= deadline {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let n = write_entry(
            b"From x Thu Jan  1 00:00:00 1970\n",
            &mut &msg[..],
            &mut out,
        )
        .expect("write");
        assert_eq!(n, out.len() as u64);
        out
    }

    #[test]
    fn from_lines_are_quoted_mboxrd_style() {
        let msg = b"Subject: a\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\nFrom\r\n>From\r\n";
        assert_eq!(
            entry(msg),
            b"From x Thu Jan  1 00:00:00 1970\nSubject: a\r\n\r\n>From here\r\n>>From there\r\n\
              >>>From x\r\nFrom\r\n>From\r\n\n"
        );
        assert_eq!(
            entry(b"A: b\n\nno end"),
            b"From x Thu Jan  1 00:00:00 1970\nA: b\n\nno end\n\n"
        );
    }

    #[test]
    fn the_envelope_comes_from_return_path() {
        let m =
            b"Received: x\r\nreturn-path: <bounce@example.org>\r\nReturn-Path: <second@x>\r\n\r\n";
        assert_eq!(envelope_sender(m), "bounce@example.org");
        assert_eq!(envelope_sender(b"Return-Path: <>\r\n\r\n"), "MAILER-DAEMON");
        assert_eq!(
            envelope_sender(b"From: a@b\r\n\r\nReturn-Path: <no@x>\r\n"),
            "MAILER-DAEMON"
        );
        assert_eq!(envelope_sender(b"Return-Path: <a b\x01@x>\n\n"), "a_b_@x");
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_255_200);
        assert_eq!(
            from_line("a@b", when),
            b"From a@b Sat Nov 21 10:00:00 2026\n".to_vec()
        );
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(86400 * 4);
        assert_eq!(
            from_line("a@b", when),
            b"From a@b Mon Jan  5 00:00:00 1970\n".to_vec()
        );
    }

    #[test]
    fn a_held_dotlock_makes_the_second_wait_then_give_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("inbox");
        let first = MboxLock::acquire(&path, LOCK_WAIT).expect("lock");
        assert!(dir.path().join("inbox.lock").exists());
        let err = dotlock(&path, Instant::now()).expect_err("held");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        assert!(!dir.path().join("inbox.lock").exists());
        MboxLock::acquire(&path, LOCK_WAIT).expect("free again");
    }
}
