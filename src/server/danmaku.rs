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

//!
//! Bounded against hostile clients: at most `max_videos` videos, `history` comments kept per
//! video, text cut to `max_text` bytes on a character boundary, `color` a CSS colour, empty
//! comments refused (400), bodies over `max_body` refused (413), a strict `Content-Length`,
//! and a bounded push queue per WebSocket subscriber (dropped with 1008 past it, counted in
//! `/stats`). [`run`] stops on a shutdown signal.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use super::fanout::{Hub, QueueLimits};
use super::ShutdownSignal;
use crate::proto::http::find_head_end;

const PAGE: &str = include_str!("danmaku.html");

/// Limits of `serve danmaku`.
#[derive(Debug, Clone)]
pub struct DanmakuConfig {
    /// Distinct videos held at once; a new one past this is refused (503).
    pub max_videos: usize,
    /// Comments kept per video (older ones are forgotten).
    pub history: usize,
    /// A comment's text is cut to this many bytes (on a character boundary).
    pub max_text: usize,
    /// Largest request body, and largest WebSocket message (413 / close 1009 beyond).
    pub max_body: usize,
    /// Longest video name, in bytes (404 beyond: no such video).
    pub max_video_name: usize,
    /// A request's header block must be complete this long after the previous response.
    pub header_timeout: Duration,
    /// The WebSocket handshake (after the request was read) must finish within this.
    pub handshake_timeout: Duration,
    /// A push subscriber's queue bound (comments); past it, dropped with 1008.
    pub subscriber_queue: usize,
    pub subscriber_queue_bytes: usize,
    /// A write that makes no progress for this long closes the connection.
    pub send_timeout: Duration,
    /// How long in-flight connections get at shutdown.
    pub grace: Duration,
}

impl Default for DanmakuConfig {
    fn default() -> Self {
        DanmakuConfig {
            max_videos: 100,
            history: 1000,
            max_text: 500,
            max_body: 64 * 1024,
            max_video_name: 128,
            header_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            subscriber_queue: 1024,
            subscriber_queue_bytes: 1 << 20,
            send_timeout: Duration::from_secs(60),
            grace: super::SHUTDOWN_GRACE,
        }
    }
}

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

/// The CSS named colours (CSS Color Module Level 4), and `transparent`.
const CSS_NAMES: &str = "aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet brown \
burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue darkcyan darkgoldenrod darkgray \
darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen darkslateblue \
darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite \
forestgreen fuchsia gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo ivory \
khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan lightgoldenrodyellow lightgray lightgreen \
lightgrey lightpink lightsalmon lightseagreen lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime \
limegreen linen magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue \
mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin navajowhite navy oldlace olive \
olivedrab orange orangered orchid palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum \
powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue \
slateblue slategray slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet wheat white whitesmoke \
yellow yellowgreen transparent";

/// Whether `c` is a CSS colour: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, a named colour, or
/// `rgb()`/`rgba()`/`hsl()`/`hsla()` with numbers (plain, percent, degrees) inside.
pub fn is_css_color(c: &str) -> bool {
    let c = c.trim();
    if c.len() > 64 {
        return false;
    }
    if let Some(hex) = c.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let lower = c.to_ascii_lowercase();
    if CSS_NAMES.split_ascii_whitespace().any(|n| n == lower) {
        return true;
    }
    let Some((func, rest)) = lower.split_once('(') else { return false };
    let Some(args) = rest.strip_suffix(')') else { return false };
    if !matches!(func, "rgb" | "rgba" | "hsl" | "hsla") {
        return false;
    }
    let parts: Vec<&str> = args.split([',', ' ', '/']).filter(|p| !p.is_empty()).collect();
    (3..=4).contains(&parts.len())
        && parts.iter().all(|p| {
            let n = p.strip_suffix('%').or_else(|| p.strip_suffix("deg")).unwrap_or(p);
            n.parse::<f64>().is_ok_and(f64::is_finite)
        })
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
}

/// Why a comment or request was refused: the HTTP status and a line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal(pub u16, pub String);

/// Checks and normalizes a posted comment.
pub fn validate(mut c: Comment, cfg: &DanmakuConfig) -> Result<Comment, Refusal> {
    c.text = c.text.trim().to_string();
    if c.text.is_empty() {
        return Err(Refusal(400, "empty comment".into()));
    }
    truncate_chars(&mut c.text, cfg.max_text);
    if !is_css_color(&c.color) {
        return Err(Refusal(400, "color is not a CSS colour (#rgb, #rrggbb, a name, rgb(), hsl())".into()));
    }
    c.color = c.color.trim().to_string();
    if !c.video_time.is_finite() || c.sent_at.is_some_and(|t| !t.is_finite()) {
        return Err(Refusal(400, "video_time and sent_at must be numbers".into()));
    }
    Ok(c)
}

