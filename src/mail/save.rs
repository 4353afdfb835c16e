//! Writing one message to disk: its folder (date + safe subject or Message-ID), body.txt,
//! body.html, every attachment under a safe name with create-new semantics and ` (N)` on a
//! collision, nested messages as `.eml` plus a subfolder, and message.json.
//!
//! Files are 0600 and folders 0700 (saved mail is private). Each file is written under a
//! hidden temporary name (created `O_CREAT|O_EXCL`) and moved under its final name without
//! replacing anything (`renameat2(RENAME_NOREPLACE)` or link), only once all its bytes are
//! written; no name holds a separator, so nothing outside the output folder is written and
//! nothing existing is replaced. Files are not fsynced one by one: unpacking is re-runnable
//! from its input, and an fsync per attachment would cost more than the parse.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::names::{self, with_counter};
use super::parse::{self, HeaderLine, Headers, Role};
use super::template::Fields;
use super::{MailError, UnpackOptions};
use crate::fsutil;

/// Names the message folder reserves for itself.
const RESERVED: [&str; 3] = ["body.txt", "body.html", "message.json"];

/// How many ` (N)` suffixes we try before giving up on a name.
const MAX_COUNTER: usize = 1_000_000;

/// message.json: what was read from one message and what was written for it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageInfo {
    /// Where the message came from (a path; `path#N` for the N-th message of an mbox).
    pub source: String,
    /// The folder its files went to, relative to the output folder (`.` with --flat).
    pub folder: PathBuf,
    #[serde(flatten)]
    pub headers: Headers,
    /// Every header in order, with `--headers`.
    #[serde(rename = "headers", skip_serializing_if = "Option::is_none")]
    pub all_headers: Option<Vec<HeaderLine>>,
    /// `body.txt` / `body.html` when written.
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    /// True when any part's bytes may be damaged (mail-parser's `is_encoding_problem`).
    pub encoding_problem: bool,
    pub attachments: Vec<AttachmentInfo>,
    /// Files that could not be written, as `path: cause`.
    pub errors: Vec<String>,
}

/// One saved (or skipped) attachment in message.json.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttachmentInfo {
    /// The file name written, or `None` when the part was skipped or could not be written.
    pub saved_name: Option<String>,
    /// Where it was written (not in message.json: the folder and saved name say it).
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// The name the sender gave, decoded, before sanitising.
    pub original_name: Option<String>,
    pub mime_type: String,
    pub size: usize,
    pub sha256: String,
    pub content_id: Option<String>,
    pub inline: bool,
    /// True when decoding this part hit a problem: its bytes may be damaged.
    pub encoding_problem: bool,
    /// Why it was not saved (`--no-inline`, ...), when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// For a message/rfc822 part unpacked with --recursive: what it held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<MessageInfo>>,
    /// `uuencode` or `yenc` for a file decoded out of the text body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// When the file was created and last modified, where TNEF says (RFC 3339; no zone when
    /// TNEF gave the sender's local time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// For a TNEF part (winmail.dat): the files inside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tnef: Option<Vec<AttachmentInfo>>,
}

/// A failure while unpacking that does not stop the rest of the message.
type Failures = Vec<MailError>;

/// What the messages of one run share: the folders and files it made (with `--overwrite`,
/// what existed before the run is replaced, what the run made is not), and with
/// `--to-stdout` the files taken instead of written.
#[derive(Debug, Default)]
pub struct Run {
    made: RefCell<HashSet<PathBuf>>,
    picked: Option<RefCell<Picked>>,
}

/// The files a `--to-stdout` run would write: how many, the first names, the first one's
/// bytes (only one is ever written to stdout, so only one is kept).
#[derive(Debug, Default)]
pub struct Picked {
    pub count: usize,
    pub names: Vec<String>,
    pub first: Option<Vec<u8>>,
}

impl Run {
    /// A run that keeps the files it would write instead of writing them.
    pub fn to_stdout() -> Run {
        Run {
            made: RefCell::default(),
            picked: Some(RefCell::default()),
        }
    }

