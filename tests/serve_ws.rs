//! `wirelab serve ws` with independent clients: Python's `websockets` (echo of text, binary,
//! 70,000 bytes and fragments, ping, broadcast rooms, 404), and wirelab's own `ws-echo`.

mod common;
use common::*;

use std::process::Command;

fn server() -> Served {
    serve(&["serve", "ws", "--port", "0"])
}

const PY: &str = r#"
import asyncio, sys, websockets
base = sys.argv[1]
async def main():
    async with websockets.connect(base + "echo", compression=None) as ws:
        await ws.send("hello"); assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01"); assert await ws.recv() == b"\x00\x01"
        big = "x" * 70000; await ws.send(big); assert await ws.recv() == big
        await ws.send(["frag ", "mented"]); assert await ws.recv() == "frag mented"
        pong = await ws.ping(b"p"); await asyncio.wait_for(pong, 2)
    # The closing handshake: the server answers a Close with its own (RFC 6455 5.5.1).
    assert ws.close_code == 1000, ("echo close", ws.close_code)
    a = await websockets.connect(base + "chat/room1", compression=None)
    b = await websockets.connect(base + "chat/room1", compression=None)
    c = await websockets.connect(base + "chat/other", compression=None)
    await asyncio.sleep(0.1)
    await a.send("to the room")
    assert await asyncio.wait_for(b.recv(), 2) == "to the room"
    assert await asyncio.wait_for(a.recv(), 2) == "to the room"
    try:
        await asyncio.wait_for(c.recv(), 0.3)
        sys.exit("a message leaked into another room")
    except asyncio.TimeoutError:
        pass
    for w in (a, b, c):
        await w.close()
        assert w.close_code == 1000, ("chat close", w.close_code)
    try:
        await websockets.connect(base + "nowhere")
        sys.exit("expected a 404")
    except websockets.exceptions.InvalidStatus as e:
        assert e.response.status_code == 404
    print("ok")
asyncio.run(main())
"#;

#[test]
fn python_websockets_client_echo_ping_rooms_and_404() {
    let s = server();
    let out = Command::new("python3").args(["-c", PY, &s.url]).output().expect("python3 with websockets (make test installs it)");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn ws_echo_client_reports_rtt_and_throughput() {
    let s = server();
    let out = run(&["ws-echo", &format!("{}echo", s.url), "-n", "200", "-s", "1000", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["messages"], 200);
    assert_eq!(j["rtt"]["count"], 200);
    let (p50, p99, max) = (j["rtt"]["p50_ms"].as_f64().unwrap(), j["rtt"]["p99_ms"].as_f64().unwrap(), j["rtt"]["max_ms"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max);
    assert!(j["messages_per_s"].as_f64().unwrap() > 0.0);
    // Paced: 20 messages at 100/s take about 0.19 s.
    let out = run(&["ws-echo", &format!("{}echo", s.url), "-n", "20", "-r", "100", "--binary", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = j["duration_s"].as_f64().unwrap();
    assert!((0.17..1.0).contains(&d), "paced run took {d} s");
}
