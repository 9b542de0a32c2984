//! The emulated link end to end (needs root, as CI runs): handshake RTT in the client-side capture, rate, loss against tshark, the library API from tokio, clean-up on every kind of exit, and the privilege message.
//!
//! The tests run one at a time (a lock): they time packets, and the machine has two cores.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Privileged tests say so, and fail, when not run as root: they must not pass silently.
fn need_root() {
    assert!(is_root(), "the link tests need root (CI runs as root)");
}

fn namespaces_of(pid: u32) -> Vec<String> {
    let prefix = format!("wirelab-{pid}-");
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with(&prefix)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap().success());
}

/// `wirelab link ARGS`, up; SIGINT and wait when dropped (so a failing test still cleans up).
struct Link {
    child: Option<Child>,
    pid: u32,
    srv: String,
    cli: String,
    server_addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Link {
    fn up(args: &[&str]) -> Link {
        let mut child = wirelab().arg("link").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let pid = child.id();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut srv, mut cli, mut server_addr) = (String::new(), String::new(), String::new());
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("wirelab link exited before the link was up: {err}");
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.first() {
                Some(&"server:") => (srv, server_addr) = (f[2].into(), f[4].into()),
                Some(&"client:") => cli = f[2].into(),
                Some(&"link") => break,
                _ => {}
            }
        }
        assert_eq!(namespaces_of(pid), vec![cli.clone(), srv.clone()]);
        Link { child: Some(child), pid, srv, cli, server_addr, stdout }
    }

    /// SIGINT, as Ctrl-C; returns the exit code and the rest of its stdout.
    fn stop(mut self) -> (Option<i32>, String) {
        signal(self.pid, "INT");
        let code = self.child.take().unwrap().wait().unwrap().code();
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (code, rest)
    }

    /// `ip netns exec NS wirelab ARGS`.
    fn wirelab_in(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_wirelab")]).args(args);
        c
    }

    /// `wirelab serve http --root ROOT` on the server address, in the server namespace.
    fn serve(&self, root: &Path) -> (Child, String) {
        let mut child = self
            .wirelab_in(&self.srv, &["serve", "http", "--root", root.to_str().unwrap(), "--bind", &self.server_addr, "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with(&format!("http://{}:", self.server_addr)), "{line:?}");
        (child, line.trim().to_string())
    }

    /// `wirelab fetch URL --mode MODE --json` in the client namespace.
    fn fetch(&self, url: &str, mode: &str) -> serde_json::Value {
        let o = self.wirelab_in(&self.cli, &["fetch", url, "--mode", mode, "--json"]).output().unwrap();
        assert!(o.status.success(), "fetch {url}: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &self.pid.to_string()]).status();
            let _ = c.wait();
        }
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wirelab-link-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (stream, seconds since the epoch, is SYN-ACK) of every SYN and SYN-ACK, according to tshark.
fn tshark_handshakes(cap: &Path) -> Vec<(u64, f64, bool)> {
    let o = tshark()
        .args(["-r", cap.to_str().unwrap(), "-Y", "tcp.flags.syn == 1", "-T", "fields", "-e", "tcp.stream", "-e", "frame.time_epoch", "-e", "tcp.flags.ack"])
        .output()
        .expect("tshark must be installed (make test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2] == "1" || f[2] == "True")
        })
        .collect()
}

#[test]
fn syn_to_syn_ack_in_the_client_capture_is_the_configured_rtt() {
    need_root();
    let _g = serial();
    let dir = tmp("rtt");
    let cap = dir.join("c.pcapng");
    let link = Link::up(&["--rtt-ms", "50", "--capture", cap.to_str().unwrap()]);
    let (mut server, url) = link.serve(&www());
    let mut connections = 0;
    for _ in 0..3 {
        let page = link.fetch(&format!("{url}BaseFile.html"), "non-persistent");
        connections += page[0]["objects"].as_array().unwrap().len() + 1;
    }
    let _ = server.kill();
    let _ = server.wait();
    let (code, rest) = link.stop();
    assert_eq!(code, Some(0), "{rest}");
    let hs = tshark_handshakes(&cap);
    let streams: std::collections::BTreeSet<u64> = hs.iter().map(|h| h.0).collect();
    assert_eq!(streams.len(), connections, "one connection per object and the base: {hs:?}");
    let mut spacing: Vec<f64> = streams
        .iter()
        .map(|&s| {
            let syn = hs.iter().find(|h| h.0 == s && !h.2).unwrap().1;
            let syn_ack = hs.iter().find(|h| h.0 == s && h.2).unwrap().1;
            (syn_ack - syn) * 1e3
        })
        .collect();
    spacing.sort_by(f64::total_cmp);
    // Never early: the link holds every packet for half the RTT each way.
    assert!(spacing[0] >= 50.0 - 0.01, "a handshake faster than the RTT: {spacing:?}");
    // The configured RTT, precisely: the median handshake is within 1 ms of it. A packet that
    // the shared machine delays (a forwarder thread or the receiving kernel's softirq scheduled
    // late, while other jobs load both cores) arrives later, never earlier; how many do is
    // measured by bench/link.sh, and here only a generous ceiling applies to them.
    let median = spacing[spacing.len() / 2];
    eprintln!("SYN -> SYN-ACK at RTT 50 ms over {} handshakes: min {:.3} median {median:.3} max {:.3} ms", spacing.len(), spacing[0], spacing[spacing.len() - 1]);
    assert!((median - 50.0).abs() <= 1.0, "median SYN -> SYN-ACK {median:.3} ms, configured RTT 50 ms: {spacing:?}");
    assert!(spacing[spacing.len() - 1] < 150.0, "a handshake took more than RTT + 100 ms: {spacing:?}");
    // The analyzer decodes the raw-IP capture (link type of a TUN device) as tshark does, and
    // the pcapng comment records the link.
    let j = analyze_json(&cap);
    assert_eq!(TCP_COUNT_KEYS.map(|k| j["tcp"][k].as_u64().unwrap()), tshark_tcp_counts(&cap));
    assert_eq!(j["tcp"]["connections"], connections as u64);
    assert_eq!(j["capture"]["link_types"].as_array().map(Vec::len), Some(1), "{}", j["capture"]);
    assert!(j["capture"]["comments"][0].as_str().unwrap().contains("rtt 50 ms"), "{}", j["capture"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn with_a_rate_a_large_object_takes_its_size_over_the_rate() {
    need_root();
    let _g = serial();
    let dir = tmp("rate");
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    const SIZE: usize = 2_000_000;
    std::fs::write(root.join("big.bin"), vec![b'x'; SIZE]).unwrap();
    let cap = dir.join("c.pcapng");
    let link = Link::up(&["--rtt-ms", "10", "--rate-mbit", "10", "--capture", cap.to_str().unwrap()]);
    let (mut server, url) = link.serve(&root);
    let _ = link.fetch(&format!("{url}big.bin"), "persistent");
    let _ = server.kill();
    let _ = server.wait();
    let (code, rest) = link.stop();
    assert_eq!(code, Some(0), "{rest}");
    // The transfer on the wire, as the client sees it: first to last response segment.
    let o = tshark()
        .args(["-r", cap.to_str().unwrap(), "-Y", "tcp.srcport != 0 && tcp.len > 0 && ip.src == 10.77.0.1", "-T", "fields", "-e", "frame.time_epoch"])
        .output()
        .unwrap();
    let t: Vec<f64> = String::from_utf8_lossy(&o.stdout).lines().map(|l| l.parse().unwrap()).collect();
    assert!(t.len() > 1000, "{} data segments", t.len());
    let measured = t.last().unwrap() - t.first().unwrap();
    let model = SIZE as f64 * 8.0 / 10e6;
    let dev = (measured - model) / model * 100.0;
    eprintln!("transfer of {SIZE} bytes at 10 Mbit/s: {measured:.3} s on the wire, O/R {model:.3} s ({dev:+.2}%)");
    assert!(dev.abs() <= 5.0, "transfer {measured:.3} s, O/R {model:.3} s: {dev:+.1}%");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn with_loss_the_analyzer_counts_the_retransmissions_tshark_counts() {
    need_root();
    let _g = serial();
    let dir = tmp("loss");
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("mid.bin"), vec![b'y'; 400_000]).unwrap();
    let cap = dir.join("c.pcapng");
    let srv_cap = dir.join("s.pcapng");
    let link = Link::up(&["--rtt-ms", "10", "--loss", "0.03", "--seed", "7", "--capture", cap.to_str().unwrap()]);
    // Also a capture on the server's TUN device, by `wirelab capture` run inside the server
    // namespace: there every data segment the link loses was seen once before it is resent.
    let mut srv_capture = link
        .wirelab_in(&link.srv, &["capture", "-i", "wirelab-srv", "-f", "tcp", "-o", srv_cap.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut srv_err = BufReader::new(srv_capture.stderr.take().unwrap());
    srv_err.read_line(&mut line).unwrap();
    assert!(line.contains("capturing on wirelab-srv"), "{line}");
    let (mut server, url) = link.serve(&root);
    for _ in 0..3 {
        let _ = link.fetch(&format!("{url}mid.bin"), "persistent");
    }
    let _ = server.kill();
    let _ = server.wait();
    signal(srv_capture.id(), "INT");
    let mut rest_err = String::new();
    srv_err.read_to_string(&mut rest_err).unwrap();
    assert!(srv_capture.wait().unwrap().success(), "{rest_err}");
    let (code, rest) = link.stop();
    assert_eq!(code, Some(0));
    let lost: u64 = rest.split(" lost").filter_map(|p| p.rsplit('(').next()?.trim().parse::<u64>().ok()).sum();
    assert!(lost > 0, "the link lost packets: {rest}");
    let mut total = 0;
    for (side, cap) in [("client", &cap), ("server", &srv_cap)] {
        let j = analyze_json(cap);
        let tshark = tshark_tcp_counts(cap);
        let retrans = j["tcp"]["retransmissions"].as_u64().unwrap();
        eprintln!("loss 3%: the link lost {lost} packets; retransmissions in the {side}-side capture: wirelab {retrans}, tshark {}", tshark[5]);
        assert_eq!(retrans, tshark[5], "{side} side: wirelab vs tshark tcp.analysis.retransmission");
        assert_eq!(TCP_COUNT_KEYS.map(|k| j["tcp"][k].as_u64().unwrap()), tshark, "{side} side: every TCP count");
        total += retrans;
    }
    assert!(total > 0, "the analyzer reports retransmissions");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_library_api_serves_tokio_across_the_link_and_tears_down_twice() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wirelab::link::{EmulatedLink, LinkConfig};
    need_root();
    let _g = serial();
    let mut link = EmulatedLink::up(&LinkConfig { rtt: Duration::from_millis(20), ..Default::default() }).unwrap();
    let names = namespaces_of(std::process::id());
    assert!(names.contains(&link.ns_name(wirelab::link::Side::Client).to_string()), "{names:?}");
    let listener = link.server_listener(0).unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = std::net::SocketAddr::new(link.server_addr().into(), listener.local_addr().unwrap().port());
    let socket = link.client_socket().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (connect_ms, echoed) = rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.ip(), std::net::IpAddr::from(wirelab::link::topology::CLIENT_ADDR));
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(&b).await.unwrap();
        });
        let t = std::time::Instant::now();
        let mut c = socket.connect(addr).await.unwrap();
        let connect_ms = t.elapsed().as_secs_f64() * 1e3;
        c.write_all(b"hello").await.unwrap();
        let mut b = [0u8; 5];
        c.read_exact(&mut b).await.unwrap();
        server.await.unwrap();
        (connect_ms, b)
    });
    assert_eq!(&echoed, b"hello");
    // Unchanged async code on runtimes whose threads live in the namespaces: the server address
    // exists only in the server namespace, and the client reaches it through the link.
    let srv_rt = link.runtime(wirelab::link::Side::Server, 1).unwrap();
    let cli_rt = link.runtime(wirelab::link::Side::Client, 1).unwrap();
    let server_ip = link.server_addr();
    let listener = srv_rt.block_on(srv_rt.spawn(async move { tokio::net::TcpListener::bind((server_ip, 0)).await })).unwrap().unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = srv_rt.spawn(async move { listener.accept().await.map(|(_, peer)| peer) });
    let local = cli_rt.block_on(cli_rt.spawn(async move { tokio::net::TcpStream::connect((server_ip, port)).await.map(|c| c.local_addr().unwrap()) })).unwrap().unwrap();
    assert_eq!(local.ip(), std::net::IpAddr::from(wirelab::link::topology::CLIENT_ADDR));
    assert_eq!(srv_rt.block_on(accept).unwrap().unwrap(), local);
    assert!(std::net::TcpListener::bind((server_ip, 0)).is_err(), "the server address does not exist outside its namespace");
    drop((srv_rt, cli_rt));
    // A connect is one round trip of the link: at least 20 ms (a generous ceiling above).
    assert!((20.0..1000.0).contains(&connect_ms), "connect took {connect_ms:.2} ms");
    assert!(link.stats().client_to_server.packets >= 4, "{:?}", link.stats());
    // Hold the client namespace open past the teardown, to look inside it afterwards.
    let held = std::fs::File::open(format!("/run/netns/{}", link.ns_name(wirelab::link::Side::Client))).unwrap();
    link.down().unwrap();
    link.down().unwrap();
    use std::os::fd::AsRawFd;
    let inside = Command::new("nsenter").arg(format!("--net=/proc/{}/fd/{}", std::process::id(), held.as_raw_fd())).args(["ip", "-o", "link"]).output().unwrap();
    let inside = String::from_utf8_lossy(&inside.stdout);
    assert!(inside.contains(": lo:") && !inside.contains("wirelab-cli"), "the TUN device is gone: {inside}");
    drop(held);
    assert!(!link.is_up());
    drop(link);
    assert_eq!(namespaces_of(std::process::id()), Vec::<String>::new());
}

#[test]
fn namespaces_are_gone_after_a_normal_exit_an_error_and_ctrl_c() {
    need_root();
    let _g = serial();
    // A normal exit: --duration runs out.
    let child = wirelab().args(["link", "--duration", "0.3"]).stdout(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("link up") && text.contains("link down"), "{text}");
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "after a normal exit");

    // An error after the link is up: the capture file cannot be created.
    let child = wirelab().args(["link", "--capture", "/nonexistent-dir/c.pcapng"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent-dir/c.pcapng"), "{err}");
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "after an error");

    // Ctrl-C while a server runs inside the server namespace and a capture is open.
    let dir = tmp("ctrlc");
    let link = Link::up(&["--rtt-ms", "5", "--capture", dir.join("c.pcapng").to_str().unwrap()]);
    let (mut server, url) = link.serve(&www());
    let _ = link.fetch(&format!("{url}f1.txt"), "persistent");
    let pid = link.pid;
    let (code, rest) = link.stop();
    assert_eq!(code, Some(0), "{rest}");
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "after Ctrl-C");
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn leftovers_of_a_killed_run_are_removed_by_the_next_and_a_live_runs_are_kept() {
    need_root();
    let _g = serial();
    let mut killed = Link::up(&[]);
    let leftovers = namespaces_of(killed.pid);
    signal(killed.pid, "KILL");
    killed.child.take().unwrap().wait().unwrap();
    assert_eq!(namespaces_of(killed.pid), leftovers, "SIGKILL leaves the namespaces behind");
    // The next run sweeps them.
    let live = Link::up(&[]);
    assert_eq!(namespaces_of(killed.pid), Vec::<String>::new(), "the next run removed the leftovers");
    // A run while another is up leaves the live one's namespaces alone.
    let o = wirelab().args(["link", "--duration", "0.1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(namespaces_of(live.pid), vec![live.cli.clone(), live.srv.clone()], "a live run's namespaces are kept");
    let pid = live.pid;
    let (code, _) = live.stop();
    assert_eq!(code, Some(0));
    assert_eq!(namespaces_of(pid), Vec::<String>::new());
}

#[test]
fn without_privilege_one_line_says_what_is_needed() {
    let dir = tmp("priv");
    let mut cmd = if is_root() { wirelab_as_nobody(&dir) } else { wirelab() };
    let o = cmd.args(["link", "--rtt-ms", "10"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("root") && err.contains("CAP_NET_ADMIN"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The page-load table: measured beside the window-aware model (plus the RTT-0 time) and the
/// textbook, at RTT 20, 50 and 100 ms. As a test it holds what does not depend on how busy the
/// machine is: no page load beats the model by more than noise can explain (round trips are
/// physical), and wherever the two models differ, the window-aware one is the closer. Where the
/// receiver's window may limit a round (pipelined), the model is a range: Linux's autotuning
/// opens the window a round early when its measurement happens to fall between two bursts, so
/// the low end is the same load with the window never limiting (see `link::model`). How close
/// is a timing, so it is the benchmark's: bench/link.sh sets `WIRELAB_MODEL_TOLERANCE_PCT=5`
/// (the issue's target) and the gate becomes two-sided.
#[test]
fn page_loads_match_the_window_aware_model() {
    use wirelab::client::fetch::Mode;
    use wirelab::link::model::{deviation_pct, predict, ModelLink, Page};
    need_root();
    let _g = serial();
    // The server's response header block is about 275 bytes; it travels in the same window.
    const HEADER: u64 = 300;
    let modes = [("non-persistent", Mode::NonPersistent), ("parallel:5", Mode::Parallel(5)), ("persistent", Mode::Persistent), ("pipelined", Mode::Pipelined)];
    // The model's "server time is zero" is replaced by what the same load costs at RTT 0 over
    // the link (server, client and forwarding time: a few ms in a debug build on a busy
    // machine), so the deviation is that of the RTT-dependent part the model describes.
    let timed: Option<f64> = std::env::var("WIRELAB_MODEL_TOLERANCE_PCT").ok().and_then(|v| v.parse().ok());
    let tolerance = timed.unwrap_or(10.0);
    let mut base_time = [Duration::ZERO; 4];
    let mut failures = Vec::new();
    eprintln!("{:>6} {:<15} {:>10} {:>19} {:>8} {:>10} {:>8}", "rtt", "mode", "measured", "window+rtt0", "dev", "textbook", "dev");
    for rtt in [0u64, 20, 50, 100] {
        let link = Link::up(&["--rtt-ms", &rtt.to_string()]);
        let (mut server, url) = link.serve(&www());
        // The best of three loads of each mode, taken in turns (so that a burst of load on the
        // shared machine does not spoil every sample of one mode): noise only ever adds time.
        let mut runs: Vec<Vec<serde_json::Value>> = vec![Vec::new(); modes.len()];
        for _ in 0..3 {
            for (i, (name, _)) in modes.iter().enumerate() {
                runs[i].push(link.fetch(&format!("{url}BaseFile.html"), name));
            }
        }
        for (i, (name, mode)) in modes.into_iter().enumerate() {
            let j = &runs[i][0];
            let page = Page {
                base: j[0]["base"]["bytes"].as_u64().unwrap() + HEADER,
                objects: j[0]["objects"].as_array().unwrap().iter().map(|o| o["bytes"].as_u64().unwrap() + HEADER).collect(),
            };
            let measured = runs[i].iter().map(|j| Duration::from_secs_f64(j[0]["total_ms"].as_f64().unwrap() / 1e3)).min().unwrap();
            if rtt == 0 {
                base_time[i] = measured;
                continue;
            }
            let mut p = predict(mode, &page, &ModelLink::linux(Duration::from_millis(rtt), None));
            (p.window_aware, p.window_open) = (p.window_aware + base_time[i], p.window_open + base_time[i]);
            let (dw, dt) = (p.window_deviation_pct(measured), deviation_pct(measured, p.textbook));
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let window = match p.window_open < p.window_aware {
                true => format!("{:.1}–{:.1}ms", ms(p.window_open), ms(p.window_aware)),
                false => format!("{:.1}ms", ms(p.window_aware)),
            };
            eprintln!("{rtt:>4}ms {name:<15} {:>8.1}ms {window:>19} {dw:>+7.1}% {:>8.1}ms {dt:>+7.1}%", ms(measured), ms(p.textbook));
            // Faster than the model is never noise; slower is, unless the benchmark asks.
            if dw < -tolerance || (timed.is_some() && dw > tolerance) {
                failures.push(format!("rtt {rtt} ms, {name}: measured {measured:?}, window-aware model + rtt-0 time {window} ({dw:+.1}%, beyond ±{tolerance}%)"));
            }
            if p.window_rtts != p.textbook_rtts && dw.abs() >= dt.abs() {
                failures.push(format!("rtt {rtt} ms, {name}: the textbook ({dt:+.1}%) is closer than the window-aware model ({dw:+.1}%)"));
            }
        }
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(link.stop().0, Some(0));
    }
    eprintln!("all within {}{tolerance}%: {}", if timed.is_some() { "±" } else { "-" }, failures.is_empty());
    assert!(failures.is_empty(), "{failures:#?}");
}