    /// What a [`Run::to_stdout`] run picked.
    pub fn into_picked(self) -> Picked {
        self.picked.map(RefCell::into_inner).unwrap_or_default()
    }

    fn pick(&self, name: &str, bytes: &[u8]) -> bool {
        let Some(picked) = &self.picked else {
            return false;
        };
        let mut picked = picked.borrow_mut();
        picked.count += 1;
        if picked.names.len() < 10 {
            picked.names.push(name.to_owned());
        }
        if picked.count == 1 {
            picked.first = Some(bytes.to_vec());
        } else {
            picked.first = None;
        }
        true
    }

    /// Whether this run made `path` (recorded only with `--overwrite`).
    fn made_here(&self, path: &Path) -> bool {
        self.made.borrow().contains(path)
    }

    /// Records that this run made `path` (only `--overwrite` needs to know).
    fn record(&self, options: &UnpackOptions, path: &Path) {
        if options.overwrite {
            self.made.borrow_mut().insert(path.to_path_buf());
        }
    }
}

/// Unpacks `raw` into `out_dir` (which must exist). Returns what was written and the
/// failures met on the way; `Err` when the message itself could not be handled.
pub fn unpack_message(
    raw: &[u8],
    source: &str,
    out_dir: &Path,
    options: &UnpackOptions,
) -> Result<(MessageInfo, Failures), MailError> {
    unpack_message_in(raw, source, out_dir, options, &Run::default())
}

/// [`unpack_message`] as one message of the run `run`.
pub fn unpack_message_in(
    raw: &[u8],
    source: &str,
    out_dir: &Path,
    options: &UnpackOptions,
    run: &Run,
) -> Result<(MessageInfo, Failures), MailError> {
    let budget = Budget::default();
    let at = Level {
        out_dir,
        rel_dir: Path::new(""),
        depth: 0,
        budget: &budget,
        run,
    };
    unpack_nested(raw, source, &at, options)
}

/// What one top-level message (its nested messages included) has used of `--max-parts` and
/// `--max-bytes`.
#[derive(Debug, Default)]
struct Budget {
    parts: Cell<usize>,
    bytes: Cell<u64>,
    /// Set once a cap was reached (reported once; every later part is skipped).
    spent: Cell<bool>,
}

/// Where a (nested) message is unpacked: its parent folder, that folder relative to the top
/// output folder, how deep it is, and the top message's budget.
#[derive(Clone, Copy)]
struct Level<'a> {
    out_dir: &'a Path,
    rel_dir: &'a Path,
    depth: usize,
    budget: &'a Budget,
    run: &'a Run,
}

/// A nested message's bytes, kept while its parent's parse is dropped: a range of the
/// parent's raw bytes, or the decoded copy.
enum Nested {
    Range(usize, usize),
    Owned(Vec<u8>),
}

