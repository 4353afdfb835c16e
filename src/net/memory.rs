//! Test-only in-memory streams: a session reads a script and its writes are recorded, so the
//! dialogue is checked byte for byte without a socket.

use std::io::{self, BufRead, Read, Write};

/// Reads from a script, records what is written. With `drip`, each read returns one byte, as
/// a slow network splits replies.
#[derive(Debug, Default)]
pub struct MemoryStream {
    pub input: io::Cursor<Vec<u8>>,
    pub output: Vec<u8>,
    drip: bool,
}

impl MemoryStream {
    pub fn new(script: &[u8]) -> MemoryStream {
        MemoryStream {
            input: io::Cursor::new(script.to_vec()),
            output: Vec::new(),
            drip: false,
        }
    }

    /// One byte per read.
    pub fn dripping(script: &[u8]) -> MemoryStream {
        MemoryStream {
            drip: true,
            ..MemoryStream::new(script)
        }
    }
}

impl Read for MemoryStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.drip {
            buf.len().min(1)
        } else {
            buf.len()
        };
        self.input.read(&mut buf[..n])
    }
}

impl BufRead for MemoryStream {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.input.fill_buf()?;
        Ok(if self.drip {
            &buf[..buf.len().min(1)]
        } else {
            buf
        })
    }
    fn consume(&mut self, n: usize) {
        self.input.consume(n)
    }
}

impl Write for MemoryStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
