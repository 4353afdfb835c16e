//! `postie unpack` (src/mail): parsing with mail-parser, our decoders, safe names, and
//! saving into a folder; the mbox splitter.
//!
//! Input: one selector byte (unpack options), then a message. Each run unpacks into a fresh
//! `out` folder inside a fresh temporary folder. Invariants beyond "no panic":
//! - nothing is written outside `out` (the temporary folder holds `out` and nothing else)
//!   and no symlink is created;
//! - every saved attachment is a file directly in its message folder under `out`, named
//!   with its `saved_name`, whose size and SHA-256 are the ones message.json reports;
//! - a safe name is one plain path component: not empty, no `/`, `\`, NUL or other
//!   control character, no leading dot or space, not `.`/`..`, at most 200 bytes;
//! - base64 and quoted-printable text that encodes some bytes decodes to those bytes;
//! - the mbox splitter never returns more bytes than it read;
//! - the TNEF reader (on the input, and on the input after a TNEF signature) gives files
//!   whose bytes are slices of its input, at most `tnef::MAX_FILES` of them; the files of a
//!   winmail.dat in a message are on disk as message.json says;
//! - the compressed-RTF decoder (`--tnef-body`) never gives more than 9 bytes per input byte;
//! - the uuencode/yEnc finder gives blocks in order, inside the input, not overlapping, at
//!   most `uu::MAX_BLOCKS`; the input uuencoded or yEnc-encoded as a block comes back whole
//!   and undamaged.
#![no_main]

use std::fs;
use std::io::Cursor;
use std::path::Path;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use postie::mail::decode::{self, Transfer};
use postie::mail::mbox::MboxReader;
use postie::mail::{
    self, MessageInfo, UnpackOptions, names, parse, save, select, template, tnef, uu,
};

#[path = "../../tests/support/uu_build.rs"]
mod uu_build;

fuzz_target!(|data: &[u8]| {
    let Some((sel, raw)) = postie_fuzz::selector(data) else {
        return;
    };
    let options = UnpackOptions {
        flat: sel & 1 != 0,
        only_attachments: sel & 2 != 0,
        no_inline: sel & 4 != 0,
        include_text_parts: sel & 8 != 0,
        recursive: sel & 16 == 0,
        max_depth: usize::from(sel >> 5),
        ..UnpackOptions::default()
    };
    unpack(raw, &options);
    let text = String::from_utf8_lossy(raw);
    for line in text.lines().take(8) {
        check_name(&names::safe_name(Some(line), line, 1), line);
        check_name(
            &names::with_counter(&names::safe_name(Some(line), "", 2), 3),
            line,
        );
        let fragment = names::safe_fragment(line, 80);
        assert!(fragment.len() <= 80 && !fragment.contains(['/', '\\', '\0']));
        templates_and_patterns(line, &text);
    }
    decoders(raw);
    mbox(raw);
    inner_readers(raw);
});

/// `--file-template`/`--folder-template` built from a line of the input, filled with values
/// from the input, give safe names; `--name` patterns from it never panic.
fn templates_and_patterns(line: &str, text: &str) {
    let _ = select::fnmatch(line, text);
    let fields = template::Fields {
        date: Some(line.to_owned()),
        subject: Some(line.to_owned()),
        from: Some(text.chars().take(100).collect()),
        message_id: None,
    };
    for pattern in [line.to_owned(), format!("{{date}}{line}{{name}}")] {
        if let Ok(t) = template::Template::parse(&pattern, true) {
            check_name(&t.file_name(&fields, "a.pdf", "application/pdf", 1), line);
        }
        if let Ok(t) = template::Template::parse(&pattern, false) {
            let folder = t.folder_name(&fields);
            assert!(!folder.is_empty() && !folder.contains(['/', '\\', '\0']));
            assert!(folder.len() <= names::MAX_NAME_BYTES && !folder.starts_with('.'));
        }
    }
}

/// The TNEF reader and the uuencode/yEnc block finder on the raw input.
fn inner_readers(raw: &[u8]) {
    let mut stream = vec![0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00];
    stream.extend_from_slice(raw);
    for input in [raw, &stream[..]] {
        if let Some(contents) = tnef::read(input) {
            assert!(contents.files.len() <= tnef::MAX_FILES);
            let range = input.as_ptr_range();
            for file in &contents.files {
                let inside = file.data.is_empty()
                    || (range.contains(&file.data.as_ptr())
                        && file.data.as_ptr_range().end <= range.end);
                assert!(inside, "TNEF file bytes not from the input");
            }
        }
    }
    if let Ok(rtf) = tnef::decompress_rtf(raw) {
        // A back reference copies at most 17 bytes for 2 read: no run-away output.
        assert!(
            rtf.len() <= raw.len().saturating_mul(9),
            "RTF output out of bounds"
        );
    }
    let blocks = uu::find_blocks(raw);
    assert!(blocks.len() <= uu::MAX_BLOCKS);
    let mut at = 0;
    for b in &blocks {
        assert!(
            at <= b.start && b.start < b.end && b.end <= raw.len(),
            "block out of place"
        );
        at = b.end;
    }
    let name = "f.bin";
    let uu = uu_build::uuencode(name, raw);
    let found = uu::find_blocks(uu.as_bytes());
    assert_eq!(
        found.len(),
        usize::from(!raw.is_empty()),
        "uuencode round trip"
    );
    if let Some(b) = found.first() {
        assert_eq!(
            (b.data.as_slice(), b.damaged, b.end),
            (raw, false, uu.len())
        );
    }
    let y = uu_build::yencode(name, raw);
    let found = uu::find_blocks(&y);
    assert_eq!(found.len(), 1, "yEnc round trip");
    assert_eq!((found[0].data.as_slice(), found[0].damaged), (raw, false));
}