impl Nested {
    fn new(raw: &[u8], bytes: Cow<'_, [u8]>) -> Nested {
        match bytes {
            Cow::Owned(v) => Nested::Owned(v),
            Cow::Borrowed(b) => {
                let start = (b.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
                match raw.get(start..start.wrapping_add(b.len())) {
                    Some(r) if r.as_ptr() == b.as_ptr() => Nested::Range(start, start + b.len()),
                    _ => Nested::Owned(b.to_vec()),
                }
            }
        }
    }

    fn bytes<'r>(&'r self, raw: &'r [u8]) -> &'r [u8] {
        match self {
            Nested::Range(a, b) => raw.get(*a..*b).unwrap_or_default(),
            Nested::Owned(v) => v,
        }
    }
}

/// [`unpack_message`] for a message `at.depth` levels down. Its nested messages are unpacked
/// after its own parts are saved and its parse is dropped, so a chain of nested messages holds
/// one parse at a time, not one per level.
fn unpack_nested(
    raw: &[u8],
    source: &str,
    at: &Level<'_>,
    options: &UnpackOptions,
) -> Result<(MessageInfo, Failures), MailError> {
    let (mut writer, nested) = save_level(raw, source, at, options)?;
    for (index, bytes) in nested {
        if let Some(att) = writer.info.attachments.get_mut(index) {
            let mut att = std::mem::take(att);
            writer.descend(&mut att, bytes.bytes(raw), at);
            writer.info.attachments[index] = att;
        }
    }
    if writer.writes_extras() {
        writer.write_json();
    }
    Ok((writer.info, writer.failures))
}

/// Parses one message and saves its bodies and parts; returns the writer and the nested
/// messages still to unpack (by attachment index).
fn save_level<'o>(
    raw: &[u8],
    source: &str,
    at: &Level<'o>,
    options: &'o UnpackOptions,
) -> Result<(MessageWriter<'o>, Vec<(usize, Nested)>), MailError> {
    let msg = parse::parse(raw).ok_or_else(|| MailError::Parse {
        source_name: source.to_owned(),
        why: "no message headers found".to_owned(),
    })?;
    let leaves = parse::leaves(&msg);
    let headers = parse::headers(&msg);
    let templated = options.folder_template.is_some() || options.file_template.is_some();
    let fields = if templated {
        parse::template_fields(&msg)
    } else {
        Fields::default()
    };
    let (folder, rel_folder) = message_folder(&msg, &headers, &fields, at, options)?;
    let mut writer = MessageWriter {
        info: MessageInfo {
            source: source.to_owned(),
            folder: rel_folder,
            headers,
            all_headers: options.all_headers.then(|| parse::all_headers(&msg)),
            ..MessageInfo::default()
        },
        failures: Vec::new(),
        folder,
        options,
        budget: at.budget,
        run: at.run,
        fields,
    };
    writer.write_bodies(&msg, &leaves, writer.writes_extras());
    let saved = leaves.iter().filter(|leaf| match leaf.role {
        Role::Attachment | Role::Message => true,
        Role::ExtraText => options.include_text_parts,
        Role::BodyText | Role::BodyHtml => false,
    });
    let mut nested = Vec::new();
    for (i, leaf) in saved.enumerate() {
        let (att, bytes) = writer.save_part(&msg, leaf, i + 1);
        if let Some(bytes) = bytes {
            nested.push((writer.info.attachments.len(), Nested::new(raw, bytes)));
        }
        writer.info.attachments.push(att);
    }
    Ok((writer, nested))
}

/// The folder a message's files go to, and that folder relative to the output folder: a
/// new one named from the message (or `--folder-template`), or the output folder itself
/// with `--flat` and `--to-stdout`.
fn message_folder(
    msg: &mail_parser::Message<'_>,
    headers: &Headers,
    fields: &Fields,
    at: &Level<'_>,
    options: &UnpackOptions,
) -> Result<(PathBuf, PathBuf), MailError> {
    if options.flat || at.run.picked.is_some() {
        return Ok((at.out_dir.to_path_buf(), PathBuf::from(".")));
    }
    let name = match &options.folder_template {
        Some(t) => t.folder_name(fields),
        None => folder_name(msg, headers),
    };
    let folder = create_message_folder(at.out_dir, &name, options, at.run)?;
    let rel = at.rel_dir.join(folder.file_name().unwrap_or_default());
    Ok((folder, rel))
}

/// What is being written for one message: its folder, its message.json so far, and the
/// failures that do not stop the rest of it.
pub(super) struct MessageWriter<'o> {
    pub(super) info: MessageInfo,
    failures: Failures,
    folder: PathBuf,
    pub(super) options: &'o UnpackOptions,
    budget: &'o Budget,
    run: &'o Run,
    /// What `--file-template` fills its placeholders from.
    fields: Fields,
}

