//! The hostile-client battery (issue 12): every defect found by attacking the bundled servers
//! with raw sockets on 127.0.0.1, replayed. After each attack the server must still answer a
//! normal request, and its resident memory (VmRSS of the `wirelab serve` process) must stay
//! under [`RSS_BOUND_KB`]. The loops are bounded; the whole battery runs in well under a minute.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Resident memory a server may hold during and after any attack here. Before the fixes the
/// same attacks (at their full size) held 0.6 to 1.3 GB.
const RSS_BOUND_KB: u64 = 150 * 1024;

/// A server process for one test, its stderr kept in a file (to check what it logged).
struct Srv {
    child: Child,
    url: String,
    addr: String,
    stderr: PathBuf,
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    std::env::temp_dir().join(format!("wirelab-hostile-{}-{}-{name}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)))
}

/// Starts `wirelab ARGS`, optionally under `prlimit --nofile=N` (prlimit execs, so the pid is
/// the server's).
fn start(args: &[&str], nofile: Option<u32>) -> Srv {
    let stderr = tmp("stderr.txt");
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg(env!("CARGO_BIN_EXE_wirelab"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_wirelab")),
    };
    let mut child = cmd.args(args).stdout(Stdio::piped()).stderr(std::fs::File::create(&stderr).unwrap()).spawn().expect("start wirelab serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("://127.0.0.1:"), "unexpected first line {line:?}");
    let url = line.trim().to_string();
    let addr = url.split("://").nth(1).unwrap().trim_end_matches('/').to_string();
    Srv { child, url, addr, stderr }
}

impl Srv {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_kb(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("the server is running");
        s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap()
    }

    /// User + system CPU time in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let f: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    fn assert_rss(&self, what: &str) {
        let rss = self.rss_kb();
        assert!(rss < RSS_BOUND_KB, "{what}: server RSS {rss} kB over the bound of {RSS_BOUND_KB} kB");
    }

    /// Descriptors the server has open.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count()
    }

    fn logged(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// Sends `bytes`, half-closes only if `shut`, and reads until the server closes or `wait` passes.
fn raw(addr: &str, bytes: &[u8], wait: Duration) -> Vec<u8> {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(wait)).unwrap();
    c.write_all(bytes).unwrap();
    read_all(&mut c)
}

/// A 4 KiB receive buffer: a client that does not read then ties up little kernel memory.
fn small_rcvbuf(c: &TcpStream) {
    use std::os::fd::AsRawFd;
    let v: libc::c_int = 4096;
    // SAFETY: setsockopt on an open socket with a pointer to a c_int and its size.
    let r = unsafe { libc::setsockopt(c.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, &v as *const _ as *const libc::c_void, std::mem::size_of::<libc::c_int>() as libc::socklen_t) };
    assert_eq!(r, 0);
}

fn read_all(c: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn status_of(resp: &[u8]) -> u16 {
    text(resp).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// One HTTP/1.1 request with `Connection: close`; the response's status and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let resp = raw(addr, req.as_bytes(), Duration::from_secs(10));
    let t = text(&resp);
    (status_of(&resp), t.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default())
}

/// The normal request each kind of server must still answer.
fn http_still_answers(s: &Srv) {
    let (code, body) = http(&s.addr, "GET", "/f1.txt", "");
    assert_eq!(code, 200, "serve http must still answer");
    assert!(!body.is_empty());
}

fn danmaku_still_answers(s: &Srv) {
    let (code, body) = http(&s.addr, "GET", "/stats", "");
    assert_eq!(code, 200, "serve danmaku must still answer");
    serde_json::from_str::<serde_json::Value>(&body).expect("stats JSON");
}

/// A WebSocket round trip over a raw socket: handshake, one masked text frame, its echo.
fn ws_still_echoes(s: &Srv) {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut b).expect("handshake response");
        head.push(b[0]);
    }
    assert!(text(&head).starts_with("HTTP/1.1 101"), "{}", text(&head));
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 5];
    frame.extend_from_slice(&mask);
    frame.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    c.write_all(&frame).unwrap();
    let mut reply = [0u8; 7];
    c.read_exact(&mut reply).expect("the echo");
    assert_eq!(&reply, b"\x81\x05hello", "serve ws must still echo");
}

fn python(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 with websockets (make pydeps)");
    assert!(out.status.success(), "python attack failed:\n{}{}", text(&out.stdout), text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("python output {e}: {}", text(&out.stdout)))
}

/// Shared Python helpers for the WebSocket attacks: RSS of a pid, a raw client (handshake,
/// masked frames, reading frames to the close code).
const PY_LIB: &str = r#"
import base64, json, os, socket, struct, sys, threading, time
def rss_kb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
def raw_ws(addr, path, rcvbuf=None):
    host, port = addr.split(":")
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        c = s.recv(1)
        if not c:
            raise SystemExit("closed during the handshake")
        head += c
    assert head.startswith(b"HTTP/1.1 101"), head
    return s
def frame(opcode, payload, fin=True):
    mask = os.urandom(4)
    n = len(payload)
    h = bytes([(0x80 if fin else 0) | opcode])
    if n < 126: h += bytes([0x80 | n])
    elif n < 65536: h += bytes([0x80 | 126]) + struct.pack("!H", n)
    else: h += bytes([0x80 | 127]) + struct.pack("!Q", n)
    # XOR by whole words: fast enough for megabytes.
    m = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") if n else b""
    return h + mask + body
def close_code(s, timeout=15):
    """Reads frames until a close frame (its code) or the end of the connection (None)."""
    s.settimeout(timeout)
    buf = b""
    def need(k):
        nonlocal buf
        while len(buf) < k:
            try:
                c = s.recv(1 << 20)
            except OSError:
                return False
            if not c:
                return False
            buf += c
        return True
    while True:
        if not need(2): return None
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        at = 2
        if n == 126:
            if not need(4): return None
            n = struct.unpack("!H", buf[2:4])[0]; at = 4
        elif n == 127:
            if not need(10): return None
            n = struct.unpack("!Q", buf[2:10])[0]; at = 10
        if not need(at + n): return None
        payload = buf[at:at + n]; buf = buf[at + n:]
        if op == 8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
"#;

// ---------------------------------------------------------------- defect 1

#[test]
fn d1_danmaku_non_ascii_text_over_500_bytes_is_cut_on_a_character_boundary_over_rest_and_ws() {
    let s = start(&["serve", "danmaku", "--port", "0"], None);
    let long = "弾".repeat(300); // 900 bytes; byte 500 falls inside a character
    let (code, body) = http(&s.addr, "POST", "/danmaku/v", &serde_json::json!({ "text": long }).to_string());
    assert_eq!(code, 201, "{body}");
    let c: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(c["text"].as_str().unwrap(), "弾".repeat(166), "cut to 498 bytes, whole characters");
    let py = format!(
        "{PY_LIB}\nimport asyncio, websockets\nasync def main():\n    async with websockets.connect('ws://{}/ws/danmaku/v', compression=None) as ws:\n        await ws.send(json.dumps({{'text': 'é' * 400 + '弾'}}))\n        got = json.loads(await asyncio.wait_for(ws.recv(), 5))\n        print(json.dumps({{'len': len(got['text'].encode())}}))\nasyncio.run(main())\n",
        s.addr
    );
    let r = python(&py, &[]);
    assert_eq!(r["len"], 500, "400 two-byte characters: 800 bytes cut to 500");
    let (_, list) = http(&s.addr, "GET", "/danmaku/v?since=0", "");
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let (_, stats) = http(&s.addr, "GET", "/stats", "");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(stats["v"]["comments"], 2, "/stats agrees with /danmaku/v: {stats}");
    assert_eq!(list.iter().map(|c| c["id"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2], "no comment id was used up by a crash");
    danmaku_still_answers(&s);
    s.assert_rss("non-ASCII comments");
}

// ---------------------------------------------------------------- defect 2

#[test]
fn d2_http_conflicting_or_malformed_content_length_is_400_and_nothing_is_smuggled() {
    let www = www();
    let s = start(&["serve", "http", "--root", www.to_str().unwrap(), "--port", "0"], None);
    let smuggled = "GET /f2.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for cl in [format!("Content-Length: 0\r\nContent-Length: {}", smuggled.len()), "Content-Length: +33".into(), "Content-Length: 033".into(), "Content-Length: -1".into(), "Content-Length: 5, 6".into()] {
        let req = format!("GET /f1.txt HTTP/1.1\r\nHost: x\r\n{cl}\r\n\r\n{smuggled}");
        let resp = text(&raw(&s.addr, req.as_bytes(), Duration::from_secs(5)));
        assert!(resp.starts_with("HTTP/1.1 400"), "{cl:?}: {resp}");
        assert_eq!(resp.matches("HTTP/1.1 ").count(), 1, "{cl:?}: one response, no smuggled second request: {resp}");
        assert!(resp.contains("Connection: close"));
    }
    // Identical repeated values are one length (RFC 9112 §6.3 allows accepting them).
    let resp = text(&raw(&s.addr, b"GET /f1.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", Duration::from_secs(5)));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    http_still_answers(&s);
    s.assert_rss("Content-Length attacks");
}

// ---------------------------------------------------------------- defect 3

#[test]
fn d3_http_clients_that_never_read_time_out_and_hold_bounded_memory() {
    let root = tmp("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(www().join("f1.txt"), root.join("f1.txt")).unwrap();
    // 50 MB of bytes (a sparse file reads as zeros; the server cannot tell).
    std::fs::File::create(root.join("big.bin")).unwrap().set_len(50 << 20).unwrap();
    let s = start(&["serve", "http", "--root", root.to_str().unwrap(), "--port", "0", "--send-timeout", "2"], None);
    let fds0 = s.open_fds();
    let clients: Vec<TcpStream> = (0..100)
        .map(|_| {
            let c = TcpStream::connect(&s.addr).unwrap();
            small_rcvbuf(&c);
            (&c).write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    assert!(s.open_fds() >= fds0 + 100, "the server holds the 100 stalled connections");
    // 100 stalled 50 MB responses: at most a 64 KiB chunk each in the server's memory.
    s.assert_rss("100 clients that never read a 50 MB response");
    http_still_answers(&s);
    // Past the send timeout (2 s without progress), every stalled connection was closed.
    let t0 = Instant::now();
    while s.open_fds() > fds0 + 2 {
        assert!(t0.elapsed() < Duration::from_secs(10), "stalled connections still open: {} descriptors, {fds0} at the start", s.open_fds());
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(clients);
    http_still_answers(&s);
    s.assert_rss("after the send timeouts");
    let _ = std::fs::remove_dir_all(root);
}

// ---------------------------------------------------------------- defect 4

#[test]
fn d4_ws_unfinished_handshakes_are_dropped_after_the_handshake_timeout() {
    let s = start(&["serve", "ws", "--port", "0", "--handshake-timeout", "1"], None);
    let mut half: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n").unwrap();
            c
        })
        .collect();
    let t0 = Instant::now();
    for c in &mut half {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 64];
        let r = c.read(&mut b);
        assert!(matches!(r, Ok(0) | Err(_)), "a half-open handshake must be closed, got {r:?}");
    }
    assert!(t0.elapsed() < Duration::from_secs(8), "all 50 closed within the timeout (took {:?})", t0.elapsed());
    ws_still_echoes(&s);
    s.assert_rss("half-open handshakes");
}

// ---------------------------------------------------------------- defect 5

/// Holds more connections than the server has descriptors, and checks that the server
/// neither spins (CPU) nor stops serving once they are gone, and logged the error once.
fn accept_errors_back_off(s: &Srv, still_answers: impl Fn(&Srv)) {
    let held: Vec<TcpStream> = (0..120).filter_map(|_| TcpStream::connect(&s.addr).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let (c0, t0) = (s.cpu_ticks(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let cpu = (s.cpu_ticks() - c0) as f64 / 100.0 / t0.elapsed().as_secs_f64();
    assert!(cpu < 0.3, "out of descriptors, the server used {:.0}% of a CPU (it must back off, not spin)", cpu * 100.0);
    drop(held);
    std::thread::sleep(Duration::from_millis(1500));
    still_answers(s);
    let log = s.logged();
    assert_eq!(log.matches("accept failed").count(), 1, "the accept error is logged once: {log}");
    assert!(log.contains("ulimit -n"), "{log}");
    s.assert_rss("out of descriptors");
}

#[test]
fn d5_ws_and_danmaku_back_off_when_out_of_file_descriptors() {
    let ws = start(&["serve", "ws", "--port", "0", "--threads", "1"], Some(48));
    accept_errors_back_off(&ws, ws_still_echoes);
    let dm = start(&["serve", "danmaku", "--port", "0", "--threads", "1"], Some(48));
    accept_errors_back_off(&dm, danmaku_still_answers);
    let www = www();
    let http = start(&["serve", "http", "--root", www.to_str().unwrap(), "--port", "0", "--threads", "1"], Some(48));
    accept_errors_back_off(&http, http_still_answers);
}

// ---------------------------------------------------------------- defect 6

const PY_SLOW_CHAT: &str = r#"
import asyncio, websockets
addr, pid = sys.argv[1], int(sys.argv[2])
slow = raw_ws(addr, "/chat/r", rcvbuf=4096)   # subscribes, then does not read
go = threading.Event(); code = {}
def drain():
    go.wait(); code["slow"] = close_code(slow)
t = threading.Thread(target=drain, daemon=True); t.start()
peak = 0
async def main():
    global peak
    async with websockets.connect(f"ws://{addr}/chat/r", compression=None, max_size=None) as pub:
        got = 0
        async def reader():
            nonlocal got
            async for m in pub:
                got += 1
        r = asyncio.create_task(reader())
        msg = "x" * 1_000_000
        for i in range(150):
            await pub.send(msg)
            if i % 10 == 0:
                peak = max(peak, rss_kb(pid))
            if i == 60:
                go.set()   # long after the slow one's queue overflowed
        await asyncio.sleep(0.5)
        peak = max(peak, rss_kb(pid))
        r.cancel()
        return got
try:
    got = asyncio.run(asyncio.wait_for(main(), 60))
finally:
    go.set()
t.join(20)
print(json.dumps({"peak_kb": peak, "slow_close": code.get("slow"), "publisher_got": got}))
"#;

const PY_BIG_MESSAGES: &str = r#"
addr, pid = sys.argv[1], int(sys.argv[2])
codes = []; peak = 0
def fragmented():
    # An unfinished message: 5 fragments of 1 MiB (the limit is 4 MiB), never a final frame.
    s = raw_ws(addr, "/echo")
    chunk = b"x" * (1 << 20)
    try:
        s.sendall(frame(1, chunk, fin=False))
        for _ in range(4):
            s.sendall(frame(0, chunk, fin=False))
    except OSError:
        pass
    codes.append(close_code(s))
ts = [threading.Thread(target=fragmented) for _ in range(10)]
for t in ts: t.start()
while any(t.is_alive() for t in ts):
    peak = max(peak, rss_kb(pid)); time.sleep(0.05)
# One frame that announces 100 MB: refused from its header.
s = raw_ws(addr, "/echo")
s.sendall(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 100 << 20) + os.urandom(4))
big = close_code(s)
peak = max(peak, rss_kb(pid))
print(json.dumps({"fragmented": codes, "big_frame": big, "peak_kb": peak}))
"#;

#[test]
fn d6_ws_slow_chat_subscriber_is_dropped_with_1008_and_memory_stays_bounded() {
    let s = start(&["serve", "ws", "--port", "0"], None);
    let r = python(&format!("{PY_LIB}{PY_SLOW_CHAT}"), &[&s.addr, &s.pid().to_string()]);
    assert_eq!(r["slow_close"], 1008, "the slow subscriber is dropped with 1008: {r}");
    assert_eq!(r["publisher_got"], 150, "the reading subscriber got every message: {r}");
    assert!(r["peak_kb"].as_u64().unwrap() < RSS_BOUND_KB, "peak RSS during 150 x 1 MB to a non-reader: {r}");
    assert!(s.logged().contains("dropped 1 slow subscriber"), "{}", s.logged());
    ws_still_echoes(&s);
    s.assert_rss("slow chat subscriber");
}

#[test]
fn d6_ws_messages_and_frames_over_the_limit_are_closed_with_1009() {
    let s = start(&["serve", "ws", "--port", "0", "--max-message", "4194304", "--max-frame", "1048576"], None);
    let r = python(&format!("{PY_LIB}{PY_BIG_MESSAGES}"), &[&s.addr, &s.pid().to_string()]);
    assert_eq!(r["fragmented"], serde_json::json!(vec![1009; 10]), "{r}");
    assert_eq!(r["big_frame"], 1009, "{r}");
    assert!(r["peak_kb"].as_u64().unwrap() < RSS_BOUND_KB, "{r}");
    ws_still_echoes(&s);
    s.assert_rss("oversized messages");
}

// ---------------------------------------------------------------- defect 6 (danmaku push) and 7

const PY_SLOW_DANMAKU: &str = r##"
addr, pid = sys.argv[1], int(sys.argv[2])
slow = raw_ws(addr, "/ws/danmaku/v", rcvbuf=4096)   # subscribes, then does not read
host, port = addr.split(":")
def get(path):
    c = socket.create_connection((host, int(port)))
    c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    out = b""
    while (d := c.recv(65536)): out += d
    return json.loads(out.split(b"\r\n\r\n", 1)[1])
post = socket.create_connection((host, int(port)))
body = json.dumps({"text": "y" * 500, "color": "#abcdef"}).encode()
req = b"POST /danmaku/v HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
answered = [0]
def sink():
    tail = b""
    while answered[0] < 12000 and (d := post.recv(1 << 16)):
        tail += d
        answered[0] += tail.count(b"HTTP/1.1 201")
        tail = tail[-20:] if not tail.endswith(b"HTTP/1.1 201") else b""
sk = threading.Thread(target=sink, daemon=True); sk.start()
def poster():
    for i in range(30):
        post.sendall(req * 400)   # 12,000 comments, pipelined
threading.Thread(target=poster, daemon=True).start()
peak, t0 = 0, time.time()
while get("/stats").get("v", {}).get("dropped_slow", 0) < 1 and time.time() - t0 < 30:
    peak = max(peak, rss_kb(pid)); time.sleep(0.05)
code = close_code(slow)        # now read: what was queued, then the close
sk.join(30)
peak = max(peak, rss_kb(pid))
print(json.dumps({"slow_close": code, "peak_kb": peak, "answered": answered[0]}))
"##;

#[test]
fn d6_d7_danmaku_slow_push_subscriber_is_dropped_and_counted() {
    let s = start(&["serve", "danmaku", "--port", "0"], None);
    let r = python(&format!("{PY_LIB}{PY_SLOW_DANMAKU}"), &[&s.addr, &s.pid().to_string()]);
    assert_eq!(r["slow_close"], 1008, "{r}");
    assert_eq!(r["answered"], 12000, "{r}");
    assert!(r["peak_kb"].as_u64().unwrap() < RSS_BOUND_KB, "{r}");
    let (_, stats) = http(&s.addr, "GET", "/stats", "");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["v"]["dropped_slow"], 1, "{stats}");
    assert_eq!(stats["v"]["comments"], 12000, "{stats}");
    assert_eq!(stats["v"]["kept"], 1000, "history is bounded: {stats}");
    let (_, list) = http(&s.addr, "GET", "/danmaku/v?since=0", "");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&list).unwrap().len(), 1000);
    danmaku_still_answers(&s);
    s.assert_rss("slow push subscriber");
}

#[test]
fn d7_danmaku_videos_fields_and_colours_are_bounded_and_validated() {
    let s = start(&["serve", "danmaku", "--port", "0", "--max-videos", "50", "--history", "20"], None);
    let ok = serde_json::json!({ "text": "hi", "color": "#fff" }).to_string();
    // Distinct video names: 50 are held, the rest refused without growing the state.
    let mut req = Vec::new();
    for i in 0..2000 {
        req.extend(format!("POST /danmaku/vid{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{ok}", ok.len()).into_bytes());
    }
    req.extend(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let resp = text(&raw(&s.addr, &req, Duration::from_secs(20)));
    assert_eq!(resp.matches("HTTP/1.1 201").count(), 50, "{}", &resp[..300.min(resp.len())]);
    assert_eq!(resp.matches("HTTP/1.1 503").count(), 1950);
    // GETs of unknown videos create nothing.
    for i in 0..200 {
        assert_eq!(http(&s.addr, "GET", &format!("/danmaku/other{i}?since=0"), "").0, 200);
    }
    let (_, stats) = http(&s.addr, "GET", "/stats", "");
    assert_eq!(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&stats).unwrap().len(), 50);
    // Fields: colour validated and bounded, empty text refused, history bounded.
    let post = |body: serde_json::Value| http(&s.addr, "POST", "/danmaku/vid0", &body.to_string()).0;
    assert_eq!(post(serde_json::json!({ "text": "x", "color": "#".repeat(60_000) })), 400);
    assert_eq!(post(serde_json::json!({ "text": "x", "color": "red;background:url(//x)" })), 400);
    assert_eq!(post(serde_json::json!({ "text": "x", "color": "rgb(1, 2, 3)" })), 201);
    assert_eq!(post(serde_json::json!({ "text": "x", "color": "tomato" })), 201);
    assert_eq!(post(serde_json::json!({ "text": "" })), 400);
    assert_eq!(post(serde_json::json!({ "text": "   " })), 400);
    for _ in 0..30 {
        assert_eq!(post(serde_json::json!({ "text": "z".repeat(2000) })), 201);
    }
    let (_, list) = http(&s.addr, "GET", "/danmaku/vid0?since=0", "");
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(list.len(), 20, "history bounded to --history");
    assert!(list.iter().all(|c| c["text"].as_str().unwrap().len() <= 500 && c["color"].as_str().unwrap().len() <= 64));
    danmaku_still_answers(&s);
    s.assert_rss("many videos and big fields");
}

// ---------------------------------------------------------------- defect 8

#[test]
fn d8_danmaku_http_edge_cases_get_413_and_400_not_a_reset() {
    let s = start(&["serve", "danmaku", "--port", "0"], None);
    // A 100 kB body: a 413 response (then a FIN), not a RST.
    let body = format!("{{\"text\":\"{}\"}}", "a".repeat(100_000));
    let req = format!("POST /danmaku/v HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match c.read(&mut buf) {
            Ok(0) => break "FIN".to_string(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break format!("{e}"),
        }
    };
    assert!(text(&got).starts_with("HTTP/1.1 413"), "{}", text(&got));
    assert_eq!(end, "FIN", "the connection ends with a FIN, not a reset");
    for cl in ["Content-Length: -1", "Content-Length: +5", "Content-Length: 5\r\nContent-Length: 6", "Transfer-Encoding: chunked"] {
        let req = format!("POST /danmaku/v HTTP/1.1\r\nHost: x\r\n{cl}\r\n\r\n{{\"text\":\"x\"}}");
        let resp = text(&raw(&s.addr, req.as_bytes(), Duration::from_secs(5)));
        assert!(resp.starts_with("HTTP/1.1 400"), "{cl:?}: {resp}");
    }
    let (_, stats) = http(&s.addr, "GET", "/stats", "");
    assert_eq!(stats.trim(), "{}", "nothing was stored by a refused request");
    danmaku_still_answers(&s);
    s.assert_rss("HTTP edge cases");
}

// ---------------------------------------------------------------- defect 9

#[test]
fn d9_danmaku_load_out_of_descriptors_fails_fast_naming_ulimit() {
    let s = start(&["serve", "danmaku", "--port", "0"], None);
    let t0 = Instant::now();
    let out = Command::new("prlimit")
        .arg("--nofile=256:256")
        .arg(env!("CARGO_BIN_EXE_wirelab"))
        .args(["danmaku-load", &s.url, "--viewers", "2000", "--transport", "ws", "--senders", "1", "--duration", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(t0.elapsed() < Duration::from_secs(20), "it fails, not hangs");
    let err = text(&out.stderr);
    assert!(err.contains("ulimit -n") && err.contains("256"), "{err}");
    // Under the hard limit, the soft limit is raised and the load runs.
    let out = Command::new("prlimit")
        .arg("--nofile=64:4096")
        .arg(env!("CARGO_BIN_EXE_wirelab"))
        .args(["danmaku-load", &s.url, "--viewers", "200", "--transport", "ws", "--senders", "1", "--rate", "5", "--duration", "1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    danmaku_still_answers(&s);
    s.assert_rss("danmaku-load");
}

// ---------------------------------------------------------------- defect 10

#[test]
fn d10_a_trailing_slash_after_a_file_is_404() {
    let www = www();
    let s = start(&["serve", "http", "--root", www.to_str().unwrap(), "--port", "0"], None);
    assert_eq!(http(&s.addr, "GET", "/BaseFile.html/", "").0, 404);
    assert_eq!(http(&s.addr, "GET", "/BaseFile.html/x", "").0, 404);
    assert_eq!(http(&s.addr, "GET", "/BaseFile.html", "").0, 200);
    assert_eq!(http(&s.addr, "GET", "/", "").0, 200, "a directory with a slash gets its index");
    http_still_answers(&s);
}

// ---------------------------------------------------------------- defect 11 (the CLI side)

#[test]
fn d11_sigterm_stops_each_server_cleanly() {
    let www = www();
    for args in [vec!["serve", "http", "--root", www.to_str().unwrap(), "--port", "0"], vec!["serve", "ws", "--port", "0"], vec!["serve", "danmaku", "--port", "0"]] {
        let mut s = start(&args, None);
        // An idle keep-alive connection does not hold the shutdown up.
        let _idle = TcpStream::connect(&s.addr).unwrap();
        let t0 = Instant::now();
        Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().unwrap();
        let status = loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                break st;
            }
            assert!(t0.elapsed() < Duration::from_secs(8), "{args:?} did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{args:?}: {status:?}");
        assert!(TcpStream::connect(&s.addr).is_err(), "{args:?}: nothing listens any more");
    }
}

// ---------------------------------------------------------------- defect 11 (the library API)
// `run(listener, cfg, shutdown)`, as the scenario runner calls it: an in-flight response
// completes, `run` returns, and nothing is left listening.

mod shutdown {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::Message;
    use wirelab::server::{danmaku, http, ws};

    async fn listener() -> (TcpListener, String) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap().to_string();
        (l, a)
    }

    fn signal() -> (oneshot::Sender<()>, impl std::future::Future<Output = ()> + Send) {
        let (tx, rx) = oneshot::channel::<()>();
        (tx, async move {
            let _ = rx.await;
        })
    }

    async fn nothing_listens(addr: &str) {
        assert!(TcpStream::connect(addr).await.is_err(), "nothing listens on {addr} after run returned");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_in_flight_response_completes_then_run_returns() {
        let root = super::tmp("shutdown-root");
        std::fs::create_dir_all(&root).unwrap();
        let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("big.bin"), &data).unwrap();
        let (l, addr) = listener().await;
        let (stop, on_stop) = signal();
        let cfg = http::HttpServerConfig { root: root.clone(), ..Default::default() };
        let server = tokio::spawn(http::run(l, cfg, on_stop));
        let mut idle = TcpStream::connect(&addr).await.unwrap();
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut got = vec![0u8; 100_000];
        c.read_exact(&mut got).await.unwrap();
        // Shutdown while 8 MB are still on their way; the client keeps reading, slowly.
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.read_to_end(&mut got).await.unwrap();
        let at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(got.len() - at, data.len(), "the in-flight response completed");
        assert!(got[at..] == data[..]);
        // The idle keep-alive connection was closed rather than waited for.
        let mut b = [0u8; 1];
        assert_eq!(tokio::time::timeout(Duration::from_secs(3), idle.read(&mut b)).await.unwrap().unwrap_or(0), 0);
        let r = tokio::time::timeout(Duration::from_secs(3), server).await.expect("run returned after the response");
        assert!(r.unwrap().is_ok());
        nothing_listens(&addr).await;
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_grace_period_bounds_the_wait_for_a_client_that_never_reads() {
        let root = super::tmp("grace-root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::File::create(root.join("big.bin")).unwrap().set_len(64 << 20).unwrap();
        let (l, addr) = listener().await;
        let (stop, on_stop) = signal();
        let cfg = http::HttpServerConfig { root: root.clone(), grace: Duration::from_secs(1), ..Default::default() };
        let server = tokio::spawn(http::run(l, cfg, on_stop));
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t0 = std::time::Instant::now();
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(4), server).await.expect("run returned after the grace period").unwrap().unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(900), "the grace period was given");
        nothing_listens(&addr).await;
        drop(c);
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ws_open_sockets_get_1001_then_run_returns() {
        let (l, addr) = listener().await;
        let (stop, on_stop) = signal();
        let server = tokio::spawn(ws::run(l, ws::WsServerConfig::default(), on_stop));
        let (mut echo, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/echo")).await.unwrap();
        let (mut chat, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/chat/r")).await.unwrap();
        echo.send(Message::text("before")).await.unwrap();
        assert_eq!(echo.next().await.unwrap().unwrap(), Message::text("before"));
        stop.send(()).unwrap();
        for c in [&mut echo, &mut chat] {
            match tokio::time::timeout(Duration::from_secs(3), c.next()).await.unwrap() {
                Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Away),
                other => panic!("expected a 1001 close, got {other:?}"),
            }
        }
        drop((echo, chat));
        tokio::time::timeout(Duration::from_secs(3), server).await.expect("run returned").unwrap().unwrap();
        nothing_listens(&addr).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn danmaku_request_in_flight_is_answered_then_run_returns() {
        let (l, addr) = listener().await;
        let (stop, on_stop) = signal();
        let server = tokio::spawn(danmaku::run(l, danmaku::DanmakuConfig::default(), on_stop));
        let (mut push, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/danmaku/v")).await.unwrap();
        let body = br##"{"text":"last words","color":"#fff"}"##;
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(format!("POST /danmaku/v HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes()).await.unwrap();
        c.write_all(&body[..10]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.write_all(&body[10..]).await.unwrap();
        let mut resp = String::new();
        tokio::time::timeout(Duration::from_secs(3), c.read_to_string(&mut resp)).await.unwrap().unwrap();
        assert!(resp.starts_with("HTTP/1.1 201") && resp.contains("Connection: close") && resp.contains("last words"), "{resp}");
        loop {
            match tokio::time::timeout(Duration::from_secs(3), push.next()).await.unwrap() {
                Some(Ok(Message::Text(_))) => continue, // the comment, pushed before the close
                Some(Ok(Message::Close(Some(f)))) => {
                    assert_eq!(f.code, CloseCode::Away);
                    break;
                }
                other => panic!("expected a 1001 close, got {other:?}"),
            }
        }
        drop(push);
        tokio::time::timeout(Duration::from_secs(3), server).await.expect("run returned").unwrap().unwrap();
        nothing_listens(&addr).await;
    }
}
