//! TNEF (`winmail.dat`, `application/ms-tnef`): the files Outlook and Exchange wrap inside
//! it, with their names, MIME types and dates (MS-OXTNEF). Pure and bounded: the input is
//! read through [`Reader`], which checks every length against what is left, so a hostile
//! stream can neither read past its end nor make postie allocate more than it holds.
//!
//! What is read, as Debian's `tnef` tool reads it: each attachment starts at its
//! `attAttachRendData`; its bytes are `attAttachData`, or the `PR_ATTACH_DATA_OBJ` MAPI
//! property (an embedded object: its 16-byte interface id dropped) when that comes later;
//! its name is `PR_ATTACH_LONG_FILENAME`, else the 8.3 `attAttachTitle`, else
//! `PR_ATTACH_FILENAME`, else `PR_DISPLAY_NAME`; its type `PR_ATTACH_MIME_TAG`; its dates
//! `PR_CREATION_TIME`/`PR_LAST_MODIFICATION_TIME` (UTC), else the `attAttachCreateDate` and
//! `attAttachModifyDate` attributes (local time of the sender, no zone). The message's RTF
//! body (`PR_RTF_COMPRESSED`) is kept compressed; [`decompress_rtf`] undoes its LZFu
//! compression (MS-OXRTFCP) for `--tnef-body`.

/// The signature every TNEF stream starts with (little-endian `0x223E9F78`).
const SIGNATURE: [u8; 4] = [0x78, 0x9f, 0x3e, 0x22];

/// At most this many files are read from one stream (each costs at least one attribute).
pub const MAX_FILES: usize = 4096;

const LEVEL_MESSAGE: u8 = 1;
const LEVEL_ATTACHMENT: u8 = 2;
const ATT_MAPI_PROPS: u16 = 0x9003;
const PR_RTF_COMPRESSED: u16 = 0x1009;
const ATT_ATTACH_DATA: u16 = 0x800f;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_CREATE_DATE: u16 = 0x8012;
const ATT_ATTACH_MODIFY_DATE: u16 = 0x8013;
const ATT_ATTACH_REND_DATA: u16 = 0x9002;
const ATT_ATTACHMENT: u16 = 0x9005;

const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_CREATION_TIME: u16 = 0x3007;
const PR_LAST_MODIFICATION_TIME: u16 = 0x3008;
const PR_ATTACH_DATA_OBJ: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_MIME_TAG: u16 = 0x370e;

const PT_STRING8: u16 = 0x001e;
const PT_UNICODE: u16 = 0x001f;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000d;
const PT_SYSTIME: u16 = 0x0040;
const MV_FLAG: u16 = 0x1000;

/// Why a stream could not be read to its end (what was read before is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TnefDamage {
    /// The stream ends inside an attribute or a property.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// An attribute's checksum does not match its bytes.
    #[error("bad checksum in the attribute at byte {0}")]
    Checksum(usize),
    /// A MAPI property of a type MS-OXTNEF does not define: the rest of its list is unreadable.
    #[error("unknown MAPI property type {0:#06x}")]
    PropertyType(u16),
    /// More than [`MAX_FILES`] attachments.
    #[error("more than {MAX_FILES} files")]
    TooManyFiles,
    /// The compressed RTF body is not LZFu (or stored) RTF, or ends early.
    #[error("unreadable compressed RTF body")]
    Rtf,
}

/// One file inside a TNEF stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TnefFile<'a> {
    /// The long name, else the 8.3 name, else the display name (as sent: not yet safe).
    pub name: Option<String>,
    pub mime_type: Option<String>,
    /// RFC 3339 (`Z` when TNEF gave UTC, no zone when it gave the sender's local time).
    pub created: Option<String>,
    pub modified: Option<String>,
    pub data: &'a [u8],
    /// True when an attribute of this file failed its checksum.
    pub damaged: bool,
}

/// What a TNEF stream holds: its files in order, and the damage that stopped the reading.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Contents<'a> {
    pub files: Vec<TnefFile<'a>>,
    pub damage: Option<TnefDamage>,
    /// The message body as compressed RTF (`PR_RTF_COMPRESSED`), when the stream has one.
    pub rtf_compressed: Option<&'a [u8]>,
}

