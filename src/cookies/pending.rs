//! Cookies read from files, waiting to be used: kept in file order with an index by domain,
//! so that a request looks only at the domains that can match its host, and saving writes
//! the untouched ones back where they were. The files' text is kept, and a cookie whose line
//! is in curl's exact form is kept as byte ranges into it (no allocation), written back by
//! copying the line. Which cookies match, and how responses change them, is
//! `cookie_store`'s business once a cookie has moved there.

use std::io::{self, Write};
use std::ops::Range;

use super::netscape::{self, Flags, Item, Line, LineError, Record, Spans};

/// The cookies of the files read, in file order. The files' text is kept whole, and a
/// cookie whose line is in curl's exact form (nearly all) is only where that line is: a big
/// jar costs its text and about 50 bytes a cookie, and writing such a cookie back copies
/// its line (runs of them in one piece).
#[derive(Debug, Default)]
pub struct FileCookies {
    /// The files one after the other (each ending with a newline).
    text: String,
    cookies: Vec<Entry>,
    /// Which cookies were handed to the store, by index.
    moved: Vec<bool>,
    /// Runs of consecutive cookies of one domain (files list a domain's cookies together),
    /// and the hash of each run's domain. A lookup scans the hashes: a few hundred KiB read
    /// in order, which costs less than building a hash map (random writes all over a
    /// megabyte) for the few lookups of a run.
    runs: Vec<Range<usize>>,
    run_hashes: Vec<u64>,
}

#[derive(Debug)]
enum Entry {
    /// A line in curl's exact form at `start` of the text.
    Exact {
        start: usize,
        spans: Spans,
    },
    Other(Box<Record>),
}

/// A file cookie's flags and (domain, path, name, value), borrowed.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub flags: Flags,
    pub fields: [&'a str; 4],
}

impl View<'_> {
    pub fn domain(&self) -> &str {
        self.fields[0]
    }

    pub fn path(&self) -> &str {
        self.fields[1]
    }

    pub fn name(&self) -> &str {
        self.fields[2]
    }
}

impl Line for View<'_> {
    fn parts(&self) -> (Flags, [&str; 4]) {
        (self.flags, self.fields)
    }
}

/// The domains a cookie must have to match `host`, each with whether host-only cookies
/// count: the host itself (all of its cookies), then each parent domain (domain cookies
/// only). An IP address is only itself.
pub fn candidate_domains(host: &str) -> impl Iterator<Item = (&str, bool)> {
    let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    let parents = host
        .match_indices('.')
        .map(move |(i, _)| &host[i + 1..])
        .filter(move |_| !is_ip);
    std::iter::once((host, true)).chain(parents.map(|d| (d, false)))
}

/// A quick hash of a domain (FxHash's step, 8 bytes at a time). Not for a hash table: a
/// file full of colliding domains only makes lookups compare more strings.
fn hash(domain: &str) -> u64 {
    let mut chunks = domain.as_bytes().chunks_exact(8);
    let mut h: u64 = domain.len() as u64;
    let mut add = |word: u64| h = (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        add(u64::from_le_bytes(word));
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    add(u64::from_le_bytes(last));
    h
}

fn line_of<'a>(text: &'a str, start: usize, spans: &Spans) -> &'a str {
    text.get(start..start + spans.line_len())
        .unwrap_or_default()
}

fn domain_of<'a>(text: &'a str, entry: &'a Entry) -> &'a str {
    match entry {
        Entry::Exact { start, spans } => spans.domain(line_of(text, *start, spans)),
        Entry::Other(r) => &r.domain,
    }
}

fn view<'a>(text: &'a str, entry: &'a Entry) -> View<'a> {
    match entry {
        Entry::Exact { start, spans } => {
            let line = line_of(text, *start, spans);
            View {
                flags: spans.flags(),
                fields: spans.fields(line),
            }
        }
        Entry::Other(r) => {
            let (flags, fields) = r.parts();
            View { flags, fields }
        }
    }
}

