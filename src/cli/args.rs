//! The command line's grammar: every subcommand, flag and help text (clap derive). Nothing
//! here runs anything; `main.rs` dispatches each [`Command`] to its function in `cli`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use wirelab::render::follow::FollowFormat;

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
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Analyze a capture: summary, TCP conversations, anomalies (or JSON with --json).
    #[command(after_help = "The conversations table numbers connections like Wireshark's tcp.stream, so \
`wirelab follow FILE --stream N` and Wireshark's `tcp.stream eq N` show the same connection.\n\n\
History letters (Zeek style; uppercase = the side that sent the SYN): S SYN, H SYN-ACK, A pure ACK, \
D data, F FIN, R RST, T retransmission, W zero window, ^ capture began with the SYN-ACK.")]
    Analyze(AnalyzeArgs),
    /// Fetch a page and every object it references, in a chosen connection mode, timing each.
    #[command(after_help = "Modes:\n  \
persistent       one connection, one request at a time\n  \
non-persistent   a new connection per object (Connection: close)\n  \
parallel[:N]     N non-persistent connections at once (default 5)\n  \
pipelined        one connection, every object request sent at once\n\n\
Example: wirelab fetch http://127.0.0.1:8080/BaseFile.html --mode non-persistent")]
    Fetch(FetchArgs),
    /// Run a scenario: bundled servers and clients, a live capture, the analysis, expectations.
    #[command(name = "run-scenario", after_help = "Example: sudo wirelab run-scenario scenarios/persistent-vs-non-persistent.toml\n\n\
Writes captures/<name>-<time>.pcapng and reports/<name>-<time>/ (summary.json, summary.txt, the \
exported tables). Exit codes: 0 all expectations hold, 1 one failed (or the run was interrupted), \
2 usage or set-up error (bad scenario file, no capture privilege).")]
    RunScenario(RunScenarioArgs),
    /// Build an offline HTML report (charts, lesson, tables) from a capture or a run folder.
    #[command(after_help = "Example: wirelab report reports/persistent-vs-non-persistent-20261121-201500 --png\n\n\
From a capture it runs one analysis pass that keeps only what the report draws (no tables are \
written: `wirelab analyze CAPTURE --export DIR` writes them); from a run folder it reads the \
exported tables and summary.json there. Writes report.html (and with --png one 1280x720 PNG per \
chart). run-scenario writes both into its report folder by itself.")]
    Report(ReportArgs),
    /// Bring up an emulated link (RTT, rate, loss) between two network namespaces until Ctrl-C (needs root).
    #[command(after_help = "Prints each side's namespace, address and TUN device; run tools there with \
`ip netns exec NS ...`. Example: sudo wirelab link --rtt-ms 50 --rate-mbit 10 --capture c.pcapng")]
    Link(LinkArgs),
    /// Capture live traffic with libpcap into a pcapng file (needs root or CAP_NET_RAW).
    #[command(after_help = "Example: sudo wirelab capture -i lo -f 'tcp port 8080' -o captures/web.pcapng --duration 10\n\n\
Ctrl-C stops it early; the file is a valid pcapng either way. Without privileges it says how to get \
them (sudo, or setcap cap_net_raw,cap_net_admin+eip on the binary).")]
    Capture(CaptureArgs),
    /// Run a bundled server (an instrument: every behaviour a scenario compares is a switch).
    #[command(subcommand)]
    Serve(Serve),
    /// Load a danmaku server: viewers polling or on WebSocket, senders posting; delivery latency.
    #[command(name = "danmaku-load")]
    DanmakuLoad(DanmakuLoadArgs),
    /// Send N WebSocket messages of S bytes to an echo endpoint and time each round trip.
    #[command(name = "ws-echo", after_help = "Examples:\n  \
wirelab ws-echo ws://127.0.0.1:9001/echo --count 1000 --size 64\n  \
wirelab ws-echo ws://127.0.0.1:9001/echo --count 200 --size 16384 --rate 100 --json")]
    WsEcho(WsEchoArgs),
    /// Print both directions of one TCP connection in delivery order, like Wireshark's "Follow TCP Stream".
    #[command(after_help = "Formats match `tshark -q -z follow,tcp,FORMAT,N` (raw, ascii, hex); `bytes` writes \
the reassembled payload itself, ready to pipe into a file or another tool; `http` shows each request and \
response with its headers and (de-chunked) body text, then the WebSocket messages of an upgraded connection.")]
    Follow(FollowArgs),
}

