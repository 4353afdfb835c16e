//! `pull --mda CMD` and `pull --filter CMD`: running the user's delivery agent and header
//! filter as mpop runs its `delivery mda` and `filter` (through `sh -c`, `%F` replaced by
//! the envelope sender and, for the filter, `%S` by the LIST size), and what their exit
//! statuses mean. The command lines and verdicts are pure; [`run_mda`] and [`run_filter`]
//! spawn the process.
//!
//! A message goes to the MDA as the server sent it (un-stuffed), its CRLF line ends turned
//! into LF ([`LfWriter`], while it is retrieved) as procmail, maildrop and sendmail expect;
//! no `From ` line (the MDA writes its own, from `-f '%F'`) and no header added. The MDA
//! reads it from a regular file (seekable, as procmail likes). The children's stdout goes
//! to postie's stderr, so `--json` on stdout stays clean.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

/// `%F`, as mpop finds it: the address of the first `Return-Path:` or `Sender:` header line
/// that has one (read from that physical line only), else `MAILER-DAEMON`. `header` is
/// the message's header (or its start).
pub fn envelope_from(header: &[u8]) -> String {
    for line in header.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let value = [&b"return-path:"[..], b"sender:"].iter().find_map(|name| {
            let head = line.get(..name.len())?;
            head.eq_ignore_ascii_case(name).then(|| &line[name.len()..])
        });
        if let Some(addr) = value.and_then(first_address) {
            return addr;
        }
    }
    "MAILER-DAEMON".into()
}

/// The state of [`first_address`]'s scan (mpop's `pop3_get_addr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Default,
    Quoted,
    BracketStart,
    InBrackets,
    ParenStart,
    InParen,
    InAddress,
    Backslash,
    End,
}

/// The first address of a header value, as mpop's `pop3_get_addr` reads it: the text in
/// `<...>`, else a bare word; quoted strings and words before a `:` or a quoted string are
/// dropped, comments in parentheses skipped; each octet kept is a letter, a digit or one of
/// `.@_-+/`, white space becomes `-` and anything else `_`. None when there is none.
fn first_address(value: &[u8]) -> Option<String> {
    let mut state = Scan::Default;
    let (mut saved_backslash, mut saved_paren, mut depth) = (Scan::Default, Scan::Default, 0u32);
    let mut addr: Option<String> = None;
    let mut finished = false;
    for &c in value.iter().chain(std::iter::once(&0u8)) {
        let old = state;
        let mut forget = false;
        if c == 0 {
            finished = addr.is_some();
            state = Scan::End;
        } else {
            let saved = (&mut saved_backslash, &mut saved_paren, &mut depth);
            let has = addr.is_some();
            state = scan_step(state, c, saved, &mut forget, &mut finished, has);
        }
        if forget {
            addr = None;
        }
        if state == Scan::End {
            break;
        }
        let keeps = matches!(state, Scan::InAddress | Scan::InBrackets)
            && !matches!(old, Scan::ParenStart | Scan::InParen);
        if keeps {
            addr.get_or_insert_with(String::new).push(match c {
                b'a'..=b'z'
                | b'A'..=b'Z'
                | b'0'..=b'9'
                | b'.'
                | b'@'
                | b'_'
                | b'-'
                | b'+'
                | b'/' => c as char,
                b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => '-',
                _ => '_',
            });
        }
    }
    addr.filter(|_| finished)
}

