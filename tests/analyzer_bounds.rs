//! Time and memory bounds of the analyzer on captures these tests generate: WebSocket echo and
//! ping pairing stays linear, unanswered pipelined requests and a million connections stay in
//! bounded memory. Times are generous ceilings (far above the linear run, far below the
//! quadratic one); memory is peak RSS measured by GNU time.

mod common;
mod synth;
use common::*;

use std::time::{Duration, Instant};

fn anomaly(j: &serde_json::Value, kind: &str) -> u64 {
    j["anomalies"].as_array().unwrap().iter().filter(|a| a["kind"] == kind).map(|a| a["count"].as_u64().unwrap()).sum()
}

/// A WebSocket connection after its handshake; `frames` from the client (masked) or server.
fn websocket_capture(path: &std::path::Path, frames: impl Iterator<Item = (usize, Vec<u8>)>) {
    let mut p = synth::Pcap::create(path);
    let mut c = synth::Conn::new(([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 8080));
    c.handshake(&mut p);
    c.send(&mut p, 0, b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    c.send(&mut p, 1, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    let mut batch: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (d, f) in frames {
        batch[d].extend_from_slice(&f);
        if batch[d].len() > 1400 {
            c.push(&mut p, d, &std::mem::take(&mut batch[d]));
        }
    }
    for d in 0..2 {
        c.push(&mut p, d, &std::mem::take(&mut batch[d]));
    }
    c.close(&mut p);
    p.finish();
}

/// A client frame: FIN, `opcode`, masked with a fixed key.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

fn timed_analyze(path: &std::path::Path) -> (Duration, serde_json::Value) {
    let t = Instant::now();
    let j = analyze_json(path);
    (t.elapsed(), j)
}

#[test]
fn websocket_pairing_stays_linear() {
    let dir = synth::scratch("ws-pairing");
    // 320,000 client messages, all different, never echoed (the quadratic scan took 56 s in release).
    let path = dir.join("never-echoed.pcap");
    websocket_capture(&path, (0..320_000u32).map(|i| (0, client_frame(1, format!("m{i:07}").as_bytes()))));
    let (t, j) = timed_analyze(&path);
    assert_eq!(j["websocket"]["messages"], 320_000);
    assert_eq!(j["websocket"]["echo"]["count"], 0);
    assert_eq!(anomaly(&j, "ws_pairing_overflow"), 320_000 - 16_384);
    assert!(t < Duration::from_secs(60), "320,000 never-echoed messages took {t:?}");

    // 160,000 pings never answered, then a server echo and a pong for the latest ones: still paired.
    let path = dir.join("unanswered-pings.pcap");
    let pings = (0..160_000u32).map(|i| (0, client_frame(9, format!("p{i:07}").as_bytes())));
    let answers = [(1usize, b"\x8a\x08p0159999".to_vec())];
    websocket_capture(&path, pings.chain(answers));
    let (t, j) = timed_analyze(&path);
    assert_eq!(j["websocket"]["opcodes"]["ping"], 160_000);
    assert_eq!(j["websocket"]["ping_rtt"]["count"], 1);
    assert_eq!(anomaly(&j, "ws_pairing_overflow"), 160_000 - 16_384);
    assert!(t < Duration::from_secs(60), "160,000 unanswered pings took {t:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_million_unanswered_pipelined_requests_stay_in_bounded_memory() {
    let dir = synth::scratch("pipeline-1m");
    let path = dir.join("pipeline-1m.pcap");
    let n = 1_000_000u64;
    let mut p = synth::Pcap::create(&path);
    let mut c = synth::Conn::new(([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 8080));
    c.handshake(&mut p);
    let mut reqs = Vec::with_capacity(64 * 1024);
    for i in 0..n {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes());
        if reqs.len() > 60_000 {
            c.push(&mut p, 0, &reqs);
            reqs.clear();
        }
    }
    c.push(&mut p, 0, &reqs);
    p.finish();
    let (kib, out) = synth::peak_rss_kib(wirelab().args(["analyze", "--json", "-q", path.to_str().unwrap()]));
    assert!(out.status.success() || out.status.code() == Some(3), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["http"]["requests"], n);
    assert_eq!(anomaly(&j, "http_pipeline_overflow"), n - 1024);
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB for 1M unanswered requests");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_million_connections_stay_under_200_mb() {
    let dir = synth::scratch("million-conns");
    let path = dir.join("syn-only.pcap");
    let n = 1_000_000u32;
    let mut p = synth::Pcap::create(&path);
    for i in 0..n {
        // A SYN scan: every SYN from its own 4-tuple, never answered.
        let src = ([10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8], 1024 + (i % 50_000) as u16);
        let f = synth::tcp_frame(src, ([10, 0, 0, 2], 80), i.wrapping_mul(2_654_435_761), 0, synth::SYN, &[]);
        p.frame(&f, 10);
    }
    p.finish();
    let (kib, out) = synth::peak_rss_kib(wirelab().args(["analyze", "--json", "-q", path.to_str().unwrap()]));
    assert!(out.status.success() || out.status.code() == Some(3), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["tcp"]["connections"], n);
    assert_eq!(j["tcp"]["syn"], n);
    let rows = j["conversations"].as_array().unwrap();
    assert_eq!(rows.len() as u64 + j["conversations_omitted"].as_u64().unwrap(), n as u64);
    assert_eq!(rows[9_999]["index"], 9_999);
    assert_eq!(rows[9_999]["syn"], 1);
    assert!(kib < 200 * 1024, "peak RSS {kib} KiB for 1M connections");
    // The terminal summary too.
    let (kib, out) = synth::peak_rss_kib(wirelab().args(["analyze", "-q", path.to_str().unwrap()]));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("999,950 more connections"));
    assert!(kib < 200 * 1024, "peak RSS {kib} KiB for 1M connections (terminal summary)");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn follow_and_json_beyond_the_rows_the_summary_keeps() {
    let dir = synth::scratch("many-conns");
    let path = dir.join("many.pcap");
    let n = 10_050u32;
    let mut p = synth::Pcap::create(&path);
    for i in 0..n {
        let mut c = synth::Conn::new(([10, 2, (i >> 8) as u8, i as u8], 30000 + (i % 20000) as u16), ([10, 0, 0, 2], 8080));
        c.handshake(&mut p);
        c.send(&mut p, 0, format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        c.send(&mut p, 1, format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{i}", i.to_string().len()).as_bytes());
        c.close(&mut p);
    }
    p.finish();
    let j = analyze_json(&path);
    assert_eq!(j["tcp"]["connections"], n);
    assert_eq!(j["http"]["requests"], n);
    assert_eq!(j["conversations"].as_array().unwrap().len(), 10_000);
    assert_eq!(j["conversations_omitted"], n - 10_000);
    // The last connection is not among the summary's rows: follow still finds its endpoints,
    // and prints what tshark prints.
    let last = n - 1;
    let out = run(&["follow", path.to_str().unwrap(), "-s", &last.to_string(), "-f", "ascii"]);
    assert!(out.status.success(), "{out:?}");
    let theirs = tshark_follow(&path, "ascii", &[last]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), theirs[&last]);
    let out = run(&["follow", path.to_str().unwrap(), "-s", &n.to_string()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("there is no stream"), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A bulk transfer of 600 MB in 60 KB segments, read by the two-thread pass: the pages the
/// in-flight batches refer to are bounded, so memory stays flat whatever the file size.
#[test]
fn a_bulk_transfer_stays_in_bounded_memory_on_two_threads() {
    let dir = synth::scratch("bulk-two-threads");
    let path = dir.join("bulk.pcap");
    let mut p = synth::Pcap::create(&path);
    let (client, server) = (([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 80));
    p.frame(&synth::tcp_frame(client, server, 999, 0, synth::SYN, &[]), 100);
    p.frame(&synth::tcp_frame(server, client, 4999, 1000, synth::SYN | synth::ACK, &[]), 100);
    p.frame(&synth::tcp_frame(client, server, 1000, 5000, synth::ACK, &[]), 100);
    // Segments as big as loopback's (GRO/TSO on a capture host gives the same).
    let block = vec![b'x'; 60_000];
    for i in 0..10_000u32 {
        p.frame(&synth::tcp_frame(server, client, 5000 + i * 60_000, 1000, synth::ACK, &block), 100);
    }
    p.finish();
    assert!(std::fs::metadata(&path).unwrap().len() > 600_000_000);
    for threads in ["1", "2"] {
        let (kib, out) = synth::peak_rss_kib(wirelab().args(["analyze", "--json", "-q", "-j", threads, path.to_str().unwrap()]));
        assert!(out.status.success(), "{out:?}");
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["tcp"]["payload_bytes"], 600_000_000u64);
        assert!(kib < 120 * 1024, "-j {threads}: peak RSS {kib} KiB for a 600 MB bulk transfer");
    }
    let _ = std::fs::remove_dir_all(dir);
}
