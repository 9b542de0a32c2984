//! Frame decoding: link type + bytes in, a typed view of the IP/TCP/UDP layers out (pure, no I/O).
//!
//! Built on etherparse's lax slicers, so frames cut short by the snaplen still decode as far as
//! they go. Everything that cannot be decoded comes back as a [`Problem`] for the anomalies table.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

pub mod anomaly;
pub mod linktype;
pub mod tcp_options;

pub use anomaly::AnomalyKind;
pub use tcp_options::{TcpOption, TcpOptions};

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
    /// IP fragment whose transport header is not in this frame.
    Fragment(u8),
    /// IP header fine but the transport header was cut off or invalid.
    Broken(u8),
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
        other => return Decoded { net: Err(Problem::UnsupportedLinkType(other)), mac: None },
    };
    // etherparse stops at PPPoE sessions and MPLS label stacks; unwrap them and go on from IP.
    if sliced.net.is_none() {
        if let Some(ep) = sliced.ether_payload() {
            if let Some(ip) = tunnelled_ip(ep.ether_type.0, ep.payload) {
                return match LaxSlicedPacket::from_ip(ip) {
                    Ok(inner) => Decoded { net: from_sliced(&inner), mac },
                    Err(_) => Decoded { net: Err(Problem::Malformed("invalid IP header inside PPPoE/MPLS")), mac },
                };
            }
        }
    }
    Decoded { net: from_sliced(&sliced), mac }
}

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
    Decoded { net: Err(Problem::Malformed(why)), mac: None }
}

fn from_sliced<'a>(p: &LaxSlicedPacket<'a>) -> Result<Net<'a>, Problem> {
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
        _ if ip_payload.fragmented => Transport::Fragment(proto),
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

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 253, 9999] {
            for n in 0..64 {
                let data: Vec<u8> = (0..n).map(|i| (i * 37 + lt as usize) as u8).collect();
                let _ = decode(lt, &data);
            }
        }
        assert_eq!(decode(253, &[1, 2, 3]).net.unwrap_err(), Problem::UnsupportedLinkType(253));
    }
}
