//! The two-thread pass (frames decoded on a second thread) gives exactly what the
//! single-threaded pass gives: the same summary, and the same frames as the counts saw them
//! (with the tracker's reading and the application notes), stream events, transactions,
//! WebSocket frames and messages, connection rows and progress reports, in the same order.
//! Checked on every test capture and the whole shared corpus, on a generated capture of many
//! connections and batches, when the observer stops the pass, and on damaged captures.

mod common;
mod synth;
use common::*;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wirelab::analysis::{self, Flow, Observed, Observer, Options, Report, Seen};
use wirelab::capture::CaptureReader;
use wirelab::proto::http::Transaction;
use wirelab::proto::websocket::{WsFrame, WsMessage};
use wirelab::tcp::{Conn, StreamEvent};

/// Records everything it hears (stream bytes as a hash), and stops after `stop_after` records.
#[derive(Default)]
struct Log {
    records: Vec<String>,
    stop_after: Option<usize>,
}

impl Log {
    fn note(&mut self, r: String) -> Observed {
        self.records.push(r);
        Ok(match self.stop_after {
            Some(n) if self.records.len() >= n => Flow::Stop,
            _ => Flow::Continue,
        })
    }
}

impl Observer for Log {
    fn seen(&mut self, s: &Seen<'_>) -> Observed {
        self.note(format!("{s:?}"))
    }
    fn stream(&mut self, e: &StreamEvent<'_>) -> Observed {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{e:?}").hash(&mut h);
        self.note(format!("stream {:x}", h.finish()))
    }
    fn transaction(&mut self, t: &Transaction) -> Observed {
        self.note(format!("{t:?}"))
    }
    fn ws_frame(&mut self, f: &WsFrame) -> Observed {
        self.note(format!("{f:?}"))
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        self.note(format!("{m:?}"))
    }
    fn connection(&mut self, c: &Conn) -> Observed {
        self.note(format!("{c:?}"))
    }
    fn progress(&mut self, p: u64, n: u64) -> Observed {
        self.note(format!("progress {p} {n}"))
    }
    fn wants_packets(&self) -> bool {
        false
    }
}

/// A capture as bytes in memory (read through a buffer, so the pipeline copies payloads), or
/// as a file (memory-mapped, so the pipeline reads payloads where they lie in the mapping).
#[derive(Clone, Copy)]
enum Input<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// The summary as JSON (plus whether it stopped), the records, or the error, of one pass.
fn pass(input: Input<'_>, threads: usize, stop_after: Option<usize>) -> Result<(String, bool, Vec<String>), String> {
    let mut log = Log { stop_after, ..Default::default() };
    let opts = Options { threads, ..Default::default() };
    let s = match input {
        Input::Bytes(b) => {
            let reader = CaptureReader::new(b).map_err(|e| format!("not a capture: {e}"))?;
            analysis::analyze_with(reader, &mut log, &opts)
        }
        Input::File(p) => {
            let reader = CaptureReader::open_file(std::fs::File::open(p).unwrap()).map_err(|e| format!("not a capture: {e}"))?;
            assert!(reader.mapped().is_some(), "{} is read from a mapping", p.display());
            analysis::analyze_with(reader, &mut log, &opts)
        }
    };
    let s = s.map_err(|e| e.to_string())?;
    Ok((serde_json::to_string(&Report::new("f", &s)).unwrap(), s.stopped, log.records))
}

fn same_both_ways(name: &str, input: Input<'_>, stop_after: Option<usize>) -> usize {
    let one = pass(input, 1, stop_after);
    let two = pass(input, 2, stop_after);
    match (&one, &two) {
        (Ok((s1, st1, r1)), Ok((s2, st2, r2))) => {
            assert_eq!(st1, st2, "{name}: stopped");
            if let Some(i) = r1.iter().zip(r2).position(|(a, b)| a != b) {
                panic!("{name}: record {i} differs:\n one thread: {}\n two threads: {}", r1[i], r2[i]);
            }
            assert_eq!(r1.len(), r2.len(), "{name}: number of records");
            if let Some(i) = s1.bytes().zip(s2.bytes()).position(|(a, b)| a != b).or((s1.len() != s2.len()).then(|| s1.len().min(s2.len()))) {
                let around = |s: &str| s.get(i.saturating_sub(150)..(i + 150).min(s.len())).unwrap_or("").to_string();
                panic!("{name}: summaries differ at byte {i}:\n one thread: …{}…\n two threads: …{}…", around(s1), around(s2));
            }
            r1.len()
        }
        _ => {
            assert_eq!(one.as_ref().err(), two.as_ref().err(), "{name}: one thread {:?}, two threads {:?}", one.as_ref().err(), two.as_ref().err());
            0
        }
    }
}

