//! A message that already exists (`postie send --message`, sendmail mode), made ready for
//! the wire without touching more than it must: line ends to CRLF (bare CR and bare LF
//! alike, as the stream is read, so the message is held once), `Bcc:` and `Resent-Bcc:`
//! fields removed, and `Date:`, `Message-ID:` and, for a message without one, `From:`
//! added at the end of the header section (where Postfix's cleanup adds them; the fields
//! the message has keep their bytes and order). With `-t` the recipients are those of its
//! To, Cc and Bcc fields, or of the first block of `Resent-*` fields when there is one
//! (msmtp's rule). Pure: the caller reads the input, picks the sender and renders the Date
//! and the Message-ID; dot-stuffing stays the session's job.

use std::io::{self, BufRead};

use mail_parser::{Header, HeaderName, HeaderValue, MessageParser};

/// Reads `input` to its end into `out`, every line end (CRLF, bare LF, bare CR) as CRLF.
pub fn read_crlf(input: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<()> {
    let mut pending_cr = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let n = chunk.len();
        pending_cr = push_crlf(chunk, pending_cr, out);
        input.consume(n);
    }
    if pending_cr {
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Appends `chunk` with its line ends as CRLF; `pending_cr`: the previous chunk ended in a
/// CR whose LF may start this one. Returns whether this chunk ends in such a CR.
fn push_crlf(mut chunk: &[u8], mut pending_cr: bool, out: &mut Vec<u8>) -> bool {
    if pending_cr {
        out.extend_from_slice(b"\r\n");
        if chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        pending_cr = false;
    }
    while let Some(i) = memchr::memchr2(b'\r', b'\n', chunk) {
        out.extend_from_slice(&chunk[..i]);
        match (chunk[i], chunk.get(i + 1)) {
            (b'\r', None) => return true,
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                chunk = &chunk[i + 2..];
            }
            _ => {
                out.extend_from_slice(b"\r\n");
                chunk = &chunk[i + 1..];
            }
        }
    }
    out.extend_from_slice(chunk);
    pending_cr
}

/// One header field: where its lines are in the message, and its name in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    start: usize,
    /// After the CRLF of its last line (or the end of the message).
    end: usize,
    name: String,
}

/// The header section of a CRLF message: its fields, and what `-t`, the sender fallback and
/// the added fields need to know.
#[derive(Debug, Clone)]
pub struct Head {
    /// Where the header section starts: after an mbox `From ` line, which is dropped.
    start: usize,
    /// Where it ends: at the empty line, or at the first line that is no header field.
    end: usize,
    /// Whether an empty line separates the body (a message without one gets one when a
    /// body follows).
    separated: bool,
    fields: Vec<Field>,
    /// The address of the first mailbox of `From:`.
    pub from: Option<String>,
    /// Its display name (decoded; a comment as in `root (Cron Daemon)` counts).
    pub from_name: Option<String>,
    /// The addresses `-t` reads: To, Cc, Bcc, or the first `Resent-*` block's.
    pub recipients: Vec<String>,
}

/// The fields [`Head::rewrite`] adds when the message has none (values without the name).
#[derive(Debug, Clone, Default)]
pub struct Additions {
    pub date: String,
    pub message_id: String,
    /// `From:` for a message without one (the envelope sender, with `-F`'s name).
    pub from: Option<String>,
    /// Whether `from` replaces the message's From fields (`--from-policy`).
    pub replace_from: bool,
}

impl Head {
    /// Scans the header section of `bytes` (CRLF line ends, as [`read_crlf`] makes them).
    pub fn scan(bytes: &[u8]) -> Head {
        let start = if bytes.starts_with(b"From ") {
            line_end(bytes, 0)
        } else {
            0
        };
        let mut head = Head {
            start,
            end: bytes.len(),
            separated: false,
            fields: Vec::new(),
            from: None,
            from_name: None,
            recipients: Vec::new(),
        };
        let mut pos = start;
        while pos < bytes.len() {
            let next = line_end(bytes, pos);
            let line = &bytes[pos..next];
            if line == b"\r\n" {
                (head.end, head.separated) = (pos, true);
                break;
            }
            match (line.first(), head.fields.last_mut()) {
                (Some(b' ' | b'\t'), Some(field)) => field.end = next,
                _ => match field_name(line) {
                    Some(name) => head.fields.push(Field {
                        start: pos,
                        end: next,
                        name: name.to_ascii_lowercase(),
                    }),
                    None => {
                        head.end = pos;
                        break;
                    }
                },
            }
            pos = next;
        }
        head.read_addresses(&bytes[head.start..head.end]);
        head
    }

