//! DKIM signing (RFC 6376) of a finished message: RSA-SHA256 and Ed25519-SHA256 (RFC 8463),
//! relaxed/relaxed canonicalization, the header fields RFC 6376 5.4.1 recommends (those
//! that identify the message and its content, over-signed so none can be added later).
//!
//! Why not lettre's `dkim` feature: it signs lettre's `Message` before it is formatted,
//! while postie signs the exact bytes it sends, saves and prints (after its own line-end
//! fixes and for prepared messages too), its default is simple/relaxed (lettre #927), and
//! it would bring the `rsa` and `ed25519-dalek` crates next to the OpenSSL postie already
//! links: the key parsing and the two signatures come from the openssl crate here. The
//! canonicalization and the header are pure and tested byte for byte; [`Signer::load`]
//! is the one function that reads a file.

use std::path::Path;

use base64::Engine as _;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKey, Private};

use super::SmtpError;

/// Header fields signed when present, in this order (RFC 6376 5.4.1).
const SIGNED: &[&str] = &[
    "from",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "resent-date",
    "resent-from",
    "resent-to",
    "resent-cc",
    "in-reply-to",
    "references",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-id",
    "content-description",
    "disposition-notification-to",
];

/// Signed once more than they occur, so a copy added in transit breaks the signature
/// (RFC 6376 8.15): the fields a reader sees.
const OVERSIGNED: &[&str] = &[
    "from",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
];

/// Fold the DKIM-Signature header before a line would pass this many octets.
const FOLD_AT: usize = 76;

/// The signing algorithm, from the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl Algorithm {
    fn tag(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }
}

/// A private key with the domain (`d=`) and selector (`s=`) it signs for.
#[derive(Clone)]
pub struct Signer {
    domain: String,
    selector: String,
    key: PKey<Private>,
    algorithm: Algorithm,
}

impl std::fmt::Debug for Signer {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl Signer {
    /// Reads the key file: refused when others may read it (exit 78, as a password in a
    /// shared config file is), unreadable (26), or not an RSA or Ed25519 key (78).
    pub fn load(path: &Path, domain: &str, selector: &str) -> Result<Signer, SmtpError> {
        match crate::config::shared_mode(path) {
            Ok(Some(mode)) => {
                return Err(SmtpError::DkimKeyUnsafe {
                    path: path.to_owned(),
                    mode,
                });
            }
            Ok(None) => {}
            Err(source) => {
                return Err(SmtpError::Read {
                    what: "--dkim-key",
                    path: path.to_owned(),
                    source,
                });
            }
        }
        let bytes = std::fs::read(path).map_err(|source| SmtpError::Read {
            what: "--dkim-key",
            path: path.to_owned(),
            source,
        })?;
        Signer::from_key(&bytes, domain, selector).map_err(|why| SmtpError::DkimKey {
            path: path.to_owned(),
            why,
        })
    }

