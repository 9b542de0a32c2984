//! LINKTYPE_* numbers wirelab decodes, and their names as Wireshark/tcpdump print them.

pub const NULL: u32 = 0;
pub const ETHERNET: u32 = 1;
pub const ARCNET_BSD: u32 = 7;
pub const RAW_BSD12: u32 = 12;
pub const RAW_OPENBSD14: u32 = 14;
pub const RAW: u32 = 101;
pub const LOOP: u32 = 108;
pub const LINUX_SLL: u32 = 113;
pub const ARCNET_LINUX: u32 = 129;
pub const NFLOG: u32 = 239;
pub const IPV4: u32 = 228;
pub const IPV6: u32 = 229;
pub const LINUX_SLL2: u32 = 276;

/// A short name for a link type, e.g. `EN10MB` for Ethernet.
pub fn name(lt: u32) -> String {
    match lt {
        NULL => "NULL".into(),
        ETHERNET => "EN10MB".into(),
        RAW_BSD12 | RAW_OPENBSD14 | RAW => "RAW".into(),
        LOOP => "LOOP".into(),
        LINUX_SLL => "LINUX_SLL".into(),
        IPV4 => "IPV4".into(),
        IPV6 => "IPV6".into(),
        LINUX_SLL2 => "LINUX_SLL2".into(),
        ARCNET_BSD => "ARCNET_BSD".into(),
        ARCNET_LINUX => "ARCNET_LINUX".into(),
        NFLOG => "NFLOG".into(),
        105 => "IEEE802_11".into(),
        127 => "IEEE802_11_RADIOTAP".into(),
        253 => "NETLINK".into(),
        n => format!("LINKTYPE_{n}"),
    }
}

/// Whether wirelab decodes frames of this link type.
pub fn supported(lt: u32) -> bool {
    matches!(lt, NULL | ETHERNET | RAW_BSD12 | RAW_OPENBSD14 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2 | ARCNET_BSD | ARCNET_LINUX | NFLOG)
}
