//! Connection table: TCP segments in, connection statistics, per-packet analysis and stream
//! events out (pure: the caller supplies decoded segments, nothing here does I/O).
//!
//! Connections are numbered in order of first packet, as Wireshark's `tcp.stream`: a SYN on a
//! 4-tuple whose previous connection used another initial sequence number, or already saw a
//! FIN or RST, starts a new connection (port reuse).

use std::net::SocketAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::reassembly::{Delivery, HalfStream};
use crate::decode::{flags::*, TcpSeg};

/// Out-of-order threshold when no handshake RTT is known (Wireshark uses the same default).
const OOO_THRESHOLD_NS: i128 = 3_000_000;

/// Stream bytes handed to whoever consumes reassembled data (follow, HTTP, ...).
#[derive(Debug)]
pub enum StreamEvent<'a> {
    Data { stream: u32, dir: u8, ts_ns: i128, frame: u64, offset: u64, bytes: &'a [u8] },
    Gap { stream: u32, dir: u8, ts_ns: i128, frame: u64, offset: u64, len: u64, snaplen: bool },
    /// The connection has ended (FIN both ways, RST, or end of capture); no more events follow.
    End { stream: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CloseHow {
    Fin,
    Rst,
}

/// Who closed a connection first, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Close {
    /// 0 = endpoint A (source of the connection's first packet), 1 = endpoint B.
    pub dir: u8,
    pub how: CloseHow,
}

/// Per-packet analysis flags (Wireshark's `tcp.analysis.*`).
pub mod analysis {
    pub const RETRANSMISSION: u16 = 1;
    pub const OUT_OF_ORDER: u16 = 2;
    pub const DUP_ACK: u16 = 4;
    pub const ZERO_WINDOW: u16 = 8;
    pub const LOST_SEGMENT: u16 = 16;
    pub const KEEP_ALIVE: u16 = 32;
    pub const PORT_REUSED: u16 = 64;
    pub const FAST_RETRANSMISSION: u16 = 128;
    pub const WINDOW_UPDATE: u16 = 256;
}

/// Statistics of one connection.
#[derive(Debug, Clone, Serialize)]
pub struct Conn {
    pub index: u32,
    /// Source of the connection's first packet.
    pub a: SocketAddr,
    pub b: SocketAddr,
    #[serde(rename = "start_ts", serialize_with = "ser_secs")]
    pub first_ns: i128,
    #[serde(rename = "end_ts", serialize_with = "ser_secs")]
    pub last_ns: i128,
    /// Frame count per direction (A→B, B→A).
    pub packets: [u64; 2],
    /// Frame bytes per direction (length on the wire).
    pub bytes: [u64; 2],
    /// TCP payload bytes per direction.
    pub payload: [u64; 2],
    pub syn: u32,
    pub syn_ack: u32,
    pub fin: u32,
    pub rst: u32,
    /// Three-way handshake completed (SYN, SYN-ACK, ACK seen in order).
    pub handshake: bool,
    /// Handshake RTT: from the SYN to the ACK of the SYN-ACK (Wireshark's iRTT).
    #[serde(rename = "handshake_rtt_ms", serialize_with = "ser_opt_ms")]
    pub handshake_rtt_ns: Option<i128>,
    pub close: Option<Close>,
    /// Zeek-style history: uppercase letters are the originator's (the SYN sender's).
    pub history: String,
    pub retransmissions: u32,
    pub out_of_order: u32,
    pub dup_acks: u32,
    pub zero_windows: u32,
    pub lost_segments: u32,
    /// Bytes never captured, per direction.
    pub missing: [u64; 2],
    /// Frame number of the first packet.
    pub first_frame: u64,
}

fn ser_secs<S: serde::Serializer>(ns: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ns as f64 / 1e9)
}

fn ser_opt_ms<S: serde::Serializer>(ns: &Option<i128>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(ns) => s.serialize_f64(*ns as f64 / 1e6),
        None => s.serialize_none(),
    }
}

