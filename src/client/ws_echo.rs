//! The WebSocket echo client instrument: N messages of S bytes, paced at R per second or as
//! fast as the echoes come back, with per-message round-trip times and throughput; over one
//! connection or several at once (each sending its own N messages).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::analysis::Dist;

#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error("bad URL {0}")]
    Url(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("WebSocket error: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the server closed the connection after {0} echoes")]
    Closed(u64),
    #[error("echo {0} came back different from what was sent")]
    Mismatch(u64),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EchoReport {
    pub url: String,
    /// Concurrent connections; `messages` counts all of them.
    pub connections: usize,
    pub messages: u64,
    pub size: usize,
    pub binary: bool,
    /// Target rate (messages/s); null = as fast as possible.
    pub rate: Option<f64>,
    pub rtt: Dist,
    pub duration_s: f64,
    pub messages_per_s: f64,
    /// Payload megabytes per second, counted one way.
    pub mb_per_s: f64,
}

/// Runs the echo test over one connection. Each message carries its sequence number, so the
/// echo is checked.
pub async fn run(url: &str, count: u64, size: usize, rate: Option<f64>, binary: bool) -> Result<EchoReport, EchoError> {
    run_many(url, count, size, rate, binary, 1).await
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn connect(url: &str) -> Result<Ws, EchoError> {
    let u = url::Url::parse(url).map_err(|e| EchoError::Url(format!("{url}: {e}")))?;
    let host = u.host_str().ok_or_else(|| EchoError::Url(url.into()))?.to_string();
    let addr = format!("{}:{}", if host.contains(':') { format!("[{host}]") } else { host }, u.port_or_known_default().unwrap_or(80));
    let sock = TcpStream::connect(&addr).await.map_err(|e| EchoError::Connect(addr.clone(), e))?;
    sock.set_nodelay(true).map_err(|e| EchoError::Connect(addr.clone(), e))?;
    let (ws, _) = tokio_tungstenite::client_async(url, sock).await?;
    Ok(ws)
}

/// Runs the echo test over `connections` connections at once (all opened first), each sending
/// `count` messages; the report covers every message of every connection.
pub async fn run_many(url: &str, count: u64, size: usize, rate: Option<f64>, binary: bool, connections: usize) -> Result<EchoReport, EchoError> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        conns.push(connect(url).await?);
    }
    let start = Instant::now();
    let results = futures_util::future::join_all(conns.into_iter().map(|ws| one(ws, count, size, rate, binary, start))).await;
    let duration = start.elapsed().as_secs_f64();
    let mut rtts = Vec::with_capacity(count as usize * connections);
    for r in results {
        rtts.extend(r?);
    }
    let total = rtts.len() as u64;
    Ok(EchoReport {
        url: url.into(),
        connections: connections.max(1),
        messages: total,
        size,
        binary,
        rate,
        rtt: Dist::of(rtts),
        duration_s: duration,
        messages_per_s: total as f64 / duration.max(1e-9),
        mb_per_s: total as f64 * size as f64 / 1e6 / duration.max(1e-9),
    })
}

/// One connection's messages: their round-trip times in milliseconds.
async fn one(ws: Ws, count: u64, size: usize, rate: Option<f64>, binary: bool, start: Instant) -> Result<Vec<f64>, EchoError> {
    let (mut tx, mut rx) = ws.split();
    let mut rtts = Vec::with_capacity(count as usize);
    let gap = rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
    for i in 0..count {
        if let Some(g) = gap {
            tokio::time::sleep_until((start + g * i as u32).into()).await;
        }
        let mut payload = format!("{i:010} ").into_bytes();
        payload.resize(size.max(payload.len()), b'x');
        let sent = Instant::now();
        let msg = if binary { Message::Binary(payload.clone().into()) } else { Message::Text(String::from_utf8(payload.clone()).expect("ascii").into()) };
        tx.send(msg).await?;
        loop {
            match rx.next().await {
                Some(Ok(Message::Text(t))) if !binary => {
                    if t.as_bytes() != payload.as_slice() {
                        return Err(EchoError::Mismatch(i));
                    }
                    break;
                }
                Some(Ok(Message::Binary(b))) if binary => {
                    if b[..] != payload[..] {
                        return Err(EchoError::Mismatch(i));
                    }
                    break;
                }
                Some(Ok(Message::Close(_))) | None => return Err(EchoError::Closed(i)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            }
        }
        rtts.push(sent.elapsed().as_nanos() as f64 / 1e6);
    }
    close_cleanly(&mut tx, &mut rx).await;
    Ok(rtts)
}

/// The closing handshake of RFC 6455 §7: a Close with 1000 (normal), then the server's Close
/// in reply, then the server closes the TCP connection first and the client follows, so
/// neither side sends a RST. Bounded, so a server that never answers cannot hold the client.
pub(crate) async fn close_cleanly<S, R>(tx: &mut S, rx: &mut R)
where
    S: futures_util::Sink<Message> + Unpin,
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let bye = Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }));
    if tx.send(bye).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        // Read until the server's Close has come and the server has closed the connection.
        while let Some(Ok(_)) = rx.next().await {}
    })
    .await;
}
