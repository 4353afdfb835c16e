//! `outbox flush`: under the flush lock, the messages that are due, grouped by connection
//! (one session per account or server, in the order their first message was queued; each
//! group's messages in queue order). Before a transaction the record says `sending`; once
//! the message is written and before its final `.`, it says `in-doubt` (the session's
//! checkpoint); then the reply decides: 250 removes it, 4xx defers it (backoff), 5xx keeps it
//! aside as `failed` with the reply. A reply that never comes leaves it `in-doubt`, never
//! sent again without `resend_in_doubt`. A process killed anywhere else leaves `queued`,
//! `sending` or `deferred`, all of which the next flush sends: exactly once in total.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::entry::{Connection, Entry, State, StoredReply};
use super::spool::{LOCK_WAIT, Spool};
use super::{OutboxError, backoff, is_temporary, now};
use crate::exit::{self, code};
use crate::smtp::{Session, SmtpError};

/// How old a message without its record, or a temporary file, must be before a flush
/// removes it as a leftover of a killed process.
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// What to flush.
#[derive(Debug, Clone, Default)]
pub struct FlushOptions {
    /// Only this entry (whatever its schedule; a failed one is tried again).
    pub only: Option<String>,
    /// Send `in-doubt` messages again (the recipient may get them twice).
    pub resend_in_doubt: bool,
    /// Try deferred messages before their `next_try`.
    pub ignore_schedule: bool,
}

/// A connection that could not be set up: the error as the user should read it, and its
/// exit code (a temporary one defers the group's messages; any other leaves them as they were).
#[derive(Debug, Clone)]
pub struct ConnectFailure {
    pub message: String,
    pub code: u8,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        reply: StoredReply,
    },
    Deferred {
        error: String,
        code: u8,
        next_try: i64,
    },
    Failed {
        error: String,
        code: u8,
        reply: Option<StoredReply>,
    },
    /// Its final `.` went out and no reply came: maybe delivered.
    InDoubt {
        error: String,
        code: u8,
    },
    /// In doubt from an earlier flush: not sent again.
    KeptInDoubt,
    /// Its connection could not be set up (configuration, TLS, authentication): unchanged.
    NotTried {
        error: String,
        code: u8,
    },
    /// Its record cannot be read.
    Unreadable {
        error: String,
    },
}

impl Outcome {
    /// The exit code this outcome stands for: 0 for sent, 75 for deferred (whatever the
    /// cause: "try again later"), the error's own code otherwise.
    pub fn code(&self) -> u8 {
        match self {
            Outcome::Sent { .. } => code::OK,
            Outcome::Deferred { .. } => code::TEMPFAIL,
            Outcome::Failed { code, .. }
            | Outcome::InDoubt { code, .. }
            | Outcome::NotTried { code, .. } => *code,
            Outcome::KeptInDoubt | Outcome::Unreadable { .. } => code::FAILED,
        }
    }
}

/// One message's outcome, as reported while the flush goes on.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: String,
    pub message_id: Option<String>,
    pub outcome: Outcome,
}

/// How the flush ended: counts, and the worst outcome's exit code (`exit::worst`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub sent: usize,
    pub not_sent: usize,
    pub code: u8,
}

/// Flushes `spool`: `connect` opens a session for a stored connection (the CLI layer gets the
/// password again), `report` hears each message's outcome.
pub fn flush<S, C, R>(
    spool: &Spool,
    opts: &FlushOptions,
    connect: C,
    report: R,
) -> Result<Summary, OutboxError>
where
    S: BufRead + Write,
    C: FnMut(&Connection) -> Result<Session<S>, ConnectFailure>,
    R: FnMut(&Report),
{
    let _lock = spool.lock(LOCK_WAIT)?;
    spool.sweep(LEFTOVER_AGE)?;
    let mut run = Run {
        spool,
        connect,
        report,
        summary: Summary::default(),
    };
    let mut groups: Vec<(Connection, Vec<Entry>)> = Vec::new();
    for entry in run.select(opts)? {
        match groups.iter_mut().find(|(c, _)| *c == entry.connection) {
            Some((_, list)) => list.push(entry),
            None => groups.push((entry.connection.clone(), vec![entry])),
        }
    }
    for (conn, entries) in groups {
        run.group(&conn, entries)?;
    }
    Ok(run.summary)
}

