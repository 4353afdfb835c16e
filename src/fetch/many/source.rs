//! The URLs of a many-URL run, read one at a time (never the whole list in memory): the
//! command line's jobs first, then `--url-file` (`-` is stdin) line by line. A line is a URL,
//! or a JSON object `{"url", "output", "method", "headers", "data", "json"}`; blank lines and
//! `#` comments are skipped, and a bad line is an error naming its line number while the
//! rest goes on. Files of url-file lines without `output` are named as `-O` names them, in
//! `--output-dir`, and two URLs with the same last segment never share a file (wget's
//! `name.1`, `name.2`, reported).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::super::output::remote_name;
use super::super::validators::part_path;
use super::super::{FetchError, Job, OutputTarget, RequestBody, mask_url};

/// What one line may change of the run's request (JSON lines only).
#[derive(Debug, Default)]
pub struct Extra {
    pub method: Option<String>,
    pub headers: Vec<(String, Option<String>)>,
    pub body: Option<RequestBody>,
}

/// One URL to fetch.
#[derive(Debug)]
pub struct Task {
    /// Position among all URLs of the run (0-based, as `%{urlnum}`).
    pub index: usize,
    pub job: Job,
    pub extra: Option<Box<Extra>>,
    /// The file was named here (implied `-O`): `-O`'s rules about existing files apply.
    pub implied_name: bool,
    /// Why the file's name is not the URL's (taken by an earlier URL): for stderr, unless
    /// `-s`.
    pub note: Option<String>,
}

/// An open url-file: its name for messages, and its lines.
pub type ListFile = (String, Box<dyn BufRead + Send>);

/// The URL list: the command line's jobs, then the url-file's lines.
pub struct Source {
    args: std::vec::IntoIter<Job>,
    file: Option<ListFile>,
    line: usize,
    index: usize,
    names: Names,
}

impl Source {
    pub fn new(args: Vec<Job>, file: Option<ListFile>, dir: PathBuf) -> Source {
        Source {
            args: args.into_iter(),
            file,
            line: 0,
            index: 0,
            names: Names::new(dir),
        }
    }

    /// The next task, a bad line as an error (the caller reports it and goes on), or None
    /// at the end. Reading the file itself failing ends the list with that error.
    pub fn next_task(&mut self) -> Option<Result<Task, FetchError>> {
        if let Some(job) = self.args.next() {
            return Some(Ok(self.task(job, None, false)));
        }
        let mut text = String::new();
        loop {
            let (name, reader) = self.file.as_mut()?;
            text.clear();
            self.line += 1;
            match reader.read_line(&mut text) {
                Ok(0) => {
                    self.file = None;
                    return None;
                }
                Ok(_) => {}
                Err(source) => {
                    let what = format!("--url-file {name}: line {}", self.line);
                    self.file = None;
                    return Some(Err(FetchError::Read { what, source }));
                }
            }
            let trimmed = text.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let where_ = format!("--url-file {name}: line {}", self.line);
            return Some(self.parse_line(trimmed, &where_));
        }
    }

    fn parse_line(&mut self, text: &str, where_: &str) -> Result<Task, FetchError> {
        let bad = |why: String| FetchError::BadUrl {
            url: where_.to_owned(),
            why,
        };
        if !text.starts_with('{') {
            if text.chars().any(char::is_whitespace) {
                return Err(bad(format!("not a URL: {:?}", mask_url(text))));
            }
            let output = self.names.implied(text, where_);
            let job = Job {
                url: text.to_owned(),
                output,
            };
            return Ok(self.task(job, None, true));
        }
        let line: Value = serde_json::from_str(text).map_err(|e| bad(format!("bad JSON: {e}")))?;
        let (url, output, extra) = json_line(&line).map_err(bad)?;
        let implied = output.is_none();
        let output = match output {
            Some(p) => self.names.explicit(&p),
            None => self.names.implied(&url, where_),
        };
        let job = Job { url, output };
        Ok(self.task(job, Some(Box::new(extra)), implied))
    }

    fn task(&mut self, job: Job, extra: Option<Box<Extra>>, implied_name: bool) -> Task {
        self.index += 1;
        Task {
            index: self.index - 1,
            job,
            extra,
            implied_name,
            note: self.names.note.take(),
        }
    }
}

