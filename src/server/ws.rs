//! The WebSocket instrument (tokio-tungstenite): `/echo` sends every message back; `/chat/<room>`
//! (or `/chat`) broadcasts every message to everyone in the room. Sockets use `TCP_NODELAY`.
//! tokio-tungstenite has no permessage-deflate, so this server runs uncompressed.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;

type Rooms = Arc<Mutex<HashMap<String, broadcast::Sender<Message>>>>;

/// Serves WebSocket connections until the listener fails.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    let rooms: Rooms = Arc::default();
    loop {
        let Ok((sock, _)) = listener.accept().await else { continue };
        let rooms = rooms.clone();
        tokio::spawn(async move {
            let _ = connection(sock, rooms).await;
        });
    }
}

enum Endpoint {
    Echo,
    Chat(String),
}

async fn connection(sock: TcpStream, rooms: Rooms) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    sock.set_nodelay(true)?;
    let mut endpoint = None;
    let ws = tokio_tungstenite::accept_hdr_async(sock, |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let path = req.uri().path();
        endpoint = if path == "/echo" {
            Some(Endpoint::Echo)
        } else if path == "/chat" {
            Some(Endpoint::Chat("lobby".into()))
        } else {
            path.strip_prefix("/chat/").filter(|r| !r.is_empty()).map(|r| Endpoint::Chat(r.to_string()))
        };
        if endpoint.is_none() {
            let mut e = ErrorResponse::new(Some(format!("no WebSocket endpoint at {path}: use /echo or /chat/<room>\n")));
            *e.status_mut() = StatusCode::NOT_FOUND;
            return Err(e);
        }
        Ok(resp)
    })
    .await?;
    let (mut tx, mut rx) = ws.split();
    match endpoint.expect("set by the handshake") {
        Endpoint::Echo => {
            while let Some(msg) = rx.next().await {
                match msg? {
                    m @ (Message::Text(_) | Message::Binary(_)) => tx.send(m).await?,
                    // Pings are answered by the library; a close is echoed by it too.
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        }
        Endpoint::Chat(room) => {
            let sender = rooms.lock().unwrap_or_else(|e| e.into_inner()).entry(room.clone()).or_insert_with(|| broadcast::channel(1024).0).clone();
            let mut sub = sender.subscribe();
            loop {
                tokio::select! {
                    msg = rx.next() => match msg {
                        Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => { let _ = sender.send(m); }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        _ => {}
                    },
                    got = sub.recv() => match got {
                        Ok(m) => tx.send(m).await?,
                        // A slow reader missed messages; it goes on with the newest.
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        }
    }
    let _ = tx.close().await;
    Ok(())
}
