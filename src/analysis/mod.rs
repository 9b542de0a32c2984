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

use crate::capture::reader::{CaptureReader, Damage, Format, Frame, ReadError};
use crate::decode::{self, linktype, Decoded, Net, Problem, Transport};
use crate::proto::http::Transaction;
use crate::proto::websocket::{WsFrame, WsMessage};
use crate::tcp::{Conn, PacketInfo, StreamEvent, Tracker};
pub use app::{AppNote, Dist, HttpSummary, WsSummary};

/// What the application layer made of one packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketApp<'a> {
    /// Messages and frames that this packet completed.
    pub notes: &'a [AppNote],
    /// The packet carried part of a message that is not complete yet.
    pub partial: bool,
}

/// Receives packets, stream events and application records during analysis.
/// All methods default to doing nothing.
pub trait Observer {
    fn packet(&mut self, _frame: &Frame<'_>, _decoded: &Decoded<'_>, _tcp: Option<&PacketInfo>, _app: PacketApp<'_>) {}
    fn stream(&mut self, _event: &StreamEvent<'_>) {}
    fn transaction(&mut self, _t: &Transaction) {}
    fn ws_frame(&mut self, _f: &WsFrame) {}
    fn ws_message(&mut self, _m: &WsMessage) {}
    /// Called now and then with the bytes consumed so far.
    fn progress(&mut self, _position: u64, _packets: u64) {}
}

/// Forwards application records to an observer.
struct Fwd<'a, O>(&'a mut O);
impl<O: Observer> app::AppSink for Fwd<'_, O> {
    fn transaction(&mut self, t: &Transaction) {
        self.0.transaction(t)
    }
    fn ws_frame(&mut self, f: &WsFrame) {
        self.0.ws_frame(f)
    }
    fn ws_message(&mut self, m: &WsMessage) {
        self.0.ws_message(m)
    }
}

/// An observer that ignores everything.
pub struct NoObserver;
impl Observer for NoObserver {}

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
    pub kind: String,
    pub count: u64,
    /// First frame where it happened (0 when not tied to a frame).
    pub first_frame: u64,
    /// File offset of that frame's record.
    pub first_offset: u64,
    pub detail: String,
}

/// Version of the `--json` schema; bumped only on incompatible changes.
pub const JSON_SCHEMA: u32 = 1;

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
    pub conversations: Vec<Conn>,
}

#[derive(Default)]
struct Anomalies {
    by_kind: BTreeMap<String, Anomaly>,
}

impl Anomalies {
    fn add(&mut self, kind: &str, frame: u64, offset: u64, detail: impl FnOnce() -> String) {
        self.by_kind
            .entry(kind.to_string())
            .and_modify(|a| a.count += 1)
            .or_insert_with(|| Anomaly { kind: kind.to_string(), count: 1, first_frame: frame, first_offset: offset, detail: detail() });
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
}

/// Analyzes a whole capture, telling `obs` about every packet and stream event.
pub fn analyze<R: Read>(reader: CaptureReader<R>, obs: &mut impl Observer) -> Result<Summary, ReadError> {
    analyze_with(reader, obs, &Options::default())
}

/// [`analyze`] with options.
pub fn analyze_with<R: Read>(mut reader: CaptureReader<R>, obs: &mut impl Observer, opts: &Options) -> Result<Summary, ReadError> {
    let mut tracker = Tracker::new();
    let mut app = app::AppLayer::new().keep_text_of(opts.keep_http_text).with_notes(!opts.no_packet_notes);
    let mut anomalies = Anomalies::default();
    let mut link_types: BTreeMap<u32, u64> = BTreeMap::new();
    let mut protocols: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut packets, mut bytes, mut captured) = (0u64, 0u64, 0u64);
    let (mut first_ns, mut last_ns): (Option<i128>, Option<i128>) = (None, None);
    let mut tcp = TcpSummary::default();
    let mut frags = decode::fragment::Reassembler::default();

