//! The danmaku load client: viewers (polling at an interval, or subscribed over WebSocket) and
//! senders posting comments at a rate. Every comment carries its send time, so each delivery
//! to each viewer gives an end-to-end latency.
//!
//! Every viewer and sender holds a socket: before starting, the file-descriptor limit is raised
//! to what the load needs (up to the hard limit) or the run fails naming `ulimit -n`; and when
//! any task fails, the others are stopped rather than left waiting for it.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use super::fetch::{Clock, Conn, FetchError};
use crate::analysis::Dist;
use crate::proto::http::HttpConn;
use crate::server::danmaku::{now_ms, Comment};

/// How viewers get comments. Printed and serialized as the user writes it: `ws`, `poll:MS`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Transport {
    /// Poll every this many milliseconds.
    Poll(u64),
    #[default]
    Ws,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Poll(ms) => write!(f, "poll:{ms}"),
            Transport::Ws => f.write_str("ws"),
        }
    }
}

impl Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "ws" {
            return Ok(Transport::Ws);
        }
        match s.strip_prefix("poll:").map(|v| v.trim_end_matches("ms").parse::<u64>()) {
            Some(Ok(ms)) if ms > 0 => Ok(Transport::Poll(ms)),
            _ if s == "poll" => Ok(Transport::Poll(1000)),
            _ => Err(format!("unknown transport {s:?}: use ws or poll:INTERVAL_MS")),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub url: String,
    pub video: String,
    pub transport: Transport,
    pub viewers: usize,
    pub senders: usize,
    /// Comments per second, per sender.
    pub rate: f64,
    pub duration_s: f64,
    pub comments_sent: u64,
    /// Comment deliveries to viewers, and how many there should have been.
    pub deliveries: u64,
    pub expected_deliveries: u64,
    /// Send → receive time of every delivery.
    pub latency: Dist,
    /// HTTP requests made by viewers (polls, or WebSocket handshakes) and by senders.
    pub viewer_requests: u64,
    pub empty_polls: u64,
    pub sender_requests: u64,
    /// Bytes the viewers sent and received (HTTP heads and bodies, or WebSocket frames).
    pub viewer_bytes_sent: u64,
    pub viewer_bytes_received: u64,
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    empty: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
    deliveries: AtomicU64,
}

fn get(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n").into_bytes()
}

fn post(path: &str, host: &str, body: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Descriptors the process needs beyond one per viewer and sender (stdio, the runtime's epoll
/// and wake-up pipes, the resolver).
const FD_MARGIN: u64 = 64;

/// Makes sure `sockets` more descriptors can be open: raises the soft `RLIMIT_NOFILE` up to the
/// hard one when needed, or explains which limit is too low.
pub fn ensure_fd_limit(sockets: u64) -> Result<(), FetchError> {
    let need = sockets + FD_MARGIN;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(()); // cannot tell: let connect() report it
    }
    if lim.rlim_cur >= need as libc::rlim_t {
        return Ok(());
    }
    if lim.rlim_max >= need as libc::rlim_t {
        let raised = libc::rlimit { rlim_cur: need as libc::rlim_t, rlim_max: lim.rlim_max };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(());
        }
    }
    Err(FetchError::Limit(format!(
        "{sockets} viewers and senders need about {need} open files, but the limit is {} (hard limit {}): raise it with `ulimit -n {need}` (or fewer --viewers)",
        lim.rlim_cur, lim.rlim_max
    )))
}

/// A connect or I/O error that is really the descriptor limit becomes a [`FetchError::Limit`].
fn explain_fd(e: FetchError) -> FetchError {
    let emfile = match &e {
        FetchError::Connect { source, .. } | FetchError::Io { source, .. } => source.raw_os_error() == Some(libc::EMFILE) || source.raw_os_error() == Some(libc::ENFILE),
        FetchError::Protocol(m) => m.contains("Too many open files"),
        _ => false,
    };
    if emfile {
        FetchError::Limit(format!("out of file descriptors ({e}): raise `ulimit -n` or use fewer --viewers"))
    } else {
        e
    }
}

