//! A small closed-loop HTTP/1.1 load generator for benchmarks on loopback: a few
//! connections, each sending the next request as soon as the previous answer is read,
//! for a fixed time. Keep-alive when the server allows it, a new connection when not.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Requests per second and the body size of the last answer.
pub struct Load {
    pub rps: f64,
    pub body_bytes: usize,
}

fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(bool, usize)> {
    let (status, close, len) = read_any_answer(s, buf)?;
    if status != 200 {
        bail!("not a 200 answer: {status}");
    }
    Ok((close, len))
}

/// Reads one answer whatever its status: (status, connection closes, body length).
fn read_any_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(u16, bool, usize)> {
    buf.clear();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed before the headers");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = memchr::memmem::find(buf, b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no status line: {}", head.lines().next().unwrap_or("")))?;
    let close = head.contains("connection: close") || head.starts_with("http/1.0");
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while buf.len() < head_end + len {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    bail!("connection closed inside the body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Ok((status, close, len))
        }
        None => {
            // No length: the body runs to the end of the connection.
            loop {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Ok((status, true, buf.len() - head_end))
        }
    }
}

/// Runs `connections` loops of `GET path` against `addr` (host:port) for `duration`.
pub fn run(addr: &str, path: &str, connections: usize, duration: Duration) -> Result<Load> {
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let results: Vec<Result<(u64, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|_| {
                scope.spawn(|| -> Result<(u64, usize)> {
                    let request = format!(
                        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: inlink-bench\r\n\r\n"
                    );
                    let mut buf = Vec::new();
                    let mut n = 0u64;
                    let mut size = 0;
                    let mut conn: Option<TcpStream> = None;
                    while Instant::now() < deadline {
                        let s = match conn.as_mut() {
                            Some(s) => s,
                            None => conn.insert(
                                TcpStream::connect(addr)
                                    .with_context(|| format!("connecting to {addr}"))?,
                            ),
                        };
                        s.write_all(request.as_bytes())?;
                        let (close, len) = read_answer(s, &mut buf)?;
                        size = len;
                        n += 1;
                        if close {
                            conn = None;
                        }
                    }
                    Ok((n, size))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load thread"))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut requests = 0;
    let mut body_bytes = 0;
    for r in results {
        let (n, size) = r?;
        requests += n;
        body_bytes = size;
    }
    Ok(Load {
        rps: requests as f64 / elapsed,
        body_bytes,
    })
}

/// One `GET path`: the answer's body.
pub fn fetch(addr: &str, path: &str) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: inlink-bench\r\n\r\n");
    s.write_all(request.as_bytes())?;
    let mut buf = Vec::new();
    let (_, len) = read_answer(&mut s, &mut buf)?;
    Ok(buf.split_off(buf.len() - len))
}

/// Requests per second by `wrk` (Debian's package: one event-loop thread, so the load
/// generator takes one core, not one thread per connection), or `None` when it is not
/// installed.
pub fn wrk(addr: &str, path: &str, connections: usize, duration: Duration) -> Result<Option<f64>> {
    let out = match std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}")])
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg(format!("http://{addr}{path}"))
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context("running wrk"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        bail!("wrk against {path}: {text}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))?;
    Ok(Some(rps))
}

/// Totals of a mixed load.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mixed {
    pub requests: u64,
    pub by_class: [u64; 6],
    /// Connections that failed (refused, reset, cut mid-answer).
    pub errors: u64,
}

/// Runs one closed loop per entry of `loops` for `duration`: loop `i` sends
/// `loops[i](n)` (a whole HTTP/1.1 request) as its `n`-th request. Answers of every status
/// are counted by class (`by_class[status / 100]`); a failed connection is counted and
/// replaced.
pub fn mixed(addr: &str, loops: &[&(dyn Fn(u64) -> Vec<u8> + Sync)], duration: Duration) -> Mixed {
    let deadline = Instant::now() + duration;
    let results: Vec<Mixed> = std::thread::scope(|scope| {
        let handles: Vec<_> = loops
            .iter()
            .map(|make| {
                scope.spawn(move || {
                    let mut m = Mixed::default();
                    let mut buf = Vec::new();
                    let mut conn: Option<TcpStream> = None;
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let s = match conn.as_mut() {
                            Some(s) => s,
                            None => match TcpStream::connect(addr) {
                                Ok(s) => conn.insert(s),
                                Err(_) => {
                                    m.errors += 1;
                                    std::thread::sleep(Duration::from_millis(10));
                                    continue;
                                }
                            },
                        };
                        let req = make(n);
                        n += 1;
                        let answer = s
                            .write_all(&req)
                            .map_err(anyhow::Error::from)
                            .and_then(|_| read_any_answer(s, &mut buf));
                        match answer {
                            Ok((status, close, _)) => {
                                m.requests += 1;
                                m.by_class[usize::from(status / 100).min(5)] += 1;
                                if close {
                                    conn = None;
                                }
                            }
                            Err(_) => {
                                m.errors += 1;
                                conn = None;
                            }
                        }
                    }
                    m
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load thread"))
            .collect()
    });
    let mut total = Mixed::default();
    for r in results {
        total.requests += r.requests;
        total.errors += r.errors;
        for (t, c) in total.by_class.iter_mut().zip(r.by_class) {
            *t += c;
        }
    }
    total
}
