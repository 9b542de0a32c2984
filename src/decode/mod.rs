//! Frame decoding: link type + bytes in, a typed view of the IP/TCP/UDP layers out (pure, no I/O).
//!
//! Built on etherparse's lax slicers, so frames cut short by the snaplen still decode as far as
//! they go. Everything that cannot be decoded comes back as a [`Problem`] for the anomalies table.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

pub mod anomaly;
pub mod fragment;
pub mod linktype;
pub mod nflog;
pub mod tcp_options;
pub mod tunnel;

pub use anomaly::AnomalyKind;
pub use tcp_options::{TcpOption, TcpOptions};

/// How many tunnel encapsulations (VXLAN, Geneve, GRE, IP-in-IP) are unwrapped, at most.
pub const MAX_TUNNEL_DEPTH: u8 = 8;

/// TCP flag bits as on the wire.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// A TCP segment, borrowed from the frame.
#[derive(Debug, Clone, Copy)]
pub struct TcpSeg<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// The options, validated.
    pub options: TcpOptions<'a>,
    /// Segment length claimed by the IP header (what Wireshark shows as `Len=`).
    pub seg_len: u32,
    /// The payload bytes actually captured (may be shorter than `seg_len`).
    pub payload: &'a [u8],
}

impl TcpSeg<'_> {
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    Tcp(TcpSeg<'a>),
    Udp { sport: u16, dport: u16, len: u16 },
    /// `quoted_tcp`: for an ICMP error quoting a TCP header (at least 12 bytes of it, as
    /// Wireshark requires), the quoted segment's (source, destination) endpoints.
    Icmp { v6: bool, kind: u8, code: u8, quoted_tcp: Option<(SocketAddr, SocketAddr)> },
    /// Another IP protocol, by number.
    Other(u8),
    /// An IP fragment: its transport header is not (all) in this frame.
    Fragment(Frag<'a>),
    /// IP header fine but the transport header was cut off or invalid.
    Broken(u8),
}

/// One fragment of an IPv4 or IPv6 datagram.
#[derive(Debug, Clone, Copy)]
pub struct Frag<'a> {
    /// The protocol of the whole datagram's payload.
    pub proto: u8,
    pub v6: bool,
    /// Identification (16 bits in IPv4, 32 in IPv6).
    pub id: u32,
    /// Byte offset of `data` in the datagram's payload.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// The fragment's bytes, as captured.
    pub data: &'a [u8],
    /// The capture holds fewer bytes than the IP header claims for this fragment.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Net<'a> {
    Ip { src: IpAddr, dst: IpAddr, transport: Transport<'a> },
    Arp,
    /// A link-layer frame whose payload is not IP or ARP (ether type given).
    OtherEther(u16),
}

/// Why a frame could not be decoded to the IP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    UnsupportedLinkType(u32),
    /// The frame is too short or malformed for its link/IP header.
    Malformed(&'static str),
}

/// Result of decoding one frame.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    pub net: Result<Net<'a>, Problem>,
    /// Link-layer addresses when the link has them (for non-IP display).
    pub mac: Option<([u8; 6], [u8; 6])>,
    /// The TCP segment was shortened to what the frame holds: the IP header claims more bytes
    /// than the frame has on the wire (not a snaplen cut). See [`decode_frame`].
    pub ip_len_exceeds_frame: bool,
}

/// The innermost protocol a frame was decoded to (a Protocol column names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// IP carrying another protocol, or a fragment.
    Ipv4,
    Ipv6,
    Arp,
    /// A link-layer frame of this ether type that is not IP or ARP.
    Ether(u16),
    /// A link type that is not decoded.
    Link(u32),
    Malformed,
}

impl Decoded<'_> {
    pub fn carried(&self) -> Carried {
        match self.net {
            Ok(Net::Ip { src, transport, .. }) => match transport {
                Transport::Tcp(_) | Transport::Broken(6) => Carried::Tcp,
                Transport::Udp { .. } | Transport::Broken(_) => Carried::Udp,
                Transport::Icmp { v6: true, .. } => Carried::Icmpv6,
                Transport::Icmp { .. } => Carried::Icmp,
                Transport::Other(_) | Transport::Fragment(_) if src.is_ipv6() => Carried::Ipv6,
                Transport::Other(_) | Transport::Fragment(_) => Carried::Ipv4,
            },
            Ok(Net::Arp) => Carried::Arp,
            Ok(Net::OtherEther(et)) => Carried::Ether(et),
            Err(Problem::UnsupportedLinkType(lt)) => Carried::Link(lt),
            Err(Problem::Malformed(_)) => Carried::Malformed,
        }
    }
}

