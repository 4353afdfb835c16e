//! The multi-line reader (RFC 1939 §3): a small state machine fed with whatever bytes a read
//! returned. It removes the stuffed dot at the start of a line, keeps every other octet as
//! the server sent it (CRLF or bare LF), and finds the `.` terminator line even when it
//! arrives split across reads. Nothing is buffered per line: a [`Meter`] bounds the length of
//! each line and the total of one reply (listings are held in memory; a message is streamed,
//! and bounded by its announced size), so a hostile server cannot make us read without end.
//!
//! [`read_status_line`] reads a status line with a bound on its length (RFC 2449 says 512
//! octets; we accept 16 times that, but not without limit).

use std::io::{self, BufRead, Write};

/// The longest status line accepted, line end included (RFC 2449 §4: 512 octets; this
/// leaves room for long SASL challenges and chatty servers).
pub const MAX_STATUS_LINE: usize = 8 * 1024;

/// Bounds on one multi-line reply: the longest line (line end included) and the total of
/// its decoded octets. `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub line: Option<usize>,
    pub total: Option<u64>,
}

impl Limits {
    /// CAPA: a few dozen short lines (it comes before STLS, so anyone on the path can send it).
    pub const CAPA: Limits = Limits {
        line: Some(4096),
        total: Some(64 * 1024),
    };
    /// LIST and UIDL: `n size` / `n uid` lines (a UID is at most 70 octets, RFC 1939 §7);
    /// the total allows about a million messages.
    pub const LISTING: Limits = Limits {
        line: Some(1024),
        total: Some(64 * 1024 * 1024),
    };
    /// `TOP n 0`: one message header.
    pub const HEADER: Limits = Limits {
        line: None,
        total: Some(8 * 1024 * 1024),
    };

    /// A message body: no line cap (real mail has lines of megabytes), at most `total`.
    pub fn body(total: u64) -> Limits {
        Limits {
            line: None,
            total: Some(total),
        }
    }
}

/// Which bound a reply broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// A line longer than this many octets.
    Line(usize),
    /// More than this many octets in all.
    Total(u64),
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overflow::Line(n) => write!(f, "a line longer than {n} octets"),
            Overflow::Total(n) => write!(f, "more than {n} octets"),
        }
    }
}

/// Counts the decoded octets of one reply against its [`Limits`], chunk by chunk.
#[derive(Debug, Clone)]
pub struct Meter {
    limits: Limits,
    /// Octets of the current (unfinished) line.
    line: usize,
    total: u64,
}

impl Meter {
    pub fn new(limits: Limits) -> Meter {
        Meter {
            limits,
            line: 0,
            total: 0,
        }
    }

    /// Accounts for `chunk`; an error means the reply broke a bound (and `chunk` should not
    /// be kept).
    pub fn check(&mut self, chunk: &[u8]) -> Result<(), Overflow> {
        if let Some(max) = self.limits.line {
            self.check_lines(chunk, max)?;
        }
        self.total += chunk.len() as u64;
        match self.limits.total {
            Some(max) if self.total > max => Err(Overflow::Total(max)),
            _ => Ok(()),
        }
    }

    fn check_lines(&mut self, chunk: &[u8], max: usize) -> Result<(), Overflow> {
        let mut rest = chunk;
        while let Some(p) = memchr::memchr(b'\n', rest) {
            if self.line + p + 1 > max {
                return Err(Overflow::Line(max));
            }
            self.line = 0;
            rest = &rest[p + 1..];
        }
        self.line += rest.len();
        if self.line > max {
            return Err(Overflow::Line(max));
        }
        Ok(())
    }

    /// The octets accounted for so far.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the first octet of a line.
    LineStart,
    /// Inside a line.
    Mid,
    /// A line began with `.`.
    Dot,
    /// A line began with `.` then CR.
    DotCr,
    /// The terminator line was read.
    Done,
}

/// Un-stuffs one multi-line body.
#[derive(Debug, Clone)]
pub struct DotDecoder {
    state: State,
}

impl Default for DotDecoder {
    fn default() -> Self {
        DotDecoder::new()
    }
}

