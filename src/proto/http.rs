//! Passive HTTP/1.x analysis of one reassembled TCP connection (pure: bytes in, events out).
//!
//! Header blocks are parsed by httparse once complete ("check, then parse": bytes are held only
//! while a header block, chunk-size line or trailer is incomplete, bounded by [`MAX_HEAD`]).
//! Message framing is ours: Content-Length, chunked with trailers, read-until-close, and the
//! no-body cases (HEAD, 1xx, 204, 304). Requests and responses pair in order, so pipelining
//! works. A `101 Switching Protocols` hands both directions over to the caller as a tunnel.
//! Malformed or truncated messages become anomalies; parsing resumes at the next segment that
//! starts like a message.

use std::collections::VecDeque;

use serde::Serialize;

use crate::decode::AnomalyKind;

/// Most requests held per connection while they wait for their responses; beyond it the
/// oldest is reported without its response (an `http_pipeline_overflow` anomaly).
pub const MAX_PIPELINE: usize = 1024;

/// Longest header block (or chunk line, or trailer section) held while incomplete.
pub const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

/// Request methods recognised when detecting HTTP by content: the list of Wireshark's
/// `is_http_request_or_reply` (epan/dissectors/packet-http.c: HTTP, WebDAV, RFC 3253 versioning,
/// UPnP/GENA, MS-RPCH, `CCM_POST`), plus `PATCH`, `PURGE`, `MKCALENDAR`, `LINK` and `UNLINK`.
/// Like Wireshark, a method may carry the RFC 2774 mandatory prefix `M-` (`M-SEARCH`, `M-POST`).
pub const METHODS: &[&str] = &[
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL", "TRACE", "LABEL", "MERGE",
    "DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS", "CHECKIN", "PROPFIND",
    "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY",
    "MKWORKSPACE", "RPC_CONNECT", "RPC_IN_DATA", "UNSUBSCRIBE", "RPC_OUT_DATA", "VERSION-CONTROL", "BASELINE-CONTROL",
    // Not in Wireshark's detection list, but common and parsed by it once a conversation is HTTP.
    "PATCH", "PURGE", "MKCALENDAR", "LINK", "UNLINK",
];

/// Whether `tok` is a known method (with or without the `M-` prefix).
pub fn is_method(tok: &[u8]) -> bool {
    let t = tok.strip_prefix(b"M-").unwrap_or(tok);
    METHODS.iter().any(|m| m.as_bytes() == t)
}

/// Whether `b` starts like an HTTP request: a known method, then a space and a non-space, or
/// the end of the line (as Wireshark, which takes a bare `OPTIONS` line for a request).
pub fn looks_like_request(b: &[u8]) -> bool {
    let Some(end) = b.iter().take(20).position(|&c| matches!(c, b' ' | b'\r' | b'\n')) else { return false };
    let next_ok = match b[end] {
        b' ' => b.len() > end + 1 && b[end + 1] != b' ',
        _ => true,
    };
    next_ok && is_method(&b[..end])
}

/// Whether `b` starts like an HTTP/1.x status line.
pub fn looks_like_response(b: &[u8]) -> bool {
    b.len() >= 12 && b.starts_with(b"HTTP/1.") && b[8] == b' ' && b[9].is_ascii_digit()
}

/// Could `b` still grow into a request or response start?
fn could_start_message(b: &[u8]) -> bool {
    let pre = |s: &[u8]| s.len() >= b.len() && s.starts_with(b) || b.starts_with(s);
    let unprefixed = b.strip_prefix(b"M-").unwrap_or(b);
    let pre_m = |s: &[u8]| s.len() >= unprefixed.len() && s.starts_with(unprefixed) || unprefixed.starts_with(s);
    pre(b"HTTP/1.") || pre(b"M-") || METHODS.iter().any(|m| pre_m(m.as_bytes()))
}

/// The headers wirelab reports for a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Headers {
    pub connection: Option<String>,
    pub keep_alive: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub transfer_encoding: Option<String>,
    pub last_modified: Option<String>,
    pub if_modified_since: Option<String>,
    pub date: Option<String>,
    pub upgrade: Option<String>,
    pub sec_websocket_extensions: Option<String>,
}

impl Headers {
    /// `lean`: only the headers that frame the message or switch the protocol.
    fn from(hs: &[httparse::Header<'_>], lean: bool) -> Self {
        let mut h = Headers::default();
        for x in hs {
            let v = || Some(String::from_utf8_lossy(x.value).trim().to_string());
            let n = x.name;
            if lean {
                if n.eq_ignore_ascii_case("content-length") {
                    h.content_length = std::str::from_utf8(x.value).ok().and_then(|s| s.trim().parse().ok());
                } else if n.eq_ignore_ascii_case("transfer-encoding") {
                    h.transfer_encoding = v();
                } else if n.eq_ignore_ascii_case("upgrade") {
                    h.upgrade = v();
                } else if n.eq_ignore_ascii_case("sec-websocket-extensions") {
                    h.sec_websocket_extensions = v();
                }
                continue;
            }
            if n.eq_ignore_ascii_case("connection") {
                h.connection = v();
            } else if n.eq_ignore_ascii_case("keep-alive") {
                h.keep_alive = v();
            } else if n.eq_ignore_ascii_case("content-type") {
                h.content_type = v();
            } else if n.eq_ignore_ascii_case("content-length") {
                h.content_length = std::str::from_utf8(x.value).ok().and_then(|s| s.trim().parse().ok());
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                h.transfer_encoding = v();
            } else if n.eq_ignore_ascii_case("last-modified") {
                h.last_modified = v();
            } else if n.eq_ignore_ascii_case("if-modified-since") {
                h.if_modified_since = v();
            } else if n.eq_ignore_ascii_case("date") {
                h.date = v();
            } else if n.eq_ignore_ascii_case("upgrade") {
                h.upgrade = v();
            } else if n.eq_ignore_ascii_case("sec-websocket-extensions") {
                h.sec_websocket_extensions = v();
            }
        }
        h
    }

    fn chunked(&self) -> bool {
        self.transfer_encoding.as_deref().is_some_and(|t| t.rsplit(',').next().is_some_and(|l| l.trim().eq_ignore_ascii_case("chunked")))
    }
}

/// One request and its response, as seen on the wire.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Transaction {
    /// Connection (tcp.stream) and the request's position on it (1 = first).
    pub stream: u32,
    pub index_on_conn: u32,
    /// None when the capture has the response but not the request.
    pub method: Option<String>,
    pub target: Option<String>,
    pub version: Option<String>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    /// The response's own version (`HTTP/1.0` from an old server, say).
    pub response_version: Option<String>,
    pub request_header_bytes: u64,
    pub request_body_bytes: u64,
    pub response_header_bytes: u64,
    pub response_body_bytes: u64,
    pub request_headers: Headers,
    pub response_headers: Headers,
    /// Timestamps (ns since the epoch) of the request's first byte, the response's first and last byte.
    #[serde(skip)]
    pub request_ns: Option<i128>,
    #[serde(skip)]
    pub response_first_ns: Option<i128>,
    #[serde(skip)]
    pub response_last_ns: Option<i128>,
    /// This request paid for its connection's handshake: the first request on a connection
    /// whose SYN was captured.
    pub paid_handshake: bool,
    /// Only with [`HttpConn::keep_text`]: the header blocks, and the start of each body
    /// (de-chunked), for "Follow HTTP Stream".
    #[serde(skip)]
    pub request_head: Option<String>,
    #[serde(skip)]
    pub response_head: Option<String>,
    #[serde(skip)]
    pub request_body: Vec<u8>,
    #[serde(skip)]
    pub response_body: Vec<u8>,
    /// Frames where the request and the response were complete.
    pub request_frame: u64,
    pub response_frame: u64,
    /// The response completed normally (false: missing, cut by the end of the capture or a gap).
    pub complete: bool,
}