/// Decodes one frame of `orig_len` bytes on the wire (of which `data` was captured).
///
/// When an IP header claims more bytes than the frame has on the wire, the TCP segment is what
/// the frame holds, as Wireshark takes it (`tcp.len`); the rest counts as missing, and the
/// frame is flagged [`Decoded::ip_len_exceeds_frame`].
pub fn decode_frame(link_type: u32, data: &[u8], orig_len: u32) -> Decoded<'_> {
    let mut d = decode(link_type, data);
    if let Ok(Net::Ip { transport: Transport::Tcp(seg), .. }) = &mut d.net {
        let start = (seg.payload.as_ptr() as usize).checked_sub(data.as_ptr() as usize).filter(|&s| s <= data.len());
        if let Some(start) = start {
            let room = (orig_len as usize).saturating_sub(start).max(seg.payload.len());
            if seg.seg_len as usize > room {
                seg.seg_len = room as u32;
                d.ip_len_exceeds_frame = true;
            }
        }
    }
    d
}

/// Decodes a whole IP packet (e.g. one rebuilt from fragments), tunnels unwrapped.
pub fn decode_ip(packet: &[u8]) -> Result<Net<'_>, Problem> {
    match LaxSlicedPacket::from_ip(packet) {
        Ok(p) => net_of(&p, 0),
        Err(_) => Err(Problem::Malformed("invalid IP header")),
    }
}

/// Decodes one frame of the given LINKTYPE_*.
pub fn decode(link_type: u32, data: &[u8]) -> Decoded<'_> {
    let mut mac = None;
    let sliced = match link_type {
        linktype::ETHERNET => match LaxSlicedPacket::from_ethernet(data) {
            Ok(p) => {
                if let Some(LinkSlice::Ethernet2(e)) = &p.link {
                    mac = Some((e.source(), e.destination()));
                }
                p
            }
            Err(_) => return bad("frame shorter than an Ethernet header"),
        },
        linktype::NULL | linktype::LOOP => {
            if data.len() < 4 {
                return bad("frame shorter than the loopback header");
            }
            match LaxSlicedPacket::from_ip(&data[4..]) {
                Ok(p) => p,
                Err(_) => return bad("loopback frame does not carry a valid IP packet"),
            }
        }
        linktype::RAW | linktype::RAW_BSD12 | linktype::RAW_OPENBSD14 | linktype::IPV4 | linktype::IPV6 => {
            match LaxSlicedPacket::from_ip(data) {
                Ok(p) => p,
                Err(_) => return bad("raw frame is not a valid IP packet"),
            }
        }
        linktype::LINUX_SLL => {
            if data.len() < 16 {
                return bad("frame shorter than a Linux cooked (SLL) header");
            }
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([data[14], data[15]])), &data[16..])
        }
        linktype::LINUX_SLL2 => {
            if data.len() < 20 {
                return bad("frame shorter than a Linux cooked v2 (SLL2) header");
            }
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([data[0], data[1]])), &data[20..])
        }
        linktype::NFLOG => match nflog::nflog_payload(data).map(LaxSlicedPacket::from_ip) {
            Some(Ok(p)) => p,
            Some(Err(_)) => return bad("NFLOG record does not carry a valid IP packet"),
            None => return bad("NFLOG record without a packet"),
        },
        linktype::ARCNET_BSD | linktype::ARCNET_LINUX => match nflog::arcnet(data, link_type == linktype::ARCNET_LINUX) {
            Some(nflog::Arcnet::Ip(ip)) => match LaxSlicedPacket::from_ip(ip) {
                Ok(p) => p,
                Err(_) => return bad("ARCNET frame does not carry a valid IP packet"),
            },
            Some(nflog::Arcnet::Arp) => return Decoded { net: Ok(Net::Arp), mac: None, ip_len_exceeds_frame: false },
            Some(nflog::Arcnet::Other(p)) => {
                return Decoded { net: Ok(Net::OtherEther(u16::from(p))), mac: None, ip_len_exceeds_frame: false }
            }
            None => return bad("frame shorter than an ARCNET header"),
        },
        other => return Decoded { net: Err(Problem::UnsupportedLinkType(other)), mac: None, ip_len_exceeds_frame: false },
    };
    Decoded { net: net_of(&sliced, 0), mac, ip_len_exceeds_frame: false }
}