/// What the tracker says about one packet.
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketInfo {
    pub stream: u32,
    pub dir: u8,
    pub rel_seq: u32,
    pub rel_ack: u32,
    /// Window with scaling applied when the scale is known.
    pub window: u64,
    pub analysis: u16,
    /// For a duplicate ACK: (frame of the original ACK, duplicate number).
    pub dup_of: Option<(u64, u32)>,
}

#[derive(Debug, Default)]
struct DirState {
    /// Wireshark's base_seq: relative sequence numbers are `seq - base`.
    base: Option<u32>,
    /// Sequence number of the SYN this direction sent, if any.
    syn_seq: Option<u32>,
    /// Highest sequence number + length seen (Wireshark's nextseq).
    nextseq: Option<u32>,
    nextseq_ns: i128,
    last_ack: Option<u32>,
    last_win: u16,
    last_ack_frame: u64,
    dup_count: u32,
    /// Window scale shift from the SYN, or None when unknown.
    wscale: Option<u8>,
    saw_syn: bool,
    fin: bool,
    history: u16,
    retrans_marks: u32,
    zero_marks: u32,
}

#[derive(Debug)]
struct ConnState {
    half: [HalfStream; 2],
    dir: [DirState; 2],
    /// Which direction sent the SYN (the originator); 0 when unknown.
    orig: u8,
    synack_seq: Option<u32>,
    syn_ns: Option<i128>,
    rst: bool,
    ended: bool,
}

type Key = (SocketAddr, SocketAddr);

fn key(src: SocketAddr, dst: SocketAddr) -> Key {
    if src <= dst {
        (src, dst)
    } else {
        (dst, src)
    }
}

/// Tracks every TCP connection of a capture.
#[derive(Default)]
pub struct Tracker {
    map: FxHashMap<Key, u32>,
    conns: Vec<Conn>,
    states: Vec<ConnState>,
}

