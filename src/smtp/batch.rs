//! `--batch FILE.jsonl`: one message per line, all over one connection, one JSON result line
//! per message on stdout. A rejected message does not stop the batch; a dropped connection
//! is reopened, and the message it was carrying is retried once when the drop happened
//! before its data was sent. A connection that cannot be opened at all ends the batch: the
//! remaining lines are reported as not sent.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use lettre::address::Envelope;

use serde::{Deserialize, Serialize};

use super::compose::{AttachSpec, MessageSpec, compose};
use super::transport::{Session, Settings};
use super::{Delivery, SmtpError};

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// One line of the batch file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    from: Option<String>,
    to: Option<OneOrMany>,
    cc: Option<OneOrMany>,
    bcc: Option<OneOrMany>,
    reply_to: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    html: Option<String>,
    attach: Option<OneOrMany>,
    headers: Option<BTreeMap<String, String>>,
    envelope_from: Option<String>,
}

/// One result line.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub index: usize,
    pub ok: bool,
    pub message_id: Option<String>,
    pub code: Option<u16>,
    pub error: Option<String>,
}

/// How a batch ended.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: usize,
    pub failed: usize,
    /// The connection error that ended the batch early, if any.
    pub fatal: Option<SmtpError>,
}

/// A batch line's fields over the command line's defaults (a field in the line replaces the
/// flag's value).
fn line_spec(base: &MessageSpec, text: &str) -> Result<MessageSpec, SmtpError> {
    let line: Line =
        serde_json::from_str(text).map_err(|e| SmtpError::usage("--batch", e.to_string()))?;
    let mut spec = base.clone();
    let set = |field: &mut Vec<String>, v: Option<OneOrMany>| {
        if let Some(v) = v {
            *field = v.into_vec();
        }
    };
    set(&mut spec.to, line.to);
    set(&mut spec.cc, line.cc);
    set(&mut spec.bcc, line.bcc);
    if let Some(list) = line.attach {
        spec.attach = list
            .into_vec()
            .iter()
            .map(|a| AttachSpec::parse(a))
            .collect::<Result<_, _>>()?;
    }
    if let Some(h) = line.headers {
        spec.headers = h.into_iter().collect();
    }
    spec.from = line.from.or(spec.from);
    spec.reply_to = line.reply_to.or(spec.reply_to);
    spec.subject = line.subject.or(spec.subject);
    if line.body.is_some() {
        spec.body_unknown_8bit = None;
    }
    spec.body = line.body.or(spec.body);
    spec.html = line.html.or(spec.html);
    spec.envelope_from = line.envelope_from.or(spec.envelope_from);
    Ok(spec)
}

fn emit(out: &mut dyn Write, outcome: &Outcome) -> Result<(), SmtpError> {
    let mut line = serde_json::to_vec(outcome).unwrap_or_default();
    line.push(b'\n');
    out.write_all(&line)
        .and_then(|()| out.flush())
        .map_err(|source| SmtpError::Output { source })
}

fn failure(index: usize, message_id: Option<String>, err: &SmtpError) -> Outcome {
    Outcome {
        index,
        ok: false,
        message_id,
        code: err.reply_code(),
        error: Some(err.to_string()),
    }
}

