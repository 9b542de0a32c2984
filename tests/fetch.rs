//! `wirelab fetch` against `wirelab serve http` on 127.0.0.1:0: the connections each mode opens,
//! counted from the server's access log, and the 304s of a conditional reload.

mod common;
use common::*;

use std::collections::BTreeSet;

/// A server (kept alive), the BaseFile.html URL, and the access log.
struct Server {
    _served: Served,
    url: String,
    log: Temp,
}

fn server(tag: &str, extra: &[&str]) -> Server {
    let log = Temp::path(&format!("fetch-{tag}.csv"));
    let www = www();
    let s = serve(&[&["serve", "http", "--root", www.to_str().unwrap(), "--port", "0", "--access-log", log.to_str().unwrap()], extra].concat());
    let url = format!("{}BaseFile.html", s.url);
    Server { _served: s, url, log }
}

fn fetch(url: &str, mode: &str, extra: &[&str]) -> serde_json::Value {
    let out = run(&[&["fetch", url, "--mode", mode, "--json"], extra].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (connection ids, requests, statuses) from the access log.
fn log(s: &Server) -> (BTreeSet<String>, usize, Vec<u16>) {
    std::thread::sleep(std::time::Duration::from_millis(150));
    let text = std::fs::read_to_string(&s.log).unwrap();
    let rows: Vec<Vec<String>> = text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    (rows.iter().map(|r| r[6].clone()).collect(), rows.len(), rows.iter().map(|r| r[4].parse().unwrap()).collect())
}

#[test]
fn each_mode_opens_the_connections_it_should() {
    for (mode, conns) in [("persistent", 1), ("non-persistent", 21), ("parallel:4", 21), ("pipelined", 1)] {
        let s = server(mode, &[]);
        let j = fetch(&s.url, mode, &[]);
        let page = &j[0];
        assert_eq!(page["objects"].as_array().unwrap().len(), 20, "{mode}: BaseFile.html references 20 objects");
        assert!(page["objects"].as_array().unwrap().iter().all(|o| o["status"] == 200), "{mode}");
        assert_eq!(page["connections_opened"], conns, "{mode}: client's count");
        let (ids, requests, _) = log(&s);
        assert_eq!(requests, 21, "{mode}");
        assert_eq!(ids.len(), conns as usize, "{mode}: connections in the server's access log");
        let total: u64 = page["objects"].as_array().unwrap().iter().map(|o| o["bytes"].as_u64().unwrap()).sum::<u64>() + page["base"]["bytes"].as_u64().unwrap();
        assert_eq!(page["bytes"].as_u64().unwrap(), total);
    }
}

#[test]
fn keepalive_max_makes_the_persistent_client_reconnect() {
    let s = server("max", &["--keepalive-max", "5"]);
    let j = fetch(&s.url, "pipelined", &[]);
    assert_eq!(j[0]["connections_opened"], 5, "21 requests, at most 5 per connection");
    let (ids, requests, statuses) = log(&s);
    assert_eq!((ids.len(), requests), (5, 21));
    assert!(statuses.iter().all(|s| *s == 200));
}

#[test]
fn conditional_reload_gets_304s() {
    let s = server("ims", &[]);
    let j = fetch(&s.url, "persistent", &["--if-modified-since"]);
    assert_eq!(j.as_array().unwrap().len(), 2);
    let again = &j[1];
    assert_eq!(again["conditional"], true);
    assert_eq!(again["base"]["status"], 304);
    assert!(again["objects"].as_array().unwrap().iter().all(|o| o["status"] == 304 && o["bytes"] == 0));
    let (_, requests, statuses) = log(&s);
    assert_eq!(requests, 42);
    assert_eq!(statuses.iter().filter(|s| **s == 304).count(), 21);
}