impl DotDecoder {
    pub fn new() -> DotDecoder {
        DotDecoder {
            state: State::LineStart,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds `input`; appends body octets to `out`. Returns how many input octets were
    /// consumed: fewer than `input.len()` only when the terminator was found (what follows
    /// it belongs to the next reply).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Done => return i,
                State::Mid => {
                    // Copy up to and including the next LF in one go.
                    match input[i..].iter().position(|b| *b == b'\n') {
                        Some(p) => {
                            out.extend_from_slice(&input[i..=i + p]);
                            i += p + 1;
                            self.state = State::LineStart;
                        }
                        None => {
                            out.extend_from_slice(&input[i..]);
                            i = input.len();
                        }
                    }
                }
                State::LineStart => {
                    if input[i] == b'.' {
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                        continue;
                    }
                    i += 1;
                }
                State::Dot => match input[i] {
                    b'\r' => {
                        self.state = State::DotCr;
                        i += 1;
                    }
                    b'\n' => {
                        self.state = State::Done;
                        i += 1;
                    }
                    // A stuffed dot: drop it, keep the rest of the line.
                    _ => self.state = State::Mid,
                },
                State::DotCr => {
                    if input[i] == b'\n' {
                        self.state = State::Done;
                        i += 1;
                    } else {
                        // `.\r` not followed by LF: the dot was stuffed; keep the CR.
                        out.push(b'\r');
                        self.state = State::Mid;
                    }
                }
            }
        }
        i
    }
}

/// Why a multi-line body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Reading from the server failed (or it closed the connection: `UnexpectedEof`).
    Read(io::Error),
    /// Writing the body to its destination failed.
    Write(io::Error),
    /// The body broke a bound; reading stopped there (the rest is unread, so the session
    /// cannot go on).
    TooLong(Overflow),
}

/// Reads one multi-line body from `reader` into `sink`, streaming, within `limits`; returns
/// the octets written. Octets past a bound are neither read nor written.
pub fn read_body<R: BufRead + ?Sized, W: Write + ?Sized>(
    reader: &mut R,
    sink: &mut W,
    limits: Limits,
) -> Result<u64, BodyError> {
    let mut meter = Meter::new(limits);
    let mut decoder = DotDecoder::new();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut total = 0u64;
    while !decoder.is_done() {
        let input = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Read(e)),
        };
        if input.is_empty() {
            return Err(BodyError::Read(io::ErrorKind::UnexpectedEof.into()));
        }
        let used = decoder.feed(input, &mut out);
        reader.consume(used);
        meter.check(&out).map_err(BodyError::TooLong)?;
        if !out.is_empty() {
            sink.write_all(&out).map_err(BodyError::Write)?;
            total += out.len() as u64;
            out.clear();
        }
    }
    Ok(total)
}

