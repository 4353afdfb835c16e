//! Safe file names for saved attachments, decided from the sender's name and the MIME type.
//!
//! Pure: no file system here. The rules (issue 5): keep only the last component after `/` or
//! `\`; replace control characters and the characters Windows forbids; `.`, `..`, empty and
//! all-dot names become `attachment-N.<ext>`; no leading dot, no leading or trailing spaces;
//! at most [`MAX_NAME_BYTES`] bytes, cut on a UTF-8 boundary keeping the extension. Collisions
//! (` (1)`, ` (2)`...) are resolved by the caller with [`with_counter`].

/// The longest file name we write, in bytes (most file systems allow 255).
pub const MAX_NAME_BYTES: usize = 200;

/// Longest extension kept intact when a name is cut to [`MAX_NAME_BYTES`].
const MAX_EXT_BYTES: usize = 16;

/// The safe name for attachment number `n` (1-based) with sender-chosen `original` name.
pub fn safe_name(original: Option<&str>, mime_type: &str, n: usize) -> String {
    let cleaned = original.map(clean).unwrap_or_default();
    if cleaned.is_empty() {
        return fallback_name(mime_type, n);
    }
    truncate_keeping_extension(&cleaned, MAX_NAME_BYTES)
}

/// `attachment-N.<ext>` with the extension guessed from the MIME type.
pub fn fallback_name(mime_type: &str, n: usize) -> String {
    format!("attachment-{n}.{}", extension_for(mime_type))
}

/// A name made safe as one path component, or empty when nothing usable remains.
fn clean(original: &str) -> String {
    let last = original.rsplit(['/', '\\']).next().unwrap_or_default();
    let replaced: String = last
        .chars()
        .filter(|&c| !is_format_char(c))
        .map(replace_forbidden)
        .collect();
    // Windows drops trailing dots and spaces (so `a.txt.` would open `a.txt`).
    let trimmed = replaced
        .trim_matches(|c: char| c.is_whitespace())
        .trim_start_matches(['.', ' '])
        .trim_end_matches(|c: char| c.is_whitespace() || c == '.');
    if trimmed.is_empty() {
        return String::new();
    }
    if is_device_name(trimmed) {
        return format!("_{trimmed}");
    }
    trimmed.to_owned()
}

/// Windows device names (`CON`, `nul.txt`, `COM1.log`...): whatever the extension, such a
/// file opens the device, not a file.
fn is_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    match upper.as_bytes() {
        b"CON" | b"PRN" | b"AUX" | b"NUL" => true,
        [b'C', b'O', b'M', d] | [b'L', b'P', b'T', d] => (b'1'..=b'9').contains(d),
        _ => false,
    }
}

/// Unicode format characters (general category Cf): bidi overrides and isolates that make
/// `exe.txt` of `\u{202e}txt.exe`, zero-width joiners and spaces, the BOM, tag characters.
fn is_format_char(c: char) -> bool {
    matches!(u32::from(c),
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Control characters and `<>:"/\|?*` (forbidden on Windows) become `_`.
fn replace_forbidden(c: char) -> char {
    if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*') {
        '_'
    } else {
        c
    }
}

/// Splits `name` into stem and extension (with its dot); no extension when the dot is first.
pub fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= MAX_EXT_BYTES + 1 => name.split_at(i),
        _ => (name, ""),
    }
}

/// Cuts `name` to at most `max` bytes on a UTF-8 boundary, keeping a short extension.
pub fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, ext) = split_extension(name);
    let room = max.saturating_sub(ext.len());
    let stem = cut_at_boundary(stem, room).trim_end();
    format!("{stem}{ext}")
}

