//! The danmaku (live comments) instrument: one port serving both styles a scenario compares.
//!
//! - `POST /danmaku/<video>` with JSON `{text, video_time, color, sent_at?}` stores a comment;
//! - `GET /danmaku/<video>?since=<id>` returns newer comments (for polling);
//! - `GET /chat/<video>` returns recent history;
//! - `GET /ws/danmaku/<video>` (WebSocket) pushes every new comment to every subscriber, and
//!   accepts comments sent over the socket too;
//! - `GET /stats` gives, per video, the comments stored and the WebSocket subscriptions;
//! - `GET /` is a page with an animated "video", comments flying over it and a chat column, with
//!   a switch between polling and WebSocket.
//!
//! `sent_at` (epoch milliseconds, set by the sender) travels with the comment, so receivers
//! can measure delivery latency end to end.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use crate::proto::http::find_head_end;

const PAGE: &str = include_str!("danmaku.html");
/// Comments kept per video.
const KEEP: usize = 2000;
const MAX_BODY: usize = 64 * 1024;

/// A comment as posted and as delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub id: u64,
    pub text: String,
    #[serde(default)]
    pub video_time: f64,
    #[serde(default = "white")]
    pub color: String,
    /// When the sender sent it (epoch ms), if the sender said.
    #[serde(default)]
    pub sent_at: Option<f64>,
    /// When the server stored it (epoch ms).
    #[serde(default)]
    pub stored_at: f64,
}

fn white() -> String {
    "#ffffff".into()
}

pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1e3
}

struct Video {
    comments: Vec<Comment>,
    next_id: u64,
    push: broadcast::Sender<Arc<String>>,
    /// WebSocket subscriptions ever opened.
    ws_connections: u64,
}

#[derive(Clone, Default)]
struct State(Arc<Mutex<HashMap<String, Video>>>);

impl State {
    fn with<R>(&self, video: &str, f: impl FnOnce(&mut Video) -> R) -> R {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let v = g.entry(video.to_string()).or_insert_with(|| Video { comments: vec![], next_id: 1, push: broadcast::channel(4096).0, ws_connections: 0 });
        f(v)
    }

    fn post(&self, video: &str, mut c: Comment) -> Comment {
        self.with(video, |v| {
            c.id = v.next_id;
            v.next_id += 1;
            c.stored_at = now_ms();
            c.text.truncate(500);
            v.comments.push(c.clone());
            if v.comments.len() > KEEP {
                v.comments.drain(..v.comments.len() - KEEP);
            }
            let _ = v.push.send(Arc::new(serde_json::to_string(&c).expect("a comment serializes")));
            c
        })
    }
}

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    let state = State::default();
    loop {
        let Ok((sock, _)) = listener.accept().await else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let _ = connection(sock, state).await;
        });
    }
}

/// A stream that first yields bytes already read, then the socket (to hand a request that was
/// read for routing over to the WebSocket handshake).
struct Prefixed {
    prefix: Vec<u8>,
    at: usize,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = (self.prefix.len() - self.at).min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct Req {
    method: String,
    path: String,
    query: String,
    upgrade: bool,
    close: bool,
    body: Vec<u8>,
}

/// Reads one request (head and Content-Length body). `None` at a clean end of the connection.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<(Req, usize)>> {
    loop {
        if let Some(end) = find_head_end(buf) {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Request::new(&mut hs);
            if !matches!(r.parse(&buf[..end]), Ok(httparse::Status::Complete(_))) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed request"));
            }
            let get = |n: &str| r.headers.iter().find(|h| h.name.eq_ignore_ascii_case(n)).map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase());
            let len: usize = get("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            if len > MAX_BODY {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
            }
            let (path, query) = match r.path.unwrap_or("/").split_once('?') {
                Some((p, q)) => (p.to_string(), q.to_string()),
                None => (r.path.unwrap_or("/").to_string(), String::new()),
            };
            let req = Req {
                method: r.method.unwrap_or("").to_string(),
                path,
                query,
                upgrade: get("upgrade").is_some_and(|u| u.contains("websocket")),
                close: get("connection").is_some_and(|c| c.contains("close")),
                body: vec![],
            };
            while buf.len() < end + len {
                let mut chunk = [0u8; 8192];
                let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk)).await.map_err(|_| io::ErrorKind::TimedOut)??;
                if n == 0 {
                    return Ok(None);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut req = req;
            req.body = buf[end..end + len].to_vec();
            return Ok(Some((req, end + len)));
        }
        if buf.len() > 16 * 1024 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "header block too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(30), sock.read(&mut chunk)).await.map_err(|_| io::ErrorKind::TimedOut)??;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn respond(sock: &mut TcpStream, status: &str, ctype: &str, body: &[u8], close: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nServer: wirelab/{}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: {}\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len(),
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes();
    out.extend_from_slice(body);
    sock.write_all(&out).await
}