/// A file to save that is not a MIME part of its own: one found inside a part (TNEF
/// contents, a uuencoded block).
#[derive(Debug)]
pub(super) struct InnerFile<'b> {
    pub name: Option<&'b str>,
    pub mime_type: String,
    pub bytes: &'b [u8],
    /// Its bytes are only what could be decoded.
    pub damaged: bool,
}

impl MessageWriter<'_> {
    /// Whether body.txt, body.html and message.json are written (not with `--flat`,
    /// `--only-attachments` or `--to-stdout`).
    fn writes_extras(&self) -> bool {
        !self.options.flat && !self.options.only_attachments && self.run.picked.is_none()
    }

    /// Why a file is not written when the selection does not take it.
    fn not_selected(&self, mime_type: &str, name: Option<&str>) -> Option<String> {
        (!self.options.select.takes(mime_type, name))
            .then(|| "not selected (--type/--name)".to_owned())
    }

    /// The name a file is written under: its safe name, or `--file-template`'s.
    fn wanted_name(&self, safe_name: String, mime_type: &str, n: usize) -> String {
        match &self.options.file_template {
            Some(t) => t.file_name(&self.fields, &safe_name, mime_type, n),
            None => safe_name,
        }
    }

    /// body.txt (its uuencoded and yEnc files saved, see `inner.rs`) and body.html, when
    /// `write`; the files in the body are saved either way.
    fn write_bodies<'m>(
        &mut self,
        msg: &'m mail_parser::Message<'m>,
        leaves: &[parse::Leaf<'m>],
        write: bool,
    ) {
        if let Some((text, problem)) = self.body_text(msg, leaves, write) {
            self.damaged(problem, "body.txt");
            let place = Place {
                dir: &self.folder,
                options: self.options,
                run: self.run,
            };
            if write_reserved(&place, "body.txt", text.as_bytes(), &mut self.failures) {
                self.info.body_text = Some("body.txt".to_owned());
            }
        }
        if !write {
            return;
        }
        if let Some((html, problem)) = parse::body_html(msg, leaves) {
            self.damaged(problem, "body.html");
            let place = Place {
                dir: &self.folder,
                options: self.options,
                run: self.run,
            };
            if write_reserved(&place, "body.html", html.as_bytes(), &mut self.failures) {
                self.info.body_html = Some("body.html".to_owned());
            }
        }
    }

    /// Records that the part saved as `what` had a damaged transfer encoding: what decoded
    /// is saved, message.json says `encoding_problem`, and the run ends with exit 1.
    pub(super) fn damaged(&mut self, problem: bool, what: &str) {
        if problem {
            self.info.encoding_problem = true;
            self.fail(MailError::Damaged {
                source_name: self.info.source.clone(),
                part: what.to_owned(),
            });
        }
    }

    /// Saves the `n`-th saved part (or records why not) and the files inside a TNEF part;
    /// returns a nested message's bytes, to be unpacked into a subfolder.
    fn save_part<'m>(
        &mut self,
        msg: &'m mail_parser::Message<'m>,
        leaf: &parse::Leaf<'m>,
        n: usize,
    ) -> (AttachmentInfo, Option<Cow<'m, [u8]>>) {
        let (bytes, problem) = parse::decoded_bytes(msg, leaf);
        let mut att = AttachmentInfo {
            original_name: leaf.name.clone(),
            mime_type: leaf.mime_type.clone(),
            size: bytes.len(),
            sha256: hex_sha256(&bytes),
            content_id: leaf.content_id.clone(),
            inline: leaf.inline,
            encoding_problem: problem,
            ..AttachmentInfo::default()
        };
        if self.options.no_inline && leaf.inline && leaf.mime_type.starts_with("image/") {
            att.skipped = Some("inline image (--no-inline)".to_owned());
            return (att, None);
        }
        let tnef = self.tnef_of(leaf, &bytes);
        let not_saved = self
            .container_dropped(tnef.as_ref())
            .or_else(|| self.not_selected(&leaf.mime_type, leaf.name.as_deref()));
        if let Some(why) = not_saved {
            att.skipped = Some(why);
        } else {
            let safe = if leaf.role == Role::Message && leaf.name.is_none() {
                format!("message-{n}.eml")
            } else {
                names::safe_name(leaf.name.as_deref(), &leaf.mime_type, n)
            };
            let wanted_name = self.wanted_name(safe, &leaf.mime_type, n);
            self.write_file(&mut att, &wanted_name, &bytes, problem);
        }
        if let Some(contents) = tnef {
            self.save_tnef(&mut att, contents);
        }
        let nested = (leaf.role == Role::Message && self.options.recursive).then_some(bytes);
        (att, nested)
    }

    /// Saves a file found inside a part (`n`: its number for a generated name).
    pub(super) fn save_inner(&mut self, file: InnerFile<'_>, n: usize) -> AttachmentInfo {
        let mut att = AttachmentInfo {
            original_name: file.name.map(str::to_owned),
            size: file.bytes.len(),
            sha256: hex_sha256(file.bytes),
            encoding_problem: file.damaged,
            mime_type: file.mime_type,
            ..AttachmentInfo::default()
        };
        if let Some(why) = self.not_selected(&att.mime_type, file.name) {
            att.skipped = Some(why);
            return att;
        }
        let safe = names::safe_name(file.name, &att.mime_type, n);
        let wanted_name = self.wanted_name(safe, &att.mime_type, n);
        self.write_file(&mut att, &wanted_name, file.bytes, file.damaged);
        att
    }

    /// Writes `bytes` under `wanted_name` (or a free variant of it) within the caps, and
    /// records in `att` what was written, or why not.
    fn write_file(
        &mut self,
        att: &mut AttachmentInfo,
        wanted_name: &str,
        bytes: &[u8],
        problem: bool,
    ) {
        if let Some(why) = self.over_budget(bytes.len()) {
            att.skipped = Some(why);
            return;
        }
        if self.run.pick(wanted_name, bytes) {
            self.damaged(problem, wanted_name);
            att.saved_name = Some(wanted_name.to_owned());
            return;
        }
        let place = Place {
            dir: &self.folder,
            options: self.options,
            run: self.run,
        };
        match write_unique_in(&place, wanted_name, bytes, !self.options.flat) {
            Ok((name, path)) => {
                self.damaged(problem, &name);
                att.saved_name = Some(name);
                att.path = Some(path);
            }
            Err(e) => self.fail(e),
        }
    }

    /// Counts one more part of `len` bytes against the caps; `Some(why)` when it is over
    /// them (the first time, also an error naming the cap and the flag that raises it).
    fn over_budget(&mut self, len: usize) -> Option<String> {
        let budget = self.budget;
        let parts = budget.parts.get() + 1;
        let bytes = budget.bytes.get().saturating_add(len as u64);
        let why = if budget.spent.get() {
            "a cap was reached earlier in this message".to_owned()
        } else if parts > self.options.max_parts {
            format!("more than {} parts (--max-parts)", self.options.max_parts)
        } else if bytes > self.options.max_bytes {
            format!(
                "more than {} bytes written (--max-bytes)",
                self.options.max_bytes
            )
        } else {
            budget.parts.set(parts);
            budget.bytes.set(bytes);
            return None;
        };
        if !budget.spent.replace(true) {
            self.fail(MailError::Limit {
                source_name: self.info.source.clone(),
                why: format!("{why}: the rest of the message was not saved"),
            });
        }
        Some(why)
    }

    /// Unpacks the nested message `bytes` (saved as `att`) one level down, unless that
    /// would pass `--max-depth`.
    fn descend(&mut self, att: &mut AttachmentInfo, bytes: &[u8], at: &Level<'_>) {
        if at.depth >= self.options.max_depth {
            att.skipped = Some(format!(
                "nested deeper than {} levels: not unpacked",
                self.options.max_depth
            ));
            return;
        }
        let source = format!(
            "{} > {}",
            self.info.source,
            att.saved_name.as_deref().unwrap_or("part")
        );
        let down = Level {
            out_dir: &self.folder,
            rel_dir: &self.info.folder,
            depth: at.depth + 1,
            budget: self.budget,
            run: self.run,
        };
        match unpack_nested(bytes, &source, &down, self.options) {
            Ok((nested, nested_failures)) => {
                for e in nested_failures {
                    self.fail(e);
                }
                att.message = Some(Box::new(nested));
            }
            Err(e) => self.fail(e),
        }
    }

    /// Records a failure in message.json's `errors` and in what the caller reports.
    pub(super) fn fail(&mut self, e: MailError) {
        self.info.errors.push(e.to_string());
        self.failures.push(e);
    }

    fn write_json(&mut self) {
        match serde_json::to_vec_pretty(&self.info) {
            Ok(mut json) => {
                json.push(b'\n');
                let place = Place {
                    dir: &self.folder,
                    options: self.options,
                    run: self.run,
                };
                write_reserved(&place, "message.json", &json, &mut self.failures);
            }
            Err(e) => self.failures.push(MailError::Json(e.to_string())),
        }
    }
}

