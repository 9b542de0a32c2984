//! Passive RFC 6455 WebSocket analysis after an HTTP upgrade (pure: bytes in, records out).
//!
//! [`parse_header`] is check-then-parse: `Ok(None)` means "need more bytes". Payloads are
//! unmasked and, when permessage-deflate (RFC 7692) was negotiated, inflated as they stream
//! past; a message is never held whole. What is kept of it: sizes, a content hash (for echo
//! pairing), and a short preview.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use flate2::{Decompress, FlushDecompress, Status};
use serde::Serialize;

use crate::decode::AnomalyKind;

/// Bytes of a message kept for the preview.
const PREVIEW: usize = 48;

/// A frame header, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: Opcode,
    pub masked: bool,
    pub mask: [u8; 4],
    pub payload_len: u64,
    /// 2 to 14 bytes.
    pub header_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("64-bit payload length with the most significant bit set")]
    LengthTooLarge,
}

/// Parses a frame header from the start of `b`. `Ok(None)`: not enough bytes yet.
pub fn parse_header(b: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
    if b.len() < 2 {
        return Ok(None);
    }
    let masked = b[1] & 0x80 != 0;
    let len7 = b[1] & 0x7f;
    let ext = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + ext + if masked { 4 } else { 0 };
    if b.len() < header_len {
        return Ok(None);
    }
    let payload_len = match ext {
        2 => u16::from_be_bytes([b[2], b[3]]) as u64,
        8 => {
            let v = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
            if v >> 63 != 0 {
                return Err(FrameError::LengthTooLarge);
            }
            v
        }
        _ => len7 as u64,
    };
    let mut mask = [0; 4];
    if masked {
        mask.copy_from_slice(&b[2 + ext..2 + ext + 4]);
    }
    Ok(Some(FrameHeader {
        fin: b[0] & 0x80 != 0,
        rsv1: b[0] & 0x40 != 0,
        rsv2: b[0] & 0x20 != 0,
        rsv3: b[0] & 0x10 != 0,
        opcode: Opcode::from_bits(b[0]),
        masked,
        mask,
        payload_len,
        header_len,
    }))
}

/// A frame's opcode (RFC 6455 §5.2). Reserved opcodes keep their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 3–7 (non-control) or 11–15 (control).
    Reserved(u8),
}

impl Opcode {
    /// The opcode in the low four bits of a frame's first byte.
    pub fn from_bits(b: u8) -> Opcode {
        match b & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            n => Opcode::Reserved(n),
        }
    }

    /// The number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
            Opcode::Reserved(n) => n,
        }
    }

    /// Control frames (close, ping, pong and the reserved 11–15).
    pub fn is_control(self) -> bool {
        self.number() >= 8
    }

    /// The short key used in JSON and tables: `text`, `close`, ..., `reserved`.
    pub fn key(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
            Opcode::Reserved(_) => "reserved",
        }
    }
}

impl std::fmt::Display for Opcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Serialize for Opcode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

/// One frame on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct WsFrame {
    pub stream: u32,
    /// 0 = the client (sent the upgrade request), 1 = the server.
    pub from_server: bool,
    #[serde(skip)]
    pub ts_ns: i128,
    /// Packet that completed the frame.
    pub frame: u64,
    pub opcode: Opcode,
    pub fin: bool,
    pub rsv1: bool,
    pub masked: bool,
    pub header_bytes: u32,
    pub payload_bytes: u64,
    /// For close frames.
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    /// For a pong answering an earlier ping with the same payload.
    pub ping_rtt_ms: Option<f64>,
}

/// One message (a data frame with FIN, or fragments up to the one with FIN).
#[derive(Debug, Clone, Serialize)]
pub struct WsMessage {
    pub stream: u32,
    /// Index of the message on its connection (0-based, both directions).
    pub index: u32,
    pub from_server: bool,
    #[serde(skip)]
    pub first_ns: i128,
    #[serde(skip)]
    pub last_ns: i128,
    pub kind: &'static str,
    pub frames: u32,
    /// Payload bytes on the wire.
    pub wire_bytes: u64,
    /// Size after inflating (equal to `wire_bytes` unless compressed).
    pub size: u64,
    pub compressed: bool,
    pub preview: String,
    /// For a server message echoing an earlier client message: that message's index, and the
    /// time from the client message's last frame to this message's last frame.
    pub echo_of: Option<u32>,
    pub echo_latency_ms: Option<f64>,
    #[serde(skip)]
    pub hash: u64,
}

