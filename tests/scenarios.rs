//! Every shipped scenario end to end (CI runs as root): expectations hold, the capture opens in
//! tshark, and tshark's counts equal wirelab's. Without root: the scenarios run with
//! --no-capture, and a capturing run fails with the privilege hint.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn scenarios() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    v.sort();
    assert!(v.len() >= 3, "scenarios shipped: {v:?}");
    v
}

#[test]
fn every_shipped_scenario_holds_and_its_capture_agrees_with_tshark() {
    let out = std::env::temp_dir().join(format!("wirelab-scenarios-{}", std::process::id()));
    for sc in scenarios() {
        let mut args = vec!["run-scenario", sc.to_str().unwrap(), "--out", out.to_str().unwrap()];
        if !is_root() {
            // An emulated link needs root (network namespaces) even without a capture.
            if std::fs::read_to_string(&sc).unwrap().contains("[link]") {
                continue;
            }
            args.push("--no-capture");
        }
        let o = wirelab().args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let progress = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{}:\n{text}\n{progress}", sc.display());
        assert!(text.contains("report:"), "{text}");
        reads_like_a_person_wrote_it(&sc, &text, &progress);
        if !is_root() {
            continue;
        }
        let capture = text.lines().find_map(|l| l.strip_prefix("capture: ")).expect("the capture's path is printed").trim().to_string();
        let report = text.lines().find_map(|l| l.strip_prefix("report:  ")).unwrap().trim().to_string();
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&report).join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["ok"], true);
        every_float_is_rounded(&summary, "summary");
        assert!(summary["expectations"].as_array().unwrap().iter().all(|e| e["ok"] == true));
        for table in ["packets", "connections", "http"] {
            assert!(Path::new(&report).join(format!("{table}.parquet")).exists(), "{table} exported");
        }
        let html = text.lines().find_map(|l| l.strip_prefix("html:    ")).expect("the report's path is printed").trim().to_string();
        assert!(std::fs::metadata(&html).unwrap().len() > 10_000, "{html}");
        assert!(text.lines().filter(|l| l.starts_with("chart:   ") && l.ends_with(".png")).count() >= 4, "{text}");
        let cap = Path::new(&capture);
        let j = analyze_json(cap);
        assert_eq!(TCP_COUNT_KEYS.map(|k| j["tcp"][k].as_u64().unwrap()), tshark_tcp_counts(cap), "{}", sc.display());
        // The scenario's server ports, from its capture filter ("tcp port A or tcp port B").
        let ports: Vec<u16> = summary["capture"]["filter"].as_str().unwrap().split(" or ").filter_map(|p| p.trim_start_matches("tcp port ").parse().ok()).collect();
        let (methods, codes, ops) = tshark_app_counts_with(cap, &[], &ports);
        let map = |v: &serde_json::Value| -> std::collections::BTreeMap<String, u64> {
            v.as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).filter(|(_, n)| *n > 0).collect()
        };
        assert_eq!((map(&j["http"]["methods"]), map(&j["http"]["status"]), map(&j["websocket"]["opcodes"])), (methods, codes, ops), "{}", sc.display());
        let comment = j["capture"]["comments"][0].as_str().unwrap();
        assert!(comment.contains("scenario") && comment.contains(&*sc.file_name().unwrap().to_string_lossy()), "{comment}");
    }
    let hidden: Vec<_> = std::fs::read_dir(out.join("reports")).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(hidden.is_empty(), "no staging folder is left: {hidden:?}");
    let _ = std::fs::remove_dir_all(out);
}

