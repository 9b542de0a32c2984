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
    /// A connection's first packet; `syn_seen` says whether that packet was its SYN.
    Begin { stream: u32, syn_seen: bool },
    Data { stream: u32, dir: u8, ts_ns: i128, frame: u64, offset: u64, bytes: &'a [u8] },
    Gap { stream: u32, dir: u8, ts_ns: i128, frame: u64, offset: u64, len: u64, snaplen: bool },
    /// Direction `dir` closed with a FIN, after all its data was delivered.
    Fin { stream: u32, dir: u8, ts_ns: i128, frame: u64 },
    /// The connection has ended (FIN both ways, RST, or end of capture); no more events follow.
    /// `frame` is the packet that ended it (0 at the end of the capture); `closed[d]` says
    /// whether direction d was closed by a FIN or a RST (false: the capture just ended).
    End { stream: u32, ts_ns: i128, frame: u64, closed: [bool; 2] },
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
    /// In JSON: `"by": "A"` or `"B"`.
    #[serde(rename = "by", serialize_with = "ser_side")]
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
    pub const SPURIOUS_RETRANSMISSION: u16 = 512;
    pub const KEEP_ALIVE_ACK: u16 = 1024;
    pub const ACKED_UNSEEN: u16 = 2048;
    /// Every kind Wireshark's `tcp.analysis.retransmission` matches.
    pub const ANY_RETRANSMISSION: u16 = RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION;
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

fn ser_side<S: serde::Serializer>(dir: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *dir == 0 { "A" } else { "B" })
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
    /// The peer's base sequence number (SACK edges are shown relative to it).
    pub peer_base: u32,
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
    /// Highest sequence number the peer should acknowledge (Wireshark's maxseqtobeacked).
    maxseqtobeacked: Option<u32>,
    /// Raw ACK field and window of this direction's previous packet.
    last_ack: Option<u32>,
    last_win: Option<u16>,
    last_ack_ns: i128,
    /// Frame of the last ACK that was not a duplicate.
    last_nondup_frame: u64,
    /// Duplicate-ACK counter; -1 after an ACK of unseen data (Wireshark's dupacknum).
    dup_count: i32,
    last_was_keepalive: bool,
    /// Wireshark's win_scale: the shift when known, -1 unknown, -2 known to be unscaled.
    wscale: i8,
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
    /// Most recent pure SYN, and the first RTT measured from it (Wireshark's ts_first_rtt),
    /// which sets the out-of-order threshold.
    mru_syn_ns: Option<i128>,
    first_rtt_ns: Option<i128>,
    rst: bool,
    began: bool,
    ended: bool,
    /// A Fin event was sent for the direction.
    fin_sent: [bool; 2],
    /// Passed over once by the eviction clock ([`MAX_OPEN`]).
    second_chance: bool,
}

/// One connection the tracker holds: its statistics row and its state.
#[derive(Debug)]
struct Slot {
    conn: Conn,
    st: ConnState,
}

/// Most connections held at once. Beyond it the tracker retires one, oldest first, preferring
/// connections that have ended: its row goes to the caller ([`Tracker::take_retired`]) and a
/// later packet of its 4-tuple starts a new connection. Captures with fewer connections are
/// analyzed exactly as Wireshark does.
pub const MAX_OPEN: usize = 65_536;

/// A connection's 4-tuple, the same both ways, in a form cheap to hash and compare: the two
/// addresses as 128-bit numbers, then both ports and the address family (so an IPv4 address
/// never equals an IPv6 one).
type Key = (u128, u128, u64);

fn key(src: SocketAddr, dst: SocketAddr) -> Key {
    let end = |a: SocketAddr| -> (u128, u64) {
        match a {
            SocketAddr::V4(v) => (u32::from(*v.ip()) as u128, v.port() as u64),
            SocketAddr::V6(v) => (u128::from(*v.ip()), v.port() as u64 | 1 << 16),
        }
    };
    let (a, b) = (end(src), end(dst));
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    (x.0, y.0, x.1 << 32 | y.1)
}