/// Records produced by one call.
#[derive(Debug, Default)]
pub struct WsOutput {
    pub frames: Vec<WsFrame>,
    pub messages: Vec<WsMessage>,
    pub anomalies: Vec<(AnomalyKind, String)>,
}

/// 64-bit FNV-1a, fed in pieces (the same result however the bytes are split).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ x as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[derive(Debug)]
struct Cur {
    h: FrameHeader,
    remaining: u64,
    /// Offset into the payload (for the mask).
    pos: u64,
    control: Vec<u8>,
}

#[derive(Debug)]
struct Msg {
    opcode: Opcode,
    first_ns: i128,
    frames: u32,
    wire: u64,
    size: u64,
    compressed: bool,
    /// Inflating failed: the rest of the message is counted on the wire only.
    inflate_failed: bool,
    hash: Fnv,
    preview: Vec<u8>,
}

#[derive(Debug)]
struct Dir {
    hdr: Vec<u8>,
    cur: Option<Cur>,
    msg: Option<Msg>,
    inflate: Option<Decompress>,
    no_context_takeover: bool,
    lost: bool,
    scratch: Vec<u8>,
}

/// Deflate parameters from a `Sec-WebSocket-Extensions` response header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deflate {
    pub enabled: bool,
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
}

impl Deflate {
    pub fn from_extensions(ext: Option<&str>) -> Self {
        let mut d = Deflate::default();
        // Only the first offer can be the accepted one in a response.
        if let Some(first) = ext.and_then(|e| e.split(',').next()) {
            let mut parts = first.split(';').map(str::trim);
            if parts.next().is_some_and(|p| p.eq_ignore_ascii_case("permessage-deflate")) {
                d.enabled = true;
                for p in parts {
                    let name = p.split('=').next().unwrap_or("").trim();
                    d.server_no_context_takeover |= name.eq_ignore_ascii_case("server_no_context_takeover");
                    d.client_no_context_takeover |= name.eq_ignore_ascii_case("client_no_context_takeover");
                }
            }
        }
        d
    }
}

/// Most pings, and most client messages, waiting for their pair on one connection; the oldest
/// beyond it stops waiting (a `ws_pairing_overflow` anomaly).
pub const MAX_WAITING: usize = 16384;

