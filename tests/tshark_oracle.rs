//! tshark as the oracle: wirelab's JSON TCP counts must equal tshark's on every corpus capture
//! and every fixture, and the packet list's Info column must read as tshark's.

mod common;
use common::*;

#[test]
fn tcp_counts_equal_tshark_on_every_corpus_capture() {
    let mut checked = 0;
    let mut diffs = vec![];
    let mut files: Vec<_> = std::fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().path()).collect();
    files.extend(std::fs::read_dir(fixtures()).into_iter().flatten().map(|e| e.unwrap().path()));
    files.sort();
    for path in files {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "pcap" && ext != "pcapng" {
            continue;
        }
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
    let mut files: Vec<_> = std::fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().path()).collect();
    files.extend(std::fs::read_dir(fixtures()).into_iter().flatten().map(|e| e.unwrap().path()));
    files.sort();
    let (mut same, mut diffs) = (0, vec![]);
    for path in files {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "pcap" && ext != "pcapng" {
            continue;
        }
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
            match ours.get(f[0]) {
                Some(o) if *o == f[2] => same += 1,
                o => diffs.push(format!("{} frame {}:\n  tshark  {}\n  wirelab {}", path.display(), f[0], f[2], o.unwrap_or(&"<missing>"))),
            }
        }
    }
    assert!(same >= 2000, "only {same} rows compared");
    assert!(diffs.is_empty(), "{} Info cells differ:\n{}", diffs.len(), diffs[..diffs.len().min(10)].join("\n"));
}
