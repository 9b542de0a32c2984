//! HTTP and WebSocket details on real captures of third-party programs (curl, nginx, Python's
//! http.server and `websockets`): transactions, pairing, bodies, timing, and WebSocket messages,
//! echo pairing, compression, close codes and ping RTT. Counts are checked against tshark in
//! tshark_oracle.rs; these tests check what tshark's counts cannot show.

mod common;
use common::*;

use wirelab::analysis::{analyze, Observed, Observer, Summary, CONTINUE};
use wirelab::decode::AnomalyKind;
use wirelab::capture::CaptureReader;
use wirelab::proto::http::Transaction;
use wirelab::proto::websocket::{Opcode, WsFrame, WsMessage};

#[derive(Default)]
struct Collect {
    txs: Vec<Transaction>,
    frames: Vec<WsFrame>,
    msgs: Vec<WsMessage>,
}
impl Observer for Collect {
    fn transaction(&mut self, t: &Transaction) -> Observed {
        self.txs.push(t.clone());
        CONTINUE
    }
    fn ws_frame(&mut self, f: &WsFrame) -> Observed {
        self.frames.push(f.clone());
        CONTINUE
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        self.msgs.push(m.clone());
        CONTINUE
    }
}

fn load(name: &str) -> (Summary, Collect) {
    let f = std::fs::File::open(fixtures().join(name)).unwrap();
    let mut c = Collect::default();
    let s = analyze(CaptureReader::new(f).unwrap(), &mut c).unwrap();
    (s, c)
}