/// Records waiting for a pair with an equal key, matched oldest first, in O(1) per record and
/// bounded: the same pairs as a scan of one list in arrival order, as long as at most `cap`
/// records wait.
#[derive(Debug)]
struct Waiting<K, V> {
    by_key: FxHashMap<K, VecDeque<(u64, V)>>,
    /// (sequence, key) in arrival order; entries already paired are skipped when they reach
    /// the front.
    order: VecDeque<(u64, K)>,
    seq: u64,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Copy, V> Waiting<K, V> {
    fn new(cap: usize) -> Self {
        Waiting { by_key: FxHashMap::default(), order: VecDeque::new(), seq: 0, cap }
    }

    /// Adds a record; true when that made the oldest one give up waiting.
    fn push(&mut self, k: K, v: V) -> bool {
        self.seq += 1;
        self.by_key.entry(k).or_default().push_back((self.seq, v));
        self.order.push_back((self.seq, k));
        let mut evicted = false;
        while self.order.len() > self.cap {
            let Some((seq, k)) = self.order.pop_front() else { break };
            if let Some(q) = self.by_key.get_mut(&k) {
                if q.front().is_some_and(|e| e.0 == seq) {
                    q.pop_front();
                    evicted = true;
                }
                if q.is_empty() {
                    self.by_key.remove(&k);
                }
            }
        }
        evicted
    }

    /// The oldest record waiting with key `k`, taken.
    fn take(&mut self, k: &K) -> Option<V> {
        let q = self.by_key.get_mut(k)?;
        let (_, v) = q.pop_front()?;
        if q.is_empty() {
            self.by_key.remove(k);
        }
        Some(v)
    }
}

/// WebSocket state of one upgraded connection.
#[derive(Debug)]
pub struct WsConn {
    stream: u32,
    /// TCP direction of the client (0 or 1).
    client: u8,
    deflate: Deflate,
    dir: [Dir; 2],
    messages: u32,
    /// Pings waiting for their pong: (sender dir, payload hash) → ts.
    pings: Waiting<(u8, u64), i128>,
    /// Client messages not yet echoed: (hash, size) → (index, last_ns).
    unechoed: Waiting<(u64, u64), (u32, i128)>,
}

impl WsConn {
    pub fn new(stream: u32, client: u8, deflate: Deflate) -> Self {
        let dir = |no_ctx: bool| Dir {
            hdr: Vec::with_capacity(14),
            cur: None,
            msg: None,
            inflate: None,
            no_context_takeover: no_ctx,
            lost: false,
            scratch: Vec::new(),
        };
        // Direction d's sender is the client when d == client.
        let client_no = deflate.client_no_context_takeover;
        let server_no = deflate.server_no_context_takeover;
        let d0 = dir(if client == 0 { client_no } else { server_no });
        let d1 = dir(if client == 1 { client_no } else { server_no });
        WsConn { stream, client, deflate, dir: [d0, d1], messages: 0, pings: Waiting::new(MAX_WAITING), unechoed: Waiting::new(MAX_WAITING) }
    }

    /// Feeds bytes of TCP direction `d`.
    pub fn data(&mut self, d: u8, ts: i128, frame: u64, mut bytes: &[u8], out: &mut WsOutput) {
        let di = d as usize & 1;
        while !bytes.is_empty() {
            if self.dir[di].lost {
                return;
            }
            if self.dir[di].cur.is_none() {
                // A header can straddle segments: hold at most its 14 bytes until complete.
                let dir = &mut self.dir[di];
                let held = dir.hdr.len();
                let parsed = if held == 0 {
                    parse_header(bytes)
                } else {
                    let add = (14 - held).min(bytes.len());
                    dir.hdr.extend_from_slice(&bytes[..add]);
                    parse_header(&dir.hdr)
                };
                match parsed {
                    Ok(Some(h)) => {
                        bytes = &bytes[h.header_len - held..];
                        dir.hdr.clear();
                        self.frame_start(d, h, ts, out);
                    }
                    Ok(None) => {
                        if held == 0 {
                            dir.hdr.extend_from_slice(bytes);
                        }
                        return;
                    }
                    Err(e) => {
                        out.anomalies.push((AnomalyKind::WsMalformed, format!("stream {}: {e}", self.stream)));
                        dir.lost = true;
                        return;
                    }
                }
                if self.dir[di].cur.as_ref().is_some_and(|c| c.remaining == 0) {
                    self.frame_end(d, ts, frame, out);
                }
                continue;
            }
            let n = {
                let cur = self.dir[di].cur.as_ref().expect("frame in progress");
                (cur.remaining.min(bytes.len() as u64)) as usize
            };
            self.payload(d, &bytes[..n], out);
            bytes = &bytes[n..];
            if self.dir[di].cur.as_ref().is_some_and(|c| c.remaining == 0) {
                self.frame_end(d, ts, frame, out);
            }
        }
    }

    /// Bytes of direction `d` were lost: frame boundaries after the hole are unknown.
    pub fn gap(&mut self, d: u8, len: u64, out: &mut WsOutput) {
        let dir = &mut self.dir[d as usize & 1];
        if !dir.lost {
            out.anomalies.push((AnomalyKind::WsGap, format!("stream {}: {len} bytes missing; WebSocket framing lost in this direction", self.stream)));
            dir.lost = true;
        }
    }

