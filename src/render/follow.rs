//! "Follow TCP Stream" output in tshark's `-z follow,tcp,FORMAT,N` layouts (raw, ascii, hex),
//! plus plain bytes for piping into other tools.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;

use crate::analysis::{Detail, Observed, Observer, CONTINUE};
use crate::proto::http::Transaction;
use crate::proto::websocket::WsMessage;
use crate::tcp::StreamEvent;

/// One delivered chunk of one direction (0 = node 0, the connection's first sender).
#[derive(Debug, Clone)]
pub struct Chunk {
    pub dir: u8,
    pub bytes: Vec<u8>,
    /// A marker for bytes the capture lost, not stream data.
    pub missing: bool,
}

impl Chunk {
    /// The marker Wireshark shows for a gap: `[N bytes missing in capture file]`, with the
    /// terminating NUL that tshark's raw output also carries.
    pub fn missing(dir: u8, len: u64) -> Chunk {
        let mut bytes = format!("[{len} bytes missing in capture file]").into_bytes();
        bytes.push(0);
        Chunk { dir, bytes, missing: true }
    }
}

/// An observer that collects one connection's delivered chunks, HTTP transactions and
/// WebSocket messages during a pass.
#[derive(Debug, Default)]
pub struct Collector {
    stream: u32,
    pub chunks: Vec<Chunk>,
    pub transactions: Vec<Transaction>,
    pub messages: Vec<WsMessage>,
}

impl Collector {
    pub fn new(stream: u32) -> Self {
        Collector { stream, ..Default::default() }
    }
}

impl Observer for Collector {
    fn transaction(&mut self, t: &Transaction) -> Observed {
        if t.stream == self.stream {
            self.transactions.push(t.clone());
        }
        CONTINUE
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        if m.stream == self.stream {
            self.messages.push(m.clone());
        }
        CONTINUE
    }
    fn stream(&mut self, ev: &StreamEvent<'_>) -> Observed {
        match ev {
            StreamEvent::Data { stream, dir, bytes, .. } if *stream == self.stream => {
                self.chunks.push(Chunk { dir: *dir, bytes: bytes.to_vec(), missing: false });
            }
            // Like Wireshark, a segment cut by the snaplen shows what was captured, with no
            // marker; bytes lost between segments get one.
            StreamEvent::Gap { stream, dir, len, snaplen: false, .. } if *stream == self.stream => {
                self.chunks.push(Chunk::missing(*dir, *len));
            }
            _ => {}
        }
        CONTINUE
    }
    fn wants_packets(&self) -> bool {
        false
    }
    /// Only its connection's transactions are kept.
    fn detail(&mut self, stream: u32) -> Detail {
        Detail::new(stream == self.stream, false)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FollowFormat {
    /// Hex, one line per chunk, node 1 indented by a tab (tshark's `raw`).
    Raw,
    /// Text with each chunk's length first (tshark's `ascii`).
    Ascii,
    /// Hex dump with offsets and a text column (tshark's `hex`).
    Hex,
    /// The payload bytes themselves, both directions concatenated.
    Bytes,
    /// HTTP messages one by one, headers shown, bodies de-chunked (Wireshark's "Follow HTTP
    /// Stream"), then the WebSocket messages of an upgraded connection.
    Http,
}

impl FollowFormat {
    fn name(self) -> &'static str {
        match self {
            FollowFormat::Raw => "raw",
            FollowFormat::Ascii => "ascii",
            FollowFormat::Hex => "hex",
            FollowFormat::Bytes => "bytes",
            FollowFormat::Http => "http",
        }
    }
}

/// Writes the follow output. For [`FollowFormat::Bytes`] that is the raw payload.
pub fn render(out: &mut impl io::Write, format: FollowFormat, stream: u32, nodes: Option<(SocketAddr, SocketAddr)>, chunks: &[Chunk]) -> io::Result<()> {
    if format == FollowFormat::Bytes {
        return chunks.iter().filter(|c| !c.missing).try_for_each(|c| out.write_all(&c.bytes));
    }
    // Each chunk's text is built in `s`, then written.
    let mut s = String::new();
    let bar = "===================================================================";
    let _ = writeln!(s, "\n{bar}\nFollow: tcp,{}\nFilter: tcp.stream eq {stream}", format.name());
    let node = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    let _ = writeln!(s, "Node 0: {}", node(nodes.map(|n| n.0)));
    let _ = writeln!(s, "Node 1: {}", node(nodes.map(|n| n.1)));
    let mut offsets = [0usize; 2];
    for c in chunks {
        let tab = if c.dir == 1 { "\t" } else { "" };
        match format {
            FollowFormat::Raw => {
                s.push_str(tab);
                for b in &c.bytes {
                    let _ = write!(s, "{b:02x}");
                }
                s.push('\n');
            }
            FollowFormat::Ascii => {
                let _ = writeln!(s, "{tab}{}", c.bytes.len());
                for &b in &c.bytes {
                    // As tshark: printable ASCII, CR and LF as they are; anything else (tab too) as '.'.
                    s.push(if b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b) { b as char } else { '.' });
                }
                s.push('\n');
            }
            FollowFormat::Hex => {
                let off = &mut offsets[c.dir as usize & 1];
                for line in c.bytes.chunks(16) {
                    let _ = write!(s, "{tab}{:08X}  ", *off);
                    for i in 0..16 {
                        match line.get(i) {
                            Some(b) => {
                                let _ = write!(s, "{b:02x} ");
                            }
                            None => s.push_str("   "),
                        }
                        if i == 7 {
                            s.push(' ');
                        }
                    }
                    s.push(' ');
                    for (i, &b) in line.iter().enumerate() {
                        s.push(if (0x20..0x7f).contains(&b) { b as char } else { '.' });
                        if i == 7 {
                            s.push(' ');
                        }
                    }
                    // As tshark's follow_print_hex: one trailing space is dropped, whether it is
                    // the mid-line separator or a space byte of data.
                    if s.ends_with(' ') {
                        s.pop();
                    }
                    s.push('\n');
                    *off += line.len();
                }
            }
            FollowFormat::Bytes | FollowFormat::Http => unreachable!("rendered elsewhere"),
        }
        out.write_all(s.as_bytes())?;
        s.clear();
    }
    let _ = writeln!(s, "{bar}");
    out.write_all(s.as_bytes())
}

