//! Tunnel encapsulations (pure): where the inner packet of a VXLAN, Geneve, GRE, IP-in-IP or
//! IPv6-in-IP packet starts, and what kind of header it starts with.
//!
//! Each function checks every length before it slices, and returns `None` when the bytes are
//! not a tunnel header it understands; the caller then keeps the outer packet as it is.

/// VXLAN's IANA UDP port (RFC 7348), as Wireshark registers it.
pub const VXLAN_PORT: u16 = 4789;
/// Geneve's IANA UDP port (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;
/// Ether type of transparent Ethernet bridging (an Ethernet frame inside GRE or Geneve).
pub const ETHER_BRIDGING: u16 = 0x6558;

/// The start of an encapsulated packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An IPv4 or IPv6 packet (the version nibble tells which).
    Ip(&'a [u8]),
    /// An Ethernet II frame.
    Ethernet(&'a [u8]),
    /// A payload of this ether type (IPv4, IPv6, MPLS, ...), without a link header.
    EtherType(u16, &'a [u8]),
}

/// The inner packet of an IP payload of protocol `proto`, if it is a tunnel.
pub fn inner(proto: u8, payload: &[u8]) -> Option<Inner<'_>> {
    match proto {
        // IPv4-in-IP (RFC 2003) and IPv6-in-IP (RFC 2473 / RFC 4213, "sit").
        4 | 41 => Some(Inner::Ip(payload)),
        47 => gre(payload),
        17 => udp(payload),
        _ => None,
    }
}

/// A UDP datagram (header included) on the VXLAN or Geneve port, either side.
fn udp(datagram: &[u8]) -> Option<Inner<'_>> {
    let h = datagram.get(..8)?;
    let (sport, dport) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
    // The UDP length bounds the payload (an Ethernet trailer may follow it).
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let end = if len >= 8 { len.min(datagram.len()) } else { datagram.len() };
    let payload = &datagram[8..end];
    let on = |p: u16| sport == p || dport == p;
    if on(VXLAN_PORT) {
        vxlan(payload)
    } else if on(GENEVE_PORT) {
        geneve(payload)
    } else {
        None
    }
}

/// VXLAN (RFC 7348): 8 bytes (flags, reserved, 24-bit VNI, reserved), then an Ethernet frame.
pub fn vxlan(payload: &[u8]) -> Option<Inner<'_>> {
    Some(Inner::Ethernet(payload.get(8..)?))
}

/// Geneve (RFC 8926): version 0, 8 bytes plus `opt_len` 4-byte words of options, then a payload
/// of the header's protocol type.
pub fn geneve(payload: &[u8]) -> Option<Inner<'_>> {
    let h = payload.get(..8)?;
    if h[0] >> 6 != 0 {
        return None;
    }
    let len = 8 + usize::from(h[0] & 0x3f) * 4;
    let proto = u16::from_be_bytes([h[2], h[3]]);
    by_ether_type(proto, payload.get(len..)?)
}

/// GRE (RFC 2784 with the key and sequence number of RFC 2890), version 0: 4 bytes, then 4 more
/// for each of checksum, key and sequence number that the flags announce.
pub fn gre(payload: &[u8]) -> Option<Inner<'_>> {
    let h = payload.get(..4)?;
    let (flags, version) = (h[0], h[1] & 0x07);
    // Version 1 is PPTP's enhanced GRE (PPP inside); source routing (R, RFC 1701) is obsolete.
    if version != 0 || flags & 0x40 != 0 {
        return None;
    }
    let options = [0x80u8, 0x20, 0x10].iter().filter(|&&bit| flags & bit != 0).count();
    let proto = u16::from_be_bytes([h[2], h[3]]);
    by_ether_type(proto, payload.get(4 + 4 * options..)?)
}

fn by_ether_type(proto: u16, rest: &[u8]) -> Option<Inner<'_>> {
    match proto {
        ETHER_BRIDGING => Some(Inner::Ethernet(rest)),
        0x0800 | 0x86dd => Some(Inner::Ip(rest)),
        0x8847 | 0x8848 => Some(Inner::EtherType(proto, rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &[u8] = &[0x45, 0, 0, 20];

    #[test]
    fn ip_in_ip() {
        assert_eq!(inner(4, IP), Some(Inner::Ip(IP)));
        assert_eq!(inner(41, &[0x60, 0]), Some(Inner::Ip(&[0x60, 0][..])));
        assert_eq!(inner(6, IP), None);
    }

    #[test]
    fn gre_plain_and_with_options() {
        assert_eq!(gre(&[0, 0, 0x08, 0x00, 0x45]), Some(Inner::Ip(&[0x45][..])));
        // Checksum (+reserved), key and sequence number: 12 option bytes.
        let mut f = vec![0xb0, 0x00, 0x65, 0x58];
        f.extend([0xaa; 12]);
        f.extend([1, 2, 3]);
        assert_eq!(gre(&f), Some(Inner::Ethernet(&[1, 2, 3][..])));
        // Key only.
        assert_eq!(gre(&[0x20, 0, 0x86, 0xdd, 0, 0, 0, 7, 0x60]), Some(Inner::Ip(&[0x60][..])));
        // Options announced but cut off; version 1 (PPTP); routing; unknown protocol.
        assert_eq!(gre(&[0xb0, 0, 0x08, 0x00, 0, 0, 0]), None);
        assert_eq!(gre(&[0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(gre(&[0x40, 0, 0x08, 0x00, 0, 0, 0, 0]), None);
        assert_eq!(gre(&[0, 0, 0x12, 0x34]), None);
        assert_eq!(gre(&[0, 0, 0x08]), None);
    }

    #[test]
    fn vxlan_over_udp_either_port() {
        let mut d = vec![0xc0, 0x01, 0x12, 0xb5, 0, 19, 0, 0, 0x08, 0, 0, 0, 0, 0, 1, 0];
        d.extend([0xee, 0xee, 0xee]);
        assert_eq!(inner(17, &d), Some(Inner::Ethernet(&[0xee, 0xee, 0xee][..])));
        d[..4].copy_from_slice(&[0x12, 0xb5, 0xc0, 0x01]);
        assert!(inner(17, &d).is_some());
        // The UDP length bounds the payload: trailing bytes are not part of the inner frame.
        d.push(0);
        assert_eq!(inner(17, &d), Some(Inner::Ethernet(&[0xee, 0xee, 0xee][..])));
        d[..4].copy_from_slice(&[0xc0, 0x01, 0x00, 0x35]);
        assert_eq!(inner(17, &d), None);
        assert_eq!(inner(17, &d[..7]), None);
        assert_eq!(vxlan(&[0; 7]), None);
    }

    #[test]
    fn geneve_with_options() {
        // opt_len 2 (8 option bytes), protocol 0x6558.
        let mut g = vec![0x02, 0x00, 0x65, 0x58, 0, 0, 5, 0];
        g.extend([0x11; 8]);
        g.extend([0xee]);
        assert_eq!(geneve(&g), Some(Inner::Ethernet(&[0xee][..])));
        g[3] = 0x00; // 0x6500: unknown
        assert_eq!(geneve(&g), None);
        assert_eq!(geneve(&[0x40, 0, 0x65, 0x58, 0, 0, 0, 0]), None); // version 1
        assert_eq!(geneve(&[0x3f, 0, 0x08, 0x00, 0, 0, 0, 0]), None); // options longer than the packet
    }
}
