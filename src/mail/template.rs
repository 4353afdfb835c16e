//! `--folder-template` and `--file-template` (pure): a name made of literal text and
//! placeholders filled from the message, then put through the same safe-name rules as every
//! other name ([`names`]).
//!
//! Placeholders: `{date}` (`YYYY-MM-DD_HHMMSS` in UTC, as the default folder names),
//! `{day}` (`YYYY-MM-DD`), `{subject}`, `{from}` (the first From address, e.g.
//! `ann@example.org`; its display name when it has no address), `{message_id}` and, in a
//! file template only, `{name}` (the file's safe name, `attachment-N.<ext>` when the sender
//! gave none). A value that is missing (or empty once made safe) is a fixed word, so a name
//! never starts or ends with a bare separator by surprise: `undated`, `no-subject`,
//! `no-sender`, `no-message-id`. Each value is made safe on its own (no `/`, control
//! characters or `<>:"\|?*`; at most 80 bytes), then the whole name once more.

use super::names;

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Date,
    Day,
    Subject,
    From,
    MessageId,
    Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// The values a template is filled from, for one message.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// `YYYY-MM-DD_HHMMSS` (UTC).
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub message_id: Option<String>,
}

/// The longest value a placeholder puts into a name, in bytes.
const MAX_VALUE_BYTES: usize = 80;

impl Template {
    /// Parses `text`; `for_files` allows `{name}`. The error says what is wrong.
    pub fn parse(text: &str, for_files: bool) -> Result<Template, String> {
        if text.contains(['/', '\\', '\0']) {
            return Err("a template names one folder or file: no `/`, `\\` or NUL".to_owned());
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("{text:?}: `{{` without a closing `}}`"));
            };
            let field = match &rest[open + 1..open + close] {
                "date" => Field::Date,
                "day" => Field::Day,
                "subject" => Field::Subject,
                "from" => Field::From,
                "message_id" => Field::MessageId,
                "name" if for_files => Field::Name,
                other => return Err(unknown(other, for_files)),
            };
            pieces.push(Piece::Field(field));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        if pieces.is_empty() {
            return Err("an empty template".to_owned());
        }
        Ok(Template { pieces })
    }

    /// The folder name for a message with `fields` (`message` when nothing usable remains).
    pub fn folder_name(&self, fields: &Fields) -> String {
        let name = names::safe_fragment(&self.fill(fields, ""), names::MAX_NAME_BYTES);
        if name.is_empty() {
            "message".to_owned()
        } else {
            name
        }
    }

    /// The file name for a file whose safe name is `safe_name` (attachment number `n`).
    pub fn file_name(&self, fields: &Fields, safe_name: &str, mime_type: &str, n: usize) -> String {
        names::safe_name(Some(&self.fill(fields, safe_name)), mime_type, n)
    }

    fn fill(&self, fields: &Fields, safe_name: &str) -> String {
        let value = |v: Option<&str>, missing: &str| {
            let safe = v
                .map(|v| names::safe_fragment(v, MAX_VALUE_BYTES))
                .unwrap_or_default();
            if safe.is_empty() {
                missing.to_owned()
            } else {
                safe
            }
        };
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(Field::Date) => {
                    out.push_str(&value(fields.date.as_deref(), "undated"))
                }
                Piece::Field(Field::Day) => {
                    let day = fields.date.as_deref().and_then(|d| d.get(..10));
                    out.push_str(&value(day, "undated"));
                }
                Piece::Field(Field::Subject) => {
                    out.push_str(&value(fields.subject.as_deref(), "no-subject"));
                }
                Piece::Field(Field::From) => {
                    out.push_str(&value(fields.from.as_deref(), "no-sender"))
                }
                Piece::Field(Field::MessageId) => {
                    out.push_str(&value(fields.message_id.as_deref(), "no-message-id"));
                }
                Piece::Field(Field::Name) => out.push_str(safe_name),
            }
        }
        out
    }
}

fn unknown(field: &str, for_files: bool) -> String {
    let known = if for_files {
        "{date}, {day}, {subject}, {from}, {message_id}, {name}"
    } else {
        "{date}, {day}, {subject}, {from}, {message_id}"
    };
    format!("unknown placeholder {{{field}}}; known: {known}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            date: Some("2024-03-05_133000".into()),
            subject: Some("Re: a/b \u{202e}cod.exe".into()),
            from: Some("ann@example.org".into()),
            message_id: None,
        }
    }

    #[test]
    fn placeholders_are_filled_and_made_safe() {
        let t = Template::parse("{date}_{subject}", false).expect("valid");
        assert_eq!(
            t.folder_name(&fields()),
            "2024-03-05_133000_Re_ a_b cod.exe"
        );
        let f = Template::parse("{day}_{from}_{name}", true).expect("valid");
        assert_eq!(
            f.file_name(&fields(), "report.pdf", "application/pdf", 1),
            "2024-03-05_ann@example.org_report.pdf"
        );
    }

    #[test]
    fn missing_values_are_words() {
        let t = Template::parse("{date} {subject} {from} {message_id}", false).expect("ok");
        assert_eq!(
            t.folder_name(&Fields::default()),
            "undated no-subject no-sender no-message-id"
        );
        let dots = Fields {
            subject: Some("...".into()),
            ..Fields::default()
        };
        let t = Template::parse("{subject}", false).expect("ok");
        assert_eq!(t.folder_name(&dots), "no-subject");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("{name}", false).is_err());
        assert!(
            Template::parse("{nope}", true)
                .expect_err("unknown")
                .contains("{nope}")
        );
        assert!(Template::parse("{date", true).is_err());
        assert!(Template::parse("a/{date}", true).is_err());
        assert!(Template::parse("", true).is_err());
    }

    #[test]
    fn a_long_name_keeps_its_extension_and_a_dot_name_is_not_hidden() {
        let long = Fields {
            subject: Some("x".repeat(500)),
            ..fields()
        };
        let f = Template::parse("{subject}{subject}{subject}_{name}", true).expect("ok");
        let name = f.file_name(&long, "a.pdf", "application/pdf", 1);
        assert!(
            name.len() <= names::MAX_NAME_BYTES && name.ends_with(".pdf"),
            "{name}"
        );
        let f = Template::parse(".{name}", true).expect("ok");
        assert_eq!(
            f.file_name(&fields(), "a.pdf", "application/pdf", 1),
            "a.pdf"
        );
    }
}
