//! The progress display of a many-URL run on a terminal: one line per transfer whose body
//! is arriving (name, bytes, rate) above a totals line. Hidden when stderr is not a terminal
//! or with `-s`.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Display {
    multi: Option<MultiProgress>,
    total: ProgressBar,
}

impl std::fmt::Debug for Display {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Display(shown: {})", self.multi.is_some())
    }
}

impl Display {
    pub fn new(silent: bool) -> Display {
        if silent || !std::io::stderr().is_terminal() {
            return Display {
                multi: None,
                total: ProgressBar::hidden(),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
            total.set_style(style);
        }
        Display {
            multi: Some(multi),
            total,
        }
    }

    /// A line for one body, above the totals; `finish_and_clear` removes it.
    pub fn transfer(&self, len: Option<u64>, name: &str) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = multi.insert_before(
            &self.total,
            ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden()),
        );
        let template = if len.is_some() {
            "{msg:40!} {bar:20} {bytes}/{total_bytes} {bytes_per_sec}"
        } else {
            "{msg:40!} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(name.to_owned());
        bar
    }

    /// The totals line.
    pub fn totals(&self, done: u64, failed: u64, active: usize, bytes: u64) {
        if self.multi.is_some() {
            self.total.set_message(format!(
                "{done} done, {failed} failed, {active} running, {}",
                indicatif::HumanBytes(bytes)
            ));
            self.total.tick();
        }
    }

    /// A message on stderr that does not tear the display.
    pub fn eprintln(&self, text: &str) {
        match &self.multi {
            Some(m) => m.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    pub fn clear(&self) {
        self.total.finish_and_clear();
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}