struct Video {
    comments: std::collections::VecDeque<Comment>,
    next_id: u64,
    push: Arc<Hub<Arc<str>>>,
    /// WebSocket subscriptions ever opened.
    ws_connections: u64,
}

struct State {
    videos: Mutex<HashMap<String, Video>>,
    cfg: DanmakuConfig,
}

type Shared = Arc<State>;

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Video>> {
        self.videos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the video, creating it if there is room (503 when there is not).
    fn with<R>(&self, video: &str, f: impl FnOnce(&mut Video) -> R) -> Result<R, Refusal> {
        let mut g = self.lock();
        if !g.contains_key(video) {
            if g.len() >= self.cfg.max_videos {
                return Err(Refusal(503, format!("too many videos (at most {}); post to an existing one", self.cfg.max_videos)));
            }
            let limits = QueueLimits { messages: self.cfg.subscriber_queue, bytes: self.cfg.subscriber_queue_bytes };
            g.insert(video.to_string(), Video { comments: Default::default(), next_id: 1, push: Arc::new(Hub::new(limits)), ws_connections: 0 });
        }
        Ok(f(g.get_mut(video).expect("inserted")))
    }

    /// Reads a video's comments without creating it.
    fn read<R: Default>(&self, video: &str, f: impl FnOnce(&Video) -> R) -> R {
        self.lock().get(video).map(f).unwrap_or_default()
    }

    fn post(&self, video: &str, c: Comment) -> Result<Comment, Refusal> {
        let mut c = validate(c, &self.cfg)?;
        let history = self.cfg.history.max(1);
        self.with(video, |v| {
            c.id = v.next_id;
            v.next_id += 1;
            c.stored_at = now_ms();
            v.comments.push_back(c.clone());
            while v.comments.len() > history {
                v.comments.pop_front();
            }
            let json: Arc<str> = serde_json::to_string(&c).expect("a comment serializes").into();
            let n = json.len();
            v.push.publish(&json, n);
            c
        })
    }
}

/// Serves with the default limits until the listener fails.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    run(listener, DanmakuConfig::default(), std::future::pending()).await
}

