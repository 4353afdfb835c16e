//! The line-batch runner of `postie url` and `postie qs`: inputs from the arguments, or one
//! per line from stdin when there are none (split on LF only; a CR stays in the input, as
//! Python's `for line in sys.stdin` with `line[:-1]` would keep it). Every input gives exactly
//! one output record, in input order; a failing input is reported and the batch goes on,
//! ending with exit 1. A stdin line that is not UTF-8 fails with the UnicodeDecodeError
//! Python's strict UTF-8 stdin would raise (Python itself would stop the whole script there).

use std::io::{self, Read, StdoutLock, Write};

use crate::error::Error;
use crate::exit::Exit;
use crate::urlparse::pyrepr::repr;
use crate::urlparse::{Codec, Errors, PyError, UrlError};

/// Output size past which a batch writes its buffer to stdout: one syscall per many records.
const FLUSH_AT: usize = 1 << 16;

/// Stdout, the output buffer records are written into, and the failure count of a batch.
#[derive(Debug)]
pub(crate) struct Batch {
    what: &'static str,
    out: StdoutLock<'static>,
    /// Records are appended here; [`Batch::flush_if_full`] writes them out.
    pub buf: Vec<u8>,
    failed: u64,
}

impl Batch {
    pub fn new(what: &'static str) -> Batch {
        Batch {
            what,
            out: io::stdout().lock(),
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            failed: 0,
        }
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::output("stdout", e))?;
        self.buf.clear();
        Ok(())
    }

    pub fn flush_if_full(&mut self) -> Result<(), Error> {
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Counts a failed input and reports it on stderr as `postie: <cmd>: '<input>': <error>`.
    pub fn report(&mut self, input: &str, err: &dyn std::fmt::Display) {
        self.failed += 1;
        // A closed stderr must not stop the batch (eprintln! would panic).
        let _ = writeln!(
            io::stderr(),
            "postie: {}: {}: {err}",
            self.what,
            repr(input)
        );
    }

    /// Counts a failed input whose error went into the output record (JSON mode).
    pub fn count_failure(&mut self) {
        self.failed += 1;
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.buf.extend_from_slice(bytes);
        self.flush_if_full()
    }

    pub fn finish(mut self) -> Result<Exit, Error> {
        self.flush()?;
        Ok(Exit::from_all_ok(self.failed == 0))
    }
}

/// Calls `f` with each input: the arguments, or each stdin line (LF removed, CR kept) when
/// there are none. A stdin line that is not UTF-8 comes as the error Python would raise.
pub(crate) fn for_each_input(
    args: &[String],
    batch: &mut Batch,
    mut f: impl FnMut(&mut Batch, Result<&str, PyError>, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    if !args.is_empty() {
        for a in args {
            f(batch, Ok(a), a.as_bytes())?;
        }
        return Ok(());
    }
    let mut stdin = io::stdin().lock();
    // Lines are handled in place in one buffer; it grows only for a line longer than itself,
    // so memory does not depend on the number of lines.
    let mut buf = vec![0u8; 1 << 18];
    let (mut start, mut end) = (0, 0);
    loop {
        start += complete_lines(&buf[start..end], batch, &mut f)?;
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match stdin.read(&mut buf[end..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(UrlError::Read(e).into()),
        };
        if n == 0 {
            if end > 0 {
                one_line(&buf[..end], batch, &mut f)?;
            }
            return Ok(());
        }
        end += n;
    }
}

/// Hands each complete (LF-ended) line of `block` to `f`; returns the bytes consumed.
/// UTF-8 is checked once for all the lines: LF is ASCII, so the lines of valid text are valid
/// text. Only a block with a bad sequence is checked again line by line, to name the line.
fn complete_lines(
    block: &[u8],
    batch: &mut Batch,
    f: &mut impl FnMut(&mut Batch, Result<&str, PyError>, &[u8]) -> Result<(), Error>,
) -> Result<usize, Error> {
    let Some(last) = memchr::memrchr(b'\n', block) else {
        return Ok(0);
    };
    let lines = &block[..last];
    match std::str::from_utf8(lines) {
        Ok(text) => {
            let mut from = 0;
            for to in memchr::memchr_iter(b'\n', lines).chain([last]) {
                let line = &text[from..to];
                f(batch, Ok(line), line.as_bytes())?;
                batch.flush_if_full()?;
                from = to + 1;
            }
        }
        Err(_) => {
            for line in lines.split(|&b| b == b'\n') {
                one_line(line, batch, f)?;
            }
        }
    }
    Ok(last + 1)
}

/// Hands one stdin line (LF removed) to `f` as text, or as Python's UnicodeDecodeError.
fn one_line(
    line: &[u8],
    batch: &mut Batch,
    f: &mut impl FnMut(&mut Batch, Result<&str, PyError>, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    match std::str::from_utf8(line) {
        Ok(s) => f(batch, Ok(s), line)?,
        Err(_) => {
            let err = Codec::Utf8
                .decode(line, Errors::Strict)
                .err()
                .unwrap_or_else(|| PyError::value("invalid UTF-8"));
            f(batch, Err(err), line)?;
        }
    }
    batch.flush_if_full()
}

/// A batch where each input maps to one output line, or to an empty line and a report.
pub(crate) fn simple_batch(
    what: &'static str,
    inputs: &[String],
    f: impl Fn(&str) -> Result<String, PyError>,
) -> Result<Exit, Error> {
    let mut batch = Batch::new(what);
    for_each_input(inputs, &mut batch, |batch, input, raw| {
        match input.and_then(&f) {
            Ok(mut s) => {
                s.push('\n');
                batch.write(s.as_bytes())
            }
            Err(e) => {
                batch.report(&String::from_utf8_lossy(raw), &e);
                batch.write(b"\n")
            }
        }
    })?;
    batch.finish()
}