/// Whether a part is TNEF by its label: `application/ms-tnef` (or `vnd.ms-tnef`), or named
/// `winmail.dat` / `win.dat` with a type that says nothing (as some gateways relabel it).
pub fn is_tnef_part(mime_type: &str, name: Option<&str>) -> bool {
    let generic = matches!(
        mime_type,
        "application/octet-stream" | "text/plain" | "application/unknown" | "application/x-unknown"
    );
    matches!(mime_type, "application/ms-tnef" | "application/vnd.ms-tnef")
        || (generic
            && name.is_some_and(|n| {
                n.eq_ignore_ascii_case("winmail.dat") || n.eq_ignore_ascii_case("win.dat")
            }))
}

/// True when `bytes` starts with the TNEF signature.
pub fn is_tnef(bytes: &[u8]) -> bool {
    bytes.starts_with(&SIGNATURE)
}

/// A cursor over the input; every read checks the length against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TnefDamage> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(TnefDamage::Truncated(self.bytes.len()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, TnefDamage> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, TnefDamage> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, TnefDamage> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed run of bytes, then padding to a multiple of 4.
    fn padded(&mut self) -> Result<&'a [u8], TnefDamage> {
        let len = self.u32()? as usize;
        let data = self.take(len)?;
        self.take((4 - len % 4) % 4)?;
        Ok(data)
    }

    fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

/// Reads the files of a TNEF stream; `None` when `bytes` is not one (no signature).
pub fn read(bytes: &[u8]) -> Option<Contents<'_>> {
    if !is_tnef(bytes) {
        return None;
    }
    let mut r = Reader { bytes, at: 6 };
    let mut contents = Contents::default();
    let mut files: Vec<Building<'_>> = Vec::new();
    while !r.is_empty() && contents.damage.is_none() {
        if let Err(damage) = attribute(&mut r, &mut files, &mut contents.rtf_compressed) {
            contents.damage = Some(damage);
        }
    }
    contents.files = files.into_iter().filter_map(Building::finish).collect();
    Some(contents)
}

/// A file while its attributes are read.
#[derive(Default)]
struct Building<'a> {
    file: TnefFile<'a>,
    has_data: bool,
    long_name: Option<String>,
    title: Option<String>,
    short_name: Option<String>,
    display_name: Option<String>,
    utc_created: Option<String>,
    utc_modified: Option<String>,
}

impl<'a> Building<'a> {
    /// The file, when it had bytes (a rendering with no data is no file, as for `tnef`).
    fn finish(self) -> Option<TnefFile<'a>> {
        if !self.has_data {
            return None;
        }
        let mut file = self.file;
        file.name = [
            self.long_name,
            self.title,
            self.short_name,
            self.display_name,
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty());
        file.created = self.utc_created.or(file.created);
        file.modified = self.utc_modified.or(file.modified);
        Some(file)
    }
}

/// Reads one attribute (level, id, length, data, checksum) into `files` (or, for the
/// message's MAPI properties, its compressed RTF body into `rtf`).
fn attribute<'a>(
    r: &mut Reader<'a>,
    files: &mut Vec<Building<'a>>,
    rtf: &mut Option<&'a [u8]>,
) -> Result<(), TnefDamage> {
    let start = r.at;
    let level = r.u8()?;
    let id = r.u32()?;
    let len = r.u32()? as usize;
    let data = r.take(len)?;
    let checksum = r.u16()?;
    let tag = (id & 0xffff) as u16;
    if level == LEVEL_MESSAGE && tag == ATT_MAPI_PROPS {
        return mapi_properties(data, &mut |id, ty, value| {
            if id == PR_RTF_COMPRESSED && ty == PT_BINARY {
                *rtf = Some(value);
            }
        });
    }
    if level != LEVEL_ATTACHMENT {
        return Ok(());
    }
    if tag == ATT_ATTACH_REND_DATA || files.is_empty() {
        if files.len() >= MAX_FILES {
            return Err(TnefDamage::TooManyFiles);
        }
        files.push(Building::default());
    }
    let Some(current) = files.last_mut() else {
        return Ok(());
    };
    let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
    if sum != checksum {
        current.file.damaged = true;
    }
    match tag {
        ATT_ATTACH_DATA => {
            current.file.data = data;
            current.has_data = true;
        }
        ATT_ATTACH_TITLE => current.title = Some(string8(data)),
        ATT_ATTACH_CREATE_DATE => current.file.created = trp_date(data),
        ATT_ATTACH_MODIFY_DATE => current.file.modified = trp_date(data),
        ATT_ATTACHMENT => mapi_properties(data, &mut |id, ty, value| {
            attachment_property(current, id, ty, value);
        })?,
        _ => {}
    }
    if sum != checksum {
        return Err(TnefDamage::Checksum(start));
    }
    Ok(())
}