struct Run<'a, C, R> {
    spool: &'a Spool,
    connect: C,
    report: R,
    summary: Summary,
}

impl<C, R: FnMut(&Report)> Run<'_, C, R> {
    fn tell(&mut self, entry: &Entry, outcome: Outcome) {
        let s = &mut self.summary;
        match outcome {
            Outcome::Sent { .. } => s.sent += 1,
            _ => s.not_sent += 1,
        }
        s.code = exit::worst([s.code, outcome.code()]);
        (self.report)(&Report {
            id: entry.id.clone(),
            message_id: entry.message_id.clone(),
            outcome,
        });
    }

    /// The entries to send now, in queue order; kept in-doubt and unreadable ones reported.
    fn select(&mut self, opts: &FlushOptions) -> Result<Vec<Entry>, OutboxError> {
        if let Some(id) = &opts.only {
            let entry = self.spool.load(id)?;
            if entry.state == State::InDoubt && !opts.resend_in_doubt {
                self.tell(&entry, Outcome::KeptInDoubt);
                return Ok(Vec::new());
            }
            return Ok(vec![entry]);
        }
        let now = now();
        let mut due = Vec::new();
        for item in self.spool.entries()? {
            let entry = match item {
                Ok(e) => e,
                Err(e) => {
                    let (id, error) = (unreadable_id(&e), e.to_string());
                    self.summary.not_sent += 1;
                    self.summary.code = exit::worst([self.summary.code, code::FAILED]);
                    (self.report)(&Report {
                        id,
                        message_id: None,
                        outcome: Outcome::Unreadable { error },
                    });
                    continue;
                }
            };
            if entry.due(now, opts.ignore_schedule, opts.resend_in_doubt) {
                due.push(entry);
            } else if entry.state == State::InDoubt {
                self.tell(&entry, Outcome::KeptInDoubt);
            }
        }
        Ok(due)
    }

    /// The connection could not be set up: a temporary failure defers `entry`, any other
    /// leaves it as it was (with the error noted).
    fn not_connected(&mut self, mut entry: Entry, f: &ConnectFailure) -> Result<(), OutboxError> {
        entry.last_error = Some(f.message.clone());
        entry.updated_at = now();
        let outcome = if is_temporary(f.code) {
            entry.attempts = entry.attempts.saturating_add(1);
            defer(&mut entry, &f.message, f.code, None)
        } else {
            Outcome::NotTried {
                error: f.message.clone(),
                code: f.code,
            }
        };
        self.spool.save(&entry)?;
        self.tell(&entry, outcome);
        Ok(())
    }
}