impl FileCookies {
    /// Parses the text of a file and adds the cookies `keep` accepts; returns the lines
    /// skipped (1-based number, why). The cookies added are `len()` before to `len()` after.
    pub fn load(&mut self, text: String, keep: impl Fn(&Flags) -> bool) -> Vec<(usize, LineError)> {
        let base = self.text.len();
        if base == 0 {
            self.text = text;
        } else {
            self.text.push_str(&text);
        }
        if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        // About 80 bytes a line, and a domain has a few: one allocation each instead of a
        // doubling series.
        let lines = self.text.len().saturating_sub(base) / 64;
        self.cookies.reserve(lines);
        self.runs.reserve(lines / 2);
        self.run_hashes.reserve(lines / 2);
        let Self {
            text,
            cookies,
            runs,
            run_hashes,
            ..
        } = self;
        let file = text.get(base..).unwrap_or_default();
        let skipped = netscape::parse_items(file, |item| {
            let entry = match item {
                Item::Exact { start, spans } if keep(&spans.flags()) => Entry::Exact {
                    start: base + start,
                    spans,
                },
                Item::Other(r) if keep(&r.parts().0) => Entry::Other(Box::new(r)),
                _ => return,
            };
            let i = cookies.len();
            let domain = domain_of(text, &entry);
            let same_as_last = runs.last().is_some_and(|run| run.end == i)
                && cookies
                    .last()
                    .is_some_and(|last| domain_of(text, last) == domain);
            if same_as_last {
                if let Some(run) = runs.last_mut() {
                    run.end = i + 1;
                }
            } else {
                runs.push(i..i + 1);
                run_hashes.push(hash(domain));
            }
            cookies.push(entry);
        });
        self.moved.resize(self.cookies.len(), false);
        skipped
    }

