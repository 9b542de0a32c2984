//! The stateful stages of the pass, after decoding: frame counts, TCP tracking, the
//! application layer, anomalies and connection rows, told to the observer through a [`Gate`].
//! Both the single-threaded pass and the two-thread pipeline feed [`Back`] the same [`Facts`]
//! in frame order, so their summaries are the same.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;

use super::front::{Facts, FrameMeta, FrameProblem};
use super::{app, Anomaly, AppNote, CaptureSummary, PacketApp, LinkTypeCount, Options, Summary, TcpSummary, CONVERSATION_ROWS};
use super::{Flow, Observed, Observer, ObserverError};
use crate::capture::reader::CaptureReader;
use crate::decode::fragment::Reassembler;
use crate::decode::{linktype, AnomalyKind, TcpSeg};
use crate::proto::http::Transaction;
use crate::proto::websocket::{WsFrame, WsMessage};
use crate::tcp::{Conn, PacketInfo, Tracker};

/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 65536;

/// The observer, guarded: once it stops or fails, it hears nothing more.
pub(crate) struct Gate<'o, O: ?Sized> {
    obs: &'o mut O,
    /// `Some(Ok(()))` stopped, `Some(Err(_))` failed.
    halt: Option<Result<(), ObserverError>>,
}

impl<'o, O: Observer + ?Sized> Gate<'o, O> {
    pub fn new(obs: &'o mut O) -> Self {
        Gate { obs, halt: None }
    }

    pub fn tell(&mut self, f: impl FnOnce(&mut O) -> Observed) {
        if self.halt.is_none() {
            match f(self.obs) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => self.halt = Some(Ok(())),
                Err(e) => self.halt = Some(Err(e)),
            }
        }
    }

    /// The observer stopped or failed: the pass reads no more.
    pub fn is_halted(&self) -> bool {
        self.halt.is_some()
    }

    /// Whether the observer stopped the pass; its error, if it failed.
    fn halted(&mut self) -> Result<bool, ObserverError> {
        match self.halt.take() {
            None => Ok(false),
            Some(Ok(())) => {
                self.halt = Some(Ok(()));
                Ok(true)
            }
            Some(Err(e)) => Err(e),
        }
    }
}

impl<O: Observer + ?Sized> app::AppSink for Gate<'_, O> {
    /// A stopped observer hears nothing more, so needs nothing.
    fn detail(&mut self, stream: u32) -> app::Detail {
        if self.halt.is_some() {
            app::Detail::LEAST
        } else {
            self.obs.detail(stream)
        }
    }
    fn transaction(&mut self, t: &Transaction) {
        self.tell(|o| o.transaction(t))
    }
    fn ws_frame(&mut self, f: &WsFrame) {
        self.tell(|o| o.ws_frame(f))
    }
    fn ws_message(&mut self, m: &WsMessage) {
        self.tell(|o| o.ws_message(m))
    }
}

/// Anomalies by kind, in the order of their names (the JSON and table order).
#[derive(Default)]
struct Anomalies {
    by_kind: BTreeMap<&'static str, Anomaly>,
}

impl Anomalies {
    fn add(&mut self, kind: AnomalyKind, frame: u64, offset: u64, detail: impl FnOnce() -> String) {
        self.by_kind
            .entry(kind.name())
            .and_modify(|a| a.count += 1)
            .or_insert_with(|| Anomaly { kind, count: 1, first_frame: frame, first_offset: offset, detail: detail() });
    }
}

/// Frame-level counts of the capture.
#[derive(Default)]
struct Totals {
    packets: u64,
    bytes: u64,
    captured: u64,
    first_ns: Option<i128>,
    last_ns: Option<i128>,
    /// Counts by link type and by protocol family: a handful of keys, scanned (a map lookup
    /// per frame cost more than the scan).
    link_types: Vec<(u32, u64)>,
    protocols: Vec<(&'static str, u64)>,
    tcp: TcpSummary,
}

impl Totals {
    fn count(&mut self, frame: &FrameMeta) {
        self.packets += 1;
        self.bytes += frame.orig_len as u64;
        self.captured += frame.captured as u64;
        self.first_ns.get_or_insert(frame.ts_ns);
        self.last_ns = Some(self.last_ns.map_or(frame.ts_ns, |l| l.max(frame.ts_ns)));
        bump(&mut self.link_types, frame.link_type, |a, b| a == b);
    }
}

/// What the stateful stages made of one frame.
pub(crate) struct Applied {
    /// The TCP tracker's reading.
    pub info: Option<PacketInfo>,
    notes: Vec<AppNote>,
    partial: bool,
}

impl Applied {
    /// What the application layer made of the frame.
    pub fn app(&self) -> PacketApp<'_> {
        PacketApp { notes: &self.notes, partial: self.partial }
    }
}

