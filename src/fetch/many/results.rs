//! What a many-URL run reports: `--json-results` (one JSON line per URL, written when the
//! URL is done, so nothing of a URL is kept after it), the run's tally, and the summary line
//! on stderr.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::super::writeout::TransferInfo;
use super::super::{FetchError, mask_url};

/// The outcome of one URL.
pub struct Outcome<'a> {
    /// None for a url-file line that named no URL.
    pub index: Option<usize>,
    pub url: &'a str,
    pub info: &'a TransferInfo,
    pub error: Option<&'a FetchError>,
}

/// One JSON line of `--json-results`.
pub fn json_line(o: &Outcome<'_>) -> String {
    let error = o.error.map(|e| mask_url(&e.to_string()));
    let value = json!({
        "index": o.index,
        "url": (!o.url.is_empty()).then(|| mask_url(o.url)),
        "final_url": (!o.info.url_effective.is_empty()).then_some(&o.info.url_effective),
        "status": (o.info.http_code != 0).then_some(o.info.http_code),
        "bytes": o.info.size_download,
        "output": o.info.filename_effective,
        "time": (o.info.time_total * 1000.0).round() / 1000.0,
        "not_modified": o.info.not_modified,
        "resumed": o.info.resumed,
        "error": error,
        "exit_code": o.error.map_or(0, FetchError::exit_code),
    });
    value.to_string()
}

/// `--json-results`: a file (replaced, written as URLs finish) or stdout.
pub enum ResultsOut {
    None,
    Stdout,
    File(io::BufWriter<std::fs::File>, PathBuf),
}

impl ResultsOut {
    pub fn open(path: Option<&PathBuf>) -> Result<ResultsOut, FetchError> {
        match path {
            None => Ok(ResultsOut::None),
            Some(p) if p.as_os_str() == "-" => Ok(ResultsOut::Stdout),
            Some(p) => std::fs::File::create(p)
                .map(|f| ResultsOut::File(io::BufWriter::new(f), p.clone()))
                .map_err(|e| FetchError::write(format!("--json-results {}", p.display()), e)),
        }
    }

    /// Writes one line; each is flushed, so a reader (or a crash) sees whole lines.
    pub fn write(&mut self, line: &str) -> Result<(), FetchError> {
        let (result, what) = match self {
            ResultsOut::None => return Ok(()),
            ResultsOut::Stdout => {
                let mut out = io::stdout().lock();
                (
                    writeln!(out, "{line}").and_then(|()| out.flush()),
                    "stdout".into(),
                )
            }
            ResultsOut::File(w, p) => (
                writeln!(w, "{line}").and_then(|()| w.flush()),
                p.display().to_string(),
            ),
        };
        result.map_err(|e| FetchError::write(format!("--json-results {what}"), e))
    }
}

/// The run's tally: counts and the exit code of the last failure.
#[derive(Debug, Default)]
pub struct Tally {
    pub ok: u64,
    pub failed: u64,
    pub bytes: u64,
    pub last_failure: Option<u8>,
}

impl Tally {
    pub fn add(&mut self, info: &TransferInfo, error: Option<&FetchError>) {
        self.bytes += info.size_download;
        match error {
            Some(e) => {
                self.failed += 1;
                self.last_failure = Some(e.exit_code());
            }
            None => self.ok += 1,
        }
    }

    /// `postie: 200 URLs: 198 done, 2 failed (last failure: exit 22); 3.1 MB in 2.4 s`
    pub fn summary(&self, elapsed: Duration) -> String {
        let total = self.ok + self.failed;
        let failed = match self.last_failure {
            Some(code) => format!("{} failed (last failure: exit {code})", self.failed),
            None => "0 failed".to_owned(),
        };
        format!(
            "postie: {total} URL{}: {} done, {failed}; {} bytes in {:.1} s",
            if total == 1 { "" } else { "s" },
            self.ok,
            self.bytes,
            elapsed.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_every_field() {
        let info = TransferInfo {
            http_code: 200,
            url_effective: "http://h/b".into(),
            size_download: 12,
            filename_effective: Some("out/b".into()),
            time_total: 0.12345,
            ..TransferInfo::default()
        };
        let line = json_line(&Outcome {
            index: Some(3),
            url: "http://u:pw@h/a",
            info: &info,
            error: None,
        });
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        let url = v["url"].as_str().expect("url");
        assert!(
            url.starts_with("http://u") && url.ends_with("@h/a") && !url.contains("pw"),
            "{url}"
        );
        assert_eq!(v["final_url"], "http://h/b");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 12);
        assert_eq!(v["output"], "out/b");
        assert_eq!(v["time"], 0.123);
        assert_eq!(v["not_modified"], false);
        assert_eq!(v["resumed"], false);
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["index"], 3);
    }

    #[test]
    fn summary_names_the_last_failure() {
        let mut t = Tally::default();
        let info = TransferInfo {
            size_download: 5,
            ..TransferInfo::default()
        };
        t.add(&info, None);
        let err = FetchError::HttpStatus {
            url: "u".into(),
            status: 404,
        };
        t.add(&info, Some(&err));
        assert_eq!(t.last_failure, Some(22));
        assert!(
            t.summary(Duration::from_millis(1500)).starts_with(
                "postie: 2 URLs: 1 done, 1 failed (last failure: exit 22); 10 bytes in 1.5 s"
            ),
            "{}",
            t.summary(Duration::from_millis(1500))
        );
    }
}