fn captures() -> Vec<PathBuf> {
    let mut files = vec![];
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    for dir in [fixtures(), shared.join("pcapplusplus"), shared.join("realworld")] {
        assert!(dir.is_dir(), "{} not found", dir.display());
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap")) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_test_capture_gives_the_same_results_on_one_and_two_threads() {
    let files = captures();
    assert!(files.len() >= 90, "only {} captures found", files.len());
    let mut records = 0;
    for p in &files {
        records += same_both_ways(&p.display().to_string(), Input::File(p), None);
    }
    assert!(records > 10_000, "the captures produced only {records} records: the comparison would be weak");
}

#[test]
fn a_stop_lands_on_the_same_frame_on_one_and_two_threads() {
    for name in ["http-pipelined.pcap", "ws-echo.pcap", "curl-nginx-keepalive.pcapng"] {
        let bytes = std::fs::read(fixtures().join(name)).unwrap();
        let bytes = Input::Bytes(&bytes);
        let (_, _, all) = pass(bytes, 1, None).unwrap();
        assert!(all.len() >= 6, "{name}: {} records", all.len());
        for stop in [1, 2, all.len() / 2, all.len() - 1] {
            same_both_ways(&format!("{name} stopped after {stop} records"), bytes, Some(stop));
            let (_, stopped, r) = pass(bytes, 2, Some(stop)).unwrap();
            assert!(stopped && r.len() == stop, "{name}: stop after {stop}: stopped {stopped}, {} records", r.len());
        }
    }
}

#[test]
fn damaged_captures_give_the_same_results_on_one_and_two_threads() {
    let bytes = std::fs::read(corpus().join("example.pcap")).unwrap();
    // Cut inside a record, a record length past any sane size, and garbage in the middle.
    let mut huge_len = bytes.clone();
    huge_len[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut garbage = bytes.clone();
    let mid = garbage.len() / 2;
    garbage[mid..mid + 64].fill(0xff);
    for (what, b) in [("cut", bytes[..bytes.len() * 2 / 3].to_vec()), ("huge record length", huge_len), ("garbage", garbage), ("header only", bytes[..24].to_vec()), ("empty", vec![])] {
        same_both_ways(what, Input::Bytes(&b), None);
    }
}

/// Many short connections, several thousand frames per batch and many batches: every frame
/// crosses between threads in order.
#[test]
fn a_capture_of_many_batches_gives_the_same_results_on_one_and_two_threads() {
    let mut p = synth::Pcap::new(Vec::new());
    let (client, server) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let req = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    let big = format!("HTTP/1.1 200 OK\r\nContent-Length: 1200\r\n\r\n{}", "x".repeat(1200));
    for conn in 0..12_000u32 {
        let (c_end, s_end) = ((client, 10000 + (conn % 50000) as u16), (server, 80));
        let up = |p: &mut synth::Pcap<Vec<u8>>, flags, seq, ack, payload: &[u8]| p.frame(&synth::tcp_frame(c_end, s_end, seq, ack, flags, payload), 10);
        let down = |p: &mut synth::Pcap<Vec<u8>>, flags, seq, ack, payload: &[u8]| p.frame(&synth::tcp_frame(s_end, c_end, seq, ack, flags, payload), 10);
        let (mut c, mut s) = (conn.wrapping_mul(7919), conn.wrapping_mul(104729));
        up(&mut p, synth::SYN, c, 0, b"");
        down(&mut p, synth::SYN | synth::ACK, s, c + 1, b"");
        c += 1;
        s += 1;
        up(&mut p, synth::ACK, c, s, b"");
        for _ in 0..conn % 4 {
            up(&mut p, synth::PSH | synth::ACK, c, s, req);
            c += req.len() as u32;
            down(&mut p, synth::PSH | synth::ACK, s, c, big.as_bytes());
            s += big.len() as u32;
        }
        // Every fifth connection is reset instead of closed; every seventh loses a segment.
        if conn % 5 == 0 {
            up(&mut p, synth::RST, c, 0, b"");
        } else {
            if conn % 7 == 0 {
                s += 100;
            }
            down(&mut p, synth::FIN | synth::ACK, s, c, b"");
            up(&mut p, synth::FIN | synth::ACK, c, s + 1, b"");
        }
        if conn % 1000 == 7 {
            odd_frames(&mut p, conn as u16);
        }
    }
    let cap = p.finish();
    let n = same_both_ways("generated, in memory", Input::Bytes(&cap), None);
    assert!(n > 10_000, "{n} records");
    // Over 8 MiB as a file: the reader gives pages back while the other thread still reads.
    assert!(cap.len() > 3 * (8 << 20), "{} bytes", cap.len());
    let path = std::env::temp_dir().join(format!("wirelab-two-threads-{}.pcap", std::process::id()));
    std::fs::write(&path, &cap).unwrap();
    let m = same_both_ways("generated, mapped", Input::File(&path), None);
    let _ = std::fs::remove_file(&path);
    assert_eq!(m, n);
}

/// Frames the decode stage finds fault with: an IPv4 fragment of a length no fragment may have,
/// the first fragment of a datagram that never completes, a TCP header cut off, and a frame
/// cut by the snapshot length.
fn odd_frames(p: &mut synth::Pcap<Vec<u8>>, id: u16) {
    let mut put = |data: Vec<u8>, orig: usize| p.cut_frame(&data, orig, 10);
    let ip = |proto: u8, flags_frag: u16, payload: &[u8]| {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00, 0x45, 0]);
        f.extend(((20 + payload.len()) as u16).to_be_bytes());
        f.extend(id.to_be_bytes());
        f.extend(flags_frag.to_be_bytes());
        f.extend([64, proto, 0, 0, 10, 0, 0, 3, 10, 0, 0, 4]);
        f.extend_from_slice(payload);
        f
    };
    // More fragments, 13 bytes: not a multiple of 8.
    put(ip(17, 0x2000, &[1; 13]), 14 + 20 + 13);
    // A first fragment whose rest never comes.
    put(ip(17, 0x2000, &[2; 16]), 14 + 20 + 16);
    // 10 bytes of a TCP header.
    put(ip(6, 0, &[0; 10]), 14 + 20 + 10);
    // A TCP segment of 100 bytes, of which 60 were captured.
    let mut seg = vec![0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0];
    seg.extend([b'x'; 100]);
    let full = ip(6, 0, &seg);
    let n = full.len();
    put(full[..n - 40].to_vec(), n);
}