/// The stateful stages: counts, TCP, the application layer.
pub(crate) struct Back {
    tracker: Tracker,
    /// Connection rows kept for the summary: those numbered below `keep_rows`.
    conversations: Vec<Conn>,
    keep_rows: usize,
    app: app::AppLayer,
    anomalies: Anomalies,
    totals: Totals,
}

impl Back {
    pub fn new(opts: &Options) -> Self {
        Back {
            tracker: Tracker::new(),
            conversations: Vec::new(),
            keep_rows: opts.conversation_rows.unwrap_or(CONVERSATION_ROWS),
            app: app::AppLayer::new().keep_text_of(opts.keep_http_text).with_notes(!opts.no_packet_notes).lean(opts.lean_transactions),
            anomalies: Anomalies::default(),
            totals: Totals::default(),
        }
    }

    /// One decoded frame: counted, tracked, and told to the observer as [`Observer::seen`]
    /// (`decode_anomalies` are the decode stage's, for this frame). Both passes call this, so
    /// both tell the same.
    pub fn apply<O: Observer + ?Sized>(&mut self, f: &Facts<'_>, decode_anomalies: impl Iterator<Item = (AnomalyKind, String)>, gate: &mut Gate<'_, O>) -> Applied {
        let info = self.count(f, decode_anomalies, gate);
        let (notes, partial) = self.app.take_packet_notes();
        let applied = Applied { info, notes, partial };
        gate.tell(|o| o.seen(&f.seen(info, applied.app())));
        applied
    }

    /// Counts a frame, tracks its TCP segment, and notes what went wrong.
    fn count<O: Observer + ?Sized>(&mut self, f: &Facts<'_>, decode_anomalies: impl Iterator<Item = (AnomalyKind, String)>, gate: &mut Gate<'_, O>) -> Option<PacketInfo> {
        let m = &f.meta;
        self.totals.count(m);
        let mut info = None;
        if let Some((s, d, seg)) = &f.tcp {
            if f.ip_len_exceeds_frame {
                self.anomalies.add(AnomalyKind::IpLengthExceedsFrame, m.number, m.offset, || {
                    "IP length exceeds the frame's length: the TCP segment is what the frame holds".into()
                });
            }
            info = Some(self.tcp(m, *s, *d, seg, gate));
        }
        if let Some((s, d)) = f.quoted {
            // Wireshark files a quoted TCP header under its connection (creating it if
            // needed), so it counts toward tcp.stream; it changes no statistics.
            self.tracker.quoted(m.number, m.ts_ns, s, d);
        }
        match f.problem {
            None => {}
            Some(FrameProblem::UnsupportedLinkType(lt)) => self.anomalies.add(AnomalyKind::UnsupportedLinkType, m.number, m.offset, || {
                format!("link type {} ({}) is not decoded", lt, linktype::name(lt))
            }),
            Some(FrameProblem::Malformed(why)) => self.anomalies.add(AnomalyKind::MalformedFrame, m.number, m.offset, || why.to_string()),
            Some(FrameProblem::TruncatedTransport(p)) => self.anomalies.add(AnomalyKind::TruncatedTransportHeader, m.number, m.offset, || {
                format!("{} header cut off or invalid", if p == 6 { "TCP" } else { "UDP" })
            }),
        }
        bump(&mut self.totals.protocols, f.proto, |a: &str, b: &str| std::ptr::eq(a, b) || a == b);
        for (kind, detail) in self.app.anomalies.drain(..).chain(decode_anomalies) {
            self.anomalies.add(kind, m.number, m.offset, || detail);
        }
        info
    }

    /// After a frame (and the observer's look at it): final connection rows, and progress.
    pub fn frame_done<O: Observer + ?Sized>(&mut self, position: u64, gate: &mut Gate<'_, O>) {
        if self.tracker.has_retired() {
            self.rows(gate);
        }
        let n = self.totals.packets;
        if n % PROGRESS_EVERY == 0 {
            gate.tell(|o| o.progress(position, n));
        }
    }

    /// Final connection rows: counted, kept if among the first, and told to the observer.
    fn rows<O: Observer + ?Sized>(&mut self, gate: &mut Gate<'_, O>) {
        let evicted = self.tracker.take_evicted_open();
        if evicted > 0 {
            for _ in 0..evicted {
                self.anomalies.add(AnomalyKind::TcpTableOverflow, 0, 0, || {
                    format!("over {} TCP connections open at once: the oldest was retired; a later packet of it starts a new connection", crate::tcp::tracker::MAX_OPEN)
                });
            }
        }
        for c in self.tracker.take_retired() {
            add_connection(&mut self.totals.tcp, &c);
            gate.tell(|o| o.connection(&c));
            if (c.index as usize) < self.keep_rows {
                self.conversations.push(c);
            }
        }
    }