/// Serves until `shutdown` completes; then stops accepting, lets in-flight responses finish,
/// closes push subscribers with 1001 and returns (after at most `cfg.grace`).
pub async fn run(listener: TcpListener, cfg: DanmakuConfig, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
    let grace = cfg.grace;
    let state: Shared = Arc::new(State { videos: Mutex::default(), cfg });
    super::accept_loop(listener, "serve danmaku", grace, shutdown, move |sock, _, stop| {
        let state = state.clone();
        async move {
            let _ = connection(sock, state, stop).await;
        }
    })
    .await
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

/// What reading a request gave: a request (and the bytes it used), the end of the connection,
/// or a refusal to answer before closing.
enum Read {
    Req(Req, usize),
    End,
    Refuse(Refusal),
}

fn refuse(code: u16, why: &str) -> Read {
    Read::Refuse(Refusal(code, format!("{why}\n")))
}

/// Reads one request (head and Content-Length body).
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>, cfg: &DanmakuConfig, stop: &mut ShutdownSignal) -> io::Result<Read> {
    let deadline = Instant::now() + cfg.header_timeout;
    loop {
        if let Some(end) = find_head_end(buf) {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Request::new(&mut hs);
            match r.parse(&buf[..end]) {
                Ok(httparse::Status::Complete(_)) => {}
                Err(httparse::Error::TooManyHeaders) => return Ok(refuse(431, "too many header fields")),
                _ => return Ok(refuse(400, "malformed request")),
            }
            let get = |n: &str| r.headers.iter().find(|h| h.name.eq_ignore_ascii_case(n)).map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase());
            if get("transfer-encoding").is_some() {
                return Ok(refuse(400, "Transfer-Encoding is not accepted here: send a Content-Length"));
            }
            let len = match super::http::content_length(r.headers) {
                Ok(n) => n.unwrap_or(0),
                Err(()) => return Ok(refuse(400, "bad Content-Length")),
            };
            if len > cfg.max_body as u64 {
                return Ok(refuse(413, &format!("body over {} bytes", cfg.max_body)));
            }
            let len = len as usize;
            let target = r.path.unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let mut req = Req {
                method: r.method.unwrap_or("").to_string(),
                path: path.to_string(),
                query: query.to_string(),
                upgrade: get("upgrade").is_some_and(|u| u.contains("websocket")),
                close: get("connection").is_some_and(|c| c.contains("close")) || r.version == Some(0),
                body: vec![],
            };
            while buf.len() < end + len {
                let mut chunk = [0u8; 8192];
                let n = tokio::time::timeout(cfg.header_timeout, sock.read(&mut chunk)).await.map_err(|_| io::ErrorKind::TimedOut)??;
                if n == 0 {
                    return Ok(Read::End);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            req.body = buf[end..end + len].to_vec();
            return Ok(Read::Req(req, end + len));
        }
        if buf.len() > 16 * 1024 {
            return Ok(refuse(431, "header block over 16 KiB"));
        }
        let mut chunk = [0u8; 8192];
        let idle = buf.is_empty();
        let n = tokio::select! {
            r = tokio::time::timeout_at(deadline.into(), sock.read(&mut chunk)) => match r {
                Ok(r) => r?,
                Err(_) if idle => return Ok(Read::End),
                Err(_) => return Ok(refuse(408, "request header timeout")),
            },
            // At shutdown, a connection between requests closes.
            _ = stop.wait(), if idle => return Ok(Read::End),
        };
        if n == 0 {
            return Ok(Read::End);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

async fn respond(sock: &mut TcpStream, code: u16, ctype: &str, body: &[u8], close: bool, t: Duration) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nServer: wirelab/{}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: {}\r\n\r\n",
        reason(code),
        env!("CARGO_PKG_VERSION"),
        body.len(),
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes();
    out.extend_from_slice(body);
    tokio::time::timeout(t, sock.write_all(&out)).await.map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// Closes with a FIN: stop writing, then read (and drop) what the client still sends for at
/// most a second, so unread bytes do not turn the close into a RST.
async fn close_gracefully(mut sock: TcpStream) {
    let _ = sock.shutdown().await;
    let mut sink = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline.into(), sock.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}

fn video_of<'a>(path: &'a str, prefix: &str, cfg: &DanmakuConfig) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|v| !v.is_empty() && !v.contains('/') && v.len() <= cfg.max_video_name)
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serializes")
}

/// Answers one plain HTTP request: (status, content type, body).
fn answer(req: &Req, state: &State) -> (u16, &'static str, Vec<u8>) {
    let cfg = &state.cfg;
    let text = |code: u16, t: String| (code, "text/plain; charset=utf-8", t.into_bytes());
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") => (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        ("POST", p) if video_of(p, "/danmaku/", cfg).is_some() => {
            let video = video_of(p, "/danmaku/", cfg).expect("checked");
            match serde_json::from_slice::<Comment>(&req.body) {
                Ok(c) => match state.post(video, c) {
                    Ok(c) => (201, "application/json", json(&c)),
                    Err(Refusal(code, why)) => text(code, format!("{why}\n")),
                },
                Err(e) => text(400, format!("bad comment JSON: {e}\n")),
            }
        }
        ("GET", p) if video_of(p, "/danmaku/", cfg).is_some() => {
            let since: u64 = req.query.split('&').find_map(|kv| kv.strip_prefix("since=")).and_then(|v| v.parse().ok()).unwrap_or(0);
            let list = state.read(video_of(p, "/danmaku/", cfg).expect("checked"), |v| v.comments.iter().filter(|c| c.id > since).cloned().collect::<Vec<_>>());
            (200, "application/json", json(&list))
        }
        ("GET", p) if video_of(p, "/chat/", cfg).is_some() => {
            let list = state.read(video_of(p, "/chat/", cfg).expect("checked"), |v| v.comments.iter().rev().take(50).rev().cloned().collect::<Vec<_>>());
            (200, "application/json", json(&list))
        }
        ("GET", "/stats") => {
            let stats: HashMap<String, serde_json::Value> = state
                .lock()
                .iter()
                .map(|(k, v)| {
                    let j = serde_json::json!({
                        "comments": v.next_id - 1,
                        "kept": v.comments.len(),
                        "subscribers": v.push.subscribers(),
                        "ws_connections": v.ws_connections,
                        "dropped_slow": v.push.dropped.load(Ordering::Relaxed),
                    });
                    (k.clone(), j)
                })
                .collect();
            (200, "application/json", json(&stats))
        }
        ("GET" | "POST", _) => text(404, "not found\n".into()),
        _ => text(405, "use GET or POST\n".into()),
    }
}