impl Transaction {
    /// Time to first byte: request's first byte to response's first byte.
    pub fn ttfb_ns(&self) -> Option<i128> {
        Some(self.response_first_ns? - self.request_ns?)
    }
    /// Request's first byte to response's last byte.
    pub fn total_ns(&self) -> Option<i128> {
        Some(self.response_last_ns? - self.request_ns?)
    }
}

/// What a packet carried, for the packet list's Info column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A request completed in this packet: its request line.
    Request(String),
    /// A response completed in this packet: its status line and content type.
    Response { line: String, content_type: Option<String> },
    /// A request (or response) completed in this packet, not worded: the connection's
    /// consumer needed only to know that a message ended here ([`HttpConn::unworded_notes`]).
    Unworded { request: bool },
}

/// How much of a [`Note`] a connection builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notes {
    Off,
    Unworded,
    Worded,
}

impl Notes {
    /// Notes a message that ended in this packet, worded by `line` if notes are worded.
    fn add(self, request: bool, out: &mut Output, line: impl FnOnce() -> Note) {
        match self {
            Notes::Off => {}
            Notes::Unworded => out.notes.push(Note::Unworded { request }),
            Notes::Worded => out.notes.push(line()),
        }
    }
}

/// What a connection became after its last HTTP message; `bytes[n..]` of [`HttpConn::data`]
/// and all later bytes belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// A 101 that negotiated `Upgrade: websocket`, with the `Sec-WebSocket-Extensions` agreed on.
    WebSocket { extensions: Option<String> },
    /// A CONNECT answered 2xx: a tunnel, HTTP again or opaque (TLS, SSH, …).
    Connect,
    /// A 101 to another protocol (`h2c`, `tcp`, `TLS/1.0`, …), named as the `Upgrade` header
    /// names it (lower-cased; `unknown` without the header): opaque payload.
    Other(String),
}

impl Upgrade {
    /// The upgrade a 101 response negotiated: the response's `Upgrade` header, or the
    /// request's when the response has none.
    fn of_101(response: Option<&str>, request: Option<&str>, extensions: Option<String>) -> Upgrade {
        let Some(proto) = response.or(request).map(str::trim).filter(|p| !p.is_empty()) else {
            return Upgrade::Other("unknown".into());
        };
        // `Upgrade: websocket` (a list is allowed; the server picks one).
        if proto.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")) {
            Upgrade::WebSocket { extensions }
        } else {
            Upgrade::Other(proto.to_ascii_lowercase())
        }
    }
}

/// Events from one call, drained by the caller.
#[derive(Debug, Default)]
pub struct Output {
    /// Boxed: a transaction is large and passes through a few queues.
    pub transactions: Vec<Box<Transaction>>,
    /// Methods of requests and codes of responses, one entry per message, as they are parsed.
    pub methods: Vec<String>,
    pub statuses: Vec<u16>,
    /// Messages that lost bytes to the capture (or were cut off by its end): seen, but not
    /// counted above, just as tshark does not count a PDU it could not reassemble.
    pub incomplete_requests: u64,
    pub incomplete_responses: u64,
    pub notes: Vec<Note>,
    /// A message is still incomplete after this packet's bytes.
    pub partial: bool,
    /// (kind, detail) of problems found.
    pub anomalies: Vec<(AnomalyKind, String)>,
    /// Set when the connection stopped carrying HTTP/1.x: after a 101 or a CONNECT answered 2xx.
    pub upgraded: Option<Upgrade>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Detect,
    Head,
    Body(u64),
    Chunked(Chunk),
    UntilClose,
    /// After `101 Switching Protocols`: bytes belong to the caller.
    Tunnel,
    /// Lost sync: wait for a segment that starts like a message.
    Lost,
}

#[derive(Debug)]
struct Dir {
    phase: Phase,
    buf: Vec<u8>,
    /// First byte of the message in progress.
    msg_ns: i128,
    /// Bytes seen of the message in progress (header and body).
    msg_open: bool,
    /// The message in progress lost bytes to the capture.
    msg_gap: bool,
}

/// HTTP state of one TCP connection.
#[derive(Debug)]
pub struct HttpConn {
    stream: u32,
    fresh: bool,
    /// Direction that carries requests, once known.
    client: Option<u8>,
    dir: [Dir; 2],
    /// Requests waiting for (or receiving) their response, oldest first.
    open: VecDeque<Box<Transaction>>,
    requests: u32,
    /// Requests dropped from `open` by [`MAX_PIPELINE`] whose responses have not come yet.
    skipped: u64,
    not_http: bool,
    /// Keep header text and up to this many body bytes per message (0 = keep nothing).
    keep: usize,
    /// Produce [`Note`]s for the packet list.
    notes: Notes,
    /// Transactions whose request began after this time (ns since the epoch) go without the
    /// strings nobody reads under `--json` ([`HttpConn::lean`], [`HttpConn::whole_until`]).
    whole_until: i128,
}

