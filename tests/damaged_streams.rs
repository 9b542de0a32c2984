//! Damaged streams built from one_tcp_stream.pcap exactly as PcapPlusPlus's TcpReassemblyTests
//! build them (retransmissions, missing data, out of order), fed through wirelab's connection
//! tracker, and compared with PcapPlusPlus's expected output files byte for byte.

mod common;
use common::corpus;

use std::net::SocketAddr;

use wirelab::capture::CaptureReader;
use wirelab::decode::{decode, Net, TcpSeg, Transport};
use wirelab::tcp::{StreamEvent, Tracker};

/// One TCP packet, owned, so tests can edit it.
#[derive(Clone)]
struct Pkt {
    ts: i128,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: Vec<u8>,
}

fn load() -> Vec<Pkt> {
    let f = std::fs::File::open(corpus().join("one_tcp_stream.pcap")).unwrap();
    let mut r = CaptureReader::new(f).unwrap();
    let mut v = vec![];
    while let Some(fr) = r.next_frame().unwrap() {
        let d = decode(fr.link_type, fr.data);
        let Ok(Net::Ip { src, dst, transport: Transport::Tcp(t) }) = d.net else { panic!("not TCP") };
        v.push(Pkt {
            ts: fr.ts_ns,
            src: SocketAddr::new(src, t.sport),
            dst: SocketAddr::new(dst, t.dport),
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            payload: t.payload.to_vec(),
        });
    }
    assert_eq!(v.len(), 36);
    v
}

/// PcapPlusPlus's tcpReassemblyAddRetransmissions: a copy whose payload is
/// `payload[beginning..beginning+n]`, padded with '*' past the end, and seq moved by `beginning`.
///
/// One quirk is reproduced too, because the expected files encode it: the helper removes only the
/// layer after TCP. When a segment starts with an HTTP header, that layer is the header alone, so
/// the body bytes that followed it in the segment stay, in front of the new payload.
fn retrans(p: &Pkt, beginning: usize, n: usize) -> Pkt {
    let n = if n == 0 { p.payload.len() - beginning } else { n };
    let mut q = p.clone();
    let kept_body: Vec<u8> = if p.payload.starts_with(b"POST ") || p.payload.starts_with(b"HTTP/") {
        let end = p.payload.windows(4).position(|w| w == b"\r\n\r\n").map_or(p.payload.len(), |i| i + 4);
        p.payload[end..].to_vec()
    } else {
        vec![]
    };
    q.payload = kept_body;
    q.payload.extend((0..n).map(|i| *p.payload.get(beginning + i).unwrap_or(&b'*')));
    q.seq = p.seq.wrapping_add(beginning as u32);
    q
}

/// Runs packets through the tracker; returns (both directions in delivery order with
/// PcapPlusPlus-style "[N bytes missing]" markers, total missing bytes).
fn reassemble(pkts: &[Pkt]) -> (Vec<u8>, u64) {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    let mut sink = |ev: StreamEvent<'_>| match ev {
        StreamEvent::Data { bytes, .. } => out.extend_from_slice(bytes),
        StreamEvent::Gap { len, .. } => out.extend_from_slice(format!("[{len} bytes missing]").as_bytes()),
        StreamEvent::Begin { .. } | StreamEvent::Fin { .. } | StreamEvent::End { .. } => {}
    };
    for (i, p) in pkts.iter().enumerate() {
        let seg = TcpSeg {
            sport: p.src.port(),
            dport: p.dst.port(),
            seq: p.seq,
            ack: p.ack,
            flags: p.flags,
            window: p.window,
            options: Default::default(),
            seg_len: p.payload.len() as u32,
            payload: &p.payload,
        };
        t.packet(i as u64 + 1, p.ts, 54 + p.payload.len() as u32, p.src, p.dst, &seg, &mut sink);
    }
    t.finish(&mut sink);
    assert_eq!(t.count(), 1);
    // After finish every row is final.
    let rows: Vec<_> = t.take_retired().collect();
    assert_eq!(rows.len(), 1);
    let c = &rows[0];
    (out, c.missing[0] + c.missing[1])
}

