//! Helpers shared by postie's fuzz targets (see the README's "Fuzzing" section).
//!
//! Known defects that are being fixed elsewhere (issue 10) would stop every run at the first
//! input that shows them. The targets check those invariants only with `POSTIE_FUZZ_STRICT=1`
//! (see [`strict`]) so that a run goes on looking for other defects; once the fixes are
//! merged, strict becomes the default by deleting the flag.

use std::path::PathBuf;
use std::sync::OnceLock;

/// True when the invariants that known, being-fixed defects break are checked too.
pub fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("POSTIE_FUZZ_STRICT").is_some_and(|v| v == "1"))
}

/// Where targets make their temporary folders: tmpfs when there is one (a target that writes
/// files, fsyncs included, then runs thousands of times a second).
pub fn temp_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// A fresh temporary folder for one run of a target.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("postie-fuzz-")
        .tempdir_in(temp_root())
        .expect("a temporary folder")
}

/// Splits fuzz input into a selector byte and the rest.
pub fn selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(b, rest)| (*b, rest))
}

/// True for a character a single header or cookie line must not carry unescaped.
pub fn is_line_breaking(c: char) -> bool {
    matches!(c, '\t' | '\r' | '\n' | '\0')
}