fn unpack(raw: &[u8], options: &UnpackOptions) {
    let dir = postie_fuzz::temp_dir();
    let out = dir.path().join("out");
    let result = mail::unpack_bytes(raw, "fuzz", &out, options);
    let entries: Vec<_> = fs::read_dir(dir.path())
        .expect("the temporary folder")
        .map(|e| e.expect("an entry").file_name())
        .collect();
    assert_eq!(entries, ["out"], "written outside the output folder");
    walk(&out);
    if let Ok(report) = result {
        check_info(&out, &report.message);
    }
}

/// No symlinks, and every name one safe component.
fn walk(dir: &Path) {
    for entry in fs::read_dir(dir).expect("a folder we made") {
        let entry = entry.expect("an entry");
        let kind = entry.file_type().expect("its type");
        assert!(!kind.is_symlink(), "a symlink: {:?}", entry.path());
        if kind.is_dir() {
            walk(&entry.path());
        }
    }
}

fn check_info(out: &Path, info: &MessageInfo) {
    for att in &info.attachments {
        if let Some(name) = &att.saved_name {
            check_name(name, att.original_name.as_deref().unwrap_or(""));
            let path = att.path.as_ref().expect("a saved attachment has a path");
            assert!(path.starts_with(out), "{path:?} outside {out:?}");
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some(name.as_str())
            );
            let bytes = fs::read(path).expect("the saved attachment");
            assert_eq!(bytes.len(), att.size, "size of {name}");
            assert_eq!(save::hex_sha256(&bytes), att.sha256, "sha256 of {name}");
        }
        if let Some(nested) = &att.message {
            check_info(out, nested);
        }
        if let Some(files) = &att.tnef {
            let inner = MessageInfo {
                attachments: files.clone(),
                ..MessageInfo::default()
            };
            check_info(out, &inner);
        }
    }
}

fn check_name(name: &str, from: &str) {
    assert!(!name.is_empty(), "empty name from {from:?}");
    assert!(name.len() <= names::MAX_NAME_BYTES, "{name:?} is too long");
    assert!(name != "." && name != "..", "{name:?} from {from:?}");
    assert!(
        !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control()),
        "{name:?} from {from:?}"
    );
    assert!(!name.starts_with(['.', ' ']), "{name:?} from {from:?}");
}

fn decoders(raw: &[u8]) {
    attachment_bytes(raw);
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut wrapped = Vec::new();
    for chunk in b64.as_bytes().chunks(76) {
        wrapped.extend_from_slice(chunk);
        wrapped.extend_from_slice(b"\r\n");
    }
    assert_eq!(
        decode::decode(&wrapped, Transfer::Base64),
        (raw.to_vec(), false),
        "base64"
    );
    assert_eq!(
        decode::decode_base64_lenient(raw),
        decode::decode_base64_bytewise(raw),
        "the fast base64 path and the bytewise one differ"
    );

    let mut qp = Vec::new();
    let mut column = 0;
    for &b in raw {
        if column >= 72 {
            qp.extend_from_slice(b"=\r\n");
            column = 0;
        }
        if b.is_ascii_alphanumeric() {
            qp.push(b);
            column += 1;
        } else {
            qp.extend_from_slice(format!("={b:02X}").as_bytes());
            column += 3;
        }
    }
    assert_eq!(decode::decode_qp(&qp), raw, "quoted-printable");
    let _ = decode::decode_qp(raw);
}

fn mbox(raw: &[u8]) {
    let mut reader = MboxReader::new(Cursor::new(raw));
    let mut total = 0;
    let mut message = Vec::new();
    while let Ok(true) = reader.read_message_into(&mut message) {
        total += message.len();
        assert!(total <= raw.len(), "the mbox reader made bytes up");
    }
}

/// A base64 attachment's saved bytes come from mail-parser's decoding where
/// `decode::is_canonical_base64` allows it, else from postie's own decoder: either way they
/// must be what postie's decoder (Python's rules) gives for the raw body.
fn attachment_bytes(body: &[u8]) {
    let mut msg = b"Content-Type: application/octet-stream\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(body);
    let Some(parsed) = parse::parse(&msg) else {
        return;
    };
    let leaves = parse::leaves(&parsed);
    let Some(leaf) = leaves.first() else {
        return;
    };
    let (saved, problem) = parse::decoded_bytes(&parsed, leaf);
    let raw = &msg[leaf.part.offset_body as usize..leaf.part.offset_end as usize];
    let (want, want_problem) = decode::decode(raw, Transfer::Base64);
    assert_eq!(saved.as_ref(), want.as_slice(), "saved bytes of {raw:?}");
    assert_eq!(problem, want_problem, "damage flag of {raw:?}");
}