/// `YYYY-MM-DD_HHMMSS_<subject>` (UTC), falling back to the Message-ID, then `message`.
pub fn folder_name(msg: &mail_parser::Message<'_>, headers: &Headers) -> String {
    let date = parse::folder_date(msg).unwrap_or_else(|| "undated".to_owned());
    let label = headers
        .subject
        .as_deref()
        .map(|s| names::safe_fragment(s, 80))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            headers
                .message_id
                .as_deref()
                .map(|s| names::safe_fragment(s, 80))
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "message".to_owned());
    format!("{date}_{label}")
}

/// Creates a new folder `name` (or `name (N)`) in `parent`, mode 0700, never reusing one;
/// with `--overwrite`, a folder that existed before the run is reused.
fn create_message_folder(
    parent: &Path,
    name: &str,
    options: &UnpackOptions,
    run: &Run,
) -> Result<PathBuf, MailError> {
    let candidate = |k: usize| {
        if k == 0 {
            name.to_owned()
        } else {
            format!("{name} ({k})")
        }
    };
    let mut k = 0;
    while k < MAX_COUNTER {
        let path = parent.join(candidate(k));
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {
                run.record(options, &path);
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && options.overwrite => {
                let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
                if is_dir && !run.made_here(&path) {
                    run.record(options, &path);
                    return Ok(path);
                }
                k += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                k = next_free(parent, k, candidate);
            }
            Err(e) => return Err(MailError::Write { path, source: e }),
        }
    }
    Err(MailError::Write {
        path: parent.join(name),
        source: io::Error::from(io::ErrorKind::AlreadyExists),
    })
}