impl HttpConn {
    /// `fresh`: the connection's SYN was captured, so its first request paid for the handshake.
    pub fn new(stream: u32, fresh: bool) -> Self {
        let d = || Dir { phase: Phase::Detect, buf: Vec::new(), msg_ns: 0, msg_open: false, msg_gap: false };
        HttpConn { stream, fresh, client: None, dir: [d(), d()], open: VecDeque::new(), requests: 0, skipped: 0, not_http: false, keep: 0, notes: Notes::Worded, whole_until: i128::MAX }
    }

    /// Transactions carry only what the counts need (method, status, sizes, times, and the
    /// framing and upgrade headers): no target, version, reason or other header strings.
    pub fn lean(mut self) -> Self {
        self.whole_until = i128::MIN;
        self
    }

    /// Transactions whose request began after `ns` (ns since the epoch; for a response without
    /// its request, the response's start) are lean ([`HttpConn::lean`]); earlier ones whole.
    pub fn whole_until(mut self, ns: i128) -> Self {
        self.whole_until = self.whole_until.min(ns);
        self
    }

    /// Skips building the packet-list [`Note`]s (they cost a string per message).
    pub fn without_notes(mut self) -> Self {
        self.notes = Notes::Off;
        self
    }

    /// Notes say only that a request or response ended in the packet ([`Note::Unworded`]):
    /// what the packet list's Protocol column needs, without a string per message.
    pub fn unworded_notes(mut self) -> Self {
        self.notes = Notes::Unworded;
        self
    }

    /// Keeps each message's header block and its first `body_bytes` body bytes in the
    /// transactions (for "Follow HTTP Stream"; the analysis itself keeps nothing).
    pub fn keep_text(mut self, body_bytes: usize) -> Self {
        self.keep = body_bytes.max(1);
        self
    }

    fn keep_body(&mut self, d: u8, b: &[u8]) {
        if self.keep == 0 {
            return;
        }
        let t = if self.client == Some(d) { self.open.back_mut() } else { self.open.front_mut() };
        if let Some(t) = t {
            let body = if self.client == Some(d) { &mut t.request_body } else { &mut t.response_body };
            let room = self.keep.saturating_sub(body.len());
            body.extend_from_slice(&b[..room.min(b.len())]);
        }
    }

    /// Whether this connection turned out not to carry HTTP.
    pub fn is_not_http(&self) -> bool {
        self.not_http
    }

    /// Whether the connection was handed over by a 101 response.
    pub fn is_tunnel(&self) -> bool {
        self.dir[0].phase == Phase::Tunnel && self.dir[1].phase == Phase::Tunnel
    }

    /// The TCP direction that carries requests, once known.
    pub fn client(&self) -> Option<u8> {
        self.client
    }

    /// Whether any HTTP message has been recognised on the connection.
    pub fn is_http(&self) -> bool {
        self.client.is_some()
    }

    /// Feeds stream bytes of direction `d`. Returns how many bytes were HTTP; after a 101,
    /// the rest (`bytes[n..]`) and everything after it belong to the upgraded protocol.
    pub fn data(&mut self, d: u8, ts: i128, frame: u64, mut bytes: &[u8], out: &mut Output) -> usize {
        let total = bytes.len();
        let di = d as usize & 1;
        while !bytes.is_empty() && !self.not_http {
            match self.dir[di].phase {
                Phase::Tunnel => return total - bytes.len(),
                Phase::Detect => {
                    let dir = &mut self.dir[di];
                    let (probe, n) = probe(&dir.buf, bytes);
                    let probe = &probe[..n];
                    let role = if looks_like_request(probe) {
                        Some(d)
                    } else if looks_like_response(probe) {
                        Some(1 - d)
                    } else {
                        None
                    };
                    match role {
                        Some(client) => {
                            self.client.get_or_insert(client);
                            dir.phase = Phase::Head;
                        }
                        None if probe.len() < PROBE && could_start_message(probe) => {
                            dir.buf.extend_from_slice(bytes);
                            return total;
                        }
                        None => {
                            dir.buf.clear();
                            dir.phase = Phase::Lost;
                            if self.client.is_some() {
                                out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: {} bytes that are not an HTTP message", self.stream, bytes.len())));
                            } else if self.dir[1 - di].phase == Phase::Lost {
                                self.not_http = true;
                            }
                            return total;
                        }
                    }
                }
                Phase::Lost => {
                    let starts = if self.client == Some(d) {
                        looks_like_request(bytes)
                    } else if self.client.is_some() {
                        looks_like_response(bytes)
                    } else {
                        looks_like_request(bytes) || looks_like_response(bytes)
                    };
                    if !starts {
                        return total;
                    }
                    self.dir[di].phase = if self.client.is_none() { Phase::Detect } else { Phase::Head };
                }
                Phase::Head => {
                    let dir = &mut self.dir[di];
                    if !dir.msg_open {
                        // Empty lines before a message are allowed (RFC 9112 §2.2).
                        let skip = bytes.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
                        bytes = &bytes[skip..];
                        if bytes.is_empty() {
                            break;
                        }
                        // A message must start like one, or this segment is not HTTP.
                        let (probe, n) = probe(&dir.buf, bytes);
                        let probe = &probe[..n];
                        let ok = if self.client == Some(d) { looks_like_request(probe) } else { looks_like_response(probe) };
                        if !ok && !(probe.len() < PROBE && could_start_message(probe)) {
                            out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: {} bytes that are not an HTTP message", self.stream, bytes.len())));
                            self.abandon(di);
                            return total;
                        }
                        dir.msg_open = true;
                        dir.msg_ns = ts;
                    }
                    let old = dir.buf.len();
                    if old == 0 {
                        // The usual case: the whole header block is in this segment. Parse it
                        // where it is, without copying.
                        let window = &bytes[..bytes.len().min(MAX_HEAD + 4)];
                        if let Some(end) = find_head_end(window) {
                            self.head(d, ts, frame, &bytes[..end], out);
                            bytes = &bytes[end..];
                            continue;
                        }
                    }
                    let search_from = old.saturating_sub(3);
                    dir.buf.extend_from_slice(&bytes[..bytes.len().min(MAX_HEAD + 4 - old.min(MAX_HEAD))]);
                    match find_head_end(&dir.buf[search_from..]) {
                        Some(end) => {
                            let end = search_from + end;
                            let used = end - old;
                            dir.buf.truncate(end);
                            bytes = &bytes[used..];
                            let mut head = std::mem::take(&mut dir.buf);
                            self.head(d, ts, frame, &head, out);
                            // Keep the buffer's capacity for the next split header.
                            head.clear();
                            if self.dir[di].buf.is_empty() {
                                self.dir[di].buf = head;
                            }
                        }
                        None => {
                            if dir.buf.len() > MAX_HEAD {
                                out.anomalies.push((AnomalyKind::HttpHeaderTooLarge, format!("stream {}: header block over {} KiB", self.stream, MAX_HEAD / 1024)));
                                self.abandon(di);
                            }
                            bytes = &[];
                        }
                    }
                }
                Phase::Body(rem) => {
                    let n = (rem as usize).min(bytes.len());
                    self.keep_body(d, &bytes[..n]);
                    bytes = &bytes[n..];
                    self.add_body(d, n as u64);
                    if rem == n as u64 {
                        self.message_done(d, ts, frame, out);
                    } else {
                        self.dir[di].phase = Phase::Body(rem - n as u64);
                    }
                }
                Phase::UntilClose => {
                    self.keep_body(d, bytes);
                    self.add_body(d, bytes.len() as u64);
                    bytes = &[];
                }
                Phase::Chunked(c) => bytes = self.chunked(d, c, ts, frame, bytes, out),
            }
        }
        out.partial |= self.dir[di].msg_open;
        total
    }