/// Runs the batch read from `input`; `settings` None means `--dry-run` (compose only).
pub fn run(
    settings: Option<&Settings>,
    base: &MessageSpec,
    delivery: &Delivery,
    input: &mut dyn BufRead,
    source_name: &str,
    out: &mut dyn Write,
) -> Result<Summary, SmtpError> {
    let mut summary = Summary::default();
    let mut session: Option<Session> = None;
    let mut index = 0;
    let mut text = String::new();
    loop {
        text.clear();
        let n = input
            .read_line(&mut text)
            .map_err(|source| SmtpError::BatchRead {
                source_name: source_name.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if text.trim().is_empty() {
            continue;
        }
        let outcome = if let Some(fatal) = &summary.fatal {
            let mut o = failure(index, None, fatal);
            o.error = Some(format!("not sent: {fatal}"));
            o
        } else {
            let item = Item {
                base,
                delivery,
                text: &text,
                index,
            };
            one(settings, &item, &mut session, &mut summary)
        };
        if outcome.ok {
            summary.sent += 1;
        } else {
            summary.failed += 1;
        }
        emit(out, &outcome)?;
        index += 1;
    }
    if let Some(s) = session {
        s.quit();
    }
    Ok(summary)
}

/// One line of the batch with what it builds on.
struct Item<'a> {
    base: &'a MessageSpec,
    delivery: &'a Delivery,
    text: &'a str,
    index: usize,
}

impl Item<'_> {
    /// The line's message as sent (signed when a DKIM key was given), its envelope and
    /// Message-ID; a failed line's outcome otherwise. `--8bit` text only when `eight_bit`
    /// (the server offers 8BITMIME).
    fn build(&self, eight_bit: bool) -> Result<(Envelope, Vec<u8>, String), Box<Outcome>> {
        let composed = line_spec(self.base, self.text)
            .and_then(|mut spec| {
                spec.eight_bit &= eight_bit;
                compose(&spec)
            })
            .map_err(|e| Box::new(failure(self.index, None, &e)))?;
        let id = composed.message_id;
        match self.delivery.finish(composed.bytes) {
            Ok(bytes) => Ok((composed.envelope, bytes, id)),
            Err(e) => Err(Box::new(failure(self.index, Some(id), &e))),
        }
    }
}

fn success(index: usize, message_id: Option<String>, code: Option<u16>) -> Outcome {
    Outcome {
        index,
        ok: true,
        message_id,
        code,
        error: None,
    }
}

/// A new connection when there is none or the last one broke.
fn reconnect(settings: &Settings, session: &mut Option<Session>) -> Result<(), SmtpError> {
    if session.as_ref().is_none_or(Session::is_broken) {
        *session = None;
        *session = Some(Session::connect(settings)?);
    }
    Ok(())
}

fn one(
    settings: Option<&Settings>,
    item: &Item<'_>,
    session: &mut Option<Session>,
    summary: &mut Summary,
) -> Outcome {
    let index = item.index;
    // Built before connecting (a bad line needs no server), for 8BITMIME when the server is
    // not known yet; rebuilt below if the one connected to lacks it.
    let mut assumed_8bit = session.as_ref().is_none_or(Session::offers_8bitmime);
    let (mut envelope, mut bytes, id) = match item.build(assumed_8bit) {
        Ok(built) => built,
        Err(outcome) => return *outcome,
    };
    let mut id = Some(id);
    let Some(settings) = settings else {
        return success(index, id, None);
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        if let Err(e) = reconnect(settings, session) {
            let outcome = failure(index, id, &e);
            summary.fatal = Some(e);
            return outcome;
        }
        let Some(s) = session.as_mut() else {
            continue;
        };
        if item.base.eight_bit && assumed_8bit && !s.offers_8bitmime() {
            match item.build(false) {
                Ok((e, b, i)) => (envelope, bytes, id) = (e, b, Some(i)),
                Err(outcome) => return *outcome,
            }
            assumed_8bit = false;
        }
        match s.send_with(&envelope, &bytes, &item.delivery.dsn) {
            Ok(reply) => return success(index, id, Some(reply.code)),
            Err(e) if attempts == 1 && s.is_broken() && !s.data_started() => {
                // The server dropped an idle connection (or said 421): open a new one and
                // try this message again.
                let _ = e;
            }
            Err(e) => return failure(index, id, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// stdout on a full disk.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::StorageFull))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_to_stdout_is_a_write_error() {
        let mut input = io::Cursor::new(b"{}\n".to_vec());
        let err = run(
            None,
            &MessageSpec::default(),
            &Delivery::default(),
            &mut input,
            "in.jsonl",
            &mut Full,
        )
        .expect_err("stdout is full");
        assert_eq!(err.exit_code(), crate::exit::code::WRITE, "{err}");
        assert!(err.to_string().contains("stdout"), "{err}");
    }
}
