//! The analysis pass: one streaming walk over a capture, from frames to a [`Summary`].
//!
//! This is the single entry point used by `wirelab analyze`, `wirelab follow` and (later) the
//! scenario runner. Observers see every packet and every reassembled stream event as they
//! happen, so callers can print packet lists or follow a stream without a second pass.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;

use serde::Serialize;

pub mod app;
pub mod observer;

use crate::capture::reader::{CaptureReader, Damage, Format, Frame, ReadError};
use crate::decode::{self, linktype, AnomalyKind, Net, Problem, TcpSeg, Transport};
use crate::proto::http::Transaction;
use crate::proto::websocket::{WsFrame, WsMessage};
use crate::tcp::{Conn, PacketInfo, Tracker};
pub use app::{AppNote, Dist, HttpSummary, TunnelCount, WsSummary};
pub use observer::{Flow, NoObserver, Observed, Observer, ObserverError, CONTINUE};

/// What the application layer made of one packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketApp<'a> {
    /// Messages and frames that this packet completed.
    pub notes: &'a [AppNote],
    /// The packet carried part of a message that is not complete yet.
    pub partial: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkTypeCount {
    pub link_type: u32,
    pub name: String,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureSummary {
    pub format: Format,
    pub packets: u64,
    /// Sum of frame lengths on the wire.
    pub bytes: u64,
    /// Sum of bytes actually captured.
    pub captured_bytes: u64,
    /// Epoch seconds of the first and last frame (null for an empty capture).
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    pub duration_s: f64,
    pub link_types: Vec<LinkTypeCount>,
    pub comments: Vec<String>,
    /// Frames per protocol family: tcp, udp, icmp, arp, other_ip, non_ip, undecodable.
    pub protocols: BTreeMap<&'static str, u64>,
    /// Set when the file is damaged: everything before `offset` was analyzed.
    pub damage: Option<Damage>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TcpSummary {
    /// Distinct connections (Wireshark's `tcp.stream` values).
    pub connections: u64,
    pub packets: u64,
    pub payload_bytes: u64,
    /// Packets with SYN set and ACK clear.
    pub syn: u64,
    /// Packets with SYN and ACK set.
    pub syn_ack: u64,
    pub fin: u64,
    pub rst: u64,
    /// Completed three-way handshakes.
    pub handshakes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub dup_acks: u64,
    pub zero_windows: u64,
    pub lost_segments: u64,
    pub missing_bytes: u64,
}

/// A decode anomaly, aggregated by kind.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub count: u64,
    /// First frame where it happened (0 when not tied to a frame).
    pub first_frame: u64,
    /// File offset of that frame's record.
    pub first_offset: u64,
    pub detail: String,
}

/// Version of the `--json` schema; bumped only on incompatible changes. 2: `conversations`
/// holds the first [`CONVERSATION_ROWS`] connections (`conversations_omitted` counts the rest).
pub const JSON_SCHEMA: u32 = 2;

/// Rows of the conversations table a [`Summary`] keeps by default: the connections numbered
/// below it. Every row goes to [`Observer::connection`] as it becomes final.
pub const CONVERSATION_ROWS: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub version: &'static str,
    pub schema: u32,
}

/// The `--json` document: the summary plus where it came from, in a stable field order.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub wirelab: ToolInfo,
    pub file: &'a str,
    #[serde(flatten)]
    pub summary: &'a Summary,
}

impl<'a> Report<'a> {
    pub fn new(file: &'a str, summary: &'a Summary) -> Self {
        Report { wirelab: ToolInfo { version: env!("CARGO_PKG_VERSION"), schema: JSON_SCHEMA }, file, summary }
    }
}

/// Everything `analyze` knows at the end of a capture.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub capture: CaptureSummary,
    pub tcp: TcpSummary,
    pub http: HttpSummary,
    pub websocket: WsSummary,
    pub anomalies: Vec<Anomaly>,
    /// The first connections' rows, in stream order ([`Options::conversation_rows`]).
    pub conversations: Vec<Conn>,
    /// Connections whose rows are not in `conversations`.
    pub conversations_omitted: u64,
    /// An observer stopped the pass ([`Flow::Stop`]): the counts cover only the packets read
    /// before that, and connections still open were not flushed. Not part of the JSON.
    #[serde(skip)]
    pub stopped: bool,
}

/// Why a pass could not finish.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Observer(#[from] ObserverError),
}