fn body_text(s: &mut String, body: &[u8], total: u64, content_type: Option<&str>) {
    if total == 0 {
        return;
    }
    let printable = body.iter().filter(|&&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80).count();
    if !body.is_empty() && printable * 10 >= body.len() * 9 {
        s.push_str(&String::from_utf8_lossy(body).replace("\r\n", "\n"));
        if !s.ends_with('\n') {
            s.push('\n');
        }
        if total > body.len() as u64 {
            let _ = writeln!(s, "[… {} more body bytes]", total - body.len() as u64);
        }
    } else {
        let _ = writeln!(s, "[{total} bytes of {} body]", content_type.unwrap_or("binary"));
    }
}

/// Writes the "http" follow format: each request and its response with headers and body text.
pub fn render_http(out: &mut impl io::Write, stream: u32, nodes: Option<(SocketAddr, SocketAddr)>, txs: &[Transaction], msgs: &[WsMessage]) -> io::Result<()> {
    // Each message's text is built in `s`, then written.
    let mut s = String::new();
    let bar = "===================================================================";
    let node = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    let _ = writeln!(s, "\n{bar}\nFollow: http\nFilter: tcp.stream eq {stream}\nNode 0: {}\nNode 1: {}", node(nodes.map(|n| n.0)), node(nodes.map(|n| n.1)));
    if txs.is_empty() {
        let _ = writeln!(s, "(no HTTP messages on this connection)");
    }
    for t in txs {
        if let Some(head) = &t.request_head {
            let _ = writeln!(s, "──── request {} · frame {} ────", t.index_on_conn, t.request_frame);
            s.push_str(&head.replace("\r\n", "\n"));
            body_text(&mut s, &t.request_body, t.request_body_bytes, t.request_headers.content_type.as_deref());
        }
        if let Some(head) = &t.response_head {
            let timing = t.ttfb_ns().map(|n| format!(" · TTFB {:.3} ms", n as f64 / 1e6)).unwrap_or_default();
            let _ = writeln!(s, "──── response {} · frame {}{timing} ────", t.index_on_conn, t.response_frame);
            s.push_str(&head.replace("\r\n", "\n"));
            body_text(&mut s, &t.response_body, t.response_body_bytes, t.response_headers.content_type.as_deref());
            if !t.complete {
                let _ = writeln!(s, "[response incomplete in the capture]");
            }
        }
        out.write_all(s.as_bytes())?;
        s.clear();
    }
    if !msgs.is_empty() {
        let _ = writeln!(s, "──── WebSocket messages ────");
        for m in msgs {
            let echo = m.echo_latency_ms.map(|l| format!(" · echo {l:.3} ms")).unwrap_or_default();
            let deflate = if m.compressed { format!(" ({} B compressed)", m.wire_bytes) } else { String::new() };
            let _ = writeln!(s, "{} {} {} B{deflate}{echo}: {}", if m.from_server { "S→C" } else { "C→S" }, m.kind, m.size, m.preview);
        }
    }
    let _ = writeln!(s, "{bar}");
    out.write_all(s.as_bytes())
}
