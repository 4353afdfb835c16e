//! An in-process POP3 server that misbehaves on demand: drops the connection mid-RETR,
//! stays silent, answers `-ERR [IN-USE]`, serves duplicate UIDLs, advertises PIPELINING,
//! sends an endless CAPA line or RETR, names messages twice in LIST, understates a size,
//! stalls mid-RETR, puts control characters into its `-ERR` text, advertises and enforces a
//! LOGIN-DELAY, sends a message slowly.
//! It records every command line it received, and which messages it sent in full.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does.
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    pub pipelining: bool,
    /// Answer PASS with `-ERR [IN-USE] ...`.
    pub in_use: bool,
    /// Send the greeting, then never answer.
    pub silent: bool,
    /// Send half of this message (by number) and close the connection.
    pub drop_in_retr: Option<u32>,
    /// Sleep before each RETR reply.
    pub retr_delay: Duration,
    /// No CAPA (an RFC 1939 server).
    pub no_capa: bool,
    /// Send a CAPA line of this many octets (CAPA comes before STLS: a man in the middle).
    pub capa_line: Option<usize>,
    /// RETR of this message streams body lines until the client hangs up (or 64 MiB).
    pub endless_retr: Option<u32>,
    /// LIST names every message twice.
    pub duplicate_list: bool,
    /// LIST gives this message as 1000 octets, whatever its size.
    pub understate: Option<u32>,
    /// Send half of this message, then wait (for a signal to reach the client).
    pub stall_in_retr: Option<u32>,
    /// The text of the `-ERR` refusing a wrong password.
    pub auth_err_text: Option<String>,
    /// Advertise `LOGIN-DELAY n` in CAPA and answer a login sooner than n seconds after the
    /// previous one with `-ERR [LOGIN-DELAY]`.
    pub login_delay: Option<u64>,
    /// Refuse the first this-many logins with `-ERR [LOGIN-DELAY]` (another client just
    /// logged in).
    pub refuse_logins: usize,
    /// Send half of this message, wait this long, then send the rest.
    pub slow_retr: Option<(u32, Duration)>,
}

/// The most an endless reply sends before it gives up (a client with no bound has then
/// read it all, which a test notices).
pub const ENDLESS_CAP: usize = 64 << 20;

/// Writes `line` (CRLF added) until `cap` octets went out or the client hung up.
fn endless(out: &mut TcpStream, line: &[u8], cap: usize) -> std::io::Result<()> {
    let mut chunk = Vec::with_capacity(64 * 1024);
    while chunk.len() + line.len() + 2 <= 64 * 1024 {
        chunk.extend_from_slice(line);
        chunk.extend_from_slice(b"\r\n");
    }
    let mut sent = 0;
    while sent < cap {
        out.write_all(&chunk)?;
        sent += chunk.len();
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Message {
    pub uidl: String,
    pub raw: Vec<u8>,
    pub deleted: bool,
}

#[derive(Debug, Default)]
pub struct Log {
    /// Every command line received (PASS included, as sent), per session.
    pub sessions: Vec<Vec<String>>,
    /// The largest number of complete command lines waiting unread at once.
    pub max_queued: usize,
    /// When each login attempt (PASS) arrived, and whether it was accepted.
    pub logins: Vec<(Instant, bool)>,
}

pub struct FakePop3 {
    pub port: u16,
    pub mailbox: Arc<Mutex<Vec<Message>>>,
    pub log: Arc<Mutex<Log>>,
    pub behavior: Arc<Mutex<Behavior>>,
    stop: Arc<AtomicBool>,
}

pub const USER: &str = "alice";
pub const PASS: &str = "s3cret pw";

impl FakePop3 {
    pub fn start(messages: Vec<(String, Vec<u8>)>, behavior: Behavior) -> FakePop3 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let mailbox = Arc::new(Mutex::new(
            messages
                .into_iter()
                .map(|(uidl, raw)| Message {
                    uidl,
                    raw,
                    deleted: false,
                })
                .collect::<Vec<_>>(),
        ));
        let log = Arc::new(Mutex::new(Log::default()));
        let behavior = Arc::new(Mutex::new(behavior));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, l, b, s) = (mailbox.clone(), log.clone(), behavior.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).expect("blocking");
                        let (m, l, b) = (m.clone(), l.clone(), b.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &m, &l, &b);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakePop3 {
            port,
            mailbox,
            log,
            behavior,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("pop3://127.0.0.1:{}", self.port)
    }

    pub fn set_behavior(&self, b: Behavior) {
        *self.behavior.lock().expect("lock") = b;
    }

    /// The RETR arguments of session `i`.
    pub fn retrs(&self, i: usize) -> Vec<u32> {
        self.log.lock().expect("lock").sessions[i]
            .iter()
            .filter_map(|l| l.strip_prefix("RETR ").and_then(|n| n.parse().ok()))
            .collect()
    }

    pub fn sessions(&self) -> Vec<Vec<String>> {
        self.log.lock().expect("lock").sessions.clone()
    }

    /// When each login attempt arrived, and whether it was accepted.
    pub fn logins(&self) -> Vec<(Instant, bool)> {
        self.log.lock().expect("lock").logins.clone()
    }

    pub fn remaining(&self) -> usize {
        self.mailbox
            .lock()
            .expect("lock")
            .iter()
            .filter(|m| !m.deleted)
            .count()
    }
}

impl Drop for FakePop3 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut at_start = true;
    for &b in raw {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    if !at_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Whether the session goes on after a command.
enum Next {
    Go,
    Close,
}

/// One connection's state: where replies go, how to misbehave, and the mailbox.
struct Conn<'a> {
    out: TcpStream,
    b: Behavior,
    mailbox: &'a Mutex<Vec<Message>>,
    log: &'a Mutex<Log>,
    authed: bool,
    user_ok: bool,
    pending_deletes: Vec<usize>,
}

fn serve(
    stream: TcpStream,
    mailbox: &Mutex<Vec<Message>>,
    log: &Mutex<Log>,
    behavior: &Mutex<Behavior>,
) -> std::io::Result<()> {
    let b = behavior.lock().expect("lock").clone();
    let session = {
        let mut l = log.lock().expect("lock");
        l.sessions.push(Vec::new());
        l.sessions.len() - 1
    };
    let mut conn = Conn {
        out: stream.try_clone()?,
        b,
        mailbox,
        log,
        authed: false,
        user_ok: false,
        pending_deletes: Vec::new(),
    };
    let mut reader = BufReader::new(stream);
    conn.out
        .write_all(b"+OK fake POP3 ready <4242.1@fake>\r\n")?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let queued = reader.buffer().iter().filter(|c| **c == b'\n').count();
        let line = line.trim_end().to_owned();
        {
            let mut l = log.lock().expect("lock");
            l.max_queued = l.max_queued.max(queued);
            l.sessions[session].push(line.clone());
        }
        if conn.b.silent {
            std::thread::sleep(Duration::from_secs(30));
            return Ok(());
        }
        let mut parts = line.splitn(2, ' ');
        let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
        let arg = parts.next().unwrap_or("");
        if let Next::Close = conn.command(&cmd, arg)? {
            return Ok(());
        }
    }
}