impl AnalysisError {
    /// The I/O error behind this one, if it is one.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self {
            AnalysisError::Read(ReadError::Io(e)) => Some(e),
            AnalysisError::Read(ReadError::NotACapture(_)) => None,
            AnalysisError::Observer(e) => e.io(),
        }
    }
}

/// Anomalies by kind, in the order of their names (the JSON and table order).
#[derive(Default)]
struct Anomalies {
    by_kind: BTreeMap<&'static str, Anomaly>,
}

impl Anomalies {
    fn add(&mut self, kind: AnomalyKind, frame: u64, offset: u64, detail: impl FnOnce() -> String) {
        self.by_kind
            .entry(kind.name())
            .and_modify(|a| a.count += 1)
            .or_insert_with(|| Anomaly { kind, count: 1, first_frame: frame, first_offset: offset, detail: detail() });
    }
}

/// Choices that change what the analysis keeps (never what it counts).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep the header text and body starts of this stream's HTTP messages.
    pub keep_http_text: Option<u32>,
    /// Skip the per-packet application notes ([`PacketApp::notes`] stays empty); they are
    /// needed only for a packet list.
    pub no_packet_notes: bool,
    /// Transactions handed to the observer carry only what the counts need: method, status,
    /// sizes, times, framing headers (no target, version, reason or other header strings).
    pub lean_transactions: bool,
    /// Keep the rows of the connections numbered below this in [`Summary::conversations`]
    /// (default [`CONVERSATION_ROWS`]); every row goes to [`Observer::connection`] anyway.
    pub conversation_rows: Option<usize>,
}

/// Analyzes a whole capture, telling `obs` about every packet and stream event.
pub fn analyze<R: Read>(reader: CaptureReader<R>, obs: &mut impl Observer) -> Result<Summary, AnalysisError> {
    analyze_with(reader, obs, &Options::default())
}

/// [`analyze`] with options.
///
/// The pass ends early when the observer says [`Flow::Stop`] (the summary then covers what
/// was read and has `stopped` set) or fails (the error is returned); either way no observer
/// method is called again and no more input is read.
pub fn analyze_with<R: Read>(mut reader: CaptureReader<R>, obs: &mut impl Observer, opts: &Options) -> Result<Summary, AnalysisError> {
    let mut pass = Pass::new(opts);
    let mut gate = Gate { obs, halt: None };
    while let Some(frame) = reader.next_frame()? {
        pass.frame(&frame, &mut gate);
        let n = pass.totals.packets;
        if n % 65536 == 0 {
            let pos = reader.position();
            gate.tell(|o| o.progress(pos, n));
        }
        if gate.halt.is_some() {
            break;
        }
    }
    let mut stopped = gate.halted()?;
    if !stopped {
        pass.finish_streams(&mut gate);
        stopped = gate.halted()?;
    }
    // After a stop: the rows of the connections still held, for the summary only.
    pass.tracker.finish(&mut |_| {});
    pass.rows(&mut gate);
    Ok(pass.summary(&reader, stopped))
}

/// The observer, guarded: once it stops or fails, it hears nothing more.
struct Gate<'o, O: ?Sized> {
    obs: &'o mut O,
    /// `Some(Ok(()))` stopped, `Some(Err(_))` failed.
    halt: Option<Result<(), ObserverError>>,
}

impl<O: Observer + ?Sized> Gate<'_, O> {
    fn tell(&mut self, f: impl FnOnce(&mut O) -> Observed) {
        if self.halt.is_none() {
            match f(self.obs) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => self.halt = Some(Ok(())),
                Err(e) => self.halt = Some(Err(e)),
            }
        }
    }

    /// Whether the observer stopped the pass; its error, if it failed.
    fn halted(&mut self) -> Result<bool, ObserverError> {
        match self.halt.take() {
            None => Ok(false),
            Some(Ok(())) => {
                self.halt = Some(Ok(()));
                Ok(true)
            }
            Some(Err(e)) => Err(e),
        }
    }
}

impl<O: Observer + ?Sized> app::AppSink for Gate<'_, O> {
    fn transaction(&mut self, t: &Transaction) {
        self.tell(|o| o.transaction(t))
    }
    fn ws_frame(&mut self, f: &WsFrame) {
        self.tell(|o| o.ws_frame(f))
    }
    fn ws_message(&mut self, m: &WsMessage) {
        self.tell(|o| o.ws_message(m))
    }
}