// Zeek history letters, in the bit order of DirState::history.
const H_SYN: u16 = 1;
const H_SYNACK: u16 = 2;
const H_ACK: u16 = 4;
const H_DATA: u16 = 8;
const H_FIN: u16 = 16;
const H_RST: u16 = 32;

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn connections(&self) -> &[Conn] {
        &self.conns
    }

    /// Takes one TCP segment. Reassembled bytes are handed to `sink` as they become in order.
    #[allow(clippy::too_many_arguments)]
    pub fn packet(
        &mut self,
        frame: u64,
        ts_ns: i128,
        frame_len: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSeg<'_>,
        sink: &mut impl FnMut(StreamEvent<'_>),
    ) -> PacketInfo {
        let k = key(src, dst);
        let syn_only = seg.flags & (SYN | ACK) == SYN;
        let mut analysis = 0u16;
        let idx = match self.map.get(&k).copied() {
            Some(i) => {
                let c = &self.conns[i as usize];
                let st = &self.states[i as usize];
                let d = usize::from(c.a != src);
                // Wireshark 4.0: only a pure SYN whose sequence number differs from the
                // direction's base starts a new stream; FIN/RST history plays no part.
                let reuse = syn_only && matches!(st.dir[d].base, Some(b) if b != seg.seq);
                if reuse {
                    analysis |= analysis::PORT_REUSED;
                    self.end_stream(i, sink);
                    self.new_conn(k, frame, ts_ns, src, dst)
                } else {
                    i
                }
            }
            None => self.new_conn(k, frame, ts_ns, src, dst),
        };
        let i = idx as usize;
        let d = usize::from(self.conns[i].a != src);
        let dir = d as u8;
        let has = |f: u8| seg.flags & f != 0;

        // Statistics.
        {
            let c = &mut self.conns[i];
            c.last_ns = c.last_ns.max(ts_ns);
            c.packets[d] += 1;
            c.bytes[d] += frame_len as u64;
            c.payload[d] += seg.seg_len as u64;
            if has(SYN) {
                if has(ACK) {
                    c.syn_ack += 1
                } else {
                    c.syn += 1
                }
            }
            if has(FIN) {
                c.fin += 1;
            }
            if has(RST) {
                c.rst += 1;
            }
            if c.close.is_none() && has(FIN | RST) {
                c.close = Some(Close { dir, how: if has(RST) { CloseHow::Rst } else { CloseHow::Fin } });
            }
        }

        let st = &mut self.states[i];
        // Relative sequence numbers.
        if st.dir[d].base.is_none() {
            st.dir[d].base = Some(if has(SYN) { seg.seq } else { seg.seq.wrapping_sub(1) });
        }
        if has(SYN) {
            st.dir[d].saw_syn = true;
            if st.dir[d].syn_seq.is_none() {
                st.dir[d].syn_seq = Some(seg.seq);
                st.dir[d].wscale = syn_window_scale(seg.options);
            }
            if !has(ACK) {
                st.orig = dir;
                st.syn_ns.get_or_insert(ts_ns);
            } else {
                st.synack_seq.get_or_insert(seg.seq);
            }
        }
        if has(ACK) && st.dir[1 - d].base.is_none() {
            st.dir[1 - d].base = Some(seg.ack.wrapping_sub(1));
        }
        let rel_seq = seg.seq.wrapping_sub(st.dir[d].base.unwrap_or(seg.seq));
        let rel_ack = if has(ACK) { seg.ack.wrapping_sub(st.dir[1 - d].base.unwrap_or(seg.ack)) } else { 0 };

        // Handshake: the ACK that acknowledges the SYN-ACK, from the SYN's sender.
        if !self.conns[i].handshake && has(ACK) && !has(SYN) && dir == st.orig {
            if let (Some(sa), Some(syn_ns), Some(_)) = (st.synack_seq, st.syn_ns, st.dir[d].syn_seq) {
                if seg.ack == sa.wrapping_add(1) {
                    self.conns[i].handshake = true;
                    self.conns[i].handshake_rtt_ns = Some(ts_ns - syn_ns);
                }
            }
        }

        // Analysis flags, judged against what this direction had sent before.
        let seglen = seg.seg_len.wrapping_add(has(SYN) as u32).wrapping_add(has(FIN) as u32);
        let ds = &mut st.dir[d];
        if seg.window == 0 && !has(SYN | FIN | RST) {
            analysis |= analysis::ZERO_WINDOW;
        }
        if let Some(next) = ds.nextseq {
            let diff = seg.seq.wrapping_sub(next) as i32;
            if seglen > 0 && diff > 0 && !has(RST) {
                analysis |= analysis::LOST_SEGMENT;
            } else if seglen <= 1 && !has(SYN | FIN | RST) && next.wrapping_sub(1) == seg.seq && seg.seg_len <= 1 && diff == -1 {
                analysis |= analysis::KEEP_ALIVE;
            } else if seglen > 0 && diff < 0 && !has(RST) {
                let end_diff = seg.seq.wrapping_add(seglen).wrapping_sub(next) as i32;
                let thresh = self.conns[i].handshake_rtt_ns.unwrap_or(OOO_THRESHOLD_NS).min(OOO_THRESHOLD_NS.max(1));
                if ts_ns - ds.nextseq_ns < thresh && end_diff != 0 {
                    analysis |= analysis::OUT_OF_ORDER;
                } else {
                    analysis |= analysis::RETRANSMISSION;
                }
            }
        }
        let mut dup_of = None;
        if has(ACK) {
            if seglen == 0 && !has(SYN | FIN | RST) && ds.last_ack == Some(seg.ack) && ds.last_win == seg.window && analysis & analysis::KEEP_ALIVE == 0 {
                ds.dup_count += 1;
                analysis |= analysis::DUP_ACK;
                dup_of = Some((ds.last_ack_frame, ds.dup_count));
            } else if ds.last_ack != Some(seg.ack) || seglen > 0 || has(SYN | FIN | RST) {
                ds.dup_count = 0;
                ds.last_ack_frame = frame;
            } else if ds.last_win != seg.window {
                ds.dup_count = 0;
                ds.last_ack_frame = frame;
                if seglen == 0 {
                    analysis |= analysis::WINDOW_UPDATE;
                }
            }
            ds.last_ack = Some(seg.ack);
            ds.last_win = seg.window;
        }
        let end = seg.seq.wrapping_add(seglen);
        match ds.nextseq {
            Some(n) if (end.wrapping_sub(n) as i32) <= 0 => {}
            _ => {
                ds.nextseq = Some(end);
                ds.nextseq_ns = ts_ns;
            }
        }
        if has(FIN) {
            ds.fin = true;
        }
        if has(RST) {
            st.rst = true;
        }

        // Window as Wireshark shows it: scaled once both SYNs were seen.
        let window = match (st.dir[d].wscale, st.dir[1 - d].wscale, st.dir[d].saw_syn && st.dir[1 - d].saw_syn) {
            _ if has(SYN) => seg.window as u64,
            (Some(s), Some(_), true) => (seg.window as u64) << s.min(14),
            (_, _, true) => seg.window as u64,
            _ => seg.window as u64,
        };

        // History.
        let letter = if has(SYN) {
            if has(ACK) {
                H_SYNACK
            } else {
                H_SYN
            }
        } else {
            0
        } | if has(FIN) { H_FIN } else { 0 }
            | if has(RST) { H_RST } else { 0 }
            | if seg.seg_len > 0 { H_DATA } else { 0 }
            | if has(ACK) && seg.seg_len == 0 && !has(SYN | FIN | RST) { H_ACK } else { 0 };
        let orig_side = dir == st.orig;
        let new_bits = letter & !st.dir[d].history;
        st.dir[d].history |= letter;
        let c = &mut self.conns[i];
        if frame == c.first_frame && has(SYN) && has(ACK) {
            c.history.push('^');
        }
        for (bit, ch) in [(H_SYN, 's'), (H_SYNACK, 'h'), (H_ACK, 'a'), (H_DATA, 'd'), (H_FIN, 'f'), (H_RST, 'r')] {
            if new_bits & bit != 0 {
                c.history.push(if orig_side { ch.to_ascii_uppercase() } else { ch });
            }
        }
        let ds = &mut st.dir[d];
        if analysis & analysis::RETRANSMISSION != 0 {
            c.retransmissions += 1;
            push_counted(&mut c.history, &mut ds.retrans_marks, if orig_side { 'T' } else { 't' });
        }
        if analysis & analysis::ZERO_WINDOW != 0 {
            c.zero_windows += 1;
            push_counted(&mut c.history, &mut ds.zero_marks, if orig_side { 'W' } else { 'w' });
        }
        c.out_of_order += (analysis & analysis::OUT_OF_ORDER != 0) as u32;
        c.dup_acks += (analysis & analysis::DUP_ACK != 0) as u32;
        c.lost_segments += (analysis & analysis::LOST_SEGMENT != 0) as u32;

        // Reassembly.
        if !st.ended {
            let stream = idx;
            if has(SYN) {
                st.half[d].set_isn(seg.seq);
            }
            if has(ACK) {
                let (mine, peer) = split(&mut st.half, d);
                let _ = mine;
                peer.acked(seg.ack, &mut |dl| emit(sink, stream, 1 - dir, ts_ns, frame, dl));
            }
            let data_seq = seg.seq.wrapping_add(has(SYN) as u32);
            if seg.seg_len > 0 {
                st.half[d].segment(data_seq, seg.payload, seg.seg_len, &mut |dl| emit(sink, stream, dir, ts_ns, frame, dl));
            } else {
                st.half[d].set_origin_if_unset(data_seq);
            }
            if has(FIN) {
                st.half[d].fin_at(data_seq.wrapping_add(seg.seg_len));
            }
            let done = st.rst
                || (st.dir[0].fin && st.dir[1].fin && fin_delivered(&st.half[0]) && fin_delivered(&st.half[1]));
            if done {
                self.end_stream(idx, sink);
            }
        }
        let c = &mut self.conns[i];
        c.missing = [self.states[i].half[0].missing_bytes(), self.states[i].half[1].missing_bytes()];
        PacketInfo { stream: idx, dir, rel_seq, rel_ack, window, analysis, dup_of }
    }

    /// End of capture: deliver whatever is still buffered, skipping holes.
    pub fn finish(&mut self, sink: &mut impl FnMut(StreamEvent<'_>)) {
        for i in 0..self.states.len() as u32 {
            self.end_stream(i, sink);
        }
    }

    fn end_stream(&mut self, idx: u32, sink: &mut impl FnMut(StreamEvent<'_>)) {
        let i = idx as usize;
        let st = &mut self.states[i];
        if st.ended {
            return;
        }
        st.ended = true;
        let ts = self.conns[i].last_ns;
        for d in 0..2u8 {
            st.half[d as usize].flush(&mut |dl| emit(sink, idx, d, ts, 0, dl));
        }
        self.conns[i].missing = [st.half[0].missing_bytes(), st.half[1].missing_bytes()];
        // Free the reassembly buffers; keep the sequence state for port-reuse detection.
        st.half = [HalfStream::new(), HalfStream::new()];
        sink(StreamEvent::End { stream: idx });
    }

    fn new_conn(&mut self, k: Key, frame: u64, ts_ns: i128, src: SocketAddr, dst: SocketAddr) -> u32 {
        let idx = self.conns.len() as u32;
        self.conns.push(Conn {
            index: idx,
            a: src,
            b: dst,
            first_ns: ts_ns,
            last_ns: ts_ns,
            packets: [0; 2],
            bytes: [0; 2],
            payload: [0; 2],
            syn: 0,
            syn_ack: 0,
            fin: 0,
            rst: 0,
            handshake: false,
            handshake_rtt_ns: None,
            close: None,
            history: String::new(),
            retransmissions: 0,
            out_of_order: 0,
            dup_acks: 0,
            zero_windows: 0,
            lost_segments: 0,
            missing: [0; 2],
            first_frame: frame,
        });
        self.states.push(ConnState {
            half: [HalfStream::new(), HalfStream::new()],
            dir: [DirState::default(), DirState::default()],
            orig: 0,
            synack_seq: None,
            syn_ns: None,
            rst: false,
            ended: false,
        });
        self.map.insert(k, idx);
        idx
    }
}

fn fin_delivered(h: &HalfStream) -> bool {
    matches!(h.fin_offset(), Some(f) if h.next_offset() >= f && h.pending_bytes() == 0)
}

fn split(h: &mut [HalfStream; 2], d: usize) -> (&mut HalfStream, &mut HalfStream) {
    let (a, b) = h.split_at_mut(1);
    if d == 0 {
        (&mut a[0], &mut b[0])
    } else {
        (&mut b[0], &mut a[0])
    }
}

fn emit(sink: &mut impl FnMut(StreamEvent<'_>), stream: u32, dir: u8, ts_ns: i128, frame: u64, d: Delivery<'_>) {
    match d {
        Delivery::Data { offset, bytes } => sink(StreamEvent::Data { stream, dir, ts_ns, frame, offset, bytes }),
        Delivery::Gap { offset, len, snaplen } => {
            sink(StreamEvent::Gap { stream, dir, ts_ns, frame, offset, len, snaplen })
        }
    }
}

/// Zeek repeats the retransmission and zero-window letters at 1, 10, 100, ... occurrences.
fn push_counted(history: &mut String, count: &mut u32, ch: char) {
    *count += 1;
    let c = *count;
    if c == 1 || c == 10 || c == 100 || c == 1000 || c == 10000 {
        history.push(ch);
    }
}

/// Window scale shift from a SYN's options; None when the option is absent.
pub fn syn_window_scale(options: &[u8]) -> Option<u8> {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = *options.get(i + 1)? as usize;
                if len < 2 || i + len > options.len() {
                    return None;
                }
                if kind == 3 && len == 3 {
                    return Some(options[i + 2]);
                }
                i += len;
            }
        }
    }
    None
}
