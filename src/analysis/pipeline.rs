//! The two-thread pass: a thread reads and decodes frames into batches of [`Facts`] (payloads
//! as ranges of the mapped file, or copied in when the input is not mapped), while the caller's thread runs the stateful stages and the
//! observer over them in frame order, so the summary is the single-threaded pass's.
//!
//! Used when the observer looks at no packet ([`Observer::wants_packets`] is false). At most
//! [`IN_FLIGHT`] batches are queued, so memory stays bounded however fast the reader is.

use std::io::Read;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use super::front::{self, Facts, FrameMeta, FrameProblem, Held};
use super::pass::{Back, Gate};
use super::{AnalysisError, Observer, Options, Summary};
use crate::capture::reader::{CaptureReader, Mapped, ReadError};
use crate::decode::fragment::Reassembler;
use crate::decode::tcp_options::TcpOptions;
use crate::decode::{AnomalyKind, Carried, TcpSeg};

/// Frames per batch, and the payload bytes that close a batch early.
const BATCH_FRAMES: usize = 2048;
const BATCH_BYTES: usize = 4 << 20;
/// Batches decoded ahead of the stateful stages.
const IN_FLIGHT: usize = 4;

/// A TCP segment with its bytes moved into the batch.
struct SegRec {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    seg_len: u32,
    options: Range<usize>,
    payload: Bytes,
}

/// Where a payload's bytes are: in the mapped file (not copied), or copied into the batch.
enum Bytes {
    Mapped(Range<usize>),
    Batch(Range<usize>),
}

/// One frame's [`Facts`], owned.
struct Rec {
    meta: FrameMeta,
    /// The reader's position after the frame (for progress).
    end: u64,
    proto: &'static str,
    carried: Carried,
    problem: Option<FrameProblem>,
    tcp: Option<SegRec>,
    ip_len_exceeds_frame: bool,
    quoted: Option<(SocketAddr, SocketAddr)>,
    /// The decode stage's anomalies at this frame: `Batch::anomalies[range]`.
    anomalies: Range<usize>,
}

#[derive(Default)]
struct Batch {
    recs: Vec<Rec>,
    bytes: Vec<u8>,
    anomalies: Vec<(AnomalyKind, String)>,
    /// Payload bytes the batch refers to, copied or mapped: the mapped pages stay resident
    /// until the batch is done, so they count toward [`BATCH_BYTES`] too.
    weight: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.recs.clear();
        self.bytes.clear();
        self.anomalies.clear();
        self.weight = 0;
    }

    fn stash(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    fn push(&mut self, f: &Facts<'_>, anomalies: &mut Vec<(AnomalyKind, String)>, mapped: Option<&Mapped>) {
        self.weight += f.tcp.as_ref().map_or(0, |t| t.2.payload.len());
        let tcp = f.tcp.as_ref().map(|(src, dst, seg)| SegRec {
            src: *src,
            dst: *dst,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: seg.window,
            seg_len: seg.seg_len,
            options: self.stash(seg.options.bytes()),
            payload: match mapped.and_then(|m| m.range_of(seg.payload)) {
                Some(r) => Bytes::Mapped(r),
                // Not in the file: a datagram rebuilt from fragments, or a buffered read.
                None => Bytes::Batch(self.stash(seg.payload)),
            },
        });
        let start = self.anomalies.len();
        self.anomalies.append(anomalies);
        let anomalies = start..self.anomalies.len();
        let (proto, carried, problem, quoted, ip_len_exceeds_frame) = (f.proto, f.carried, f.problem, f.quoted, f.ip_len_exceeds_frame);
        self.recs.push(Rec { meta: f.meta, end: 0, proto, carried, problem, tcp, ip_len_exceeds_frame, quoted, anomalies });
    }

    /// The facts of `r`, borrowing this batch's bytes and the mapped file's.
    fn facts<'a>(&'a self, r: &Rec, mapped: Option<&'a Mapped>) -> Facts<'a> {
        let tcp = r.tcp.as_ref().map(|s| {
            let seg = TcpSeg {
                sport: s.src.port(),
                dport: s.dst.port(),
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                window: s.window,
                options: TcpOptions::parse(&self.bytes[s.options.clone()]),
                seg_len: s.seg_len,
                payload: match (&s.payload, mapped) {
                    (Bytes::Mapped(r), Some(m)) => &m.bytes()[r.clone()],
                    (Bytes::Batch(r), _) => &self.bytes[r.clone()],
                    (Bytes::Mapped(_), None) => unreachable!("mapped bytes come only from a mapped file"),
                },
            };
            (s.src, s.dst, seg)
        });
        Facts { meta: r.meta, proto: r.proto, carried: r.carried, problem: r.problem, tcp, ip_len_exceeds_frame: r.ip_len_exceeds_frame, quoted: r.quoted }
    }
}

