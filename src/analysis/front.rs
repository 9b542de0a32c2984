//! The decode stage of the pass: a frame in, its decoding (IP fragments completed) and the
//! [`Facts`] the stateful stages need out. It keeps no state but the fragment reassembler, so
//! it can run on a thread of its own ([`super::pipeline`]).

use std::net::SocketAddr;

use crate::capture::reader::Frame;
use crate::decode::fragment::Reassembler;
use crate::decode::{self, Decoded, Net, Problem, TcpSeg, Transport};
use crate::tcp::PacketInfo;

use super::{PacketApp, Seen, SeenTcp};

/// Where a frame is, and what it measured: the part of [`Frame`] the counts need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameMeta {
    pub number: u64,
    pub offset: u64,
    pub ts_ns: i128,
    pub orig_len: u32,
    /// Bytes captured.
    pub captured: u32,
    pub link_type: u32,
}

impl FrameMeta {
    pub fn of(f: &Frame<'_>) -> Self {
        FrameMeta { number: f.number, offset: f.offset, ts_ns: f.ts_ns, orig_len: f.orig_len, captured: f.data.len() as u32, link_type: f.link_type }
    }
}

/// A frame-level problem, worded only when it is the first of its kind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FrameProblem {
    UnsupportedLinkType(u32),
    Malformed(&'static str),
    /// A TCP (6) or UDP header cut off or invalid.
    TruncatedTransport(u8),
}

/// What the TCP tracker, the application layer and the counts need of one frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub meta: FrameMeta,
    /// Its protocol family, as counted in `capture.protocols`.
    pub proto: &'static str,
    pub problem: Option<FrameProblem>,
    /// A TCP segment: (source, destination, segment).
    pub tcp: Option<(SocketAddr, SocketAddr, TcpSeg<'a>)>,
    /// The segment was cut to what the frame holds ([`Decoded::ip_len_exceeds_frame`]).
    pub ip_len_exceeds_frame: bool,
    /// An ICMP error quoting a TCP header: (source, destination) of the quoted segment.
    pub quoted: Option<(SocketAddr, SocketAddr)>,
}

impl<'a> Facts<'a> {
    pub fn of(d: &Decoded<'a>, meta: FrameMeta) -> Self {
        let mut f = Facts { meta, proto: "other_ip", problem: None, tcp: None, ip_len_exceeds_frame: false, quoted: None };
        match d.net {
            Ok(Net::Ip { src, dst, transport }) => match transport {
                Transport::Tcp(seg) => {
                    f.proto = "tcp";
                    f.tcp = Some((SocketAddr::new(src, seg.sport), SocketAddr::new(dst, seg.dport), seg));
                    f.ip_len_exceeds_frame = d.ip_len_exceeds_frame;
                }
                Transport::Udp { .. } => f.proto = "udp",
                Transport::Icmp { quoted_tcp, .. } => {
                    f.proto = "icmp";
                    f.quoted = quoted_tcp;
                }
                // Fragments are held for reassembly (or dropped: the reassembler says why).
                Transport::Other(_) | Transport::Fragment(_) => {}
                Transport::Broken(p) => f.problem = Some(FrameProblem::TruncatedTransport(p)),
            },
            Ok(Net::Arp) => f.proto = "arp",
            Ok(Net::OtherEther(_)) => f.proto = "non_ip",
            Err(Problem::UnsupportedLinkType(lt)) => {
                f.proto = "undecodable";
                f.problem = Some(FrameProblem::UnsupportedLinkType(lt));
            }
            Err(Problem::Malformed(why)) => {
                f.proto = "undecodable";
                f.problem = Some(FrameProblem::Malformed(why));
            }
        }
        f
    }
}

impl Facts<'_> {
    /// The frame as [`super::Observer::seen`] tells it, with the tracker's reading `info`.
    pub fn seen<'n>(&self, info: Option<PacketInfo>, app: PacketApp<'n>) -> Seen<'n> {
        let m = &self.meta;
        let tcp = match (&self.tcp, info) {
            (Some((src, dst, seg)), Some(info)) => Some(SeenTcp { src: *src, dst: *dst, flags: seg.flags, len: seg.seg_len, info }),
            _ => None,
        };
        Seen { number: m.number, ts_ns: m.ts_ns, orig_len: m.orig_len, family: self.proto, tcp, app }
    }
}

/// Datagrams completed from fragments, held while a frame's decoding borrows them.
#[derive(Default)]
pub(crate) struct Held {
    outer: Vec<u8>,
    /// A datagram completed inside one (fragments in a tunnel in fragments).
    inner: Vec<u8>,
}

/// Decodes a frame. The frame that completes a fragmented datagram carries the whole datagram
/// (and so once more, for fragments inside a tunnel inside fragments).
pub(crate) fn decode<'f>(frags: &mut Reassembler, held: &'f mut Held, frame: &Frame<'f>) -> Decoded<'f> {
    let mut decoded = decode::decode_frame(frame.link_type, frame.data, frame.orig_len);
    let Held { outer, inner } = held;
    if let Some(d) = frags.complete(&decoded.net, frame.ts_ns) {
        *outer = d;
        let outer: &'f Vec<u8> = outer;
        decoded.net = decode::decode_ip(outer);
        if let Some(d) = frags.complete(&decoded.net, frame.ts_ns) {
            *inner = d;
            let inner: &'f Vec<u8> = inner;
            decoded.net = decode::decode_ip(inner);
        }
    }
    decoded
}