#[derive(Subcommand)]
pub enum Serve {
    /// Live comments ("danmaku"): REST posting and polling, WebSocket push, and a page at /.
    #[command(after_help = "Endpoints:\n  \
POST /danmaku/<video>           JSON {text, video_time, color, sent_at?}\n  \
GET  /danmaku/<video>?since=ID  newer comments (polling)\n  \
GET  /chat/<video>              recent history\n  \
GET  /ws/danmaku/<video>        WebSocket: every new comment, pushed\n  \
GET  /                          the page (add ?mode=ws or ?interval=500)\n\n\
Load it with: wirelab danmaku-load URL --viewers 20 --transport poll:1000 --senders 2 --rate 5 --duration 10")]
    Danmaku(DanmakuArgs),
    /// WebSocket: /echo echoes every message; /chat/<room> broadcasts to everyone in the room.
    #[command(after_help = "Example: wirelab serve ws --port 9001   then   wirelab ws-echo ws://127.0.0.1:9001/echo\n\n\
The first line on stdout is the ws:// URL it listens on. Runs without permessage-deflate \
(tokio-tungstenite does not offer it).")]
    Ws(WsArgs),
    /// Static files over HTTP/1.1: GET and HEAD, ranges, conditional GET, keep-alive switches.
    #[command(after_help = "Examples:\n  \
wirelab serve http --root www --port 8080                   persistent, keep-alive timeout 5 s, max 100\n  \
wirelab serve http --root www --non-persistent              Connection: close after every response\n  \
wirelab serve http --root www --keepalive-max 3 --keepalive-timeout 2\n\n\
The first line on stdout is the URL it listens on (useful with --port 0). With --access-log, every \
response is logged as CSV: timestamp, client, method, target, status, bytes, connection, request.")]
    Http(HttpArgs),
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Capture file (pcap or pcapng); `-` reads standard input.
    pub file: PathBuf,
    /// Print one JSON object (schema in the README) instead of tables.
    #[arg(long, conflicts_with = "packets")]
    pub json: bool,
    /// Print the packet list first (No., Time, Source, Destination, Protocol, Length, Info).
    #[arg(long)]
    pub packets: bool,
    /// Show every row of the conversations, HTTP and WebSocket tables (default: the first 50 of each).
    #[arg(long)]
    pub all: bool,
    /// Also write the packets, connections, http, ws_frames and ws_messages tables to DIR
    /// as CSV and Parquet (column schemas in the README).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Threads for the pass: 2 reads and decodes frames on one thread while the other tracks
    /// connections and parses HTTP and WebSocket (same results, less time); 1 does it all on
    /// one. Default: 2 on a machine with two cores or more. `--packets` and `--export` use one.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: Option<u8>,
}

#[derive(Args)]
pub struct FetchArgs {
    /// Base page URL (http://).
    pub url: String,
    /// Connection mode.
    #[arg(long, short, default_value = "persistent")]
    pub mode: wirelab::client::fetch::Mode,
    /// Then load the page again with If-Modified-Since on every object (shows the 304s).
    #[arg(long)]
    pub if_modified_since: bool,
    /// Print JSON: per-object timings, connections and bytes.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RunScenarioArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Run the clients without capturing: no privilege needed, only client timings.
    #[arg(long)]
    pub no_capture: bool,
    /// Where captures/ and reports/ go (default: the current directory).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Run the whole scenario N times; report every step measurement's mean and 95% confidence interval.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Show every row of the long tables (default: the first 25; summary.txt always has every row).
    #[arg(long)]
    pub all: bool,
}

#[derive(Args)]
pub struct CaptureArgs {
    /// Interface to capture on.
    #[arg(long, short, default_value = "lo")]
    pub interface: String,
    /// BPF capture filter, e.g. "tcp port 8080".
    #[arg(long, short, default_value = "")]
    pub filter: String,
    /// Output pcapng file.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Seconds to capture (default: until Ctrl-C).
    #[arg(long, short)]
    pub duration: Option<f64>,
    /// Snapshot length in bytes.
    #[arg(long, default_value_t = 262144)]
    pub snaplen: i32,
    /// Kernel buffer size in MiB.
    #[arg(long, default_value_t = 64)]
    pub buffer_mib: i32,
}