/// Reads a MAPI property list (MS-OXTNEF 2.1.3.4), giving `each` the id, type and first
/// value of every property.
fn mapi_properties<'a>(
    data: &'a [u8],
    each: &mut dyn FnMut(u16, u16, &'a [u8]),
) -> Result<(), TnefDamage> {
    let mut r = Reader { bytes: data, at: 0 };
    let count = r.u32()?;
    for _ in 0..count {
        let ty = r.u16()?;
        let id = r.u16()?;
        if id >= 0x8000 {
            named_property_name(&mut r)?;
        }
        if let Some(value) = property_values(&mut r, ty)? {
            each(id, ty, value);
        }
    }
    Ok(())
}

/// One attachment property into `file`.
fn attachment_property<'a>(file: &mut Building<'a>, id: u16, ty: u16, value: &'a [u8]) {
    let text = || match ty {
        PT_UNICODE => Some(utf16(value)),
        PT_STRING8 => Some(string8(value)),
        _ => None,
    };
    match id {
        PR_ATTACH_LONG_FILENAME => file.long_name = text(),
        PR_ATTACH_FILENAME => file.short_name = text(),
        PR_DISPLAY_NAME => file.display_name = text(),
        PR_ATTACH_MIME_TAG => file.file.mime_type = text().filter(|t| !t.is_empty()),
        PR_CREATION_TIME if ty == PT_SYSTIME => file.utc_created = filetime(value),
        PR_LAST_MODIFICATION_TIME if ty == PT_SYSTIME => file.utc_modified = filetime(value),
        PR_ATTACH_DATA_OBJ if ty == PT_BINARY || ty == PT_OBJECT => {
            // An object starts with the 16-byte id of its interface (IID_IStorage...).
            let skip = if ty == PT_OBJECT { 16 } else { 0 };
            file.file.data = value.get(skip..).unwrap_or_default();
            file.has_data = true;
        }
        _ => {}
    }
}

