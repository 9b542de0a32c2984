//! Live capture with libpcap (CI runs as root): real traffic from the bundled instruments is
//! captured to pcapng, opens in tshark with the same counts as wirelab's, survives Ctrl-C, and
//! an unprivileged run gets the one-line hint.

mod common;
use common::*;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn tmp(name: &str) -> Temp {
    Temp::path(&format!("live-{name}"))
}

/// Starts a capture and waits until it is running (it says so on stderr).
fn start_capture(filter: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Child {
    let mut c = wirelab()
        .args(["capture", "-i", "lo", "-f", filter, "-o", out.to_str().unwrap()])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = c.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut b = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("capturing on") {
        assert!(err.read(&mut b).unwrap() == 1, "capture ended early: {}", String::from_utf8_lossy(&seen));
        seen.push(b[0]);
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    c
}

#[test]
fn captured_page_load_opens_in_tshark_with_equal_counts() {
    if !is_root() {
        eprintln!("not root: the privilege test covers this machine");
        return;
    }
    let s = serve(&["serve", "http", "--root", www().to_str().unwrap(), "--port", "0"]);
    let port = s.url.trim_end_matches('/').rsplit(':').next().unwrap().to_string();
    let out = tmp("page.pcapng");
    let cap = start_capture(&format!("tcp port {port}"), &out, &["--duration", "2"]);
    let f = run(&["fetch", &format!("{}BaseFile.html", s.url), "--mode", "non-persistent", "--json"]);
    assert!(f.status.success());
    let status = cap.wait_with_output().unwrap().status;
    assert!(status.success());
    let j = analyze_json(&out);
    assert_eq!(j["capture"]["format"], "pcapng");
    assert!(j["capture"]["comments"][0].as_str().unwrap().contains(&format!("tcp port {port}")));
    assert_eq!(j["tcp"]["connections"], 21, "non-persistent: one connection per object");
    assert_eq!(j["tcp"]["syn"], 21);
    assert_eq!(j["tcp"]["handshakes"], 21);
    assert_eq!(j["http"]["requests"], 21);
    assert_eq!(j["http"]["status"]["200"], 21);
    let theirs = tshark_tcp_counts(&out);
    let ours = TCP_COUNT_KEYS.map(|k| j["tcp"][k].as_u64().unwrap());
    assert_eq!(ours, theirs, "{TCP_COUNT_KEYS:?}");
    let (methods, codes, _) = tshark_app_counts(&out, &[]);
    assert_eq!(methods.get("GET"), Some(&21));
    assert_eq!(codes.get("200"), Some(&21));
    let _ = std::fs::remove_file(out);
}

#[test]
fn ctrl_c_leaves_a_valid_capture() {
    if !is_root() {
        return;
    }
    let s = serve(&["serve", "http", "--root", www().to_str().unwrap(), "--port", "0"]);
    let port = s.url.trim_end_matches('/').rsplit(':').next().unwrap().to_string();
    let out = tmp("ctrlc.pcapng");
    let cap = start_capture(&format!("tcp port {port}"), &out, &[]);
    run(&["fetch", &format!("{}BaseFile.html", s.url), "--mode", "persistent"]);
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill").args(["-INT", &cap.id().to_string()]).status().unwrap();
    let o = cap.wait_with_output().unwrap();
    assert!(o.status.success(), "Ctrl-C is a normal stop");
    let t = tshark().args(["-r", out.to_str().unwrap(), "-q", "-z", "conv,tcp"]).output().unwrap();
    assert!(t.status.success(), "tshark reads the file: {}", String::from_utf8_lossy(&t.stderr));
    let j = analyze_json(&out);
    assert!(j["capture"]["damage"].is_null(), "no damage: {}", j["capture"]["damage"]);
    assert_eq!(j["http"]["requests"], 21);
    let _ = std::fs::remove_file(out);
}

#[test]
fn without_privilege_the_error_says_how_to_fix_it() {
    let out = tmp("denied.pcapng");
    let nobody = tmp("nobody");
    let mut cmd = if is_root() {
        // Drop to nobody, as a user without capture rights would be.
        wirelab_as_nobody(&nobody)
    } else {
        wirelab()
    };
    let o = cmd.args(["capture", "-i", "lo", "-o", out.to_str().unwrap(), "--duration", "1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("sudo") && err.contains("setcap cap_net_raw,cap_net_admin+eip"), "{err}");
}
