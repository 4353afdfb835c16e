//! The delivery log of `postie send` (the `log = PATH` and `syslog = true` account keys, as
//! msmtp's `logfile` and `syslog`): one line per message, in msmtp's `key=value` form, with
//! the time, account, server, envelope, size, and the server's reply or the error and exit
//! code. No secrets: no user name, password or token goes into a line. The line is pure
//! ([`line`]); [`append`] and [`syslog`] write it.

use std::io::{self, Write};
use std::path::Path;

use super::{Reply, printable};

/// What one line records.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub time: time::OffsetDateTime,
    pub account: Option<&'a str>,
    /// `host:port`.
    pub server: &'a str,
    /// The envelope sender; empty for the null sender.
    pub from: &'a str,
    pub recipients: &'a [String],
    /// Octets of the message as handed to the session.
    pub size: usize,
    /// The server's final reply, or the error's text and the exit code.
    pub outcome: Result<&'a Reply, (&'a str, u8)>,
}

/// The line, without a line end.
pub fn line(e: &Entry) -> String {
    // Whole seconds, as msmtp's log and the README show it.
    let time = e
        .time
        .replace_nanosecond(0)
        .unwrap_or(e.time)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut out = format!(
        "{time} account={} server={} from={} recipients={} mailsize={}",
        e.account.unwrap_or("-"),
        e.server,
        if e.from.is_empty() { "<>" } else { e.from },
        e.recipients.join(","),
        e.size
    );
    match e.outcome {
        Ok(reply) => out.push_str(&format!(
            " smtpstatus={} smtpmsg='{}' exitcode=EX_OK",
            reply.code,
            quoted(&reply.to_string())
        )),
        Err((why, code)) => out.push_str(&format!(
            " errormsg='{}' exitcode={}",
            quoted(why),
            exit_name(code)
        )),
    }
    out
}

/// Text for inside single quotes: control characters escaped, `'` as `\'`.
fn quoted(text: &str) -> String {
    printable(text).replace('\\', "\\\\").replace('\'', "\\'")
}

/// sysexits(3) names for the codes a send ends with (as msmtp logs them), else the number.
fn exit_name(code: u8) -> String {
    let name = match code {
        0 => "EX_OK",
        64 => "EX_USAGE",
        65 => "EX_DATAERR",
        69 => "EX_UNAVAILABLE",
        75 => "EX_TEMPFAIL",
        77 => "EX_NOPERM",
        78 => "EX_CONFIG",
        _ => return code.to_string(),
    };
    name.to_owned()
}

/// Appends `line` to the log file at `path` (created mode 0600).
pub fn append(path: &Path, line: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    // One write per line, so lines of concurrent postie processes do not interleave.
    file.write_all(format!("{line}\n").as_bytes())
}

/// Sends `line` to the local syslog (`/dev/log`), facility mail, severity info (or err when
/// `failed`), tagged `postie[PID]`.
pub fn syslog(line: &str, failed: bool) -> io::Result<()> {
    // Facility mail (2) times 8, plus severity: info 6, err 3.
    let priority = 2 * 8 + if failed { 3 } else { 6 };
    // The time is syslog's to add; the line's own stays after the tag.
    let message = format!("<{priority}>postie[{}]: {line}", std::process::id());
    let socket = std::os::unix::net::UnixDatagram::unbound()?;
    socket.send_to(message.as_bytes(), "/dev/log").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(rcpts: &'a [String], outcome: Result<&'a Reply, (&'a str, u8)>) -> Entry<'a> {
        Entry {
            time: time::macros::datetime!(2026-12-03 19:13:01 UTC),
            account: Some("default"),
            server: "mail.example.org:587",
            from: "ann@example.org",
            recipients: rcpts,
            size: 1234,
            outcome,
        }
    }

    #[test]
    fn lines_as_msmtp_writes_them() {
        let rcpts = ["bob@example.org".to_owned(), "carol@example.org".to_owned()];
        let reply = Reply {
            code: 250,
            text: "2.0.0 Ok: queued as 'A1'".into(),
        };
        assert_eq!(
            line(&entry(&rcpts, Ok(&reply))),
            "2026-12-03T19:13:01Z account=default server=mail.example.org:587 \
             from=ann@example.org recipients=bob@example.org,carol@example.org mailsize=1234 \
             smtpstatus=250 smtpmsg='250 2.0.0 Ok: queued as \\'A1\\'' exitcode=EX_OK"
        );
        let failed = line(&entry(&rcpts, Err(("x: rejected: 451 \x1b[2J later", 75))));
        assert!(
            failed.ends_with(" errormsg='x: rejected: 451 \\\\x1b[2J later' exitcode=EX_TEMPFAIL"),
            "{failed}"
        );
        assert!(!failed.contains('\x1b'));
    }

    #[test]
    fn append_creates_a_private_file_and_adds_lines() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("postie.log");
        append(&path, "one").expect("append");
        append(&path, "two").expect("append");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "one\ntwo\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
