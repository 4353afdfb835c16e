//! Helpers every integration test file shares: running the binary, and the interop gate.
//!
//! Include with `#[path = "support/common.rs"] mod common;` (each test file picks the support
//! files it needs, so support modules do not collide).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `Command` for the postie binary under test, with a clean config environment: no proxy
/// variables, and no home, config folder or .netrc of the user running the tests (a test that
/// wants one sets it on the returned command).
pub fn postie() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postie"));
    cmd.env("HOME", "/nonexistent-postie-home")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("NETRC")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY");
    cmd
}

/// Runs `cmd` and returns its output, with a readable panic if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the postie binary runs")
}

/// Runs `cmd` with `input` on its stdin, capturing stdout and stderr. A thread writes, so a
/// child that answers while it reads cannot deadlock on full pipes.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the postie binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("postie runs");
    writer.join().expect("writer thread").expect("write stdin");
    out
}

/// stdout and stderr as text, for assertions and failure messages.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// True when `POSTIE_INTEROP=1`.
pub fn interop_enabled() -> bool {
    std::env::var("POSTIE_INTEROP").is_ok_and(|v| v == "1")
}

/// Gate for an interop test. Without `POSTIE_INTEROP=1` it prints that `test` was skipped
/// and returns false. With it, a missing peer (`available == false`) fails the test.
pub fn require_peer(test: &str, peer: &str, available: bool) -> bool {
    if !interop_enabled() {
        // Straight to the stream: libtest does not capture this, so the skip is visible.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test} (needs {peer}; set POSTIE_INTEROP=1)"
        );
        return false;
    }
    assert!(
        available,
        "{test}: POSTIE_INTEROP=1 but the peer {peer} is missing"
    );
    true
}

/// The full path of `program` on PATH (or in /usr/sbin, /sbin for daemons), if any.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The Python virtual environment `.ci/run` fills (`$POSTIE_VENV`, default /opt/postie-venv).
pub fn venv() -> PathBuf {
    std::env::var_os("POSTIE_VENV").map_or_else(|| PathBuf::from("/opt/postie-venv"), PathBuf::from)
}

/// A program from the venv's bin folder, if installed there.
pub fn venv_bin(program: &str) -> Option<PathBuf> {
    let p = venv().join("bin").join(program);
    p.is_file().then_some(p)
}

/// A free TCP port on 127.0.0.1 (for peers that must be told a port up front).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Waits until something accepts connections on 127.0.0.1:`port` (at most `secs`).
pub fn wait_for_port(port: u16, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// `rel` under the shared folder beside the repository (`../shared`, as CI lays it out), or
/// beside the folder of worktrees (`../../shared`, for a worktree at `wt/NAME`): the first
/// that exists, else the CI path (so the error names it).
pub fn shared_path(rel: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        repo.join("../shared").join(rel),
        repo.join("../../shared").join(rel),
    ];
    candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or(&candidates[0])
        .clone()
}
