//! HTTP shapes from real traffic, on captures these tests write themselves: CONNECT tunnels
//! (HTTP inside, or opaque TLS), upgrades other than WebSocket, Wireshark's whole list of
//! request methods, and the bound on unanswered pipelined requests. Counts equal tshark's.

mod common;
mod synth;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

type Counts = BTreeMap<String, u64>;

fn counts(j: &serde_json::Value) -> (Counts, Counts, Counts) {
    let map = |v: &serde_json::Value| -> Counts {
        v.as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).filter(|(_, n)| *n > 0).collect()
    };
    (map(&j["http"]["methods"]), map(&j["http"]["status"]), map(&j["websocket"]["opcodes"]))
}

fn anomaly(j: &serde_json::Value, kind: &str) -> u64 {
    j["anomalies"].as_array().unwrap().iter().filter(|a| a["kind"] == kind).map(|a| a["count"].as_u64().unwrap()).sum()
}

/// wirelab's HTTP/WebSocket counts equal tshark's (HTTP decoded on port 8080).
fn same_as_tshark(path: &Path) -> serde_json::Value {
    let j = analyze_json(path);
    let theirs = tshark_app_counts_with(path, &[], &[8080]);
    assert_eq!(counts(&j), theirs, "{}", path.display());
    j
}

/// A TLS ClientHello-like record and a server answer: not HTTP, not WebSocket.
const TLS_HELLO: &[u8] = b"\x16\x03\x01\x00\x2e\x01\x00\x00\x2a\x03\x03abcdefghijklmnopqrstuvwxyz012345\x00\x00\x02\x13\x01\x01\x00";
const TLS_SERVER: &[u8] = b"\x16\x03\x03\x00\x30\x02\x00\x00\x2c\x03\x03ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210\x00\x13\x01\x00\x00\x04\x00\x2b\x00\x02\x03\x04";

#[test]
fn connect_tunnel_carrying_tls_is_opaque_payload() {
    let dir = synth::scratch("connect-tls");
    let path = dir.join("connect-tls.pcap");
    let connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let ok = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let app = vec![0x17u8; 3000];
    synth::conversation(&path, &[(0, connect), (1, ok), (0, TLS_HELLO), (1, TLS_SERVER), (0, &app), (1, &app)]);
    let j = same_as_tshark(&path);
    assert_eq!(j["websocket"]["frames"], 0);
    assert_eq!(anomaly(&j, "ws_malformed") + anomaly(&j, "http_malformed"), 0, "{}", j["anomalies"]);
    let t = &j["http"]["tunnels"]["connect"];
    assert_eq!(t["connections"], 1);
    assert_eq!(t["http_connections"], 0);
    let tunnelled = (TLS_HELLO.len() + TLS_SERVER.len() + 2 * app.len()) as u64;
    assert_eq!(t["opaque_bytes"], tunnelled);
}

#[test]
fn connect_tunnel_carrying_http_is_analyzed_as_http() {
    let dir = synth::scratch("connect-http");
    let connect = b"CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n";
    let ok = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let get = b"GET /inside HTTP/1.1\r\nHost: inner.example\r\n\r\n";
    let resp = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!";
    let post = b"POST /form HTTP/1.1\r\nHost: inner.example\r\nContent-Length: 2\r\n\r\nhi";
    let resp2 = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    let want = |pairs: &[(&str, u64)]| -> Counts { pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect() };

    // One request inside: tshark counts it (its dissector for the CONNECT's port, TLS, gives the
    // bytes back to HTTP), but not the tunnel's response (the corpus README, on
    // suricata-http-connect-simple.pcap, calls that wrong: 2 responses).
    let path = dir.join("connect-http.pcap");
    synth::conversation(&path, &[(0, connect), (1, ok), (0, get), (1, resp)]);
    let j = analyze_json(&path);
    let (methods, status, ws) = counts(&j);
    let (t_methods, t_status, t_ws) = tshark_app_counts_with(&path, &[], &[8080]);
    assert_eq!(methods, t_methods);
    assert_eq!(t_methods, want(&[("CONNECT", 1), ("GET", 1)]), "tshark sees the tunnelled GET");
    assert!(t_ws.is_empty() && ws.is_empty());
    assert_eq!(t_status, want(&[("200", 1)]));
    assert_eq!(status, want(&[("200", 1), ("404", 1)]));
    let t = &j["http"]["tunnels"]["connect"];
    assert_eq!((t["connections"].as_u64(), t["http_connections"].as_u64(), t["opaque_bytes"].as_u64()), (Some(1), Some(1), Some(0)));

    // Two requests inside: tshark stops after the first; every one is counted here.
    let path = dir.join("connect-http-2.pcap");
    synth::conversation(&path, &[(0, connect), (1, ok), (0, get), (1, resp), (0, post), (1, resp2)]);
    let j = analyze_json(&path);
    let (methods, status, _) = counts(&j);
    assert_eq!(methods, want(&[("CONNECT", 1), ("GET", 1), ("POST", 1)]));
    assert_eq!(status, want(&[("200", 1), ("404", 1), ("201", 1)]));
    assert_eq!((j["http"]["transactions"].as_u64(), j["http"]["complete"].as_u64(), j["http"]["connections"].as_u64()), (Some(3), Some(3), Some(1)));
}