/// The network layer of a sliced packet, `depth` tunnels deep.
fn net_of<'a>(sliced: &LaxSlicedPacket<'a>, depth: u8) -> Result<Net<'a>, Problem> {
    // etherparse stops at PPPoE sessions and MPLS label stacks; unwrap them and go on from IP.
    if sliced.net.is_none() {
        if let Some(ep) = sliced.ether_payload() {
            if let Some(ip) = tunnelled_ip(ep.ether_type.0, ep.payload) {
                return match LaxSlicedPacket::from_ip(ip) {
                    Ok(inner) => from_sliced(&inner, depth),
                    Err(_) => Err(Problem::Malformed("invalid IP header inside PPPoE/MPLS")),
                };
            }
        }
    }
    from_sliced(sliced, depth)
}

/// The network layer inside a tunnel, or `None` when the inner bytes do not decode (the outer
/// packet is then kept as it is, as a port that only looks like VXLAN's may be any UDP).
fn tunnel_net(inner: tunnel::Inner<'_>, depth: u8) -> Option<Result<Net<'_>, Problem>> {
    if depth >= MAX_TUNNEL_DEPTH {
        return Some(Err(TOO_DEEP));
    }
    let sliced = match inner {
        tunnel::Inner::Ip(b) => LaxSlicedPacket::from_ip(b).ok()?,
        tunnel::Inner::Ethernet(b) => LaxSlicedPacket::from_ethernet(b).ok()?,
        tunnel::Inner::EtherType(t, b) => LaxSlicedPacket::from_ether_type(EtherType(t), b),
    };
    match net_of(&sliced, depth + 1) {
        Err(e) if e != TOO_DEEP => None,
        net => Some(net),
    }
}

const TOO_DEEP: Problem = Problem::Malformed("tunnels nested too deep");

/// The IP packet inside a PPPoE session frame or below an MPLS label stack, if there is one.
fn tunnelled_ip(ether_type: u16, payload: &[u8]) -> Option<&[u8]> {
    match ether_type {
        // PPPoE session: 6-byte header, then the 2-byte PPP protocol (0x0021 IPv4, 0x0057 IPv6).
        0x8864 => {
            let proto = u16::from_be_bytes([*payload.get(6)?, *payload.get(7)?]);
            matches!(proto, 0x0021 | 0x0057).then(|| &payload[8..])
        }
        // MPLS unicast/multicast: 4-byte labels until the bottom-of-stack bit.
        0x8847 | 0x8848 => {
            let mut i = 0;
            loop {
                let label = payload.get(i..i + 4)?;
                i += 4;
                if label[2] & 1 == 1 {
                    break;
                }
            }
            let rest = &payload[i..];
            matches!(rest.first()? >> 4, 4 | 6).then_some(rest)
        }
        _ => None,
    }
}

fn bad(why: &'static str) -> Decoded<'static> {
    Decoded { net: Err(Problem::Malformed(why)), mac: None, ip_len_exceeds_frame: false }
}

fn from_sliced<'a>(p: &LaxSlicedPacket<'a>, depth: u8) -> Result<Net<'a>, Problem> {
    let (src, dst, ip_payload) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (IpAddr::from(h.source()), IpAddr::from(h.destination()), v4.payload().clone())
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (IpAddr::from(h.source()), IpAddr::from(h.destination()), v6.payload().clone())
        }
        Some(LaxNetSlice::Arp(_)) => return Ok(Net::Arp),
        None => {
            // Non-IP ether types are data, not errors; a broken IP header is an error.
            if let Some((_, etherparse::err::Layer::Ipv4Header | etherparse::err::Layer::Ipv6Header)) = &p.stop_err {
                return Err(Problem::Malformed("invalid IP header"));
            }
            if let Some(ep) = p.ether_payload() {
                let et = ep.ether_type.0;
                if et == 0x0800 || et == 0x86dd {
                    return Err(Problem::Malformed("invalid IP header"));
                }
                return Ok(Net::OtherEther(et));
            }
            return Err(Problem::Malformed("no network layer"));
        }
    };
    let proto = ip_payload.ip_number.0;
    if ip_payload.fragmented {
        let transport = Transport::Fragment(fragment_of(p, &ip_payload).ok_or(Problem::Malformed("invalid IP fragment header"))?);
        return Ok(Net::Ip { src, dst, transport });
    }
    if let Some(net) = tunnel::inner(proto, ip_payload.payload).and_then(|i| tunnel_net(i, depth)) {
        return net;
    }
    let transport = match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            let hdr = t.header_slice().len();
            // Segment length from the IP header: for a snaplen-cut frame this is larger than
            // what we captured. With the length taken from the slice itself, they agree.
            let claimed = if ip_payload.incomplete {
                claimed_ip_payload_len(p).unwrap_or(ip_payload.payload.len())
            } else {
                ip_payload.payload.len()
            };
            Transport::Tcp(TcpSeg {
                sport: t.source_port(),
                dport: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: t.header_slice()[13],
                window: t.window_size(),
                options: TcpOptions::parse(&t.header_slice()[20..]),
                seg_len: claimed.saturating_sub(hdr) as u32,
                payload: t.payload(),
            })
        }
        Some(TransportSlice::Udp(u)) => Transport::Udp { sport: u.source_port(), dport: u.destination_port(), len: u.length() },
        Some(TransportSlice::Icmpv4(i)) => {
            let b = i.slice();
            // Errors: destination unreachable, source quench, redirect, time exceeded, parameter problem.
            let is_error = matches!(b[0], 3 | 4 | 5 | 11 | 12);
            let quoted_tcp = if is_error { quoted_tcp(i.payload()) } else { None };
            Transport::Icmp { v6: false, kind: b[0], code: b[1], quoted_tcp }
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let b = i.slice();
            // Errors are types 1-4 (unreachable, too big, time exceeded, parameter problem).
            let quoted_tcp = if (1..=4).contains(&b[0]) { quoted_tcp(i.payload()) } else { None };
            Transport::Icmp { v6: true, kind: b[0], code: b[1], quoted_tcp }
        }
        _ if proto == 6 || proto == 17 => Transport::Broken(proto),
        _ => Transport::Other(proto),
    };
    Ok(Net::Ip { src, dst, transport })
}

