//! `wirelab serve http` as a black box: the real binary on 127.0.0.1:0, driven by curl (an
//! independent client) and by raw sockets for pipelining and hostile input. After every hostile
//! input the server must still answer.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::Duration;

struct Server {
    _served: Served,
    url: String,
    addr: String,
    log: Temp,
}

fn start(extra: &[&str]) -> Server {
    let log = Temp::path("access.csv");
    let served = serve(&[&["serve", "http", "--root", www().to_str().unwrap(), "--port", "0", "--access-log", log.to_str().unwrap()], extra].concat());
    let url = served.url.clone();
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    Server { _served: served, url, addr, log }
}

/// Fetches the given files with one curl invocation (curl reuses its connection when it can).
fn curl_many(s: &Server, files: &[&str]) {
    let urls: Vec<String> = files.iter().map(|p| format!("{}{p}", s.url)).collect();
    let mut args: Vec<&str> = vec![];
    for u in &urls {
        args.extend(["-o", "/dev/null", u.as_str()]);
    }
    curl(&args);
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-s", "--max-time", "10"]).args(args).output().expect("curl (make test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Status code of one request.
fn status(args: &[&str]) -> String {
    let mut a = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    a.extend_from_slice(args);
    curl(&a)
}

/// Access-log rows: (method, target, status, bytes, connection, request number).
fn log_rows(s: &Server) -> Vec<(String, String, u16, u64, u64, u32)> {
    std::thread::sleep(Duration::from_millis(100));
    std::fs::read_to_string(&s.log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let uq = |x: &str| x.trim_matches('"').to_string();
            (uq(f[2]), uq(f[3]), f[4].parse().unwrap(), f[5].parse().unwrap(), f[6].parse().unwrap(), f[7].parse().unwrap())
        })
        .collect()
}

fn still_answers(s: &Server) {
    assert_eq!(status(&[&format!("{}f1.txt", s.url)]), "200", "the server must still answer");
}

/// Sends raw bytes, then reads until the server closes or `wait` passes.
fn raw(s: &Server, bytes: &[u8], wait: Duration) -> Vec<u8> {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(wait)).unwrap();
    c.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

#[test]
fn statuses_head_ranges_and_conditional_get_with_curl() {
    let s = start(&[]);
    let u = |p: &str| format!("{}{p}", s.url);
    assert_eq!(status(&[&u("BaseFile.html")]), "200");
    assert_eq!(status(&[&u("")]), "200", "a directory serves its index.html");
    assert_eq!(status(&[&u("nope.html")]), "404");
    assert_eq!(status(&["-X", "POST", &u("f1.txt")]), "405");
    assert!(curl(&["-i", "-X", "DELETE", &u("f1.txt")]).contains("Allow: GET, HEAD"));
    // HEAD: headers of the GET, no body.
    let head = curl(&["-I", &u("dino.jpg")]);
    let len = std::fs::metadata(www().join("dino.jpg")).unwrap().len();
    for h in ["HTTP/1.1 200 OK", "Content-Type: image/jpeg", &format!("Content-Length: {len}"), "Last-Modified: ", "ETag: ", "Accept-Ranges: bytes", "Date: ", "Server: wirelab"] {
        assert!(head.contains(h), "missing {h:?} in\n{head}");
    }
    // A byte range of the video.
    let part = curl(&["-H", "Range: bytes=100-199", "-D", "-", &u("clip.webm")]);
    let total = std::fs::metadata(www().join("clip.webm")).unwrap().len();
    assert!(part.starts_with("HTTP/1.1 206"), "{part}");
    assert!(part.contains(&format!("Content-Range: bytes 100-199/{total}")));
    assert_eq!(status(&["-H", &format!("Range: bytes={}-", total + 10), &u("clip.webm")]), "416");
    let body = Command::new("curl").args(["-s", "-H", "Range: bytes=-50", &u("clip.webm")]).output().unwrap().stdout;
    assert_eq!(body, std::fs::read(www().join("clip.webm")).unwrap()[total as usize - 50..]);
    // Conditional GET: If-Modified-Since and If-None-Match give 304 with no body.
    let lm = head.lines().find_map(|l| l.strip_prefix("Last-Modified: ")).unwrap().trim().to_string();
    let etag = head.lines().find_map(|l| l.strip_prefix("ETag: ")).unwrap().trim().to_string();
    assert_eq!(status(&["-H", &format!("If-Modified-Since: {lm}"), &u("dino.jpg")]), "304");
    assert_eq!(status(&["-H", &format!("If-None-Match: {etag}"), &u("dino.jpg")]), "304");
    assert_eq!(status(&["-H", "If-None-Match: \"other\"", &u("dino.jpg")]), "200");
    assert_eq!(status(&["-H", "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT", &u("dino.jpg")]), "200");
    // An unsupported version.
    assert!(String::from_utf8_lossy(&raw(&s, b"GET / HTTP/2.0\r\n\r\n", Duration::from_secs(2))).starts_with("HTTP/1.1 505"));
}

#[test]
fn persistent_uses_one_connection_and_non_persistent_one_per_request() {
    let s = start(&[]);
    curl_many(&s, &["f1.txt", "f2.txt", "f3.txt", "dino.jpg"]);
    let rows = log_rows(&s);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.4 == rows[0].4), "keep-alive: one connection for all: {rows:?}");
    assert_eq!(rows.iter().map(|r| r.5).collect::<Vec<_>>(), [1, 2, 3, 4]);

    let s = start(&["--non-persistent"]);
    curl_many(&s, &["f1.txt", "f2.txt", "f3.txt", "dino.jpg"]);
    let rows = log_rows(&s);
    let conns: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.4).collect();
    assert_eq!(conns.len(), 4, "non-persistent: one connection per object: {rows:?}");
    assert!(curl(&["-I", &format!("{}f1.txt", s.url)]).contains("Connection: close"));
}