/// What the decode thread hands back at the end.
type FrontEnd<R> = (CaptureReader<R>, Reassembler, Option<ReadError>);

/// Reads and decodes every frame into batches until the input ends, fails, or the receiver
/// hangs up (the observer stopped the pass).
fn decode_all<R: Read>(mut reader: CaptureReader<R>, to_back: SyncSender<Batch>, spare: Receiver<Batch>) -> FrontEnd<R> {
    let mapped = reader.mapped();
    let mut frags = Reassembler::default();
    let mut held = Held::default();
    loop {
        let mut b = spare.try_recv().unwrap_or_default();
        b.clear();
        let mut done = None;
        while b.recs.len() < BATCH_FRAMES && b.weight < BATCH_BYTES {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let decoded = front::decode(&mut frags, &mut held, &frame);
                    b.push(&Facts::of(&decoded, FrameMeta::of(&frame)), &mut frags.anomalies, mapped.as_ref());
                }
                Ok(None) => {
                    done = Some(None);
                    break;
                }
                Err(e) => {
                    done = Some(Some(e));
                    break;
                }
            }
            if let Some(r) = b.recs.last_mut() {
                r.end = reader.position();
            }
        }
        let hung_up = to_back.send(b).is_err();
        match done {
            Some(err) => return (reader, frags, err),
            None if hung_up => return (reader, frags, None),
            None => {}
        }
    }
}

/// The pass on two threads; see the module documentation.
pub(crate) fn analyze<R: Read + Send, O: Observer + ?Sized>(mut reader: CaptureReader<R>, obs: &mut O, opts: &Options) -> Result<Summary, AnalysisError> {
    // Payloads are read from the mapped file where the frames lie; the reader gives pages back
    // to the kernel only below the frames this thread has finished.
    let mapped = reader.mapped();
    let done_below = Arc::new(AtomicUsize::new(0));
    reader.limit_release(done_below.clone());
    std::thread::scope(|scope| {
        let (to_back, batches) = sync_channel::<Batch>(IN_FLIGHT);
        let (recycle, spare) = channel::<Batch>();
        let decoder = std::thread::Builder::new()
            .name("wirelab-decode".into())
            .spawn_scoped(scope, move || decode_all(reader, to_back, spare))
            .map_err(|e| AnalysisError::Read(ReadError::Io(e)))?;
        let mut back = Back::new(opts);
        let mut gate = Gate::new(obs);
        'batches: for batch in &batches {
            for r in &batch.recs {
                let anomalies = batch.anomalies[r.anomalies.clone()].iter().cloned();
                back.apply(&batch.facts(r, mapped.as_ref()), anomalies, &mut gate);
                back.frame_done(r.end, &mut gate);
                if gate.is_halted() {
                    break 'batches;
                }
            }
            if let Some(last) = batch.recs.last() {
                done_below.store(last.meta.offset as usize, Ordering::Release);
            }
            let _ = recycle.send(batch);
        }
        // Hang up: a decoder still reading stops at its next batch.
        drop(batches);
        let (reader, frags, err) = match decoder.join() {
            Ok(end) => end,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if let (Some(e), false) = (err, gate.is_halted()) {
            return Err(e.into());
        }
        Ok(back.end(frags, &reader, &mut gate)?)
    })
}