/// A JSON line's URL, output and request changes.
fn json_line(line: &Value) -> Result<(String, Option<String>, Extra), String> {
    let obj = line.as_object().ok_or("a JSON line must be an object")?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{key:?} must be a string")),
        }
    };
    if let Some(key) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key {key:?} (known: {})", KEYS.join(", ")));
    }
    let url = text("url")?.ok_or("no \"url\"")?;
    let mut extra = Extra {
        method: text("method")?,
        headers: json_headers(obj.get("headers"))?,
        body: None,
    };
    if let Some(m) = &extra.method
        && ureq::http::Method::from_bytes(m.as_bytes()).is_err()
    {
        return Err(format!("{m:?} is not a valid method name"));
    }
    match (text("data")?, obj.get("json")) {
        (Some(_), Some(_)) => return Err("\"data\" and \"json\" exclude each other".into()),
        (Some(d), None) => {
            extra.body = Some(RequestBody::Bytes {
                data: d.into_bytes(),
                content_type: "application/x-www-form-urlencoded",
            });
        }
        (None, Some(j)) => {
            // A string is the JSON text itself (as curl's --json takes it); any other value
            // is sent as it was written.
            let data = match j {
                Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            };
            extra.body = Some(RequestBody::Bytes {
                data,
                content_type: "application/json",
            });
            if !extra
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
            {
                extra
                    .headers
                    .push(("Accept".into(), Some("application/json".into())));
            }
        }
        (None, None) => {}
    }
    Ok((url, text("output")?, extra))
}

const KEYS: [&str; 6] = ["url", "output", "method", "headers", "data", "json"];

/// `"headers"`: an object `{"Name": "value"}` or a list of `"Name: value"` (curl's `-H`
/// form; `"Name:"` removes a default header).
fn json_headers(value: Option<&Value>) -> Result<Vec<(String, Option<String>)>, String> {
    let pair = |name: &str, value: &str| {
        crate::fetch::header_pair(name, value).map_err(|why| format!("header {name:?}: {why}"))
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => pair(k, s),
                _ => Err(format!("header {k:?}: the value must be a string")),
            })
            .collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                let s = v.as_str().ok_or("\"headers\": a list of strings")?;
                let (n, v) = s.split_once(':').ok_or(format!("header {s:?}: no colon"))?;
                pair(n, v)
            })
            .collect(),
        Some(_) => Err("\"headers\" must be an object or a list".into()),
    }
}

/// The files this run writes into: each name once. Hashes only (8 bytes a name), so a
/// list of 100,000 URLs costs about 2 MB here, and nothing else of each URL is kept.
struct Names {
    dir: PathBuf,
    used: HashSet<u64>,
    /// The note of the name just given, for its task.
    note: Option<String>,
}

impl Names {
    fn new(dir: PathBuf) -> Names {
        Names {
            dir,
            used: HashSet::new(),
            note: None,
        }
    }

