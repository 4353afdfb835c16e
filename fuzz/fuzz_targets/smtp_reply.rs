//! SMTP replies as postie reads them. Replies are parsed by postie itself, not by lettre:
//! `smtp::classify::parse_reply_line` reads each line (the session's `read_reply` loop
//! around it needs a socket and is private), and `reply_error` classifies a negative reply
//! by stage into an error kind and exit code. The DATA dot-stuffing writer is fuzzed here
//! too, against the POP3 reader's un-stuffing.
//!
//! Input: one selector byte (stage), then server text. Invariants beyond "no panic":
//! - a parsed reply line has a code 200..=599 and, written back, parses the same;
//! - a negative reply maps to an error that carries its code, with an exit code that is
//!   temporary (75) exactly for 4xx outside authentication-and-rejection classes;
//! - `write_dot_stuffed` + `.` terminator, un-stuffed, gives the body back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::pop3::codec::DotDecoder;
use postie::smtp::Reply;
use postie::smtp::classify::{Stage, parse_reply_line, reply_error};
use postie::smtp::transport::write_dot_stuffed;

const STAGES: [Stage; 5] = [
    Stage::Connect,
    Stage::Auth,
    Stage::Mail,
    Stage::Rcpt,
    Stage::Data,
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, input)) = postie_fuzz::selector(data) else {
        return;
    };
    let stage = STAGES[usize::from(sel) % STAGES.len()];
    let text = String::from_utf8_lossy(input);
    let mut texts = Vec::new();
    for line in text.split_inclusive('\n') {
        let Some((code, last, body)) = parse_reply_line(line) else {
            continue;
        };
        assert!((200..=599).contains(&code), "code {code} from {line:?}");
        let again = format!("{code}{}{body}\r\n", if last { ' ' } else { '-' });
        let again = if body.is_empty() && last {
            format!("{code}\r\n")
        } else {
            again
        };
        assert_eq!(
            parse_reply_line(&again),
            Some((code, last, body)),
            "{line:?}"
        );
        texts.push(body.to_owned());
        if code >= 400 {
            let reply = Reply {
                code,
                text: texts.join(" "),
            };
            let err = reply_error("fuzz.invalid", stage, "someone@example.org", reply);
            assert_eq!(err.reply_code(), Some(code));
            let exit = err.exit_code();
            assert!(exit != 0, "a failure that exits 0");
            if code >= 500 {
                assert_ne!(exit, 75, "a permanent {code} reported as temporary");
            } else {
                assert_eq!(exit, 75, "a temporary {code} not reported as temporary");
            }
        }
    }
    stuffing(input);
});

fn stuffing(body: &[u8]) {
    let mut body = body.to_vec();
    if !body.is_empty() && !body.ends_with(b"\n") {
        body.extend_from_slice(b"\r\n");
    }
    let mut wire = Vec::new();
    write_dot_stuffed(&mut wire, &body).expect("writing to memory");
    wire.extend_from_slice(b".\r\n");
    let mut decoder = DotDecoder::new();
    let mut out = Vec::new();
    let used = decoder.feed(&wire, &mut out);
    assert!(
        decoder.is_done() && used == wire.len(),
        "terminator misplaced"
    );
    assert_eq!(out, body, "dot-stuffing round trip");
}