/// The dictionary every LZFu stream starts from (MS-OXRTFCP 2.1.2.1).
const RTF_PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Undoes the compression of a `PR_RTF_COMPRESSED` value (MS-OXRTFCP): a 16-byte header
/// (sizes, `LZFu` or `MELA` for stored, CRC), then runs of 8 items under a control byte,
/// each a literal byte or a 12-bit offset and 4-bit length into a 4 KiB ring that starts
/// as [`RTF_PREBUF`]. The output is capped at the raw size the header gives.
pub fn decompress_rtf(data: &[u8]) -> Result<Vec<u8>, TnefDamage> {
    let mut r = Reader { bytes: data, at: 0 };
    let header = (|| Ok::<_, TnefDamage>((r.u32()?, r.u32()?, r.u32()?, r.u32()?)))();
    let (_comp_size, raw_size, kind, _crc) = header.map_err(|_| TnefDamage::Rtf)?;
    let body = &data[16..];
    let raw_size = raw_size as usize;
    match &kind.to_le_bytes() {
        b"MELA" => return Ok(body[..raw_size.min(body.len())].to_vec()),
        b"LZFu" => {}
        _ => return Err(TnefDamage::Rtf),
    }
    let mut ring = [0u8; 4096];
    ring[..RTF_PREBUF.len()].copy_from_slice(RTF_PREBUF);
    let mut write = RTF_PREBUF.len();
    let mut out = Vec::with_capacity(raw_size.min(body.len() * 8));
    let mut input = body.iter().copied();
    while let Some(control) = input.next() {
        for bit in 0..8 {
            if control >> bit & 1 == 0 {
                let Some(b) = input.next() else {
                    return Ok(out);
                };
                ring[write] = b;
                write = (write + 1) % 4096;
                out.push(b);
            } else {
                let (Some(hi), Some(lo)) = (input.next(), input.next()) else {
                    return Err(TnefDamage::Rtf);
                };
                let reference = u16::from_be_bytes([hi, lo]);
                let (offset, len) = (usize::from(reference >> 4), usize::from(reference & 15) + 2);
                if offset == write {
                    return Ok(out);
                }
                for k in 0..len {
                    let b = ring[(offset + k) % 4096];
                    ring[write] = b;
                    write = (write + 1) % 4096;
                    out.push(b);
                }
            }
            if out.len() >= raw_size {
                out.truncate(raw_size);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// Skips the GUID and name of a named property (id 0x8000 and up).
fn named_property_name(r: &mut Reader<'_>) -> Result<(), TnefDamage> {
    r.take(16)?;
    match r.u32()? {
        0 => {
            r.u32()?;
        }
        _ => {
            r.padded()?;
        }
    }
    Ok(())
}

/// Reads past the values of one property; its first value (raw bytes without padding), if
/// it has one.
fn property_values<'a>(r: &mut Reader<'a>, ty: u16) -> Result<Option<&'a [u8]>, TnefDamage> {
    let base = ty & !MV_FLAG;
    let variable = matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT);
    let size = match base {
        _ if variable => 0,
        0x0000 | 0x0001 => 0,
        0x0002 | 0x0003 | 0x0004 | 0x000a | 0x000b => 4,
        0x0005 | 0x0006 | 0x0007 | 0x0014 | PT_SYSTIME => 8,
        0x0048 => 16,
        _ => return Err(TnefDamage::PropertyType(ty)),
    };
    // Variable-length values always carry a count; fixed ones only when multi-valued.
    let count = if variable || ty & MV_FLAG != 0 {
        r.u32()? as usize
    } else {
        1
    };
    // Every value of a readable type takes bytes: a count larger than what is left could
    // hold is damage, found before anything is allocated or looped over for it.
    let per_value = if variable { 4 } else { size };
    let left = r.bytes.len() - r.at;
    let fits = match per_value {
        0 => count <= 1,
        n => count <= left / n,
    };
    if !fits {
        return Err(TnefDamage::Truncated(r.bytes.len()));
    }
    let mut first = None;
    for _ in 0..count {
        let value = if variable { r.padded()? } else { r.take(size)? };
        first.get_or_insert(value);
    }
    Ok(first)
}

/// An 8-bit string (Windows-1252, as Outlook writes them), up to its first NUL.
fn string8(data: &[u8]) -> String {
    let end = memchr::memchr(0, data).unwrap_or(data.len());
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&data[..end]);
    text.into_owned()
}

/// A UTF-16LE string, up to its first NUL.
fn utf16(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// A TNEF date (seven little-endian u16: year, month, day, hour, minute, second, weekday):
/// the sender's local time, so no zone.
fn trp_date(data: &[u8]) -> Option<String> {
    let f: Vec<u16> = data
        .chunks_exact(2)
        .take(6)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let &[y, mo, d, h, mi, s] = f.as_slice() else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::from(y), month, u8::try_from(d).ok()?).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(s).ok()?,
    )
    .ok()?;
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::new(date, t).format(&format).ok()
}

/// A FILETIME (100 ns since 1601-01-01 UTC) as RFC 3339.
fn filetime(data: &[u8]) -> Option<String> {
    let raw = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    const UNIX_EPOCH_AS_FILETIME_SECONDS: i64 = 11_644_473_600;
    let seconds = i64::try_from(raw / 10_000_000).ok()? - UNIX_EPOCH_AS_FILETIME_SECONDS;
    let t = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests;