    /// `len` bytes of direction `d` were never captured. `snaplen`: they were cut from a
    /// captured segment by the snapshot length (tshark still dissects such a message).
    pub fn gap(&mut self, d: u8, len: u64, snaplen: bool, out: &mut Output) {
        let di = d as usize & 1;
        let lost = !snaplen;
        match self.dir[di].phase {
            Phase::Body(rem) => {
                self.add_body(d, len.min(rem));
                self.dir[di].msg_gap |= lost;
                if len < rem {
                    self.dir[di].phase = Phase::Body(rem - len);
                } else {
                    // What follows the hole is unknown: close this message, resync on the next.
                    self.end_message_early(d, out);
                }
            }
            Phase::Chunked(Chunk::Data(rem)) if len < rem => {
                self.add_body(d, len);
                self.dir[di].msg_gap |= lost;
                self.dir[di].phase = Phase::Chunked(Chunk::Data(rem - len));
            }
            Phase::UntilClose => {
                self.add_body(d, len);
                self.dir[di].msg_gap |= lost;
            }
            Phase::Lost | Phase::Tunnel | Phase::Detect => {}
            Phase::Head if snaplen && self.dir[di].msg_open => {
                // The header block was cut by the snaplen: what is there still names the message.
                let head = std::mem::take(&mut self.dir[di].buf);
                self.truncated_head(d, &head, out);
                self.abandon(di);
            }
            _ => {
                out.anomalies.push((AnomalyKind::HttpGap, format!("stream {}: {len} bytes missing inside an HTTP message", self.stream)));
                self.end_message_early(d, out);
            }
        }
    }

    /// A message cut short: counted as incomplete, and parsing resyncs on the next one.
    fn end_message_early(&mut self, d: u8, out: &mut Output) {
        let di = d as usize & 1;
        if self.dir[di].msg_open {
            if self.client == Some(d) {
                out.incomplete_requests += 1;
            } else {
                out.incomplete_responses += 1;
                if let Some(t) = self.open.pop_front() {
                    out.transactions.push(t);
                }
            }
        }
        self.dir[di].msg_gap = false;
        self.abandon(di);
    }