impl Conn<'_> {
    fn command(&mut self, cmd: &str, arg: &str) -> std::io::Result<Next> {
        match cmd {
            "CAPA" => self.capa()?,
            "USER" => {
                self.user_ok = arg == USER;
                self.out.write_all(b"+OK\r\n")?;
            }
            "PASS" => self.pass(arg)?,
            "QUIT" => {
                let mut mb = self.mailbox.lock().expect("lock");
                for n in self.pending_deletes.drain(..) {
                    mb[n - 1].deleted = true;
                }
                self.out.write_all(b"+OK Logging out.\r\n")?;
                return Ok(Next::Close);
            }
            _ if !self.authed => self.out.write_all(b"-ERR Unknown command.\r\n")?,
            "STAT" => {
                let mb = self.mailbox.lock().expect("lock");
                let live: Vec<_> = mb.iter().filter(|m| !m.deleted).collect();
                let size: usize = live.iter().map(|m| m.raw.len()).sum();
                self.out
                    .write_all(format!("+OK {} {}\r\n", live.len(), size).as_bytes())?;
            }
            "LIST" | "UIDL" => self.listing(cmd)?,
            "RETR" | "TOP" => return self.retr(cmd, arg),
            "DELE" => match self.number(arg) {
                Some(n) => {
                    self.pending_deletes.push(n);
                    self.out.write_all(b"+OK Marked to be deleted.\r\n")?;
                }
                None => self.out.write_all(b"-ERR There's no message.\r\n")?,
            },
            "NOOP" => self.out.write_all(b"+OK\r\n")?,
            "RSET" => {
                self.pending_deletes.clear();
                self.out.write_all(b"+OK\r\n")?;
            }
            _ => self.out.write_all(b"-ERR Unknown command.\r\n")?,
        }
        Ok(Next::Go)
    }

    /// The message number `arg` names, if it is there and not deleted.
    fn number(&self, arg: &str) -> Option<usize> {
        let n: usize = arg.trim().parse().ok()?;
        let mb = self.mailbox.lock().expect("lock");
        (n >= 1 && n <= mb.len() && !mb[n - 1].deleted && !self.pending_deletes.contains(&n))
            .then_some(n)
    }

    fn capa(&mut self) -> std::io::Result<()> {
        if let Some(n) = self.b.capa_line {
            self.out.write_all(b"+OK\r\nTOP\r\nX-")?;
            endless(&mut self.out, &vec![b'A'; n.min(60 * 1024)], n)?;
            self.out.write_all(b"\r\nUSER\r\n.\r\n")
        } else if !self.b.no_capa {
            let mut r = String::from("+OK\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\n");
            if self.b.pipelining {
                r.push_str("PIPELINING\r\n");
            }
            if let Some(n) = self.b.login_delay {
                r.push_str(&format!("LOGIN-DELAY {n}\r\n"));
            }
            r.push_str(".\r\n");
            self.out.write_all(r.as_bytes())
        } else {
            self.out.write_all(b"-ERR Unknown command.\r\n")
        }
    }

    /// Whether a login now comes too soon: within LOGIN-DELAY of the last accepted one, or
    /// among the first `refuse_logins`. Notes the attempt.
    fn too_soon(&self, accepted_if_not: bool) -> bool {
        let mut l = self.log.lock().expect("lock");
        let now = Instant::now();
        let last = l.logins.iter().rev().find(|(_, ok)| *ok).map(|(t, _)| *t);
        let within = |n: u64| last.is_some_and(|t| now - t < Duration::from_secs(n));
        let soon = l.logins.len() < self.b.refuse_logins || self.b.login_delay.is_some_and(within);
        l.logins.push((now, accepted_if_not && !soon));
        soon
    }

    fn pass(&mut self, arg: &str) -> std::io::Result<()> {
        let good = self.user_ok && arg == PASS;
        if self.too_soon(good && !self.b.in_use) {
            self.out
                .write_all(b"-ERR [LOGIN-DELAY] Wait before logging in again\r\n")
        } else if self.b.in_use {
            self.out
                .write_all(b"-ERR [IN-USE] Mailbox is locked by another session\r\n")
        } else if good {
            self.authed = true;
            self.out.write_all(b"+OK Logged in.\r\n")
        } else {
            let text = self
                .b
                .auth_err_text
                .as_deref()
                .unwrap_or("Authentication failed.");
            self.out
                .write_all(format!("-ERR [AUTH] {text}\r\n").as_bytes())
        }
    }

    /// LIST or UIDL of the messages not deleted (with the misreports asked for).
    fn listing(&mut self, cmd: &str) -> std::io::Result<()> {
        let mb = self.mailbox.lock().expect("lock");
        let mut r = String::from("+OK\r\n");
        for (i, m) in mb.iter().enumerate() {
            if m.deleted {
                continue;
            }
            let line = if cmd == "LIST" && self.b.understate == Some(i as u32 + 1) {
                format!("{} 1000\r\n", i + 1)
            } else if cmd == "LIST" {
                format!("{} {}\r\n", i + 1, m.raw.len())
            } else {
                format!("{} {}\r\n", i + 1, m.uidl)
            };
            r.push_str(&line);
            if self.b.duplicate_list && cmd == "LIST" {
                r.push_str(&line);
            }
        }
        r.push_str(".\r\n");
        self.out.write_all(r.as_bytes())
    }

    /// RETR or TOP n 0, with the delays, stalls, drops and endless bodies asked for.
    fn retr(&mut self, cmd: &str, arg: &str) -> std::io::Result<Next> {
        let Some(n) = self.number(arg.split(' ').next().unwrap_or("")) else {
            self.out.write_all(b"-ERR There's no message.\r\n")?;
            return Ok(Next::Go);
        };
        let raw = self.mailbox.lock().expect("lock")[n - 1].raw.clone();
        let body = if cmd == "TOP" {
            let end = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(raw.len(), |p| p + 4);
            stuffed(&raw[..end])
        } else {
            stuffed(&raw)
        };
        let b = &self.b;
        let retr = |which: Option<u32>| cmd == "RETR" && which == Some(n as u32);
        if cmd == "RETR" && !b.retr_delay.is_zero() {
            std::thread::sleep(b.retr_delay);
        }
        self.out.write_all(b"+OK\r\n")?;
        if retr(b.endless_retr) {
            endless(&mut self.out, b"endless body line", ENDLESS_CAP)?;
            self.out.write_all(b".\r\n")?;
            return Ok(Next::Go);
        }
        if retr(b.stall_in_retr) {
            self.out.write_all(&body[..body.len() / 2])?;
            self.out.flush()?;
            std::thread::sleep(Duration::from_secs(30));
            return Ok(Next::Close);
        }
        if let Some((_, pause)) = b.slow_retr.filter(|(w, _)| retr(Some(*w))) {
            self.out.write_all(&body[..body.len() / 2])?;
            self.out.flush()?;
            std::thread::sleep(pause);
            self.out.write_all(&body[body.len() / 2..])?;
            return Ok(Next::Go);
        }
        if retr(b.drop_in_retr) {
            self.out.write_all(&body[..body.len() / 2])?;
            self.out.flush()?;
            let _ = self.out.shutdown(std::net::Shutdown::Both);
            return Ok(Next::Close);
        }
        self.out.write_all(&body)?;
        Ok(Next::Go)
    }
}

/// A sample message `i` of about `size` octets, with a dot-leading line and CRLF ends.
pub fn sample_message(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: alice@example.com\r\nSubject: message {i}\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{i}@example.com>\r\n\r\n.leading dot line\r\n"
    )
    .into_bytes();
    let line = format!("body of message {i} xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
    while m.len() < size {
        m.extend_from_slice(line.as_bytes());
    }
    m.extend_from_slice(b".\r\nend\r\n");
    m
}