    fn frame_start(&mut self, d: u8, h: FrameHeader, ts: i128, out: &mut WsOutput) {
        let di = d as usize & 1;
        let control = h.opcode.is_control();
        if control && (h.payload_len > 125 || !h.fin) {
            out.anomalies.push((AnomalyKind::WsMalformed, format!("stream {}: control frame with FIN={} and {} payload bytes", self.stream, h.fin, h.payload_len)));
        }
        if let Opcode::Reserved(n) = h.opcode {
            out.anomalies.push((AnomalyKind::WsMalformed, format!("stream {}: reserved opcode {n}", self.stream)));
        }
        let dir = &mut self.dir[di];
        if !control {
            if h.opcode != Opcode::Continuation {
                if dir.msg.is_some() {
                    out.anomalies.push((AnomalyKind::WsMalformed, format!("stream {}: new message before the previous one ended", self.stream)));
                }
                let compressed = h.rsv1 && self.deflate.enabled;
                if compressed && (dir.no_context_takeover || dir.inflate.is_none()) {
                    // (Also after an inflate failure dropped the shared window.)
                    dir.inflate = Some(Decompress::new(false));
                }
                dir.msg = Some(Msg {
                    opcode: h.opcode,
                    first_ns: ts,
                    frames: 0,
                    wire: 0,
                    size: 0,
                    compressed,
                    inflate_failed: false,
                    hash: Fnv::new(),
                    preview: Vec::new(),
                });
            } else if dir.msg.is_none() {
                out.anomalies.push((AnomalyKind::WsMalformed, format!("stream {}: continuation frame without a message", self.stream)));
            }
            if let Some(m) = &mut dir.msg {
                m.frames += 1;
            }
        }
        dir.cur = Some(Cur { h, remaining: h.payload_len, pos: 0, control: Vec::new() });
    }

    fn payload(&mut self, d: u8, raw: &[u8], out: &mut WsOutput) {
        let di = d as usize & 1;
        let dir = &mut self.dir[di];
        let cur = dir.cur.as_mut().expect("frame in progress");
        dir.scratch.clear();
        dir.scratch.extend_from_slice(raw);
        if cur.h.masked {
            for (i, b) in dir.scratch.iter_mut().enumerate() {
                *b ^= cur.h.mask[((cur.pos + i as u64) & 3) as usize];
            }
        }
        cur.pos += raw.len() as u64;
        cur.remaining -= raw.len() as u64;
        if cur.h.opcode.is_control() {
            let room = 125usize.saturating_sub(cur.control.len());
            cur.control.extend_from_slice(&dir.scratch[..room.min(dir.scratch.len())]);
            return;
        }
        let Some(m) = dir.msg.as_mut() else { return };
        m.wire += raw.len() as u64;
        if m.compressed {
            if m.inflate_failed {
                return;
            }
            let inflater = dir.inflate.as_mut().expect("inflater for a compressed message");
            if let Err(e) = inflate(inflater, &dir.scratch, |chunk| absorb(m, chunk)) {
                out.anomalies.push((AnomalyKind::WsInflate, format!("stream {}: {e}", self.stream)));
                m.inflate_failed = true;
                // The shared window is now unknown: later messages start from a fresh one.
                dir.inflate = None;
            }
        } else {
            absorb(m, &dir.scratch);
        }
    }

    fn frame_end(&mut self, d: u8, ts: i128, frame: u64, out: &mut WsOutput) {
        let di = d as usize & 1;
        let from_server = d != self.client;
        let cur = self.dir[di].cur.take().expect("frame in progress");
        let h = cur.h;
        let mut rec = WsFrame {
            stream: self.stream,
            from_server,
            ts_ns: ts,
            frame,
            opcode: h.opcode,
            fin: h.fin,
            rsv1: h.rsv1,
            masked: h.masked,
            header_bytes: h.header_len as u32,
            payload_bytes: h.payload_len,
            close_code: None,
            close_reason: None,
            ping_rtt_ms: None,
        };
        match h.opcode {
            Opcode::Close => {
                if cur.control.len() >= 2 {
                    rec.close_code = Some(u16::from_be_bytes([cur.control[0], cur.control[1]]));
                    rec.close_reason = Some(String::from_utf8_lossy(&cur.control[2..]).into_owned());
                }
            }
            Opcode::Ping => {
                let mut hsh = Fnv::new();
                hsh.write(&cur.control);
                if self.pings.push((d, hsh.0), ts) {
                    out.anomalies.push((AnomalyKind::WsPairingOverflow, format!("stream {}: over {MAX_WAITING} pings unanswered: the oldest is no longer paired", self.stream)));
                }
            }
            Opcode::Pong => {
                let mut hsh = Fnv::new();
                hsh.write(&cur.control);
                if let Some(t0) = self.pings.take(&(1 - (d & 1), hsh.0)) {
                    rec.ping_rtt_ms = Some((ts - t0) as f64 / 1e6);
                }
            }
            _ => {}
        }
        out.frames.push(rec);
        if !h.opcode.is_control() && h.fin {
            self.message_end(d, ts, out);
        }
    }

