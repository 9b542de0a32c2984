//! The WebSocket instrument (tokio-tungstenite): `/echo` sends every message back; `/chat/<room>`
//! (or `/chat`) broadcasts every message to everyone in the room. Sockets use `TCP_NODELAY`.
//! tokio-tungstenite has no permessage-deflate, so this server runs uncompressed.
//!
//! Limits against hostile clients: a handshake must finish within `handshake_timeout`; a frame
//! or message past its size limit closes the connection with 1009; a chat subscriber whose
//! queue passes its bound is dropped with 1008 (and counted); rooms are freed when empty.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::fanout::{Hub, QueueLimits};
use super::ShutdownSignal;

/// Limits of `serve ws`.
#[derive(Debug, Clone)]
pub struct WsServerConfig {
    /// Largest message (all fragments together), in bytes: close 1009 beyond.
    pub max_message: usize,
    /// Largest single frame, in bytes: close 1009 beyond.
    pub max_frame: usize,
    /// The opening handshake must be complete this long after the TCP connection.
    pub handshake_timeout: Duration,
    /// A chat subscriber's queue: at most this many messages and bytes, then it is dropped (1008).
    pub subscriber_queue: usize,
    pub subscriber_queue_bytes: usize,
    /// A send to a peer that does not read gives up after this long.
    pub send_timeout: Duration,
    /// How long in-flight connections get at shutdown.
    pub grace: Duration,
}

impl Default for WsServerConfig {
    fn default() -> Self {
        WsServerConfig {
            max_message: 16 << 20,
            max_frame: 16 << 20,
            handshake_timeout: Duration::from_secs(10),
            subscriber_queue: 1024,
            subscriber_queue_bytes: 8 << 20,
            send_timeout: Duration::from_secs(60),
            grace: super::SHUTDOWN_GRACE,
        }
    }
}

impl WsServerConfig {
    pub(crate) fn tungstenite(&self) -> WebSocketConfig {
        WebSocketConfig::default().max_message_size(Some(self.max_message)).max_frame_size(Some(self.max_frame.min(self.max_message)))
    }
}

type Rooms = Arc<Mutex<HashMap<String, Arc<Hub<Message>>>>>;

/// Counts, for the log.
#[derive(Default)]
struct Counters {
    slow_dropped: AtomicU64,
}

/// Serves WebSocket connections with the default limits until the listener fails.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    run(listener, WsServerConfig::default(), std::future::pending()).await
}

/// Serves until `shutdown` completes; then stops accepting, closes open WebSockets with 1001
/// (going away) and returns once they are closed or the grace period is over.
pub async fn run(listener: TcpListener, cfg: WsServerConfig, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
    let rooms: Rooms = Arc::default();
    let counters = Arc::new(Counters::default());
    let cfg = Arc::new(cfg);
    let grace = cfg.grace;
    super::accept_loop(listener, "serve ws", grace, shutdown, move |sock, _, stop| {
        let (rooms, cfg, counters) = (rooms.clone(), cfg.clone(), counters.clone());
        async move {
            let _ = connection(sock, rooms, cfg, counters, stop).await;
        }
    })
    .await
}

enum Endpoint {
    Echo,
    Chat(String),
}

fn message_len(m: &Message) -> usize {
    m.len()
}

type Tx = SplitSink<WebSocketStream<TcpStream>, Message>;
type Rx = SplitStream<WebSocketStream<TcpStream>>;

/// Sends a close frame, waiting at most `wait` for it to go out.
async fn close_within<S: Sink<Message> + Unpin>(tx: &mut S, code: CloseCode, reason: &str, wait: Duration) {
    let frame = CloseFrame { code, reason: reason.to_string().into() };
    let _ = tokio::time::timeout(wait, tx.send(Message::Close(Some(frame)))).await;
}

async fn close_with<S: Sink<Message> + Unpin>(tx: &mut S, code: CloseCode, reason: &str) {
    close_within(tx, code, reason, Duration::from_secs(1)).await
}

/// A dropped slow subscriber gets a few seconds to read what is queued and the 1008 close.
async fn close_slow(tx: &mut Tx) {
    close_within(tx, CloseCode::Policy, "too slow: subscriber queue full", Duration::from_secs(5)).await
}

/// What a read error means for the close: 1009 for a size limit, nothing for the rest.
async fn close_for<S: Sink<Message> + Unpin>(tx: &mut S, e: &WsError) {
    if let WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) = e {
        close_with(tx, CloseCode::Size, &format!("message or frame of {size} bytes over the limit of {max_size}")).await;
    }
}