    /// True when the message has a field of this name (any case).
    pub fn has(&self, name: &str) -> bool {
        self.fields
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// From, and the recipients of -t, by mail-parser's address parser (groups, comments,
    /// quoted names, encoded words).
    fn read_addresses(&mut self, section: &[u8]) {
        let mut block = section.to_vec();
        if !block.ends_with(b"\r\n") && !block.is_empty() {
            block.extend_from_slice(b"\r\n");
        }
        block.extend_from_slice(b"\r\n");
        let Some(message) = MessageParser::new().parse_headers(&block) else {
            return;
        };
        let addresses = |value: &HeaderValue| -> Vec<String> {
            value.as_address().map_or_else(Vec::new, |list| {
                list.iter()
                    .filter_map(|a| {
                        // `To: root`: mail-parser sees a name; sendmail a local recipient.
                        let local = a.name().filter(|n| !n.contains(char::is_whitespace));
                        a.address().or(local).map(str::to_owned)
                    })
                    .collect()
            })
        };
        let headers = message.headers();
        let first_from = headers
            .iter()
            .find(|h| h.name == HeaderName::From)
            .and_then(|h| h.value.as_address())
            .and_then(|list| list.first());
        self.from = first_from.and_then(|a| a.address()).map(str::to_owned);
        self.from_name = first_from.and_then(|a| a.name()).map(str::to_owned);
        let block = first_resent_block(headers);
        let resent = [
            HeaderName::ResentTo,
            HeaderName::ResentCc,
            HeaderName::ResentBcc,
        ];
        let (source, names) = if block.iter().any(|h| resent.contains(&h.name)) {
            (block, resent)
        } else {
            (headers, [HeaderName::To, HeaderName::Cc, HeaderName::Bcc])
        };
        let all = source
            .iter()
            .filter(|h| names.contains(&h.name))
            .flat_map(|h| addresses(&h.value));
        for a in all {
            if !self.recipients.contains(&a) {
                self.recipients.push(a);
            }
        }
    }

    /// The message as it goes on the wire: `bytes` with Bcc and Resent-Bcc fields removed,
    /// the missing fields of `add` appended to the header section, and an mbox `From ` line
    /// dropped. The body is moved in place, not copied.
    pub fn rewrite(&self, mut bytes: Vec<u8>, add: &Additions) -> Vec<u8> {
        let mut head = Vec::with_capacity(self.end - self.start + 200);
        for f in &self.fields {
            let replaced = add.replace_from && f.name == "from";
            if f.name == "bcc" || f.name == "resent-bcc" || replaced {
                continue;
            }
            head.extend_from_slice(&bytes[f.start..f.end]);
            if !head.ends_with(b"\r\n") {
                head.extend_from_slice(b"\r\n");
            }
        }
        let missing = [
            ("From", add.from.as_deref()),
            ("Date", Some(add.date.as_str())),
            ("Message-ID", Some(add.message_id.as_str())),
        ];
        for (name, value) in missing {
            let keep = self.has(name) && !(name == "From" && add.replace_from);
            if let Some(value) = value.filter(|_| !keep) {
                head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        if !self.separated && self.end < bytes.len() {
            head.extend_from_slice(b"\r\n");
        }
        bytes.splice(0..self.end, head);
        bytes
    }
}

/// The first run of adjacent `Resent-*` fields (the newest resending: each prepends its own).
fn first_resent_block<'a, 'x>(headers: &'a [Header<'x>]) -> &'a [Header<'x>] {
    let is_resent = |h: &Header| {
        let name = h.name.as_str().as_bytes();
        name.len() > 7 && name[..7].eq_ignore_ascii_case(b"resent-")
    };
    let Some(first) = headers.iter().position(is_resent) else {
        return &[];
    };
    let len = headers[first..].iter().take_while(|h| is_resent(h)).count();
    &headers[first..first + len]
}

/// Where the line starting at `pos` ends: after its LF, or at the end of `bytes`.
fn line_end(bytes: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i + 1)
}

