//! Synthetic captures for the analyzer's tests: classic pcap files of Ethernet/IPv4/TCP
//! conversations with consistent sequence numbers, written byte by byte (no tool needed).

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// A classic pcap file (microsecond timestamps, Ethernet) being built in memory or streamed.
pub struct Pcap<W: Write> {
    out: W,
    /// Microseconds since the epoch of the next packet.
    pub ts_us: u64,
    pub packets: u64,
}

impl Pcap<std::io::BufWriter<std::fs::File>> {
    pub fn create(path: &Path) -> Self {
        let f = std::fs::File::create(path).unwrap();
        Pcap::new(std::io::BufWriter::with_capacity(1 << 20, f))
    }
}

impl<W: Write> Pcap<W> {
    pub fn new(mut out: W) -> Self {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&h).unwrap();
        Pcap { out, ts_us: 1_700_000_000_000_000, packets: 0 }
    }

    /// Writes one frame at the current time, then advances the clock by `step_us`.
    pub fn frame(&mut self, frame: &[u8], step_us: u64) {
        self.cut_frame(frame, frame.len(), step_us);
    }

    /// Writes the captured part `frame` of a frame of `orig_len` bytes on the wire (a snaplen
    /// cut), then advances the clock by `step_us`.
    pub fn cut_frame(&mut self, frame: &[u8], orig_len: usize, step_us: u64) {
        let mut r = [0u8; 16];
        r[0..4].copy_from_slice(&((self.ts_us / 1_000_000) as u32).to_le_bytes());
        r[4..8].copy_from_slice(&((self.ts_us % 1_000_000) as u32).to_le_bytes());
        r[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        r[12..16].copy_from_slice(&(orig_len as u32).to_le_bytes());
        self.out.write_all(&r).unwrap();
        self.out.write_all(frame).unwrap();
        self.ts_us += step_us;
        self.packets += 1;
    }

    pub fn finish(mut self) -> W {
        self.out.flush().unwrap();
        self.out
    }
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;

/// An Ethernet/IPv4/TCP frame.
pub fn tcp_frame(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src.0);
    ip[16..20].copy_from_slice(&dst.0);
    let sum = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&src.1.to_be_bytes());
    tcp[2..4].copy_from_slice(&dst.1.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
    // Pseudo-header + header + payload.
    let mut pseudo = 0u32;
    for w in [&src.0[..], &dst.0[..]] {
        pseudo += u16::from_be_bytes([w[0], w[1]]) as u32 + u16::from_be_bytes([w[2], w[3]]) as u32;
    }
    pseudo += 6 + (20 + payload.len()) as u32;
    let mut all = tcp.to_vec();
    all.extend_from_slice(payload);
    let sum = checksum(&all, pseudo);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&tcp);
    f.extend_from_slice(payload);
    f
}

fn checksum(b: &[u8], mut sum: u32) -> u16 {
    for c in b.chunks(2) {
        sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One TCP connection between a client (direction 0) and a server (direction 1).
pub struct Conn {
    pub ends: [([u8; 4], u16); 2],
    pub next: [u32; 2],
}

impl Conn {
    pub fn new(client: ([u8; 4], u16), server: ([u8; 4], u16)) -> Self {
        Conn { ends: [client, server], next: [1000, 50_000] }
    }

    fn seg<W: Write>(&mut self, p: &mut Pcap<W>, d: usize, flags: u8, payload: &[u8]) {
        let f = tcp_frame(self.ends[d], self.ends[1 - d], self.next[d], self.next[1 - d], flags, payload);
        p.frame(&f, 100);
        self.next[d] = self.next[d].wrapping_add(payload.len() as u32 + (flags & (SYN | FIN) != 0) as u32);
    }

    pub fn handshake<W: Write>(&mut self, p: &mut Pcap<W>) {
        let f = tcp_frame(self.ends[0], self.ends[1], self.next[0], 0, SYN, &[]);
        p.frame(&f, 100);
        self.next[0] += 1;
        self.seg(p, 1, SYN | ACK, &[]);
        self.seg(p, 0, ACK, &[]);
    }

    /// `bytes` from direction `d`, in segments of at most 1448 bytes, each acknowledged.
    pub fn send<W: Write>(&mut self, p: &mut Pcap<W>, d: usize, bytes: &[u8]) {
        for c in bytes.chunks(1448) {
            self.seg(p, d, PSH | ACK, c);
            self.seg(p, 1 - d, ACK, &[]);
        }
    }

    /// `bytes` from direction `d`, in segments, not acknowledged.
    pub fn push<W: Write>(&mut self, p: &mut Pcap<W>, d: usize, bytes: &[u8]) {
        for c in bytes.chunks(1448) {
            self.seg(p, d, PSH | ACK, c);
        }
    }

    pub fn close<W: Write>(&mut self, p: &mut Pcap<W>) {
        self.seg(p, 0, FIN | ACK, &[]);
        self.seg(p, 1, FIN | ACK, &[]);
        self.seg(p, 0, ACK, &[]);
    }
}

/// A whole capture of one connection carrying `exchange` (direction, bytes), then closed.
pub fn conversation(path: &Path, exchange: &[(usize, &[u8])]) {
    let mut p = Pcap::create(path);
    let mut c = Conn::new(([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 8080));
    c.handshake(&mut p);
    for (d, b) in exchange {
        c.send(&mut p, *d, b);
    }
    c.close(&mut p);
    p.finish();
}

/// A scratch directory for a test's captures, removed when dropped.
pub fn scratch(test: &str) -> crate::common::Temp {
    crate::common::Temp::dir(&format!("synth-{test}"))
}

/// Peak RSS in KiB of running `cmd` (GNU time, which `make setup` installs), and its stdout.
pub fn peak_rss_kib(cmd: &mut std::process::Command) -> (u64, std::process::Output) {
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let dir = scratch("rss");
    let report = dir.join(format!("rss-{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()));
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(prog)
        .args(args)
        .output()
        .expect("GNU time (apt package `time`) must be installed");
    let kib = std::fs::read_to_string(&report).unwrap().trim().lines().last().unwrap().trim().parse().unwrap();
    let _ = std::fs::remove_file(report);
    (kib, out)
}