/// Tracks every TCP connection of a capture.
pub struct Tracker {
    map: FxHashMap<Key, u32>,
    /// By stream number; `None` once retired.
    slots: Vec<Option<Box<Slot>>>,
    /// Stream numbers of held connections, oldest first (the eviction clock's hand).
    order: std::collections::VecDeque<u32>,
    open: usize,
    max_open: usize,
    /// Rows of retired connections, not yet taken.
    retired: Vec<Conn>,
    /// Connections retired before they ended, to keep within [`MAX_OPEN`].
    evicted_open: u64,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker { map: FxHashMap::default(), slots: Vec::new(), order: Default::default(), open: 0, max_open: MAX_OPEN, retired: Vec::new(), evicted_open: 0 }
    }
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

    /// A tracker that holds at most `max_open` connections at once (at least 1).
    pub fn with_max_open(max_open: usize) -> Self {
        Tracker { max_open: max_open.max(1), ..Self::default() }
    }

    /// Connections numbered so far (Wireshark's `tcp.stream` count).
    pub fn count(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Rows of the connections retired since the last call: a connection is retired when a new
    /// one takes its 4-tuple, when the tracker holds too many, or at [`finish`](Self::finish).
    /// Its statistics are final then.
    pub fn take_retired(&mut self) -> std::vec::Drain<'_, Conn> {
        self.retired.drain(..)
    }

    /// Whether rows are waiting in [`take_retired`](Self::take_retired).
    pub fn has_retired(&self) -> bool {
        !self.retired.is_empty()
    }

    /// How many connections were retired before they ended ([`MAX_OPEN`]); takes the count.
    pub fn take_evicted_open(&mut self) -> u64 {
        std::mem::take(&mut self.evicted_open)
    }

    /// The row of a connection still held.
    pub fn connection(&self, stream: u32) -> Option<&Conn> {
        self.slots.get(stream as usize)?.as_ref().map(|s| &s.conn)
    }

    fn slot(&mut self, i: u32) -> &mut Slot {
        self.slots[i as usize].as_deref_mut().expect("a connection in the map is held")
    }

    /// Retires connection `i`: ends its stream if it has not ended, frees its state and queues
    /// its row.
    fn retire(&mut self, i: u32, sink: &mut impl FnMut(StreamEvent<'_>)) {
        let Some(mut slot) = self.slots[i as usize].take() else { return };
        if !slot.st.ended {
            end_stream(&mut slot, 0, sink);
        }
        let k = key(slot.conn.a, slot.conn.b);
        if self.map.get(&k) == Some(&i) {
            self.map.remove(&k);
        }
        self.open -= 1;
        self.retired.push(slot.conn);
    }

    /// Keeps at most `max_open` connections: retires the oldest that has ended, or else (after
    /// a full turn of the clock) the oldest.
    fn bound(&mut self, sink: &mut impl FnMut(StreamEvent<'_>)) {
        while self.open > self.max_open {
            let Some(i) = self.order.pop_front() else { return };
            let Some(slot) = self.slots[i as usize].as_deref_mut() else { continue };
            if slot.st.ended || slot.st.second_chance {
                if !slot.st.ended {
                    self.evicted_open += 1;
                }
                self.retire(i, sink);
            } else {
                slot.st.second_chance = true;
                self.order.push_back(i);
            }
        }
    }

    /// A TCP header quoted inside an ICMP error: it belongs to the connection of its 4-tuple,
    /// which is created if none exists (as Wireshark does), but it changes no statistics.
    pub fn quoted(&mut self, frame: u64, ts_ns: i128, src: SocketAddr, dst: SocketAddr) -> u32 {
        let k = key(src, dst);
        match self.map.get(&k) {
            Some(&i) => i,
            None => {
                let i = self.new_conn(k, frame, ts_ns, src, dst);
                // A connection without packets of its own: nothing to end.
                self.bound(&mut |_| {});
                i
            }
        }
    }

    /// Takes one TCP segment. Reassembled bytes are handed to `sink` as they become in order.
    ///
    /// The phases run in Wireshark's order: find the connection (a new one on port reuse),
    /// statistics, relative sequence numbers, handshake, analysis flags, window scaling,
    /// history, reassembly.
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
        let (idx, reused) = self.connection_of(frame, ts_ns, src, dst, seg, sink);
        let slot = self.slot(idx);
        let d = usize::from(slot.conn.a != src);
        count(&mut slot.conn, d, ts_ns, frame_len, seg);
        let st = &mut slot.st;
        let (rel_seq, rel_ack) = relative_numbers(st, d, ts_ns, seg);
        if !slot.conn.handshake {
            if let Some(rtt) = handshake_rtt(st, d, ts_ns, seg) {
                slot.conn.handshake = true;
                slot.conn.handshake_rtt_ns = Some(rtt);
            }
        }
        let (mut analysis, dup_of) = sequence_analysis(st, d, frame, ts_ns, seg);
        if reused {
            analysis |= analysis::PORT_REUSED;
        }
        let window = scaled_window(st, d, seg);
        history(slot, d, frame, seg, analysis);
        reassemble(slot, idx, d, ts_ns, frame, seg, sink);
        let st = &slot.st;
        if !st.ended {
            slot.conn.missing = [st.half[0].missing_bytes(), st.half[1].missing_bytes()];
        }
        let peer_base = st.dir[1 - d].base.unwrap_or(0);
        let info = PacketInfo { stream: idx, dir: d as u8, rel_seq, rel_ack, window, analysis, dup_of, peer_base };
        if self.open > self.max_open {
            self.bound(sink);
        }
        info
    }

    /// The connection a segment belongs to, and whether it replaced an earlier one on the same
    /// 4-tuple. Wireshark 4.0: only a pure SYN whose sequence number differs from the
    /// direction's base starts a new stream; FIN/RST history plays no part.
    fn connection_of(
        &mut self,
        frame: u64,
        ts_ns: i128,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSeg<'_>,
        sink: &mut impl FnMut(StreamEvent<'_>),
    ) -> (u32, bool) {
        let k = key(src, dst);
        let syn_only = seg.flags & (SYN | ACK) == SYN;
        let Some(i) = self.map.get(&k).copied() else {
            return (self.new_conn(k, frame, ts_ns, src, dst), false);
        };
        let slot = self.slot(i);
        let d = usize::from(slot.conn.a != src);
        let reuse = syn_only && matches!(slot.st.dir[d].base, Some(b) if b != seg.seq);
        if !reuse {
            return (i, false);
        }
        // No packet can reach the old connection any more: its row is final.
        end_stream(slot, frame, sink);
        self.retire(i, sink);
        (self.new_conn(k, frame, ts_ns, src, dst), true)
    }

}

/// Zeek history: each letter the first time a direction shows it, then the counted ones.
fn history(slot: &mut Slot, d: usize, frame: u64, seg: &TcpSeg<'_>, analysis: u16) {
    let has = |f: u8| seg.flags & f != 0;
    let st = &mut slot.st;
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
    let orig_side = d as u8 == st.orig;
    let new_bits = letter & !st.dir[d].history;
    st.dir[d].history |= letter;
    let c = &mut slot.conn;
    if frame == c.first_frame && has(SYN) && has(ACK) {
        c.history.push('^');
    }
    for (bit, ch) in [(H_SYN, 's'), (H_SYNACK, 'h'), (H_ACK, 'a'), (H_DATA, 'd'), (H_FIN, 'f'), (H_RST, 'r')] {
        if new_bits & bit != 0 {
            c.history.push(if orig_side { ch.to_ascii_uppercase() } else { ch });
        }
    }
    let ds = &mut st.dir[d];
    if analysis & analysis::ANY_RETRANSMISSION != 0 {
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
}

/// Reassembly: the segment's bytes into its direction's stream, the ACK's skipped holes
/// into the other's, and the events that follow.
fn reassemble(slot: &mut Slot, idx: u32, d: usize, ts_ns: i128, frame: u64, seg: &TcpSeg<'_>, sink: &mut impl FnMut(StreamEvent<'_>)) {
    let has = |f: u8| seg.flags & f != 0;
    let dir = d as u8;
    let st = &mut slot.st;
    if !st.began {
        st.began = true;
        sink(StreamEvent::Begin { stream: idx, syn_seen: has(SYN) });
    }
    if st.ended {
        return;
    }
    let stream = idx;
    if has(SYN) {
        st.half[d].set_isn(seg.seq);
    }
    if has(ACK) {
        // The peer's holes below this ACK were lost by the capture: skip them first,
        // so their data is delivered before this packet's own.
        st.half[1 - d].acked(seg.ack, &mut |dl| emit(sink, stream, 1 - dir, ts_ns, frame, dl));
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
    for fd in 0..2 {
        if !st.fin_sent[fd] && fin_delivered(&st.half[fd]) {
            st.fin_sent[fd] = true;
            sink(StreamEvent::Fin { stream, dir: fd as u8, ts_ns, frame });
        }
    }
    let done = st.rst || (st.dir[0].fin && st.dir[1].fin && fin_delivered(&st.half[0]) && fin_delivered(&st.half[1]));
    if done {
        end_stream(slot, frame, sink);
    }
}

/// Ends a connection's stream (once): delivers what is buffered, skipping holes, and frees
/// the reassembly buffers; the sequence state stays for port-reuse detection.
fn end_stream(slot: &mut Slot, frame: u64, sink: &mut impl FnMut(StreamEvent<'_>)) {
    let idx = slot.conn.index;
    let st = &mut slot.st;
    if st.ended {
        return;
    }
    st.ended = true;
    let ts = slot.conn.last_ns;
    for d in 0..2u8 {
        st.half[d as usize].flush(&mut |dl| emit(sink, idx, d, ts, 0, dl));
    }
    slot.conn.missing = [st.half[0].missing_bytes(), st.half[1].missing_bytes()];
    st.half = [HalfStream::new(), HalfStream::new()];
    let closed = [st.dir[0].fin || st.rst, st.dir[1].fin || st.rst];
    sink(StreamEvent::End { stream: idx, ts_ns: ts, frame, closed });
}

impl Tracker {
    /// End of capture: delivers whatever is still buffered, skipping holes, and retires every
    /// connection still held, in stream order.
    pub fn finish(&mut self, sink: &mut impl FnMut(StreamEvent<'_>)) {
        for i in 0..self.slots.len() as u32 {
            if let Some(slot) = self.slots[i as usize].as_deref_mut() {
                end_stream(slot, 0, sink);
                self.retire(i, sink);
            }
        }
        self.order.clear();
    }

    fn new_conn(&mut self, k: Key, frame: u64, ts_ns: i128, src: SocketAddr, dst: SocketAddr) -> u32 {
        let idx = self.slots.len() as u32;
        let conn = Conn {
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
        };
        let st = ConnState {
            half: [HalfStream::new(), HalfStream::new()],
            dir: [DirState { wscale: -1, ..DirState::default() }, DirState { wscale: -1, ..DirState::default() }],
            orig: 0,
            synack_seq: None,
            syn_ns: None,
            mru_syn_ns: None,
            first_rtt_ns: None,
            rst: false,
            began: false,
            ended: false,
            fin_sent: [false; 2],
            second_chance: false,
        };
        self.slots.push(Some(Box::new(Slot { conn, st })));
        self.order.push_back(idx);
        self.open += 1;
        self.map.insert(k, idx);
        idx
    }
}

/// Statistics: packet, byte and flag counts, and who closed first.
fn count(c: &mut Conn, d: usize, ts_ns: i128, frame_len: u32, seg: &TcpSeg<'_>) {
    let has = |f: u8| seg.flags & f != 0;
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
        c.close = Some(Close { dir: d as u8, how: if has(RST) { CloseHow::Rst } else { CloseHow::Fin } });
    }
}

/// Relative sequence numbers: sets each direction's base when first known; (seq, ack).
fn relative_numbers(st: &mut ConnState, d: usize, ts_ns: i128, seg: &TcpSeg<'_>) -> (u32, u32) {
    let has = |f: u8| seg.flags & f != 0;
    if st.dir[d].base.is_none() {
        st.dir[d].base = Some(if has(SYN) { seg.seq } else { seg.seq.wrapping_sub(1) });
    }
    if has(SYN) {
        st.dir[d].saw_syn = true;
        if st.dir[d].syn_seq.is_none() {
            st.dir[d].syn_seq = Some(seg.seq);
        }
        if !has(ACK) {
            st.orig = d as u8;
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
    (rel_seq, rel_ack)
}

/// Handshake: the ACK that acknowledges the SYN-ACK, from the SYN's sender; the RTT from the SYN.
fn handshake_rtt(st: &ConnState, d: usize, ts_ns: i128, seg: &TcpSeg<'_>) -> Option<i128> {
    let has = |f: u8| seg.flags & f != 0;
    if !(has(ACK) && !has(SYN) && d as u8 == st.orig) {
        return None;
    }
    match (st.synack_seq, st.syn_ns, st.dir[d].syn_seq) {
        (Some(sa), Some(syn_ns), Some(_)) if seg.ack == sa.wrapping_add(1) => Some(ts_ns - syn_ns),
        _ => None,
    }
}

fn gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Analysis flags, in the order of Wireshark 4.0's tcp_analyze_sequence_number(), judged on
/// absolute numbers against what each direction had sent before; then the direction's state
/// moves on. Returns the flags and, for a duplicate ACK, (original frame, number).
fn sequence_analysis(st: &mut ConnState, d: usize, frame: u64, ts_ns: i128, seg: &TcpSeg<'_>) -> (u16, Option<(u64, u32)>) {
    let has = |f: u8| seg.flags & f != 0;
    let (fwd, rev) = {
        let (x, y) = st.dir.split_at_mut(1);
        if d == 0 {
            (&mut x[0], &mut y[0])
        } else {
            (&mut y[0], &mut x[0])
        }
    };
    let at_next = fwd.nextseq == Some(seg.seq);
    let zero_window_probe = seg.seg_len == 1 && at_next && rev.last_win == Some(0);
    let (mut analysis, dup_of, keepalive) =
        if zero_window_probe { (0, None, false) } else { window_and_ack_flags(fwd, rev, seg, at_next) };
    if fwd.last_ack != Some(seg.ack) {
        fwd.last_nondup_frame = frame;
        fwd.dup_count = 0;
    }
    analysis |= acked_unseen(rev, seg);
    if (seg.seg_len > 0 || has(SYN | FIN)) && !keepalive {
        analysis |= retransmission_kind(fwd, rev, seg, ts_ns, st.first_rtt_ns);
    }
    advance(fwd, seg, ts_ns, zero_window_probe, keepalive);
    if seg.flags & (SYN | ACK) == SYN {
        st.mru_syn_ns = Some(ts_ns);
    } else if seg.flags & (SYN | ACK) == ACK && st.first_rtt_ns.is_none() {
        if let Some(s0) = st.mru_syn_ns {
            st.first_rtt_ns = Some(ts_ns - s0);
        }
    }
    if has(FIN) {
        st.dir[d].fin = true;
    }
    if has(RST) {
        st.rst = true;
    }
    (analysis, dup_of)
}

/// Zero window, lost segment, keep-alive, window update, keep-alive ACK and duplicate ACK.
/// Returns the flags, the duplicate ACK's origin, and whether this is a keep-alive.
fn window_and_ack_flags(fwd: &mut DirState, rev: &DirState, seg: &TcpSeg<'_>, at_next: bool) -> (u16, Option<(u64, u32)>, bool) {
    let has = |f: u8| seg.flags & f != 0;
    let (plen, ctl) = (seg.seg_len, has(SYN | FIN | RST));
    let (mut analysis, mut keepalive) = (0u16, false);
    if seg.window == 0 && !ctl {
        analysis |= analysis::ZERO_WINDOW;
    }
    if let Some(next) = fwd.nextseq {
        if gt(seg.seq, next) && !has(RST) {
            analysis |= analysis::LOST_SEGMENT;
        }
        if plen <= 1 && seg.seq == next.wrapping_sub(1) && !ctl {
            analysis |= analysis::KEEP_ALIVE;
            keepalive = true;
        }
    }
    let same_ack = fwd.last_ack == Some(seg.ack);
    if plen == 0 && seg.window != 0 && fwd.last_win != Some(seg.window) && at_next && same_ack && !ctl {
        analysis |= analysis::WINDOW_UPDATE;
    }
    if plen == 0 && seg.window != 0 && fwd.last_win == Some(seg.window) && at_next && same_ack && !ctl {
        if rev.last_was_keepalive {
            return (analysis | analysis::KEEP_ALIVE_ACK, None, keepalive);
        }
        fwd.dup_count = if fwd.dup_count < 0 { 1 } else { fwd.dup_count + 1 };
        let dup_of = Some((fwd.last_nondup_frame, fwd.dup_count as u32));
        return (analysis | analysis::DUP_ACK, dup_of, keepalive);
    }
    (analysis, None, keepalive)
}

/// An ACK of data the capture never showed.
fn acked_unseen(rev: &mut DirState, seg: &TcpSeg<'_>) -> u16 {
    let Some(m) = rev.maxseqtobeacked else { return 0 };
    if seg.flags & ACK == 0 || !gt(seg.ack, m) {
        return 0;
    }
    match rev.nextseq {
        Some(n) if lt(m, n) => {
            rev.maxseqtobeacked = Some(n);
            analysis::ACKED_UNSEEN
        }
        _ => {
            let flag = if rev.dup_count == 0 { analysis::ACKED_UNSEEN } else { 0 };
            rev.dup_count = -1;
            flag
        }
    }
}

/// Spurious, fast, out-of-order or plain retransmission of a segment that carries data or SYN/FIN.
fn retransmission_kind(fwd: &DirState, rev: &DirState, seg: &TcpSeg<'_>, ts_ns: i128, first_rtt_ns: Option<i128>) -> u16 {
    let plen = seg.seg_len;
    let syn_fin = seg.flags & (SYN | FIN) != 0;
    let mut not_advanced = matches!(fwd.nextseq, Some(n) if lt(seg.seq, n));
    if plen > 1 && fwd.nextseq.map(|n| n.wrapping_sub(1)) == Some(seg.seq) {
        not_advanced = false;
    }
    let ooo_thresh = first_rtt_ns.filter(|&r| r > 0).unwrap_or(OOO_THRESHOLD_NS);
    let next_plus = seg.seq.wrapping_add(plen).wrapping_add(syn_fin as u32);
    if plen > 0 && matches!(rev.last_ack, Some(la) if la != 0 && !gt(seg.seq.wrapping_add(plen), la)) {
        analysis::SPURIOUS_RETRANSMISSION
    } else if not_advanced && rev.dup_count >= 2 && rev.last_ack == Some(seg.seq) && ts_ns - rev.last_ack_ns < 20_000_000 {
        analysis::FAST_RETRANSMISSION
    } else if not_advanced && ts_ns - fwd.nextseq_ns < ooo_thresh && fwd.nextseq != Some(next_plus) {
        analysis::OUT_OF_ORDER
    } else if not_advanced {
        analysis::RETRANSMISSION
    } else {
        0
    }
}

/// The direction's next expected sequence number, highest to be acked, last ACK and window.
fn advance(fwd: &mut DirState, seg: &TcpSeg<'_>, ts_ns: i128, zero_window_probe: bool, keepalive: bool) {
    let end = seg.seq.wrapping_add(seg.seg_len).wrapping_add((seg.flags & (SYN | FIN) != 0) as u32);
    if !zero_window_probe {
        if fwd.nextseq.is_none_or(|n| gt(end, n)) {
            fwd.nextseq = Some(end);
            fwd.nextseq_ns = ts_ns;
        }
        if fwd.maxseqtobeacked.is_none_or(|m| m == seg.seq) {
            fwd.maxseqtobeacked = fwd.nextseq;
        }
    }
    fwd.last_win = Some(seg.window);
    fwd.last_ack = Some(seg.ack);
    fwd.last_ack_ns = ts_ns;
    fwd.last_was_keepalive = keepalive;
}

/// Window scaling as Wireshark tracks it: a WS option sets the shift; after each SYN, a side
/// without one makes both unscaled (RFC 7323: scaling needs both SYNs to agree). Returns the
/// segment's window, scaled when the scale is known.
fn scaled_window(st: &mut ConnState, d: usize, seg: &TcpSeg<'_>) -> u64 {
    let has = |f: u8| seg.flags & f != 0;
    if let Some(shift) = seg.options.window_scale() {
        st.dir[d].wscale = shift.min(14) as i8;
    }
    if has(SYN) {
        if st.dir[d].wscale == -1 {
            st.dir[d].wscale = -2;
            st.dir[1 - d].wscale = -2;
        } else if has(ACK) && st.dir[1 - d].wscale == -2 {
            st.dir[d].wscale = -2;
        }
    }
    match st.dir[d].wscale {
        s if s >= 0 && !has(SYN) => (seg.window as u64) << s,
        _ => seg.window as u64,
    }
}

fn fin_delivered(h: &HalfStream) -> bool {
    matches!(h.fin_offset(), Some(f) if h.next_offset() >= f && h.pending_bytes() == 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(seq: u32, ack: u32, flags: u8, payload: &[u8], seg_len: u32) -> TcpSeg<'_> {
        TcpSeg { sport: 0, dport: 0, seq, ack, flags, window: 100, options: Default::default(), seg_len, payload }
    }

    #[test]
    fn missing_bytes_survive_the_end_of_the_stream() {
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let mut t = Tracker::new();
        let mut sink = |_: StreamEvent<'_>| {};
        let mut p = |t: &mut Tracker, n: u64, from_a: bool, s: TcpSeg<'_>| {
            let (src, dst) = if from_a { (a, b) } else { (b, a) };
            t.packet(n, n as i128, 60, src, dst, &s, &mut sink)
        };
        p(&mut t, 1, true, seg(100, 0, SYN, b"", 0));
        p(&mut t, 2, false, seg(500, 101, SYN | ACK, b"", 0));
        p(&mut t, 3, true, seg(101, 501, ACK, b"", 0));
        // 10 bytes on the wire, 4 captured (snaplen).
        p(&mut t, 4, true, seg(101, 501, ACK | PSH, b"GET ", 10));
        p(&mut t, 5, true, seg(111, 501, ACK | FIN, b"", 0));
        p(&mut t, 6, false, seg(501, 112, ACK | FIN, b"", 0));
        let i = p(&mut t, 7, true, seg(112, 502, ACK, b"", 0));
        let c = t.connection(0).unwrap();
        assert!(c.handshake);
        assert_eq!(c.missing, [6, 0]);
        assert_eq!(c.close, Some(Close { dir: 0, how: CloseHow::Fin }));
        assert_eq!(c.history, "ShADFf");
        assert_eq!((i.rel_seq, i.rel_ack), (12, 2));
    }

    #[test]
    fn new_syn_with_other_isn_starts_a_new_stream() {
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let mut t = Tracker::new();
        let mut sink = |_: StreamEvent<'_>| {};
        t.packet(1, 1, 60, a, b, &seg(100, 0, SYN, b"", 0), &mut sink);
        let again = t.packet(2, 2, 60, a, b, &seg(100, 0, SYN, b"", 0), &mut sink);
        assert_eq!(again.stream, 0, "same ISN: a retransmitted SYN");
        let reused = t.packet(3, 3, 60, a, b, &seg(9000, 0, SYN, b"", 0), &mut sink);
        assert_eq!(reused.stream, 1);
        assert_ne!(reused.analysis & analysis::PORT_REUSED, 0);
        assert_eq!(t.count(), 2);
        // The old connection can get no more packets: its row is final.
        assert_eq!(t.take_retired().map(|c| c.index).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn beyond_max_open_the_oldest_ended_connection_is_retired_first() {
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let ep = |port: u16| -> SocketAddr { SocketAddr::new("10.0.0.1".parse().unwrap(), port) };
        let mut t = Tracker::with_max_open(2);
        let mut sink = |_: StreamEvent<'_>| {};
        // Stream 0 opens and closes; 1 and 2 stay open.
        t.packet(1, 1, 60, ep(1), b, &seg(100, 0, SYN, b"", 0), &mut sink);
        t.packet(2, 2, 60, b, ep(1), &seg(500, 101, SYN | ACK, b"", 0), &mut sink);
        t.packet(3, 3, 60, ep(1), b, &seg(101, 501, ACK | FIN, b"", 0), &mut sink);
        t.packet(4, 4, 60, b, ep(1), &seg(501, 102, ACK | FIN, b"", 0), &mut sink);
        t.packet(5, 5, 60, ep(2), b, &seg(100, 0, SYN, b"", 0), &mut sink);
        assert!(!t.has_retired());
        t.packet(6, 6, 60, ep(3), b, &seg(100, 0, SYN, b"", 0), &mut sink);
        let rows: Vec<_> = t.take_retired().map(|c| (c.index, c.packets)).collect();
        assert_eq!(rows, [(0, [2, 2])], "the ended one goes first, with its final counts");
        assert_eq!(t.take_evicted_open(), 0);
        // A fourth: no connection has ended, so the oldest open one goes (and is counted).
        t.packet(7, 7, 60, ep(4), b, &seg(100, 0, SYN, b"", 0), &mut sink);
        assert_eq!(t.take_retired().map(|c| c.index).collect::<Vec<_>>(), [1]);
        assert_eq!(t.take_evicted_open(), 1);
        // A later packet of the retired 4-tuple starts a new connection.
        let again = t.packet(8, 8, 60, ep(2), b, &seg(101, 0, ACK, b"", 0), &mut sink);
        assert_eq!(again.stream, 4);
        t.finish(&mut sink);
        assert_eq!(t.take_retired().map(|c| c.index).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(t.count(), 5);
    }
}