async fn connection(sock: TcpStream, rooms: Rooms, cfg: Arc<WsServerConfig>, counters: Arc<Counters>, stop: ShutdownSignal) -> Result<(), WsError> {
    sock.set_nodelay(true)?;
    let mut endpoint = None;
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        sock,
        #[allow(clippy::result_large_err)] // the callback's type is tungstenite's
        |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            let path = req.uri().path();
            endpoint = if path == "/echo" {
                Some(Endpoint::Echo)
            } else if path == "/chat" {
                Some(Endpoint::Chat("lobby".into()))
            } else {
                path.strip_prefix("/chat/").filter(|r| !r.is_empty() && r.len() <= 256).map(|r| Endpoint::Chat(r.to_string()))
            };
            if endpoint.is_none() {
                let mut e = ErrorResponse::new(Some(format!("no WebSocket endpoint at {path}: use /echo or /chat/<room>\n")));
                *e.status_mut() = StatusCode::NOT_FOUND;
                return Err(e);
            }
            Ok(resp)
        },
        Some(cfg.tungstenite()),
    );
    // An unfinished handshake is dropped (the TCP connection with it) after the timeout, or
    // at shutdown.
    let mut stop_hs = stop.clone();
    let ws = tokio::select! {
        r = tokio::time::timeout(cfg.handshake_timeout, handshake) => match r {
            Ok(ws) => ws,
            Err(_) => return Ok(()),
        },
        _ = stop_hs.wait() => return Ok(()),
    };
    let mut ws = ws?;
    match endpoint.expect("set by the handshake") {
        // Echo reads and writes in turn: the stream is not split (no lock between halves).
        Endpoint::Echo => {
            echo(&mut ws, &cfg, stop).await?;
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        Endpoint::Chat(room) => {
            let (mut tx, rx) = ws.split();
            chat(&mut tx, rx, &room, &rooms, &cfg, &counters, stop).await?;
            let _ = tokio::time::timeout(Duration::from_secs(1), tx.close()).await;
        }
    }
    Ok(())
}

async fn echo(ws: &mut WebSocketStream<TcpStream>, cfg: &WsServerConfig, mut stop: ShutdownSignal) -> Result<(), WsError> {
    // One shutdown future for the whole loop (not a new one per message).
    let stopped = stop.wait();
    tokio::pin!(stopped);
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = &mut stopped => {
                close_with(ws, CloseCode::Away, "server shutting down").await;
                return Ok(());
            }
        };
        match msg {
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => match tokio::time::timeout(cfg.send_timeout, ws.send(m)).await {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            },
            // Pings are answered by the library. A close is answered by it too, but the reply is
            // only queued: flush it, so the client gets its Close back (RFC 6455 §5.5.1).
            Some(Ok(Message::Close(_))) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.flush()).await;
                return Ok(());
            }
            None => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                close_for(ws, &e).await;
                return Err(e);
            }
        }
    }
}

async fn chat(tx: &mut Tx, mut rx: Rx, room: &str, rooms: &Rooms, cfg: &WsServerConfig, counters: &Counters, mut stop: ShutdownSignal) -> Result<(), WsError> {
    let limits = QueueLimits { messages: cfg.subscriber_queue, bytes: cfg.subscriber_queue_bytes };
    let hub = rooms.lock().unwrap_or_else(|e| e.into_inner()).entry(room.to_string()).or_insert_with(|| Arc::new(Hub::new(limits))).clone();
    let (id, mut sub) = hub.subscribe(message_len);
    let stopped = stop.wait();
    tokio::pin!(stopped);
    let result = loop {
        // Deliveries first: a connection drains its own queue before it reads (and publishes)
        // more, which also slows a publisher down to what the room can take.
        tokio::select! {
            biased;
            got = sub.recv() => match got {
                Some(m) => {
                    tokio::select! {
                        r = tokio::time::timeout(cfg.send_timeout, tx.send(m)) => match r {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => break Err(e),
                            Err(_) => break Ok(()),
                        },
                        _ = sub.kicked() => {
                            close_slow(tx).await;
                            break Ok(());
                        }
                    }
                }
                None => {
                    close_slow(tx).await;
                    break Ok(());
                }
            },
            msg = rx.next() => match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    let n = hub.publish(&m, m.len());
                    if n > 0 {
                        let total = counters.slow_dropped.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                        eprintln!("wirelab: serve ws: dropped {n} slow subscriber(s) of room {room:?} (1008); {total} so far");
                    }
                }
                Some(Ok(Message::Close(_))) => {
                    // The library queued the Close reply: send it.
                    let _ = tokio::time::timeout(Duration::from_secs(1), tx.flush()).await;
                    break Ok(());
                }
                None => break Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    close_for(tx, &e).await;
                    break Err(e);
                }
            },
            _ = &mut stopped => {
                close_with(tx, CloseCode::Away, "server shutting down").await;
                break Ok(());
            }
        }
    };
    hub.unsubscribe(id);
    // Free the room when its last subscriber leaves.
    let mut g = rooms.lock().unwrap_or_else(|e| e.into_inner());
    if g.get(room).is_some_and(|h| h.subscribers() == 0 && Arc::strong_count(h) <= 2) {
        g.remove(room);
    }
    result
}
