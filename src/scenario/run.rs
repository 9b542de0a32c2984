//! Runs a scenario: listeners first (so the capture filter is known), then the capture, the
//! servers and the client steps; then the same analysis `wirelab analyze` runs, the expectations,
//! and the outputs (`captures/<name>-<time>.pcapng`, `reports/<name>-<time>/`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{Checked, Expectation, Scenario, ServerKind, StepKind};
use crate::analysis::{self, Summary};
use crate::capture::live::{CaptureError, CaptureStats, LiveCapture, LiveConfig};
use crate::render::export::Exporter;
use crate::render::summary::{KeptRows, Limit};
use crate::render::table::Table;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run the clients without capturing (no privilege needed; only client timings).
    pub no_capture: bool,
    /// Where `captures/` and `reports/` go.
    pub out_root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("{0}")]
    Setup(String),
}

/// What a run produced.
pub struct Outcome {
    pub summary: Value,
    pub text: String,
    pub ok: bool,
    pub interrupted: bool,
    pub capture: Option<PathBuf>,
    pub report: PathBuf,
}

/// `YYYYmmdd-HHMMSS` in UTC (civil-from-days, H. Hinnant's algorithm).
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as i128
}

/// Rows shown in the terminal.
const SHOWN: usize = 25;

/// Gives files written as root (under sudo) back to the user who ran sudo.
fn chown_to_sudo_user(path: &Path) {
    #[cfg(unix)]
    if let (Ok(uid), Ok(gid)) = (std::env::var("SUDO_UID"), std::env::var("SUDO_GID")) {
        if let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>()) {
            let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
        }
    }
}

/// Sends one request on a new connection and reads the response until the server closes.
async fn request(url: &str, st: &super::StepSpec) -> Result<Value, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("{addr}: {e}"))?;
    let _ = sock.set_nodelay(true);
    let text = match &st.raw {
        Some(raw) => raw.replace('\n', "\r\n"),
        None => {
            let method = if st.method.is_empty() { "GET" } else { st.method.as_str() };
            let mut r = format!("{method} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n", if st.path.is_empty() { "/" } else { &st.path });
            for h in &st.headers {
                r.push_str(h);
                r.push_str("\r\n");
            }
            r + "\r\n"
        }
    };
    let t0 = std::time::Instant::now();
    sock.write_all(text.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut got)).await;
    let line = String::from_utf8_lossy(&got).lines().next().unwrap_or("").to_string();
    let status: u64 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(json!({ "status": status, "status_line": line, "bytes": got.len(), "total_ms": t0.elapsed().as_secs_f64() * 1e3 }))
}