#[derive(Args)]
pub struct DanmakuLoadArgs {
    /// Base URL of `wirelab serve danmaku` (http://).
    pub url: String,
    /// Video (comment channel) name.
    #[arg(long, default_value = "demo")]
    pub video: String,
    /// Viewers receiving comments.
    #[arg(long, default_value_t = 10)]
    pub viewers: usize,
    /// `ws`, or `poll:INTERVAL_MS` (e.g. poll:1000).
    #[arg(long, default_value = "ws")]
    pub transport: wirelab::client::danmaku_load::Transport,
    /// Clients posting comments.
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Comments per second, per sender.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct WsEchoArgs {
    /// Echo endpoint (ws://).
    pub url: String,
    /// Messages to send.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub count: u64,
    /// Bytes per message.
    #[arg(long, short, default_value_t = 64)]
    pub size: usize,
    /// Messages per second (default: as fast as the echoes come back).
    #[arg(long, short)]
    pub rate: Option<f64>,
    /// Send binary messages instead of text.
    #[arg(long)]
    pub binary: bool,
    /// Concurrent connections, each sending --count messages (the report sums them).
    #[arg(long, short = 'c', default_value_t = 1)]
    pub connections: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct FollowArgs {
    /// Capture file (pcap or pcapng); `-` reads standard input.
    pub file: PathBuf,
    /// Connection number, as in the conversations table and Wireshark's tcp.stream.
    #[arg(long, short)]
    pub stream: u32,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "ascii")]
    pub format: FollowFormat,
}

#[derive(Args)]
pub struct DanmakuArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, short, default_value_t = 8090)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Worker threads (1 = a single-threaded event loop).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Most videos held at once (a new one past this is refused with 503).
    #[arg(long, default_value_t = 100)]
    pub max_videos: usize,
    /// Comments kept per video.
    #[arg(long, default_value_t = 1000)]
    pub history: usize,
    /// Longest comment text kept, in bytes (cut on a character boundary).
    #[arg(long, default_value_t = 500)]
    pub max_text: usize,
}

#[derive(Args)]
pub struct WsArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, short, default_value_t = 9001)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Worker threads (1 = a single-threaded event loop).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Largest message in bytes, all fragments together (close 1009 beyond).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_message: usize,
    /// Largest single frame in bytes (close 1009 beyond).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_frame: usize,
    /// Seconds a client has to finish the opening handshake.
    #[arg(long, default_value_t = 10)]
    pub handshake_timeout: u64,
    /// Messages queued for one /chat subscriber before it is dropped (close 1008).
    #[arg(long, default_value_t = 1024)]
    pub subscriber_queue: usize,
}

#[derive(Args)]
pub struct HttpArgs {
    /// Directory to serve (nothing outside it is ever served).
    #[arg(long, default_value = "www")]
    pub root: PathBuf,
    /// Port to listen on (0: any free port).
    #[arg(long, short, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Close the connection after every response (HTTP/1.0 style).
    #[arg(long)]
    pub non_persistent: bool,
    /// Seconds an idle persistent connection stays open.
    #[arg(long, default_value_t = 5)]
    pub keepalive_timeout: u64,
    /// Requests served on one persistent connection before it is closed.
    #[arg(long, default_value_t = 100)]
    pub keepalive_max: u32,
    /// Seconds a client has to send a whole header block (defends against slowloris).
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Largest header block accepted, in bytes (431 beyond).
    #[arg(long, default_value_t = 16384)]
    pub max_header_bytes: usize,
    /// Most header fields accepted (431 beyond).
    #[arg(long, default_value_t = 64)]
    pub max_headers: usize,
    /// Write an access log (CSV) to this file.
    #[arg(long)]
    pub access_log: Option<PathBuf>,
    /// Worker threads (1 = a single-threaded event loop, like nginx with one worker).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Seconds a write may make no progress before the connection is closed (nginx's send_timeout).
    #[arg(long, default_value_t = 60)]
    pub send_timeout: u64,
}

#[derive(Args)]
pub struct LinkArgs {
    /// Round-trip time the link adds (half each way), in ms.
    #[arg(long, default_value_t = 0.0)]
    pub rtt_ms: f64,
    /// Link rate in Mbit/s (default: unlimited).
    #[arg(long)]
    pub rate_mbit: Option<f64>,
    /// Probability that a packet is lost, each way.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Drop-tail queue size in packets (default 1000).
    #[arg(long, conflicts_with = "queue_bytes")]
    pub queue_packets: Option<u64>,
    /// Drop-tail queue size in bytes.
    #[arg(long)]
    pub queue_bytes: Option<u64>,
    /// Seed of the loss generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Capture on the client's TUN device into this pcapng file.
    #[arg(long)]
    pub capture: Option<PathBuf>,
    /// Tear down after this many seconds (default: at Ctrl-C or SIGTERM).
    #[arg(long)]
    pub duration: Option<f64>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// A capture file (pcap/pcapng) or a run folder (reports/<name>-<time>/).
    pub input: PathBuf,
    /// Another run folder (or capture) to put side by side.
    #[arg(long, value_name = "RUN_DIR")]
    pub compare: Option<PathBuf>,
    /// Output folder (default: the run folder, or reports/<capture name>-report/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write each chart as a 1280x720 PNG.
    #[arg(long)]
    pub png: bool,
    /// TCP stream for the flow and time-sequence graphs.
    #[arg(long)]
    pub stream: Option<u32>,
}