/// Endpoints of a TCP segment quoted in an ICMP error, when at least 12 bytes of its header
/// are there (Wireshark stops before its connection lookup with fewer).
fn quoted_tcp(quote: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let inner = LaxSlicedPacket::from_ip(quote).ok()?;
    let (src, dst, payload) = match &inner.net {
        Some(LaxNetSlice::Ipv4(v4)) => (IpAddr::from(v4.header().source()), IpAddr::from(v4.header().destination()), v4.payload().clone()),
        Some(LaxNetSlice::Ipv6(v6)) => (IpAddr::from(v6.header().source()), IpAddr::from(v6.header().destination()), v6.payload().clone()),
        _ => return None,
    };
    if payload.ip_number.0 != 6 || payload.fragmented || payload.payload.len() < 12 {
        return None;
    }
    let t = payload.payload;
    let sport = u16::from_be_bytes([t[0], t[1]]);
    let dport = u16::from_be_bytes([t[2], t[3]]);
    Some((SocketAddr::new(src, sport), SocketAddr::new(dst, dport)))
}

/// The fragment fields of a fragmented IP payload.
fn fragment_of<'a>(p: &LaxSlicedPacket<'a>, payload: &etherparse::LaxIpPayloadSlice<'a>) -> Option<Frag<'a>> {
    let (v6, id, offset, more) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (false, u32::from(h.identification()), h.fragments_offset().value(), h.more_fragments())
        }
        Some(LaxNetSlice::Ipv6(v6)) => v6.extensions().clone().into_iter().find_map(|e| match e {
            etherparse::Ipv6ExtensionSlice::Fragment(f) => Some((true, f.identification(), f.fragment_offset().value(), f.more_fragments())),
            _ => None,
        })?,
        _ => return None,
    };
    Some(Frag { proto: payload.ip_number.0, v6, id, offset: u32::from(offset) * 8, more, data: payload.payload, truncated: payload.incomplete })
}

