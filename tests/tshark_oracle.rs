//! tshark as the oracle: wirelab's JSON counts must equal tshark's on every corpus capture,
//! and `wirelab follow --format raw` must print exactly what `tshark -z follow,tcp,raw` prints.

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
        let ours = ["connections", "syn", "syn_ack", "fin", "rst"].map(|k| t[k].as_u64().unwrap());
        let theirs = tshark_tcp_counts(&path);
        if ours != theirs {
            diffs.push(format!("{}: wirelab {ours:?} tshark {theirs:?}", path.display()));
        }
        checked += 1;
    }
    assert!(checked >= 27, "only {checked} captures checked");
    assert!(diffs.is_empty(), "counts (connections, syn, syn_ack, fin, rst) differ:\n{}", diffs.join("\n"));
}