#[test]
fn curl_nginx_keep_alive_close_304_head_404_400_chunked() {
    let (s, c) = load("http-curl-nginx.pcap");
    // Three requests on the first connection, numbered 1, 2, 3; only the first paid for the handshake.
    let first: Vec<_> = c.txs.iter().filter(|t| t.stream == 0).collect();
    assert_eq!(first.iter().map(|t| t.index_on_conn).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(first.iter().map(|t| t.paid_handshake).collect::<Vec<_>>(), [true, false, false]);
    assert!(first.iter().all(|t| t.response_headers.connection.as_deref() == Some("keep-alive")));
    let by = |p: &dyn Fn(&&Transaction) -> bool| c.txs.iter().find(p).unwrap_or_else(|| panic!("no such transaction")).clone();
    let close = by(&|t| t.request_headers.connection.as_deref() == Some("close"));
    assert_eq!(close.status, Some(200));
    let not_modified = by(&|t| t.status == Some(304));
    assert!(not_modified.request_headers.if_modified_since.is_some());
    assert_eq!((not_modified.response_body_bytes, not_modified.complete), (0, true));
    let head = by(&|t| t.method.as_deref() == Some("HEAD"));
    assert_eq!((head.status, head.response_body_bytes), (Some(200), 0));
    assert!(head.response_headers.content_length.unwrap() > 0);
    let missing = by(&|t| t.status == Some(404));
    assert_eq!(missing.response_body_bytes, missing.response_headers.content_length.unwrap());
    let chunked = by(&|t| t.response_headers.transfer_encoding.as_deref() == Some("chunked"));
    assert!(chunked.complete && chunked.response_body_bytes > 0);
    // The garbage request is not an HTTP message; nginx's 400 is, and it becomes an anomaly-free
    // response without a request.
    let bad = by(&|t| t.status == Some(400));
    assert_eq!(bad.method, None);
    assert!(s.anomalies.iter().all(|a| a.kind != AnomalyKind::HttpTruncated), "{:?}", s.anomalies);
    // Every complete transaction has its timings in order.
    for t in c.txs.iter().filter(|t| t.method.is_some()) {
        let (a, b, z) = (t.request_ns.unwrap(), t.response_first_ns.unwrap(), t.response_last_ns.unwrap());
        assert!(a <= b && b <= z, "{t:?}");
        assert!(t.response_headers.date.is_some(), "{t:?}");
    }
    assert_eq!(s.http.ttfb.count, 8);
}

#[test]
fn pipelined_batch_pairs_in_order() {
    let (s, c) = load("http-pipelined.pcap");
    assert_eq!(s.tcp.connections, 1);
    let targets: Vec<_> = c.txs.iter().map(|t| (t.index_on_conn, t.target.clone().unwrap(), t.status.unwrap())).collect();
    assert_eq!(targets.len(), 5);
    assert_eq!(targets.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(targets[3].1, "/missing.html");
    assert_eq!(targets[3].2, 404);
    // All five requests were in one segment.
    assert!(c.txs.iter().all(|t| t.request_frame == c.txs[0].request_frame));
}

#[test]
fn python_http_server_bodies_end_at_close() {
    let (s, c) = load("http-python-server.pcap");
    assert_eq!(s.http.complete, 3);
    for t in &c.txs {
        assert_eq!(t.response_version.as_deref(), Some("HTTP/1.0"));
        assert!(t.complete);
    }
}

#[test]
fn websocket_echo_text_binary_large_fragmented_ping_close() {
    let (s, c) = load("ws-echo.pcap");
    assert_eq!(s.websocket.connections, 1);
    assert_eq!(s.websocket.deflate_connections, 0);
    // Four client messages, each echoed once.
    let client: Vec<_> = c.msgs.iter().filter(|m| !m.from_server).collect();
    let server: Vec<_> = c.msgs.iter().filter(|m| m.from_server).collect();
    assert_eq!((client.len(), server.len()), (4, 4));
    for m in &server {
        let of = m.echo_of.expect("every server message echoes a client message");
        let orig = c.msgs.iter().find(|x| x.index == of).unwrap();
        assert_eq!((orig.kind, orig.size), (m.kind, m.size));
        assert!(m.echo_latency_ms.unwrap() > 0.0);
    }
    assert_eq!(s.websocket.echo.count, 4);
    // The 70,000-byte message uses the 64-bit length form.
    let big = client.iter().find(|m| m.size == 70_000).expect("the large message");
    assert_eq!((big.kind, big.frames), ("text", 1));
    let big_frame = c.frames.iter().find(|f| f.payload_bytes == 70_000).unwrap();
    assert_eq!(big_frame.header_bytes, 2 + 8 + 4);
    // The fragmented message: a text frame and three continuations, the last one with FIN.
    let frag = client.iter().find(|m| m.frames > 1).expect("the fragmented message");
    assert_eq!(frag.frames, 4);
    assert!(frag.preview.starts_with("fragment one"));
    // Client frames are masked, server frames are not.
    assert!(c.frames.iter().all(|f| f.masked != f.from_server));
    // Ping answered by a pong with an RTT; a close with code 1000 each way.
    assert_eq!(s.websocket.ping_rtt.count, 1);
    let closes: Vec<_> = c.frames.iter().filter(|f| f.opcode == Opcode::Close).collect();
    assert_eq!(closes.len(), 2);
    assert!(closes.iter().all(|f| f.close_code == Some(1000)));
    assert_eq!(s.websocket.close_codes.get("1000 client"), Some(&1));
    assert_eq!(s.websocket.close_codes.get("1000 server"), Some(&1));
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

#[test]
fn websocket_permessage_deflate_with_context_takeover() {
    let (s, c) = load("ws-echo-deflate.pcap");
    assert_eq!(s.websocket.deflate_connections, 1);
    let texts: Vec<_> = c.msgs.iter().filter(|m| m.kind == "text").collect();
    assert_eq!(texts.len(), 8);
    // Same 57-character text every time; later copies compress to a few bytes (context takeover).
    assert!(texts.iter().all(|m| m.compressed && m.size == 57));
    let client_wire: Vec<u64> = texts.iter().filter(|m| !m.from_server).map(|m| m.wire_bytes).collect();
    assert!(client_wire[0] > 5 * client_wire[3], "{client_wire:?}");
    let bin = c.msgs.iter().find(|m| m.kind == "binary").unwrap();
    assert_eq!((bin.size, bin.compressed), (256, true));
    assert!(c.frames.iter().filter(|f| f.opcode != Opcode::Close).all(|f| f.rsv1));
    assert_eq!(s.websocket.echo.count, 5);
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

#[test]
fn follow_http_shows_messages_with_headers() {
    let path = fixtures().join("http-curl-nginx.pcap");
    let out = run(&["follow", path.to_str().unwrap(), "-s", "0", "-f", "http"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("──── request").count(), 3, "{text}");
    assert_eq!(text.matches("──── response").count(), 3);
    assert!(text.contains("GET /small.txt HTTP/1.1\nHost: "));
    assert!(text.contains("hello from the fixture site"));
    let path = fixtures().join("ws-echo-deflate.pcap");
    let out = run(&["follow", path.to_str().unwrap(), "-s", "0", "-f", "http"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("HTTP/1.1 101 Switching Protocols"));
    assert_eq!(text.matches("(45 B compressed)").count(), 2, "{text}");
}