#[test]
fn keepalive_max_and_timeout_close_the_connection() {
    let s = start(&["--keepalive-max", "2", "--keepalive-timeout", "1"]);
    // Three pipelined requests: the second response says close; the third is never answered.
    let out = raw(&s, b"GET /f1.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /f2.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /f3.txt HTTP/1.1\r\nHost: x\r\n\r\n", Duration::from_secs(3));
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("Keep-Alive: timeout=1, max=1"));
    assert!(text.contains("Connection: close"));
    // Idle timeout: the server closes a quiet connection after 1 s.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /f1.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t0 = std::time::Instant::now();
    let mut all = Vec::new();
    let _ = c.read_to_end(&mut all);
    let waited = t0.elapsed();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "closed after {waited:?}");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = start(&[]);
    let reqs: String = ["f3.txt", "f1.txt", "missing", "f2.txt"].iter().map(|p| format!("GET /{p} HTTP/1.1\r\nHost: x\r\n\r\n")).collect::<String>()
        + "GET /f4.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let out = String::from_utf8_lossy(&raw(&s, reqs.as_bytes(), Duration::from_secs(3))).into_owned();
    let statuses: Vec<&str> = out.match_indices("HTTP/1.1 ").map(|(i, _)| &out[i + 9..i + 12]).collect();
    assert_eq!(statuses, ["200", "200", "404", "200", "200"]);
    let order: Vec<usize> = ["Text object 3 ", "Text object 1 ", "404 Not Found</h1>", "Text object 2 ", "Text object 4 "].iter().map(|m| out.find(m).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "responses in request order");
}

#[test]
fn hostile_inputs_get_clear_errors_and_the_server_stays_up() {
    let s = start(&["--header-timeout", "1", "--max-header-bytes", "4096", "--max-headers", "20"]);
    let first_line = |b: &[u8]| String::from_utf8_lossy(b).lines().next().unwrap_or("").to_string();
    // Path traversal, plain and encoded.
    for t in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/www/..%2f..%2fetc/passwd"] {
        let out = raw(&s, format!("GET {t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(), Duration::from_secs(2));
        assert!(first_line(&out).starts_with("HTTP/1.1 403") || first_line(&out).starts_with("HTTP/1.1 404"), "{t}: {}", first_line(&out));
        assert!(!String::from_utf8_lossy(&out).contains("root:"), "{t} leaked a file");
        still_answers(&s);
    }
    // Oversized header block, and too many header fields.
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(8000));
    assert_eq!(first_line(&raw(&s, big.as_bytes(), Duration::from_secs(2))), "HTTP/1.1 431 Request Header Fields Too Large");
    still_answers(&s);
    let many: String = (0..40).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(first_line(&raw(&s, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), Duration::from_secs(2))), "HTTP/1.1 431 Request Header Fields Too Large");
    still_answers(&s);
    // Garbage bytes.
    assert_eq!(first_line(&raw(&s, b"\x16\x03\x01\x02\x00garbage\r\n\r\n", Duration::from_secs(2))), "HTTP/1.1 400 Bad Request");
    still_answers(&s);
    // Slowloris: a header block that never finishes gets 408 after the header timeout.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t0 = std::time::Instant::now();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        let _ = c.write_all(b"a");
    }
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert_eq!(first_line(&out), "HTTP/1.1 408 Request Timeout");
    assert!(t0.elapsed() < Duration::from_secs(3));
    still_answers(&s);
    // Half-closed: the client sends a request and shuts its write side; it still gets the answer.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /f1.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert!(first_line(&out).starts_with("HTTP/1.1 200"));
    still_answers(&s);
    // A request body over the limit.
    let out = raw(&s, b"GET / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", Duration::from_secs(2));
    assert!(first_line(&out).starts_with("HTTP/1.1 413"), "{}", first_line(&out));
    still_answers(&s);
    // Many connections at once.
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let addr = s.addr.clone();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                c.write_all(b"GET /f10.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
                let mut out = Vec::new();
                c.read_to_end(&mut out).unwrap();
                out.starts_with(b"HTTP/1.1 200")
            })
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().unwrap()));
    still_answers(&s);
    let rows = log_rows(&s);
    assert!(rows.iter().any(|r| r.2 == 408) && rows.iter().any(|r| r.2 == 431) && rows.iter().any(|r| r.2 == 400));
}