/// IP payload length according to the IP header, for frames cut short by the snaplen.
fn claimed_ip_payload_len(p: &LaxSlicedPacket<'_>) -> Option<usize> {
    match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (h.total_len() as usize).checked_sub(h.slice().len() + v4.extensions().auth.map_or(0, |a| a.slice().len()))
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (h.payload_length() as usize).checked_sub(v6.extensions().slice().len())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 65535)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn carried_names_the_innermost_protocol() {
        let f = tcp_frame(b"");
        assert_eq!(decode(linktype::ETHERNET, &f).carried(), Carried::Tcp);
        let mut other = f.clone();
        other[14 + 9] = 97;
        assert_eq!(decode(linktype::ETHERNET, &other).carried(), Carried::Ipv4);
        let mut cut_udp = f.clone();
        cut_udp[14 + 9] = 17;
        cut_udp.truncate(14 + 20 + 4);
        assert_eq!(decode(linktype::ETHERNET, &cut_udp).carried(), Carried::Udp);
        let mut lldp = f.clone();
        lldp[12..14].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(decode(linktype::ETHERNET, &lldp).carried(), Carried::Ether(0x88cc));
        assert_eq!(decode(linktype::ETHERNET, &[0; 5]).carried(), Carried::Malformed);
        assert_eq!(decode(9999, &f).carried(), Carried::Link(9999));
    }

    #[test]
    fn ethernet_tcp() {
        let f = tcp_frame(b"hello");
        let d = decode(linktype::ETHERNET, &f);
        let Ok(Net::Ip { src, transport: Transport::Tcp(t), .. }) = d.net else { panic!("{:?}", d.net) };
        assert_eq!(src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!((t.sport, t.dport, t.seq, t.seg_len), (1234, 80, 1000, 5));
        assert!(t.has(flags::SYN) && !t.has(flags::ACK));
        assert_eq!(t.payload, b"hello");
    }

    #[test]
    fn snaplen_cut_keeps_claimed_length() {
        let f = tcp_frame(&[7u8; 100]);
        let d = decode(linktype::ETHERNET, &f[..f.len() - 60]);
        let Ok(Net::Ip { transport: Transport::Tcp(t), .. }) = d.net else { panic!("{:?}", d.net) };
        assert_eq!(t.seg_len, 100);
        assert_eq!(t.payload.len(), 40);
    }

    #[test]
    fn null_sll_sll2_raw() {
        let f = tcp_frame(b"x");
        let ip = &f[14..];
        let mut null = vec![2, 0, 0, 0];
        null.extend(ip);
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend([0u8; 18]);
        sll2.extend(ip);
        for (lt, data) in [(linktype::NULL, &null[..]), (linktype::LINUX_SLL, &sll), (linktype::LINUX_SLL2, &sll2), (linktype::RAW, ip), (linktype::IPV4, ip)] {
            let d = decode(lt, data);
            assert!(matches!(d.net, Ok(Net::Ip { transport: Transport::Tcp(_), .. })), "link type {lt}: {:?}", d.net);
        }
    }

    #[test]
    fn pppoe_and_mpls_are_unwrapped() {
        let f = tcp_frame(b"x");
        let ip = &f[14..];
        let mut pppoe = f[..12].to_vec();
        pppoe.extend([0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x21]);
        pppoe.extend(ip);
        let mut mpls = f[..12].to_vec();
        mpls.extend([0x88, 0x47, 0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]);
        mpls.extend(ip);
        for frame in [pppoe, mpls] {
            let d = decode(linktype::ETHERNET, &frame);
            assert!(matches!(d.net, Ok(Net::Ip { transport: Transport::Tcp(_), .. })), "{:?}", d.net);
        }
    }

    #[test]
    fn icmp_error_quoting_tcp() {
        let quoted = tcp_frame(b"")[14..].to_vec();
        let icmp = |quote: &[u8]| {
            let b = PacketBuilder::ipv4([10, 0, 0, 9], [10, 0, 0, 1], 64).icmpv4_raw(3, 1, [0; 4]);
            let mut v = Vec::new();
            b.write(&mut v, quote).unwrap();
            v
        };
        let full = icmp(&quoted);
        let Ok(Net::Ip { transport: Transport::Icmp { quoted_tcp: Some((s, d)), .. }, .. }) = decode(linktype::RAW, &full).net else {
            panic!()
        };
        assert_eq!((s.port(), d.port()), (1234, 80));
        // IP header + only 8 bytes of TCP: Wireshark makes no stream of it, nor do we.
        let short = icmp(&quoted[..28]);
        assert!(matches!(decode(linktype::RAW, &short).net, Ok(Net::Ip { transport: Transport::Icmp { quoted_tcp: None, .. }, .. })));
    }

    /// An IPv4 packet from 192.0.2.1 to 192.0.2.2 carrying `payload` as protocol `proto`.
    fn outer_v4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64);
        let mut v = Vec::new();
        b.write(&mut v, etherparse::IpNumber(proto), payload).unwrap();
        v
    }

    fn inner_tcp(d: &Decoded<'_>) -> (IpAddr, u16, usize) {
        let Ok(Net::Ip { src, transport: Transport::Tcp(t), .. }) = d.net else { panic!("{:?}", d.net) };
        (src, t.dport, t.payload.len())
    }

    #[test]
    fn tunnels_are_unwrapped_to_the_inner_tcp() {
        let eth = tcp_frame(b"hi");
        let ip = &eth[14..];
        let inner = (IpAddr::from([10, 0, 0, 1]), 80, 2);
        // IPv4-in-IPv4.
        assert_eq!(inner_tcp(&decode(linktype::RAW, &outer_v4(4, ip))), inner);
        // GRE with key and sequence number, transparent Ethernet bridging.
        let mut gre = vec![0x30, 0x00, 0x65, 0x58, 0, 0, 0, 7, 0, 0, 0, 1];
        gre.extend(&eth);
        assert_eq!(inner_tcp(&decode(linktype::RAW, &outer_v4(47, &gre))), inner);
        // VXLAN over UDP 4789, inside an Ethernet frame.
        let mut vx = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64).udp(40000, tunnel::VXLAN_PORT);
        let mut body = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        body.extend(&eth);
        let mut frame = Vec::new();
        vx.write(&mut frame, &body).unwrap();
        let d = decode(linktype::ETHERNET, &frame);
        assert_eq!(inner_tcp(&d), inner);
        assert_eq!(d.mac, Some(([1; 6], [2; 6])), "the outer link addresses stay");
        // Geneve over UDP 6081 carrying IPv4 directly.
        vx = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64).udp(40000, tunnel::GENEVE_PORT);
        let mut body = vec![0x00, 0, 0x08, 0x00, 0, 0, 42, 0];
        body.extend(ip);
        frame.clear();
        vx.write(&mut frame, &body).unwrap();
        assert_eq!(inner_tcp(&decode(linktype::ETHERNET, &frame)), inner);
        // IPv4 inside IPv6 (ip6tnl), and IPv6 inside IPv4 (sit).
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).write(&mut v6, etherparse::IpNumber(4), ip).unwrap();
        assert_eq!(inner_tcp(&decode(linktype::RAW, &v6)), inner);
        let mut tcp6 = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).tcp(1, 80, 0, 100).write(&mut tcp6, b"abc").unwrap();
        assert_eq!(inner_tcp(&decode(linktype::RAW, &outer_v4(41, &tcp6))), (IpAddr::from([0xfd; 16]), 80, 3));
    }

    #[test]
    fn tunnel_nesting_is_bounded_and_bad_inner_bytes_keep_the_outer_packet() {
        let mut p = tcp_frame(b"x")[14..].to_vec();
        for _ in 0..MAX_TUNNEL_DEPTH {
            p = outer_v4(4, &p);
        }
        assert!(matches!(decode(linktype::RAW, &p).net, Ok(Net::Ip { transport: Transport::Tcp(_), .. })));
        let deeper = outer_v4(4, &p);
        assert_eq!(decode(linktype::RAW, &deeper).net.unwrap_err(), Problem::Malformed("tunnels nested too deep"));
        // GRE announcing IPv4 but carrying garbage: the outer packet, protocol 47.
        let gre = outer_v4(47, &[0, 0, 0x08, 0x00, 0xff, 0xff]);
        assert!(matches!(decode(linktype::RAW, &gre).net, Ok(Net::Ip { transport: Transport::Other(47), .. })));
    }

    #[test]
    fn ip_length_beyond_the_frame_is_not_a_snaplen_cut() {
        let mut f = tcp_frame(&[7u8; 100]);
        let n = f.len() - 60;
        f.truncate(n);
        // Captured whole (orig_len == captured): the segment is what the frame holds.
        let d = decode_frame(linktype::ETHERNET, &f, n as u32);
        let Ok(Net::Ip { transport: Transport::Tcp(t), .. }) = d.net else { panic!() };
        assert_eq!((t.seg_len, t.payload.len(), d.ip_len_exceeds_frame), (40, 40, true));
        // Cut by the snaplen (the wire frame was whole): the claimed length stands.
        let d = decode_frame(linktype::ETHERNET, &f, n as u32 + 60);
        let Ok(Net::Ip { transport: Transport::Tcp(t), .. }) = d.net else { panic!() };
        assert_eq!((t.seg_len, t.payload.len(), d.ip_len_exceeds_frame), (100, 40, false));
        // Both: a 10-byte cut of a frame that itself lacks 50 of the claimed bytes.
        let d = decode_frame(linktype::ETHERNET, &f, n as u32 + 10);
        let Ok(Net::Ip { transport: Transport::Tcp(t), .. }) = d.net else { panic!() };
        assert_eq!((t.seg_len, t.payload.len(), d.ip_len_exceeds_frame), (50, 40, true));
    }

    #[test]
    fn fragments_carry_their_fields() {
        // IPv4: ID 0x1234, offset 185 * 8, more fragments, protocol TCP.
        let mut v4 = outer_v4(6, &[9; 16]);
        v4[4..8].copy_from_slice(&[0x12, 0x34, 0x20, 185]);
        let Ok(Net::Ip { transport: Transport::Fragment(f), .. }) = decode(linktype::RAW, &v4).net else { panic!() };
        assert_eq!((f.proto, f.v6, f.id, f.offset, f.more, f.data.len(), f.truncated), (6, false, 0x1234, 1480, true, 16, false));
        let Ok(Net::Ip { transport: Transport::Fragment(f), .. }) = decode(linktype::RAW, &v4[..30]).net else { panic!() };
        assert!(f.truncated);
        // IPv6 fragment header: next header TCP, offset 2 * 8, last, ID 0xdeadbeef.
        let mut v6 = Vec::new();
        let frag = [6, 0, 0x00, 0x10, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3];
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).write(&mut v6, etherparse::IpNumber(44), &frag).unwrap();
        let Ok(Net::Ip { transport: Transport::Fragment(f), .. }) = decode(linktype::RAW, &v6).net else { panic!() };
        assert_eq!((f.proto, f.v6, f.id, f.offset, f.more, f.data), (6, true, 0xdead_beef, 16, false, &[1, 2, 3][..]));
        // A rebuilt datagram decodes like any IP packet.
        let whole = fragment::datagram(IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]), 6, &tcp_frame(b"ab")[34..]);
        assert!(matches!(decode_ip(&whole), Ok(Net::Ip { transport: Transport::Tcp(TcpSeg { seg_len: 2, .. }), .. })));
    }

    #[test]
    fn nflog_and_arcnet_link_types() {
        let ip = &tcp_frame(b"x")[14..];
        let mut nflog = vec![2, 0, 0, 5, 8, 0, 1, 0, 0x08, 0, 3, 0];
        nflog.extend(((4 + ip.len()) as u16).to_le_bytes());
        nflog.extend([9, 0]);
        nflog.extend(ip);
        assert!(matches!(decode(linktype::NFLOG, &nflog).net, Ok(Net::Ip { transport: Transport::Tcp(_), .. })));
        let mut arc = vec![0xbe, 0x50, 0, 0, 0xd4, 0, 0, 1];
        arc.extend(ip);
        assert!(matches!(decode(linktype::ARCNET_LINUX, &arc).net, Ok(Net::Ip { transport: Transport::Tcp(_), .. })));
        assert!(matches!(decode(linktype::NFLOG, &nflog[..10]).net, Err(Problem::Malformed(_))));
    }

    #[test]
    fn garbage_inside_tunnels_is_not_a_panic() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        for n in 0..400 {
            let body: Vec<u8> = (0..n % 90).map(|_| next()).collect();
            for (proto, head) in [(4u8, &[][..]), (41, &[]), (47, &[0, 0, 0x65, 0x58]), (47, &[0xb0, 0, 0x08, 0x00]), (17, &[0x12, 0xb5, 0x12, 0xb5, 0, 0, 0, 0]), (17, &[0x17, 0xc1, 0x17, 0xc1, 0, 0, 0, 0])] {
                let p = [head, &body[..]].concat();
                let _ = decode(linktype::RAW, &outer_v4(proto, &p));
            }
        }
    }

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        for lt in [0, 1, 7, 12, 14, 101, 108, 113, 129, 228, 229, 239, 276, 253, 9999] {
            for n in 0..64 {
                let data: Vec<u8> = (0..n).map(|i| (i * 37 + lt as usize) as u8).collect();
                let _ = decode(lt, &data);
            }
        }
        assert_eq!(decode(253, &[1, 2, 3]).net.unwrap_err(), Problem::UnsupportedLinkType(253));
    }
}