#[test]
fn upgrades_other_than_websocket_are_opaque_and_named() {
    let dir = synth::scratch("upgrades");
    for (proto, label) in [("tcp", "tcp"), ("TLS/1.0", "tls/1.0"), ("h2c", "h2c")] {
        let path = dir.join(format!("upgrade-{label}.pcap").replace('/', "_"));
        let req = format!("POST /attach HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: {proto}\r\nContent-Length: 0\r\n\r\n");
        let resp = format!("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: {proto}\r\n\r\n");
        // Raw bytes that a WebSocket parser would take for frames (0x81 = text, FIN).
        let raw = b"\x81\x05hello\x01\x00\x00\x00\x00\x00\x00\x05world";
        synth::conversation(&path, &[(0, req.as_bytes()), (1, resp.as_bytes()), (0, raw), (1, raw), (1, raw)]);
        let j = if proto == "h2c" {
            // tshark hands h2c to its HTTP/2 dissector; the HTTP/1.x counts are still its own.
            analyze_json(&path)
        } else {
            same_as_tshark(&path)
        };
        let (methods, status, ws) = counts(&j);
        assert_eq!((methods.get("POST"), status.get("101")), (Some(&1), Some(&1)), "{proto}");
        assert!(ws.is_empty(), "{proto}: {ws:?}");
        assert_eq!(j["websocket"]["connections"], 0, "{proto}");
        let t = &j["http"]["tunnels"][label];
        assert_eq!(t["connections"], 1, "{proto}: {}", j["http"]["tunnels"]);
        assert_eq!(t["opaque_bytes"], 3 * raw.len() as u64, "{proto}");
        assert_eq!(anomaly(&j, "ws_malformed") + anomaly(&j, "http_malformed"), 0, "{proto}: {}", j["anomalies"]);
    }
}

#[test]
fn websocket_upgrade_still_goes_to_the_websocket_parser() {
    let dir = synth::scratch("upgrade-ws");
    let path = dir.join("upgrade-ws.pcap");
    let req = b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let resp = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let client = b"\x81\x85\x01\x02\x03\x04\x69\x67\x6f\x68\x6e";
    let server = b"\x81\x05hello";
    synth::conversation(&path, &[(0, req), (1, resp), (0, client), (1, server)]);
    let j = same_as_tshark(&path);
    assert_eq!(j["websocket"]["connections"], 1);
    assert_eq!(j["websocket"]["opcodes"]["text"], 2);
    assert!(j["http"]["tunnels"].as_object().unwrap().is_empty());
}

/// Wireshark's request methods: the list in `is_http_request_or_reply`,
/// epan/dissectors/packet-http.c (github.com/wireshark/wireshark), with the RFC 2774 `M-`
/// prefix it strips.
const WIRESHARK_METHODS: &[&str] = &[
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL", "TRACE", "LABEL", "MERGE",
    "DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS", "CHECKIN", "PROPFIND",
    "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY",
    "MKWORKSPACE", "RPC_CONNECT", "RPC_IN_DATA", "UNSUBSCRIBE", "RPC_OUT_DATA", "VERSION-CONTROL", "BASELINE-CONTROL",
    "M-SEARCH", "M-POST",
];

#[test]
fn every_wireshark_method_is_recognized() {
    let dir = synth::scratch("methods");
    let path = dir.join("methods.pcap");
    let mut p = synth::Pcap::create(&path);
    for (i, m) in WIRESHARK_METHODS.iter().enumerate() {
        // One connection per method, each the first message of its connection (so the method
        // alone tells that it is HTTP), answered 405.
        let mut c = synth::Conn::new(([10, 0, 0, 1], 41000 + i as u16), ([10, 0, 0, 2], 8080));
        c.handshake(&mut p);
        c.send(&mut p, 0, format!("{m} /r{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        c.send(&mut p, 1, b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        c.close(&mut p);
    }
    p.finish();
    let j = same_as_tshark(&path);
    let (methods, _, _) = counts(&j);
    assert_eq!(methods.len(), WIRESHARK_METHODS.len(), "{methods:?}");
    assert_eq!(j["http"]["responses"], WIRESHARK_METHODS.len() as u64);
    assert_eq!(j["http"]["connections"], WIRESHARK_METHODS.len() as u64);
}

#[test]
fn unanswered_pipelined_requests_are_bounded_and_reported() {
    let dir = synth::scratch("pipeline");
    let path = dir.join("pipeline.pcap");
    let n = 3000;
    let mut p = synth::Pcap::create(&path);
    let mut c = synth::Conn::new(([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 8080));
    c.handshake(&mut p);
    let mut reqs = Vec::new();
    for i in 0..n {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    c.send(&mut p, 0, &reqs);
    // The first two are answered late, after the bound dropped them: paired with nothing.
    c.send(&mut p, 1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c.close(&mut p);
    p.finish();
    let j = same_as_tshark(&path);
    assert_eq!(j["http"]["requests"], n);
    // Every request is reported; the two late responses, whose requests the bound dropped,
    // are reported on their own.
    assert_eq!(j["http"]["transactions"], n + 2);
    assert_eq!(j["http"]["complete"], 2);
    assert_eq!(anomaly(&j, "http_pipeline_overflow"), n - 1024);
}
