//! The header rules postie enforces on top of lettre, for every header it writes: field
//! names are RFC 5322 `ftext`, no value the user gives holds a control character other than
//! TAB, address lists are folded between addresses, and no header line of the finished
//! message exceeds 998 octets.
//!
//! Why refuse control characters rather than RFC 2047-encode them: lettre passes most of
//! them (ESC, BEL, DEL...) through raw, and an encoded one is decoded again by the reader's
//! mail client and reaches its terminal all the same. A control character in a subject, a
//! name or a file name is a mistake or an attack, never content; a clear error is safer.
//! Why refuse an over-long line: RFC 5322 folds only at whitespace, so a word of about
//! 1000 octets cannot be folded without changing the value.

use lettre::message::header::{self, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes};

use super::{SmtpError, escape_char};

/// RFC 5322 2.1.1: a line is at most 998 octets, CRLF excluded.
pub const MAX_LINE: usize = 998;

/// Where postie folds address lists (RFC 5322's "SHOULD" limit).
const FOLD_AT: usize = 78;

/// lettre's limit on a field name's length.
const MAX_NAME: usize = 76;

/// Checks a header field name given by the user (`-H`, a batch line's `headers`): printable
/// US-ASCII 33..126 except colon (RFC 5322 `ftext`), so a name can never add a line.
pub fn check_field_name(flag: &str, name: &str) -> Result<(), SmtpError> {
    let bad = name.bytes().find(|b| !(33..=126).contains(b) || *b == b':');
    let why = match bad {
        _ if name.is_empty() => "empty header name".to_owned(),
        Some(b) => format!(
            "{} is not a header name: it holds {} (allowed: printable ASCII except colon, no spaces)",
            escaped(name),
            describe_byte(b)
        ),
        None if name.len() > MAX_NAME => format!(
            "{} is not a header name: longer than {MAX_NAME} characters",
            escaped(name)
        ),
        None => return Ok(()),
    };
    Err(SmtpError::usage(flag, why))
}

/// Checks text that goes into a header (`what` names it in the error): no control
/// character other than TAB, whether lettre would write it raw or encoded.
pub fn check_text(flag: &str, what: &str, value: &str) -> Result<(), SmtpError> {
    match value.chars().find(|c| c.is_control() && *c != '\t') {
        None => Ok(()),
        Some(c) => Err(SmtpError::usage(
            flag,
            format!(
                "{what} {} holds the control character {}: refused (no control characters but TAB go into a header)",
                escaped(value),
                escape_char(c)
            ),
        )),
    }
}

fn describe_byte(b: u8) -> String {
    match b {
        b' ' => "a space".to_owned(),
        b':' => "a colon".to_owned(),
        0x80.. => "a non-ASCII character".to_owned(),
        _ => escape_char(char::from(b)),
    }
}

/// `text` quoted for an error message, control characters escaped (Rust's debug form, as
/// postie's other messages quote input).
fn escaped(text: &str) -> String {
    format!("{text:?}")
}

/// lettre's encoding of one mailbox (RFC 2047 or quoted-string for the name, folded inside
/// the name where it has spaces).
fn encoded_mailbox(m: &Mailbox) -> String {
    let mut headers = Headers::new();
    headers.set(header::To::from(Mailboxes::from(m.clone())));
    let line = headers.to_string();
    line.strip_prefix("To: ")
        .and_then(|l| l.strip_suffix("\r\n"))
        .unwrap_or(&line)
        .to_owned()
}

/// An address-list header (To, Cc, Reply-To) folded between addresses at 78 octets: lettre
/// folds only inside display names, so a list of bare addresses would be one line of any
/// length.
pub fn address_header(name: &'static str, list: &[Mailbox]) -> HeaderValue {
    let mut encoded = String::new();
    let mut column = name.len() + 2;
    for (i, mailbox) in list.iter().enumerate() {
        let e = encoded_mailbox(mailbox);
        let first_line = e.find("\r\n").unwrap_or(e.len());
        if i > 0 {
            encoded.push(',');
            // ", " before it and room for the "," that may follow it.
            if column + 3 + first_line > FOLD_AT {
                encoded.push_str("\r\n ");
                column = 1;
            } else {
                encoded.push(' ');
                column += 2;
            }
        }
        encoded.push_str(&e);
        column = match e.rfind("\r\n") {
            Some(at) => e.len() - at - 2,
            None => column + e.len(),
        };
    }
    let raw = Mailboxes::from(list.to_vec()).to_string();
    HeaderValue::dangerous_new_pre_encoded(HeaderName::new_from_ascii_str(name), raw, encoded)
}