fn cut_at_boundary(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `name` with ` (k)` before its extension, still within [`MAX_NAME_BYTES`].
pub fn with_counter(name: &str, k: usize) -> String {
    if k == 0 {
        return name.to_owned();
    }
    let (stem, ext) = split_extension(name);
    let suffix = format!(" ({k}){ext}");
    let stem = cut_at_boundary(stem, MAX_NAME_BYTES.saturating_sub(suffix.len())).trim_end();
    format!("{stem}{suffix}")
}

/// A file extension for `mime_type`: a small table for the common cases, then mime_guess.
pub fn extension_for(mime_type: &str) -> &'static str {
    let lower = mime_type.to_ascii_lowercase();
    let known = match lower.as_str() {
        "text/plain" => Some("txt"),
        "text/html" => Some("html"),
        "text/csv" => Some("csv"),
        "text/calendar" => Some("ics"),
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        "image/svg+xml" => Some("svg"),
        "application/pdf" => Some("pdf"),
        "application/zip" => Some("zip"),
        "application/json" => Some("json"),
        "application/octet-stream" => Some("bin"),
        "message/rfc822" | "message/global" => Some("eml"),
        "application/msword" => Some("doc"),
        "audio/mpeg" => Some("mp3"),
        "video/mp4" => Some("mp4"),
        _ => None,
    };
    known
        .or_else(|| {
            mime_guess::get_mime_extensions_str(&lower)
                .and_then(|exts| exts.first().copied())
                .filter(|ext| ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .unwrap_or("bin")
}

/// A safe folder-name fragment from a subject or Message-ID: same rules, shorter, no dots
/// trimmed inside, spaces kept.
pub fn safe_fragment(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|&c| !is_format_char(c))
        .map(|c| {
            if c.is_whitespace() {
                ' '
            } else {
                replace_forbidden(c)
            }
        })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let cleaned = cleaned.trim_start_matches(['.', ' ']);
    cut_at_boundary(cleaned, max)
        .trim_end_matches([' ', '.'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_component() {
        assert_eq!(safe_name(Some("../../evil.sh"), "text/x-sh", 1), "evil.sh");
        assert_eq!(safe_name(Some("/abs/path"), "text/plain", 1), "path");
        assert_eq!(safe_name(Some("C:\\evil.bat"), "text/plain", 1), "evil.bat");
        assert_eq!(safe_name(Some("a/b\\c.txt"), "text/plain", 1), "c.txt");
        assert_eq!(safe_name(Some("dir/"), "image/png", 3), "attachment-3.png");
    }

    #[test]
    fn dots_and_empty_become_attachment_n() {
        for bad in ["", ".", "..", "...", " ", " . ", "../..", "/", "\\"] {
            assert_eq!(
                safe_name(Some(bad), "application/pdf", 2),
                "attachment-2.pdf",
                "{bad:?}"
            );
        }
        assert_eq!(safe_name(None, "image/jpeg", 1), "attachment-1.jpg");
        assert_eq!(safe_name(None, "x-weird/unknown", 4), "attachment-4.bin");
    }

    #[test]
    fn no_hidden_files_no_outer_spaces() {
        assert_eq!(safe_name(Some(".bashrc"), "text/plain", 1), "bashrc");
        assert_eq!(
            safe_name(Some("..hidden.txt"), "text/plain", 1),
            "hidden.txt"
        );
        assert_eq!(safe_name(Some("  a b.txt  "), "text/plain", 1), "a b.txt");
        assert_eq!(safe_name(Some(" . .x"), "text/plain", 1), "x");
    }

    #[test]
    fn format_characters_device_names_and_trailing_dots_go() {
        assert_eq!(
            safe_name(Some("invoice\u{202e}fdp.exe"), "a/b", 1),
            "invoicefdp.exe"
        );
        assert_eq!(
            safe_name(Some("a\u{200b}b\u{2066}c\u{feff}.txt"), "a/b", 1),
            "abc.txt"
        );
        assert_eq!(
            safe_name(Some("\u{202e}"), "text/plain", 2),
            "attachment-2.txt"
        );
        for (bad, good) in [
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("com1", "_com1"),
            ("LPT9.tar.gz", "_LPT9.tar.gz"),
            ("aux .log", "_aux .log"),
            ("PRN", "_PRN"),
        ] {
            assert_eq!(safe_name(Some(bad), "a/b", 1), good, "{bad}");
        }
        assert_eq!(safe_name(Some("console.txt"), "a/b", 1), "console.txt");
        assert_eq!(safe_name(Some("COM10"), "a/b", 1), "COM10");
        assert_eq!(safe_name(Some("report.pdf. . "), "a/b", 1), "report.pdf");
        assert_eq!(safe_name(Some("x..."), "a/b", 1), "x");
    }

    #[test]
    fn forbidden_and_control_characters_are_replaced() {
        assert_eq!(
            safe_name(Some("a<b>c:d\"e|f?g*h.txt"), "text/plain", 1),
            "a_b_c_d_e_f_g_h.txt"
        );
        assert_eq!(
            safe_name(Some("x\u{0}y\u{7}\r\n.bin"), "a/b", 1),
            "x_y___.bin"
        );
        assert_eq!(safe_name(Some("tab\there"), "a/b", 1), "tab_here");
        assert_eq!(safe_name(Some("del\u{7f}\u{85}"), "a/b", 1), "del__");
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(150));
        let safe = safe_name(Some(&long), "application/pdf", 1);
        assert!(safe.len() <= MAX_NAME_BYTES);
        assert!(safe.ends_with("é.pdf"), "{safe}");
        assert_eq!(safe.len(), 200);
        let odd = format!("a{}.pdf", "é".repeat(150));
        assert_eq!(
            safe_name(Some(&odd), "x/y", 1).len(),
            199,
            "a 2-byte char is not split"
        );
        let ascii = format!("{}.tar.gz", "a".repeat(300));
        let safe = safe_name(Some(&ascii), "application/gzip", 1);
        assert_eq!(safe.len(), 200);
        assert!(safe.ends_with("a.gz"));
        let noext = "b".repeat(300);
        assert_eq!(safe_name(Some(&noext), "a/b", 1), "b".repeat(200));
    }

    #[test]
    fn counters_go_before_the_extension_and_stay_short() {
        assert_eq!(with_counter("a.pdf", 0), "a.pdf");
        assert_eq!(with_counter("a.pdf", 1), "a (1).pdf");
        assert_eq!(with_counter("README", 2), "README (2)");
        let long = format!("{}.txt", "x".repeat(196));
        let c = with_counter(&long, 12);
        assert!(c.len() <= MAX_NAME_BYTES);
        assert!(c.ends_with(" (12).txt"));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_for("TEXT/PLAIN"), "txt");
        assert_eq!(extension_for("message/rfc822"), "eml");
        assert_eq!(extension_for("audio/mpeg"), "mp3");
        assert_eq!(extension_for("nonsense"), "bin");
        assert_eq!(split_extension(".x"), (".x", ""));
        assert_eq!(
            split_extension("a.verylongextensionthatisnt"),
            ("a.verylongextensionthatisnt", "")
        );
    }

    #[test]
    fn fragments() {
        assert_eq!(safe_fragment("Re: a/b  c\td", 60), "Re_ a_b c d");
        assert_eq!(safe_fragment("...x", 60), "x");
        assert_eq!(safe_fragment("Re: \u{202e}gpj.exe ...", 60), "Re_ gpj.exe");
        assert_eq!(safe_fragment(&"é".repeat(40), 7), "ééé");
    }
}