/// The next counter to try after `taken` was found in use: a free name found by doubling the
/// step and then halving the gap, so 8,000 files of one name cost about 30 look-ups each, not
/// 8,000 (taken names are normally 0..n; any free one will do when they are not).
fn next_free(dir: &Path, taken: usize, candidate: impl Fn(usize) -> String) -> usize {
    let exists = |k: usize| fs::symlink_metadata(dir.join(candidate(k))).is_ok();
    let (mut lo, mut step) = (taken, 1);
    let mut hi = loop {
        let k = lo.saturating_add(step);
        if k >= MAX_COUNTER {
            return MAX_COUNTER;
        }
        if !exists(k) {
            break k;
        }
        lo = k;
        step *= 2;
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Where a file is written: its folder, and what the run allows there.
struct Place<'a> {
    dir: &'a Path,
    options: &'a UnpackOptions,
    run: &'a Run,
}

/// Writes a reserved file (body.txt...) in a folder we just created (or, with
/// `--overwrite`, reused).
fn write_reserved(place: &Place<'_>, name: &str, bytes: &[u8], failures: &mut Failures) -> bool {
    match write_unique_from(place, name, bytes, 0, 1) {
        Ok(_) => true,
        Err(e) => {
            failures.push(e);
            false
        }
    }
}

/// Writes `bytes` to `dir/name`, or `dir/name (N)` if taken, 0600; never replaces a file
/// (with `--overwrite`, only a regular file that existed before the run). The bytes go to a
/// hidden temporary file first and are moved under their name only when all were written,
/// so a full disk leaves no short file under a final name.
fn write_unique_in(
    place: &Place<'_>,
    name: &str,
    bytes: &[u8],
    avoid_reserved: bool,
) -> Result<(String, PathBuf), MailError> {
    let start =
        usize::from(avoid_reserved && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)));
    write_unique_from(place, name, bytes, start, MAX_COUNTER)
}