fn video_of<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|v| !v.is_empty() && !v.contains('/'))
}

async fn connection(mut sock: TcpStream, state: State) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let Some((req, used)) = read_request(&mut sock, &mut buf).await? else { return Ok(()) };
        if req.upgrade {
            if let Some(video) = video_of(&req.path, "/ws/danmaku/") {
                let stream = Prefixed { prefix: std::mem::take(&mut buf), at: 0, inner: sock };
                return websocket(stream, state, video.to_string()).await;
            }
        }
        buf.drain(..used);
        let close = req.close;
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/") => respond(&mut sock, "200 OK", "text/html; charset=utf-8", PAGE.as_bytes(), close).await?,
            ("POST", p) if video_of(p, "/danmaku/").is_some() => {
                match serde_json::from_slice::<Comment>(&req.body) {
                    Ok(c) => {
                        let c = state.post(video_of(p, "/danmaku/").expect("checked"), c);
                        respond(&mut sock, "201 Created", "application/json", serde_json::to_string(&c).expect("serializes").as_bytes(), close).await?
                    }
                    Err(e) => respond(&mut sock, "400 Bad Request", "text/plain", format!("bad comment JSON: {e}\n").as_bytes(), close).await?,
                }
            }
            ("GET", p) if video_of(p, "/danmaku/").is_some() => {
                let since: u64 = req.query.split('&').find_map(|kv| kv.strip_prefix("since=")).and_then(|v| v.parse().ok()).unwrap_or(0);
                let list = state.with(video_of(p, "/danmaku/").expect("checked"), |v| v.comments.iter().filter(|c| c.id > since).cloned().collect::<Vec<_>>());
                respond(&mut sock, "200 OK", "application/json", serde_json::to_string(&list).expect("serializes").as_bytes(), close).await?
            }
            ("GET", p) if video_of(p, "/chat/").is_some() => {
                let list = state.with(video_of(p, "/chat/").expect("checked"), |v| v.comments.iter().rev().take(50).rev().cloned().collect::<Vec<_>>());
                respond(&mut sock, "200 OK", "application/json", serde_json::to_string(&list).expect("serializes").as_bytes(), close).await?
            }
            ("GET", "/stats") => {
                let stats: HashMap<String, serde_json::Value> = state
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|(k, v)| {
                        let j = serde_json::json!({ "comments": v.next_id - 1, "subscribers": v.push.receiver_count(), "ws_connections": v.ws_connections });
                        (k.clone(), j)
                    })
                    .collect();
                respond(&mut sock, "200 OK", "application/json", serde_json::to_string(&stats).expect("serializes").as_bytes(), close).await?
            }
            ("GET" | "POST", _) => respond(&mut sock, "404 Not Found", "text/plain", b"not found\n", close).await?,
            _ => respond(&mut sock, "405 Method Not Allowed", "text/plain", b"use GET or POST\n", true).await?,
        }
        if close {
            let _ = sock.shutdown().await;
            return Ok(());
        }
    }
}

async fn websocket(stream: Prefixed, state: State, video: String) -> io::Result<()> {
    let ws = tokio_tungstenite::accept_async(stream).await.map_err(io::Error::other)?;
    let (mut tx, mut rx) = ws.split();
    let mut sub = state.with(&video, |v| {
        v.ws_connections += 1;
        v.push.subscribe()
    });
    loop {
        tokio::select! {
            got = sub.recv() => match got {
                Ok(json) => {
                    if tx.send(Message::Text(json.as_str().into())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(c) = serde_json::from_str::<Comment>(t.as_str()) {
                        state.post(&video, c);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                _ => {}
            },
        }
    }
    let _ = tx.close().await;
    Ok(())
}