impl<S, C, R> Run<'_, C, R>
where
    S: BufRead + Write,
    C: FnMut(&Connection) -> Result<Session<S>, ConnectFailure>,
    R: FnMut(&Report),
{
    /// One connection's messages, over one session (a new one if the server breaks it).
    fn group(&mut self, conn: &Connection, entries: Vec<Entry>) -> Result<(), OutboxError> {
        let mut session: Option<Session<S>> = None;
        let mut entries = entries.into_iter();
        while let Some(entry) = entries.next() {
            let open = match session.take() {
                Some(s) if !s.is_broken() => Ok(s),
                _ => (self.connect)(conn),
            };
            let mut s = match open {
                Ok(s) => s,
                Err(f) => {
                    for entry in std::iter::once(entry).chain(entries) {
                        self.not_connected(entry, &f)?;
                    }
                    return Ok(());
                }
            };
            self.send(&mut s, entry)?;
            session = Some(s);
        }
        if let Some(s) = session {
            s.quit();
        }
        Ok(())
    }

    /// One message: `sending`, the transaction with `in-doubt` journaled before the final
    /// dot, then its outcome.
    fn send(&mut self, s: &mut Session<S>, mut entry: Entry) -> Result<(), OutboxError> {
        let prepared = entry.envelope().and_then(|env| {
            Ok((
                env,
                self.spool
                    .read_message(&entry.id)
                    .map_err(|e| e.to_string())?,
            ))
        });
        let (envelope, bytes) = match prepared {
            Ok(p) => p,
            Err(why) => return self.keep_aside(entry, why, code::FAILED, None),
        };
        entry.state = State::Sending;
        entry.attempts = entry.attempts.saturating_add(1);
        entry.updated_at = now();
        self.spool.save(&entry)?;
        let dot_sent = Arc::new(AtomicBool::new(false));
        let hook = checkpoint(self.spool.clone(), entry.clone(), dot_sent.clone());
        let result = s.send_checkpointed(&envelope, &bytes, &entry.dsn, hook);
        let e = match result {
            Ok(reply) => {
                self.spool.remove(&entry.id)?;
                let reply = StoredReply {
                    code: reply.code,
                    text: reply.text,
                };
                self.tell(&entry, Outcome::Sent { reply });
                return Ok(());
            }
            Err(SmtpError::Checkpoint { source }) => {
                return Err(OutboxError::io(self.spool.dir(), source));
            }
            Err(e) => e,
        };
        let reply = reply_of(&e);
        let (error, code) = (e.to_string(), e.exit_code());
        entry.last_error = Some(error.clone());
        entry.updated_at = now();
        let outcome = if dot_sent.load(Ordering::SeqCst) && reply.is_none() {
            entry.state = State::InDoubt;
            Outcome::InDoubt { error, code }
        } else if is_temporary(code) {
            defer(&mut entry, &error, code, reply)
        } else {
            return self.keep_aside(entry, error, code, reply);
        };
        self.spool.save(&entry)?;
        self.tell(&entry, outcome);
        Ok(())
    }

    /// A permanent failure: the entry is kept as `failed` with the server's reply.
    fn keep_aside(
        &mut self,
        mut entry: Entry,
        error: String,
        code: u8,
        reply: Option<StoredReply>,
    ) -> Result<(), OutboxError> {
        entry.state = State::Failed;
        entry.next_try = None;
        entry.last_error = Some(error.clone());
        entry.reply = reply.clone();
        entry.updated_at = now();
        self.spool.save(&entry)?;
        self.tell(&entry, Outcome::Failed { error, code, reply });
        Ok(())
    }
}

/// Marks `entry` deferred with its next try by the backoff schedule.
fn defer(entry: &mut Entry, error: &str, code: u8, reply: Option<StoredReply>) -> Outcome {
    let next_try = backoff::next_try(now(), entry.attempts);
    entry.state = State::Deferred;
    entry.next_try = Some(next_try);
    entry.reply = reply;
    Outcome::Deferred {
        error: error.to_owned(),
        code,
        next_try,
    }
}

/// The session's hook before the final dot: the record says `in-doubt`, durably, before the
/// dot can leave; `dot_sent` tells the flush that it did.
fn checkpoint(
    spool: Spool,
    mut entry: Entry,
    dot_sent: Arc<AtomicBool>,
) -> crate::smtp::transport::FinalDotHook {
    Box::new(move || {
        entry.state = State::InDoubt;
        entry.updated_at = now();
        spool
            .save(&entry)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        dot_sent.store(true, Ordering::SeqCst);
        Ok(())
    })
}

/// The server's reply an error carries, if any.
fn reply_of(e: &SmtpError) -> Option<StoredReply> {
    match e {
        SmtpError::AuthFailed { reply, .. }
        | SmtpError::Rejected { reply, .. }
        | SmtpError::TooBig { reply, .. }
        | SmtpError::Unavailable { reply, .. } => Some(StoredReply {
            code: reply.code,
            text: reply.text.clone(),
        }),
        _ => None,
    }
}

