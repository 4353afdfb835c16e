//! A small in-process mail server for the always-on OAuth2 tests: POP3 or SMTP on plain TCP
//! (the tests allow the insecure login explicitly), offering OAUTHBEARER and XOAUTH2 only,
//! checking each token with a closure (the fake identity provider's `is_active`). A refused
//! token gets the SASL error round trip (RFC 7628 §3.2.2: an error challenge, the client's
//! answer, then the failure), as real servers do. It records every AUTH attempt and, for
//! SMTP, the message bytes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Pop3,
    Smtp,
}

/// One AUTH as the server saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub mechanism: String,
    pub user: String,
    pub token: String,
    pub ok: bool,
    /// The client's answer to the error challenge (`""` or `"AQ=="`), when refused.
    pub answer: Option<String>,
}

#[derive(Debug, Default)]
struct Record {
    attempts: Vec<Attempt>,
    messages: Vec<Vec<u8>>,
    lines: Vec<String>,
}

type Check = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub struct OAuthMail {
    pub port: u16,
    record: Arc<Mutex<Record>>,
}

impl OAuthMail {
    pub fn start(proto: Proto, check: impl Fn(&str) -> bool + Send + Sync + 'static) -> OAuthMail {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let record = Arc::new(Mutex::new(Record::default()));
        let check: Check = Arc::new(check);
        let rec = Arc::clone(&record);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (rec, check) = (Arc::clone(&rec), Arc::clone(&check));
                std::thread::spawn(move || {
                    let _ = serve(proto, stream, &rec, &check);
                });
            }
        });
        OAuthMail { port, record }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.record.lock().expect("lock").attempts.clone()
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.record.lock().expect("lock").messages.clone()
    }

    /// Every line the clients sent, in order (AUTH lines included: for secret checks).
    pub fn lines(&self) -> Vec<String> {
        self.record.lock().expect("lock").lines.clone()
    }
}

struct Conn<'a> {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    record: &'a Mutex<Record>,
}

impl Conn<'_> {
    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        self.record.lock().expect("lock").lines.push(line.clone());
        Some(line)
    }

    fn say(&mut self, text: &str) -> Option<()> {
        self.writer.write_all(format!("{text}\r\n").as_bytes()).ok()
    }
}

fn serve(proto: Proto, stream: TcpStream, record: &Mutex<Record>, check: &Check) -> Option<()> {
    let mut c = Conn {
        reader: BufReader::new(stream.try_clone().ok()?),
        writer: stream,
        record,
    };
    match proto {
        Proto::Pop3 => c.say("+OK fake POP3 ready")?,
        Proto::Smtp => c.say("220 fake.test ESMTP")?,
    }
    let mut authed = false;
    while let Some(line) = c.line() {
        let upper = line.to_ascii_uppercase();
        let word = upper.split_whitespace().next().unwrap_or("").to_owned();
        match (proto, word.as_str()) {
            (Proto::Pop3, "CAPA") => c.say("+OK\r\nUIDL\r\nSASL OAUTHBEARER XOAUTH2\r\n.")?,
            (Proto::Smtp, "EHLO") => {
                c.say("250-fake.test\r\n250-8BITMIME\r\n250 AUTH OAUTHBEARER XOAUTH2")?
            }
            (_, "AUTH") => authed = auth(proto, &mut c, &line, check)?,
            (Proto::Pop3, "STAT") if authed => c.say("+OK 0 0")?,
            (Proto::Pop3, "UIDL") if authed => c.say("+OK\r\n.")?,
            (Proto::Pop3, "LIST") if authed => c.say("+OK\r\n.")?,
            (Proto::Smtp, "MAIL") if authed => c.say("250 2.1.0 OK")?,
            (Proto::Smtp, "RCPT") if authed => c.say("250 2.1.5 OK")?,
            (Proto::Smtp, "DATA") if authed => data(&mut c)?,
            (Proto::Smtp, "RSET" | "NOOP") => c.say("250 OK")?,
            (Proto::Pop3, "QUIT") => return c.say("+OK bye"),
            (Proto::Smtp, "QUIT") => return c.say("221 bye"),
            (Proto::Pop3, _) => c.say("-ERR not now")?,
            (Proto::Smtp, _) => c.say("530 5.7.0 Authentication required")?,
        }
    }
    Some(())
}

fn data(c: &mut Conn) -> Option<()> {
    c.say("354 go ahead")?;
    let mut message = Vec::new();
    loop {
        let mut line = Vec::new();
        if c.reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        if line == b".\r\n" {
            break;
        }
        message.extend_from_slice(&line);
    }
    c.record.lock().expect("lock").messages.push(message);
    c.say("250 2.0.0 queued")
}

/// `AUTH MECH [initial]`; the initial response may also come after an empty challenge.
fn auth(proto: Proto, c: &mut Conn, line: &str, check: &Check) -> Option<bool> {
    let mut words = line.split_whitespace().skip(1);
    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
    let initial = match words.next() {
        Some(i) => i.to_owned(),
        None => {
            c.say(if proto == Proto::Pop3 { "+ " } else { "334 " })?;
            c.line()?
        }
    };
    let decoded = B64.decode(initial.trim()).unwrap_or_default();
    let text = String::from_utf8_lossy(&decoded).into_owned();
    let (user, token) = parse(&mechanism, &text);
    let ok = !token.is_empty() && check(&token);
    let mut attempt = Attempt {
        mechanism: mechanism.clone(),
        user,
        token,
        ok,
        answer: None,
    };
    if ok {
        c.record.lock().expect("lock").attempts.push(attempt);
        c.say(if proto == Proto::Pop3 {
            "+OK logged in"
        } else {
            "235 2.7.0 Accepted"
        })?;
        return Some(true);
    }
    let error = if mechanism == "OAUTHBEARER" {
        r#"{"status":"invalid_token"}"#
    } else {
        r#"{"status":"401","schemes":"bearer","scope":"mail"}"#
    };
    let challenge = B64.encode(error);
    c.say(&if proto == Proto::Pop3 {
        format!("+ {challenge}")
    } else {
        format!("334 {challenge}")
    })?;
    attempt.answer = c.line();
    c.record.lock().expect("lock").attempts.push(attempt);
    c.say(if proto == Proto::Pop3 {
        "-ERR [AUTH] Authentication failed."
    } else {
        "535 5.7.8 Authentication credentials invalid"
    })?;
    Some(false)
}

/// (user, token) of an XOAUTH2 or OAUTHBEARER client response.
fn parse(mechanism: &str, text: &str) -> (String, String) {
    let mut user = String::new();
    let mut token = String::new();
    for part in text.split('\x01') {
        if let Some(t) = part.strip_prefix("auth=Bearer ") {
            token = t.to_owned();
        } else if let Some(u) = part.strip_prefix("user=") {
            user = u.to_owned();
        } else if mechanism == "OAUTHBEARER"
            && let Some(rest) = part.strip_prefix("n,")
        {
            user = rest
                .trim_end_matches(',')
                .trim_start_matches("a=")
                .to_owned();
        }
    }
    (user, token)
}
