//! Crash trials: a writer child — this test binary running one of its ignored tests — is
//! killed with SIGKILL after a number of acknowledgements (`ACK n` lines on its stdout).
//! Test crates include this file with `#[path]`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Trials to run: `INLINK_CRASH_TRIALS`, 4 by default (the CI size).
pub fn trials() -> u32 {
    std::env::var("INLINK_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// Runs the ignored test `child` of this binary with the environment variable `var` set to
/// `dir`, and kills it with SIGKILL once it has acknowledged `wanted` writes (or after 60 s).
/// Returns the acknowledgements read before the kill and the highest acknowledged number,
/// counting those already in the pipe (they were acknowledged too).
pub fn kill_after(child: &str, var: &str, dir: &std::path::Path, wanted: u32) -> (u32, u32) {
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(var, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut seen, mut acked) = (0, 0u32);
    while seen < wanted && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ACK ") => {
                acked = acked.max(l[4..].trim().parse().unwrap());
                seen += 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    proc.kill().unwrap();
    for l in lines.map_while(Result::ok) {
        if let Some(n) = l.strip_prefix("ACK ") {
            acked = acked.max(n.trim().parse().unwrap());
        }
    }
    proc.wait().unwrap();
    (seen, acked)
}