/// Runs the load for `duration`, then lets viewers collect late deliveries for a moment.
#[allow(clippy::too_many_arguments)]
pub async fn run(base: &str, video: &str, viewers: usize, transport: Transport, senders: usize, rate: f64, duration: Duration) -> Result<LoadReport, FetchError> {
    let u = url::Url::parse(base).map_err(|e| FetchError::Url(format!("{base}: {e}")))?;
    let host = u.host_str().ok_or_else(|| FetchError::Url(base.into()))?.to_string();
    let port = u.port_or_known_default().unwrap_or(80);
    let addr = format!("{host}:{port}");
    let host_hdr = format!("{host}:{port}");
    ensure_fd_limit((viewers + senders) as u64)?;
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let start = Instant::now();
    // Comments sent before this run (history) are not deliveries of this run.
    let start_ms = now_ms();
    let grace = match transport {
        Transport::Poll(ms) => Duration::from_millis(ms + 300),
        Transport::Ws => Duration::from_millis(300),
    };
    let viewer_end = start + duration + grace;
    let ready = Arc::new(tokio::sync::Barrier::new(viewers + senders));
    let mut tasks = vec![];
    for v in 0..viewers {
        let (tally, latencies, ready) = (tally.clone(), latencies.clone(), ready.clone());
        let (addr, host_hdr, video, base) = (addr.clone(), host_hdr.clone(), video.to_string(), base.to_string());
        tasks.push(tokio::spawn(async move {
            let mut got = vec![];
            match transport {
                Transport::Poll(ms) => {
                    let clock = Clock(Instant::now());
                    let mut c = Conn::open(&addr, v as u32 + 1).await?;
                    c.http = HttpConn::new(0, true).without_notes().keep_text(1 << 20);
                    let mut last = 0u64;
                    ready.wait().await;
                    let mut next = Instant::now();
                    while Instant::now() < viewer_end {
                        let req = get(&format!("/danmaku/{video}?since={last}"), &host_hdr);
                        tally.sent.fetch_add(req.len() as u64, Ordering::Relaxed);
                        c.send(&[req], &clock).await?;
                        let t = c.recv(1, &clock).await?.into_iter().next().ok_or_else(|| FetchError::Protocol("a poll got no answer".into()))?;
                        let now = now_ms();
                        tally.requests.fetch_add(1, Ordering::Relaxed);
                        tally.received.fetch_add(t.response_header_bytes + t.response_body_bytes, Ordering::Relaxed);
                        let list: Vec<Comment> = serde_json::from_slice(&t.response_body).unwrap_or_default();
                        if list.is_empty() {
                            tally.empty.fetch_add(1, Ordering::Relaxed);
                        }
                        for cm in list {
                            last = last.max(cm.id);
                            match cm.sent_at {
                                Some(s) if s >= start_ms => got.push(now - s),
                                _ => {}
                            }
                        }
                        next += Duration::from_millis(ms);
                        tokio::time::sleep_until(next.into()).await;
                    }
                }
                Transport::Ws => {
                    let url = format!("{}/ws/danmaku/{video}", base.trim_end_matches('/').replacen("http://", "ws://", 1));
                    let sock = tokio::net::TcpStream::connect(&addr).await.map_err(|source| FetchError::Connect { addr: addr.clone(), source })?;
                    sock.set_nodelay(true).map_err(|source| FetchError::Io { addr: addr.clone(), source })?;
                    let (ws, _) = tokio_tungstenite::client_async(url.as_str(), sock).await.map_err(|e| FetchError::Protocol(format!("WebSocket: {e}")))?;
                    tally.requests.fetch_add(1, Ordering::Relaxed);
                    let (mut tx, mut rx) = ws.split();
                    ready.wait().await;
                    loop {
                        let left = viewer_end.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match tokio::time::timeout(left, rx.next()).await {
                            Ok(Some(Ok(Message::Text(t)))) => {
                                let now = now_ms();
                                // Server frames: 2-byte header (+2 or +8 for long lengths), unmasked.
                                let hdr = if t.len() < 126 { 2 } else if t.len() < 65536 { 4 } else { 10 };
                                tally.received.fetch_add((t.len() + hdr) as u64, Ordering::Relaxed);
                                if let Ok(Comment { sent_at: Some(s), .. }) = serde_json::from_str::<Comment>(t.as_str()) {
                                    if s >= start_ms {
                                        got.push(now - s);
                                    }
                                }
                            }
                            Ok(Some(Ok(_))) => {}
                            _ => break,
                        }
                    }
                    // A clean close (1000 both ways, the server's FIN first), not a dropped socket
                    // that the next pushed comment would answer with a RST.
                    super::ws_echo::close_cleanly(&mut tx, &mut rx).await;
                }
            }
            tally.deliveries.fetch_add(got.len() as u64, Ordering::Relaxed);
            latencies.lock().await.extend(got);
            Ok::<_, FetchError>(())
        }));
    }
    let sent = Arc::new(AtomicU64::new(0));
    let sender_requests = Arc::new(AtomicU64::new(0));
    for k in 0..senders {
        let (ready, sent, sender_requests) = (ready.clone(), sent.clone(), sender_requests.clone());
        let (addr, host_hdr, video) = (addr.clone(), host_hdr.clone(), video.to_string());
        tasks.push(tokio::spawn(async move {
            let clock = Clock(Instant::now());
            let mut c = Conn::open(&addr, 1000 + k as u32).await?;
            c.http = HttpConn::new(0, true).without_notes();
            ready.wait().await;
            let t0 = Instant::now();
            let gap = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let mut i = 0u64;
            while t0.elapsed() < duration {
                tokio::time::sleep_until((t0 + gap * i as u32).into()).await;
                if t0.elapsed() >= duration {
                    break;
                }
                let body = serde_json::json!({ "text": format!("sender {k} comment {i}"), "video_time": t0.elapsed().as_secs_f64(), "color": "#ffd166", "sent_at": now_ms() }).to_string();
                c.send(&[post(&format!("/danmaku/{video}"), &host_hdr, &body)], &clock).await?;
                c.recv(1, &clock).await?;
                sent.fetch_add(1, Ordering::Relaxed);
                sender_requests.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok::<_, FetchError>(())
        }));
    }
    // The first failure stops the run: the other tasks may be waiting at the barrier for the
    // one that failed, and would wait for ever.
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let all = futures_util::future::try_join_all(tasks.into_iter().map(|t| async move {
        match t.await {
            Ok(r) => r.map_err(explain_fd),
            Err(e) => Err(FetchError::Protocol(format!("a load task failed: {e}"))),
        }
    }))
    .await;
    if let Err(e) = all {
        aborts.iter().for_each(|a| a.abort());
        return Err(e);
    }
    let comments_sent = sent.load(Ordering::Relaxed);
    let lat = std::mem::take(&mut *latencies.lock().await);
    Ok(LoadReport {
        url: base.into(),
        video: video.into(),
        transport,
        viewers,
        senders,
        rate,
        duration_s: duration.as_secs_f64(),
        comments_sent,
        deliveries: tally.deliveries.load(Ordering::Relaxed),
        expected_deliveries: comments_sent * viewers as u64,
        latency: Dist::of(lat),
        viewer_requests: tally.requests.load(Ordering::Relaxed),
        empty_polls: tally.empty.load(Ordering::Relaxed),
        sender_requests: sender_requests.load(Ordering::Relaxed),
        viewer_bytes_sent: tally.sent.load(Ordering::Relaxed),
        viewer_bytes_received: tally.received.load(Ordering::Relaxed),
    })
}