    /// A signer from the key's text: PEM (PKCS#8, or PKCS#1 for RSA), or dkimpy's
    /// `dknewkey` Ed25519 format (the 32-byte seed in base64 on one line).
    pub fn from_key(text: &[u8], domain: &str, selector: &str) -> Result<Signer, String> {
        let key = parse_key(text)?;
        let algorithm = match key.id() {
            Id::RSA if key.bits() < 1024 => {
                return Err(format!(
                    "an RSA key of {} bits is too short (RFC 8301: at least 1024, 2048 advised)",
                    key.bits()
                ));
            }
            Id::RSA => Algorithm::RsaSha256,
            Id::ED25519 => Algorithm::Ed25519Sha256,
            _ => return Err("not an RSA or Ed25519 private key".to_owned()),
        };
        Ok(Signer {
            domain: dns_name("--dkim-domain", domain)?,
            selector: dns_name("--dkim-selector", selector)?,
            key,
            algorithm,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `message` with a DKIM-Signature field in front, signed now.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SmtpError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.sign_at(message, now)
    }

    /// [`sign`](Self::sign) with the signing time `t=` given.
    pub fn sign_at(&self, message: &[u8], time: u64) -> Result<Vec<u8>, SmtpError> {
        let failed = |e: openssl::error::ErrorStack| SmtpError::Compose(format!("DKIM: {e}"));
        let (head, body) = split_message(message);
        let fields = header_fields(head);
        let names = signed_names(&fields);
        let body_hash = hash(MessageDigest::sha256(), &relaxed_body(body)).map_err(failed)?;
        let unsigned = self.header_without_b(time, &names, &b64(&body_hash));
        let mut data = Vec::new();
        for field in pick_fields(&fields, &names) {
            data.extend_from_slice(&relaxed_header(field));
            data.extend_from_slice(b"\r\n");
        }
        // The signature's own field ends the data, without its CRLF (RFC 6376 3.7).
        data.extend_from_slice(&relaxed_header(unsigned.as_bytes()));
        let signature = self.signature(&data).map_err(failed)?;
        let mut out = Vec::with_capacity(message.len() + unsigned.len() + 400);
        out.extend_from_slice(unsigned.as_bytes());
        out.extend_from_slice(fold_b64(&b64(&signature), last_line_len(&unsigned)).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        Ok(out)
    }

    fn signature(&self, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        match self.algorithm {
            Algorithm::RsaSha256 => {
                let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &self.key)?;
                s.update(data)?;
                s.sign_to_vec()
            }
            // RFC 8463: PureEdDSA over the SHA-256 hash of the data.
            Algorithm::Ed25519Sha256 => {
                let digest = hash(MessageDigest::sha256(), data)?;
                openssl::sign::Signer::new_without_digest(&self.key)?.sign_oneshot_to_vec(&digest)
            }
        }
    }

    /// The DKIM-Signature field up to `b=` (empty), folded between tags.
    fn header_without_b(&self, time: u64, names: &[&str], body_hash: &str) -> String {
        let tags = [
            "v=1".to_owned(),
            format!("a={}", self.algorithm.tag()),
            "c=relaxed/relaxed".to_owned(),
            format!("d={}", self.domain),
            format!("s={}", self.selector),
            format!("t={time}"),
            format!("h={}", names.join(":")),
            format!("bh={body_hash}"),
            "b=".to_owned(),
        ];
        let mut out = String::from("DKIM-Signature:");
        let mut column = out.len();
        for (i, tag) in tags.iter().enumerate() {
            let last = i + 1 == tags.len();
            // h= may be folded after any colon (RFC 6376 3.5: FWS around its colons).
            let words: Vec<&str> = tag.split_inclusive(':').collect();
            for (j, word) in words.iter().enumerate() {
                let piece = if j + 1 == words.len() && !last {
                    format!("{word};")
                } else {
                    (*word).to_owned()
                };
                let joiner = usize::from(j == 0);
                if column + joiner + piece.len() > FOLD_AT {
                    out.push_str("\r\n\t");
                    column = 1;
                } else if j == 0 {
                    out.push(' ');
                    column += 1;
                }
                out.push_str(&piece);
                column += piece.len();
            }
        }
        out
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn last_line_len(text: &str) -> usize {
    text.rfind("\r\n")
        .map_or(text.len(), |at| text.len() - at - 2)
}

/// The signature's base64, folded so no line passes [`FOLD_AT`] (whitespace inside b= is
/// ignored by verifiers).
fn fold_b64(sig: &str, mut column: usize) -> String {
    let mut out = String::with_capacity(sig.len() + sig.len() / 32 * 3);
    let mut rest = sig;
    while !rest.is_empty() {
        let room = FOLD_AT.saturating_sub(column).max(1);
        if room < 8 && column > 1 {
            out.push_str("\r\n\t");
            column = 1;
            continue;
        }
        let take = room.min(rest.len());
        out.push_str(&rest[..take]);
        rest = &rest[take..];
        column += take;
        if !rest.is_empty() {
            out.push_str("\r\n\t");
            column = 1;
        }
    }
    out
}

fn parse_key(text: &[u8]) -> Result<PKey<Private>, String> {
    if let Ok(key) = PKey::private_key_from_pem(text) {
        return Ok(key);
    }
    let trimmed = String::from_utf8_lossy(text);
    let seed = base64::engine::general_purpose::STANDARD
        .decode(trimmed.trim())
        .map_err(|_| "not a PEM private key nor a base64 Ed25519 key".to_owned())?;
    if seed.len() != 32 {
        return Err("not a PEM private key nor a base64 Ed25519 key (32 bytes)".to_owned());
    }
    PKey::private_key_from_raw_bytes(&seed, Id::ED25519).map_err(|e| e.to_string())
}

/// A domain or selector: its A-labels, letters, digits, `-`, `_` and dots only.
fn dns_name(flag: &str, value: &str) -> Result<String, String> {
    let ascii = if value.is_ascii() {
        value.to_owned()
    } else {
        ::idna::domain_to_ascii(value).map_err(|_| format!("{flag} {value:?}: not a domain"))?
    };
    let ok = !ascii.is_empty()
        && ascii.len() <= 253
        && ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !ascii.starts_with('.')
        && !ascii.ends_with('.');
    if ok {
        Ok(ascii)
    } else {
        Err(format!("{flag} {value:?}: not a domain name"))
    }
}

/// The header block (without the blank line) and the body.
fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    if message.starts_with(b"\r\n") {
        return (b"", &message[2..]);
    }
    match memchr::memmem::find(message, b"\r\n\r\n") {
        Some(at) => (&message[..at + 2], &message[at + 4..]),
        None => (message, b""),
    }
}

/// Each field of a header block, its continuation lines included, without its last CRLF.
fn header_fields(head: &[u8]) -> Vec<&[u8]> {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        let Some(nl) = memchr::memchr(b'\n', &head[i..]) else {
            break;
        };
        let end = i + nl + 1;
        let continues = matches!(head.get(end), Some(b' ' | b'\t'));
        if !continues {
            let field = &head[start..end];
            let field = field.strip_suffix(b"\n").unwrap_or(field);
            fields.push(field.strip_suffix(b"\r").unwrap_or(field));
            start = end;
        }
        i = end;
    }
    if start < head.len() {
        fields.push(&head[start..]);
    }
    fields
}

fn field_name(field: &[u8]) -> String {
    let name = field.split(|&b| b == b':').next().unwrap_or(field);
    String::from_utf8_lossy(name).trim().to_ascii_lowercase()
}

/// The `h=` list: each recommended name as often as it occurs, the over-signed ones once
/// more.
fn signed_names(fields: &[&[u8]]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for &name in SIGNED {
        let count = fields.iter().filter(|f| field_name(f) == name).count();
        let extra = usize::from(OVERSIGNED.contains(&name));
        names.extend(std::iter::repeat_n(name, count + extra));
    }
    names
}

/// The fields `names` select, each name's instances from the last one up (RFC 6376
/// 5.4.2); a name with no instance left selects nothing (the null string).
fn pick_fields<'a>(fields: &[&'a [u8]], names: &[&str]) -> Vec<&'a [u8]> {
    let mut used = vec![false; fields.len()];
    let mut out = Vec::new();
    for name in names {
        let found = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && field_name(fields[i]) == *name);
        if let Some(i) = found {
            used[i] = true;
            out.push(fields[i]);
        }
    }
    out
}

