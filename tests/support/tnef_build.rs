//! Writes small TNEF streams (MS-OXTNEF) for tests: the signature, attributes with their
//! checksums, and attachment MAPI property lists. Shared by the TNEF reader's unit tests
//! (src/mail/tnef/tests.rs includes this file) and tests/unpack.rs.
#![allow(dead_code)]

pub const PR_DISPLAY_NAME: u16 = 0x3001;
pub const PR_ATTACH_DATA_OBJ: u16 = 0x3701;
pub const PR_ATTACH_FILENAME: u16 = 0x3704;
pub const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
pub const PR_ATTACH_MIME_TAG: u16 = 0x370e;
pub const PR_CREATION_TIME: u16 = 0x3007;

/// The signature and a legacy key: an empty stream.
pub fn stream() -> Vec<u8> {
    vec![0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00]
}

/// Appends one attribute (level 1 message, 2 attachment) with a correct checksum.
pub fn attr(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
    out.push(level);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_le_bytes());
    out.extend_from_slice(data);
    let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
    out.extend_from_slice(&sum.to_le_bytes());
}

fn padded(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
}

/// One variable-length MAPI property (`ty` 0x1e string, 0x1f UTF-16, 0x102 binary, 0x0d
/// object) with one value.
pub fn prop_bytes(ty: u16, id: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    padded(&mut out, value);
    out
}

/// A PT_STRING8 property, NUL-terminated as Outlook writes them.
pub fn prop_string(id: u16, value: &str) -> Vec<u8> {
    let mut v = value.as_bytes().to_vec();
    v.push(0);
    prop_bytes(0x001e, id, &v)
}

/// A PT_UNICODE property (UTF-16LE, NUL-terminated).
pub fn prop_unicode(id: u16, value: &str) -> Vec<u8> {
    let mut v: Vec<u8> = value.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend_from_slice(&[0, 0]);
    prop_bytes(0x001f, id, &v)
}

/// A fixed-size property (`ty` e.g. 0x03 long, 0x40 time) with its raw value.
pub fn prop_fixed(ty: u16, id: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (4 - value.len() % 4) % 4, 0);
    out
}

/// A property list: the count, then the properties.
pub fn props(list: &[Vec<u8>]) -> Vec<u8> {
    let mut out = u32::try_from(list.len())
        .expect("small")
        .to_le_bytes()
        .to_vec();
    for p in list {
        out.extend_from_slice(p);
    }
    out
}

/// Appends one attachment: its rendering, 8.3 title, data, and MAPI properties.
pub fn file(out: &mut Vec<u8>, title: Option<&str>, data: &[u8], mapi: &[Vec<u8>]) {
    attr(
        out,
        2,
        0x0006_9002,
        &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    if let Some(t) = title {
        let mut v = t.as_bytes().to_vec();
        v.push(0);
        attr(out, 2, 0x0001_8010, &v);
    }
    attr(out, 2, 0x0006_800f, data);
    if !mapi.is_empty() {
        attr(out, 2, 0x0006_9005, &props(mapi));
    }
}