/// Reads one line (up to and including LF) of at most `max` octets.
pub fn read_status_line<R: BufRead + ?Sized>(reader: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let input = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if input.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (used, done) = match input.iter().position(|b| *b == b'\n') {
            Some(p) => (p + 1, true),
            None => (input.len(), false),
        };
        line.extend_from_slice(&input[..used]);
        reader.consume(used);
        if line.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a reply line longer than {max} octets"),
            ));
        }
        if done {
            return Ok(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> (Vec<u8>, usize, bool) {
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        let used = d.feed(input, &mut out);
        (out, used, d.is_done())
    }

    /// Feeds `input` split at `at` and then in single octets; both must equal one feed.
    fn check_splits(input: &[u8]) {
        let whole = decode_all(input);
        for at in 0..=input.len() {
            let mut d = DotDecoder::new();
            let mut out = Vec::new();
            let mut used = d.feed(&input[..at], &mut out);
            if !d.is_done() {
                used += d.feed(&input[at..], &mut out);
            }
            assert_eq!((out, used, d.is_done()), whole, "split at {at}");
        }
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for b in input {
            if d.is_done() {
                break;
            }
            used += d.feed(std::slice::from_ref(b), &mut out);
        }
        assert_eq!((out, used, d.is_done()), whole, "octet by octet");
    }

    #[test]
    fn unstuffs_and_finds_the_terminator() {
        let input = b"From: a\r\n\r\n..hidden\r\n...\r\nend\r\n.\r\n+OK next\r\n";
        let (out, used, done) = decode_all(input);
        assert_eq!(out, b"From: a\r\n\r\n.hidden\r\n..\r\nend\r\n");
        assert!(done);
        assert_eq!(&input[used..], b"+OK next\r\n");
        check_splits(input);
    }

    #[test]
    fn a_body_line_that_is_a_single_dot() {
        // The server sends `..` for a body line that is exactly `.`.
        let input = b"a\r\n..\r\nb\r\n.\r\n";
        assert_eq!(decode_all(input).0, b"a\r\n.\r\nb\r\n");
        check_splits(input);
    }

    #[test]
    fn bare_lf_line_ends_are_kept() {
        let input = b"a\n.b\n..\n\n.\n";
        let (out, used, done) = decode_all(input);
        assert_eq!(out, b"a\nb\n.\n\n");
        assert!(done);
        assert_eq!(used, input.len());
        check_splits(input);
    }

    #[test]
    fn empty_body_and_dot_cr_oddities() {
        assert_eq!(decode_all(b".\r\n"), (Vec::new(), 3, true));
        let input = b".\rx\r\n.\r\n";
        assert_eq!(decode_all(input).0, b"\rx\r\n");
        check_splits(input);
        let (_, _, done) = decode_all(b"abc\r\n.");
        assert!(!done, "a dot without its line end is not the end yet");
    }

    #[test]
    fn long_lines_have_no_cap() {
        let mut input = vec![b'x'; 3 * 1024 * 1024];
        input.extend_from_slice(b"\r\n.\r\n");
        let (out, _, done) = decode_all(&input);
        assert!(done);
        assert_eq!(out.len(), 3 * 1024 * 1024 + 2);
    }

    #[test]
    fn read_body_streams_through_a_small_buffer() {
        let input = b"line1\r\n..dot\r\n.\r\n+OK after\r\n".to_vec();
        let mut reader = io::BufReader::with_capacity(3, &input[..]);
        let mut sink = Vec::new();
        let n = read_body(&mut reader, &mut sink, Limits::default()).expect("body");
        assert_eq!(sink, b"line1\r\n.dot\r\n");
        assert_eq!(n, sink.len() as u64);
        let rest = read_status_line(&mut reader, 100).expect("next");
        assert_eq!(rest, b"+OK after\r\n");
    }

    #[test]
    fn read_body_reports_a_closed_connection() {
        let input = b"partial message\r\nwithout end".to_vec();
        let mut reader = &input[..];
        let err = read_body(&mut reader, &mut Vec::new(), Limits::default()).expect_err("eof");
        assert!(matches!(err, BodyError::Read(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    }

    fn stuff(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in body.split_inclusive(|b| *b == b'\n') {
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    proptest::proptest! {
        #[test]
        fn stuffing_round_trips_at_any_split(
            lines in proptest::collection::vec("[.a\r]{0,6}", 0..12),
            lf_only in proptest::bool::ANY,
            at in 0usize..200,
        ) {
            let eol = if lf_only { "\n" } else { "\r\n" };
            let body: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
            let wire = stuff(body.as_bytes());
            let at = at.min(wire.len());
            let mut d = DotDecoder::new();
            let mut out = Vec::new();
            let mut used = d.feed(&wire[..at], &mut out);
            if !d.is_done() {
                used += d.feed(&wire[at..], &mut out);
            }
            proptest::prop_assert!(d.is_done());
            proptest::prop_assert_eq!(used, wire.len());
            proptest::prop_assert_eq!(out, body.as_bytes());
        }
    }

    #[test]
    fn status_lines_are_bounded() {
        let long = vec![b'x'; 1000];
        let err = read_status_line(&mut &long[..], 100).expect_err("too long");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_status_line(&mut &b"+OK"[..], 100).expect_err("eof");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// Feeds `body` to a meter split at every point; the outcome must not depend on the split.
    fn meter_at_any_split(body: &[u8], limits: Limits) -> Result<(), Overflow> {
        let whole = Meter::new(limits).check(body);
        for at in 0..=body.len() {
            let mut m = Meter::new(limits);
            let split = m.check(&body[..at]).and_then(|_| m.check(&body[at..]));
            assert_eq!(split, whole, "split at {at}");
        }
        let mut m = Meter::new(limits);
        let bytewise = body
            .iter()
            .try_for_each(|b| m.check(std::slice::from_ref(b)));
        assert_eq!(bytewise, whole, "octet by octet");
        whole
    }

    #[test]
    fn the_meter_bounds_lines_and_totals_at_any_split() {
        let lines = Limits {
            line: Some(6),
            total: None,
        };
        assert_eq!(meter_at_any_split(b"abcd\r\nxyzw\r\n\r\n", lines), Ok(()));
        assert_eq!(
            meter_at_any_split(b"abcd\r\nabcde\r\nx\r\n", lines),
            Err(Overflow::Line(6))
        );
        // An unfinished line counts too: a server that never sends LF is stopped.
        assert_eq!(
            meter_at_any_split(b"ab\nabcdefg", lines),
            Err(Overflow::Line(6))
        );
        let total = Limits {
            line: None,
            total: Some(10),
        };
        assert_eq!(meter_at_any_split(b"0123456789", total), Ok(()));
        assert_eq!(
            meter_at_any_split(b"0123456789\n", total),
            Err(Overflow::Total(10))
        );
        let both = Limits {
            line: Some(4),
            total: Some(8),
        };
        assert_eq!(meter_at_any_split(b"abc\nabc\n", both), Ok(()));
        assert_eq!(
            meter_at_any_split(b"abc\nabc\na", both),
            Err(Overflow::Total(8))
        );
    }

    /// An endless reply: `+OK`-less body lines for ever, counting what was read.
    struct Endless {
        line: &'static [u8],
        at: usize,
        read: u64,
    }

    impl io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for b in buf.iter_mut() {
                *b = self.line[self.at % self.line.len()];
                self.at += 1;
            }
            self.read += buf.len() as u64;
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_body_stops_at_its_bound() {
        for (line, limits, want) in [
            (&b"x"[..], Limits::body(1 << 20), Overflow::Total(1 << 20)),
            (b"CAPA-LINE\r\n", Limits::CAPA, Overflow::Total(64 * 1024)),
            (b"xxxxxxxx", Limits::LISTING, Overflow::Line(1024)),
        ] {
            let mut src = Endless {
                line,
                at: 0,
                read: 0,
            };
            let mut sink = Vec::new();
            let err = {
                let mut reader = io::BufReader::with_capacity(8192, &mut src);
                read_body(&mut reader, &mut sink, limits).expect_err("bounded")
            };
            assert!(matches!(err, BodyError::TooLong(o) if o == want), "{err:?}");
            assert!(sink.len() as u64 <= limits.total.unwrap_or(u64::MAX));
            assert!(
                src.read <= limits.total.unwrap_or(0).max(1024) + 8192,
                "{}",
                src.read
            );
        }
    }

    #[test]
    fn a_body_exactly_at_its_bound_is_read() {
        let input = b"12345678\r\n..\r\n.\r\n";
        let mut sink = Vec::new();
        let n = read_body(&mut &input[..], &mut sink, Limits::body(13)).expect("fits");
        assert_eq!((n, &sink[..]), (13, &b"12345678\r\n.\r\n"[..]));
        let err = read_body(&mut &input[..], &mut Vec::new(), Limits::body(12)).expect_err("over");
        assert!(matches!(err, BodyError::TooLong(Overflow::Total(12))));
    }

    #[test]
    fn status_lines_over_eight_kib_are_refused() {
        let mut line = b"-ERR ".to_vec();
        line.resize(MAX_STATUS_LINE + 100, b'x');
        line.extend_from_slice(b"\r\n");
        let err = read_status_line(&mut &line[..], MAX_STATUS_LINE).expect_err("too long");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut line = vec![b'x'; 8190];
        line.extend_from_slice(b"\r\n");
        assert_eq!(
            read_status_line(&mut &line[..], MAX_STATUS_LINE)
                .expect("8 KiB")
                .len(),
            8192
        );
        line.insert(0, b'x');
        assert!(read_status_line(&mut &line[..], MAX_STATUS_LINE).is_err());
    }
}
