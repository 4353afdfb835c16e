//! Files sent inside a text body: uuencoded blocks (`begin 644 name` ... `end`) and yEnc
//! blocks (`=ybegin ... name=x` ... `=yend`, sizes and CRC-32 checked), as ripmime and
//! munpack find them. Pure: bytes in, blocks out; no file system here.
//!
//! A block is taken only when it starts as one: a `begin <octal mode> <name>` line followed
//! by a valid uuencoded line (so a sentence that starts with `begin` stays text), or a
//! `=ybegin` line with `size=` and `name=`. A block that goes wrong after that (a line that is
//! not uuencode, no `end`, a yEnc size or CRC that does not match) is kept as far as it
//! decodes and marked damaged. The search is one `memmem` scan for `begin ` (which `=ybegin `
//! contains): a body without those bytes pays that scan and nothing else.

/// At most this many blocks are taken from one body (each is at least two lines).
pub const MAX_BLOCKS: usize = 10_000;

/// How a block's file was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Uuencode,
    Yenc,
}

impl Encoding {
    /// The name message.json gives it (`"encoding"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Uuencode => "uuencode",
            Encoding::Yenc => "yenc",
        }
    }
}

/// One file found in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Where the block's first line starts in the body.
    pub start: usize,
    /// Just after its last line (and that line's line break).
    pub end: usize,
    pub encoding: Encoding,
    /// The name on its begin line (as sent: not yet safe).
    pub name: String,
    pub data: Vec<u8>,
    /// True when the block was cut short or failed its checks: `data` is what decoded.
    pub damaged: bool,
}

/// Every uuencoded and yEnc block of `text`, in order.
pub fn find_blocks(text: &[u8]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut from = 0;
    while out.len() < MAX_BLOCKS {
        let Some(found) = text
            .get(from..)
            .and_then(|t| memchr::memmem::find(t, b"begin "))
        else {
            break;
        };
        let at = from + found;
        let block = if at_line_start(text, at) {
            uu_block(text, at)
        } else if at >= 2 && &text[at - 2..at] == b"=y" && at_line_start(text, at - 2) {
            yenc_block(text, at - 2)
        } else {
            None
        };
        match block {
            Some(b) => {
                from = b.end.max(at + 1);
                out.push(b);
            }
            None => from = at + 1,
        }
    }
    out
}

fn at_line_start(text: &[u8], at: usize) -> bool {
    at == 0 || text[at - 1] == b'\n'
}

/// The line starting at `pos` (without its CR LF or LF) and where the next one starts.
fn line_at(text: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = text.get(pos..).unwrap_or_default();
    let (line, next) = match memchr::memchr(b'\n', rest) {
        Some(nl) => (&rest[..nl], pos + nl + 1),
        None => (rest, text.len()),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), next)
}

/// The name of a `begin <mode> <name>` line (mode: 1-4 octal digits).
fn uu_header(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"begin ")?.trim_ascii_start();
    let digits = rest
        .iter()
        .take_while(|b| (b'0'..=b'7').contains(b))
        .count();
    if !(1..=4).contains(&digits) || rest.get(digits) != Some(&b' ') {
        return None;
    }
    let name = rest[digits..].trim_ascii();
    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
}

/// Decodes one uuencoded line onto `out`; false (and nothing added) when it is not one: a
/// length character, then characters from ` ` to `` ` ``, at most one group more than that
/// many bytes need plus a checksum character. A `strict` line must carry all its bytes; any
/// other may be short (a mailer that strips trailing white space cuts the spaces that encode
/// zero bits at its end), the missing characters read as zero.
fn uu_line(line: &[u8], out: &mut Vec<u8>, strict: bool) -> bool {
    let Some((&first, chars)) = line.split_first() else {
        return false;
    };
    if !line.iter().all(|b| (b' '..=b'`').contains(b)) {
        return false;
    }
    let n = usize::from((first - b' ') & 0x3f);
    let min = if strict { (n * 4).div_ceil(3) } else { 0 };
    let max = n.div_ceil(3) * 4 + 1;
    if chars.len() < min || chars.len() > max {
        return false;
    }
    let value = |i: usize| u32::from(chars.get(i).map_or(0, |&c| (c - b' ') & 0x3f));
    let start = out.len();
    for g in 0..n.div_ceil(3) {
        let v =
            value(4 * g) << 18 | value(4 * g + 1) << 12 | value(4 * g + 2) << 6 | value(4 * g + 3);
        out.extend_from_slice(&v.to_be_bytes()[1..]);
    }
    out.truncate(start + n);
    true
}