/// Frame-level counts of the capture.
#[derive(Default)]
struct Totals {
    packets: u64,
    bytes: u64,
    captured: u64,
    first_ns: Option<i128>,
    last_ns: Option<i128>,
    /// Counts by link type and by protocol family: a handful of keys, scanned (a map lookup
    /// per frame cost more than the scan).
    link_types: Vec<(u32, u64)>,
    protocols: Vec<(&'static str, u64)>,
    tcp: TcpSummary,
}

impl Totals {
    fn count(&mut self, frame: &Frame<'_>) {
        self.packets += 1;
        self.bytes += frame.orig_len as u64;
        self.captured += frame.data.len() as u64;
        self.first_ns.get_or_insert(frame.ts_ns);
        self.last_ns = Some(self.last_ns.map_or(frame.ts_ns, |l| l.max(frame.ts_ns)));
        bump(&mut self.link_types, frame.link_type, |a, b| a == b);
    }
}

/// The state of one pass: decode → tcp → application layer, and the counts.
struct Pass {
    tracker: Tracker,
    /// Connection rows kept for the summary: those numbered below `keep_rows`.
    conversations: Vec<Conn>,
    keep_rows: usize,
    app: app::AppLayer,
    frags: decode::fragment::Reassembler,
    anomalies: Anomalies,
    totals: Totals,
}

impl Pass {
    fn new(opts: &Options) -> Self {
        Pass {
            tracker: Tracker::new(),
            conversations: Vec::new(),
            keep_rows: opts.conversation_rows.unwrap_or(CONVERSATION_ROWS),
            app: app::AppLayer::new().keep_text_of(opts.keep_http_text).with_notes(!opts.no_packet_notes).lean(opts.lean_transactions),
            frags: decode::fragment::Reassembler::default(),
            anomalies: Anomalies::default(),
            totals: Totals::default(),
        }
    }

    /// One frame: count, decode, track, and tell the observer.
    fn frame<O: Observer + ?Sized>(&mut self, frame: &Frame<'_>, gate: &mut Gate<'_, O>) {
        self.totals.count(frame);
        // The frame that completes a fragmented datagram carries the whole datagram (and so on
        // once more, for fragments inside a tunnel inside fragments).
        let (datagram, inner): (Vec<u8>, Vec<u8>);
        let mut decoded = decode::decode_frame(frame.link_type, frame.data, frame.orig_len);
        if let Some(d) = self.frags.complete(&decoded.net, frame.ts_ns) {
            datagram = d;
            decoded.net = decode::decode_ip(&datagram);
            if let Some(d) = self.frags.complete(&decoded.net, frame.ts_ns) {
                inner = d;
                decoded.net = decode::decode_ip(&inner);
            }
        }
        let (proto, info) = match decoded.net {
            Ok(Net::Ip { src, dst, transport }) => {
                if decoded.ip_len_exceeds_frame && matches!(transport, Transport::Tcp(_)) {
                    self.anomalies.add(AnomalyKind::IpLengthExceedsFrame, frame.number, frame.offset, || {
                        "IP length exceeds the frame's length: the TCP segment is what the frame holds".into()
                    });
                }
                self.transport(frame, src, dst, transport, gate)
            }
            Ok(Net::Arp) => ("arp", None),
            Ok(Net::OtherEther(_)) => ("non_ip", None),
            Err(Problem::UnsupportedLinkType(lt)) => {
                self.anomalies.add(AnomalyKind::UnsupportedLinkType, frame.number, frame.offset, || {
                    format!("link type {} ({}) is not decoded", lt, linktype::name(lt))
                });
                ("undecodable", None)
            }
            Err(Problem::Malformed(why)) => {
                self.anomalies.add(AnomalyKind::MalformedFrame, frame.number, frame.offset, || why.to_string());
                ("undecodable", None)
            }
        };
        bump(&mut self.totals.protocols, proto, |a: &str, b: &str| std::ptr::eq(a, b) || a == b);
        for (kind, detail) in self.app.anomalies.drain(..).chain(self.frags.anomalies.drain(..)) {
            self.anomalies.add(kind, frame.number, frame.offset, || detail);
        }
        let (notes, partial) = self.app.take_packet_notes();
        gate.tell(|o| o.packet(frame, &decoded, info.as_ref(), PacketApp { notes: &notes, partial }));
        if self.tracker.has_retired() {
            self.rows(gate);
        }
    }