async fn connection(mut sock: TcpStream, state: Shared, mut stop: ShutdownSignal) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let t = state.cfg.send_timeout;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (req, used) = match read_request(&mut sock, &mut buf, &state.cfg, &mut stop).await? {
            Read::Req(r, n) => (r, n),
            Read::End => return Ok(()),
            Read::Refuse(Refusal(code, why)) => {
                let _ = respond(&mut sock, code, "text/plain; charset=utf-8", why.as_bytes(), true, t).await;
                close_gracefully(sock).await;
                return Ok(());
            }
        };
        if req.upgrade && req.method == "GET" {
            if let Some(video) = video_of(&req.path, "/ws/danmaku/", &state.cfg) {
                let video = video.to_string();
                let sub = state.with(&video, |v| {
                    v.ws_connections += 1;
                    v.push.clone()
                });
                let hub = match sub {
                    Ok(h) => h,
                    Err(Refusal(code, why)) => {
                        let _ = respond(&mut sock, code, "text/plain; charset=utf-8", why.as_bytes(), true, t).await;
                        close_gracefully(sock).await;
                        return Ok(());
                    }
                };
                let stream = Prefixed { prefix: std::mem::take(&mut buf), at: 0, inner: sock };
                return websocket(stream, state, hub, video, stop).await;
            }
        }
        buf.drain(..used);
        let close = req.close || stop.is_set();
        let (code, ctype, body) = answer(&req, &state);
        let close = close || code == 405;
        respond(&mut sock, code, ctype, &body, close, t).await?;
        if close {
            close_gracefully(sock).await;
            return Ok(());
        }
    }
}

async fn websocket(stream: Prefixed, state: Shared, hub: Arc<Hub<Arc<str>>>, video: String, mut stop: ShutdownSignal) -> io::Result<()> {
    let cfg = &state.cfg;
    let wcfg = WebSocketConfig::default().max_message_size(Some(cfg.max_body)).max_frame_size(Some(cfg.max_body));
    let ws = match tokio::time::timeout(cfg.handshake_timeout, tokio_tungstenite::accept_async_with_config(stream, Some(wcfg))).await {
        Ok(r) => r.map_err(io::Error::other)?,
        Err(_) => return Ok(()),
    };
    let (mut tx, mut rx) = ws.split();
    let (id, mut sub) = hub.subscribe(|m: &Arc<str>| m.len());
    let close = |code: CloseCode, why: &str| Message::Close(Some(CloseFrame { code, reason: why.to_string().into() }));
    let mut wait = Duration::from_secs(1);
    let last = loop {
        tokio::select! {
            got = sub.recv() => match got {
                Some(json) => {
                    tokio::select! {
                        r = tokio::time::timeout(cfg.send_timeout, tx.send(Message::Text(json.as_ref().into()))) => if !matches!(r, Ok(Ok(()))) { break None },
                        _ = sub.kicked() => { wait = Duration::from_secs(5); break Some(close(CloseCode::Policy, "too slow: push queue full")) }
                    }
                }
                None => { wait = Duration::from_secs(5); break Some(close(CloseCode::Policy, "too slow: push queue full")) }
            },
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    // Comments over the socket follow the REST rules; a bad one is ignored.
                    if let Ok(c) = serde_json::from_str::<Comment>(t.as_str()) {
                        let _ = state.post(&video, c);
                    }
                }
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => break Some(close(CloseCode::Size, "message over the size limit")),
                Some(Err(_)) => break None,
                _ => {}
            },
            _ = stop.wait() => break Some(close(CloseCode::Away, "server shutting down")),
        }
    };
    hub.unsubscribe(id);
    drop(sub);
    if let Some(m) = last {
        let _ = tokio::time::timeout(wait, tx.send(m)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.close()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_colours() {
        for ok in ["#fff", "#FFD166", "#ffd16680", "#abcd", "red", "RebeccaPurple", "rgb(255, 0, 0)", "rgba(0,0,0,0.5)", "hsl(120deg 50% 50%)", "hsl(120 50% 50% / 0.3)"] {
            assert!(is_css_color(ok), "{ok}");
        }
        for bad in ["", "#ff", "#ggg", "#fffff", "notacolour", "red;background:url(x)", "rgb(1,2)", "rgb(a,b,c)", "expression(alert(1))", &"#".repeat(100), "url(x)"] {
            assert!(!is_css_color(bad), "{bad}");
        }
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let cfg = DanmakuConfig::default();
        let c = |text: String| Comment { id: 0, text, video_time: 0.0, color: "#fff".into(), sent_at: None, stored_at: 0.0 };
        // 3-byte characters: 500 is not a boundary (499 is).
        let v = validate(c("弾".repeat(300)), &cfg).unwrap();
        assert_eq!(v.text.len(), 498);
        assert!(v.text.chars().all(|ch| ch == '弾'));
        let v = validate(c("é".repeat(300)), &cfg).unwrap();
        assert_eq!(v.text.len(), 500);
        assert_eq!(validate(c("   ".into()), &cfg).unwrap_err().0, 400);
        assert_eq!(validate(Comment { color: "x".repeat(1000), ..c("hi".into()) }, &cfg).unwrap_err().0, 400);
    }
}