/// The first screen answers the question: the comparison (or the steps) and the expectations
/// come before the long tables; every step says what it measured; no Rust type names.
fn reads_like_a_person_wrote_it(sc: &Path, text: &str, progress: &str) {
    let first_screen: String = text.lines().take(45).collect::<Vec<_>>().join("\n");
    assert!(first_screen.contains("Side by side") || first_screen.contains("Steps"), "{}: {first_screen}", sc.display());
    assert!(first_screen.contains("Expectations") && first_screen.contains("✓"), "{}: {first_screen}", sc.display());
    if let Some(long) = text.find("TCP conversations") {
        assert!(text.find("Expectations").unwrap() < long, "the long tables come after the result");
    }
    for bad in ["NonPersistent", "Parallel(", "Poll(", "(Fetch)", "(WsEcho)", "null connection", "0 requests ()", "done"] {
        assert!(!text.contains(bad) && !progress.contains(bad), "{}: {bad:?} in the output:\n{progress}\n{text}", sc.display());
    }
    for line in progress.lines().filter(|l| l.starts_with('[')) {
        let said = line.split(" … ").nth(1).unwrap_or("");
        assert!(said.chars().any(|c| c.is_ascii_digit()), "a progress line says what was measured: {line}");
    }
    let name = sc.file_stem().unwrap().to_string_lossy();
    if name == "danmaku-polling-vs-websocket" {
        assert!(progress.contains("deliveries") && progress.contains("latency p50") && progress.contains("viewer requests") && progress.contains("per comment"), "{progress}");
        assert!(first_screen.contains("delivery latency p50") && first_screen.contains("Δ"), "{first_screen}");
        assert!(lesson_line(text).contains("sooner"), "the lesson ends the text: {text}");
    }
    if name == "persistent-vs-non-persistent" {
        assert!(first_screen.contains("page load on the wire") && first_screen.contains("ratio"), "{first_screen}");
        let lesson = lesson_line(text);
        assert!(lesson.starts_with("persistent: 1 connection, 1 handshake, page loaded in") && lesson.contains("non-persistent: 21 connections, 21 handshakes"), "{lesson}");
    }
}

/// The last line of the run's text: the line before the blank line above `capture:`.
fn lesson_line(text: &str) -> &str {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("capture: ")).expect("a capture line");
    lines[at - 2]
}

/// JSON numbers are what was measured: no binary noise such as 0.47750000000000004.
fn every_float_is_rounded(v: &serde_json::Value, at: &str) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let s = n.to_string();
            let decimals = s.split_once('.').map_or(0, |(_, d)| d.trim_end_matches(|c: char| !c.is_ascii_digit()).len());
            assert!(decimals <= 6 || s.contains('e'), "{at} = {s}");
        }
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| every_float_is_rounded(x, &format!("{at}[{i}]"))),
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| every_float_is_rounded(x, &format!("{at}.{k}"))),
        _ => {}
    }
}

