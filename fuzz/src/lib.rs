//! Helpers shared by postie's fuzz targets (see the README's "Fuzzing" section).

use std::path::PathBuf;

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