    /// Final connection rows: counted, kept if among the first, and told to the observer.
    fn rows<O: Observer + ?Sized>(&mut self, gate: &mut Gate<'_, O>) {
        let evicted = self.tracker.take_evicted_open();
        if evicted > 0 {
            for _ in 0..evicted {
                self.anomalies.add(AnomalyKind::TcpTableOverflow, 0, 0, || {
                    format!("over {} TCP connections open at once: the oldest was retired; a later packet of it starts a new connection", crate::tcp::tracker::MAX_OPEN)
                });
            }
        }
        for c in self.tracker.take_retired() {
            add_connection(&mut self.totals.tcp, &c);
            gate.tell(|o| o.connection(&c));
            if (c.index as usize) < self.keep_rows {
                self.conversations.push(c);
            }
        }
    }

    /// The transport layer of an IP frame: its protocol family, and the tracker's reading of
    /// a TCP segment.
    fn transport<O: Observer + ?Sized>(
        &mut self,
        frame: &Frame<'_>,
        src: std::net::IpAddr,
        dst: std::net::IpAddr,
        transport: Transport<'_>,
        gate: &mut Gate<'_, O>,
    ) -> (&'static str, Option<PacketInfo>) {
        let (n, off) = (frame.number, frame.offset);
        let proto = match transport {
            Transport::Tcp(seg) => {
                let info = self.tcp(frame, SocketAddr::new(src, seg.sport), SocketAddr::new(dst, seg.dport), &seg, gate);
                return ("tcp", Some(info));
            }
            Transport::Udp { .. } => "udp",
            Transport::Icmp { quoted_tcp, .. } => {
                // Wireshark files a quoted TCP header under its connection (creating it if
                // needed), so it counts toward tcp.stream; it changes no statistics.
                if let Some((s, d)) = quoted_tcp {
                    self.tracker.quoted(n, frame.ts_ns, s, d);
                }
                "icmp"
            }
            Transport::Other(_) => "other_ip",
            // Held for reassembly (or dropped: the reassembler's anomalies say why).
            Transport::Fragment(_) => "other_ip",
            Transport::Broken(p) => {
                self.anomalies.add(AnomalyKind::TruncatedTransportHeader, n, off, || {
                    format!("{} header cut off or invalid", if p == 6 { "TCP" } else { "UDP" })
                });
                "other_ip"
            }
        };
        (proto, None)
    }

    /// A TCP segment: into the tracker, its stream events to the observer and the application layer.
    fn tcp<O: Observer + ?Sized>(&mut self, frame: &Frame<'_>, s: SocketAddr, d: SocketAddr, seg: &TcpSeg<'_>, gate: &mut Gate<'_, O>) -> PacketInfo {
        let tcp = &mut self.totals.tcp;
        tcp.packets += 1;
        tcp.payload_bytes += seg.seg_len as u64;
        if seg.payload.len() < seg.seg_len as usize {
            self.anomalies.add(AnomalyKind::SnaplenTruncated, frame.number, frame.offset, || {
                "TCP payload cut short by the capture's snapshot length".into()
            });
        }
        let app = &mut self.app;
        self.tracker.packet(frame.number, frame.ts_ns, frame.orig_len, s, d, seg, &mut |ev| {
            gate.tell(|o| o.stream(&ev));
            app.event(&ev, gate);
        })
    }

    /// End of capture: deliver what the tracker still holds, and its last rows.
    fn finish_streams<O: Observer + ?Sized>(&mut self, gate: &mut Gate<'_, O>) {
        let app = &mut self.app;
        self.tracker.finish(&mut |ev| {
            gate.tell(|o| o.stream(&ev));
            app.event(&ev, gate);
        });
        self.rows(gate);
    }