/// Runs `sc` (read from `file`).
pub fn run(file: &Path, sc: &Scenario, opts: &RunOptions) -> Result<Outcome, RunError> {
    let setup = |m: String| RunError::Setup(m);
    // Runs within one second (--repeat) get -2, -3, … so that none overwrites another.
    let mut stamp = utc_stamp(SystemTime::now());
    let base_stamp = stamp.clone();
    let mut n = 1;
    while opts.out_root.join("reports").join(format!("{}-{stamp}", sc.name)).exists() {
        n += 1;
        stamp = format!("{base_stamp}-{n}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| setup(e.to_string()))?;
    // Listeners first: their ports make the capture filter.
    let base = file.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let mut listeners = vec![];
    for s in &sc.servers {
        let l = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", s.port))).map_err(|e| setup(format!("server {:?}: cannot listen: {e}", s.name)))?;
        let port = l.local_addr().map_err(|e| setup(e.to_string()))?.port();
        listeners.push((s.clone(), l, port));
    }
    let filter = listeners.iter().map(|(_, _, p)| format!("tcp port {p}")).collect::<Vec<_>>().join(" or ");
    let captures = opts.out_root.join("captures");
    let reports = opts.out_root.join("reports").join(format!("{}-{stamp}", sc.name));
    std::fs::create_dir_all(&captures).map_err(|e| setup(format!("{}: {e}", captures.display())))?;
    std::fs::create_dir_all(&reports).map_err(|e| setup(format!("{}: {e}", reports.display())))?;
    let pcap_path = captures.join(format!("{}-{stamp}.pcapng", sc.name));
    let live = if opts.no_capture {
        None
    } else {
        let cfg = LiveConfig {
            interface: sc.capture.interface.clone(),
            filter: filter.clone(),
            snaplen: sc.capture.snaplen,
            buffer_bytes: sc.capture.buffer_mib.saturating_mul(1 << 20),
            comment: format!("wirelab {} scenario {} ({}), started {}", env!("CARGO_PKG_VERSION"), sc.name, file.display(), httpdate::fmt_http_date(SystemTime::now())),
        };
        Some(LiveCapture::start(&cfg, &pcap_path)?)
    };
    // Servers.
    let mut urls = std::collections::HashMap::new();
    for (s, l, port) in listeners {
        let root = if s.root.is_absolute() || s.root.exists() { s.root.clone() } else { base.join(&s.root) };
        let (scheme, fut): (&str, std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>) = match s.kind {
            ServerKind::Http => {
                let cfg = crate::server::http::HttpServerConfig {
                    root,
                    persistent: s.persistent,
                    keepalive_timeout: Duration::from_secs(s.keepalive_timeout),
                    keepalive_max: s.keepalive_max.max(1),
                    ..Default::default()
                };
                ("http", Box::pin(crate::server::http::serve(l, cfg)))
            }
            ServerKind::Ws => ("ws", Box::pin(crate::server::ws::serve(l))),
            ServerKind::Danmaku => ("http", Box::pin(crate::server::danmaku::serve(l))),
        };
        rt.spawn(fut);
        urls.insert(s.name.clone(), format!("{scheme}://127.0.0.1:{port}"));
    }
    // Steps, with Ctrl-C stopping the run early (the capture is still finalized).
    let mut text = String::new();
    let mut steps = serde_json::Map::new();
    let mut windows = vec![];
    let mut interrupted = false;
    let total = sc.steps.len();
    for (i, st) in sc.steps.iter().enumerate() {
        let url = urls.get(&st.server).cloned().unwrap_or_default();
        eprint!("[{}/{total}] {} ({:?}) … ", i + 1, st.label, st.kind);
        let t0 = now_ns();
        let st2 = st.clone();
        let work = async move {
            let mut runs = vec![];
            for _ in 0..st2.repeat.max(1) {
                let v = match st2.kind {
                    StepKind::Fetch => {
                        let mode = st2.mode.parse().map_err(|e: String| e)?;
                        let page = format!("{url}{}", if st2.path.is_empty() { "/BaseFile.html" } else { &st2.path });
                        let first = crate::client::fetch::fetch_page(&page, mode, None).await.map_err(|e| e.to_string())?;
                        let mut v = serde_json::to_value(&first).map_err(|e| e.to_string())?;
                        if st2.conditional {
                            let again = crate::client::fetch::fetch_page(&page, mode, Some(&first)).await.map_err(|e| e.to_string())?;
                            v["conditional_pass"] = serde_json::to_value(&again).map_err(|e| e.to_string())?;
                        }
                        v
                    }
                    StepKind::WsEcho => {
                        let path = if st2.path.is_empty() { "/echo" } else { &st2.path };
                        let r = crate::client::ws_echo::run(&format!("{url}{path}"), st2.count, st2.size, st2.rate, false).await.map_err(|e| e.to_string())?;
                        serde_json::to_value(&r).map_err(|e| e.to_string())?
                    }
                    StepKind::DanmakuLoad => {
                        let tr = st2.transport.parse().map_err(|e: String| e)?;
                        let r = crate::client::danmaku_load::run(&format!("{url}/"), &st2.label, st2.viewers, tr, st2.senders, st2.rate.unwrap_or(5.0), Duration::from_secs_f64(st2.duration))
                            .await
                            .map_err(|e| e.to_string())?;
                        serde_json::to_value(&r).map_err(|e| e.to_string())?
                    }
                    StepKind::Request => {
                        let v = request(&url, &st2).await?;
                        v
                    }
                    StepKind::Sleep => {
                        tokio::time::sleep(Duration::from_secs_f64(st2.duration)).await;
                        json!({})
                    }
                };
                runs.push(v);
            }
            Ok::<_, String>(runs)
        };
        let result = rt.block_on(async {
            tokio::select! {
                r = work => Some(r),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        let t1 = now_ns();
        match result {
            None => {
                eprintln!("interrupted");
                interrupted = true;
                windows.push((st.label.clone(), t0, t1));
                break;
            }
            Some(Err(e)) => {
                eprintln!("failed: {e}");
                steps.insert(st.label.clone(), json!({ "error": e }));
            }
            Some(Ok(mut runs)) => {
                let last = runs.pop().unwrap_or(Value::Null);
                let mut v = last.clone();
                if let Some(ms) = last.get("total_ms").and_then(Value::as_f64) {
                    eprintln!("{ms:.1} ms, {} connection(s) opened", last["connections_opened"]);
                } else {
                    eprintln!("done");
                }
                if !runs.is_empty() {
                    v["earlier_runs"] = Value::Array(runs);
                }
                steps.insert(st.label.clone(), v);
            }
        }
        windows.push((st.label.clone(), t0, t1));
    }
    let stats = match live {
        Some(c) => Some(c.stop()?),
        None => None,
    };
    rt.shutdown_timeout(Duration::from_millis(500));
    // The same analysis as `wirelab analyze`, with the tables exported beside the summary.
    let mut summary_doc = json!({});
    let mut analysis_summary: Option<Summary> = None;
    let mut rows = KeptRows::new(SHOWN);
    if stats.is_some() {
        chown_to_sudo_user(&pcap_path);
        let f = std::fs::File::open(&pcap_path).map_err(|e| setup(format!("{}: {e}", pcap_path.display())))?;
        let reader = crate::capture::CaptureReader::open_file(f).map_err(|e| setup(e.to_string()))?;
        let mut obs = (Exporter::new(&reports).map_err(|e| setup(e.to_string()))?, KeptRows::new(SHOWN));
        let s = analysis::analyze(reader, &mut obs).map_err(|e| setup(e.to_string()))?;
        let (exporter, kept) = obs;
        exporter.finish(&s).map_err(|e| setup(e.to_string()))?;
        rows = kept;
        summary_doc = serde_json::to_value(analysis::Report::new(&pcap_path.display().to_string(), &s)).map_err(|e| setup(e.to_string()))?;
        analysis_summary = Some(s);
    }
    // Each step's share of the wire: connections that began in its time window.
    if let Some(s) = &analysis_summary {
        for (label, t0, t1) in &windows {
            let cs: Vec<_> = s.conversations.iter().filter(|c| c.first_ns >= *t0 && c.first_ns <= *t1).collect();
            let wire = json!({
                "connections": cs.len(),
                "syn": cs.iter().map(|c| c.syn as u64).sum::<u64>(),
                "fin": cs.iter().map(|c| c.fin as u64).sum::<u64>(),
                "packets": cs.iter().map(|c| c.packets[0] + c.packets[1]).sum::<u64>(),
                "bytes": cs.iter().map(|c| c.bytes[0] + c.bytes[1]).sum::<u64>(),
            });
            if let Some(v) = steps.get_mut(label) {
                v["wire"] = wire;
            }
        }
    }
    let drops = stats.as_ref().map_or(0, |s| s.kernel_dropped as u64 + s.interface_dropped as u64);
    let mut doc = summary_doc.clone();
    doc["steps"] = Value::Object(steps.clone());
    doc["drops"] = json!(drops);
    let mut checked: Vec<Checked> = sc
        .expect
        .iter()
        .filter_map(|e| Expectation::parse(e).ok())
        .map(|e| {
            if stats.is_none() && e.needs_capture() {
                Checked { expectation: format!("{} {} {}", e.path, e.op, e.value), actual: None, ok: true, skipped: true }
            } else {
                e.check(&doc)
            }
        })
        .collect();
    if stats.is_some() {
        checked.push(Checked { expectation: format!("drops <= {}", sc.allow_drops), actual: Some(drops as f64), ok: drops <= sc.allow_drops, skipped: false });
    }
    let ok = !interrupted && checked.iter().all(|c| c.ok) && steps.values().all(|v| v.get("error").is_none());
    // Terminal text.
    if let Some(s) = &analysis_summary {
        let limit = Limit { rows: SHOWN, more_hint: "every row is in the report's CSV and Parquet tables" };
        let mut out = Vec::new();
        let _ = crate::render::summary::render(&mut out, &pcap_path.display().to_string(), s, &rows.rows(), Some(limit));
        text.push_str(&String::from_utf8_lossy(&out));
    }
    if !steps.is_empty() {
        let mut tb = Table::new(&["Step", "Connections", "SYN", "FIN", "Packets", "Bytes", "Client conns", "Total ms"]);
        tb.right(&[1, 2, 3, 4, 5, 6, 7]);
        for st in sc.steps.iter().filter(|s| s.kind != StepKind::Sleep) {
            let (label, Some(v)) = (&st.label, steps.get(&st.label)) else { continue };
            let w = &v["wire"];
            let n = |x: &Value| x.as_u64().map(|n| crate::render::summary::thousands(n)).unwrap_or_else(|| "-".into());
            tb.row(vec![
                label.clone(),
                n(&w["connections"]),
                n(&w["syn"]),
                n(&w["fin"]),
                n(&w["packets"]),
                n(&w["bytes"]),
                n(&v["connections_opened"]),
                v["total_ms"].as_f64().map(|t| format!("{t:.1}")).unwrap_or_else(|| "-".into()),
            ]);
        }
        let _ = writeln!(text, "\nSteps side by side");
        text.push_str(&tb.render());
    }
    let _ = writeln!(text, "\nExpectations");
    for c in &checked {
        if c.skipped {
            let _ = writeln!(text, "  – {}   (skipped: no capture)", c.expectation);
        } else {
            let _ = writeln!(text, "  {} {}   (actual {})", if c.ok { "✓" } else { "✗" }, c.expectation, c.actual.map_or("missing".into(), |a| format!("{a}")));
        }
    }
    if interrupted {
        let _ = writeln!(text, "\nInterrupted: the capture and the report cover the steps that ran.");
    }
    let summary = json!({
        "scenario": { "name": sc.name, "file": file.display().to_string(), "description": sc.description },
        "capture": stats.as_ref().map(|s: &CaptureStats| json!({ "file": pcap_path.display().to_string(), "stats": s, "filter": filter })),
        "analysis": summary_doc,
        "steps": steps,
        "drops": drops,
        "expectations": checked,
        "interrupted": interrupted,
        "ok": ok,
    });
    let write = |name: &str, bytes: &[u8]| -> Result<(), RunError> {
        let p = reports.join(name);
        std::fs::write(&p, bytes).map_err(|e| setup(format!("{}: {e}", p.display())))?;
        Ok(())
    };
    write("summary.json", serde_json::to_string_pretty(&summary).map_err(|e| setup(e.to_string()))?.as_bytes())?;
    write("summary.txt", text.as_bytes())?;
    chown_to_sudo_user(&reports);
    if let Ok(rd) = std::fs::read_dir(&reports) {
        for e in rd.flatten() {
            chown_to_sudo_user(&e.path());
        }
    }
    Ok(Outcome { summary, text, ok, interrupted, capture: stats.map(|_| pcap_path), report: reports })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_242_000);
        assert_eq!(super::utc_stamp(t), "20261121-062000"); // date -u -d @1795242000
        assert_eq!(super::utc_stamp(std::time::UNIX_EPOCH), "19700101-000000");
    }
}
