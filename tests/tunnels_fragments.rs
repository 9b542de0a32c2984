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

#[test]
fn held_fragments_read_as_tshark_in_the_packet_list() {
    let mut same = 0;
    for path in made().iter().filter(|p| p.file_name().unwrap().to_string_lossy().contains("frag")) {
        let out = tshark().args(["-r", path.to_str().unwrap(), "-T", "fields", "-E", "separator=\t", "-e", "frame.number", "-e", "_ws.col.Info"]).output().unwrap();
        let ours = String::from_utf8(run(&["analyze", path.to_str().unwrap(), "--packets", "-q"]).stdout).unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((no, info)) = line.split_once('\t') else { continue };
            if !(info.starts_with("Fragmented IP protocol") || info.starts_with("IPv6 fragment")) {
                continue;
            }
            let row = ours.lines().find(|l| l.split_whitespace().next() == Some(no)).unwrap_or_else(|| panic!("{}: no row {no}", path.display()));
            assert!(row.ends_with(info), "{} frame {no}:\n  tshark  {info}\n  wirelab {row}", path.display());
            same += 1;
        }
    }
    assert!(same >= 10, "only {same} fragment rows compared");
}

/// A pcap of Ethernet frames, each an IPv4 first fragment (more fragments set, 1,480 bytes of
/// TCP) of its own datagram, that never completes; frame `i` at `i * spacing_ns`.
fn never_completed(n: u32, spacing_ns: u64) -> Vec<u8> {
    let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
    for i in 0..n {
        let t = u64::from(i) * spacing_ns;
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend([0x45, 0, 0x05, 0xdc]); // total length 1,500
        f.extend((i as u16).to_be_bytes()); // ID
        f.extend([0x20, 0x00, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]); // MF, offset 0, TCP
        f.extend((0..1480).map(|b| b as u8));
        v.extend(((t / 1_000_000_000) as u32).to_le_bytes());
        v.extend(((t % 1_000_000_000 / 1000) as u32).to_le_bytes());
        v.extend((f.len() as u32).to_le_bytes());
        v.extend((f.len() as u32).to_le_bytes());
        v.extend(f);
    }
    v
}

#[test]
fn fragment_reassembly_is_bounded_in_datagrams_and_time() {
    let dir = std::env::temp_dir().join(format!("wirelab-frag-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 5,000 datagrams at once: 4,096 are held, the other 904 overflow.
    let burst = dir.join("burst.pcap");
    std::fs::write(&burst, never_completed(5000, 0)).unwrap();
    let j = analyze_json(&burst);
    assert_eq!((anomaly(&j, "ip_fragment_overflow"), anomaly(&j, "ip_fragment_incomplete")), (904, 4096), "{}", j["anomalies"]);
    // One every 10 ms for 50 s: those older than 30 s when the last arrives expire (1,999),
    // and no more than 3,001 are ever in flight, so none overflow.
    let slow = dir.join("slow.pcap");
    std::fs::write(&slow, never_completed(5000, 10_000_000)).unwrap();
    let j = analyze_json(&slow);
    let counts = ["ip_fragment_timeout", "ip_fragment_incomplete", "ip_fragment_overflow"].map(|k| anomaly(&j, k));
    assert_eq!(counts, [1999, 3001, 0], "{}", j["anomalies"]);
    assert_eq!(j["tcp"]["connections"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