    /// A TCP segment: into the tracker, its stream events to the observer and the application layer.
    fn tcp<O: Observer + ?Sized>(&mut self, m: &FrameMeta, s: SocketAddr, d: SocketAddr, seg: &TcpSeg<'_>, gate: &mut Gate<'_, O>) -> PacketInfo {
        let tcp = &mut self.totals.tcp;
        tcp.packets += 1;
        tcp.payload_bytes += seg.seg_len as u64;
        if seg.payload.len() < seg.seg_len as usize {
            self.anomalies.add(AnomalyKind::SnaplenTruncated, m.number, m.offset, || "TCP payload cut short by the capture's snapshot length".into());
        }
        let app = &mut self.app;
        self.tracker.packet(m.number, m.ts_ns, m.orig_len, s, d, seg, &mut |ev| {
            gate.tell(|o| o.stream(&ev));
            app.event(&ev, gate);
        })
    }

    /// The end of the input (or a stop): what the tracker still holds goes to the observer
    /// unless it stopped, then the summary.
    pub fn end<R: Read, O: Observer + ?Sized>(mut self, frags: Reassembler, reader: &CaptureReader<R>, gate: &mut Gate<'_, O>) -> Result<Summary, ObserverError> {
        let mut stopped = gate.halted()?;
        if !stopped {
            let app = &mut self.app;
            self.tracker.finish(&mut |ev| {
                gate.tell(|o| o.stream(&ev));
                app.event(&ev, gate);
            });
            self.rows(gate);
            stopped = gate.halted()?;
        }
        // After a stop: the rows of the connections still held, for the summary only.
        self.tracker.finish(&mut |_| {});
        self.rows(gate);
        Ok(self.summary(frags, reader, stopped))
    }

    fn summary<R: Read>(mut self, mut frags: Reassembler, reader: &CaptureReader<R>, stopped: bool) -> Summary {
        self.app.finish();
        frags.finish();
        for (kind, detail) in self.app.anomalies.drain(..).chain(frags.anomalies.drain(..)) {
            self.anomalies.add(kind, 0, 0, || detail);
        }
        let damage = reader.damage().cloned();
        if let Some(d) = &damage {
            self.anomalies.add(AnomalyKind::CaptureDamaged, 0, d.offset, || format!("{} (at byte offset {})", d.reason, d.offset));
        }
        let mut conversations = std::mem::take(&mut self.conversations);
        conversations.sort_unstable_by_key(|c| c.index);
        let mut t = self.totals;
        let mut tcp = std::mem::take(&mut t.tcp);
        tcp.connections = self.tracker.count() as u64;
        let conversations_omitted = tcp.connections - conversations.len() as u64;
        let to_s = |ns: i128| ns as f64 / 1e9;
        let capture = CaptureSummary {
            format: reader.format(),
            packets: t.packets,
            bytes: t.bytes,
            captured_bytes: t.captured,
            first_ts: t.first_ns.map(to_s),
            last_ts: t.last_ns.map(to_s),
            duration_s: match (t.first_ns, t.last_ns) {
                (Some(f), Some(l)) => to_s(l - f),
                _ => 0.0,
            },
            link_types: t.link_types.into_iter().collect::<BTreeMap<_, _>>().into_iter().map(|(lt, n)| LinkTypeCount { link_type: lt, name: linktype::name(lt), packets: n }).collect(),
            comments: reader.comments().to_vec(),
            protocols: t.protocols.into_iter().collect(),
            damage,
        };
        Summary {
            capture,
            tcp,
            http: self.app.http,
            websocket: self.app.ws,
            anomalies: self.anomalies.by_kind.into_values().collect(),
            conversations,
            conversations_omitted,
            stopped,
        }
    }
}

/// Counts one more `key` in a short list of counts.
fn bump<K: Copy>(counts: &mut Vec<(K, u64)>, key: K, same: impl Fn(K, K) -> bool) {
    match counts.iter_mut().find(|(k, _)| same(*k, key)) {
        Some((_, n)) => *n += 1,
        None => counts.push((key, 1)),
    }
}

/// Adds a connection's counts to the TCP totals.
fn add_connection(tcp: &mut TcpSummary, c: &Conn) {
    tcp.syn += c.syn as u64;
    tcp.syn_ack += c.syn_ack as u64;
    tcp.fin += c.fin as u64;
    tcp.rst += c.rst as u64;
    tcp.handshakes += c.handshake as u64;
    tcp.retransmissions += c.retransmissions as u64;
    tcp.out_of_order += c.out_of_order as u64;
    tcp.dup_acks += c.dup_acks as u64;
    tcp.zero_windows += c.zero_windows as u64;
    tcp.lost_segments += c.lost_segments as u64;
    tcp.missing_bytes += c.missing[0] + c.missing[1];
}
