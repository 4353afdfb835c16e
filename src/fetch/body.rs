//! Request bodies as recipes that can be opened again (a 307/308 redirect or a retry sends
//! the body once more): bytes, a file streamed from disk, or a multipart form whose file
//! parts are streamed. Nothing here reads a file part whole.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use super::FetchError;

/// The body of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RequestBody {
    #[default]
    None,
    /// `-d`, `--data-urlencode`, `--json`, several `--data-binary`: sent as is.
    Bytes {
        data: Vec<u8>,
        content_type: &'static str,
    },
    /// One `--data-binary @file`: streamed from disk.
    File {
        path: PathBuf,
        content_type: &'static str,
    },
    /// `-F`: multipart/form-data.
    Form(Vec<FormPart>),
}

/// One `-F` part: its content and curl's `;type=`, `;filename=`, `;headers=` and
/// `;encoder=` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    pub name: String,
    pub content: PartContent,
    /// `;filename=` (for a file part, else its own name is sent).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// `;headers=`: extra part header lines, as given.
    pub headers: Vec<String>,
    /// `;encoder=`: the Content-Transfer-Encoding header (the value is already encoded).
    pub encoder: Option<String>,
}

/// What a part carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartContent {
    /// A value (already encoded when `;encoder=base64`).
    Text(Vec<u8>),
    /// `@file`: streamed from disk.
    File(PathBuf),
}

impl FormPart {
    /// A part with no parameters.
    pub fn new(name: &str, content: PartContent) -> FormPart {
        FormPart {
            name: name.to_owned(),
            content,
            filename: None,
            content_type: None,
            headers: Vec::new(),
            encoder: None,
        }
    }

    /// The part's header block, as curl orders it: Content-Disposition, Content-Type,
    /// Content-Transfer-Encoding, then `;headers=`.
    fn head(&self, boundary: &str) -> String {
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            quote_param(&self.name)
        );
        let shown = self.filename.clone().or_else(|| match &self.content {
            PartContent::File(path) => Some(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            PartContent::Text(_) => None,
        });
        if let Some(f) = &shown {
            head.push_str(&format!("; filename=\"{}\"", quote_param(f)));
        }
        head.push_str("\r\n");
        let guessed = shown
            .as_ref()
            .and_then(|f| mime_guess::from_path(f).first_raw().map(str::to_owned));
        let ct = self.content_type.clone().or(guessed).or_else(|| {
            matches!(self.content, PartContent::File(_)).then(|| "application/octet-stream".into())
        });
        if let Some(ct) = ct {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if let Some(e) = &self.encoder {
            head.push_str(&format!("Content-Transfer-Encoding: {e}\r\n"));
        }
        for h in &self.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head
    }
}

/// An opened body: a reader and its exact length.
pub struct OpenBody {
    pub reader: Box<dyn Read + Send>,
    pub len: u64,
    pub content_type: Option<String>,
}

impl std::fmt::Debug for OpenBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenBody({} bytes)", self.len)
    }
}

impl RequestBody {
    pub fn is_none(&self) -> bool {
        matches!(self, RequestBody::None)
    }

    /// Opens the body for sending (again).
    pub fn open(&self) -> Result<OpenBody, FetchError> {
        match self {
            RequestBody::None => Ok(OpenBody {
                reader: Box::new(io::empty()),
                len: 0,
                content_type: None,
            }),
            RequestBody::Bytes { data, content_type } => Ok(OpenBody {
                len: data.len() as u64,
                reader: Box::new(Cursor::new(data.clone())),
                content_type: Some((*content_type).to_owned()),
            }),
            RequestBody::File { path, content_type } => {
                let (file, len) = open_file(path)?;
                Ok(OpenBody {
                    reader: Box::new(file),
                    len,
                    content_type: Some((*content_type).to_owned()),
                })
            }
            RequestBody::Form(parts) => open_form(parts, &boundary()),
        }
    }
}

fn open_file(path: &Path) -> Result<(File, u64), FetchError> {
    let read_err = |source| FetchError::Read {
        what: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    Ok((file, len))
}

fn boundary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mix = nanos ^ (u128::from(std::process::id()) << 64);
    format!(
        "------------------------{:016x}",
        (mix as u64) ^ (mix >> 64) as u64
    )
}

/// A form field name or file name inside a quoted header parameter, escaped as browsers
/// and curl do (`"` → %22, CR → %0D, LF → %0A).
fn quote_param(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn open_form(parts: &[FormPart], boundary: &str) -> Result<OpenBody, FetchError> {
    let mut reader: Box<dyn Read + Send> = Box::new(io::empty());
    let mut len = 0u64;
    let mut push = |r: Box<dyn Read + Send>, n: u64, reader: &mut Box<dyn Read + Send>| {
        let prev = std::mem::replace(reader, Box::new(io::empty()));
        *reader = Box::new(prev.chain(r));
        len += n;
    };
    for part in parts {
        let head = part.head(boundary).into_bytes();
        let n = head.len() as u64;
        push(Box::new(Cursor::new(head)), n, &mut reader);
        match &part.content {
            PartContent::Text(value) => {
                let n = value.len() as u64;
                push(Box::new(Cursor::new(value.clone())), n, &mut reader);
            }
            PartContent::File(path) => {
                let (file, flen) = open_file(path)?;
                push(Box::new(file.take(flen)), flen, &mut reader);
            }
        }
        push(Box::new(Cursor::new(b"\r\n".to_vec())), 2, &mut reader);
    }
    let tail = format!("--{boundary}--\r\n").into_bytes();
    let n = tail.len() as u64;
    push(Box::new(Cursor::new(tail)), n, &mut reader);
    Ok(OpenBody {
        reader,
        len,
        content_type: Some(format!("multipart/form-data; boundary={boundary}")),
    })
}

/// Percent-encodes everything but unreserved characters, as curl's `--data-urlencode`
/// (space becomes %20).
pub fn urlencode_component(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_streams_files_with_exact_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "hello").expect("write");
        let parts = vec![
            FormPart::new("k\"", PartContent::Text(b"v".to_vec())),
            FormPart::new("f", PartContent::File(path)),
        ];
        let mut body = open_form(&parts, "B").expect("open");
        let mut got = String::new();
        body.reader.read_to_string(&mut got).expect("read");
        assert_eq!(
            got,
            "--B\r\nContent-Disposition: form-data; name=\"k%22\"\r\n\r\nv\r\n\
             --B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhello\r\n--B--\r\n"
        );
        assert_eq!(body.len, got.len() as u64);
    }

    #[test]
    fn urlencode_is_curls() {
        assert_eq!(
            urlencode_component("a b&c=d/é".as_bytes()),
            "a%20b%26c%3Dd%2F%C3%A9"
        );
    }
}