#[test]
fn bad_scenario_files_exit_2_naming_file_and_line_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("wirelab-sc-bad-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    let web = format!("[[server]]\nname = \"web\"\nkind = \"http\"\nroot = {:?}\n", www().display().to_string());
    let fetch = "[[step]]\nkind = \"fetch\"\nlabel = \"p\"\nserver = \"web\"\n";
    for (body, line, says) in [
        (format!("name = \"x\"\nexpect = [\"tcp.conections = 0\"]\n{web}{fetch}"), 2, "tcp.connections"),
        (format!("name = \"x\"\nexpect = [\"tcp.connections == 1\"]\n{web}{fetch}"), 2, "use `=`"),
        (format!("name = \"x\"\n{web}{fetch}viewers = 3\n"), 10, "`viewers` does not apply to a fetch step"),
        (format!("name = \"x\"\n{web}[[server]]\nname = \"w\"\nkind = \"ws\"\nroot = \"www\"\n"), 9, "`root` does not apply to a ws server"),
        (format!("name = \"x\"\n{web}[[step]]\nkind = \"ws-echo\"\nlabel = \"e\"\nserver = \"web\"\n"), 9, "needs a ws server"),
        (format!("name = \"x\"\n{web}{fetch}{fetch}"), 12, "already defined"),
        (format!("name = \"../../x\"\n{web}"), 1, "scenario name"),
        (format!("name = \"x\"\n[[step]]\nkind = \"sleep\"\nlabel = \"s\"\nduration = -1\n"), 5, "out of range"),
        ("name = \"x\"\n[[server]]\nname = \"web\"\nkind = \"http\"\nroot = \"no/such/dir\"\n".to_string(), 5, "not a readable directory"),
    ] {
        let sc = dir.join("scenarios/bad.toml");
        std::fs::write(&sc, &body).unwrap();
        let o = wirelab().args(["run-scenario", sc.to_str().unwrap(), "--out", dir.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{body}\n{err}");
        assert!(err.contains(&format!("bad.toml:{line}:")) && err.contains(says), "{body}\nexpected line {line} and {says:?}: {err}");
        assert!(!dir.join("reports").exists() && !dir.join("captures").exists(), "nothing starts before the file is checked");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn keep_alive_limits_fails_without_the_servers_idle_timeout() {
    if !is_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("wirelab-sc-ka-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/keep-alive-limits.toml")).unwrap();
    let sc = dir.join("scenarios/ka.toml");
    std::fs::write(&sc, shipped.replace("root = \"www\"", &format!("root = {:?}", www().display().to_string())).replace("keepalive_timeout = 1\n", "keepalive_timeout = 100\n")).unwrap();
    let o = wirelab().args(["run-scenario", sc.to_str().unwrap(), "--out", dir.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("✗ steps.idle-timeout.wire.closed_by_server = 1   (actual 0)"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failing_expectation_exits_1_and_a_bad_file_exits_2() {
    let dir = std::env::temp_dir().join(format!("wirelab-sc-fail-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    let www = www();
    let sc = dir.join("scenarios/wrong.toml");
    std::fs::write(&sc, format!("name = \"wrong\"\nexpect = [\"steps.f.connections_opened = 5\"]\n[[server]]\nname = \"web\"\nkind = \"http\"\nroot = {:?}\n[[step]]\nkind = \"fetch\"\nlabel = \"f\"\nserver = \"web\"\n", www.display().to_string())).unwrap();
    let o = wirelab().args(["run-scenario", sc.to_str().unwrap(), "--no-capture", "--out", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("✗ steps.f.connections_opened = 5"));
    std::fs::write(&sc, "name = \"bad\"\n[capture]\ninterfase = \"lo\"\n").unwrap();
    let o = wirelab().args(["run-scenario", sc.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("wrong.toml:3:") && err.contains("interfase"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_scenario_without_privilege_fails_with_the_hint() {
    let out = std::env::temp_dir().join(format!("wirelab-sc-priv-{}", std::process::id()));
    // A copy of a shipped scenario where any user can read it.
    std::fs::create_dir_all(out.join("scenarios")).unwrap();
    let sc = out.join("scenarios/persistent.toml");
    let shipped = std::fs::read_to_string(scenarios().iter().find(|p| p.ends_with("persistent.toml")).unwrap()).unwrap();
    std::fs::write(&sc, shipped.replace("root = \"www\"", &format!("root = {:?}", www().display().to_string()))).unwrap();
    let mut cmd = if is_root() { wirelab_as_nobody(&out) } else { wirelab() };
    let o = cmd.args(["run-scenario", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.lines().any(|l| l.contains("sudo") && l.contains("setcap cap_net_raw,cap_net_admin+eip")), "{err}");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn repeat_reports_mean_and_confidence_interval() {
    let out = std::env::temp_dir().join(format!("wirelab-sc-repeat-{}", std::process::id()));
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pipelined.toml");
    let o = wirelab().args(["run-scenario", sc.to_str().unwrap(), "--no-capture", "--repeat", "3", "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Every step's measurements over 3 runs") && text.contains("± 95% CI"), "{text}");
    for metric in ["page load, client clock", "objects", "client connections"] {
        assert!(text.lines().any(|l| l.starts_with("pipelined") && l.contains(metric)), "{metric} in {text}");
    }
    let reports: Vec<_> = std::fs::read_dir(out.join("reports")).unwrap().collect();
    assert_eq!(reports.len(), 3, "each run keeps its own report");
    let last = text.lines().find_map(|l| l.strip_prefix("report:  ")).unwrap().trim().to_string();
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&last).join("repeat.json")).unwrap()).unwrap();
    assert_eq!(rep["pipelined"]["total_ms"]["runs"], 3);
    assert!(rep["pipelined"]["total_ms"]["ci95"].as_f64().unwrap() >= 0.0);
    assert_eq!(rep["pipelined"]["connections_opened"]["mean"], 1.0);
    let samples: Vec<f64> = rep["pipelined"]["objects"]["samples"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(samples, [21.0, 21.0, 21.0]);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn ctrl_c_during_a_scenario_finalizes_the_capture_and_the_report() {
    if !is_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("wirelab-sc-int-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("long.toml");
    std::fs::write(
        &sc,
        "name = \"long\"\n[[server]]\nname = \"d\"\nkind = \"danmaku\"\n[[step]]\nkind = \"danmaku-load\"\nlabel = \"load\"\nserver = \"d\"\nviewers = 3\ntransport = \"ws\"\nrate = 20.0\nduration = 60.0\n",
    )
    .unwrap();
    let child = wirelab().args(["run-scenario", sc.to_str().unwrap(), "--out", dir.to_str().unwrap()]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "an interrupted run is not a success");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Interrupted"), "{text}");
    let capture = text.lines().find_map(|l| l.strip_prefix("capture: ")).expect("capture path").trim().to_string();
    let t = tshark().args(["-r", &capture, "-q", "-z", "conv,tcp"]).output().unwrap();
    assert!(t.status.success(), "the pcapng is valid: {}", String::from_utf8_lossy(&t.stderr));
    let j = analyze_json(Path::new(&capture));
    assert!(j["capture"]["damage"].is_null());
    assert!(j["websocket"]["connections"].as_u64().unwrap() >= 3, "the traffic before Ctrl-C is there: {}", j["websocket"]);
    let report = text.lines().find_map(|l| l.strip_prefix("report:  ")).unwrap().trim().to_string();
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&report).join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
    let _ = std::fs::remove_dir_all(dir);
}

/// Ctrl-C before the drain, the analysis and the check: each time the run winds up with a
/// valid capture, a report that says `interrupted`, exit 1, and no staging folder left.
#[test]
fn ctrl_c_is_honoured_at_every_stage_after_the_steps() {
    if !is_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("wirelab-sc-stages-{}", std::process::id()));
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persistent.toml");
    for stage in ["drain", "analyze", "check"] {
        let out = dir.join(stage);
        let mut child = wirelab()
            .args(["run-scenario", sc.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .env("WIRELAB_PAUSE_BEFORE", stage)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_pause(&mut child, stage);
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        let o = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{stage}: {text}");
        assert!(text.contains("Interrupted"), "{stage}: {text}");
        let capture = text.lines().find_map(|l| l.strip_prefix("capture: ")).expect("capture path").trim().to_string();
        assert!(tshark().args(["-r", &capture, "-q", "-z", "conv,tcp"]).output().unwrap().status.success(), "{stage}: a valid pcapng");
        let report = text.lines().find_map(|l| l.strip_prefix("report:  ")).unwrap().trim().to_string();
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&report).join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["interrupted"], true, "{stage}");
        let entries: Vec<_> = std::fs::read_dir(out.join("reports")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(entries.len(), 1, "{stage}: one report folder, no staging left: {entries:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A second Ctrl-C quits at once (130); the next run clears the hidden folder it left.
#[test]
fn a_second_ctrl_c_quits_at_once() {
    if !is_root() {
        return;
    }
    let out = std::env::temp_dir().join(format!("wirelab-sc-twice-{}", std::process::id()));
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persistent.toml");
    let mut child = wirelab()
        .args(["run-scenario", sc.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("WIRELAB_PAUSE_BEFORE", "drain,check")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    for stage in ["drain", "check"] {
        wait_for_line(&mut stderr, &format!("(paused before {stage})"));
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let o = wirelab().args(["run-scenario", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let hidden: Vec<_> = std::fs::read_dir(out.join("reports")).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    let _ = std::fs::remove_dir_all(out);
}

/// Reads the child's stderr until it says it paused before `stage`, then keeps draining it.
fn wait_for_pause(child: &mut std::process::Child, stage: &str) {
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut err, &format!("(paused before {stage})"));
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
}

fn wait_for_line(r: &mut impl std::io::BufRead, want: &str) {
    let mut line = String::new();
    while r.read_line(&mut line).unwrap() > 0 {
        if line.trim_end() == want {
            return;
        }
        line.clear();
    }
    panic!("the run never printed {want}");
}