/// [`write_unique_in`] trying counters `start..end`.
fn write_unique_from(
    place: &Place<'_>,
    name: &str,
    bytes: &[u8],
    start: usize,
    end: usize,
) -> Result<(String, PathBuf), MailError> {
    let dir = place.dir;
    let failed = |source| MailError::Write {
        path: dir.join(name),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".postie-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(fsutil::PRIVATE))
        .tempfile_in(dir)
        .map_err(failed)?;
    // On failure the temporary file is dropped, which removes it.
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .map_err(failed)?;
    let overwrite = place.options.overwrite;
    let mut k = start;
    while k < end {
        let candidate = with_counter(name, k);
        let path = dir.join(&candidate);
        if overwrite && place.run.made_here(&path) {
            k += 1;
            continue;
        }
        let replace = overwrite && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        let persisted = if replace {
            tmp.persist(&path)
        } else {
            tmp.persist_noclobber(&path)
        };
        match persisted {
            Ok(_) => {
                place.run.record(place.options, &path);
                return Ok((candidate, path));
            }
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                tmp = e.file;
                k = if overwrite {
                    k + 1
                } else {
                    next_free(dir, k, |k| with_counter(name, k))
                };
            }
            Err(e) => {
                return Err(MailError::Write {
                    path,
                    source: e.error,
                });
            }
        }
    }
    Err(failed(io::Error::from(io::ErrorKind::AlreadyExists)))
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Subject: a/b\nDate: Tue, 05 Mar 2024 14:30:00 +0100\n\
        Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n\
        --x\nContent-Type: text/plain; name=message.json\n\nnot the real one\n--x--\n";

    #[test]
    fn reserved_names_get_a_counter_and_the_folder_is_named_from_date_and_subject() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, failures) =
            unpack_message(MSG, "m", dir.path(), &UnpackOptions::default()).expect("unpacks");
        assert!(failures.is_empty());
        assert_eq!(info.folder, PathBuf::from("2024-03-05_133000_a_b"));
        assert_eq!(
            info.attachments[0].saved_name.as_deref(),
            Some("message (1).json")
        );
        let folder = dir.path().join(&info.folder);
        assert_eq!(
            fs::read(folder.join("message (1).json")).expect("attachment"),
            b"not the real one"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(folder.join("message.json")).expect("json"))
                .expect("valid");
        assert_eq!(json["subject"], "a/b");
    }

    #[test]
    fn a_missing_output_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let err = unpack_message(MSG, "m", &missing, &UnpackOptions::default())
            .expect_err("no such folder");
        assert!(matches!(err, MailError::Write { .. }));
        assert!(err.to_string().contains("nope"), "{err}");
        let flat = UnpackOptions {
            flat: true,
            ..UnpackOptions::default()
        };
        let (info, failures) = unpack_message(MSG, "m", &missing, &flat).expect("parsed");
        assert_eq!(failures.len(), 1, "the attachment could not be written");
        assert!(info.errors[0].contains("nope"));
        assert_eq!(info.attachments[0].saved_name, None);
    }

    #[test]
    fn headerless_input_is_a_parse_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = unpack_message(b"", "empty", dir.path(), &UnpackOptions::default())
            .expect_err("nothing to parse");
        assert_eq!(err.to_string(), "empty: no message headers found");
    }
}
