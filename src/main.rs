//! The `wirelab` command line: argument parsing, input opening, and exit codes (anyhow at the edge).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use wirelab::analysis::{self, Observer, PacketApp, Summary};
use wirelab::proto::http::Transaction;
use wirelab::proto::websocket::{WsFrame, WsMessage};
#[cfg(feature = "export")]
use wirelab::render::export::Exporter;

/// Without the `export` feature, `--export` explains itself instead.
#[cfg(not(feature = "export"))]
struct Exporter;
#[cfg(not(feature = "export"))]
impl Exporter {
    fn new(_: &std::path::Path) -> Result<Self> {
        anyhow::bail!("this wirelab was built without the `export` feature; rebuild with default features for --export")
    }
    fn packet(&mut self, _: &Frame<'_>, _: &Decoded<'_>, _: Option<&PacketInfo>, _: PacketApp<'_>) {}
    fn transaction(&mut self, _: &Transaction) {}
    fn ws_frame(&mut self, _: &WsFrame) {}
    fn ws_message(&mut self, _: &WsMessage) {}
    fn finish(self, _: &Summary) -> Result<Exported> {
        unreachable!("never constructed")
    }
}
#[cfg(not(feature = "export"))]
struct Exported {
    packets: u64,
    connections: u64,
    http: u64,
    ws_frames: u64,
    ws_messages: u64,
}
use wirelab::capture::{CaptureReader, Frame, ReadError};
use wirelab::decode::Decoded;
use wirelab::render::follow::{self, Chunk, FollowFormat};
use wirelab::render::{packets, summary};
use wirelab::tcp::{PacketInfo, StreamEvent};

/// Exit codes scripts can rely on.
mod exit {
    /// Analysis complete.
    pub const OK: u8 = 0;
    /// A scenario expectation failed (or the run was interrupted).
    pub const FAILED: u8 = 1;
    /// Bad usage, unreadable input, or a file that is not a capture.
    pub const USAGE: u8 = 2;
    /// The capture is damaged: everything before the damage was analyzed and printed.
    pub const DAMAGED: u8 = 3;
}

#[derive(Parser)]
#[command(
    name = "wirelab",
    version,
    about = "See protocol behaviour on the wire: TCP handshakes, streams, HTTP and WebSocket.",
    long_about = "wirelab reads packet captures (pcap or pcapng, from Wireshark, tcpdump or wirelab itself), \
reassembles every TCP connection the way Wireshark does, and prints what happened on the wire.",
    after_help = "Examples:\n  \
wirelab analyze capture.pcapng              summary and conversations table\n  \
wirelab analyze capture.pcap --packets      Wireshark-style packet list, then the summary\n  \
wirelab analyze capture.pcap --json | jq .tcp\n  \
tcpdump -i lo -w - port 8080 | wirelab analyze -\n  \
wirelab follow capture.pcap --stream 0      both directions of connection 0, like tshark -z follow\n\n\
Exit codes: 0 success, 2 usage error or not a capture, 3 capture damaged (analysis of everything before the damage was printed)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyze a capture: summary, TCP conversations, anomalies (or JSON with --json).
    #[command(after_help = "The conversations table numbers connections like Wireshark's tcp.stream, so \
`wirelab follow FILE --stream N` and Wireshark's `tcp.stream eq N` show the same connection.\n\n\
History letters (Zeek style; uppercase = the side that sent the SYN): S SYN, H SYN-ACK, A pure ACK, \
D data, F FIN, R RST, T retransmission, W zero window, ^ capture began with the SYN-ACK.")]
    Analyze {
        /// Capture file (pcap or pcapng); `-` reads standard input.
        file: PathBuf,
        /// Print one JSON object (schema in the README) instead of tables.
        #[arg(long, conflicts_with = "packets")]
        json: bool,
        /// Print the packet list first (No., Time, Source, Destination, Protocol, Length, Info).
        #[arg(long)]
        packets: bool,
        /// Show every conversation row (default: the first 50).
        #[arg(long)]
        all: bool,
        /// Also write the packets, connections, http, ws_frames and ws_messages tables to DIR
        /// as CSV and Parquet (column schemas in the README).
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// Do not draw a progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Build an offline HTML report (charts, lesson, tables) from a capture or a run folder.
    #[command(after_help = "Example: wirelab report reports/persistent-vs-non-persistent-20261121-201500 --png\n\n\
From a capture it runs the analysis with export into the output folder first; from a run folder \
it reads the exported tables and summary.json there. Writes report.html (and with --png one \
1280x720 PNG per chart).")]
    Report {
        /// A capture file (pcap/pcapng) or a run folder (reports/<name>-<time>/).
        input: PathBuf,
        /// Another run folder (or capture) to put side by side.
        #[arg(long, value_name = "RUN_DIR")]
        compare: Option<PathBuf>,
        /// Output folder (default: the run folder, or reports/<capture name>-report/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Also write each chart as a 1280x720 PNG.
        #[arg(long)]
        png: bool,
        /// TCP stream for the flow and time-sequence graphs.
        #[arg(long)]
        stream: Option<u32>,
    },
    /// Fetch a page and every object it references, in a chosen connection mode, timing each.
    #[command(after_help = "Modes:\n  \
persistent       one connection, one request at a time\n  \
non-persistent   a new connection per object (Connection: close)\n  \
parallel[:N]     N non-persistent connections at once (default 5)\n  \
pipelined        one connection, every object request sent at once\n\n\
Example: wirelab fetch http://127.0.0.1:8080/BaseFile.html --mode non-persistent")]
    Fetch {
        /// Base page URL (http://).
        url: String,
        /// Connection mode.
        #[arg(long, short, default_value = "persistent")]
        mode: wirelab::client::fetch::Mode,
        /// Then load the page again with If-Modified-Since on every object (shows the 304s).
        #[arg(long)]
        if_modified_since: bool,
        /// Print JSON: per-object timings, connections and bytes.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario: bundled servers and clients, a live capture, the analysis, expectations.
    #[command(name = "run-scenario", after_help = "Example: sudo wirelab run-scenario scenarios/persistent-vs-non-persistent.toml\n\n\
Writes captures/<name>-<time>.pcapng and reports/<name>-<time>/ (summary.json, summary.txt, the \
exported tables). Exit codes: 0 all expectations hold, 1 one failed (or the run was interrupted), \
2 usage or set-up error (bad scenario file, no capture privilege).")]
    RunScenario {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Run the clients without capturing: no privilege needed, only client timings.
        #[arg(long)]
        no_capture: bool,
        /// Where captures/ and reports/ go (default: the current directory).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Run the whole scenario N times; report each step's mean time and 95% confidence interval.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Capture live traffic with libpcap into a pcapng file (needs root or CAP_NET_RAW).
    #[command(after_help = "Example: sudo wirelab capture -i lo -f 'tcp port 8080' -o captures/web.pcapng --duration 10\n\n\
Ctrl-C stops it early; the file is a valid pcapng either way. Without privileges it says how to get \
them (sudo, or setcap cap_net_raw,cap_net_admin+eip on the binary).")]
    Capture {
        /// Interface to capture on.
        #[arg(long, short, default_value = "lo")]
        interface: String,
        /// BPF capture filter, e.g. "tcp port 8080".
        #[arg(long, short, default_value = "")]
        filter: String,
        /// Output pcapng file.
        #[arg(long, short)]
        output: PathBuf,
        /// Seconds to capture (default: until Ctrl-C).
        #[arg(long, short)]
        duration: Option<f64>,
        /// Snapshot length in bytes.
        #[arg(long, default_value_t = 262144)]
        snaplen: i32,
        /// Kernel buffer size in MiB.
        #[arg(long, default_value_t = 64)]
        buffer_mib: i32,
    },
    /// Run a bundled server (an instrument: every behaviour a scenario compares is a switch).
    #[command(subcommand)]
    Serve(Serve),
    /// Load a danmaku server: viewers polling or on WebSocket, senders posting; delivery latency.
    #[command(name = "danmaku-load")]
    DanmakuLoad {
        /// Base URL of `wirelab serve danmaku` (http://).
        url: String,
        /// Video (comment channel) name.
        #[arg(long, default_value = "demo")]
        video: String,
        /// Viewers receiving comments.
        #[arg(long, default_value_t = 10)]
        viewers: usize,
        /// `ws`, or `poll:INTERVAL_MS` (e.g. poll:1000).
        #[arg(long, default_value = "ws")]
        transport: wirelab::client::danmaku_load::Transport,
        /// Clients posting comments.
        #[arg(long, default_value_t = 1)]
        senders: usize,
        /// Comments per second, per sender.
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send N WebSocket messages of S bytes to an echo endpoint and time each round trip.
    #[command(name = "ws-echo", after_help = "Examples:\n  \
wirelab ws-echo ws://127.0.0.1:9001/echo --count 1000 --size 64\n  \
wirelab ws-echo ws://127.0.0.1:9001/echo --count 200 --size 16384 --rate 100 --json")]
    WsEcho {
        /// Echo endpoint (ws://).
        url: String,
        /// Messages to send.
        #[arg(long, short = 'n', default_value_t = 100)]
        count: u64,
        /// Bytes per message.
        #[arg(long, short, default_value_t = 64)]
        size: usize,
        /// Messages per second (default: as fast as the echoes come back).
        #[arg(long, short)]
        rate: Option<f64>,
        /// Send binary messages instead of text.
        #[arg(long)]
        binary: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print both directions of one TCP connection in delivery order, like Wireshark's "Follow TCP Stream".
    #[command(after_help = "Formats match `tshark -q -z follow,tcp,FORMAT,N` (raw, ascii, hex); `bytes` writes \
the reassembled payload itself, ready to pipe into a file or another tool; `http` shows each request and \
response with its headers and (de-chunked) body text, then the WebSocket messages of an upgraded connection.")]
    Follow {
        /// Capture file (pcap or pcapng); `-` reads standard input.
        file: PathBuf,
        /// Connection number, as in the conversations table and Wireshark's tcp.stream.
        #[arg(long, short)]
        stream: u32,
        /// Output format.
        #[arg(long, short, value_enum, default_value = "ascii")]
        format: FollowFormat,
    },
}

#[derive(Subcommand)]
enum Serve {
    /// Live comments ("danmaku"): REST posting and polling, WebSocket push, and a page at /.
    #[command(after_help = "Endpoints:\n  \
POST /danmaku/<video>           JSON {text, video_time, color, sent_at?}\n  \
GET  /danmaku/<video>?since=ID  newer comments (polling)\n  \
GET  /chat/<video>              recent history\n  \
GET  /ws/danmaku/<video>        WebSocket: every new comment, pushed\n  \
GET  /                          the page (add ?mode=ws or ?interval=500)\n\n\
Load it with: wirelab danmaku-load URL --viewers 20 --transport poll:1000 --senders 2 --rate 5 --duration 10")]
    Danmaku {
        /// Port to listen on (0: any free port).
        #[arg(long, short, default_value_t = 8090)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Worker threads (1 = a single-threaded event loop).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// WebSocket: /echo echoes every message; /chat/<room> broadcasts to everyone in the room.
    #[command(after_help = "Example: wirelab serve ws --port 9001   then   wirelab ws-echo ws://127.0.0.1:9001/echo\n\n\
The first line on stdout is the ws:// URL it listens on. Runs without permessage-deflate \
(tokio-tungstenite does not offer it).")]
    Ws {
        /// Port to listen on (0: any free port).
        #[arg(long, short, default_value_t = 9001)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Worker threads (1 = a single-threaded event loop).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Static files over HTTP/1.1: GET and HEAD, ranges, conditional GET, keep-alive switches.
    #[command(after_help = "Examples:\n  \
wirelab serve http --root www --port 8080                   persistent, keep-alive timeout 5 s, max 100\n  \
wirelab serve http --root www --non-persistent              Connection: close after every response\n  \
wirelab serve http --root www --keepalive-max 3 --keepalive-timeout 2\n\n\
The first line on stdout is the URL it listens on (useful with --port 0). With --access-log, every \
response is logged as CSV: timestamp, client, method, target, status, bytes, connection, request.")]
    Http {
        /// Directory to serve (nothing outside it is ever served).
        #[arg(long, default_value = "www")]
        root: PathBuf,
        /// Port to listen on (0: any free port).
        #[arg(long, short, default_value_t = 8080)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Close the connection after every response (HTTP/1.0 style).
        #[arg(long)]
        non_persistent: bool,
        /// Seconds an idle persistent connection stays open.
        #[arg(long, default_value_t = 5)]
        keepalive_timeout: u64,
        /// Requests served on one persistent connection before it is closed.
        #[arg(long, default_value_t = 100)]
        keepalive_max: u32,
        /// Seconds a client has to send a whole header block (defends against slowloris).
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Largest header block accepted, in bytes (431 beyond).
        #[arg(long, default_value_t = 16384)]
        max_header_bytes: usize,
        /// Most header fields accepted (431 beyond).
        #[arg(long, default_value_t = 64)]
        max_headers: usize,
        /// Write an access log (CSV) to this file.
        #[arg(long)]
        access_log: Option<PathBuf>,
        /// Worker threads (1 = a single-threaded event loop, like nginx with one worker).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("wirelab: error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Either kind of input reader: a mapped file or standard input.
enum Input {
    File(CaptureReader<File>),
    Stdin(CaptureReader<io::StdinLock<'static>>),
}

fn reader_for(path: &PathBuf) -> Result<(Input, Option<u64>, String)> {
    let name = if path.as_os_str() == "-" { "<stdin>".to_string() } else { path.display().to_string() };
    let bad = |e: ReadError| match e {
        ReadError::NotACapture(why) => anyhow::anyhow!("{name}: not a capture file ({why})"),
        ReadError::Io(e) => anyhow::anyhow!("{name}: {e}"),
    };
    if path.as_os_str() == "-" {
        return Ok((Input::Stdin(CaptureReader::new(io::stdin().lock()).map_err(bad)?), None, name));
    }
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Input::File(CaptureReader::open_file(f).map_err(bad)?), len, name))
}

/// Runs the analysis on either kind of input.
fn analyze_input(input: Input, obs: &mut impl Observer, opts: &analysis::Options) -> Result<Summary, ReadError> {
    match input {
        Input::File(r) => analysis::analyze_with(r, obs, opts),
        Input::Stdin(r) => analysis::analyze_with(r, obs, opts),
    }
}

fn progress_bar(len: Option<u64>, quiet: bool) -> Option<ProgressBar> {
    let len = len.filter(|&l| l > 32 << 20 && !quiet)?;
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} analyzing {bar:30} {bytes}/{total_bytes} {msg} ({eta})")
            .ok()?
            .progress_chars("█▉ "),
    );
    Some(pb)
}

fn warn_damage(s: &Summary, name: &str) -> u8 {
    match &s.capture.damage {
        Some(d) => {
            eprintln!(
                "wirelab: warning: {name} is damaged at byte offset {}: {}. Analyzed the {} packets before it.",
                d.offset, d.reason, s.capture.packets
            );
            exit::DAMAGED
        }
        None => exit::OK,
    }
}

struct AnalyzeObs<W: Write> {
    out: Option<W>,
    t0: Option<i128>,
    pb: Option<ProgressBar>,
    err: Option<io::Error>,
    /// Rows kept for the terminal tables (None = keep none).
    keep: Option<usize>,
    transactions: Vec<Transaction>,
    messages: Vec<WsMessage>,
    export: Option<Exporter>,
}

impl<W: Write> Observer for AnalyzeObs<W> {
    fn packet(&mut self, frame: &Frame<'_>, decoded: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>) {
        if let Some(x) = &mut self.export {
            x.packet(frame, decoded, tcp, app);
        }
        if let Some(out) = &mut self.out {
            let t0 = *self.t0.get_or_insert(frame.ts_ns);
            if self.err.is_none() {
                if let Err(e) = writeln!(out, "{}", packets::line(frame, decoded, tcp, app, t0)) {
                    self.err = Some(e);
                }
            }
        }
    }
    fn transaction(&mut self, t: &Transaction) {
        if let Some(x) = &mut self.export {
            x.transaction(t);
        }
        if self.keep.is_some_and(|k| self.transactions.len() < k) {
            self.transactions.push(t.clone());
        }
    }
    fn ws_frame(&mut self, f: &WsFrame) {
        if let Some(x) = &mut self.export {
            x.ws_frame(f);
        }
    }
    fn ws_message(&mut self, m: &WsMessage) {
        if let Some(x) = &mut self.export {
            x.ws_message(m);
        }
        if self.keep.is_some_and(|k| self.messages.len() < k) {
            self.messages.push(m.clone());
        }
    }
    fn progress(&mut self, position: u64, packets: u64) {
        if let Some(pb) = &self.pb {
            pb.set_position(position);
            pb.set_message(format!("{} packets", summary::thousands(packets)));
        }
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            b.worker_threads(threads);
        }
        b.enable_all().build()?
    };
    Ok(rt)
}

/// Mean and the half-width of its 95% confidence interval (Student's t).
fn mean_ci95(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom, then the normal.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
        2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.960);
    (mean, t * (var / n as f64).sqrt())
}

fn print_page(out: &mut impl Write, r: &wirelab::client::fetch::PageReport) -> io::Result<()> {
    let label = if r.conditional { " (conditional reload)" } else { "" };
    writeln!(out, "{} {:?}{label}", r.url, r.mode)?;
    for o in std::iter::once(&r.base).chain(r.objects.iter()) {
        let name = o.path.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&o.path);
        let what = if o.status == 200 || o.status == 206 { "done".to_string() } else { o.status.to_string() };
        writeln!(out, "  {name:<16} {what:<5} {:>9} B  {:>8.1} ms  conn {}", summary::thousands(o.bytes), o.ms, o.connection)?;
    }
    writeln!(
        out,
        "Total Time {:.1} ms · {} objects · {} B · {} TCP connection{}",
        r.total_ms,
        r.objects.len() + 1,
        summary::thousands(r.bytes),
        r.connections_opened,
        if r.connections_opened == 1 { "" } else { "s" }
    )
}

/// Binds, prints the URL line (for scripts and tests) and runs `serve` until Ctrl-C.
fn serve_until_ctrl_c<F, Fut>(threads: usize, bind: std::net::IpAddr, port: u16, scheme: &str, path: &str, what: String, serve: F) -> Result<u8>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>>,
{
    runtime(threads)?.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind, port)).await.with_context(|| format!("cannot listen on {bind}:{port}"))?;
        let addr = listener.local_addr()?;
        let host = if addr.is_ipv6() { format!("[{}]", addr.ip()) } else { addr.ip().to_string() };
        // The URL line is for scripts and tests; a closed stdout must not stop the server.
        let _ = writeln!(io::stdout(), "{scheme}://{host}:{}{path}", addr.port());
        let _ = io::stdout().flush();
        eprintln!("wirelab: {what} (Ctrl-C stops)");
        tokio::select! {
            r = serve(listener) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(exit::OK)
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        #[cfg(feature = "export")]
        Command::RunScenario { file, no_capture, out, repeat } => {
            let sc = wirelab::scenario::Scenario::load(&file)?;
            eprintln!("wirelab: scenario {} — {}", sc.name, sc.description);
            let opts = wirelab::scenario::run::RunOptions { no_capture, out_root: out };
            let mut stdout = io::stdout().lock();
            let mut all_ok = true;
            let mut times: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
            let mut last_report = None;
            for i in 0..repeat.max(1) {
                if repeat > 1 {
                    eprintln!("── run {} of {repeat}", i + 1);
                }
                let o = wirelab::scenario::run::run(&file, &sc, &opts)?;
                all_ok &= o.ok;
                for (label, v) in o.summary["steps"].as_object().into_iter().flatten() {
                    if let Some(t) = v["total_ms"].as_f64() {
                        times.entry(label.clone()).or_default().push(t);
                    }
                }
                if i + 1 == repeat.max(1) || !o.ok {
                    let _ = stdout.write_all(o.text.as_bytes());
                    if let Some(c) = &o.capture {
                        let _ = writeln!(stdout, "\ncapture: {}", c.display());
                    }
                    let _ = writeln!(stdout, "report:  {}", o.report.display());
                }
                last_report = Some(o.report);
                if o.interrupted {
                    break;
                }
            }
            if repeat > 1 {
                let mut tb = wirelab::render::table::Table::new(&["Step", "Runs", "Mean ms", "± 95% CI", "Min", "Max"]);
                tb.right(&[1, 2, 3, 4, 5]);
                let mut doc = serde_json::Map::new();
                for (label, v) in &times {
                    let (mean, half) = mean_ci95(v);
                    let (lo, hi) = (v.iter().cloned().fold(f64::INFINITY, f64::min), v.iter().cloned().fold(0.0, f64::max));
                    tb.row(vec![label.clone(), v.len().to_string(), format!("{mean:.3}"), format!("{half:.3}"), format!("{lo:.3}"), format!("{hi:.3}")]);
                    doc.insert(label.clone(), serde_json::json!({ "runs": v.len(), "mean_ms": mean, "ci95_ms": half, "min_ms": lo, "max_ms": hi, "samples_ms": v }));
                }
                let _ = writeln!(stdout, "\nStep times over {repeat} runs");
                let _ = stdout.write_all(tb.render().as_bytes());
                if let Some(r) = &last_report {
                    let _ = std::fs::write(r.join("repeat.json"), serde_json::to_string_pretty(&doc)?);
                }
            }
            let _ = stdout.flush();
            Ok(if all_ok { exit::OK } else { exit::FAILED })
        }
        #[cfg(feature = "export")]
        Command::Report { input, compare, out, png, stream } => {
            let o = wirelab::render::report::build(wirelab::render::report::ReportRequest { input, compare, out, png, stream })?;
            for p in o.pngs.iter().chain([&o.html]) {
                println!("{}", p.display());
            }
            Ok(exit::OK)
        }
        #[cfg(not(feature = "export"))]
        Command::Report { .. } => anyhow::bail!("this wirelab was built without the `export` feature that reports need"),
        #[cfg(not(feature = "export"))]
        Command::RunScenario { .. } => anyhow::bail!("this wirelab was built without the `export` feature that scenarios need"),
        Command::Capture { interface, filter, output, duration, snaplen, buffer_mib } => {
            use wirelab::capture::live::{LiveCapture, LiveConfig};
            let comment = format!(
                "wirelab capture on {interface}, filter {filter:?}, started {}",
                httpdate::fmt_http_date(std::time::SystemTime::now())
            );
            let cfg = LiveConfig { interface: interface.clone(), filter, snaplen, buffer_bytes: buffer_mib.saturating_mul(1 << 20), comment };
            let cap = LiveCapture::start(&cfg, &output)?;
            eprintln!("wirelab: capturing on {interface} into {} ({})", output.display(), match duration {
                Some(d) => format!("{d} s; Ctrl-C stops early"),
                None => "Ctrl-C stops".into(),
            });
            runtime(1)?.block_on(async {
                match duration {
                    Some(d) => tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs_f64(d.max(0.0))) => {}
                        _ = tokio::signal::ctrl_c() => {}
                    },
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            });
            let st = cap.stop()?;
            eprintln!(
                "wirelab: {} packets ({} bytes) written to {}; kernel dropped {}",
                summary::thousands(st.packets),
                summary::thousands(st.bytes),
                output.display(),
                st.kernel_dropped + st.interface_dropped
            );
            Ok(exit::OK)
        }
        Command::Serve(Serve::Danmaku { port, bind, threads }) => {
            serve_until_ctrl_c(threads, bind, port, "http", "/", "serving danmaku: the page at /, REST at /danmaku/<video>, push at /ws/danmaku/<video>".into(), wirelab::server::danmaku::serve)
        }
        Command::DanmakuLoad { url, video, viewers, transport, senders, rate, duration, json } => {
            let r = runtime(0)?.block_on(wirelab::client::danmaku_load::run(&url, &video, viewers, transport, senders, rate, std::time::Duration::from_secs_f64(duration)))?;
            let mut out = io::stdout().lock();
            let written = if json {
                serde_json::to_writer_pretty(&mut out, &r).map_err(io::Error::from).and_then(|_| writeln!(out))
            } else {
                let l = &r.latency;
                writeln!(
                    out,
                    "{:?}: {} viewers, {} comments sent, {}/{} deliveries\nlatency p50 {:.1} ms · p95 {:.1} ms · max {:.1} ms\nviewer requests {} ({} empty polls) · viewer bytes sent {} · received {}",
                    r.transport,
                    r.viewers,
                    r.comments_sent,
                    r.deliveries,
                    r.expected_deliveries,
                    l.p50_ms.unwrap_or(0.0),
                    l.p95_ms.unwrap_or(0.0),
                    l.max_ms.unwrap_or(0.0),
                    r.viewer_requests,
                    r.empty_polls,
                    summary::thousands(r.viewer_bytes_sent),
                    summary::thousands(r.viewer_bytes_received)
                )
            };
            match written.and_then(|_| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                r => r?,
            }
            Ok(exit::OK)
        }
        Command::Serve(Serve::Ws { port, bind, threads }) => {
            serve_until_ctrl_c(threads, bind, port, "ws", "/", "serving WebSocket: /echo and /chat/<room>".into(), wirelab::server::ws::serve)
        }
        Command::WsEcho { url, count, size, rate, binary, json } => {
            let r = runtime(1)?.block_on(wirelab::client::ws_echo::run(&url, count, size, rate, binary))?;
            let mut out = io::stdout().lock();
            let written = if json {
                serde_json::to_writer_pretty(&mut out, &r).map_err(io::Error::from).and_then(|_| writeln!(out))
            } else {
                let d = &r.rtt;
                writeln!(
                    out,
                    "{} messages of {} B to {}: RTT p50 {:.3} ms · p95 {:.3} ms · p99 {:.3} ms · max {:.3} ms · {:.0} msg/s · {:.2} MB/s",
                    r.messages,
                    r.size,
                    r.url,
                    d.p50_ms.unwrap_or(0.0),
                    d.p95_ms.unwrap_or(0.0),
                    d.p99_ms.unwrap_or(0.0),
                    d.max_ms.unwrap_or(0.0),
                    r.messages_per_s,
                    r.mb_per_s
                )
            };
            match written.and_then(|_| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                r => r?,
            }
            Ok(exit::OK)
        }
        Command::Fetch { url, mode, if_modified_since, json } => {
            let pages = runtime(1)?.block_on(async {
                let first = wirelab::client::fetch::fetch_page(&url, mode, None).await?;
                let mut pages = vec![first];
                if if_modified_since {
                    let again = wirelab::client::fetch::fetch_page(&url, mode, Some(&pages[0])).await?;
                    pages.push(again);
                }
                Ok::<_, wirelab::client::fetch::FetchError>(pages)
            })?;
            let mut out = io::stdout().lock();
            let written = if json {
                serde_json::to_writer_pretty(&mut out, &pages).map_err(io::Error::from).and_then(|_| writeln!(out))
            } else {
                pages.iter().try_for_each(|p| print_page(&mut out, p))
            };
            match written.and_then(|_| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                r => r?,
            }
            Ok(exit::OK)
        }
        Command::Serve(Serve::Http {
            root,
            port,
            bind,
            non_persistent,
            keepalive_timeout,
            keepalive_max,
            header_timeout,
            max_header_bytes,
            max_headers,
            access_log,
            threads,
        }) => {
            if !root.is_dir() {
                anyhow::bail!("{} is not a directory (--root)", root.display());
            }
            let cfg = wirelab::server::http::HttpServerConfig {
                root: root.clone(),
                persistent: !non_persistent,
                keepalive_timeout: std::time::Duration::from_secs(keepalive_timeout),
                keepalive_max: keepalive_max.max(1),
                header_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
                max_header_bytes,
                max_headers: max_headers.max(1),
                access_log,
                ..Default::default()
            };
            let what = format!(
                "serving {} ({})",
                root.display(),
                if non_persistent { "non-persistent".to_string() } else { format!("persistent, keep-alive timeout={keepalive_timeout}s max={keepalive_max}") }
            );
            serve_until_ctrl_c(threads, bind, port, "http", "/", what, move |l| wirelab::server::http::serve(l, cfg))
        }
        Command::Analyze { file, json, packets: list, all, export, quiet } => {
            let (reader, len, name) = reader_for(&file)?;
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            if list {
                writeln!(out, "{}", packets::header())?;
            }
            let keep = if json { None } else if all { Some(usize::MAX) } else { Some(50) };
            let mut obs = AnalyzeObs {
                out: list.then_some(&mut out),
                t0: None,
                pb: progress_bar(len, quiet),
                err: None,
                keep,
                transactions: vec![],
                messages: vec![],
                export: match &export {
                    Some(dir) => Some(Exporter::new(dir)?),
                    None => None,
                },
            };
            let opts = analysis::Options { no_packet_notes: !list && export.is_none(), ..Default::default() };
            let s = analyze_input(reader, &mut obs, &opts).with_context(|| format!("reading {name}"))?;
            let AnalyzeObs { pb, err, transactions, messages, export: exporter, .. } = obs;
            if let (Some(x), Some(dir)) = (exporter, &export) {
                let n = x.finish(&s)?;
                eprintln!(
                    "wirelab: exported {} packets, {} connections, {} HTTP transactions, {} WebSocket frames and {} messages to {} (CSV and Parquet)",
                    n.packets, n.connections, n.http, n.ws_frames, n.ws_messages, dir.display()
                );
            }
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            if let Some(e) = err {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return Ok(exit::OK);
                }
                return Err(e.into());
            }
            if json {
                let doc = analysis::Report::new(&name, &s);
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
            } else {
                if list {
                    writeln!(out)?;
                }
                let rows = summary::Rows { transactions: &transactions, messages: &messages };
                out.write_all(summary::render(&name, &s, &rows, if all { None } else { Some(50) }).as_bytes())?;
            }
            match out.flush() {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(exit::OK),
                r => r?,
            }
            Ok(warn_damage(&s, &name))
        }
        Command::Follow { file, stream, format } => {
            let (reader, _, name) = reader_for(&file)?;
            struct FollowObs {
                stream: u32,
                chunks: Vec<Chunk>,
                transactions: Vec<Transaction>,
                messages: Vec<WsMessage>,
            }
            impl Observer for FollowObs {
                fn transaction(&mut self, t: &Transaction) {
                    if t.stream == self.stream {
                        self.transactions.push(t.clone());
                    }
                }
                fn ws_message(&mut self, m: &WsMessage) {
                    if m.stream == self.stream {
                        self.messages.push(m.clone());
                    }
                }
                fn stream(&mut self, ev: &StreamEvent<'_>) {
                    match ev {
                        StreamEvent::Data { stream, dir, bytes, .. } if *stream == self.stream => {
                            self.chunks.push(Chunk { dir: *dir, bytes: bytes.to_vec(), missing: false });
                        }
                        // Like Wireshark, a segment cut by the snaplen shows what was captured,
                        // with no marker; bytes lost between segments get one.
                        StreamEvent::Gap { stream, dir, len, snaplen: false, .. } if *stream == self.stream => {
                            self.chunks.push(Chunk::missing(*dir, *len));
                        }
                        _ => {}
                    }
                }
            }
            let mut obs = FollowObs { stream, chunks: vec![], transactions: vec![], messages: vec![] };
            let opts = analysis::Options { keep_http_text: (format == FollowFormat::Http).then_some(stream), no_packet_notes: true };
            let s = analyze_input(reader, &mut obs, &opts).with_context(|| format!("reading {name}"))?;
            let Some(conn) = s.conversations.get(stream as usize) else {
                anyhow::bail!("{name} has {} TCP connections (0..{}); there is no stream {stream}", s.conversations.len(), s.conversations.len().saturating_sub(1).max(0));
            };
            let chunks = obs.chunks;
            let bytes = if format == FollowFormat::Http {
                follow::render_http(stream, Some((conn.a, conn.b)), &obs.transactions, &obs.messages)
            } else {
                follow::render(format, stream, Some((conn.a, conn.b)), &chunks)
            };
            let mut out = io::stdout().lock();
            match out.write_all(&bytes).and_then(|_| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                r => r?,
            }
            Ok(warn_damage(&s, &name))
        }
    }
}
