//! [`CookieSession`]: the handle every transfer of one `postie fetch` run holds on the run's
//! one cookie state ([`SessionState`]). Clones share the state, so parallel transfers read
//! and update the same store and nothing one of them learns is lost when the jar is saved.
//! The lock is held for one header or one response's `Set-Cookie` values, never across I/O
//! on the network.

use std::sync::{Arc, Mutex, MutexGuard};

use url::Url;

use super::session::SessionState;
use super::{CookieError, CookieOptions, Record};

/// The cookie state of one run, shared by every transfer of it (clone the handle).
#[derive(Debug, Clone)]
pub struct CookieSession {
    state: Arc<Mutex<SessionState>>,
}

impl CookieSession {
    /// Loads what `options` says to load (see [`SessionState::open`]).
    pub fn open(options: CookieOptions) -> Result<CookieSession, CookieError> {
        Ok(CookieSession {
            state: Arc::new(Mutex::new(SessionState::open(options)?)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A transfer thread that panicked mid-update leaves a store that is still a store:
        // the other transfers and the final save go on with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `Cookie` header for a request to `url`, if any cookie matches.
    pub fn request_header(&self, url: &Url) -> Option<String> {
        self.lock().request_header(url)
    }

    /// Takes the `Set-Cookie` values of a response from `url`.
    pub fn store_response<'a>(&mut self, url: &Url, set_cookie: impl Iterator<Item = &'a str>) {
        self.lock().store_response(url, set_cookie);
    }

    /// The cookies a save would write. The `set_cookie` fuzz target compares them with the
    /// jar read back from disk.
    pub fn cookies(&self) -> Vec<Record> {
        self.lock().cookies()
    }

    /// Saves the jar now (`--jar-save-interval`) and goes on: the locked load-merge-save of
    /// [`SessionState::save`].
    pub fn save(&self) -> Result<(), CookieError> {
        self.lock().save()
    }

    /// Saves the jar at the end of the run and frees the state (the last handle does).
    pub fn finish(self) -> Result<(), CookieError> {
        self.lock().save()?;
        if let Ok(state) = Arc::try_unwrap(self.state) {
            state
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .free();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_store_and_save_mid_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jar.txt");
        let first = CookieSession::open(CookieOptions {
            jar: Some(path.clone()),
            ..CookieOptions::default()
        })
        .expect("open");
        let mut other = first.clone();
        let u = Url::parse("http://a.example/").expect("url");
        let t = std::thread::spawn(move || {
            other.store_response(&u, ["from_thread=1; Max-Age=600"].into_iter());
        });
        t.join().expect("thread");
        let u = Url::parse("http://a.example/x").expect("url");
        assert_eq!(first.request_header(&u).as_deref(), Some("from_thread=1"));
        first.save().expect("save");
        assert!(
            std::fs::read_to_string(&path)
                .expect("jar")
                .contains("from_thread\t1")
        );
        let mut last = first.clone();
        last.store_response(&u, ["later=2; Max-Age=600"].into_iter());
        drop(last);
        first.finish().expect("finish");
        let text = std::fs::read_to_string(&path).expect("jar");
        assert!(
            text.contains("from_thread\t1") && text.contains("later\t2"),
            "{text}"
        );
    }
}