    /// Counts a message whose header block was cut by the snaplen, from its first line.
    fn truncated_head(&mut self, d: u8, head: &[u8], out: &mut Output) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        if self.client == Some(d) {
            let mut req = httparse::Request::new(&mut headers);
            let _ = req.parse(head);
            if let (Some(m), Some(p)) = (req.method, req.path) {
                out.methods.push(m.to_string());
                self.notes.add(true, out, || Note::Request(format!("{m} {p} HTTP/1.{}", req.version.unwrap_or(1))));
            }
        } else {
            let mut resp = httparse::Response::new(&mut headers);
            let _ = resp.parse(head);
            if let Some(code) = resp.code {
                out.statuses.push(code);
                self.notes.add(false, out, || Note::Response { line: format!("HTTP/1.{} {code} {}", resp.version.unwrap_or(1), resp.reason.unwrap_or("")), content_type: None });
            }
        }
    }

    /// Direction `d` sent its FIN: a body delimited by the close is complete.
    pub fn fin(&mut self, d: u8, ts: i128, frame: u64, out: &mut Output) {
        if self.dir[d as usize & 1].phase == Phase::UntilClose {
            self.message_done(d, ts, frame, out);
        }
    }

    /// End of the connection: finishes read-until-close bodies and reports what is left.
    /// `closed[d]`: direction d ended with a FIN or RST, not just with the capture.
    pub fn end(&mut self, ts: i128, frame: u64, closed: [bool; 2], out: &mut Output) {
        for d in 0..2u8 {
            let di = d as usize;
            match self.dir[di].phase {
                // A body delimited by the close is complete only if the close was captured.
                Phase::UntilClose if closed[di] => self.message_done(d, ts, frame, out),
                Phase::UntilClose => {
                    out.anomalies.push((AnomalyKind::HttpTruncated, format!("stream {}: body delimited by the connection close, but the capture ends first", self.stream)));
                    self.end_message_early(d, out);
                }
                Phase::Body(_) | Phase::Chunked(_) => {
                    out.anomalies.push((AnomalyKind::HttpTruncated, format!("stream {}: HTTP message cut off by the end of the connection", self.stream)));
                    self.end_message_early(d, out);
                }
                Phase::Head if self.dir[di].msg_open => {
                    out.anomalies.push((AnomalyKind::HttpTruncated, format!("stream {}: HTTP header block cut off by the end of the connection", self.stream)));
                    self.end_message_early(d, out);
                }
                _ => {}
            }
        }
        out.transactions.extend(self.open.drain(..));
    }

    /// Keeps at most [`MAX_PIPELINE`] requests waiting: the oldest one not receiving its
    /// response is reported as it is, and its response, when it comes, is paired with nothing.
    fn bound_pipeline(&mut self, out: &mut Output) {
        if self.open.len() <= MAX_PIPELINE {
            return;
        }
        let server = self.client.map_or(1, |c| 1 - c as usize);
        let at = if self.dir[server].msg_open { 1 } else { 0 };
        if let Some(t) = self.open.remove(at) {
            self.skipped += 1;
            out.anomalies.push((AnomalyKind::HttpPipelineOverflow, format!("stream {}: over {MAX_PIPELINE} requests waiting for responses", self.stream)));
            out.transactions.push(t);
        }
    }

    fn add_body(&mut self, d: u8, n: u64) {
        if self.client == Some(d) {
            if let Some(t) = self.open.back_mut() {
                t.request_body_bytes += n;
            }
        } else if let Some(t) = self.open.front_mut() {
            t.response_body_bytes += n;
        }
    }

    fn abandon(&mut self, di: usize) {
        let dir = &mut self.dir[di];
        dir.buf.clear();
        dir.msg_open = false;
        dir.phase = Phase::Lost;
    }

    fn message_done(&mut self, d: u8, ts: i128, frame: u64, out: &mut Output) {
        let di = d as usize & 1;
        self.dir[di].msg_open = false;
        let complete = !std::mem::take(&mut self.dir[di].msg_gap);
        if self.dir[di].phase != Phase::Tunnel {
            self.dir[di].phase = Phase::Head;
        }
        if self.client == Some(d) {
            if let Some(t) = self.open.back_mut() {
                match (&t.method, complete) {
                    (Some(m), true) => out.methods.push(m.clone()),
                    (_, false) => out.incomplete_requests += 1,
                    _ => {}
                }
                t.request_frame = frame;
                self.notes.add(true, out, || Note::Request(format!("{} {} {}", t.method.as_deref().unwrap_or(""), t.target.as_deref().unwrap_or(""), t.version.as_deref().unwrap_or(""))));
            }
        } else if let Some(mut t) = self.open.pop_front() {
            match (t.status, complete) {
                (Some(c), true) => out.statuses.push(c),
                (_, false) => out.incomplete_responses += 1,
                _ => {}
            }
            t.response_last_ns = Some(ts);
            t.response_frame = frame;
            t.complete = complete;
            self.notes.add(false, out, || Note::Response {
                line: format!("{} {} {}", t.version_resp(), t.status.unwrap_or(0), t.reason.as_deref().unwrap_or("")),
                // Wireshark names the body's media type, so a message without one shows none.
                content_type: if t.response_body_bytes > 0 { t.response_headers.content_type.clone() } else { None },
            });
            out.transactions.push(t);
        }
    }

    /// A complete header block of direction `d`.
    fn head(&mut self, d: u8, ts: i128, frame: u64, head: &[u8], out: &mut Output) {
        let di = d as usize & 1;
        let msg_ns = self.dir[di].msg_ns;
        // Not zeroed: httparse fills what it uses (4 KiB of memset per message otherwise).
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        if self.client == Some(d) {
            let lean = msg_ns > self.whole_until;
            let mut req = httparse::Request::new(&mut []);
            let parsed = req.parse_with_uninit_headers(head, &mut headers);
            let method = req.method.map(str::to_string).or_else(|| first_token(head));
            let mut t = Box::new(Transaction {
                stream: self.stream,
                index_on_conn: self.requests + 1,
                method: method.clone(),
                target: if lean { None } else { req.path.map(str::to_string) },
                version: if lean { None } else { req.version.map(|v| format!("HTTP/1.{v}")) },
                request_header_bytes: head.len() as u64,
                request_ns: Some(msg_ns),
                paid_handshake: self.fresh && self.requests == 0,
                request_head: (self.keep > 0).then(|| String::from_utf8_lossy(head).into_owned()),
                ..Transaction::default()
            });
            self.requests += 1;
            match parsed {
                Ok(httparse::Status::Complete(_)) => {
                    let h = Headers::from(req.headers, lean);
                    // Requests have a body only when framed (RFC 9112 §6.3).
                    self.dir[di].phase = if h.chunked() {
                        Phase::Chunked(Chunk::Size)
                    } else {
                        match h.content_length {
                            Some(n) if n > 0 => Phase::Body(n),
                            _ => Phase::Head,
                        }
                    };
                    t.request_headers = h;
                    self.open.push_back(t);
                    self.bound_pipeline(out);
                    if self.dir[di].phase == Phase::Head {
                        self.message_done(d, ts, frame, out);
                    }
                }
                _ => {
                    out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: malformed request: {}", self.stream, describe(parsed.err(), head))));
                    self.open.push_back(t);
                    self.message_done(d, ts, frame, out);
                }
            }
            return;
        }
        let mut resp = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default()
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .parse_response_with_uninit_headers(&mut resp, head, &mut headers);
        let Ok(httparse::Status::Complete(_)) = parsed else {
            out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: malformed response: {}", self.stream, describe(parsed.err(), head))));
            self.abandon(di);
            return;
        };
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            // Interim response: the request goes on waiting for its final one.
            out.statuses.push(code);
            self.notes.add(false, out, || Note::Response { line: format!("HTTP/1.{} {} {}", resp.version.unwrap_or(1), code, resp.reason.unwrap_or("")), content_type: None });
            self.dir[di].msg_open = false;
            return;
        }
        if self.skipped > 0 {
            // The response to a request dropped by the pipeline bound.
            self.skipped -= 1;
            self.open.push_front(Box::new(Transaction { stream: self.stream, index_on_conn: 0, ..Transaction::default() }));
        }
        if self.open.is_empty() {
            // The request is not in the capture (it started mid-connection).
            self.open.push_back(Box::new(Transaction { stream: self.stream, index_on_conn: 0, ..Transaction::default() }));
        }
        let until = self.whole_until;
        let t = self.open.front_mut().expect("a request is open");
        let lean = t.request_ns.unwrap_or(msg_ns) > until;
        let h = Headers::from(resp.headers, lean);
        if self.keep > 0 {
            t.response_head = Some(String::from_utf8_lossy(head).into_owned());
        }
        t.status = Some(code);
        if !lean {
            t.reason = resp.reason.map(str::to_string);
        }
        t.response_header_bytes = head.len() as u64;
        t.response_first_ns = Some(msg_ns);
        if !lean {
            t.response_version = Some(format!("HTTP/1.{}", resp.version.unwrap_or(1)));
        }
        let head_req = t.method.as_deref() == Some("HEAD");
        let connect_ok = t.method.as_deref() == Some("CONNECT") && (200..300).contains(&code);
        let upgrade = if code == 101 {
            Some(Upgrade::of_101(h.upgrade.as_deref(), t.request_headers.upgrade.as_deref(), h.sec_websocket_extensions.clone()))
        } else {
            connect_ok.then_some(Upgrade::Connect)
        };
        let chunked = h.chunked();
        let length = h.content_length;
        t.response_headers = h;
        if let Some(upgrade) = upgrade {
            self.dir[0].phase = Phase::Tunnel;
            self.dir[1].phase = Phase::Tunnel;
            out.upgraded = Some(upgrade);
            self.message_done(d, ts, frame, out);
            return;
        }
        self.dir[di].phase = if head_req || code == 204 || code == 304 {
            Phase::Head
        } else if chunked {
            Phase::Chunked(Chunk::Size)
        } else {
            match length {
                Some(0) => Phase::Head,
                Some(n) => Phase::Body(n),
                None => Phase::UntilClose,
            }
        };
        if self.dir[di].phase == Phase::Head {
            self.message_done(d, ts, frame, out);
        }
    }

    /// Chunked body bytes; returns what is left after this phase's part.
    fn chunked<'a>(&mut self, d: u8, c: Chunk, ts: i128, frame: u64, bytes: &'a [u8], out: &mut Output) -> &'a [u8] {
        let di = d as usize & 1;
        match c {
            Chunk::Data(rem) => {
                let n = (rem as usize).min(bytes.len());
                self.keep_body(d, &bytes[..n]);
                self.add_body(d, n as u64);
                self.dir[di].phase = Phase::Chunked(if rem == n as u64 { Chunk::DataEnd } else { Chunk::Data(rem - n as u64) });
                &bytes[n..]
            }
            Chunk::DataEnd => {
                // The CRLF after chunk data (a bare LF is tolerated).
                let n = match bytes {
                    [b'\r', b'\n', ..] => 2,
                    [b'\n', ..] => 1,
                    [b'\r'] => 1,
                    _ => 0,
                };
                self.add_body(d, n as u64);
                if n == 1 && bytes == b"\r" {
                    return &bytes[1..]; // wait for the LF
                }
                if n == 0 {
                    out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: chunk data not followed by CRLF", self.stream)));
                }
                self.dir[di].phase = Phase::Chunked(Chunk::Size);
                &bytes[n..]
            }
            Chunk::Size | Chunk::Trailer => {
                let dir = &mut self.dir[di];
                let nl = bytes.iter().position(|&b| b == b'\n');
                let take = nl.map_or(bytes.len(), |i| i + 1);
                dir.buf.extend_from_slice(&bytes[..take]);
                let rest = &bytes[take..];
                self.add_body(d, take as u64);
                if nl.is_none() {
                    if self.dir[di].buf.len() > MAX_HEAD {
                        out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: chunk line over {} KiB", self.stream, MAX_HEAD / 1024)));
                        self.abandon(di);
                    }
                    return rest;
                }
                let line = std::mem::take(&mut self.dir[di].buf);
                if c == Chunk::Trailer {
                    if line == b"\r\n" || line == b"\n" {
                        self.message_done(d, ts, frame, out);
                    } else {
                        self.dir[di].phase = Phase::Chunked(Chunk::Trailer);
                    }
                    return rest;
                }
                match httparse::parse_chunk_size(&line) {
                    Ok(httparse::Status::Complete((_, 0))) => self.dir[di].phase = Phase::Chunked(Chunk::Trailer),
                    Ok(httparse::Status::Complete((_, n))) => self.dir[di].phase = Phase::Chunked(Chunk::Data(n)),
                    _ => {
                        out.anomalies.push((AnomalyKind::HttpMalformed, format!("stream {}: invalid chunk size line", self.stream)));
                        self.abandon(di);
                    }
                }
                rest
            }
        }
    }
}

