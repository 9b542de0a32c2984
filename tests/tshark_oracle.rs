//! tshark as the oracle: wirelab's JSON TCP counts must equal tshark's on every corpus capture
//! and every fixture, and the packet list's Info column must read as tshark's.

mod common;
use common::*;

#[test]
fn tcp_counts_equal_tshark_on_every_corpus_capture() {
    let mut checked = 0;
    let mut diffs = vec![];
    for path in all_captures() {
        let j = analyze_json(&path);
        let t = &j["tcp"];
        let ours = TCP_COUNT_KEYS.map(|k| t[k].as_u64().unwrap());
        let theirs = tshark_tcp_counts(&path);
        if ours != theirs {
            diffs.push(format!("{}: wirelab {ours:?} tshark {theirs:?}", path.display()));
        }
        checked += 1;
    }
    assert!(checked >= 27, "only {checked} captures checked");
    assert!(diffs.is_empty(), "counts {TCP_COUNT_KEYS:?} differ:\n{}", diffs.join("\n"));
}

#[test]
fn packet_list_info_reads_as_tshark() {
    let (mut same, mut diffs, mut app_differs) = (0, vec![], 0);
    for path in all_captures() {
        let out = tshark()
            .args(["-r", path.to_str().unwrap(), "-T", "fields", "-E", "separator=\t", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"])
            .output()
            .expect("tshark");
        let ours = run(&["analyze", path.to_str().unwrap(), "--packets", "-q"]);
        let ours = String::from_utf8(ours.stdout).unwrap();
        let ours: std::collections::HashMap<&str, &str> = ours
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty()) // the summary follows the list after a blank line
            .filter_map(|l| {
                let no = l.split_whitespace().next()?;
                // Columns: No. Time Source → Destination Protocol Length Info
                let mut rest = l.trim_start();
                for _ in 0..7 {
                    rest = rest.trim_start().split_once(' ')?.1;
                }
                Some((no, rest.trim_start()))
            })
            .collect();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.splitn(3, '\t').collect();
            // Rows that tshark's TCP dissector words itself (an HTTP dissector above it rewrites the rest).
            if f.len() < 3 || f[1] != "TCP" || f[2].contains("reassembled PDU") || f[2].contains("Reassembly error") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy();
            match ours.get(f[0]) {
                Some(o) if *o == f[2] => same += 1,
                // Where tshark does not reassemble out-of-order data (see the HTTP count test),
                // wirelab may complete a message on a row that tshark leaves as plain TCP.
                Some(o) if NEED_OUT_OF_ORDER_REASSEMBLY.contains(&name.as_ref()) && f[2].contains("Retransmission") => {
                    app_differs += 1;
                    let _ = o;
                }
                o => diffs.push(format!("{} frame {}:\n  tshark  {}\n  wirelab {}", path.display(), f[0], f[2], o.unwrap_or(&"<missing>"))),
            }
        }
    }
    assert!(same >= 2000, "only {same} rows compared");
    assert!(app_differs <= 10, "{app_differs} rows excused by out-of-order reassembly");
    assert!(diffs.is_empty(), "{} Info cells differ:\n{}", diffs.len(), diffs[..diffs.len().min(10)].join("\n"));
}

/// tshark 4.0 by default does not reassemble out-of-order segments, so a message whose hole is
/// filled later by a retransmission is never dissected or counted; wirelab reorders and counts
/// it. Where the default tshark differs, the counts must equal tshark's with out-of-order
/// reassembly on, and the captures where that happens are listed here exactly.
const NEED_OUT_OF_ORDER_REASSEMBLY: &[&str] = &["example.pcap"];

#[test]
fn http_and_websocket_counts_equal_tshark() {
    let mut diffs = vec![];
    let mut reordered = vec![];
    let mut messages = 0;
    for path in all_captures() {
        let j = analyze_json(&path);
        let map = |v: &serde_json::Value| -> std::collections::BTreeMap<String, u64> {
            v.as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).filter(|(_, n)| *n > 0).collect()
        };
        let ours = (map(&j["http"]["methods"]), map(&j["http"]["status"]), map(&j["websocket"]["opcodes"]));
        let mut theirs = tshark_app_counts(&path, &[]);
        if ours != theirs {
            theirs = tshark_app_counts(&path, &["tcp.reassemble_out_of_order:TRUE"]);
            reordered.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
        if ours != theirs {
            diffs.push(format!(
                "{}:\n  methods wirelab {:?} tshark {:?}\n  status  wirelab {:?} tshark {:?}\n  ws ops  wirelab {:?} tshark {:?}",
                path.display(), ours.0, theirs.0, ours.1, theirs.1, ours.2, theirs.2
            ));
        }
        assert_eq!(j["http"]["requests"].as_u64().unwrap(), ours.0.values().sum::<u64>());
        assert_eq!(j["http"]["responses"].as_u64().unwrap(), ours.1.values().sum::<u64>());
        assert_eq!(j["websocket"]["frames"].as_u64().unwrap(), ours.2.values().sum::<u64>());
        messages += theirs.0.values().sum::<u64>() + theirs.1.values().sum::<u64>() + theirs.2.values().sum::<u64>();
    }
    assert!(diffs.is_empty(), "{} captures differ:\n{}", diffs.len(), diffs.join("\n"));
    assert_eq!(reordered, NEED_OUT_OF_ORDER_REASSEMBLY);
    assert!(messages > 1000, "only {messages} HTTP messages and WebSocket frames compared");
}

#[test]
fn http_and_websocket_rows_read_as_tshark() {
    // On the HTTP and WebSocket fixtures (text bodies: tshark names other media types by their
    // own dissectors, e.g. "(GIF89a)", which wirelab does not imitate).
    let mut same = 0;
    let mut diffs = vec![];
    for path in all_captures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("http-") || name.starts_with("ws-")) {
            continue;
        }
        let out = tshark()
            .args(["-r", path.to_str().unwrap(), "-T", "fields", "-E", "separator=\t", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"])
            .output()
            .expect("tshark");
        let ours = String::from_utf8(run(&["analyze", path.to_str().unwrap(), "--packets", "-q"]).stdout).unwrap();
        let ours: std::collections::HashMap<String, (String, String)> = ours
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| {
                let no = l.split_whitespace().next()?.to_string();
                let mut rest = l.trim_start();
                for _ in 0..5 {
                    rest = rest.trim_start().split_once(' ')?.1;
                }
                let rest = rest.trim_start();
                let (proto, rest) = rest.split_once(' ')?;
                let info = rest.trim_start().split_once(' ')?.1;
                Some((no, (proto.to_string(), info.to_string())))
            })
            .collect();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.splitn(3, '\t').collect();
            if f.len() < 3 || !(f[1] == "HTTP" || f[1] == "WebSocket") {
                continue;
            }
            match ours.get(f[0]) {
                Some((p, i)) if p == f[1] && i == f[2] => same += 1,
                o => diffs.push(format!("{name} frame {}: tshark {:?} {:?}, wirelab {o:?}", f[0], f[1], f[2])),
            }
        }
    }
    assert!(same >= 50, "only {same} rows compared");
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
