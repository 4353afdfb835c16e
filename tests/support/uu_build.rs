//! Writes uuencoded and yEnc blocks for tests, as `uuencode(1)` and yencode write them.
//! Shared by the block finder's unit tests (src/mail/uu/tests.rs includes this file) and
//! tests/unpack.rs.
#![allow(dead_code)]

/// uuencode as `uuencode(1)` writes it: 45 bytes a line, backquote for zero.
pub fn uuencode(name: &str, data: &[u8]) -> String {
    let ch = |v: u32| char::from(if v == 0 { b'`' } else { b' ' + v as u8 });
    let mut out = format!("begin 644 {name}\n");
    for line in data.chunks(45) {
        out.push(ch(line.len() as u32));
        for group in line.chunks(3) {
            let mut g = [0u8; 3];
            g[..group.len()].copy_from_slice(group);
            let v = u32::from(g[0]) << 16 | u32::from(g[1]) << 8 | u32::from(g[2]);
            for shift in [18, 12, 6, 0] {
                out.push(ch(v >> shift & 0x3f));
            }
        }
        out.push('\n');
    }
    out.push_str("`\nend\n");
    out
}

/// yEnc as yencode writes it: critical bytes escaped, 128 a line, size and CRC-32 at the end.
pub fn yencode(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("=ybegin line=128 size={} name={name}\n", data.len()).into_bytes();
    for (i, &b) in data.iter().enumerate() {
        let c = b.wrapping_add(42);
        if matches!(c, 0 | b'\n' | b'\r' | b'=') {
            out.extend_from_slice(&[b'=', c.wrapping_add(64)]);
        } else {
            out.push(c);
        }
        if i % 128 == 127 {
            out.push(b'\n');
        }
    }
    let end = format!(
        "\n=yend size={} crc32={:08x}\n",
        data.len(),
        crc32fast::hash(data)
    );
    out.extend_from_slice(end.as_bytes());
    out
}
