//! Saving the files that travel inside a part rather than as parts of their own: the files
//! of a TNEF part (winmail.dat), and the uuencoded and yEnc blocks of the text body (each
//! replaced in body.txt by a one-line marker naming its file). The readers are [`tnef`] and
//! [`uu`] (pure); this adds the policy (which parts, which names, what message.json says)
//! and writes through `save`'s writer, so the safe-name rules, the caps and the atomic
//! writes are the same as for every other attachment.

use mail_parser::Message;

use super::parse::{self, Leaf, Role};
use super::save::{AttachmentInfo, InnerFile, MessageWriter};
use super::{MailError, tnef, uu};

impl MessageWriter<'_> {
    /// The TNEF contents of `leaf` when it is a TNEF part and `--no-tnef` was not given.
    pub(super) fn tnef_of<'b>(
        &self,
        leaf: &Leaf<'_>,
        bytes: &'b [u8],
    ) -> Option<tnef::Contents<'b>> {
        if !self.options.tnef || !tnef::is_tnef_part(&leaf.mime_type, leaf.name.as_deref()) {
            return None;
        }
        tnef::read(bytes)
    }

    /// Why the TNEF part itself is not saved (`--no-tnef-container`), or `None` to save it. A
    /// damaged stream is always kept: the files read from it may not be all it holds.
    pub(super) fn container_dropped(&self, tnef: Option<&tnef::Contents<'_>>) -> Option<String> {
        let read_whole = tnef.is_some_and(|c| c.damage.is_none());
        (read_whole && !self.options.tnef_container)
            .then(|| "TNEF container (--no-tnef-container)".to_owned())
    }

    /// Saves the files of a TNEF part and lists them under its entry `att`.
    pub(super) fn save_tnef(&mut self, att: &mut AttachmentInfo, contents: tnef::Contents<'_>) {
        let part = att
            .saved_name
            .clone()
            .or_else(|| att.original_name.clone())
            .unwrap_or_else(|| "winmail.dat".to_owned());
        if let Some(damage) = contents.damage {
            att.encoding_problem = true;
            self.info.encoding_problem = true;
            self.fail(MailError::DamagedTnef {
                source_name: self.info.source.clone(),
                part: part.clone(),
                why: damage.to_string(),
            });
        }
        let mut files = Vec::with_capacity(contents.files.len() + 1);
        if let Some(rtf) = contents.rtf_compressed.filter(|_| self.options.tnef_body) {
            self.save_rtf_body(rtf, &part, &mut files);
        }
        for (i, file) in contents.files.into_iter().enumerate() {
            let mime_type = file
                .mime_type
                .unwrap_or_else(|| parse::type_from_name(file.name.as_deref()));
            let inner = InnerFile {
                name: file.name.as_deref(),
                mime_type,
                bytes: file.data,
                damaged: file.damaged,
            };
            let mut saved = self.save_inner(inner, i + 1);
            saved.created = file.created;
            saved.modified = file.modified;
            files.push(saved);
        }
        att.tnef = Some(files);
    }

    /// Saves a TNEF message's RTF body (`--tnef-body`) as `message.rtf`, the name Debian's
    /// `tnef --save-body` gives it, and lists it first among the part's files.
    fn save_rtf_body(&mut self, compressed: &[u8], part: &str, files: &mut Vec<AttachmentInfo>) {
        match tnef::decompress_rtf(compressed) {
            Ok(rtf) => {
                let inner = InnerFile {
                    name: Some("message.rtf"),
                    mime_type: "application/rtf".to_owned(),
                    bytes: &rtf,
                    damaged: false,
                };
                files.push(self.save_inner(inner, 1));
            }
            Err(damage) => self.fail(MailError::DamagedTnef {
                source_name: self.info.source.clone(),
                part: part.to_owned(),
                why: damage.to_string(),
            }),
        }
    }

    /// The body text for body.txt (when `write`), with the uuencoded and yEnc files in it
    /// saved (always, unless `--no-uudecode`) and each replaced by a marker line. The bool
    /// says whether the body's transfer encoding was damaged.
    pub(super) fn body_text<'m>(
        &mut self,
        msg: &'m Message<'m>,
        leaves: &[Leaf<'m>],
        write: bool,
    ) -> Option<(String, bool)> {
        let plain = leaves.iter().find(|l| l.role == Role::BodyText);
        let Some(leaf) = plain.filter(|_| self.options.uudecode) else {
            return write.then(|| parse::body_text(msg, leaves)).flatten();
        };
        let (bytes, problem) = parse::body_text_bytes(msg, leaf);
        let blocks = uu::find_blocks(&bytes);
        if blocks.is_empty() {
            return write.then(|| (parse::text_in_charset(leaf.part, &bytes), problem));
        }
        let markers: Vec<String> = blocks.iter().map(|b| self.save_block(b, &bytes)).collect();
        write.then(|| (with_markers(leaf, &bytes, &blocks, &markers), problem))
    }

    /// Saves a block's file; returns the marker line that stands for it in body.txt.
    fn save_block(&mut self, block: &uu::Block, bytes: &[u8]) -> String {
        let inner = InnerFile {
            name: Some(&block.name),
            mime_type: parse::type_from_name(Some(&block.name)),
            bytes: &block.data,
            damaged: block.damaged,
        };
        let n = self.info.attachments.len() + 1;
        let mut att = self.save_inner(inner, n);
        att.encoding = Some(block.encoding.as_str());
        let line = marker(block, &att, &bytes[..block.end]);
        self.info.attachments.push(att);
        line
    }
}

/// The body text with each block replaced by its marker line (built only for body.txt).
fn with_markers(leaf: &Leaf<'_>, bytes: &[u8], blocks: &[uu::Block], markers: &[String]) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut at = 0;
    for (block, line) in blocks.iter().zip(markers) {
        text.push_str(&parse::text_in_charset(leaf.part, &bytes[at..block.start]));
        text.push_str(line);
        at = block.end;
    }
    text.push_str(&parse::text_in_charset(leaf.part, &bytes[at..]));
    text
}

/// The line that stands in body.txt where a block was: `[uuencoded file: NAME]`, with the
/// block's own line break.
fn marker(block: &uu::Block, att: &AttachmentInfo, through_block: &[u8]) -> String {
    let kind = match block.encoding {
        uu::Encoding::Uuencode => "uuencoded",
        uu::Encoding::Yenc => "yEnc",
    };
    let name = match (&att.saved_name, &att.skipped) {
        (Some(saved), _) => saved.clone(),
        (None, Some(why)) => format!("{} (not saved: {why})", block.name.escape_debug()),
        (None, None) => format!("{} (not saved)", block.name.escape_debug()),
    };
    let damaged = if block.damaged { ", damaged" } else { "" };
    let eol = if through_block.ends_with(b"\r\n") {
        "\r\n"
    } else if through_block.ends_with(b"\n") {
        "\n"
    } else {
        ""
    };
    format!("[{kind} file: {name}{damaged}]{eol}")
}