/// Relaxed header canonicalization (RFC 6376 3.4.2), without the final CRLF.
pub fn relaxed_header(field: &[u8]) -> Vec<u8> {
    let colon = memchr::memchr(b':', field).unwrap_or(field.len());
    let mut out: Vec<u8> = field[..colon]
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect();
    out.push(b':');
    let value_start = out.len();
    let value = field.get(colon + 1..).unwrap_or(b"");
    let mut space = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && out.len() > value_start {
                    out.push(b' ');
                }
                space = false;
                out.push(b);
            }
        }
    }
    out
}

/// Relaxed body canonicalization (RFC 6376 3.4.4): runs of blanks as one space, none at a
/// line's end, no empty lines at the end; a non-empty body ends with CRLF.
pub fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    if body.ends_with(b"\n") {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    out.push(b' ');
                }
                space = false;
                out.push(b);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == b"\r\n" {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalization_rfc6376_example() {
        // RFC 6376 3.4.5.
        let head = b"A: X\r\nB : Y\t\r\n\tZ  \r\nC  :  p  q\r\n";
        let fields = header_fields(head);
        assert_eq!(fields[..2], [&b"A: X"[..], &b"B : Y\t\r\n\tZ  "[..]]);
        assert_eq!(relaxed_header(fields[2]), b"c:p q");
        assert_eq!(relaxed_header(fields[0]), b"a:X");
        assert_eq!(relaxed_header(fields[1]), b"b:Y Z");
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"x"), b"x\r\n");
    }

    #[test]
    fn oversigned_names_and_bottom_up_selection() {
        let head = b"From: a@x\r\nReceived: r\r\nTo: b@y\r\nX-Other: 1\r\nTo: c@y\r\n";
        let fields = header_fields(head);
        let names = signed_names(&fields);
        assert_eq!(
            names,
            [
                "from",
                "from",
                "reply-to",
                "subject",
                "date",
                "to",
                "to",
                "to",
                "cc",
                "message-id"
            ]
        );
        let picked = pick_fields(&fields, &names);
        assert_eq!(
            picked,
            [&b"From: a@x"[..], &b"To: c@y"[..], &b"To: b@y"[..]]
        );
    }

    #[test]
    fn the_signature_field_is_folded_and_keeps_the_message() {
        let key = PKey::generate_ed25519().expect("key");
        let pem = key.private_key_to_pem_pkcs8().expect("pem");
        let signer = Signer::from_key(&pem, "example.org", "s1").expect("signer");
        assert_eq!(signer.algorithm(), Algorithm::Ed25519Sha256);
        let message = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
        let signed = signer.sign_at(message, 1_700_000_000).expect("signed");
        let text = String::from_utf8(signed).expect("ascii");
        let (sig, rest) = text.split_at(text.find("From:").expect("from"));
        assert_eq!(rest.as_bytes(), message);
        assert!(
            sig.starts_with(
                "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\r\n\
                 \ts=s1; t=1700000000; h=from:from:reply-to:subject:subject:date:to:cc:\r\n\
                 \tmessage-id; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b="
            ),
            "{sig}"
        );
        assert!(sig.lines().all(|l| l.len() <= FOLD_AT + 2), "{sig}");
        // bh of "body\r\n".
        let bh = b64(&hash(MessageDigest::sha256(), b"body\r\n").expect("hash"));
        assert!(sig.contains(&format!("bh={bh};")), "{sig}");
    }

    #[test]
    fn keys_are_checked() {
        let seed = b64(&[7u8; 32]);
        let s = Signer::from_key(seed.as_bytes(), "bücher.example", "sel").expect("dkimpy format");
        assert_eq!(s.domain, "xn--bcher-kva.example");
        assert!(Signer::from_key(b"nonsense", "x.org", "s").is_err());
        let short = openssl::rsa::Rsa::generate(512).expect("rsa");
        let pem = short.private_key_to_pem().expect("pem");
        let e = Signer::from_key(&pem, "x.org", "s").expect_err("short");
        assert!(e.contains("512 bits"), "{e}");
        assert!(Signer::from_key(seed.as_bytes(), "x.org", "a;b").is_err());
    }

    /// RFC 8463 appendix A: its Ed25519 key, message and signature, byte for byte.
    #[test]
    fn rfc8463_ed25519_example() {
        let seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
        let signer =
            Signer::from_key(seed.as_bytes(), "football.example.com", "brisbane").expect("RFC key");
        let head = b"From: Joe SixPack <joe@football.example.com>\r\n\
To: Suzie Q <suzie@shopping.example.net>\r\n\
Subject: Is dinner ready?\r\n\
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n\
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n";
        let body = b"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n\r\n";
        let bh = b64(&hash(MessageDigest::sha256(), &relaxed_body(body)).expect("hash"));
        assert_eq!(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
        let fields = header_fields(head);
        let names = [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "from",
            "subject",
            "date",
        ];
        let mut data = Vec::new();
        for field in pick_fields(&fields, &names) {
            data.extend_from_slice(&relaxed_header(field));
            data.extend_from_slice(b"\r\n");
        }
        let sig = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n \
d=football.example.com; i=@football.example.com;\r\n \
q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n \
subject : date : message-id : from : subject : date;\r\n \
bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=";
        data.extend_from_slice(&relaxed_header(sig.as_bytes()));
        assert_eq!(
            b64(&signer.signature(&data).expect("sign")),
            "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="
        );
    }
}
