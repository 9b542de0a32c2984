//! The real binary on bad input and on every link type: clear errors, exit codes scripts can
//! rely on (0 ok, 2 not a capture / usage, 3 damaged capture analyzed up to the damage), no panics.

mod common;
use common::*;

use std::io::Write;
use std::process::Stdio;

/// `bytes` in a temporary file whose name ends in `name`, removed when dropped.
fn tmp(name: &str, bytes: &[u8]) -> Temp {
    let p = Temp::path(&format!("cli-{name}"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Offsets of each record in a little-endian classic pcap.
fn record_offsets(pcap: &[u8]) -> Vec<usize> {
    let mut v = vec![];
    let mut at = 24;
    while at + 16 <= pcap.len() {
        v.push(at);
        at += 16 + u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    v
}

#[test]
fn not_a_capture_is_one_line_and_exit_2() {
    let p = tmp("notes.txt", b"these are my notes, not packets\n");
    let out = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not a capture file"), "{err}");
    let out = run(&["analyze", "/no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
}

#[test]
fn truncated_capture_keeps_everything_before_the_damage() {
    let good = std::fs::read(corpus().join("one_tcp_stream.pcap")).unwrap();
    let offs = record_offsets(&good);
    assert_eq!(offs.len(), 36);
    // Cut in the middle of record 21 (frame 21).
    let cut = offs[20] + 30;
    let p = tmp("truncated.pcap", &good[..cut]);
    let out = run(&["analyze", "--json", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("byte offset {}", offs[20])), "{err}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["capture"]["packets"], 20);
    assert_eq!(j["capture"]["damage"]["offset"], offs[20] as u64);
    assert_eq!(j["tcp"]["connections"], 1);
    assert!(j["anomalies"].as_array().unwrap().iter().any(|a| a["kind"] == "capture_damaged"));
    // The same holds for the human summary.
    let out = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8(out.stdout).unwrap().contains("capture damaged at byte offset"));
}

#[test]
fn corrupt_record_length_is_damage_not_a_crash() {
    let mut bad = std::fs::read(corpus().join("one_tcp_stream.pcap")).unwrap();
    let offs = record_offsets(&bad);
    bad[offs[10] + 8..offs[10] + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let p = tmp("corrupt.pcap", &bad);
    let out = run(&["analyze", "--json", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["capture"]["packets"], 10);
    assert_eq!(j["capture"]["damage"]["offset"], offs[10] as u64);
}

#[test]
fn every_prefix_of_a_capture_is_handled() {
    // Every truncation point of a pcapng: never a panic, always exit 0, 2 or 3.
    let good = std::fs::read(corpus().join("many_interfaces-1.pcapng")).unwrap();
    let step = (good.len() / 97).max(1);
    for cut in (0..good.len()).step_by(step) {
        let p = tmp("prefix.pcapng", &good[..cut]);
        let out = run(&["analyze", "--json", "-q", p.to_str().unwrap()]);
        let code = out.status.code();
        assert!(matches!(code, Some(0) | Some(2) | Some(3)), "cut at {cut}: {code:?} {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn stdin_gives_the_same_analysis_as_the_file() {
    let path = corpus().join("example.pcap");
    let from_file = analyze_json(&path);
    let mut child = wirelab().args(["analyze", "--json", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let from_stdin: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_stdin["file"], "<stdin>");
    for k in ["capture", "tcp", "conversations", "anomalies"] {
        assert_eq!(from_stdin[k], from_file[k], "{k}");
    }
}

#[test]
fn every_link_type_is_decoded() {
    let cases: &[(&str, u64)] = &[
        ("VlanPackets.pcap", 1),
        ("null_loopback.pcap", 0),
        ("raw_ip.pcap", 101),
        ("linktype_ipv4.pcap", 228),
        ("linktype_ipv6.pcap", 229),
        ("sll.pcap", 113),
        ("sll2.pcap", 276),
        ("one_http_stream_rst.pcap", 1), // PPPoE in double VLAN
        ("one_ipv6_http_stream.pcap", 101),
    ];
    for (file, lt) in cases {
        let j = analyze_json(&corpus().join(file));
        let lts: Vec<u64> = j["capture"]["link_types"].as_array().unwrap().iter().map(|l| l["link_type"].as_u64().unwrap()).collect();
        assert!(lts.contains(lt), "{file}: link types {lts:?}");
        assert!(j["capture"]["protocols"].get("undecodable").is_none(), "{file}: {}", j["capture"]["protocols"]);
        let decode_problems: Vec<_> = j["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| ["unsupported_link_type", "malformed_frame", "truncated_transport_header", "capture_damaged"].contains(&a["kind"].as_str().unwrap()))
            .collect();
        assert!(decode_problems.is_empty(), "{file}: {decode_problems:?}");
        let p = &j["capture"]["protocols"];
        let ip = ["tcp", "udp", "icmp", "other_ip"].iter().map(|k| p[k].as_u64().unwrap_or(0)).sum::<u64>();
        assert!(ip > 0, "{file}: no IP decoded: {p}");
    }
    // Several interfaces and link types in one pcapng, and the section comment, as capinfos shows them.
    let j = analyze_json(&corpus().join("many_interfaces-1.pcapng"));
    let lts: Vec<u64> = j["capture"]["link_types"].as_array().unwrap().iter().map(|l| l["link_type"].as_u64().unwrap()).collect();
    assert_eq!(lts, [0, 1]);
    let j = analyze_json(&corpus().join("pcapng-example.pcapng"));
    let lts: Vec<u64> = j["capture"]["link_types"].as_array().unwrap().iter().map(|l| l["link_type"].as_u64().unwrap()).collect();
    assert_eq!(lts, [1, 113]);
    assert!(j["capture"]["comments"][0].as_str().unwrap().starts_with("CLIENT_RANDOM E39B5BF4903C"));
    // A link type wirelab does not decode is reported, not a crash.
    let j = analyze_json(&corpus().join("microsecs_big_endian.pcap"));
    let a = &j["anomalies"][0];
    assert_eq!(a["kind"], "unsupported_link_type");
    assert_eq!(a["count"], j["capture"]["packets"]);
    assert!(a["detail"].as_str().unwrap().contains("253"));
}

#[test]
fn timestamps_in_micro_and_nanoseconds_both_byte_orders() {
    // microsecs.pcap and nanosecs.pcap hold the same packets at the two resolutions,
    // the first at 1.000002 s after the epoch.
    let t = |f: &str| analyze_json(&corpus().join(f))["capture"]["first_ts"].as_f64().unwrap();
    assert_eq!(t("microsecs.pcap"), t("nanosecs.pcap"));
    let be = analyze_json(&corpus().join("nanosecs_big_endian.pcap"));
    assert_eq!(be["tcp"]["connections"], 1);
    for f in ["microsecs.pcap", "nanosecs.pcap", "nanosecs_big_endian.pcap"] {
        let path = corpus().join(f);
        let out = tshark().args(["-r", path.to_str().unwrap(), "-T", "fields", "-e", "frame.time_epoch", "-c", "1"]).output().unwrap();
        let want: f64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
        assert!((t(f) - want).abs() < 1e-6, "{f}: {} vs tshark {want}", t(f));
    }
}

#[test]
fn follow_rejects_a_stream_that_does_not_exist() {
    let out = run(&["follow", corpus().join("one_tcp_stream.pcap").to_str().unwrap(), "--stream", "7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("no stream 7"));
}

#[test]
fn help_teaches() {
    let out = run(&["--help"]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("Examples:") && s.contains("Exit codes"), "{s}");
    let out = run(&["analyze", "--help"]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("--packets") && s.contains("History letters"), "{s}");
}

/// `wirelab analyze F --packets | head -2` stops reading when `head` closes the pipe. F is a
/// FIFO fed an endless capture (the fixture's records over and over), so a pass that does not
/// stop would never end: the test waits for the exit, and only a watchdog far beyond any pass
/// (a hang, not a time compared) fails it. That the writer then sees a broken pipe says the
/// reader let go of the capture.
#[test]
fn packet_list_piped_into_head_stops_reading_at_once() {
    let pcap = std::fs::read(fixtures().join("ws-echo.pcap")).unwrap();
    let fifo = Temp::path("cli-endless.pcap");
    assert!(std::process::Command::new("mkfifo").arg(&*fifo).status().unwrap().success());
    let path = fifo.to_str().unwrap().to_string();
    let writer = std::thread::spawn(move || -> (u64, std::io::Result<()>) {
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut written = 0u64;
        let r = f.write_all(&pcap[..24]).and_then(|_| loop {
            f.write_all(&pcap[24..])?;
            written += pcap.len() as u64 - 24;
        });
        (written, r)
    });
    let mut w = wirelab().args(["analyze", fifo.to_str().unwrap(), "--packets", "-q"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let head = std::process::Command::new("head").arg("-2").stdin(w.stdout.take().unwrap()).output().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while w.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = w.kill();
            let _ = w.wait();
            panic!("wirelab analyze --packets | head -2 still read an endless capture 5 minutes after head exited");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let w = w.wait_with_output().unwrap();
    let lines = String::from_utf8(head.stdout).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.starts_with("    No.") && lines.lines().nth(1).unwrap().trim_start().starts_with("1 "), "{lines}");
    // A closed pipe is the reader being done, not an error: no message, exit 0.
    assert_eq!((w.status.code(), String::from_utf8_lossy(&w.stderr).as_ref()), (Some(0), ""));
    let (written, r) = writer.join().unwrap();
    assert_eq!(r.map_err(|e| e.kind()), Err(std::io::ErrorKind::BrokenPipe), "the capture's writer after {written} bytes");
}