impl Transaction {
    fn version_resp(&self) -> String {
        self.response_version.clone().unwrap_or_else(|| "HTTP/1.1".into())
    }
}

/// Bytes looked at to tell whether a message starts: the longest method (`M-` and
/// `BASELINE-CONTROL`), a space and the target's first byte fit.
const PROBE: usize = 24;

/// The first [`PROBE`] bytes of `held` followed by `more`, without allocating.
fn probe(held: &[u8], more: &[u8]) -> ([u8; PROBE], usize) {
    let mut p = [0u8; PROBE];
    let a = held.len().min(PROBE);
    p[..a].copy_from_slice(&held[..a]);
    let b = more.len().min(PROBE - a);
    p[a..a + b].copy_from_slice(&more[..b]);
    (p, a + b)
}

/// End of the header block: the offset just past the empty line, if it is in `b`.
pub fn find_head_end(b: &[u8]) -> Option<usize> {
    for at in memchr::memchr_iter(b'\n', b) {
        if b.get(at + 1) == Some(&b'\n') {
            return Some(at + 2);
        }
        if b.get(at + 1) == Some(&b'\r') && b.get(at + 2) == Some(&b'\n') {
            return Some(at + 3);
        }
    }
    None
}

fn first_token(head: &[u8]) -> Option<String> {
    let end = head.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n'))?;
    let tok = std::str::from_utf8(&head[..end]).ok()?;
    is_method(tok.as_bytes()).then(|| tok.to_string())
}