fn expected(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join(name)).unwrap()
}

/// Frames by Wireshark's 1-based numbers.
fn frames(all: &[Pkt], order: &[usize]) -> Vec<Pkt> {
    order.iter().map(|&n| all[n - 1].clone()).collect()
}

#[test]
fn undamaged_stream() {
    let (got, missing) = reassemble(&load());
    assert_eq!(missing, 0);
    assert!(got == expected("one_tcp_stream_output.txt"));
}

#[test]
fn retransmissions_repeat_shorten_extend_and_overlap() {
    let p = load();
    let r1 = retrans(&p[4], 0, 0); // f5 again, whole
    let r2 = retrans(&p[10], 10, 0); // f11 from byte 10
    let r3 = retrans(&p[13], 0, 1340); // f14 shortened
    let r4 = retrans(&p[21], 0, 1430); // f22 extended by 10 '*'
    let r5 = retrans(&p[28], 10, 1370); // f29 overlapping, 20 '*' past its end
    let r6 = retrans(&p[34], 10, 91); // f35 middle part
    let mut s: Vec<Pkt> = p.clone();
    for (at, r) in [(5, r1), (12, r2), (16, r3), (25, r4), (33, r5), (40, r6)] {
        s.insert(at, r);
    }
    assert_eq!(s.len(), 42);
    let (got, missing) = reassemble(&s);
    assert_eq!(missing, 0);
    let want = expected("one_tcp_stream_retransmission_output.txt");
    assert_eq!(got.len(), want.len());
    assert!(got == want, "first copy of each byte must win");
}

#[test]
fn missing_data_is_counted_and_reassembly_goes_on() {
    let p = load();
    let mut s = p.clone();
    s[3] = retrans(&p[3], 20, 0); // f4 loses its first 20 bytes
    s[20] = retrans(&p[20], 0, 1390); // f21 loses its last 30 bytes
    s.remove(28); // f29
    s.remove(30); // f32 (after the shift)
    let (got, missing) = reassemble(&s);
    assert_eq!(missing, 20 + 30 + 1360 + 1360);
    let want = expected("one_tcp_stream_missing_data_output.txt");
    assert_eq!(String::from_utf8_lossy(&got).matches("bytes missing]").count(), 4);
    if got != want { std::fs::write("/tmp/got_missing.bin", &got).unwrap(); }
    assert!(got == want, "output with gap markers differs from PcapPlusPlus expected file");
}

#[test]
fn capture_starting_after_the_handshake() {
    let p = load();
    let (got, missing) = reassemble(&p[2..]);
    assert_eq!(missing, 0);
    assert!(got == expected("one_tcp_stream_output.txt"));
}

#[test]
fn out_of_order_segments_are_reordered() {
    let p = load();
    let mut order: Vec<usize> = (1..=9).collect();
    order.extend([11, 10, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 19]);
    order.extend((25..=36).rev());
    let (got, missing) = reassemble(&frames(&p, &order));
    assert_eq!(missing, 0);
    assert!(got == expected("one_tcp_stream_out_of_order_output.txt"));
}

#[test]
fn out_of_order_with_a_lost_segment() {
    let p = load();
    let mut order: Vec<usize> = (1..=24).collect();
    order.extend((25..=36).rev().filter(|&f| f != 31));
    let (got, missing) = reassemble(&frames(&p, &order));
    assert_eq!(missing, 1360);
    // Everything except frame 31's 1360 bytes, in order, with the gap marked where they were.
    let full = expected("one_tcp_stream_output.txt");
    let marker = b"[1360 bytes missing]";
    let at = got.windows(marker.len()).position(|w| w == marker).expect("gap marker");
    assert_eq!(&got[..at], &full[..at]);
    assert_eq!(&got[at + marker.len()..], &full[at + 1360..]);
}
