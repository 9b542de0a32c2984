//! `analyze --export DIR`: every table is written as CSV and Parquet, and reading them back
//! gives the rows and values the analysis reported.

mod common;
use common::*;

use polars::prelude::*;

fn read_parquet(p: &std::path::Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(p).unwrap()).finish().unwrap()
}

fn csv_rows(p: &std::path::Path) -> usize {
    // A header line, then one line per row (no field in these fixtures holds a newline).
    std::fs::read_to_string(p).unwrap().lines().count() - 1
}

#[test]
fn export_writes_all_tables_in_both_formats() {
    let dir = std::env::temp_dir().join(format!("wirelab-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cap = fixtures().join("ws-echo.pcap");
    let out = run(&["analyze", cap.to_str().unwrap(), "--export", dir.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = analyze_json(&cap);
    let want = [
        ("packets", j["capture"]["packets"].as_u64().unwrap()),
        ("connections", j["tcp"]["connections"].as_u64().unwrap()),
        ("http", j["http"]["transactions"].as_u64().unwrap()),
        ("ws_frames", j["websocket"]["frames"].as_u64().unwrap()),
        ("ws_messages", j["websocket"]["messages"].as_u64().unwrap()),
    ];
    for (table, n) in want {
        let df = read_parquet(&dir.join(format!("{table}.parquet")));
        assert_eq!(df.height() as u64, n, "{table}.parquet rows");
        assert_eq!(csv_rows(&dir.join(format!("{table}.csv"))) as u64, n, "{table}.csv rows");
    }
    let frames = read_parquet(&dir.join("ws_frames.parquet"));
    let closes = frames.column("opcode").unwrap().str().unwrap().iter().filter(|o| *o == Some("close")).count();
    assert_eq!(closes as u64, j["websocket"]["opcodes"]["close"].as_u64().unwrap());
    let msgs = read_parquet(&dir.join("ws_messages.parquet"));
    let sizes: Vec<Option<u64>> = msgs.column("size").unwrap().u64().unwrap().iter().collect();
    assert!(sizes.contains(&Some(70_000)));
    let packets = read_parquet(&dir.join("packets.parquet"));
    assert!(packets.column("stream").unwrap().u32().unwrap().iter().all(|s| s == Some(0)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_of_a_capture_without_http_still_writes_every_table() {
    let dir = std::env::temp_dir().join(format!("wirelab-export-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cap = corpus().join("one_tcp_rst.pcap");
    let out = run(&["analyze", cap.to_str().unwrap(), "--export", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    for table in ["packets", "connections", "http", "ws_frames", "ws_messages"] {
        let df = read_parquet(&dir.join(format!("{table}.parquet")));
        assert!(df.width() > 3, "{table} has its columns even when empty");
    }
    assert_eq!(read_parquet(&dir.join("http.parquet")).height(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