fn describe(e: Option<httparse::Error>, head: &[u8]) -> String {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len()).min(80);
    let first = String::from_utf8_lossy(&head[..line_end]).trim_end().to_string();
    match e {
        Some(e) => format!("{e} in {first:?}"),
        None => format!("incomplete header block {first:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds (direction, bytes) pieces; returns the output and the connection.
    fn feed(pieces: &[(u8, &[u8])]) -> (Output, HttpConn) {
        let mut c = HttpConn::new(0, true);
        let mut out = Output::default();
        for (i, (d, b)) in pieces.iter().enumerate() {
            c.data(*d, i as i128 * 1000, i as u64 + 1, b, &mut out);
        }
        c.end(99_000, 99, [true, true], &mut out);
        (out, c)
    }

    #[test]
    fn keep_alive_pair_with_content_length() {
        let (out, _) = feed(&[
            (0, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhel"),
            (1, b"lo"),
            (0, b"HEAD /b HTTP/1.1\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"),
        ]);
        assert_eq!(out.methods, ["GET", "HEAD"]);
        assert_eq!(out.statuses, [200, 200]);
        let t = &out.transactions;
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].index_on_conn, t[0].response_body_bytes, t[0].complete), (1, 5, true));
        assert!(t[0].paid_handshake && !t[1].paid_handshake);
        assert_eq!(t[0].request_ns, Some(0));
        assert_eq!((t[0].response_first_ns, t[0].response_last_ns), (Some(1000), Some(2000)));
        assert_eq!(t[0].response_headers.content_type.as_deref(), Some("text/plain"));
        // HEAD: no body even with a Content-Length.
        assert_eq!((t[1].method.as_deref(), t[1].response_body_bytes, t[1].complete), (Some("HEAD"), 0, true));
        assert!(out.anomalies.is_empty(), "{:?}", out.anomalies);
    }

    /// Requests that begin after `whole_until` go lean; a response follows its request (one
    /// without a request, by its own start); the counts are the same either way.
    #[test]
    fn transactions_after_whole_until_are_lean_and_counted_alike() {
        let pieces: [(u8, &[u8]); 6] = [
            (1, b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"),
            (0, b"GET /early HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"),
            (0, b"GET /late HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"),
            (1, b""),
        ];
        let run = |c: HttpConn| {
            let mut c = c;
            let mut out = Output::default();
            // The server speaks first (its request is not in the capture): the client is
            // direction 0 from the GET on.
            for (i, (d, b)) in pieces.iter().enumerate() {
                c.data(*d, i as i128 * 1000, i as u64 + 1, b, &mut out);
            }
            c.end(99_000, 99, [true, true], &mut out);
            out
        };
        let whole = run(HttpConn::new(0, true));
        let out = run(HttpConn::new(0, true).whole_until(1000));
        let shape = |t: &Transaction| (t.method.clone(), t.status, t.response_body_bytes, t.request_ns, t.response_last_ns, t.complete);
        assert_eq!(out.transactions.iter().map(|t| shape(t)).collect::<Vec<_>>(), whole.transactions.iter().map(|t| shape(t)).collect::<Vec<_>>());
        assert_eq!((&out.methods, &out.statuses), (&whole.methods, &whole.statuses));
        let targets: Vec<_> = out.transactions.iter().map(|t| (t.target.as_deref(), t.reason.as_deref(), t.response_headers.content_type.as_deref())).collect();
        assert_eq!(targets, [(None, Some("Not Found"), Some("text/plain")), (Some("/early"), Some("OK"), Some("text/plain")), (None, None, None)]);
        assert_eq!(whole.transactions[2].target.as_deref(), Some("/late"));
        // Lean from the start: nothing but what the counts need.
        let lean = run(HttpConn::new(0, true).lean());
        assert!(lean.transactions.iter().all(|t| t.target.is_none() && t.reason.is_none() && t.response_headers.content_type.is_none()));
    }

    /// Unworded notes mark the same packets as worded ones, without their text.
    #[test]
    fn unworded_notes_mark_the_same_messages() {
        let pieces: [(u8, &[u8]); 3] =
            [(0, b"GET /a HTTP/1.1\r\n\r\n"), (1, b"HTTP/1.1 100 Continue\r\n\r\n"), (1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")];
        let notes = |c: HttpConn| {
            let mut c = c;
            pieces
                .iter()
                .map(|(d, b)| {
                    let mut out = Output::default();
                    c.data(*d, 0, 1, b, &mut out);
                    out.notes
                })
                .collect::<Vec<_>>()
        };
        let worded = notes(HttpConn::new(0, true));
        assert_eq!(worded[0], [Note::Request("GET /a HTTP/1.1".into())]);
        assert_eq!(worded[1], [Note::Response { line: "HTTP/1.1 100 Continue".into(), content_type: None }]);
        let unworded = notes(HttpConn::new(0, true).unworded_notes());
        assert_eq!(unworded, [vec![Note::Unworded { request: true }], vec![Note::Unworded { request: false }], vec![Note::Unworded { request: false }]]);
        assert!(notes(HttpConn::new(0, true).without_notes()).iter().all(Vec::is_empty));
    }

    #[test]
    fn pipelined_requests_in_one_segment() {
        let reqs = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
        let resp = |n: &str| format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{n}");
        let all = format!("{}{}{}", resp("a"), resp("b"), resp("c"));
        let (out, _) = feed(&[(0, reqs), (1, all.as_bytes())]);
        let targets: Vec<_> = out.transactions.iter().map(|t| (t.target.clone().unwrap(), t.index_on_conn, t.status)).collect();
        assert_eq!(targets, [("/1".into(), 1, Some(200)), ("/2".into(), 2, Some(200)), ("/3".into(), 3, Some(200))]);
        assert_eq!(out.notes.len(), 6);
    }

    #[test]
    fn no_body_for_1xx_204_304() {
        let (out, _) = feed(&[
            (0, b"POST /u HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"),
            (1, b"HTTP/1.1 100 Continue\r\n\r\n"),
            (0, b"ok"),
            (1, b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"),
            (0, b"GET /c HTTP/1.1\r\nIf-Modified-Since: Sat, 21 Nov 2026 00:00:00 GMT\r\n\r\n"),
            (1, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        ]);
        assert_eq!(out.statuses, [100, 204, 304]);
        let t = &out.transactions;
        assert_eq!((t[0].status, t[0].request_body_bytes, t[0].response_body_bytes), (Some(204), 2, 0));
        assert_eq!(t[1].request_headers.if_modified_since.as_deref(), Some("Sat, 21 Nov 2026 00:00:00 GMT"));
        assert_eq!((t[1].status, t[1].complete), (Some(304), true));
    }

    #[test]
    fn body_until_close() {
        let (out, _) = feed(&[(0, b"GET / HTTP/1.0\r\n\r\n"), (1, b"HTTP/1.0 200 OK\r\n\r\nabc"), (1, b"defg")]);
        let t = &out.transactions[0];
        assert_eq!((t.response_body_bytes, t.complete, t.response_last_ns), (7, true, Some(99_000)));
        assert_eq!(t.response_version.as_deref(), Some("HTTP/1.0"));
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n";

    #[test]
    fn chunked_body_split_at_every_byte_boundary() {
        let body_len = CHUNKED.len() - b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".len();
        let next = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        for a in 0..=CHUNKED.len() {
            for b in a..=CHUNKED.len() {
                let mut pieces: Vec<(u8, &[u8])> = vec![(0, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")];
                for p in [&CHUNKED[..a], &CHUNKED[a..b], &CHUNKED[b..]] {
                    if !p.is_empty() {
                        pieces.push((1, p));
                    }
                }
                pieces.push((1, next));
                let (out, _) = feed(&pieces);
                assert!(out.anomalies.is_empty(), "split {a}/{b}: {:?}", out.anomalies);
                assert_eq!(out.statuses, [200, 404], "split {a}/{b}");
                let t = &out.transactions[0];
                assert!(t.complete, "split {a}/{b}");
                assert_eq!(t.response_body_bytes as usize, body_len, "split {a}/{b}");
            }
        }
    }

    #[test]
    fn request_starts_by_wiresharks_rules() {
        for ok in [&b"CCM_POST /x HTTP/1.1"[..], b"M-SEARCH * HTTP/1.1", b"M-POST /x HTTP/1.1", b"BASELINE-CONTROL /v HTTP/1.1", b"OPTIONS\r\nHost: x", b"RPC_OUT_DATA /rpc HTTP/1.1"] {
            assert!(looks_like_request(ok), "{}", String::from_utf8_lossy(ok));
        }
        for no in [&b"OPTIONSHTTP/1.1\r\n"[..], b"GET  /double-space", b"FETCH / HTTP/1.1", b"M-", b"get / HTTP/1.1"] {
            assert!(!looks_like_request(no), "{}", String::from_utf8_lossy(no));
        }
        // A long method split over segments still waits for its rest.
        assert!(could_start_message(b"BASELINE-CONTR") && could_start_message(b"M-SEA"));
        assert_eq!(first_token(b"OPTIONS\r\nHost: x\r\n\r\n").as_deref(), Some("OPTIONS"));
    }

    #[test]
    fn only_websocket_upgrades_go_to_websocket() {
        let ws = |ext: Option<&str>| Upgrade::WebSocket { extensions: ext.map(str::to_string) };
        assert_eq!(Upgrade::of_101(Some("WebSocket"), None, None), ws(None));
        assert_eq!(Upgrade::of_101(None, Some("websocket"), Some("permessage-deflate".into())), ws(Some("permessage-deflate")));
        assert_eq!(Upgrade::of_101(Some("tcp"), Some("tcp"), None), Upgrade::Other("tcp".into()));
        assert_eq!(Upgrade::of_101(Some("TLS/1.0, HTTP/1.1"), None, None), Upgrade::Other("tls/1.0, http/1.1".into()));
        assert_eq!(Upgrade::of_101(None, None, None), Upgrade::Other("unknown".into()));
        // CONNECT answered 2xx: a tunnel; the bytes after the 200 are handed over.
        let mut c = HttpConn::new(0, true);
        let mut out = Output::default();
        c.data(0, 1, 1, b"CONNECT h:443 HTTP/1.1\r\n\r\n", &mut out);
        let resp = b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01";
        let n = c.data(1, 2, 2, resp, &mut out);
        assert_eq!((&resp[n..], out.upgraded), (&b"\x16\x03\x01"[..], Some(Upgrade::Connect)));
    }

    #[test]
    fn upgrade_hands_over_the_rest() {
        let mut c = HttpConn::new(3, true);
        let mut out = Output::default();
        c.data(0, 1, 1, b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", &mut out);
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n\x81\x02hi";
        let n = c.data(1, 2, 2, resp, &mut out);
        assert_eq!(&resp[n..], b"\x81\x02hi");
        assert_eq!(out.upgraded, Some(Upgrade::WebSocket { extensions: Some("permessage-deflate".into()) }));
        assert!(c.is_tunnel());
        assert_eq!(c.data(0, 3, 3, b"\x81\x82abcd..", &mut out), 0);
        assert_eq!(out.transactions[0].status, Some(101));
    }

    #[test]
    fn malformed_and_garbage_become_anomalies_and_parsing_resumes() {
        let (out, _) = feed(&[
            (0, b"GET /ok HTTP/1.1\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (0, b"GET /bad\x01path HTTP/1.1\r\n\r\n"),
            (1, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
            (0, b"\x16\x03\x01 binary junk"),
            (0, b"GET /again HTTP/1.1\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]);
        assert_eq!(out.methods, ["GET", "GET", "GET"]);
        assert_eq!(out.statuses, [200, 400, 200]);
        assert_eq!(out.anomalies.len(), 2, "{:?}", out.anomalies);
        assert_eq!(out.transactions.last().unwrap().target.as_deref(), Some("/again"));
    }

    #[test]
    fn not_http_is_left_alone() {
        let (out, c) = feed(&[(0, b"\x16\x03\x01\x02\x00 tls hello"), (1, b"\x16\x03\x03 server hello")]);
        assert!(c.is_not_http());
        assert!(out.anomalies.is_empty() && out.transactions.is_empty());
    }

    #[test]
    fn huge_header_block_is_bounded() {
        let mut pieces: Vec<(u8, Vec<u8>)> = vec![(0, b"GET / HTTP/1.1\r\n".to_vec())];
        for _ in 0..100 {
            pieces.push((0, format!("X-Filler: {}\r\n", "a".repeat(1000)).into_bytes()));
        }
        let refs: Vec<(u8, &[u8])> = pieces.iter().map(|(d, b)| (*d, &b[..])).collect();
        let (out, c) = feed(&refs);
        assert_eq!(out.anomalies[0].0, AnomalyKind::HttpHeaderTooLarge);
        assert!(c.dir[0].buf.len() <= MAX_HEAD + 4);
    }

    #[test]
    fn gap_inside_a_body_keeps_the_count_and_the_next_message() {
        let mut c = HttpConn::new(0, false);
        let mut out = Output::default();
        c.data(0, 0, 1, b"GET / HTTP/1.1\r\n\r\n", &mut out);
        c.data(1, 1, 2, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", &mut out);
        c.gap(1, 5, false, &mut out);
        c.data(1, 2, 3, b"fgh", &mut out);
        assert_eq!(out.transactions[0].response_body_bytes, 10);
        // Bytes were lost: the response is there but incomplete, and not counted as a message.
        assert!(!out.transactions[0].complete);
        assert_eq!((out.statuses.len(), out.incomplete_responses), (0, 1));
        assert!(!out.transactions[0].paid_handshake);
    }
}
