//! IPv4 and IPv6 fragment reassembly: stateful but I/O-free, bounded in memory and in time.
//!
//! Fragments are pushed in capture order with their capture time; the fragment that completes
//! a datagram gets the whole datagram back (as tshark attributes the reassembled payload to the
//! frame that completes it), rebuilt as one unfragmented IP packet for the decoder.
//!
//! - Overlaps: the first bytes received win (as in the TCP reassembler); later copies of the
//!   same range only fill what is still missing.
//! - Bounds: at most [`Limits::max_datagrams`] datagrams in flight and [`Limits::max_bytes`]
//!   buffered; a datagram never exceeds the 65,535 bytes that IP allows. A fragment that would
//!   break a bound is dropped with its datagram and counted.
//! - Time: a datagram still incomplete [`Limits::timeout_ns`] after its first fragment (30 s
//!   of capture time, Linux's `ipfrag_time`) is discarded and counted.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::{AnomalyKind, Frag, Net, Problem, Transport};

/// Bounds of a [`Reassembler`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout_ns: i128,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_datagrams: 4096, max_bytes: 16 << 20, timeout_ns: 30_000_000_000 }
    }
}

/// What became of a pushed fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Held until the rest of its datagram arrives.
    Held,
    /// It completed its datagram: the whole IP packet, unfragmented.
    Complete(Vec<u8>),
    /// Dropped (its datagram too): see the reassembler's anomalies.
    Dropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
}

struct Pending {
    first_ns: i128,
    data: Vec<u8>,
    /// Received byte ranges, sorted and disjoint.
    have: Vec<(usize, usize)>,
    /// Known once the last fragment (more-fragments clear) arrived.
    total: Option<usize>,
}

/// The largest IP payload a reassembled datagram may have.
const MAX_PAYLOAD_V4: usize = 65535 - 20;
const MAX_PAYLOAD_V6: usize = 65535;

