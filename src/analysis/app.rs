//! The application layer of the analysis pass: routes reassembled stream events to the HTTP
//! and WebSocket parsers, keeps their statistics, and notes what each packet completed.
//!
//! State exists only for open connections; records (transactions, frames, messages) are
//! handed to the observer as they complete and counted, not stored.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::proto::http::{self, HttpConn, Transaction, Upgrade};
use crate::decode::AnomalyKind;
use crate::proto::websocket::{Deflate, Opcode, WsConn, WsFrame, WsMessage, WsOutput};
use crate::tcp::StreamEvent;

/// What a packet completed (typed; `render::packets` words it for the Info column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppNote {
    Http(http::Note),
    Ws { opcode: Opcode, fin: bool, masked: bool },
}

/// How much of one connection's application records a consumer needs, asked when the
/// connection begins ([`AppSink::detail`]). Less costs less: each worded note and each whole
/// transaction is a few strings per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    /// Transactions whose request begins at or before this time (ns since the epoch) come
    /// whole, with target, version, reason and headers; later ones lean ([`HttpConn::lean`]):
    /// method, status, sizes, times and framing headers. A consumer that keeps the earliest
    /// requests can say where its kept set ends, and be told exactly what it keeps.
    pub whole_until: i128,
    /// Packet notes worded for the Info column; otherwise [`http::Note::Unworded`], which
    /// still tells which packets ended an HTTP message (WebSocket notes carry no text).
    pub worded_notes: bool,
}

impl Detail {
    pub const ALL: Detail = Detail { whole_until: i128::MAX, worded_notes: true };
    pub const LEAST: Detail = Detail { whole_until: i128::MIN, worded_notes: false };

    /// Whole transactions (or none) and worded notes (or not).
    pub fn new(whole: bool, worded_notes: bool) -> Detail {
        Detail { whole_until: if whole { i128::MAX } else { i128::MIN }, worded_notes }
    }

    /// What either of two consumers needs.
    pub fn or(self, other: Detail) -> Detail {
        Detail { whole_until: self.whole_until.max(other.whole_until), worded_notes: self.worded_notes || other.worded_notes }
    }
}

/// Receives application records as they complete.
pub trait AppSink {
    /// How much of connection `stream` the sink needs; by default all.
    fn detail(&mut self, _stream: u32) -> Detail {
        Detail::ALL
    }
    fn transaction(&mut self, _t: &Transaction) {}
    fn ws_frame(&mut self, _f: &WsFrame) {}
    fn ws_message(&mut self, _m: &WsMessage) {}
}

/// A distribution of durations in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dist {
    pub count: u64,
    pub min_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
}