/// The id of an unreadable record, from its file name.
fn unreadable_id(e: &OutboxError) -> String {
    match e {
        OutboxError::Corrupt { path, .. } | OutboxError::Io { path, .. } => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};
    use std::sync::Mutex;

    use super::*;
    use crate::net::BufStream;
    use crate::smtp::outbox::entry::NewEntry;

    /// A scripted server whose wire (what the client wrote) outlives the session.
    struct Tee {
        input: io::Cursor<Vec<u8>>,
        wire: Arc<Mutex<Vec<u8>>>,
    }

    impl Read for Tee {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Tee {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.wire.lock().expect("wire").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const HELLO: &str = "220 mx.test\r\n250 mx.test\r\n";
    const OK: &str = "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";

    type Mem = Session<BufStream<Tee>>;

    /// Sessions over the scripts in `scripts`, one per connection; None: refused.
    fn server(
        scripts: Vec<Option<String>>,
        wire: Arc<Mutex<Vec<u8>>>,
    ) -> impl FnMut(&Connection) -> Result<Mem, ConnectFailure> {
        let mut scripts = scripts.into_iter();
        move |_| match scripts.next().flatten() {
            Some(script) => {
                let tee = Tee {
                    input: io::Cursor::new(format!("{HELLO}{script}").into_bytes()),
                    wire: wire.clone(),
                };
                let s = crate::smtp::transport::tests::settings();
                Ok(Session::greeted_for_test(BufStream::write_through(tee), s).expect("greet"))
            }
            None => Err(ConnectFailure {
                message: "127.0.0.1:1: could not connect: refused".into(),
                code: code::CONNECT,
            }),
        }
    }

    fn queue(spool: &Spool, to: &str) -> Entry {
        let new = NewEntry {
            envelope: lettre::address::Envelope::new(
                Some("a@x.test".parse().expect("from")),
                vec![to.parse().expect("to")],
            )
            .expect("envelope"),
            message_id: Some(format!("<{to}>")),
            connection: Connection::default(),
            dsn: Default::default(),
            state: State::Queued,
            attempts: 0,
            last_error: None,
        };
        spool
            .enqueue(new, format!("To: {to}\r\n\r\nhi\r\n").as_bytes(), 1)
            .expect("queue")
    }

    fn run(
        spool: &Spool,
        opts: &FlushOptions,
        scripts: Vec<Option<String>>,
    ) -> (Summary, Vec<Report>, String) {
        let wire = Arc::new(Mutex::new(Vec::new()));
        let mut reports = Vec::new();
        let summary = flush(spool, opts, server(scripts, wire.clone()), |r| {
            reports.push(r.clone())
        })
        .expect("flush");
        let wire = String::from_utf8_lossy(&wire.lock().expect("wire")).into_owned();
        (summary, reports, wire)
    }

    fn state(spool: &Spool, id: &str) -> State {
        spool.load(id).expect("entry").state
    }

    #[test]
    fn one_connection_sends_every_message_in_order_and_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        queue(&spool, "one@y.test");
        queue(&spool, "two@y.test");
        let script = format!("{OK}{OK}221 bye\r\n");
        let (summary, reports, wire) = run(&spool, &FlushOptions::default(), vec![Some(script)]);
        assert_eq!((summary.sent, summary.not_sent, summary.code), (2, 0, 0));
        assert_eq!(reports.len(), 2);
        let one = wire.find("RCPT TO:<one@y.test>").expect("one");
        let two = wire.find("RCPT TO:<two@y.test>").expect("two");
        assert!(one < two && wire.ends_with("QUIT\r\n"), "{wire}");
        assert!(spool.entries().expect("list").is_empty());
    }

    #[test]
    fn a_4xx_defers_with_backoff_a_5xx_keeps_the_reply_and_the_rest_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let later = queue(&spool, "later@y.test");
        let bad = queue(&spool, "bad@y.test");
        let good = queue(&spool, "good@y.test");
        let script = format!(
            "250 ok\r\n451 4.3.0 try later\r\n250 reset\r\n\
             250 ok\r\n550 5.1.1 no such user\r\n250 reset\r\n{OK}221 bye\r\n"
        );
        let (summary, _, _) = run(&spool, &FlushOptions::default(), vec![Some(script)]);
        assert_eq!((summary.sent, summary.not_sent), (1, 2));
        assert_eq!(
            summary.code,
            code::REJECTED,
            "a permanent failure outranks a deferral"
        );
        let later = spool.load(&later.id).expect("later");
        assert_eq!((later.state, later.attempts), (State::Deferred, 1));
        let wait = later.next_try.expect("next try") - later.updated_at;
        assert!(
            (backoff::FIRST - 2..=backoff::FIRST).contains(&wait),
            "{wait}"
        );
        let bad = spool.load(&bad.id).expect("bad");
        assert_eq!(bad.state, State::Failed);
        assert_eq!(bad.reply.as_ref().map(|r| r.code), Some(550));
        assert!(spool.load(&good.id).is_err(), "sent and removed");
        // Not due yet: the next flush connects to nothing.
        let (summary, reports, wire) = run(&spool, &FlushOptions::default(), vec![]);
        assert_eq!((summary.sent, reports.len(), wire.as_str()), (0, 0, ""));
        // --now: tried again, and the delay doubles.
        let now = FlushOptions {
            ignore_schedule: true,
            ..FlushOptions::default()
        };
        let script = "250 ok\r\n451 4.3.0 still\r\n250 reset\r\n221 bye\r\n".to_owned();
        run(&spool, &now, vec![Some(script)]);
        let later = spool.load(&later.id).expect("later");
        assert_eq!(later.attempts, 2);
        assert!(later.next_try.expect("next") - later.updated_at >= 2 * backoff::FIRST - 2);
    }

    #[test]
    fn no_reply_after_the_final_dot_leaves_it_in_doubt_until_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let e = queue(&spool, "b@y.test");
        // The server takes the dot and hangs up.
        let (summary, reports, wire) = run(
            &spool,
            &FlushOptions::default(),
            vec![Some("250 ok\r\n250 ok\r\n354 go\r\n".into())],
        );
        assert!(wire.ends_with("hi\r\n.\r\n"), "{wire}");
        assert_eq!(state(&spool, &e.id), State::InDoubt);
        assert!(matches!(reports[0].outcome, Outcome::InDoubt { .. }));
        assert_eq!(summary.code, code::EMPTY_REPLY);
        // Reported, never sent again silently, not even when asked for by id.
        let (summary, reports, wire) = run(&spool, &FlushOptions::default(), vec![]);
        assert_eq!(
            (reports[0].outcome.clone(), wire.as_str()),
            (Outcome::KeptInDoubt, "")
        );
        assert_eq!(summary.code, code::FAILED);
        let only = FlushOptions {
            only: Some(e.id.clone()),
            ..FlushOptions::default()
        };
        let (_, reports, _) = run(&spool, &only, vec![]);
        assert_eq!(reports[0].outcome, Outcome::KeptInDoubt);
        let resend = FlushOptions {
            resend_in_doubt: true,
            ..only
        };
        let (summary, _, wire) = run(&spool, &resend, vec![Some(format!("{OK}221 bye\r\n"))]);
        assert_eq!(summary.sent, 1);
        assert!(wire.contains("DATA"));
        assert!(spool.entries().expect("list").is_empty());
    }

    #[test]
    fn a_drop_before_the_dot_defers_and_a_refused_connection_defers_the_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let a = queue(&spool, "a@y.test");
        let b = queue(&spool, "b@y.test");
        // Dropped at RCPT: nothing could be delivered; the reconnection is refused.
        let (summary, _, _) = run(
            &spool,
            &FlushOptions::default(),
            vec![Some("250 ok\r\n".into()), None],
        );
        assert_eq!(summary.sent, 0);
        assert_eq!(state(&spool, &a.id), State::Deferred);
        assert_eq!(state(&spool, &b.id), State::Deferred);
        assert!(
            spool
                .load(&b.id)
                .expect("b")
                .last_error
                .expect("why")
                .contains("refused")
        );
    }

    #[test]
    fn a_connection_that_cannot_be_set_up_leaves_its_messages_as_they_were() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let a = queue(&spool, "a@y.test");
        let mut reports = Vec::new();
        let summary = flush::<BufStream<Tee>, _, _>(
            &spool,
            &FlushOptions::default(),
            |_| {
                Err(ConnectFailure {
                    message: "no password".into(),
                    code: code::CONFIG,
                })
            },
            |r| reports.push(r.clone()),
        )
        .expect("flush");
        assert_eq!(summary.code, code::CONFIG);
        let a = spool.load(&a.id).expect("a");
        assert_eq!((a.state, a.attempts), (State::Queued, 0));
        assert_eq!(a.last_error.as_deref(), Some("no password"));
    }

    #[test]
    fn a_killed_sending_state_is_sent_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let mut e = queue(&spool, "b@y.test");
        e.state = State::Sending;
        spool.save(&e).expect("save");
        let (summary, _, _) = run(
            &spool,
            &FlushOptions::default(),
            vec![Some(format!("{OK}221 bye\r\n"))],
        );
        assert_eq!(summary.sent, 1);
    }
}