/// Reassembles IP fragments; see the module documentation.
pub struct Reassembler {
    limits: Limits,
    pending: HashMap<Key, Pending>,
    /// Keys in order of their first fragment, for expiry (stale entries are skipped).
    order: VecDeque<(i128, Key)>,
    bytes: usize,
    /// Anomalies since the last drain: (kind, detail).
    pub anomalies: Vec<(AnomalyKind, String)>,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Reassembler {
    pub fn new(limits: Limits) -> Self {
        Reassembler { limits, pending: HashMap::new(), order: VecDeque::new(), bytes: 0, anomalies: Vec::new() }
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Bytes buffered.
    pub fn buffered(&self) -> usize {
        self.bytes
    }

    /// Pushes one fragment of the datagram from `src` to `dst`, seen at `ts_ns`.
    pub fn push(&mut self, src: IpAddr, dst: IpAddr, f: &Frag<'_>, ts_ns: i128) -> Outcome {
        self.expire(ts_ns);
        let key = Key { src, dst, proto: if f.v6 { 0 } else { f.proto }, id: f.id };
        if f.truncated {
            self.drop_key(&key);
            self.note(AnomalyKind::IpFragmentTruncated, format!("IP fragment (ID {:#x}) cut short by the snapshot length; its datagram is not reassembled", f.id));
            return Outcome::Dropped;
        }
        let start = f.offset as usize;
        let end = start + f.data.len();
        let max = if f.v6 { MAX_PAYLOAD_V6 } else { MAX_PAYLOAD_V4 };
        if end > max || (f.more && !f.data.len().is_multiple_of(8)) {
            self.drop_key(&key);
            self.note(AnomalyKind::IpFragmentInvalid, format!("IP fragment (ID {:#x}) ends at byte {end} or is not a multiple of 8 bytes", f.id));
            return Outcome::Dropped;
        }
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.limits.max_datagrams {
                self.note(AnomalyKind::IpFragmentOverflow, format!("more than {} IP datagrams in reassembly at once; fragment dropped", self.limits.max_datagrams));
                return Outcome::Dropped;
            }
            self.pending.insert(key, Pending { first_ns: ts_ns, data: Vec::new(), have: Vec::new(), total: None });
            self.order.push_back((ts_ns, key));
        }
        let p = self.pending.get_mut(&key).expect("inserted above");
        let grow = end.saturating_sub(p.data.len());
        if self.bytes + grow > self.limits.max_bytes {
            self.drop_key(&key);
            self.note(AnomalyKind::IpFragmentOverflow, format!("IP reassembly would hold more than {} bytes; datagram dropped", self.limits.max_bytes));
            return Outcome::Dropped;
        }
        if !f.more {
            match p.total {
                Some(t) if t != end => {
                    self.drop_key(&key);
                    self.note(AnomalyKind::IpFragmentInvalid, format!("IP datagram (ID {:#x}) has two different ends", f.id));
                    return Outcome::Dropped;
                }
                _ => p.total = Some(end),
            }
        }
        if p.total.is_some_and(|t| end > t || p.data.len() > t) {
            self.drop_key(&key);
            self.note(AnomalyKind::IpFragmentInvalid, format!("IP fragment (ID {:#x}) lies beyond its datagram's end", f.id));
            return Outcome::Dropped;
        }
        if grow > 0 {
            p.data.resize(end, 0);
            self.bytes += grow;
        }
        fill(&mut p.data, &mut p.have, start, f.data);
        let complete = matches!((p.total, p.have.as_slice()), (Some(t), [(0, e)]) if *e == t);
        if !complete {
            return Outcome::Held;
        }
        let p = self.pending.remove(&key).expect("present");
        self.bytes -= p.data.len();
        Outcome::Complete(datagram(src, dst, f.proto, &p.data))
    }

    /// When `net` is a fragment, pushes it; the whole datagram when this completes it.
    pub fn complete(&mut self, net: &Result<Net<'_>, Problem>, ts_ns: i128) -> Option<Vec<u8>> {
        match net {
            Ok(Net::Ip { src, dst, transport: Transport::Fragment(f) }) => match self.push(*src, *dst, f, ts_ns) {
                Outcome::Complete(d) => Some(d),
                Outcome::Held | Outcome::Dropped => None,
            },
            _ => None,
        }
    }

    /// Ends the capture: every datagram still incomplete is counted.
    pub fn finish(&mut self) {
        let n = self.pending.len();
        if n > 0 {
            self.note(AnomalyKind::IpFragmentIncomplete, format!("{n} IP datagram(s) still incomplete at the end of the capture"));
            for _ in 1..n {
                self.note(AnomalyKind::IpFragmentIncomplete, String::new());
            }
        }
        self.pending.clear();
        self.order.clear();
        self.bytes = 0;
    }

    fn expire(&mut self, now: i128) {
        while let Some(&(t, key)) = self.order.front() {
            if now - t <= self.limits.timeout_ns {
                break;
            }
            self.order.pop_front();
            if self.pending.get(&key).is_some_and(|p| p.first_ns == t) {
                self.drop_key(&key);
                self.note(AnomalyKind::IpFragmentTimeout, format!("IP datagram (ID {:#x}) incomplete after {} s; discarded", key.id, self.limits.timeout_ns / 1_000_000_000));
            }
        }
    }

    fn drop_key(&mut self, key: &Key) {
        if let Some(p) = self.pending.remove(key) {
            self.bytes -= p.data.len();
        }
    }

    fn note(&mut self, kind: AnomalyKind, detail: String) {
        self.anomalies.push((kind, detail));
    }
}

/// Copies `data` at `start` into the bytes not received yet; first received wins.
fn fill(buf: &mut [u8], have: &mut Vec<(usize, usize)>, start: usize, data: &[u8]) {
    let end = start + data.len();
    let mut at = start;
    for &(s, e) in have.iter() {
        if e <= at {
            continue;
        }
        if s >= end {
            break;
        }
        if s > at {
            buf[at..s].copy_from_slice(&data[at - start..s - start]);
        }
        at = at.max(e);
        if at >= end {
            break;
        }
    }
    if at < end {
        buf[at..end].copy_from_slice(&data[at - start..]);
    }
    // Merge the new range into the list.
    have.push((start, end));
    have.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(have.len());
    for &(s, e) in have.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *have = merged;
}

/// An unfragmented IP packet carrying `payload` as protocol `proto`.
pub fn datagram(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (payload.len() + 20) as u16;
            v.extend([0x45, 0]);
            v.extend(total.to_be_bytes());
            v.extend([0, 0, 0, 0, 64, proto, 0, 0]);
            v.extend(s.octets());
            v.extend(d.octets());
        }
        (s, d) => {
            let to6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            v.extend([0x60, 0, 0, 0]);
            v.extend((payload.len() as u16).to_be_bytes());
            v.extend([proto, 64]);
            v.extend(to6(s));
            v.extend(to6(d));
        }
    }
    v.extend(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn frag(id: u32, offset: u32, more: bool, data: &[u8]) -> Frag<'_> {
        Frag { proto: 6, v6: false, id, offset, more, data, truncated: false }
    }

    fn payload() -> Vec<u8> {
        (0..24u8).collect()
    }

    fn complete_payload(o: Outcome) -> Vec<u8> {
        match o {
            Outcome::Complete(d) => {
                assert_eq!(&d[..4], &[0x45, 0, 0, 44]);
                assert_eq!(d[9], 6);
                d[20..].to_vec()
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn in_order_and_out_of_order() {
        let p = payload();
        let mut r = Reassembler::default();
        assert_eq!(r.push(A, B, &frag(1, 0, true, &p[..8]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(1, 8, true, &p[8..16]), 0), Outcome::Held);
        assert_eq!(complete_payload(r.push(A, B, &frag(1, 16, false, &p[16..]), 0)), p);
        assert_eq!((r.in_flight(), r.buffered()), (0, 0));
        // Last first, then the middle, then the start.
        assert_eq!(r.push(A, B, &frag(2, 16, false, &p[16..]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(2, 8, true, &p[8..16]), 0), Outcome::Held);
        assert_eq!(complete_payload(r.push(A, B, &frag(2, 0, true, &p[..8]), 0)), p);
        assert!(r.anomalies.is_empty());
    }

    #[test]
    fn duplicates_and_overlaps_first_wins() {
        let p = payload();
        let mut r = Reassembler::default();
        assert_eq!(r.push(A, B, &frag(3, 0, true, &p[..16]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(3, 0, true, &p[..16]), 0), Outcome::Held);
        // Overlaps bytes 8..16 with other content: the first copy is kept.
        let other: Vec<u8> = [0xff; 8].iter().chain(&p[16..]).copied().collect();
        assert_eq!(complete_payload(r.push(A, B, &frag(3, 8, false, &other), 0)), p);
    }

    #[test]
    fn datagrams_are_told_apart_by_id_and_addresses() {
        let p = payload();
        let mut r = Reassembler::default();
        assert_eq!(r.push(A, B, &frag(4, 0, true, &p[..8]), 0), Outcome::Held);
        assert_eq!(r.push(B, A, &frag(4, 8, false, &p[8..]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(5, 8, false, &p[8..]), 0), Outcome::Held);
        assert_eq!(r.in_flight(), 3);
        assert_eq!(complete_payload(r.push(A, B, &frag(4, 8, false, &p[8..]), 0)), p);
    }

    #[test]
    fn never_completed_datagrams_expire_or_are_counted_at_the_end() {
        let p = payload();
        let mut r = Reassembler::default();
        assert_eq!(r.push(A, B, &frag(6, 0, true, &p[..8]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(7, 0, true, &p[..8]), 20_000_000_000), Outcome::Held);
        // 31 s after the first: datagram 6 has expired, its late fragment starts a new one.
        assert_eq!(r.push(A, B, &frag(6, 8, false, &p[8..]), 31_000_000_000), Outcome::Held);
        assert_eq!(r.anomalies.iter().map(|a| a.0).collect::<Vec<_>>(), [AnomalyKind::IpFragmentTimeout]);
        assert_eq!(r.in_flight(), 2);
        r.finish();
        assert_eq!(r.anomalies.iter().filter(|a| a.0 == AnomalyKind::IpFragmentIncomplete).count(), 2);
        assert_eq!((r.in_flight(), r.buffered()), (0, 0));
    }

    #[test]
    fn bounds_are_kept() {
        let p = payload();
        let mut r = Reassembler::new(Limits { max_datagrams: 2, max_bytes: 40, timeout_ns: i128::MAX });
        assert_eq!(r.push(A, B, &frag(1, 0, true, &p[..8]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(2, 0, true, &p[..8]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(3, 0, true, &p[..8]), 0), Outcome::Dropped);
        // 16 + 32 bytes > 40: datagram 2 is dropped whole.
        assert_eq!(r.push(A, B, &frag(2, 32, false, &p[..8]), 0), Outcome::Dropped);
        assert_eq!((r.in_flight(), r.buffered()), (1, 8));
        assert_eq!(r.anomalies.iter().filter(|a| a.0 == AnomalyKind::IpFragmentOverflow).count(), 2);
        // Beyond IP's 65,535 bytes, or a middle fragment not a multiple of 8.
        assert_eq!(r.push(A, B, &frag(9, 65528, false, &p), 0), Outcome::Dropped);
        assert_eq!(r.push(A, B, &frag(9, 0, true, &p[..7]), 0), Outcome::Dropped);
        // Data past a known end.
        assert_eq!(r.push(A, B, &frag(1, 16, false, &p[16..]), 0), Outcome::Held);
        assert_eq!(r.push(A, B, &frag(1, 24, true, &p[..8]), 0), Outcome::Dropped);
        assert_eq!((r.in_flight(), r.buffered()), (0, 0));
    }

    #[test]
    fn ipv6_datagram_is_rebuilt() {
        let a: IpAddr = "fd00::1".parse().unwrap();
        let b: IpAddr = "fd00::2".parse().unwrap();
        let mut r = Reassembler::default();
        let f1 = Frag { proto: 17, v6: true, id: 0x1234_5678, offset: 0, more: true, data: &[1; 8], truncated: false };
        let f2 = Frag { proto: 17, v6: true, id: 0x1234_5678, offset: 8, more: false, data: &[2; 3], truncated: false };
        assert_eq!(r.push(a, b, &f1, 0), Outcome::Held);
        let Outcome::Complete(d) = r.push(a, b, &f2, 0) else { panic!() };
        assert_eq!(&d[..8], &[0x60, 0, 0, 0, 0, 11, 17, 64]);
        assert_eq!(&d[40..], &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn random_fragments_keep_the_bounds() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let limits = Limits { max_datagrams: 16, max_bytes: 64 << 10, timeout_ns: 1_000 };
        let mut r = Reassembler::new(limits);
        let data = [0x5a; 3000];
        for t in 0..20_000i128 {
            let v = next();
            let len = (v >> 8) as usize % data.len();
            let f = Frag {
                proto: 6,
                v6: v & 1 == 1,
                id: (v >> 20) as u32 % 32,
                offset: ((v >> 32) as u32 % 9000) & !7,
                more: v & 2 == 2,
                data: &data[..len],
                truncated: v & 0xfc == 0,
            };
            if let Outcome::Complete(d) = r.push(A, B, &f, t) {
                assert!(d.len() <= 65535 + 40);
            }
            assert!(r.in_flight() <= limits.max_datagrams && r.buffered() <= limits.max_bytes);
        }
    }

    #[test]
    fn truncated_fragment_drops_its_datagram() {
        let p = payload();
        let mut r = Reassembler::default();
        assert_eq!(r.push(A, B, &frag(1, 0, true, &p[..8]), 0), Outcome::Held);
        let mut f = frag(1, 8, false, &p[8..12]);
        f.truncated = true;
        assert_eq!(r.push(A, B, &f, 0), Outcome::Dropped);
        assert_eq!(r.in_flight(), 0);
    }
}