impl Dist {
    pub fn of(mut v: Vec<f64>) -> Dist {
        if v.is_empty() {
            return Dist::default();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| {
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            Some(v[i])
        };
        Dist {
            count: v.len() as u64,
            min_ms: v.first().copied(),
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: v.last().copied(),
            // To the nanosecond the samples were measured in: no binary noise in the JSON.
            mean_ms: Some((v.iter().sum::<f64>() / v.len() as f64 * 1e6).round() / 1e6),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpSummary {
    /// Request messages, by method; response messages (interim 1xx included), by status code.
    pub requests: u64,
    pub responses: u64,
    /// Messages that lost bytes to the capture: seen but not counted above (as in tshark).
    pub incomplete_requests: u64,
    pub incomplete_responses: u64,
    pub methods: BTreeMap<String, u64>,
    pub status: BTreeMap<String, u64>,
    /// Connections that carried HTTP.
    pub connections: u64,
    /// Request/response pairs, and how many of them completed.
    pub transactions: u64,
    pub complete: u64,
    /// Request first byte → response first byte, and → response last byte.
    pub ttfb: Dist,
    pub total: Dist,
    /// Connections that stopped carrying HTTP/1.x, by what they became: `connect` (a CONNECT
    /// answered 2xx) or the protocol a 101 named (`h2c`, `tcp`, `tls/1.0`, …). WebSocket
    /// upgrades are counted under `websocket` instead.
    pub tunnels: BTreeMap<String, TunnelCount>,
}

/// Connections that became one kind of tunnel.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TunnelCount {
    pub connections: u64,
    /// CONNECT tunnels whose bytes were HTTP again (analyzed, and counted above).
    pub http_connections: u64,
    /// Payload bytes carried that were not analyzed (TLS, SSH, a raw stream, …).
    pub opaque_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WsOpcodes {
    pub text: u64,
    pub binary: u64,
    pub continuation: u64,
    pub close: u64,
    pub ping: u64,
    pub pong: u64,
    pub reserved: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WsSummary {
    /// Connections upgraded to WebSocket.
    pub connections: u64,
    /// Connections that negotiated permessage-deflate.
    pub deflate_connections: u64,
    pub frames: u64,
    pub messages: u64,
    pub compressed_messages: u64,
    pub opcodes: WsOpcodes,
    /// Close frames by code and sender, e.g. `"1000 client"`, `"1001 server"`.
    pub close_codes: BTreeMap<String, u64>,
    /// Server messages echoing a client message, and the echo latency on the wire.
    pub echo: Dist,
    /// Ping → pong round trips.
    pub ping_rtt: Dist,
}

struct ConnApp {
    http: HttpConn,
    /// What the consumer needs of this connection (a CONNECT's inner HTTP gets the same).
    detail: Detail,
    /// Boxed: most connections never upgrade, and a held connection should stay small.
    ws: Option<Box<WsConn>>,
    counted_http: bool,
    tunnel: Option<Tunnel>,
}

/// A connection past a CONNECT or a 101 to something other than WebSocket.
struct Tunnel {
    /// Its key in [`HttpSummary::tunnels`].
    label: String,
    /// CONNECT only: bytes given to the inner HTTP parser while it could not yet tell whether
    /// they are HTTP.
    probe: Option<u64>,
    /// Every byte is opaque payload, counted and not parsed.
    opaque: bool,
}

/// The pass's options a new connection takes: (notes, keep_text, lean).
type ConnOpts = (bool, Option<u32>, bool);

/// A new connection's HTTP state with the pass's options and the detail its consumer needs.
fn http_conn(stream: u32, fresh: bool, (notes, keep_text, lean): ConnOpts, detail: Detail) -> HttpConn {
    let mut http = HttpConn::new(stream, fresh);
    if keep_text != Some(stream) {
        http = if lean { http.lean() } else { http.whole_until(detail.whole_until) };
    }
    if !notes {
        http = http.without_notes();
    } else if !detail.worded_notes {
        http = http.unworded_notes();
    }
    if keep_text == Some(stream) {
        http = http.keep_text(4096);
    }
    http
}

/// A new connection's state.
fn conn_app(stream: u32, fresh: bool, opts: ConnOpts, detail: Detail) -> Box<ConnApp> {
    Box::new(ConnApp { http: http_conn(stream, fresh, opts, detail), detail, ws: None, counted_http: false, tunnel: None })
}

/// Application-layer state and statistics of one analysis pass.
#[derive(Default)]
pub struct AppLayer {
    /// Boxed: the map's spare capacity then costs a pointer per slot, not a connection.
    conns: FxHashMap<u32, Box<ConnApp>>,
    /// Keep header text and body starts for this stream (for `follow --format http`).
    keep_text: Option<u32>,
    /// Build per-packet notes (for the packet list and the packets export).
    want_notes: bool,
    /// Lean transactions ([`HttpConn::lean`]).
    lean: bool,
    pub http: HttpSummary,
    pub ws: WsSummary,
    ttfb: Vec<f64>,
    total: Vec<f64>,
    echo: Vec<f64>,
    ping: Vec<f64>,
    /// Notes for the packet being processed; taken after each packet.
    pub notes: Vec<AppNote>,
    /// Some message was still incomplete after the packet's bytes.
    pub partial: bool,
    /// (kind, detail) of problems found, in order.
    pub anomalies: Vec<(AnomalyKind, String)>,
    hout: http::Output,
    wout: WsOutput,
}

impl AppLayer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the per-packet notes that the packet list shows.
    pub fn with_notes(mut self, on: bool) -> Self {
        self.want_notes = on;
        self
    }

    /// Transactions carry only what the counts need ([`HttpConn::lean`]).
    pub fn lean(mut self, on: bool) -> Self {
        self.lean = on;
        self
    }

    /// Keeps the text of the HTTP messages of `stream` in its transactions.
    pub fn keep_text_of(mut self, stream: Option<u32>) -> Self {
        self.keep_text = stream;
        self
    }

    fn opts(&self) -> ConnOpts {
        (self.want_notes, self.keep_text, self.lean)
    }

    /// Handles one stream event from the TCP tracker.
    pub fn event(&mut self, ev: &StreamEvent<'_>, sink: &mut impl AppSink) {
        match *ev {
            StreamEvent::Begin { stream, syn_seen } => {
                let c = conn_app(stream, syn_seen, self.opts(), sink.detail(stream));
                self.conns.insert(stream, c);
            }
            StreamEvent::Data { stream, dir, ts_ns, frame, bytes, .. } => self.data(stream, dir, ts_ns, frame, bytes, sink),
            StreamEvent::Gap { stream, dir, len, snaplen, .. } => {
                if let Some(c) = self.conns.get_mut(&stream) {
                    match &mut c.ws {
                        Some(ws) => ws.gap(dir, len, &mut self.wout),
                        None => c.http.gap(dir, len, snaplen, &mut self.hout),
                    }
                }
            }
            StreamEvent::Fin { stream, dir, ts_ns, frame } => {
                if let Some(c) = self.conns.get_mut(&stream) {
                    if c.ws.is_none() {
                        c.http.fin(dir, ts_ns, frame, &mut self.hout);
                    }
                }
            }
            StreamEvent::End { stream, ts_ns, frame, closed } => {
                if let Some(mut c) = self.conns.remove(&stream) {
                    c.http.end(ts_ns, frame, closed, &mut self.hout);
                    if let Some(Tunnel { label, probe: Some(p), .. }) = c.tunnel {
                        // Never told apart from HTTP: opaque.
                        self.http.tunnels.entry(label).or_default().opaque_bytes += p;
                    }
                }
            }
        }
        self.drain(sink);
    }

    /// Stream bytes: to HTTP, WebSocket or a tunnel, whatever the connection has become.
    fn data(&mut self, stream: u32, dir: u8, ts_ns: i128, frame: u64, bytes: &[u8], sink: &mut impl AppSink) {
        let opts = self.opts();
        let c = self.conns.entry(stream).or_insert_with(|| conn_app(stream, false, opts, sink.detail(stream)));
        let mut rest = bytes;
        // Each turn hands the rest of the bytes to what the connection has become.
        loop {
            if let Some(ws) = &mut c.ws {
                ws.data(dir, ts_ns, frame, rest, &mut self.wout);
                break;
            }
            if let Some(t) = c.tunnel.as_ref().filter(|t| t.opaque) {
                // The entry was made when the tunnel began.
                if let Some(stats) = self.http.tunnels.get_mut(&t.label) {
                    stats.opaque_bytes += rest.len() as u64;
                }
                break;
            }
            if c.http.is_not_http() {
                break;
            }
            let n = c.http.data(dir, ts_ns, frame, rest, &mut self.hout);
            if let Some(t) = &mut c.tunnel {
                if let Some(p) = &mut t.probe {
                    *p += n as u64;
                    let stats = self.http.tunnels.entry(t.label.clone()).or_default();
                    if c.http.is_http() {
                        stats.http_connections += 1;
                        t.probe = None;
                    } else if c.http.is_not_http() {
                        stats.opaque_bytes += *p;
                        t.probe = None;
                        t.opaque = true;
                    }
                }
            }
            if !c.counted_http && c.http.is_http() {
                c.counted_http = true;
                self.http.connections += 1;
            }
            rest = &rest[n..];
            match self.hout.upgraded.take() {
                None => break,
                Some(Upgrade::WebSocket { extensions }) => {
                    let client = c.http.client().unwrap_or(0);
                    let deflate = Deflate::from_extensions(extensions.as_deref());
                    self.ws.connections += 1;
                    self.ws.deflate_connections += deflate.enabled as u64;
                    c.ws = Some(Box::new(WsConn::new(stream, client, deflate)));
                }
                Some(Upgrade::Connect) => {
                    // The tunnel's bytes start a new conversation: HTTP again, or opaque.
                    let inner = http_conn(stream, false, opts, c.detail);
                    let mut outer = std::mem::replace(&mut c.http, inner);
                    outer.end(ts_ns, frame, [false, false], &mut self.hout);
                    self.http.tunnels.entry("connect".into()).or_default().connections += 1;
                    c.tunnel = Some(Tunnel { label: "connect".into(), probe: Some(0), opaque: false });
                }
                Some(Upgrade::Other(label)) => {
                    self.http.tunnels.entry(label.clone()).or_default().connections += 1;
                    c.tunnel = Some(Tunnel { label, probe: None, opaque: true });
                }
            }
            if rest.is_empty() {
                break;
            }
        }
    }

    fn drain(&mut self, sink: &mut impl AppSink) {
        let h = &mut self.hout;
        self.partial |= h.partial;
        h.partial = false;
        for m in h.methods.drain(..) {
            self.http.requests += 1;
            *self.http.methods.entry(m).or_default() += 1;
        }
        for s in h.statuses.drain(..) {
            self.http.responses += 1;
            let mut buf = [0u8; 5];
            let key = code_str(s, &mut buf);
            match self.http.status.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    self.http.status.insert(key.to_string(), 1);
                }
            }
        }
        self.http.incomplete_requests += std::mem::take(&mut h.incomplete_requests);
        self.http.incomplete_responses += std::mem::take(&mut h.incomplete_responses);
        self.notes.extend(h.notes.drain(..).map(AppNote::Http));
        self.anomalies.append(&mut h.anomalies);
        for t in h.transactions.drain(..) {
            self.http.transactions += 1;
            self.http.complete += t.complete as u64;
            if let Some(v) = t.ttfb_ns() {
                self.ttfb.push(v as f64 / 1e6);
            }
            if let Some(v) = t.total_ns() {
                self.total.push(v as f64 / 1e6);
            }
            sink.transaction(&t);
        }
        let w = &mut self.wout;
        for f in w.frames.drain(..) {
            self.ws.frames += 1;
            let o = &mut self.ws.opcodes;
            *match f.opcode {
                Opcode::Text => &mut o.text,
                Opcode::Binary => &mut o.binary,
                Opcode::Continuation => &mut o.continuation,
                Opcode::Close => &mut o.close,
                Opcode::Ping => &mut o.ping,
                Opcode::Pong => &mut o.pong,
                Opcode::Reserved(_) => &mut o.reserved,
            } += 1;
            if let Some(r) = f.ping_rtt_ms {
                self.ping.push(r);
            }
            if f.opcode == Opcode::Close {
                let code = f.close_code.map_or("none".to_string(), |c| c.to_string());
                let who = if f.from_server { "server" } else { "client" };
                *self.ws.close_codes.entry(format!("{code} {who}")).or_default() += 1;
            }
            if self.want_notes {
                self.notes.push(AppNote::Ws { opcode: f.opcode, fin: f.fin, masked: f.masked });
            }
            sink.ws_frame(&f);
        }
        for m in w.messages.drain(..) {
            self.ws.messages += 1;
            self.ws.compressed_messages += m.compressed as u64;
            if let Some(l) = m.echo_latency_ms {
                self.echo.push(l);
            }
            sink.ws_message(&m);
        }
        self.anomalies.append(&mut w.anomalies);
    }

    /// Takes the notes of the packet just processed.
    pub fn take_packet_notes(&mut self) -> (Vec<AppNote>, bool) {
        let partial = std::mem::take(&mut self.partial);
        (std::mem::take(&mut self.notes), partial)
    }

    /// Final statistics.
    pub fn finish(&mut self) {
        self.http.ttfb = Dist::of(std::mem::take(&mut self.ttfb));
        self.http.total = Dist::of(std::mem::take(&mut self.total));
        self.ws.echo = Dist::of(std::mem::take(&mut self.echo));
        self.ws.ping_rtt = Dist::of(std::mem::take(&mut self.ping));
    }
}

/// A status code's decimal text, without allocating.
fn code_str(code: u16, buf: &mut [u8; 5]) -> &str {
    let mut n = code;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}
