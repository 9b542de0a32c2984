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
            args.push("--no-capture");
        }
        let o = wirelab().args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{}:\n{text}\n{}", sc.display(), String::from_utf8_lossy(&o.stderr));
        assert!(text.contains("report:"), "{text}");
        if !is_root() {
            continue;
        }
        let capture = text.lines().find_map(|l| l.strip_prefix("capture: ")).expect("the capture's path is printed").trim().to_string();
        let report = text.lines().find_map(|l| l.strip_prefix("report:  ")).unwrap().trim().to_string();
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&report).join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["ok"], true);
        assert!(summary["expectations"].as_array().unwrap().iter().all(|e| e["ok"] == true));
        for table in ["packets", "connections", "http"] {
            assert!(Path::new(&report).join(format!("{table}.parquet")).exists(), "{table} exported");
        }
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
    let _ = std::fs::remove_dir_all(out);
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
    std::fs::copy(scenarios().iter().find(|p| p.ends_with("persistent.toml")).unwrap(), &sc).unwrap();
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
    assert!(text.contains("Step times over 3 runs") && text.contains("± 95% CI"), "{text}");
    let reports: Vec<_> = std::fs::read_dir(out.join("reports")).unwrap().collect();
    assert_eq!(reports.len(), 3, "each run keeps its own report");
    let last = text.lines().find_map(|l| l.strip_prefix("report:  ")).unwrap().trim().to_string();
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&last).join("repeat.json")).unwrap()).unwrap();
    assert_eq!(rep["pipelined"]["runs"], 3);
    assert!(rep["pipelined"]["ci95_ms"].as_f64().unwrap() >= 0.0);
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