/// Which input a header comes from, to name it in an error.
fn flag_for(name: &str, part: &str) -> String {
    let flag = match name.to_ascii_lowercase().as_str() {
        "from" => "--from",
        "to" => "--to",
        "cc" => "--cc",
        "reply-to" => "--reply-to",
        "subject" => "--subject",
        "content-type" | "content-disposition" | "content-id" if !part.is_empty() => part,
        _ => "--header",
    };
    flag.to_owned()
}

/// Checks the encoded header block (`part` names the flag of a MIME part's headers, empty
/// for the message's own): every line at most 998 octets and free of control characters
/// but TAB. The last guard, whatever built the header.
pub fn check_block(headers: &Headers, part: &str) -> Result<(), SmtpError> {
    let text = headers.to_string();
    let mut field = "";
    for line in text.split("\r\n") {
        if !line.starts_with([' ', '\t']) {
            field = line.split(':').next().unwrap_or_default();
        }
        if line.len() > MAX_LINE {
            return Err(SmtpError::usage(
                flag_for(field, part),
                format!(
                    "the {field} header would have a line of {} octets, over the limit of {MAX_LINE}, and it cannot be folded (a word without spaces is too long)",
                    line.len()
                ),
            ));
        }
        if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(SmtpError::usage(
                flag_for(field, part),
                format!(
                    "the {field} header would hold the control character {}",
                    escape_char(c)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_ftext() {
        for good in ["X-Mailer", "List-Unsubscribe-Post", "x!#$%&'*+-.^_`|~"] {
            assert!(check_field_name("-H", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "X-A\r\nBcc",
            "X A",
            "X:A",
            "X\0A",
            "X\tA",
            "X-Ä",
            "X\x7f",
            &"x".repeat(77),
        ] {
            let err = check_field_name("-H", bad).expect_err(bad);
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(!text.contains(['\r', '\n', '\0', '\x7f']), "{text}");
        }
        let err = check_field_name("-H", "X-A\r\nBcc").expect_err("crlf");
        assert!(err.to_string().contains("\\x0d"), "{err}");
    }

    #[test]
    fn control_characters_in_values() {
        assert!(check_text("--subject", "the subject", "tab\tok, ünïcödé").is_ok());
        for bad in [
            "a\x1b[31mred",
            "bell\x07",
            "del\x7f",
            "c1\u{9b}",
            "nul\0",
            "lf\n",
        ] {
            let err = check_text("--subject", "the subject", bad).expect_err(bad);
            let text = err.to_string();
            assert!(text.starts_with("--subject: the subject"), "{text}");
            assert!(!text.chars().any(|c| c.is_control()), "{text}");
        }
    }

    fn mailboxes(n: usize, named: bool) -> Vec<Mailbox> {
        (0..n)
            .map(|i| {
                let text = if named {
                    format!("\"Person, No {i}\" <user{i}@example.org>")
                } else {
                    format!("user{i}@example.org")
                };
                text.parse().expect("mailbox")
            })
            .collect()
    }

    #[test]
    fn address_lists_fold_between_addresses() {
        for named in [false, true] {
            let list = mailboxes(200, named);
            let mut headers = Headers::new();
            headers.insert_raw(address_header("To", &list));
            let text = headers.to_string();
            assert!(text.lines().count() > 20, "{text}");
            for line in text.split("\r\n") {
                assert!(line.len() <= FOLD_AT, "{} octets: {line}", line.len());
            }
            // What a reader decodes: every name and address, in order.
            let message = format!("{text}\r\n");
            let parsed = mail_parser::MessageParser::default()
                .parse(message.as_bytes())
                .expect("parses");
            let got: Vec<(Option<String>, String)> = parsed
                .to()
                .expect("To")
                .iter()
                .map(|a| {
                    (
                        a.name().map(str::to_owned),
                        a.address().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let want: Vec<(Option<String>, String)> = list
                .iter()
                .map(|m| (m.name.clone(), m.email.to_string()))
                .collect();
            assert!(got == want, "{} addresses read back differ", got.len());
            assert!(check_block(&headers, "").is_ok());
        }
        let mut headers = Headers::new();
        headers.insert_raw(address_header("Cc", &mailboxes(2, false)));
        assert_eq!(
            headers.to_string(),
            "Cc: user0@example.org, user1@example.org\r\n"
        );
    }

    #[test]
    fn long_unfoldable_lines_are_refused() {
        let mut headers = Headers::new();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Subject"),
            "x".repeat(1200),
        ));
        let err = check_block(&headers, "").expect_err("too long");
        assert!(err.to_string().starts_with("--subject: "), "{err}");
        assert!(err.to_string().contains("998"), "{err}");
        let mut headers = Headers::new();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Words"),
            "word ".repeat(1000),
        ));
        assert!(check_block(&headers, "").is_ok(), "folds at spaces");
    }
}
