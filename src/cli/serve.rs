//! `wirelab serve http|ws|danmaku`: bind, print the URL line, serve until Ctrl-C.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use wirelab::server::http::HttpServerConfig;

use super::args::{DanmakuArgs, HttpArgs, WsArgs};
use super::{exit, runtime};

pub fn http(a: HttpArgs) -> Result<u8> {
    if !a.root.is_dir() {
        anyhow::bail!("{} is not a directory (--root)", a.root.display());
    }
    let cfg = HttpServerConfig {
        root: a.root.clone(),
        persistent: !a.non_persistent,
        keepalive_timeout: Duration::from_secs(a.keepalive_timeout),
        keepalive_max: a.keepalive_max.max(1),
        header_timeout: Duration::from_secs(a.header_timeout.max(1)),
        max_header_bytes: a.max_header_bytes,
        max_headers: a.max_headers.max(1),
        access_log: a.access_log,
        ..Default::default()
    };
    let mode = if a.non_persistent {
        "non-persistent".to_string()
    } else {
        format!("persistent, keep-alive timeout={}s max={}", a.keepalive_timeout, a.keepalive_max)
    };
    let what = format!("serving {} ({mode})", a.root.display());
    serve_until_ctrl_c(a.threads, a.bind, a.port, "http", what, move |l| wirelab::server::http::serve(l, cfg))
}

pub fn ws(a: WsArgs) -> Result<u8> {
    serve_until_ctrl_c(a.threads, a.bind, a.port, "ws", "serving WebSocket: /echo and /chat/<room>".into(), wirelab::server::ws::serve)
}

pub fn danmaku(a: DanmakuArgs) -> Result<u8> {
    let what = "serving danmaku: the page at /, REST at /danmaku/<video>, push at /ws/danmaku/<video>".to_string();
    serve_until_ctrl_c(a.threads, a.bind, a.port, "http", what, wirelab::server::danmaku::serve)
}

/// Binds, prints the URL line (for scripts and tests) and runs `serve` until Ctrl-C.
fn serve_until_ctrl_c<F, Fut>(threads: usize, bind: std::net::IpAddr, port: u16, scheme: &str, what: String, serve: F) -> Result<u8>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>>,
{
    runtime(threads)?.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind, port)).await.with_context(|| format!("cannot listen on {bind}:{port}"))?;
        let addr = listener.local_addr()?;
        let host = if addr.is_ipv6() { format!("[{}]", addr.ip()) } else { addr.ip().to_string() };
        // The URL line is for scripts and tests; a closed stdout must not stop the server.
        let _ = writeln!(io::stdout(), "{scheme}://{host}:{}/", addr.port());
        let _ = io::stdout().flush();
        eprintln!("wirelab: {what} (Ctrl-C stops)");
        tokio::select! {
            r = serve(listener) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(exit::OK)
}