/// One octet of [`first_address`]'s scan: the next state. `has` says an address is being
/// collected; `forget` drops it (it was a display name), `finished` ends it.
fn scan_step(
    state: Scan,
    c: u8,
    (saved_backslash, saved_paren, depth): (&mut Scan, &mut Scan, &mut u32),
    forget: &mut bool,
    finished: &mut bool,
    has: bool,
) -> Scan {
    use Scan::*;
    if c == b'\\' && matches!(state, Default | InBrackets | InAddress | Quoted | InParen) {
        *saved_backslash = state;
        return Backslash;
    }
    if c == b'(' && matches!(state, Default | BracketStart | InBrackets | InAddress) {
        *saved_paren = state;
        return ParenStart;
    }
    match (state, c) {
        (Default, _) => between_words(c, has, forget, finished),
        (InAddress, _) => in_word(c, forget, finished),
        (Quoted, b'"') | (BracketStart, b'>') => Default,
        (InBrackets, b'>') => {
            *finished = true;
            End
        }
        (BracketStart | InBrackets, _) => InBrackets,
        (ParenStart, b')') => *saved_paren,
        (ParenStart, _) => {
            *depth += 1;
            InParen
        }
        // mpop's quirk, kept: a nested `(` does not note where to return to.
        (InParen, b'(') => ParenStart,
        (InParen, b')') => {
            *depth = depth.saturating_sub(1);
            if *depth == 0 { *saved_paren } else { InParen }
        }
        (Backslash, _) => *saved_backslash,
        (other, _) => other,
    }
}

/// The scan outside any word: white space, separators, the start of a quoted string, an
/// angle address or a word (each drops a word collected before it).
fn between_words(c: u8, has: bool, forget: &mut bool, finished: &mut bool) -> Scan {
    match c {
        b' ' | b'\t' => Scan::Default,
        b';' | b',' if has => {
            *finished = true;
            Scan::End
        }
        b';' | b',' => Scan::Default,
        _ => {
            *forget = has;
            match c {
                b'"' => Scan::Quoted,
                b'<' => Scan::BracketStart,
                b':' => Scan::Default,
                _ => Scan::InAddress,
            }
        }
    }
}

/// The scan inside a bare word: it ends at white space, or is dropped at a `:`, a quoted
/// string or an angle address.
fn in_word(c: u8, forget: &mut bool, finished: &mut bool) -> Scan {
    match c {
        b' ' | b'\t' => Scan::Default,
        b'"' | b'<' | b':' => {
            *forget = true;
            match c {
                b'"' => Scan::Quoted,
                b'<' => Scan::BracketStart,
                _ => Scan::Default,
            }
        }
        b',' | b';' => {
            *finished = true;
            Scan::End
        }
        _ => Scan::InAddress,
    }
}

/// The envelope sender as mpop puts it into a command: letters, digits and `.@_-+/` kept,
/// anything else (shell characters included) `_`.
pub fn sanitize_sender(sender: &str) -> String {
    sender
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '@' | '_' | '-' | '+' | '/' => c,
            _ => '_',
        })
        .collect()
}

/// `cmd` with every `%F` replaced by the (sanitized) sender and, when `size` is given,
/// every `%S` by it. Other `%` sequences stay as they are, as in mpop.
pub fn expand(cmd: &str, sender: &str, size: Option<u64>) -> String {
    let out = cmd.replace("%F", &sanitize_sender(sender));
    match size {
        Some(n) => out.replace("%S", &n.to_string()),
        None => out,
    }
}

/// What an MDA's exit status means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdaVerdict {
    /// Exit 0: delivered; the message may be recorded and deleted.
    Delivered,
    /// Exit 75 (EX_TEMPFAIL): kept on the server for the next run.
    TempFail,
    /// Anything else: the run stops, the message kept.
    Failed(String),
}

/// What a filter's exit status means (mpop's `filter`: 0 deliver, 1 kill, 2 skip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterVerdict {
    /// 0: retrieve and deliver as usual.
    Deliver,
    /// 1: do not retrieve; delete it on the server (with `--delete`).
    Kill,
    /// 2: do not retrieve this time.
    Skip,
}

/// How a child ended, in words.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        (None, None) => "ended abnormally".into(),
    }
}

pub fn mda_verdict(status: ExitStatus) -> MdaVerdict {
    match status.code() {
        Some(0) => MdaVerdict::Delivered,
        Some(c) if c == i32::from(crate::exit::code::TEMPFAIL) => MdaVerdict::TempFail,
        _ => MdaVerdict::Failed(describe(status)),
    }
}