    fn message_end(&mut self, d: u8, ts: i128, out: &mut WsOutput) {
        let di = d as usize & 1;
        let from_server = d != self.client;
        let dir = &mut self.dir[di];
        let Some(mut m) = dir.msg.take() else { return };
        if m.compressed && !m.inflate_failed {
            // RFC 7692 §7.2.2: append the empty stored block's tail before inflating the end.
            let inflater = dir.inflate.as_mut().expect("inflater for a compressed message");
            if let Err(e) = inflate(inflater, &[0x00, 0x00, 0xff, 0xff], |chunk| absorb(&mut m, chunk)) {
                out.anomalies.push((AnomalyKind::WsInflate, format!("stream {}: {e}", self.stream)));
                dir.inflate = None;
            }
        }
        if m.compressed && dir.no_context_takeover {
            dir.inflate = None;
        }
        let index = self.messages;
        self.messages += 1;
        let kind = match m.opcode {
            Opcode::Text | Opcode::Binary => m.opcode.key(),
            _ => "reserved",
        };
        let preview = if m.opcode == Opcode::Text {
            let s = String::from_utf8_lossy(&m.preview).into_owned();
            s.chars().map(|c| if c.is_control() { '·' } else { c }).collect()
        } else {
            m.preview.iter().take(16).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
        };
        let mut rec = WsMessage {
            stream: self.stream,
            index,
            from_server,
            first_ns: m.first_ns,
            last_ns: ts,
            kind,
            frames: m.frames,
            wire_bytes: m.wire,
            size: m.size,
            compressed: m.compressed,
            preview,
            echo_of: None,
            echo_latency_ms: None,
            hash: m.hash.0,
        };
        if !from_server {
            if self.unechoed.push((rec.hash, rec.size), (index, ts)) {
                out.anomalies.push((AnomalyKind::WsPairingOverflow, format!("stream {}: over {MAX_WAITING} client messages not echoed: the oldest is no longer paired", self.stream)));
            }
        } else if let Some((ci, t0)) = self.unechoed.take(&(rec.hash, rec.size)) {
            rec.echo_of = Some(ci);
            rec.echo_latency_ms = Some((ts - t0) as f64 / 1e6);
        }
        out.messages.push(rec);
    }
}

fn absorb(m: &mut Msg, chunk: &[u8]) {
    m.size += chunk.len() as u64;
    m.hash.write(chunk);
    let room = PREVIEW.saturating_sub(m.preview.len());
    m.preview.extend_from_slice(&chunk[..room.min(chunk.len())]);
}

/// Inflates `input` (raw deflate) into `sink` in bounded steps.
fn inflate(d: &mut Decompress, input: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(), String> {
    let mut buf = [0u8; 16 * 1024];
    let mut at = 0;
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d.decompress(&input[at..], &mut buf, FlushDecompress::Sync).map_err(|e| format!("inflate failed: {e}"))?;
        let used = (d.total_in() - in0) as usize;
        let made = (d.total_out() - out0) as usize;
        at += used;
        sink(&buf[..made]);
        if status == Status::StreamEnd || (at >= input.len() && made < buf.len()) {
            return Ok(());
        }
        if used == 0 && made == 0 {
            return Err("inflate made no progress".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_pairs_as_a_scan_in_arrival_order_would() {
        // Against the list it replaces: remove the first record with the key.
        let mut w = Waiting::new(1000);
        let mut list: Vec<(u8, u32)> = Vec::new();
        let mut x = 12345u32;
        for i in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let k = (x >> 16) as u8 % 7;
            if x & 1 == 0 {
                w.push(k, i);
                list.push((k, i));
            } else {
                let want = list.iter().position(|&(lk, _)| lk == k).map(|p| list.remove(p).1);
                assert_eq!(w.take(&k), want);
            }
        }
        // Bounded: beyond `cap` records waiting, the oldest stops waiting.
        let mut w = Waiting::new(2);
        assert!(!w.push(1u8, 'a') && !w.push(1, 'b'));
        assert!(w.push(2, 'c'));
        assert_eq!((w.take(&1), w.take(&1), w.take(&2)), (Some('b'), None, Some('c')));
    }

    /// Builds a frame; `mask` masks the payload as a client would.
    fn frame(fin: bool, rsv1: bool, op: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(fin as u8) << 7 | (rsv1 as u8) << 6 | op];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => v.push(m | n as u8),
            n if n < 65536 => {
                v.push(m | 126);
                v.extend((n as u16).to_be_bytes());
            }
            n => {
                v.push(m | 127);
                v.extend((n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                v.extend(k);
                v.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => v.extend(payload),
        }
        v
    }

    #[test]
    fn header_lengths_7_16_64() {
        for n in [0usize, 125, 126, 65535, 65536, 70000] {
            let f = frame(true, false, 2, Some([1, 2, 3, 4]), &vec![7; n]);
            let h = parse_header(&f).unwrap().unwrap();
            assert_eq!(h.payload_len as usize, n);
            assert_eq!(h.header_len, f.len() - n);
            assert!(h.masked && h.fin && h.opcode == Opcode::Binary);
            // Every shorter prefix of the header is Incomplete, never an error.
            for cut in 0..h.header_len {
                assert_eq!(parse_header(&f[..cut]), Ok(None));
            }
        }
        let mut bad = vec![0x82, 127];
        bad.extend(u64::MAX.to_be_bytes());
        assert_eq!(parse_header(&bad), Err(FrameError::LengthTooLarge));
    }

    fn run(client_bytes: &[u8], server_bytes: &[u8], split: &[usize], deflate: Deflate) -> WsOutput {
        let mut c = WsConn::new(0, 0, deflate);
        let mut out = WsOutput::default();
        let mut at = 0;
        for (i, &s) in split.iter().chain(std::iter::once(&client_bytes.len())).enumerate() {
            c.data(0, i as i128 * 10, i as u64, &client_bytes[at..s], &mut out);
            at = s;
        }
        c.data(1, 1000, 100, server_bytes, &mut out);
        out
    }

    #[test]
    fn frames_split_at_every_byte_boundary() {
        let mut client = frame(false, false, 1, Some([9, 8, 7, 6]), b"hello ");
        client.extend(frame(true, false, 9, Some([1, 1, 1, 1]), b"p"));
        client.extend(frame(true, false, 0, Some([5, 5, 5, 5]), b"world"));
        client.extend(frame(true, false, 2, Some([0, 0, 0, 0]), &[0xab; 300]));
        let mut server = frame(true, false, 10, None, b"p");
        server.extend(frame(true, false, 1, None, b"hello world"));
        server.extend(frame(true, false, 8, None, b"\x03\xe8bye"));
        for a in 0..=client.len() {
            for b in a..=client.len() {
                let out = run(&client, &server, &[a, b], Deflate::default());
                assert!(out.anomalies.is_empty(), "{a}/{b}: {:?}", out.anomalies);
                let ops: Vec<_> = out.frames.iter().map(|f| f.opcode.key()).collect();
                assert_eq!(ops, ["text", "ping", "continuation", "binary", "pong", "text", "close"], "{a}/{b}");
                let m = &out.messages;
                assert_eq!(m.len(), 3);
                assert_eq!((m[0].kind, m[0].frames, m[0].size, m[0].preview.as_str()), ("text", 2, 11, "hello world"));
                assert_eq!((m[1].kind, m[1].size), ("binary", 300));
                assert_eq!((m[2].echo_of, m[2].from_server), (Some(0), true));
                assert!(out.frames[4].ping_rtt_ms.is_some());
                assert_eq!((out.frames[6].close_code, out.frames[6].close_reason.as_deref()), (Some(1000), Some("bye")));
            }
        }
    }

    #[test]
    fn permessage_deflate_with_context_takeover() {
        use flate2::{Compress, Compression, FlushCompress};
        let mut z = Compress::new(Compression::default(), false);
        let mut compress = |msg: &[u8]| {
            let mut out = vec![0u8; 1024];
            let before = z.total_out();
            z.compress(msg, &mut out, FlushCompress::Sync).unwrap();
            out.truncate((z.total_out() - before) as usize);
            assert_eq!(&out[out.len() - 4..], [0, 0, 0xff, 0xff]);
            out.truncate(out.len() - 4);
            out
        };
        let text = b"the same sentence, repeated to show context takeover at work";
        let (c1, c2) = (compress(text), compress(text));
        assert!(c2.len() < c1.len() / 2, "the second copy refers back to the first");
        let mut client = frame(true, true, 1, Some([3, 1, 4, 1]), &c1);
        client.extend(frame(true, true, 1, Some([2, 7, 1, 8]), &c2));
        let d = Deflate::from_extensions(Some("permessage-deflate; client_max_window_bits=15"));
        assert!(d.enabled && !d.client_no_context_takeover);
        for cut in 0..client.len() {
            let out = run(&client, &[], &[cut], d);
            assert!(out.anomalies.is_empty(), "{cut}: {:?}", out.anomalies);
            for m in &out.messages {
                assert!(m.compressed);
                assert_eq!(m.size as usize, text.len(), "{cut}");
            }
            assert_eq!(out.messages[0].hash, out.messages[1].hash);
            assert!(out.messages[1].wire_bytes < out.messages[0].wire_bytes);
        }
    }

    #[test]
    fn bad_deflate_data_is_an_anomaly_and_the_message_stays_compressed() {
        // Found by the websocket fuzz target: RSV1 set, one byte that is not deflate data.
        let d = Deflate { enabled: true, server_no_context_takeover: true, client_no_context_takeover: true };
        let mut c = WsConn::new(0, 1, d);
        let mut out = WsOutput::default();
        c.data(1, 0, 1, &[0xf7, 0x01, 0xf7], &mut out);
        assert_eq!(out.anomalies.len(), 2, "{:?}", out.anomalies); // reserved opcode, inflate
        let m = &out.messages[0];
        assert!(m.compressed);
        assert_eq!((m.wire_bytes, m.size), (1, 0));
        // The next compressed message gets a fresh inflater and decodes.
        use flate2::{Compress, Compression, FlushCompress};
        let mut z = Compress::new(Compression::default(), false);
        let mut deflated = vec![0u8; 64];
        z.compress(b"Hello", &mut deflated, FlushCompress::Sync).unwrap();
        deflated.truncate(z.total_out() as usize - 4);
        let mut frame = vec![0xc1, deflated.len() as u8];
        frame.extend(&deflated);
        c.data(1, 1, 2, &frame, &mut out);
        assert_eq!(out.anomalies.len(), 2, "{:?}", out.anomalies);
        assert_eq!((out.messages[1].size, out.messages[1].preview.as_str()), (5, "Hello"));
    }

    #[test]
    fn gap_stops_framing_with_an_anomaly() {
        let mut c = WsConn::new(0, 0, Deflate::default());
        let mut out = WsOutput::default();
        c.data(0, 0, 1, &frame(true, false, 1, Some([0; 4]), b"abc")[..4], &mut out);
        c.gap(0, 10, &mut out);
        c.data(0, 1, 2, &frame(true, false, 1, Some([0; 4]), b"abc"), &mut out);
        assert_eq!(out.anomalies.len(), 1);
        assert!(out.frames.is_empty());
    }
}
