//! The raw-request client: one HTTP request (or any bytes) on a new connection, the response
//! read until the server closes, and its status line.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What to send: a method and path with extra header lines, or raw text (`\n` becomes `\r\n`).
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub method: String,
    pub path: String,
    pub headers: Vec<String>,
    pub raw: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestReport {
    /// 0 when no status line came back.
    pub status: u16,
    pub status_line: String,
    /// Bytes received, head and body.
    pub bytes: u64,
    /// Request sent → connection closed (or the read timed out).
    pub total_ms: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("cannot send to {addr}: {source}")]
    Send { addr: String, source: std::io::Error },
}

/// The bytes `spec` puts on the wire for `host`.
pub fn request_bytes(spec: &RequestSpec, host: &str) -> Vec<u8> {
    if let Some(raw) = &spec.raw {
        return raw.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes();
    }
    let mut r = format!("{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n", spec.method, spec.path);
    for h in &spec.headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// Sends `spec` to `addr` (host:port) on a new connection and reads until the server closes,
/// for at most `timeout`.
pub async fn send(addr: &str, spec: &RequestSpec, timeout: Duration) -> Result<RequestReport, RequestError> {
    let mut sock = TcpStream::connect(addr).await.map_err(|source| RequestError::Connect { addr: addr.into(), source })?;
    let _ = sock.set_nodelay(true);
    let bytes = request_bytes(spec, addr);
    let t0 = Instant::now();
    sock.write_all(&bytes).await.map_err(|source| RequestError::Send { addr: addr.into(), source })?;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(timeout, sock.read_to_end(&mut got)).await;
    let total_ms = t0.elapsed().as_nanos() as f64 / 1e6;
    let line = got.split(|&b| b == b'\n').next().map(|l| String::from_utf8_lossy(l).trim_end().to_string()).unwrap_or_default();
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).filter(|_| line.starts_with("HTTP/")).unwrap_or(0);
    Ok(RequestReport { status, status_line: if status == 0 { String::new() } else { line }, bytes: got.len() as u64, total_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_built_with_crlf() {
        let spec = RequestSpec { method: "HEAD".into(), path: "/x".into(), headers: vec!["If-None-Match: \"a\"".into()], raw: None };
        assert_eq!(request_bytes(&spec, "h:1"), b"HEAD /x HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\nIf-None-Match: \"a\"\r\n\r\n");
        let raw = RequestSpec { raw: Some("GET / HTTP/1.0\n\n".into()), ..Default::default() };
        assert_eq!(request_bytes(&raw, "h"), b"GET / HTTP/1.0\r\n\r\n");
    }
}