/// The field name of a header line: printable ASCII but colon up to a colon (RFC 5322
/// `ftext`; blanks before the colon, the obsolete syntax, accepted).
fn field_name(line: &[u8]) -> Option<&str> {
    let colon = memchr::memchr(b':', line)?;
    let name = line[..colon].trim_ascii_end();
    if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
        return None;
    }
    std::str::from_utf8(name).ok()
}

/// The Date value for now, as RFC 5322 writes it (UTC).
pub fn date_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".to_owned())
}

/// A new Message-ID `<time.pid.random@domain>`.
pub fn new_message_id(domain: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    // std's hasher keys come from the OS's randomness, once per process: enough to tell
    // apart two processes of the same nanosecond, without initialising OpenSSL's generator
    // (about 1.5 ms of CPU, a fifth of a plain-SMTP `postie send`).
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let random = hasher.finish();
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("<{nanos:x}.{}.{random:016x}@{domain}>", std::process::id())
}

/// The domain of `address` (after its last `@`), else `localhost`.
pub fn domain_of(address: Option<&str>) -> &str {
    address
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty())
        .unwrap_or("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crlf(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        read_crlf(&mut &input[..], &mut out).expect("read");
        out
    }

    /// Feeds `input` in pieces of `size` bytes, so line ends fall across reads.
    fn crlf_split(input: &[u8], size: usize) -> Vec<u8> {
        let mut reader = io::BufReader::with_capacity(size, input);
        let mut out = Vec::new();
        read_crlf(&mut reader, &mut out).expect("read");
        out
    }

    fn add() -> Additions {
        Additions {
            date: "Thu, 03 Dec 2026 18:00:00 +0000".into(),
            message_id: "<id@example.org>".into(),
            from: None,
            replace_from: false,
        }
    }

    fn prepare(input: &[u8]) -> (Head, Vec<u8>) {
        let bytes = crlf(input);
        let head = Head::scan(&bytes);
        let out = head.rewrite(bytes, &add());
        (head, out)
    }

    #[test]
    fn line_ends_become_crlf_whatever_they_were() {
        let input = b"a\r\nb\nc\rd\r\r\ne\n\rf\r";
        let want = b"a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\nf\r\n";
        assert_eq!(crlf(input), want);
        for size in 1..input.len() {
            assert_eq!(crlf_split(input, size), want, "pieces of {size}");
        }
        assert_eq!(crlf(b"no end"), b"no end");
        assert_eq!(crlf(b""), b"");
    }

    #[test]
    fn a_complete_message_keeps_its_bytes_but_bcc() {
        let input = b"From: A <a@example.org>\nTo: b@example.org,\n c@example.org\nBcc: hidden@example.org,\n\tsecret@example.org\nSubject: hi\n  folded\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\n\n.dot line\n..two\n.\nend\n";
        let (head, out) = prepare(input);
        assert_eq!(
            out,
            b"From: A <a@example.org>\r\nTo: b@example.org,\r\n c@example.org\r\nSubject: hi\r\n  folded\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\n.dot line\r\n..two\r\n.\r\nend\r\n"
        );
        assert_eq!(head.from.as_deref(), Some("a@example.org"));
        assert_eq!(
            head.recipients,
            [
                "b@example.org",
                "c@example.org",
                "hidden@example.org",
                "secret@example.org"
            ]
        );
    }

    #[test]
    fn missing_date_and_message_id_are_added_after_the_fields() {
        let (_, out) = prepare(b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n");
        assert_eq!(
            out,
            b"From: a@example.org\r\nSubject: s\r\nDate: Thu, 03 Dec 2026 18:00:00 +0000\r\nMessage-ID: <id@example.org>\r\n\r\nbody\r\n"
        );
        // Any case of the name counts as present.
        let (_, out) = prepare(b"DATE: x\r\nmessage-id: <m@n>\r\nfrom: f@g\r\n\r\n");
        assert_eq!(out, b"DATE: x\r\nmessage-id: <m@n>\r\nfrom: f@g\r\n\r\n");
    }

    #[test]
    fn a_from_is_added_only_when_missing() {
        let bytes = crlf(b"To: b@example.org\n\nhi\n");
        let head = Head::scan(&bytes);
        let with_from = Additions {
            from: Some("Cron Daemon <root@example.org>".into()),
            ..add()
        };
        assert_eq!(head.from, None);
        assert_eq!(
            head.rewrite(bytes, &with_from),
            b"To: b@example.org\r\nFrom: Cron Daemon <root@example.org>\r\nDate: Thu, 03 Dec 2026 18:00:00 +0000\r\nMessage-ID: <id@example.org>\r\n\r\nhi\r\n"
        );
    }

    #[test]
    fn the_header_section_ends_at_the_first_line_that_is_no_field() {
        // No empty line: the body starts at "hello" and gets its separator.
        let (_, out) = prepare(b"Subject: s\nhello world\nmore\n");
        assert_eq!(
            out,
            b"Subject: s\r\nDate: Thu, 03 Dec 2026 18:00:00 +0000\r\nMessage-ID: <id@example.org>\r\n\r\nhello world\r\nmore\r\n"
        );
        // Only a body: the added fields come first.
        let (_, out) = prepare(b" indented body\n");
        assert!(out.ends_with(b">\r\n\r\n indented body\r\n"), "{out:?}");
        // Headers only, the last without a line end.
        let (_, out) = prepare(b"Subject: s");
        assert_eq!(
            out,
            b"Subject: s\r\nDate: Thu, 03 Dec 2026 18:00:00 +0000\r\nMessage-ID: <id@example.org>\r\n"
        );
    }

    #[test]
    fn an_mbox_from_line_is_dropped() {
        let (_, out) =
            prepare(b"From a@b Thu Dec  3 18:00:00 2026\nDate: d\nMessage-ID: <m>\n\nx\n");
        assert_eq!(out, b"Date: d\r\nMessage-ID: <m>\r\n\r\nx\r\n");
    }

    #[test]
    fn resent_recipients_come_from_the_first_resent_block_only() {
        let input = b"Resent-From: r@example.org\nResent-To: new1@example.org\nResent-Bcc: new2@example.org\nResent-Date: x\nReceived: by somewhere\nResent-To: old@example.org\nFrom: a@example.org\nTo: first@example.org\nBcc: b@example.org\n\nbody\n";
        let (head, out) = prepare(input);
        assert_eq!(head.recipients, ["new1@example.org", "new2@example.org"]);
        assert!(
            !out.windows(11)
                .any(|w| w.eq_ignore_ascii_case(b"resent-bcc:"))
        );
        assert!(!out.windows(5).any(|w| w == b"\nBcc:"));
        // Resent fields without recipients: To, Cc and Bcc count.
        let (head, _) = prepare(b"Resent-Date: x\nTo: t@example.org\nCc: \"Last, First\" <c@example.org>, undisclosed:;\n\n");
        assert_eq!(head.recipients, ["t@example.org", "c@example.org"]);
    }

    #[test]
    fn local_names_are_recipients_too() {
        let (head, _) = prepare(b"From: root (Cron Daemon)\nTo: root, Joe Doe, a@example.org\n\n");
        assert_eq!(head.recipients, ["root", "a@example.org"]);
        assert_eq!(head.from.as_deref(), Some("root"));
        assert_eq!(head.from_name.as_deref(), Some("Cron Daemon"));
    }

    #[test]
    fn groups_comments_and_duplicates() {
        let (head, _) = prepare(
            b"To: team: x@example.org, y@example.org;, x@example.org (again)\nCc: =?utf-8?q?J=C3=B6rg?= <j@example.org>\n\n",
        );
        assert_eq!(
            head.recipients,
            ["x@example.org", "y@example.org", "j@example.org"]
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(domain_of(Some("a@example.org")), "example.org");
        assert_eq!(domain_of(None), "localhost");
        let id = new_message_id("example.org");
        assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
        assert_ne!(id, new_message_id("example.org"));
        assert!(date_now().ends_with("+0000"));
    }
}
