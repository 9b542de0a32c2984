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
        send_timeout: Duration::from_secs(a.send_timeout.max(1)),
        ..Default::default()
    };
    let mode = if a.non_persistent {
        "non-persistent".to_string()
    } else {
        format!("persistent, keep-alive timeout={}s max={}", a.keepalive_timeout, a.keepalive_max)
    };
    let what = format!("serving {} ({mode})", a.root.display());
    serve_until_ctrl_c(a.threads, a.bind, a.port, "http", what, move |l, stop| wirelab::server::http::run(l, cfg, stop))
}

pub fn ws(a: WsArgs) -> Result<u8> {
    let cfg = wirelab::server::ws::WsServerConfig {
        max_message: a.max_message.max(1),
        max_frame: a.max_frame.max(1),
        handshake_timeout: Duration::from_secs(a.handshake_timeout.max(1)),
        subscriber_queue: a.subscriber_queue.max(1),
        ..Default::default()
    };
    let what = "serving WebSocket: /echo and /chat/<room>".to_string();
    serve_until_ctrl_c(a.threads, a.bind, a.port, "ws", what, move |l, stop| wirelab::server::ws::run(l, cfg, stop))
}

pub fn danmaku(a: DanmakuArgs) -> Result<u8> {
    let cfg = wirelab::server::danmaku::DanmakuConfig { max_videos: a.max_videos.max(1), history: a.history.max(1), max_text: a.max_text.max(1), ..Default::default() };
    let what = "serving danmaku: the page at /, REST at /danmaku/<video>, push at /ws/danmaku/<video>".to_string();
    serve_until_ctrl_c(a.threads, a.bind, a.port, "http", what, move |l, stop| wirelab::server::danmaku::run(l, cfg, stop))
}

/// A future that completes on Ctrl-C or SIGTERM; the handlers are installed at once (before
/// the URL line is printed, so a script's SIGTERM right after it is not fatal).
fn stop_signal() -> io::Result<StopSignal> {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    Ok(Box::pin(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }))
}

type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Binds, prints the URL line (for scripts and tests) and runs `serve` until Ctrl-C or SIGTERM,
/// which stop it gracefully (in-flight responses finish).
fn serve_until_ctrl_c<F, Fut>(threads: usize, bind: std::net::IpAddr, port: u16, scheme: &str, what: String, serve: F) -> Result<u8>
where
    F: FnOnce(tokio::net::TcpListener, StopSignal) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>>,
{
    runtime(threads)?.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind, port)).await.with_context(|| format!("cannot listen on {bind}:{port}"))?;
        let addr = listener.local_addr()?;
        let stop = stop_signal()?;
        let host = if addr.is_ipv6() { format!("[{}]", addr.ip()) } else { addr.ip().to_string() };
        // The URL line is for scripts and tests; a closed stdout must not stop the server.
        let _ = writeln!(io::stdout(), "{scheme}://{host}:{}/", addr.port());
        let _ = io::stdout().flush();
        eprintln!("wirelab: {what} (Ctrl-C stops)");
        serve(listener, stop).await.map_err(anyhow::Error::from)
    })?;
    Ok(exit::OK)
}
