//! The packet list: one line per frame with Wireshark's columns (No., Time, Source, Destination,
//! Protocol, Length, Info), the Info text worded as Wireshark words it.

use std::fmt::Write as _;
use std::io;

use crate::analysis::{AppNote, Observed, Observer, PacketApp, SeenTcp, CONTINUE};
use crate::proto::http::Note;
use crate::proto::websocket::Opcode;
use crate::capture::reader::Frame;
use crate::decode::{flags::*, linktype, Carried, Decoded, Net, Problem, TcpOption, TcpOptions, TcpSeg, Transport};
use crate::tcp::tracker::analysis;
use crate::tcp::PacketInfo;

/// Writes the header line matching [`line`]'s columns.
pub fn header(out: &mut impl io::Write) -> io::Result<()> {
    writeln!(out, "{:>7} {:>12} {:>15}   {:<15} {:<9} {:>6} {}", "No.", "Time", "Source", "Destination", "Protocol", "Length", "Info")
}

/// The packet list as an observer: a header, then one line per packet, written to `out` as
/// the pass goes. A failed write (a closed pipe) ends the pass.
pub struct PacketList<W: io::Write> {
    out: W,
    t0: Option<i128>,
}

impl<W: io::Write> PacketList<W> {
    /// Writes the header line at once.
    pub fn new(mut out: W) -> io::Result<Self> {
        header(&mut out)?;
        Ok(PacketList { out, t0: None })
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: io::Write> Observer for PacketList<W> {
    fn packet(&mut self, frame: &Frame<'_>, decoded: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>) -> Observed {
        let t0 = *self.t0.get_or_insert(frame.ts_ns);
        line(&mut self.out, frame, decoded, tcp, app, t0)?;
        CONTINUE
    }
}

/// The Source, Destination, Protocol and Info cells of one packet.
#[derive(Debug, Clone)]
pub struct Cells {
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub info: String,
}

/// The cells of one packet, with the application layer's reading when it has one.
pub fn cells(frame: &Frame<'_>, decoded: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>) -> Cells {
    let (src, dst, protocol, info) = columns(frame, decoded, tcp);
    with_app(Cells { src, dst, protocol, info }, app, tcp.is_some())
}

/// The application layer's reading over the transport's cells.
fn with_app(mut c: Cells, app: PacketApp<'_>, tcp: bool) -> Cells {
    if let Some((p, text)) = app_info(app.notes) {
        c.protocol = p.to_string();
        c.info = text;
    } else if app.partial && tcp {
        c.info.push_str(" [TCP segment of a reassembled PDU]");
    }
    c
}

/// Writes one packet-list line. `t0_ns` is the first frame's timestamp.
pub fn line(out: &mut impl io::Write, frame: &Frame<'_>, decoded: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>, t0_ns: i128) -> io::Result<()> {
    let rel = (frame.ts_ns - t0_ns) as f64 / 1e9;
    let c = cells(frame, decoded, tcp, app);
    writeln!(out, "{:>7} {:>12.6} {:>15} → {:<15} {:<9} {:>6} {}", frame.number, rel, c.src, c.dst, c.protocol, frame.orig_len, c.info)
}

/// The Protocol cell of a frame that carried `c` (what [`Seen`](crate::analysis::Seen) and
/// [`Decoded::carried`] tell), as [`cells`] words it.
pub fn protocol_name(c: Carried, app: PacketApp<'_>) -> std::borrow::Cow<'static, str> {
    use std::borrow::Cow;
    if !app.notes.is_empty() {
        let ws = app.notes.iter().any(|n| matches!(n, AppNote::Ws { .. }));
        return Cow::Borrowed(if ws { "WebSocket" } else { "HTTP" });
    }
    Cow::Borrowed(match c {
        Carried::Tcp => "TCP",
        Carried::Udp => "UDP",
        Carried::Icmpv6 => "ICMPv6",
        Carried::Icmp => "ICMP",
        Carried::Ipv6 => "IPv6",
        Carried::Ipv4 => "IPv4",
        Carried::Arp => "ARP",
        Carried::Ether(et) => return Cow::Owned(format!("0x{et:04x}")),
        Carried::Link(lt) => return Cow::Owned(linktype::name(lt)),
        Carried::Malformed => "?",
    })
}

/// The cells of a TCP segment as [`Seen`](crate::analysis::Seen) tells it: the same as [`cells`] gives for its frame.
pub fn tcp_cells(t: &SeenTcp<'_>, app: PacketApp<'_>) -> Cells {
    let c = Cells { src: t.src.ip().to_string(), dst: t.dst.ip().to_string(), protocol: "TCP".into(), info: tcp_info(&t.seg, &t.info) };
    with_app(c, app, true)
}

/// The Info column text of a packet that completed application messages, and its protocol.
fn app_info(notes: &[AppNote]) -> Option<(&'static str, String)> {
    if notes.is_empty() {
        return None;
    }
    let mut s = String::new();
    let mut proto = "HTTP";
    for n in notes {
        match n {
            AppNote::Http(Note::Request(line)) => {
                s.push_str(line);
                s.push(' ');
            }
            AppNote::Http(Note::Response { line, content_type }) => {
                s.push_str(line);
                s.push(' ');
                if let Some(ct) = content_type {
                    let media = ct.split(';').next().unwrap_or("").trim();
                    let _ = write!(s, " ({media})");
                }
            }
            // Only for a consumer that asked for no wording (the report, outside its flow graph).
            AppNote::Http(Note::Unworded { request }) => s.push_str(if *request { "HTTP request " } else { "HTTP response " }),
            AppNote::Ws { opcode, fin, masked } => {
                proto = "WebSocket";
                s.push_str("WebSocket ");
                s.push_str(opcode_name(*opcode));
                s.push_str(if *fin { " [FIN] " } else { "[FRAGMENT] " });
                if *masked {
                    s.push_str(if *fin { "[MASKED]" } else { " [MASKED]" });
                }
            }
        }
    }
    Some((proto, s))
}

/// An opcode's name as Wireshark shows it in the Info column.
pub fn opcode_name(op: Opcode) -> &'static str {
    match op {
        Opcode::Continuation => "Continuation",
        Opcode::Text => "Text",
        Opcode::Binary => "Binary",
        Opcode::Close => "Connection Close",
        Opcode::Ping => "Ping",
        Opcode::Pong => "Pong",
        Opcode::Reserved(3..=7) => "Non-Control Reserved",
        Opcode::Reserved(_) => "Control Reserved",
    }
}

fn mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A held IP fragment's Info, as tshark words it.
fn fragment_info(f: &crate::decode::Frag<'_>) -> String {
    if f.v6 {
        return format!("IPv6 fragment (off={} more={} ident={:#010x} nxt={})", f.offset, if f.more { "y" } else { "n" }, f.id, f.proto);
    }
    let name = match f.proto {
        1 => "ICMP ",
        4 => "IPIP ",
        6 => "TCP ",
        17 => "UDP ",
        41 => "IPv6 ",
        47 => "Generic Routing Encapsulation ",
        _ => "",
    };
    format!("Fragmented IP protocol (proto={name}{}, off={}, ID={:04x})", f.proto, f.offset, f.id)
}

fn columns(frame: &Frame<'_>, decoded: &Decoded<'_>, tcp: Option<&PacketInfo>) -> (String, String, String, String) {
    let protocol = protocol_name(decoded.carried(), PacketApp { notes: &[], partial: false }).into_owned();
    let (msrc, mdst) = decoded.mac.map(|(s, d)| (mac(s), mac(d))).unwrap_or_default();
    let (src, dst, info) = match decoded.net {
        Ok(Net::Ip { src, dst, transport }) => {
            let info = match transport {
                Transport::Tcp(seg) => tcp.map(|i| tcp_info(&seg, i)).unwrap_or_default(),
                Transport::Udp { sport, dport, len } => format!("{sport} → {dport} Len={}", len.saturating_sub(8)),
                Transport::Icmp { v6, kind, code, .. } => icmp_info(v6, kind, code),
                Transport::Other(p) => format!("IP protocol {p}"),
                Transport::Fragment(f) => fragment_info(&f),
                Transport::Broken(_) => "[Malformed Packet]".into(),
            };
            (src.to_string(), dst.to_string(), info)
        }
        Ok(Net::Arp) => (msrc, mdst, "ARP".into()),
        Ok(Net::OtherEther(et)) => (msrc, mdst, format!("Ethernet II, type 0x{et:04x}")),
        Err(Problem::UnsupportedLinkType(lt)) => (String::new(), String::new(), format!("{} bytes of link type {lt}", frame.data.len())),
        Err(Problem::Malformed(why)) => (msrc, mdst, format!("[Malformed Packet: {why}]")),
    };
    (src, dst, protocol, info)
}

fn icmp_info(v6: bool, kind: u8, code: u8) -> String {
    let name = match (v6, kind) {
        (false, 0) => "Echo (ping) reply",
        (false, 8) => "Echo (ping) request",
        (false, 3) => "Destination unreachable",
        (false, 11) => "Time-to-live exceeded",
        (true, 128) => "Echo (ping) request",
        (true, 129) => "Echo (ping) reply",
        (true, 1) => "Destination Unreachable",
        (true, 133) => "Router Solicitation",
        (true, 134) => "Router Advertisement",
        (true, 135) => "Neighbor Solicitation",
        (true, 136) => "Neighbor Advertisement",
        _ => return format!("Type {kind}, code {code}"),
    };
    name.to_string()
}

/// `60720 → 6810 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 ...`, with analysis prefixes.
pub fn tcp_info(seg: &TcpSeg<'_>, i: &PacketInfo) -> String {
    let mut s = String::with_capacity(96);
    // Wireshark prepends each label in turn, so they read in the reverse of its call order.
    let a = i.analysis;
    let labels: [(u16, &str); 13] = [
        (analysis::ZERO_WINDOW, "[TCP ZeroWindow] "),
        (analysis::DUP_ACK, ""),
        (analysis::KEEP_ALIVE_ACK, "[TCP Keep-Alive ACK] "),
        (analysis::KEEP_ALIVE, "[TCP Keep-Alive] "),
        (analysis::WINDOW_UPDATE, "[TCP Window Update] "),
        (analysis::ACKED_UNSEEN, "[TCP ACKed unseen segment] "),
        (analysis::LOST_SEGMENT, "[TCP Previous segment not captured] "),
        (analysis::OUT_OF_ORDER, "[TCP Out-Of-Order] "),
        (analysis::SPURIOUS_RETRANSMISSION, "[TCP Spurious Retransmission] "),
        (analysis::FAST_RETRANSMISSION, "[TCP Fast Retransmission] "),
        (analysis::RETRANSMISSION, "[TCP Retransmission] "),
        (analysis::PORT_REUSED, "[TCP Port numbers reused] "),
        (0, ""),
    ];
    for (bit, text) in labels {
        if a & bit == 0 {
            continue;
        }
        if bit == analysis::DUP_ACK {
            if let Some((orig, n)) = i.dup_of {
                let _ = write!(s, "[TCP Dup ACK {orig}#{n}] ");
            }
        } else {
            s.push_str(text);
        }
    }
    let _ = write!(s, "{} → {} [{}] Seq={}", seg.sport, seg.dport, flag_names(seg.flags), i.rel_seq);
    if seg.has(ACK) {
        let _ = write!(s, " Ack={}", i.rel_ack);
    }
    let _ = write!(s, " Win={} Len={}", i.window, seg.seg_len);
    push_options(&mut s, seg.options, i.peer_base);
    s
}

/// `SYN, ACK` etc., in Wireshark's order.
pub fn flag_names(f: u8) -> String {
    const NAMES: [(u8, &str); 8] =
        [(FIN, "FIN"), (SYN, "SYN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG"), (ECE, "ECN"), (CWR, "CWR")];
    let v: Vec<&str> = NAMES.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect();
    if v.is_empty() {
        "<None>".into()
    } else {
        v.join(", ")
    }
}

fn push_options(s: &mut String, opts: TcpOptions<'_>, peer_base: u32) {
    for o in opts.iter() {
        match o {
            TcpOption::Mss(m) => {
                let _ = write!(s, " MSS={m}");
            }
            TcpOption::WindowScale(shift) => {
                let _ = write!(s, " WS={}", 1u64 << shift.min(14));
            }
            TcpOption::SackPermitted => s.push_str(" SACK_PERM"),
            TcpOption::Sack(blocks) => {
                for (l, r) in blocks.iter() {
                    let _ = write!(s, " SLE={} SRE={}", l.wrapping_sub(peer_base), r.wrapping_sub(peer_base));
                }
            }
            TcpOption::Timestamps { val, ecr } => {
                let _ = write!(s, " TSval={val} TSecr={ecr}");
            }
            TcpOption::Other { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_info_reads_like_wireshark() {
        let opts = [2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        let seg = TcpSeg { sport: 60720, dport: 6810, seq: 5, ack: 0, flags: SYN, window: 65495, options: TcpOptions::parse(&opts), seg_len: 0, payload: &[] };
        let info = PacketInfo { window: 65495, ..Default::default() };
        assert_eq!(tcp_info(&seg, &info), "60720 → 6810 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 SACK_PERM TSval=1 TSecr=0 WS=128");
        assert_eq!(flag_names(FIN | PSH | ACK), "FIN, PSH, ACK");
    }

    #[test]
    fn info_words_the_typed_notes_and_keeps_reserved_opcodes_apart() {
        let ws = |opcode, fin, masked| AppNote::Ws { opcode, fin, masked };
        let notes = [ws(Opcode::Text, true, true)];
        assert_eq!(app_info(&notes), Some(("WebSocket", "WebSocket Text [FIN] [MASKED]".to_string())));
        let notes = [ws(Opcode::Reserved(3), false, false), ws(Opcode::Reserved(11), true, false)];
        assert_eq!(
            app_info(&notes).unwrap().1,
            "WebSocket Non-Control Reserved[FRAGMENT] WebSocket Control Reserved [FIN] "
        );
        let notes = [AppNote::Http(Note::Response { line: "HTTP/1.1 200 OK".into(), content_type: Some("text/html; charset=utf-8".into()) })];
        assert_eq!(app_info(&notes), Some(("HTTP", "HTTP/1.1 200 OK  (text/html)".to_string())));
        assert_eq!(app_info(&[]), None);
    }
}
