//! The byte stream under a mail session: plain TCP or TLS over TCP, and a buffered reader
//! over it that is also a writer ([`BufStream`]), so a session can be generic over
//! `BufRead + Write` and still reach the socket for the STARTTLS/STLS upgrade.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The socket, plain or TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Stream {
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A buffered reader over one stream that also writes to it. Collecting writes (POP3) keeps
/// them until `flush`, so pipelined commands leave in one packet; write-through (SMTP) hands
/// each write to the stream at once, so a message streams through the caller's own buffer
/// without a second copy.
#[derive(Debug)]
pub struct BufStream<T: Read + Write> {
    reader: BufReader<T>,
    out: Vec<u8>,
    collect: bool,
}

impl<T: Read + Write> BufStream<T> {
    /// Collects writes until `flush`; reads through a 64 KiB buffer.
    pub fn new(inner: T) -> BufStream<T> {
        BufStream {
            reader: BufReader::with_capacity(64 * 1024, inner),
            out: Vec::new(),
            collect: true,
        }
    }

    /// Writes go straight to the stream; reads through the default (8 KiB) buffer.
    pub fn write_through(inner: T) -> BufStream<T> {
        BufStream {
            reader: BufReader::new(inner),
            out: Vec::new(),
            collect: false,
        }
    }

    /// What was read from the stream but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        self.reader.buffer()
    }

    pub fn get_ref(&self) -> &T {
        self.reader.get_ref()
    }

    /// The stream; anything buffered in either direction is dropped.
    pub fn into_inner(self) -> T {
        self.reader.into_inner()
    }
}

impl<T: Read + Write> Read for BufStream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<T: Read + Write> BufRead for BufStream<T> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.reader.consume(n)
    }
}

impl<T: Read + Write> Write for BufStream<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.collect {
            return self.reader.get_mut().write(buf);
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        let inner = self.reader.get_mut();
        if !self.out.is_empty() {
            inner.write_all(&self.out)?;
            self.out.clear();
        }
        inner.flush()
    }
}