    fn key(path: &Path) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        h.finish()
    }

    /// A line's own `output`, relative to `--output-dir` (as `-o` is); kept as given.
    fn explicit(&mut self, name: &str) -> OutputTarget {
        if name == "-" {
            return OutputTarget::Stdout;
        }
        let path = self.dir.join(name);
        // Kept as given even if it meets another name (the user chose it).
        self.used.insert(Self::key(&path));
        OutputTarget::File(path)
    }

    /// Reserves `path` and the `path.part` a resumable download of it writes first (so
    /// `x` and `x.part` from two URLs never meet); false when either is taken already.
    fn take(&mut self, path: &Path) -> bool {
        let stem = path.to_str().and_then(|p| p.strip_suffix(".part"));
        let taken = |key| self.used.contains(&key);
        if taken(Self::key(&part_path(path)))
            || stem.is_some_and(|s| taken(Self::key(Path::new(s))))
        {
            return false;
        }
        self.used.insert(Self::key(path))
    }

    /// The implied `-O` name of `url` (wget's `index.html` when the URL names no file),
    /// made distinct from every earlier file of the run.
    fn implied(&mut self, url: &str, where_: &str) -> OutputTarget {
        // As the transfer reads it (a URL without a scheme is http://); a URL it refuses
        // fails there, with its reason.
        let parsed = super::super::transfer::parse_url(url);
        let base = parsed
            .ok()
            .and_then(|u| remote_name(&u))
            .unwrap_or_else(|| "index.html".to_owned());
        let mut path = self.dir.join(&base);
        let mut n = 0;
        while !self.take(&path) {
            n += 1;
            path = self.dir.join(format!("{base}.{n}"));
        }
        self.note = (n > 0).then(|| {
            format!(
                "postie: {where_}: {} is taken by an earlier URL; {} goes to {}",
                base,
                mask_url(url),
                path.display()
            )
        });
        OutputTarget::File(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.to_owned()));
        Source::new(
            Vec::new(),
            Some(("list".into(), reader)),
            PathBuf::from("out"),
        )
    }

    fn all(text: &str) -> Vec<Result<Task, FetchError>> {
        let mut s = source(text);
        std::iter::from_fn(|| s.next_task()).collect()
    }

    fn file(t: &Result<Task, FetchError>) -> String {
        match &t.as_ref().expect("task").job.output {
            OutputTarget::File(p) => p.display().to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn lines_comments_and_collisions() {
        let tasks =
            all("# list\n\nhttp://a/x.html\n  http://b/x.html \nhttp://c/\nhttp://d/x.html.1\n");
        assert_eq!(tasks.len(), 4);
        let files: Vec<String> = tasks.iter().map(file).collect();
        assert_eq!(
            files,
            [
                "out/x.html",
                "out/x.html.1",
                "out/index.html",
                "out/x.html.1.1"
            ]
        );
        let idx: Vec<usize> = tasks.iter().map(|t| t.as_ref().expect("t").index).collect();
        assert_eq!(idx, [0, 1, 2, 3]);
        let notes: Vec<bool> = tasks
            .iter()
            .map(|t| t.as_ref().expect("t").note.is_some())
            .collect();
        assert_eq!(
            notes,
            [false, true, false, true],
            "a note for each renamed file"
        );
    }

    #[test]
    fn a_name_never_meets_another_file_s_part() {
        // `--update` and `-C -` write FILE.part first: `x` and `x.part` cannot both be used.
        let tasks = all("http://a/x\nhttp://b/x.part\nhttp://c/y.part\nhttp://d/y\n");
        let files: Vec<String> = tasks.iter().map(file).collect();
        assert_eq!(files, ["out/x", "out/x.part.1", "out/y.part", "out/y.1"]);
    }

    #[test]
    fn a_url_without_a_scheme_is_named_as_the_transfer_reads_it() {
        // As curl: `host:8080/x` is http://host:8080/x, not scheme `host` with path `8080/x`.
        let tasks = all("example.test:8080/dir/page.html
example.test/
");
        let files: Vec<String> = tasks.iter().map(file).collect();
        assert_eq!(files, ["out/page.html", "out/index.html"]);
    }

    #[test]
    fn json_lines() {
        let tasks = all(concat!(
            r#"{"url": "http://a/p", "method": "POST", "json": {"k": 1}, "headers": {"X-A": "1"}}"#,
            "\n",
            r#"{"url": "http://a/q", "output": "mine.txt", "data": "a=b", "headers": ["X-B: 2"]}"#,
            "\n"
        ));
        let t = tasks[0].as_ref().expect("task");
        let extra = t.extra.as_ref().expect("extra");
        assert_eq!(extra.method.as_deref(), Some("POST"));
        assert!(
            matches!(&extra.body, Some(RequestBody::Bytes { data, content_type: "application/json" }) if data == br#"{"k":1}"#)
        );
        assert_eq!(extra.headers[0], ("X-A".into(), Some("1".into())));
        assert_eq!(extra.headers[1].0, "Accept");
        assert_eq!(file(&tasks[1]), "out/mine.txt");
        assert!(!tasks[1].as_ref().expect("t").implied_name);
    }

    fn errors(tasks: &[Result<Task, FetchError>]) -> Vec<String> {
        tasks
            .iter()
            .filter_map(|t| t.as_ref().err().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn bad_lines_name_their_number_and_the_rest_goes_on() {
        let tasks = all(
            "http://a/1\n{\"url\": 3}\n{oops\nnot a url\n{\"url\":\"http://a/2\",\"x\":1}\nhttp://a/3\n",
        );
        let errors = errors(&tasks);
        assert_eq!(errors.len(), 4, "{errors:?}");
        for (e, n) in errors.iter().zip([2, 3, 4, 5]) {
            assert!(
                e.starts_with(&format!("--url-file list: line {n}: ")),
                "{e}"
            );
        }
        assert!(errors[3].contains("unknown key \"x\""), "{}", errors[3]);
        assert_eq!(file(&tasks[5]), "out/3");
    }

    #[test]
    fn a_line_s_headers_are_held_to_the_rules_of_h() {
        let tasks = all(concat!(
            r#"{"url": "http://a/1", "headers": {"X-A": "bell\u0007"}}"#,
            "\n",
            r#"{"url": "http://a/2", "headers": ["X A: 1"]}"#,
            "\n",
            r#"{"url": "http://a/3", "headers": {"X-Ok": " 1 "}}"#,
            "\n",
        ));
        let errors = errors(&tasks);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("header \"X-A\": not a valid header"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].contains("header \"X A\": bad header name"),
            "{}",
            errors[1]
        );
        let extra = tasks[2]
            .as_ref()
            .expect("ok")
            .extra
            .as_ref()
            .expect("extra");
        assert_eq!(extra.headers, [("X-Ok".to_owned(), Some("1".to_owned()))]);
    }
}
