//! mbox input: detection and streaming split into messages, one message in memory at a time.
//!
//! A message starts at a `From ` line that looks like an envelope, as mutt decides it: a
//! sender and a date (`From ann@example.org Mon Jan  1 00:00:00 2024`), or Netscape's and
//! Gmail's sender alone (`From - `, `From 1844...@xxx`). No empty line is needed before it
//! (Netscape and Content-Length mboxes have none), and a body line such as `From here on` or
//! `From Russia with love` does not split, empty line before it or not. Quoted lines are unquoted the mboxrd
//! way (`>From ` -> `From `, `>>From ` -> `>From `), which also reads mboxo files correctly
//! except for a body line that really began with `>From `, which mboxo cannot represent.

use std::io::{self, BufRead};

/// True when the first bytes of a file look like an mbox (`From ` envelope line).
pub fn looks_like_mbox(head: &[u8]) -> bool {
    head.starts_with(b"From ")
}

/// Iterates the messages of an mbox stream, without the envelope line, unquoted.
#[derive(Debug)]
pub struct MboxReader<R> {
    reader: R,
    /// The envelope line of the next message, already read.
    next_from: Option<Vec<u8>>,
    done: bool,
}

impl<R: BufRead> MboxReader<R> {
    pub fn new(reader: R) -> MboxReader<R> {
        MboxReader {
            reader,
            next_from: None,
            done: false,
        }
    }

    /// The next message (its bytes) or `None` at the end.
    pub fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut message = Vec::new();
        Ok(self.read_message_into(&mut message)?.then_some(message))
    }

    /// Reads the next message into `message` (cleared first; its capacity is reused, so a
    /// mailbox of large messages does not reallocate for each); false at the end.
    pub fn read_message_into(&mut self, message: &mut Vec<u8>) -> io::Result<bool> {
        message.clear();
        if self.done {
            return Ok(false);
        }
        if self.next_from.is_none() {
            // Skip anything before the first envelope line.
            loop {
                let mut line = Vec::new();
                if self.reader.read_until(b'\n', &mut line)? == 0 {
                    self.done = true;
                    return Ok(false);
                }
                if line.starts_with(b"From ") {
                    self.next_from = Some(line);
                    break;
                }
            }
        }
        self.next_from = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                self.done = true;
                break;
            }
            if is_envelope(&line) {
                self.next_from = Some(std::mem::take(&mut line));
                // The blank line before the separator belongs to the mbox, not the message.
                strip_last_blank_line(message);
                break;
            }
            unquote_into(&line, message);
        }
        Ok(true)
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_message().transpose()
    }
}

/// True for an mbox envelope line: `From `, a sender, then a date or nothing; a sender alone
/// must be `-` (Netscape) or an address.
pub fn is_envelope(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let mut words = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let Some(sender) = words.next() else {
        return false;
    };
    let date: Vec<&[u8]> = words.collect();
    if date.is_empty() {
        return sender == b"-" || sender.contains(&b'@');
    }
    looks_like_date(&date)
}

/// A ctime-style date (`Mon Jan  1 00:00:00 2024`, a zone allowed): a month name, a time
/// and a four-digit year among the words.
fn looks_like_date(words: &[&[u8]]) -> bool {
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let month = words
        .iter()
        .any(|w| w.len() >= 3 && MONTHS.iter().any(|m| w[..3].eq_ignore_ascii_case(m)));
    let time = words.iter().any(|w| {
        let parts: Vec<&[u8]> = w.split(|&b| b == b':').collect();
        (2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|p| (1..=2).contains(&p.len()) && p.iter().all(u8::is_ascii_digit))
    });
    let year = words
        .iter()
        .any(|w| w.len() == 4 && w.iter().all(u8::is_ascii_digit));
    month && time && year && words.len() <= 8
}

fn unquote_into(line: &[u8], out: &mut Vec<u8>) {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        out.extend_from_slice(&line[1..]);
    } else {
        out.extend_from_slice(line);
    }
}

fn strip_last_blank_line(message: &mut Vec<u8>) {
    if message.ends_with(b"\r\n\r\n") || message.ends_with(b"\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8]) -> Vec<Vec<u8>> {
        MboxReader::new(input)
            .collect::<io::Result<Vec<_>>>()
            .expect("in-memory read")
    }

    #[test]
    fn splits_on_envelope_lines_only() {
        let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\nbody\nFrom inside body\n\nFrom c@d Tue Jan 2 00:00:00 2024\nSubject: two\n\n>From quoted\n>>From twice\n>Fromage\n";
        let msgs = split(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"Subject: one\n\nbody\nFrom inside body\n");
        assert_eq!(
            msgs[1],
            b"Subject: two\n\nFrom quoted\n>From twice\n>Fromage\n"
        );
    }

    #[test]
    fn netscape_and_gmail_envelopes_split_without_an_empty_line_before_them() {
        let mbox = b"From - \nSubject: one\n\n--b--\nFrom - Mon Jun  3 12:50:27 1996\nSubject: two\n\n\
            From here on\n\nFrom Russia with love\nFrom 1844347792267117879@xxx\nSubject: three\n\nx\n";
        let msgs = split(mbox);
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert_eq!(msgs[0], b"Subject: one\n\n--b--\n");
        assert_eq!(
            msgs[1],
            b"Subject: two\n\nFrom here on\n\nFrom Russia with love\n"
        );
        assert!(is_envelope(
            b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n"
        ));
        assert!(is_envelope(
            b"From ann@example.org Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        ));
        assert!(!is_envelope(b"From me\n"));
        assert!(!is_envelope(b"From \n"));
    }

    #[test]
    fn empty_and_garbage() {
        assert!(split(b"").is_empty());
        assert!(split(b"no from line\n").is_empty());
        assert_eq!(split(b"From x\n"), vec![Vec::<u8>::new()]);
        assert_eq!(
            split(b"From x@y\r\nA: b\r\n\r\nc\r\n\r\nFrom y@z\r\nD: e\r\n").len(),
            2
        );
        assert!(looks_like_mbox(b"From x"));
        assert!(!looks_like_mbox(b"from x"));
    }
}
