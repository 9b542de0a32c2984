//! `wirelab serve danmaku` with curl (REST) and `wirelab danmaku-load` (polling vs WebSocket).

mod common;
use common::*;

use std::process::Command;

fn server() -> Served {
    serve(&["serve", "danmaku", "--port", "0"])
}

fn curl(args: &[&str]) -> String {
    String::from_utf8(Command::new("curl").args(["-s", "--max-time", "5"]).args(args).output().unwrap().stdout).unwrap()
}

#[test]
fn rest_post_poll_history_and_page() {
    let s = server();
    let u = &s.url;
    for i in 1..=3 {
        let body = format!(r##"{{"text":"hello {i}","video_time":{i}.5,"color":"#ff0000"}}"##);
        let out = curl(&["-X", "POST", "-H", "Content-Type: application/json", "--data", &body, &format!("{u}danmaku/v1")]);
        let c: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(c["id"], i);
    }
    let newer: serde_json::Value = serde_json::from_str(&curl(&[&format!("{u}danmaku/v1?since=1")])).unwrap();
    assert_eq!(newer.as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect::<Vec<_>>(), ["hello 2", "hello 3"]);
    let other: serde_json::Value = serde_json::from_str(&curl(&[&format!("{u}danmaku/v2?since=0")])).unwrap();
    assert!(other.as_array().unwrap().is_empty(), "videos are separate");
    let history: serde_json::Value = serde_json::from_str(&curl(&[&format!("{u}chat/v1")])).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 3);
    assert!(curl(&["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data", "not json", &format!("{u}danmaku/v1")]).starts_with("400"));
    let page = curl(&[u]);
    assert!(page.contains("WebSocket push") && page.contains("HTTP polling"));
}

fn load(u: &str, video: &str, transport: &str) -> serde_json::Value {
    let out = run(&["danmaku-load", u, "--video", video, "--viewers", "5", "--transport", transport, "--senders", "2", "--rate", "10", "--duration", "1.5", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn polling_and_websocket_both_deliver_everything_and_push_is_faster() {
    let s = server();
    let poll = load(&s.url, "p", "poll:300");
    let ws = load(&s.url, "w", "ws");
    for r in [&poll, &ws] {
        assert!(r["comments_sent"].as_u64().unwrap() >= 20);
        assert_eq!(r["deliveries"], r["expected_deliveries"], "every comment reaches every viewer: {r}");
    }
    // Polling: about one request per viewer per interval, many of them empty or late.
    assert!(poll["viewer_requests"].as_u64().unwrap() >= 5 * 4);
    assert_eq!(ws["viewer_requests"], 5, "one WebSocket handshake per viewer");
    let p50 = |r: &serde_json::Value| r["latency"]["p50_ms"].as_f64().unwrap();
    assert!(p50(&ws) < p50(&poll), "push ({} ms) beats polling every 300 ms ({} ms)", p50(&ws), p50(&poll));
    assert!(p50(&poll) > 20.0);
}
