//! POP3 responses (src/pop3/response.rs), the multi-line reader (src/pop3/codec.rs) and a
//! whole client session over an in-memory server (src/pop3/client.rs).
//!
//! Input: one selector byte (read sizes, line limit, authentication method), then what the
//! server sends. Invariants beyond "no panic":
//! - the streaming body reader, fed in small reads, gives what one `DotDecoder::feed` of
//!   the whole input gives; dot-stuffing any body and decoding it gives the body back;
//! - a status line is returned only when it fits the limit, and then whole;
//! - a parsed status, LIST or UIDL line, written back, parses the same; an APOP timestamp
//!   is `<...@...>` taken from the greeting;
//! - whatever the server sends, every line the client writes is one CRLF-ended line with
//!   no other CR, LF or NUL (server text never injects a command).
#![no_main]

use std::io::{self, BufRead, Read};

use libfuzzer_sys::fuzz_target;
use postie::net::memory::MemoryStream;
use postie::pop3::client::{AuthChoice, Client, Credentials};
use postie::pop3::codec::{self, DotDecoder};
use postie::pop3::response::{self, Capabilities, Reply};
use postie::pop3::sasl::Method;
use postie::secret::Secret;

fuzz_target!(|data: &[u8]| {
    let Some((sel, input)) = postie_fuzz::selector(data) else {
        return;
    };
    let chunk = usize::from(sel % 7) + 1;
    body_reader(input, chunk);
    stuffing_round_trip(input);
    status_line_limit(input, chunk, 16 + usize::from(sel >> 3));
    lines(input);
    session(input, sel);
});

/// A reader that returns at most `chunk` octets a read, as a slow network does.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Trickle<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.data[..self.data.len().min(self.chunk)])
    }
    fn consume(&mut self, n: usize) {
        self.data = &self.data[n..];
    }
}

fn decode_whole(input: &[u8]) -> (Vec<u8>, usize, bool) {
    let mut d = DotDecoder::new();
    let mut out = Vec::new();
    let used = d.feed(input, &mut out);
    (out, used, d.is_done())
}

fn body_reader(input: &[u8], chunk: usize) {
    let (whole, used, done) = decode_whole(input);
    let mut reader = Trickle { data: input, chunk };
    let mut sink = Vec::new();
    let result = codec::read_body(&mut reader, &mut sink, codec::Limits::body(u64::MAX));
    assert_eq!(sink, whole, "streamed body differs from one feed");
    match result {
        Ok(n) => {
            assert!(done, "a body without its terminator line was accepted");
            assert_eq!(n, whole.len() as u64);
            assert_eq!(
                reader.data.len(),
                input.len() - used,
                "read past the terminator"
            );
        }
        Err(codec::BodyError::Read(e)) => {
            assert!(!done, "terminated body reported as {e}");
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        }
        Err(codec::BodyError::Write(e)) => panic!("writing to memory failed: {e}"),
        Err(codec::BodyError::TooLong(o)) => panic!("no bound was set, yet {o:?}"),
    }
}

/// RFC 1939 §3 byte-stuffing, as a server does it.
fn stuff(body: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(body.len() + 8);
    for line in body.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

fn stuffing_round_trip(input: &[u8]) {
    let mut body = input.to_vec();
    if !body.is_empty() && !body.ends_with(b"\n") {
        body.extend_from_slice(b"\r\n");
    }
    let wire = stuff(&body);
    let (out, used, done) = decode_whole(&wire);
    assert!(done, "terminator not found");
    assert_eq!(used, wire.len());
    assert_eq!(out, body, "dot-stuffing round trip");
}

fn status_line_limit(input: &[u8], chunk: usize, max: usize) {
    let mut reader = Trickle { data: input, chunk };
    let first = input.iter().position(|b| *b == b'\n').map(|p| &input[..=p]);
    match codec::read_status_line(&mut reader, max) {
        Ok(line) => {
            assert_eq!(Some(&line[..]), first, "not the first line");
            assert!(
                line.len() <= max,
                "a line of {} octets over {max}",
                line.len()
            );
        }
        Err(_) => assert!(
            first.is_none_or(|l| l.len() > max),
            "a fitting line refused"
        ),
    }
}

fn reply_line(reply: &Reply) -> String {
    let code =
        |c: &Option<response::RespCode>| c.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default();
    match reply {
        Reply::Ok { code: c, text } => format!("+OK {}{text}\r\n", code(c)),
        Reply::Err { code: c, text } => format!("-ERR {}{text}\r\n", code(c)),
        Reply::Continue(text) => format!("+ {text}\r\n"),
    }
}

fn lines(input: &[u8]) {
    let _ = Capabilities::parse(input).sasl();
    for line in input.split_inclusive(|b| *b == b'\n') {
        if let Ok(reply) = response::parse_reply(line) {
            let again = response::parse_reply(reply_line(&reply).as_bytes());
            assert_eq!(
                again.as_ref(),
                Ok(&reply),
                "status line round trip of {line:?}"
            );
        }
        if let Ok((n, size)) = response::parse_list_line(line) {
            assert_eq!(
                response::parse_list_line(format!("{n} {size}").as_bytes()),
                Ok((n, size))
            );
        }
        if let Ok((n, uid)) = response::parse_uidl_line(line) {
            let mut again = format!("{n} ").into_bytes();
            again.extend_from_slice(&uid);
            again.extend_from_slice(b"\r\n");
            assert_eq!(
                response::parse_uidl_line(&again),
                Ok((n, uid)),
                "UIDL round trip"
            );
        }
        let text = String::from_utf8_lossy(line);
        let _ = response::parse_stat(&text);
        if let Some(stamp) = response::apop_timestamp(&text) {
            assert!(stamp.starts_with('<') && stamp.ends_with('>') && stamp.contains('@'));
        }
    }
}

const CHOICES: [AuthChoice; 9] = [
    AuthChoice::Auto,
    AuthChoice::OAuth2,
    AuthChoice::Only(Method::User),
    AuthChoice::Only(Method::Apop),
    AuthChoice::Only(Method::Plain),
    AuthChoice::Only(Method::Login),
    AuthChoice::Only(Method::CramMd5),
    AuthChoice::Only(Method::XOauth2),
    AuthChoice::Only(Method::OAuthBearer),
];

fn session(script: &[u8], sel: u8) {
    let choice = CHOICES[usize::from(sel) % CHOICES.len()];
    let mut client = Client::new(MemoryStream::new(script), "fuzz.invalid", 5, false);
    client.port = Some(995);
    client.initial_response = sel & 0x80 == 0;
    let creds = Credentials {
        user: "user".to_owned(),
        password: Secret::new("secret"),
    };
    let _ = (|| -> Result<(), postie::pop3::Pop3Error> {
        client.read_greeting()?;
        client.capa()?;
        let method = client.choose_method(choice, true, true)?;
        client.login(&creds, method)?;
        client.stat()?;
        client.list()?;
        client.uidl()?;
        client.top_header(1)?;
        client.quit()
    })();
    let written = &client.get_ref().output;
    for line in written.split_inclusive(|b| *b == b'\n') {
        let body = line
            .strip_suffix(b"\r\n")
            .unwrap_or_else(|| panic!("not CRLF-ended: {line:?}"));
        assert!(
            !body.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')),
            "client wrote {line:?}"
        );
    }
}
