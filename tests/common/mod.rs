//! Shared helpers for integration tests: the wirelab binary, the shared corpus, and tshark as an oracle.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

pub fn wirelab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wirelab"))
}

pub fn run(args: &[&str]) -> Output {
    wirelab().args(args).output().expect("run wirelab")
}

/// The public test captures, beside the checkout as `../shared/corpus`.
pub fn corpus() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = here.join("../shared/corpus/pcapplusplus");
    assert!(p.is_dir(), "corpus not found at {} (it lives beside the checkout in ../shared)", p.display());
    p
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn analyze_json(path: &Path) -> serde_json::Value {
    let out = run(&["analyze", "--json", "-q", path.to_str().unwrap()]);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(3), "analyze {}: {:?}", path.display(), out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("json of {}: {e}", path.display()))
}

/// Whether tshark is installed. CI installs it (`make test` does), so a missing tshark fails
/// there; elsewhere the oracle tests say so loudly and fail too, rather than pass silently.
pub fn tshark() -> Command {
    let mut c = Command::new("tshark");
    c.env("LC_ALL", "C");
    c
}

/// The JSON `tcp` keys that [`tshark_tcp_counts`] returns, in order.
pub const TCP_COUNT_KEYS: [&str; 10] =
    ["connections", "syn", "syn_ack", "fin", "rst", "retransmissions", "out_of_order", "dup_acks", "lost_segments", "zero_windows"];

