//! Linux NFLOG (LINKTYPE_NFLOG, 239) and ARCNET (LINKTYPE_ARCNET_BSD 7, LINKTYPE_ARCNET_LINUX
//! 129) link headers (pure): where the network-layer packet starts.

/// NFLOG TLV type of the logged packet, starting at its network header.
const NFULA_PAYLOAD: u16 = 9;

/// The logged packet of an NFLOG record: a 4-byte header (address family, version 0, resource
/// id), then TLVs of (length, type) padded to 4 bytes. Length and type are in the byte order of
/// the host that captured; like Wireshark, the order that makes the first TLV's length
/// consistent wins (little-endian first, the common case).
pub fn nflog_payload(data: &[u8]) -> Option<&[u8]> {
    if data.len() < 4 || data[1] != 0 {
        return None;
    }
    let tlvs = &data[4..];
    let first = tlvs.get(..2)?;
    let fits = |len: usize| len >= 4 && len <= tlvs.len();
    let le = fits(usize::from(u16::from_le_bytes([first[0], first[1]])));
    let be = fits(usize::from(u16::from_be_bytes([first[0], first[1]])));
    if !le && !be {
        return None;
    }
    let read = |b: [u8; 2]| if le { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) };
    let mut at = 0usize;
    while let Some(h) = tlvs.get(at..at + 4) {
        let len = usize::from(read([h[0], h[1]]));
        let kind = read([h[2], h[3]]) & 0x7fff; // without NLA_F_NESTED
        if len < 4 {
            return None;
        }
        let value = tlvs.get(at + 4..at + len)?;
        if kind == NFULA_PAYLOAD {
            return Some(value);
        }
        at += (len + 3) & !3;
    }
    None
}

/// What an ARCNET frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arcnet<'a> {
    Ip(&'a [u8]),
    Arp,
    Other(u8),
}

/// The payload of an ARCNET frame: source and destination (1 byte each), on Linux a 2-byte
/// offset, then the protocol ID. RFC 1201 protocols (IPv4 0xd4, ARP 0xd5, RARP 0xd6, IPv6 0xc4)
/// add a split flag (and, for an exception packet with flag 0xff, 4 more bytes) and a 2-byte
/// sequence number; RFC 1051 ones (IPv4 0xf0, ARP 0xf1) add nothing.
pub fn arcnet(data: &[u8], linux: bool) -> Option<Arcnet<'_>> {
    let mut at = if linux { 4 } else { 2 };
    let proto = *data.get(at)?;
    at += 1;
    if matches!(proto, 0xd4 | 0xd5 | 0xd6 | 0xc4) {
        if *data.get(at)? == 0xff {
            at += 4;
        }
        at += 3;
    }
    let rest = data.get(at..)?;
    Some(match proto {
        0xd4 | 0xf0 | 0xc4 => Arcnet::Ip(rest),
        0xd5 | 0xd6 | 0xf1 => Arcnet::Arp,
        p => Arcnet::Other(p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nflog_finds_the_payload_tlv_in_either_byte_order() {
        // AF_INET, v0, res 0; TLV prefix (len 8, type 1) then payload (len 6, type 9) + padding.
        let le = [2, 0, 0, 0, 8, 0, 1, 0, 0x08, 0, 0, 0, 6, 0, 9, 0, 0x45, 0x00, 0, 0];
        assert_eq!(nflog_payload(&le), Some(&[0x45, 0x00][..]));
        let be = [2, 0, 0, 0, 0, 8, 0, 1, 0x08, 0, 0, 0, 0, 6, 0, 9, 0x45, 0x00, 0, 0];
        assert_eq!(nflog_payload(&be), Some(&[0x45, 0x00][..]));
    }

    #[test]
    fn nflog_rejects_bad_records() {
        assert_eq!(nflog_payload(&[2, 0, 0]), None);
        assert_eq!(nflog_payload(&[2, 1, 0, 0, 8, 0, 9, 0, 1, 2, 3, 4]), None); // version 1
        assert_eq!(nflog_payload(&[2, 0, 0, 0, 2, 0, 9, 0]), None); // length < 4
        assert_eq!(nflog_payload(&[2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0]), None); // no payload TLV
        assert_eq!(nflog_payload(&[2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 40, 0, 9, 0, 1]), None); // cut
    }

    #[test]
    fn arcnet_rfc1201_and_rfc1051() {
        let linux = [0xbe, 0x50, 0xa8, 0xe7, 0xd4, 0x00, 0x01, 0x66, 0x45, 0x00];
        assert_eq!(arcnet(&linux, true), Some(Arcnet::Ip(&[0x45, 0x00][..])));
        let exception = [0xbe, 0x50, 0xd4, 0xff, 0, 0, 0xd4, 0, 0, 1, 0x45];
        assert_eq!(arcnet(&exception, false), Some(Arcnet::Ip(&[0x45][..])));
        assert_eq!(arcnet(&[1, 2, 0xf0, 0x45], false), Some(Arcnet::Ip(&[0x45][..])));
        assert_eq!(arcnet(&[1, 2, 0, 0, 0xd5, 0, 0, 1, 0], true), Some(Arcnet::Arp));
        assert_eq!(arcnet(&[1, 2, 0x99], false), Some(Arcnet::Other(0x99)));
        assert_eq!(arcnet(&[1, 2, 0, 0, 0xd4, 0], true), None);
        assert_eq!(arcnet(&[1], false), None);
    }
}