    /// The indexes of the cookies whose domain is `domain`, in file order.
    pub fn indexes_of<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = usize> + 'a {
        let h = hash(domain);
        self.run_hashes
            .iter()
            .zip(&self.runs)
            .filter(move |(rh, _)| **rh == h)
            .map(|(_, run)| run.clone())
            .filter(move |range| {
                self.cookies
                    .get(range.start)
                    .is_some_and(|c| domain_of(&self.text, c) == domain)
            })
            .flatten()
    }

    /// The waiting cookies that could match `host`, with their index.
    pub fn candidates<'a>(&'a self, host: &'a str) -> impl Iterator<Item = (usize, View<'a>)> {
        candidate_domains(host)
            .flat_map(move |(d, exact)| {
                self.indexes_of(d)
                    .map(move |i| (i, self.get(i)))
                    .filter(move |(_, r)| exact || r.flags.include_subdomains)
            })
            .filter(|(i, _)| !self.moved[*i])
    }

    /// Marks the cookies that could match `host` as moved and returns copies of them, with
    /// their index.
    pub fn take(&mut self, host: &str) -> Vec<(usize, Record)> {
        let taken: Vec<usize> = self.candidates(host).map(|(i, _)| i).collect();
        self.take_indexes(taken)
    }

    /// Marks the waiting cookies whose domain `wanted` accepts as moved and returns copies of
    /// them, with their index (a scan of the domains, not of every cookie).
    pub fn take_domains(&mut self, wanted: impl Fn(&str) -> bool) -> Vec<(usize, Record)> {
        let taken: Vec<usize> = self
            .runs
            .iter()
            .filter(|run| {
                self.cookies
                    .get(run.start)
                    .is_some_and(|c| wanted(domain_of(&self.text, c)))
            })
            .flat_map(|run| run.clone())
            .filter(|&i| !self.moved(i))
            .collect();
        self.take_indexes(taken)
    }

    fn take_indexes(&mut self, indexes: Vec<usize>) -> Vec<(usize, Record)> {
        indexes
            .into_iter()
            .map(|i| {
                if let Some(m) = self.moved.get_mut(i) {
                    *m = true;
                }
                (i, self.get(i).to_record())
            })
            .collect()
    }

    /// The flags of cookie `i`.
    pub fn flags(&self, i: usize) -> Option<Flags> {
        Some(match self.cookies.get(i)? {
            Entry::Exact { spans, .. } => spans.flags(),
            Entry::Other(r) => r.parts().0,
        })
    }

    /// Whether cookie `i` moved to the store.
    pub fn moved(&self, i: usize) -> bool {
        self.moved.get(i).copied().unwrap_or(false)
    }

    pub fn get(&self, i: usize) -> View<'_> {
        match self.cookies.get(i) {
            Some(entry) => view(&self.text, entry),
            None => View {
                flags: Flags {
                    http_only: false,
                    include_subdomains: false,
                    secure: false,
                    expires: None,
                },
                fields: [""; 4],
            },
        }
    }

    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Writes cookie `i` in curl's form. A line in that form already is copied: `run` is
    /// the part of the text written but not yet copied, extended while lines follow one
    /// another in the text; [`FileCookies::flush`] copies it.
    pub fn write(&self, i: usize, run: &mut Range<usize>, out: &mut dyn Write) -> io::Result<()> {
        match self.cookies.get(i) {
            // The text ends with a newline, so each line is followed by one.
            Some(&Entry::Exact { start, spans }) => {
                let end = start + spans.line_len() + 1;
                if run.end != start {
                    self.flush(run, out)?;
                    run.start = start;
                }
                run.end = end;
                Ok(())
            }
            Some(Entry::Other(r)) => {
                self.flush(run, out)?;
                r.write_line(out)
            }
            None => Ok(()),
        }
    }

    /// Copies what [`FileCookies::write`] left in `run`.
    pub fn flush(&self, run: &mut Range<usize>, out: &mut dyn Write) -> io::Result<()> {
        if let Some(bytes) = self.text.as_bytes().get(run.clone()) {
            out.write_all(bytes)?;
        }
        *run = 0..0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_the_host_and_domain_cookies_of_its_parents() {
        let d: Vec<(&str, bool)> = candidate_domains("a.b.example.com").collect();
        assert_eq!(
            d,
            [
                ("a.b.example.com", true),
                ("b.example.com", false),
                ("example.com", false),
                ("com", false)
            ]
        );
        assert_eq!(candidate_domains("127.0.0.1").count(), 1);
        let mut f = FileCookies::default();
        let lines = [
            Record::new("example.com", "host-only", "1"),
            Record {
                include_subdomains: true,
                ..Record::new("example.com", "domain", "1")
            },
            Record::new("www.example.com", "www", "1"),
        ]
        .map(|r| format!("{r}\n"));
        assert!(f.load(lines.concat(), |_| true).is_empty());
        let names = |f: &FileCookies, h: &str| -> Vec<String> {
            f.candidates(h).map(|(_, r)| r.name().to_owned()).collect()
        };
        assert_eq!(names(&f, "www.example.com"), ["www", "domain"]);
        assert_eq!(names(&f, "example.com"), ["host-only", "domain"]);
        assert_eq!(f.take("www.example.com").len(), 2);
        let taken = f.take_domains(|d| d == "example.com");
        assert_eq!(taken.len(), 1, "the rest of the domain");
        assert_eq!(taken[0].0, 0);
        assert!(f.take_domains(|d| d == "example.com").is_empty());
        assert!(names(&f, "example.com").is_empty());
        let moved: Vec<bool> = (0..f.len()).map(|i| f.moved(i)).collect();
        assert_eq!(moved, [true, true, true]);
    }

    #[test]
    fn domains_apart_files_after_files_and_lines_copied_in_runs() {
        let mut f = FileCookies::default();
        let first = "# header\na.com\tFALSE\t/\tFALSE\t0\tx\t1\nb.com\tFALSE\t/\tFALSE\t0\ty\t2\n\
                     A.com\tFALSE\t/\tFALSE\t0\tz\t3\na.com\tFALSE\t/\tFALSE\t5\tgone\t4\n\
                     a.com\tFALSE\t/\tFALSE\t0\tw\t5";
        let skipped = f.load(first.to_owned(), |flags| flags.expires.is_none());
        assert!(skipped.is_empty());
        assert!(
            f.load("bad\nb.com\tFALSE\t/\tFALSE\t0\tv\t6\n".into(), |_| true)
                .len()
                == 1
        );
        let names = |d: &str| -> Vec<String> {
            f.indexes_of(d)
                .map(|i| f.get(i).name().to_owned())
                .collect()
        };
        assert_eq!(names("a.com"), ["x", "z", "w"]);
        assert_eq!(names("b.com"), ["y", "v"]);
        assert!(names("c.com").is_empty());
        let mut out = Vec::new();
        let mut run = 0..0;
        for i in [0, 1, 2, 3, 4] {
            f.write(i, &mut run, &mut out).expect("write to memory");
        }
        f.flush(&mut run, &mut out).expect("write to memory");
        let text = String::from_utf8(out).expect("utf-8");
        let expected: String = [
            ("a.com", "x", 1),
            ("b.com", "y", 2),
            ("a.com", "z", 3),
            ("a.com", "w", 5),
            ("b.com", "v", 6),
        ]
        .map(|(d, n, v)| format!("{d}\tFALSE\t/\tFALSE\t0\t{n}\t{v}\n"))
        .concat();
        assert_eq!(text, expected);
    }
}
