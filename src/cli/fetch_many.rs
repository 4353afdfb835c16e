//! The flags of `postie fetch` for many URLs (`--url-file`, `--parallel`/`-Z`,
//! `--parallel-max`, `--parallel-per-host`, `--rate`, `--jar-save-interval`,
//! `--json-results`), kept apart from the rest of its flags, and the choice between the
//! one-by-one run and the many-URL scheduler.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::CliError;
use crate::fetch::many::{ManyConfig, Rate};

/// curl's default for `--parallel-max`.
const CURL_PARALLEL_MAX: usize = 50;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct FetchManyArgs {
    /// Read URLs from FILE (`-` is stdin): one a line (blank lines and # comments skipped),
    /// or JSON lines {"url", "output", "method", "headers", "data", "json"}. Without -o,
    /// each goes to a file named as -O names it, in --output-dir (default .).
    #[arg(long, value_name = "FILE")]
    pub url_file: Option<PathBuf>,
    /// Run N transfers at once over one connection pool (1: one by one).
    #[arg(long = "parallel", value_name = "N")]
    pub parallel: Option<usize>,
    /// curl's -Z: transfers at once, --parallel-max of them (default 50).
    #[arg(short = 'Z')]
    pub parallel_flag: bool,
    /// With -Z: at most N transfers at once (curl's flag).
    #[arg(long, value_name = "N")]
    pub parallel_max: Option<usize>,
    /// At most M transfers at once to one host (scheme, name, port).
    #[arg(long, value_name = "M", default_value_t = 6)]
    pub parallel_per_host: usize,
    /// At most R transfer starts per host: N/s, N/m, N/h, N/d (curl's syntax; a bare N is
    /// per hour). Holds with --parallel too.
    #[arg(long, value_name = "R")]
    pub rate: Option<String>,
    /// Save the cookie jar (-c/--jar) every SECS seconds during the run, not only at its end.
    #[arg(long, value_name = "SECS")]
    pub jar_save_interval: Option<f64>,
    /// One JSON line per URL to FILE (`-` is stdout): url, final_url, status, bytes, output,
    /// time, not_modified, resumed, error, exit_code.
    #[arg(long, value_name = "FILE")]
    pub json_results: Option<PathBuf>,
    /// fsync each file before naming it also when fetching many URLs (--url-file, or more
    /// than one URL): slower by the disk's writeback, but a power cut never leaves a named
    /// file shorter than it was. One URL's file is always fsynced.
    #[arg(long)]
    pub fsync: bool,
}

impl FetchManyArgs {
    /// Whether output files skip the per-file fsync: a run of more than one URL (or of a
    /// list) without `--fsync`. Writing back every page before naming it costs as much as
    /// the download itself on a plain disk; curl and wget never wait for it.
    pub fn unsynced(&self, urls_on_command_line: usize) -> bool {
        !self.fsync && (self.url_file.is_some() || urls_on_command_line > 1)
    }

    /// The many-URL settings, or None when none of these flags asks for them (the
    /// one-by-one run, exactly as before).
    pub fn config(&self, output_dir: Option<&PathBuf>) -> Result<Option<ManyConfig>, CliError> {
        let asked = self.url_file.is_some()
            || self.parallel.is_some()
            || self.parallel_flag
            || self.rate.is_some()
            || self.jar_save_interval.is_some()
            || self.json_results.is_some();
        if !asked {
            return Ok(None);
        }
        let parallel = match (self.parallel, self.parallel_flag) {
            (Some(n), _) => n,
            (None, true) => self.parallel_max.unwrap_or(CURL_PARALLEL_MAX),
            (None, false) => 1,
        };
        if parallel == 0 {
            return Err(CliError::invalid("--parallel", "must be at least 1"));
        }
        if self.parallel_max == Some(0) {
            return Err(CliError::invalid("--parallel-max", "must be at least 1"));
        }
        if self.parallel_per_host == 0 {
            return Err(CliError::invalid(
                "--parallel-per-host",
                "must be at least 1",
            ));
        }
        let rate = self
            .rate
            .as_deref()
            .map(Rate::parse)
            .transpose()
            .map_err(|why| CliError::invalid("--rate", why))?;
        let jar_save_interval = self
            .jar_save_interval
            .map(|s| match Duration::try_from_secs_f64(s) {
                Ok(d) if !d.is_zero() => Ok(d),
                _ => Err(CliError::invalid(
                    "--jar-save-interval",
                    "a number of seconds above 0",
                )),
            })
            .transpose()?;
        Ok(Some(ManyConfig {
            parallel,
            per_host: self.parallel_per_host,
            rate,
            url_file: self.url_file.clone(),
            output_dir: output_dir.cloned().unwrap_or_else(|| PathBuf::from(".")),
            jar_save_interval,
            json_results: self.json_results.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runs_of_many_urls_skip_the_per_file_fsync_and_fsync_keeps_it() {
        let list = FetchManyArgs {
            url_file: Some(PathBuf::from("urls.txt")),
            ..FetchManyArgs::default()
        };
        assert!(list.unsynced(0), "--url-file");
        assert!(list.unsynced(1), "--url-file and a URL");
        let none = FetchManyArgs::default();
        assert!(!none.unsynced(1), "one URL is fsynced");
        assert!(none.unsynced(2), "two URLs on the command line");
        let parallel_one = FetchManyArgs {
            parallel: Some(8),
            ..FetchManyArgs::default()
        };
        assert!(!parallel_one.unsynced(1), "--parallel with one URL");
        for args in [list, none] {
            let asked = FetchManyArgs {
                fsync: true,
                ..args
            };
            assert!(!asked.unsynced(5), "--fsync");
        }
    }
}