/// TCP counts according to tshark, in the order of [`TCP_COUNT_KEYS`]. Flags are counted per
/// frame over the first TCP header (not the quoted headers inside ICMP errors); the analysis
/// counts are frames carrying `tcp.analysis.retransmission` (plain, fast and spurious),
/// `.out_of_order`, `.duplicate_ack`, `.lost_segment` and `.zero_window`.
pub fn tshark_tcp_counts(path: &Path) -> [u64; 10] {
    let out = tshark()
        .args(["-r", path.to_str().unwrap(), "-T", "fields", "-E", "separator=;", "-E", "occurrence=f"])
        .args(["-e", "tcp.stream", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset"])
        .args(["-e", "tcp.analysis.retransmission", "-e", "tcp.analysis.out_of_order", "-e", "tcp.analysis.duplicate_ack"])
        .args(["-e", "tcp.analysis.lost_segment", "-e", "tcp.analysis.zero_window", "-e", "icmp.type", "-e", "icmpv6.type"])
        .output()
        .expect("tshark must be installed (make test installs it)");
    assert!(out.status.success(), "tshark failed on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let mut streams = std::collections::BTreeSet::new();
    let mut c = [0u64; 10];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split(';').collect();
        if f[0].is_empty() {
            continue;
        }
        streams.insert(f[0].to_string());
        if !f[10].is_empty() || !f[11].is_empty() {
            // A TCP header quoted in an ICMP error: it belongs to a stream, but its flags are
            // not a packet's own.
            continue;
        }
        let on = |s: &str| s == "1" || s == "True";
        let (syn, ack, fin, rst) = (on(f[1]), on(f[2]), on(f[3]), on(f[4]));
        c[1] += (syn && !ack) as u64;
        c[2] += (syn && ack) as u64;
        c[3] += fin as u64;
        c[4] += rst as u64;
        for k in 5..10 {
            c[k] += (!f[k].is_empty()) as u64;
        }
    }
    c[0] = streams.len() as u64;
    c
}

/// `tshark -q -z follow,tcp,FORMAT,N` for each of `streams`, in one tshark run, keyed by stream.
/// (tshark prints the blocks in reverse order of the `-z` arguments, so each block is matched
/// by its own `Filter: tcp.stream eq N` line.)
pub fn tshark_follow(path: &Path, format: &str, streams: &[u32]) -> std::collections::BTreeMap<u32, String> {
    let mut cmd = tshark();
    cmd.args(["-r", path.to_str().unwrap(), "-q"]);
    for n in streams {
        cmd.args(["-z", &format!("follow,tcp,{format},{n}")]);
    }
    let out = cmd.output().expect("tshark must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = "\n===================================================================\nFollow: ";
    let mut blocks = std::collections::BTreeMap::new();
    for b in text.split(start).skip(1) {
        let block = format!("{start}{b}");
        let n: u32 = block
            .lines()
            .find_map(|l| l.strip_prefix("Filter: tcp.stream eq "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no stream number in tshark block of {}", path.display()));
        blocks.insert(n, block);
    }
    assert_eq!(blocks.len(), streams.len(), "tshark follow output of {}", path.display());
    blocks
}

/// HTTP and WebSocket message counts according to tshark, over TCP only (SSDP's HTTP over UDP
/// is not ours): request methods, response codes and WebSocket opcodes, one entry per message
/// or frame (a packet can carry several pipelined requests).
/// `prefs` are extra `-o` settings.
pub fn tshark_app_counts(path: &Path, prefs: &[&str]) -> (BTreeMap<String, u64>, BTreeMap<String, u64>, BTreeMap<String, u64>) {
    tshark_app_counts_with(path, prefs, &[])
}

/// [`tshark_app_counts`], with "Decode As" HTTP on the given TCP ports: on a non-standard port
/// tshark finds HTTP only by a heuristic, which does not fire on every connection.
pub fn tshark_app_counts_with(path: &Path, prefs: &[&str], http_ports: &[u16]) -> (BTreeMap<String, u64>, BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut cmd = tshark();
    for p in prefs {
        cmd.args(["-o", p]);
    }
    for port in http_ports {
        cmd.args(["-d", &format!("tcp.port=={port},http")]);
    }
    let out = cmd
        .args(["-r", path.to_str().unwrap(), "-Y", "tcp", "-T", "fields", "-E", "separator=;", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "http.request.method", "-e", "http.response.code", "-e", "websocket.opcode"])
        .output()
        .expect("tshark must be installed (make test installs it)");
    assert!(out.status.success(), "tshark failed on {}", path.display());
    let (mut methods, mut codes, mut ops) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split(';').collect();
        for (i, map) in [&mut methods, &mut codes, &mut ops].into_iter().enumerate() {
            for v in f.get(i).unwrap_or(&"").split(',').filter(|v| !v.is_empty()) {
                *map.entry(v.to_string()).or_insert(0u64) += 1;
            }
        }
    }
    let ops = ops
        .into_iter()
        .map(|(k, v)| {
            let name = match k.as_str() {
                "0" => "continuation",
                "1" => "text",
                "2" => "binary",
                "8" => "close",
                "9" => "ping",
                "10" => "pong",
                _ => "reserved",
            };
            (name.to_string(), v)
        })
        .collect();
    (methods, codes, ops)
}

/// Every capture of the corpus and the fixtures.
pub fn all_captures() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().path()).collect();
    files.extend(std::fs::read_dir(fixtures()).into_iter().flatten().map(|e| e.unwrap().path()));
    files.retain(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")));
    files.sort();
    files
}

/// A bundled server run as a child process; killed when dropped.
pub struct Served {
    pub child: Child,
    /// The URL it printed as its first line of stdout.
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `wirelab ARGS` (a `serve` command) and waits for its URL line.
pub fn serve(args: &[&str]) -> Served {
    let mut child = wirelab().args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start wirelab serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("://127.0.0.1:"), "unexpected first line {line:?}");
    Served { child, url: line.trim().to_string() }
}

/// The bundled site.
pub fn www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("www")
}

/// A command that runs wirelab as user `nobody` (no capture rights), from a copy of the binary
/// in a world-readable directory, so that where the build lives does not matter.
pub fn wirelab_as_nobody(dir: &Path) -> Command {
    std::fs::create_dir_all(dir).unwrap();
    let bin = dir.join("wirelab");
    std::fs::copy(env!("CARGO_BIN_EXE_wirelab"), &bin).unwrap();
    let _ = Command::new("chmod").args(["-R", "a+rwX", dir.to_str().unwrap()]).status();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"]).arg(bin).current_dir(dir);
    c
}

/// A file or folder under the temp dir, named `wirelab-<pid>-<n>-<what>` (so `what` keeps its
/// extension), removed when dropped (also when the test fails): a test run leaves nothing behind.
pub struct Temp(PathBuf);

impl Temp {
    /// A path for a file; nothing is created.
    pub fn path(what: &str) -> Temp {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Temp(std::env::temp_dir().join(format!("wirelab-{}-{n}-{what}", std::process::id())))
    }

    /// A new, empty folder.
    pub fn dir(what: &str) -> Temp {
        let t = Temp::path(what);
        let _ = std::fs::remove_dir_all(&t.0);
        std::fs::create_dir_all(&t.0).unwrap();
        t
    }
}

impl std::ops::Deref for Temp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Temp {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Temp {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