fn uu_block(text: &[u8], at: usize) -> Option<Block> {
    let (header, mut pos) = line_at(text, at);
    let name = uu_header(header)?;
    let mut data = Vec::new();
    // The first line must be data: `begin 2 people` followed by prose is text.
    let (first, next) = line_at(text, pos);
    let first_len = first.first().map_or(0, |&c| c.wrapping_sub(b' ') & 0x3f);
    if first_len == 0 || !uu_line(first, &mut data, true) {
        return None;
    }
    pos = next;
    let damaged = loop {
        if pos >= text.len() {
            break true;
        }
        let (line, next) = line_at(text, pos);
        if line.trim_ascii_end() == b"end" {
            pos = next;
            break false;
        }
        if !line.is_empty() && !uu_line(line, &mut data, false) {
            break true;
        }
        pos = next;
    };
    Some(Block {
        start: at,
        end: pos,
        encoding: Encoding::Uuencode,
        name,
        data,
        damaged,
    })
}

/// The value of `key=` among a yEnc line's space-separated parameters (not `name`, which
/// runs to the end of the line).
fn yenc_param(line: &[u8], key: &str) -> Option<u64> {
    line.split(|&b| b == b' ')
        .find_map(|p| p.strip_prefix(key.as_bytes())?.strip_prefix(b"="))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| {
            u64::from_str_radix(v.trim(), if key.ends_with("crc32") { 16 } else { 10 }).ok()
        })
}

/// A `=ybegin` line: its size and name (`name=` is last and runs to the end of the line).
fn yenc_header(line: &[u8]) -> Option<(u64, String, bool)> {
    let params = line.strip_prefix(b"=ybegin ")?;
    let at = memchr::memmem::find(params, b"name=")?;
    let name = params[at + 5..].trim_ascii();
    let size = yenc_param(&params[..at], "size")?;
    let part = yenc_param(&params[..at], "part").is_some();
    (!name.is_empty()).then(|| (size, String::from_utf8_lossy(name).into_owned(), part))
}

/// Decodes one yEnc line onto `out`; false when an escape character ends the line.
fn yenc_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let mut escaped = false;
    for &b in line {
        if escaped {
            out.push(b.wrapping_sub(64).wrapping_sub(42));
            escaped = false;
        } else if b == b'=' {
            escaped = true;
        } else {
            out.push(b.wrapping_sub(42));
        }
    }
    !escaped
}

fn yenc_block(text: &[u8], at: usize) -> Option<Block> {
    let (header, mut pos) = line_at(text, at);
    let (size, name, is_part) = yenc_header(header)?;
    let mut data = Vec::new();
    let mut part_range = None;
    let (line, next) = line_at(text, pos);
    if is_part && line.starts_with(b"=ypart ") {
        part_range = Some((yenc_param(line, "begin"), yenc_param(line, "end")));
        pos = next;
    }
    let mut damaged = false;
    let mut trailer = None;
    while pos < text.len() {
        let (line, next) = line_at(text, pos);
        pos = next;
        if line.starts_with(b"=yend") {
            trailer = Some(line);
            break;
        }
        damaged |= !yenc_line(line, &mut data);
    }
    damaged |= !yenc_complete(trailer, &data, size, part_range);
    Some(Block {
        start: at,
        end: pos,
        encoding: Encoding::Yenc,
        name,
        data,
        damaged,
    })
}

type PartRange = Option<(Option<u64>, Option<u64>)>;

/// Whether a yEnc block is whole: its `=yend` came, the sizes agree, its CRC-32 (the part's
/// for a part) matches, and a part covers the whole file (a part alone is not the file).
fn yenc_complete(trailer: Option<&[u8]>, data: &[u8], size: u64, part: PartRange) -> bool {
    let Some(trailer) = trailer else {
        return false;
    };
    let len = data.len() as u64;
    let crc_key = if part.is_some() { "pcrc32" } else { "crc32" };
    let crc_ok = yenc_param(trailer, crc_key)
        .or_else(|| yenc_param(trailer, "crc32").filter(|_| part.is_none()))
        .is_none_or(|want| want == u64::from(crc32fast::hash(data)));
    let whole = match part {
        Some((begin, end)) => begin == Some(1) && end == Some(size) && len == size,
        None => len == size,
    };
    crc_ok && whole && yenc_param(trailer, "size") == Some(len)
}

#[cfg(test)]
mod tests;