    while let Some(frame) = reader.next_frame()? {
        packets += 1;
        bytes += frame.orig_len as u64;
        captured += frame.data.len() as u64;
        first_ns.get_or_insert(frame.ts_ns);
        last_ns = Some(last_ns.map_or(frame.ts_ns, |l| l.max(frame.ts_ns)));
        *link_types.entry(frame.link_type).or_default() += 1;
        // The frame that completes a fragmented datagram carries the whole datagram (and so on
        // once more, for fragments inside a tunnel inside fragments).
        let (datagram, inner): (Vec<u8>, Vec<u8>);
        let mut decoded = decode::decode_frame(frame.link_type, frame.data, frame.orig_len);
        if let Some(d) = frags.complete(&decoded.net, frame.ts_ns) {
            datagram = d;
            decoded.net = decode::decode_ip(&datagram);
            if let Some(d) = frags.complete(&decoded.net, frame.ts_ns) {
                inner = d;
                decoded.net = decode::decode_ip(&inner);
            }
        }
        let mut info = None;
        let proto = match decoded.net {
            Ok(Net::Ip { src, dst, transport }) => match transport {
                Transport::Tcp(seg) => {
                    tcp.packets += 1;
                    tcp.payload_bytes += seg.seg_len as u64;
                    let s = SocketAddr::new(src, seg.sport);
                    let d = SocketAddr::new(dst, seg.dport);
                    if decoded.ip_len_exceeds_frame {
                        anomalies.add("ip_length_exceeds_frame", frame.number, frame.offset, || {
                            "IP length exceeds the frame's length: the TCP segment is what the frame holds".into()
                        });
                    }
                    if seg.payload.len() < seg.seg_len as usize {
                        anomalies.add("snaplen_truncated", frame.number, frame.offset, || {
                            "TCP payload cut short by the capture's snapshot length".into()
                        });
                    }
                    let fno = frame.number;
                    info = Some(tracker.packet(fno, frame.ts_ns, frame.orig_len, s, d, &seg, &mut |ev| {
                        obs.stream(&ev);
                        app.event(&ev, &mut Fwd(obs));
                    }));
                    "tcp"
                }
                Transport::Udp { .. } => "udp",
                Transport::Icmp { quoted_tcp, .. } => {
                    // Wireshark files a quoted TCP header under its connection (creating it if
                    // needed), so it counts toward tcp.stream; it changes no statistics.
                    if let Some((s, d)) = quoted_tcp {
                        tracker.quoted(frame.number, frame.ts_ns, s, d);
                    }
                    "icmp"
                }
                Transport::Other(_) => "other_ip",
                // Held for reassembly (or dropped: the reassembler's anomalies say why).
                Transport::Fragment(_) => "other_ip",
                Transport::Broken(p) => {
                    anomalies.add("truncated_transport_header", frame.number, frame.offset, || {
                        format!("{} header cut off or invalid", if p == 6 { "TCP" } else { "UDP" })
                    });
                    "other_ip"
                }
            },
            Ok(Net::Arp) => "arp",
            Ok(Net::OtherEther(_)) => "non_ip",
            Err(Problem::UnsupportedLinkType(lt)) => {
                anomalies.add("unsupported_link_type", frame.number, frame.offset, || {
                    format!("link type {} ({}) is not decoded", lt, linktype::name(lt))
                });
                "undecodable"
            }
            Err(Problem::Malformed(why)) => {
                anomalies.add("malformed_frame", frame.number, frame.offset, || why.to_string());
                "undecodable"
            }
        };
        *protocols.entry(proto).or_default() += 1;
        for (kind, detail) in app.anomalies.drain(..).chain(frags.anomalies.drain(..)) {
            anomalies.add(kind, frame.number, frame.offset, || detail);
        }
        let (notes, partial) = app.take_packet_notes();
        obs.packet(&frame, &decoded, info.as_ref(), PacketApp { notes: &notes, partial });
        if packets % 65536 == 0 {
            let pos = reader.position();
            obs.progress(pos, packets);
        }
    }
    tracker.finish(&mut |ev| {
        obs.stream(&ev);
        app.event(&ev, &mut Fwd(obs));
    });
    app.finish();
    frags.finish();
    for (kind, detail) in app.anomalies.drain(..).chain(frags.anomalies.drain(..)) {
        anomalies.add(kind, 0, 0, || detail);
    }

    let damage = reader.damage().cloned();
    if let Some(d) = &damage {
        anomalies.add("capture_damaged", 0, d.offset, || format!("{} (at byte offset {})", d.reason, d.offset));
    }
    let conversations = tracker.into_connections();
    tcp.connections = conversations.len() as u64;
    for c in &conversations {
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
    let to_s = |ns: i128| ns as f64 / 1e9;
    let capture = CaptureSummary {
        format: reader.format(),
        packets,
        bytes,
        captured_bytes: captured,
        first_ts: first_ns.map(to_s),
        last_ts: last_ns.map(to_s),
        duration_s: match (first_ns, last_ns) {
            (Some(f), Some(l)) => to_s(l - f),
            _ => 0.0,
        },
        link_types: link_types
            .into_iter()
            .map(|(lt, n)| LinkTypeCount { link_type: lt, name: linktype::name(lt), packets: n })
            .collect(),
        comments: reader.comments().to_vec(),
        protocols,
        damage,
    };
    Ok(Summary {
        capture,
        tcp,
        http: app.http,
        websocket: app.ws,
        anomalies: anomalies.by_kind.into_values().collect(),
        conversations,
    })
}
