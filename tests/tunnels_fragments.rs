//! Tunnels, IP fragments and NFLOG on captures made for it (tests/fixtures/make-tunnel-fixtures.sh:
//! real VXLAN between two namespaces, kernel-fragmented VXLAN, real NFLOG from an nftables rule;
//! scapy for GRE, gretap, IPIP, sit, ip6tnl, Geneve, crafted fragments and NFLOG): every count
//! equals tshark's, and each capture really holds what it is named for.

mod common;
use common::*;

use std::path::PathBuf;

fn made() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.ends_with(".pcap") && ["tunnel-", "frag-", "nflog-", "vxlan-"].iter().any(|s| n.starts_with(s))
    });
    files.sort();
    files
}

fn anomaly(j: &serde_json::Value, kind: &str) -> u64 {
    j["anomalies"].as_array().unwrap().iter().filter(|a| a["kind"] == kind).map(|a| a["count"].as_u64().unwrap()).sum()
}

/// Frames that tshark shows as IP fragments of a larger datagram (more-fragments or an offset).
fn tshark_fragments(path: &std::path::Path) -> usize {
    let out = tshark()
        .args(["-r", path.to_str().unwrap(), "-Y", "ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr.more == 1 || ipv6.fraghdr.offset > 0", "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn counts_equal_tshark_through_tunnels_and_fragments() {
    let files = made();
    assert!(files.len() >= 19, "only {} fixtures", files.len());
    let mut diffs = vec![];
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let j = analyze_json(path);
        let ours_tcp = TCP_COUNT_KEYS.map(|k| j["tcp"][k].as_u64().unwrap());
        let map = |v: &serde_json::Value| -> std::collections::BTreeMap<String, u64> {
            v.as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).filter(|(_, n)| *n > 0).collect()
        };
        let ours_app = (map(&j["http"]["methods"]), map(&j["http"]["status"]), map(&j["websocket"]["opcodes"]));
        let (tcp, app) = (tshark_tcp_counts(path), tshark_app_counts(path, &[]));
        if ours_tcp != tcp || ours_app != app {
            diffs.push(format!("{name}: wirelab {ours_tcp:?} {ours_app:?}\n  tshark {tcp:?} {app:?}"));
        }
        // Not vacuous: each capture holds a TCP connection with HTTP in it (the response of
        // the never-completed one is lost with its middle fragment).
        let never_completed = name == "frag-ipv4-never-completed.pcap";
        assert!(tcp[0] >= 1 && !app.0.is_empty() && app.1.is_empty() == never_completed, "{name}: tshark sees {tcp:?} {app:?}");
        assert_eq!(anomaly(&j, "malformed_frame") + anomaly(&j, "unsupported_link_type"), 0, "{name}: {}", j["anomalies"]);
        let incomplete = anomaly(&j, "ip_fragment_incomplete") + anomaly(&j, "ip_fragment_timeout");
        assert_eq!(incomplete, u64::from(never_completed), "{name}: {}", j["anomalies"]);
        if name.starts_with("frag-") || name == "vxlan-ipv4-fragments.pcap" {
            assert!(tshark_fragments(path) >= 2, "{name} holds no fragments");
        }
    }
    assert!(diffs.is_empty(), "{} fixtures differ:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn the_fragmented_request_is_analyzed_on_the_frame_that_completes_it() {
    // The kernel fragmented the VXLAN datagrams of a POST: the request is found, and tshark
    // attributes the TCP segment to the same frame (the last fragment).
    let path = fixtures().join("vxlan-ipv4-fragments.pcap");
    let j = analyze_json(&path);
    assert_eq!(j["http"]["methods"]["POST"], 1);
    let out = tshark().args(["-r", path.to_str().unwrap(), "-Y", "http.request", "-T", "fields", "-e", "frame.number"]).output().unwrap();
    let frame: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("one request frame");
    let ours = run(&["analyze", path.to_str().unwrap(), "--packets", "-q"]);
    let list = String::from_utf8(ours.stdout).unwrap();
    let row = list.lines().find(|l| l.split_whitespace().next() == Some(&frame.to_string())).expect("the frame's row");
    assert!(row.contains("POST"), "frame {frame}: {row}");
}