/// The filter's verdict, or why its status is an error (3 and above, or a signal).
pub fn filter_verdict(status: ExitStatus) -> Result<FilterVerdict, String> {
    match status.code() {
        Some(0) => Ok(FilterVerdict::Deliver),
        Some(1) => Ok(FilterVerdict::Kill),
        Some(2) => Ok(FilterVerdict::Skip),
        _ => Err(describe(status)),
    }
}

/// `sh -c cmd`, its stdout sent to our stderr.
fn shell(cmd: &str) -> io::Result<Command> {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(cmd);
    let err = io::stderr().as_fd().try_clone_to_owned()?;
    c.stdout(Stdio::from(err));
    Ok(c)
}

/// Runs the MDA command (already expanded) with `message` (read from its start) as stdin.
pub fn run_mda(cmd: &str, message: &File) -> io::Result<ExitStatus> {
    use std::io::Seek;
    let mut stdin = message.try_clone()?;
    stdin.seek(io::SeekFrom::Start(0))?;
    shell(cmd)?.stdin(Stdio::from(stdin)).status()
}

/// Runs the filter command (already expanded) with `headers` on a pipe as stdin. A filter
/// that exits without reading them all is fine: its status decides.
pub fn run_filter(cmd: &str, headers: &[u8]) -> io::Result<ExitStatus> {
    let mut child = shell(cmd)?.stdin(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take();
    std::thread::scope(|s| {
        // Written beside the wait, so a filter that never reads cannot block us on a full pipe.
        s.spawn(move || {
            if let Some(pipe) = stdin.as_mut() {
                let _ = pipe.write_all(headers);
            }
            drop(stdin);
        });
        child.wait()
    })
}

#[derive(Debug)]
/// Turns CRLF into LF while it writes (a CR split from its LF across writes included);
/// lone CRs are kept. [`LfWriter::finish`] writes a CR still held back at the end.
pub struct LfWriter<W: Write> {
    inner: W,
    held_cr: bool,
    buf: Vec<u8>,
}

impl<W: Write> LfWriter<W> {
    pub fn new(inner: W) -> LfWriter<W> {
        LfWriter {
            inner,
            held_cr: false,
            buf: Vec::new(),
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        if self.held_cr {
            self.inner.write_all(b"\r")?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for LfWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.clear();
        self.buf.reserve(data.len() + 1);
        for &b in data {
            if std::mem::take(&mut self.held_cr) && b != b'\n' {
                self.buf.push(b'\r');
            }
            match b {
                b'\r' => self.held_cr = true,
                _ => self.buf.push(b),
            }
        }
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn senders_are_made_shell_safe_as_mpop_does() {
        assert_eq!(sanitize_sender("a.b+c-d_e/f@x.org"), "a.b+c-d_e/f@x.org");
        assert_eq!(
            sanitize_sender("x'; rm -rf ~ #@evil"),
            "x___rm_-rf____@evil"
        );
        assert_eq!(sanitize_sender("J\u{fc}rgen@x"), "J_rgen@x");
        assert_eq!(
            expand("procmail -f '%F' -d me %S", "a$b@x", None),
            "procmail -f 'a_b@x' -d me %S"
        );
        assert_eq!(
            expand("f --from=%F --size=%S %%F", "MAILER-DAEMON", Some(42)),
            "f --from=MAILER-DAEMON --size=42 %MAILER-DAEMON"
        );
    }

    #[test]
    fn the_envelope_sender_is_found_as_mpop_finds_it() {
        let from = |h: &str| envelope_from(h.as_bytes());
        assert_eq!(
            from("Return-Path: <a@b.org>\r\nFrom: x@y\r\n\r\n"),
            "a@b.org"
        );
        assert_eq!(from("From: x@y\nReturn-Path: a@b.org\n\n"), "a@b.org");
        assert_eq!(
            from("Sender: s@b.org\nReturn-Path: <r@b.org>\n\n"),
            "s@b.org"
        );
        // An empty Return-Path has no address: a later Sender counts, else MAILER-DAEMON.
        assert_eq!(from("Return-Path: <>\nSender: s@b.org\n\n"), "s@b.org");
        assert_eq!(from("Return-Path: <>\n\n"), "MAILER-DAEMON");
        assert_eq!(from("From: x@y\n\n"), "MAILER-DAEMON");
        assert_eq!(
            from("Subject: x\n\nReturn-Path: <a@b>\n"),
            "MAILER-DAEMON",
            "body"
        );
        // What Debian's mpop 1.4.18 gave its MDA for this one (tests/pop3_delivery.rs).
        assert_eq!(
            from("Return-Path: <\"odd; $(x)\"@example.org>\n"),
            "_odd_-__@example.org"
        );
        assert_eq!(
            from("Return-Path: <bounce+x$(id)@l.example.org>\n"),
            "bounce+x_@l.example.org"
        );
        assert_eq!(from("Sender: \"Name, Q\" <q@x.org> (c)\n"), "q@x.org");
        assert_eq!(from("Sender: Joe Q <q@x.org>\n"), "q@x.org");
        assert_eq!(from("Sender: q@x.org (Joe), other@x.org\n"), "q@x.org");
        assert_eq!(from("Sender: group: q@x.org;\n"), "q@x.org");
        assert_eq!(from("Return-Path: <J\u{fc}r\\>gen@x>\n"), "J__r_gen@x");
        assert_eq!(from("Return-Path: <unterminated@x\n"), "unterminated@x");
    }

    #[test]
    fn exit_statuses_mean_what_mpop_says() {
        assert_eq!(mda_verdict(status(0)), MdaVerdict::Delivered);
        assert_eq!(mda_verdict(status(75)), MdaVerdict::TempFail);
        assert_eq!(
            mda_verdict(status(1)),
            MdaVerdict::Failed("exited 1".into())
        );
        assert_eq!(
            mda_verdict(ExitStatus::from_raw(9)),
            MdaVerdict::Failed("was killed by signal 9".into())
        );
        assert_eq!(filter_verdict(status(0)), Ok(FilterVerdict::Deliver));
        assert_eq!(filter_verdict(status(1)), Ok(FilterVerdict::Kill));
        assert_eq!(filter_verdict(status(2)), Ok(FilterVerdict::Skip));
        assert_eq!(filter_verdict(status(3)), Err("exited 3".into()));
        assert_eq!(filter_verdict(status(75)), Err("exited 75".into()));
    }

    #[test]
    fn crlf_becomes_lf_across_writes() {
        let input = b"A: 1\r\nB: 2\r\n\r\nbody\rmore\r\nend\r";
        for split in 0..input.len() {
            let mut w = LfWriter::new(Vec::new());
            w.write_all(&input[..split]).expect("write");
            w.write_all(&input[split..]).expect("write");
            let out = w.finish().expect("finish");
            assert_eq!(out, b"A: 1\nB: 2\n\nbody\rmore\nend\r", "split at {split}");
        }
    }

    #[test]
    fn commands_run_through_the_shell() {
        let dir = tempfile::tempdir().expect("tempdir");
        let msg = dir.path().join("m");
        std::fs::write(&msg, b"Subject: x\n\nhi\n").expect("write");
        let out = dir.path().join("got");
        let cmd = format!("cat > '{}'; exit 75", out.display());
        let file = File::open(&msg).expect("open");
        let st = run_mda(&cmd, &file).expect("run");
        assert_eq!(mda_verdict(st), MdaVerdict::TempFail);
        assert_eq!(std::fs::read(&out).expect("read"), b"Subject: x\n\nhi\n");
        // A filter that reads nothing of a large header block still gives its status.
        let big = vec![b'x'; 1 << 20];
        assert_eq!(
            filter_verdict(run_filter("exit 2", &big).expect("run")),
            Ok(FilterVerdict::Skip)
        );
        let cmd = format!("cat > '{}'", out.display());
        let st = run_filter(&cmd, b"From: a\n\n").expect("run");
        assert_eq!(filter_verdict(st), Ok(FilterVerdict::Deliver));
        assert_eq!(std::fs::read(&out).expect("read"), b"From: a\n\n");
    }
}