    fn summary<R: Read>(mut self, reader: &CaptureReader<R>, stopped: bool) -> Summary {
        self.app.finish();
        self.frags.finish();
        for (kind, detail) in self.app.anomalies.drain(..).chain(self.frags.anomalies.drain(..)) {
            self.anomalies.add(kind, 0, 0, || detail);
        }
        let damage = reader.damage().cloned();
        if let Some(d) = &damage {
            self.anomalies.add(AnomalyKind::CaptureDamaged, 0, d.offset, || format!("{} (at byte offset {})", d.reason, d.offset));
        }
        let mut conversations = std::mem::take(&mut self.conversations);
        conversations.sort_unstable_by_key(|c| c.index);
        let mut t = self.totals;
        let mut tcp = std::mem::take(&mut t.tcp);
        tcp.connections = self.tracker.count() as u64;
        let conversations_omitted = tcp.connections - conversations.len() as u64;
        let to_s = |ns: i128| ns as f64 / 1e9;
        let capture = CaptureSummary {
            format: reader.format(),
            packets: t.packets,
            bytes: t.bytes,
            captured_bytes: t.captured,
            first_ts: t.first_ns.map(to_s),
            last_ts: t.last_ns.map(to_s),
            duration_s: match (t.first_ns, t.last_ns) {
                (Some(f), Some(l)) => to_s(l - f),
                _ => 0.0,
            },
            link_types: t.link_types.into_iter().collect::<BTreeMap<_, _>>().into_iter().map(|(lt, n)| LinkTypeCount { link_type: lt, name: linktype::name(lt), packets: n }).collect(),
            comments: reader.comments().to_vec(),
            protocols: t.protocols.into_iter().collect(),
            damage,
        };
        Summary {
            capture,
            tcp,
            http: self.app.http,
            websocket: self.app.ws,
            anomalies: self.anomalies.by_kind.into_values().collect(),
            conversations,
            conversations_omitted,
            stopped,
        }
    }
}

/// Counts one more `key` in a short list of counts.
fn bump<K: Copy>(counts: &mut Vec<(K, u64)>, key: K, same: impl Fn(K, K) -> bool) {
    match counts.iter_mut().find(|(k, _)| same(*k, key)) {
        Some((_, n)) => *n += 1,
        None => counts.push((key, 1)),
    }
}

/// Adds a connection's counts to the TCP totals.
fn add_connection(tcp: &mut TcpSummary, c: &Conn) {
    {
        tcp.syn += c.syn as u64;
        tcp.syn_ack += c.syn_ack as u64;
        tcp.fin += c.fin as u64;
        tcp.rst += c.rst as u64;
        tcp.handshakes += c.handshake as u64;
        tcp.retransmissions += c.retransmissions as u64;
        tcp.out_of_order += c.out_of_order as u64;
        tcp.dup_acks += c.dup_acks as u64;
        tcp.zero_windows += c.zero_windows as u64;
        tcp.lost_segments += c.lost_segments as u64;
        tcp.missing_bytes += c.missing[0] + c.missing[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Decoded;

    fn fixture(name: &str) -> CaptureReader<std::fs::File> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        CaptureReader::new(std::fs::File::open(path).unwrap()).unwrap()
    }

    /// Stops after `stop_at` packets, or fails there.
    struct Until {
        stop_at: u64,
        fail: bool,
        packets: u64,
        after_stop: u64,
    }
    impl Observer for Until {
        fn packet(&mut self, _: &Frame<'_>, _: &Decoded<'_>, _: Option<&PacketInfo>, _: PacketApp<'_>) -> Observed {
            self.packets += 1;
            if self.packets > self.stop_at {
                self.after_stop += 1;
            }
            if self.packets < self.stop_at {
                CONTINUE
            } else if self.fail {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
            } else {
                Ok(Flow::Stop)
            }
        }
        fn transaction(&mut self, _: &Transaction) -> Observed {
            if self.packets >= self.stop_at {
                self.after_stop += 1;
            }
            CONTINUE
        }
    }

    #[test]
    fn a_stop_ends_the_pass_with_a_partial_summary() {
        let whole = analyze(fixture("http-curl-nginx.pcap"), &mut NoObserver).unwrap();
        assert!(!whole.stopped && whole.capture.packets > 10);
        let mut o = Until { stop_at: 5, fail: false, packets: 0, after_stop: 0 };
        let s = analyze(fixture("http-curl-nginx.pcap"), &mut o).unwrap();
        assert!(s.stopped);
        assert_eq!((s.capture.packets, o.packets, o.after_stop), (5, 5, 0));
    }

    #[test]
    fn an_observer_error_ends_the_pass_and_is_returned() {
        let mut o = Until { stop_at: 3, fail: true, packets: 0, after_stop: 0 };
        let e = analyze(fixture("http-curl-nginx.pcap"), &mut o).unwrap_err();
        assert_eq!(e.io().map(|e| e.kind()), Some(std::io::ErrorKind::BrokenPipe));
        assert_eq!((o.packets, o.after_stop), (3, 0));
    }

    #[test]
    fn a_tuple_tells_every_member_and_stops_when_one_stops() {
        let mut a = Until { stop_at: 4, fail: false, packets: 0, after_stop: 0 };
        let mut b = Until { stop_at: u64::MAX, fail: false, packets: 0, after_stop: 0 };
        let s = analyze(fixture("http-curl-nginx.pcap"), &mut (&mut a, &mut b, None::<NoObserver>)).unwrap();
        assert!(s.stopped);
        assert_eq!((a.packets, b.packets, s.capture.packets), (4, 4, 4));
    }
}
