//! A tiny in-process SMTP server for what real servers will not do on demand: go silent
//! after accepting (a TLS handshake or greeting that never comes), answer slowly, drop the
//! connection after some messages, offer AUTH without TLS. Plain TCP only. Recipients whose
//! local part starts with "reject" get 550, "later" get 451, like the aiosmtpd sink;
//! "ansi" get a 550 whose text holds terminal escape sequences ([`ANSI_REPLY`]).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The reply to an "ansi…" recipient: it sets the terminal's title, clears the screen and
/// rings the bell if printed raw.
pub const ANSI_REPLY: &str = "550 5.1.1 \x1b]0;owned\x07\x1b[2Jno such user\x1b[0m\x7f\u{9b}31m";

/// How the fake server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    /// Accept the TCP connection and never say anything.
    pub silent: bool,
    /// Wait this long before answering the end of DATA.
    pub slow_data: Option<Duration>,
    /// Close the connection (without a reply) after this many messages on it.
    pub drop_after: Option<usize>,
    /// Advertise AUTH PLAIN LOGIN (without STARTTLS).
    pub offer_auth: bool,
    /// Advertise STARTTLS (and refuse it with 454 when asked).
    pub offer_starttls: bool,
    /// Advertise SMTPUTF8 (RFC 6531).
    pub offer_smtputf8: bool,
    /// Advertise DSN (RFC 3461).
    pub offer_dsn: bool,
    /// Leave 8BITMIME out of EHLO (offered by default).
    pub no_8bitmime: bool,
    /// While this is above zero, each message's final dot is taken (the message counts as
    /// received), the count lowered, and the connection closed without a reply: the
    /// client cannot know whether the message went.
    pub hang_up_after_dot: Option<Arc<AtomicUsize>>,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every command line, per connection order.
    pub commands: Vec<String>,
    /// Every accepted message's bytes (dot-unstuffed, without the final dot line).
    pub messages: Vec<Vec<u8>>,
    pub connections: usize,
}

/// A running fake server; it stops accepting when dropped.
pub struct FakeSmtp {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl FakeSmtp {
    pub fn start(behavior: Behavior) -> FakeSmtp {
        FakeSmtp::start_on(0, behavior)
    }

    /// A server on 127.0.0.1:`port` (0: any free port).
    pub fn start_on(port: u16, behavior: Behavior) -> FakeSmtp {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let counter = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).expect("blocking");
                        counter.fetch_add(1, Ordering::SeqCst);
                        seen2.lock().expect("lock").connections += 1;
                        let (b, s, st) = (behavior.clone(), seen2.clone(), stop2.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &b, &s, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeSmtp { port, seen, stop }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("lock")
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    stream: TcpStream,
    b: &Behavior,
    seen: &Mutex<Seen>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    if b.silent {
        // Hold the connection open, saying nothing, until the test ends.
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return Ok(());
    }
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 fake.test ESMTP ready\r\n")?;
    let mut on_this_connection = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        seen.lock().expect("lock").commands.push(cmd.clone());
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            let mut r = String::from("250-fake.test\r\n");
            if !b.no_8bitmime {
                r.push_str("250-8BITMIME\r\n");
            }
            if b.offer_starttls {
                r.push_str("250-STARTTLS\r\n");
            }
            if b.offer_auth {
                r.push_str("250-AUTH PLAIN LOGIN\r\n");
            }
            if b.offer_smtputf8 {
                r.push_str("250-SMTPUTF8\r\n");
            }
            if b.offer_dsn {
                r.push_str("250-DSN\r\n");
            }
            r.push_str("250 SIZE 100000000\r\n");
            r
        } else if upper.starts_with("STARTTLS") {
            "454 4.7.0 TLS not available\r\n".into()
        } else if upper.starts_with("AUTH") {
            "235 2.7.0 Authentication successful\r\n".into()
        } else if upper.starts_with("RCPT") {
            let local = upper
                .split_once('<')
                .map(|(_, r)| r.to_owned())
                .unwrap_or_default();
            if local.starts_with("REJECT") {
                "550 5.1.1 Recipient address rejected: no such user\r\n".into()
            } else if local.starts_with("ANSI") {
                format!("{ANSI_REPLY}\r\n")
            } else if local.starts_with("LATER") {
                "451 4.3.0 Temporary lookup failure\r\n".into()
            } else {
                "250 2.1.5 Ok\r\n".into()
            }
        } else if upper.starts_with("DATA") {
            if b.drop_after.is_some_and(|n| on_this_connection >= n) {
                return Ok(());
            }
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut message = Vec::new();
            let mut l = Vec::new();
            loop {
                l.clear();
                if reader.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                let body = if l.starts_with(b"..") {
                    &l[1..]
                } else {
                    &l[..]
                };
                message.extend_from_slice(body);
            }
            if let Some(d) = b.slow_data {
                std::thread::sleep(d);
            }
            seen.lock().expect("lock").messages.push(message);
            on_this_connection += 1;
            if let Some(left) = &b.hang_up_after_dot
                && left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                return Ok(());
            }
            "250 2.0.0 Ok: queued\r\n".into()
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else if upper.starts_with("MAIL") && b.drop_after.is_some_and(|n| on_this_connection >= n)
        {
            // Idle connection closed by the server, as Postfix does after a limit.
            return Ok(());
        } else {
            "250 2.0.0 Ok\r\n".into()
        };
        out.write_all(reply.as_bytes())?;
    }
}
