//! One direction of a TCP byte stream: sequence numbers in, in-order bytes and gaps out (pure).
//!
//! Sequence numbers are unwrapped to 64-bit stream offsets relative to the direction's initial
//! sequence number, so wrap-around at 2^32 and streams over 4 GiB need no special case.
//! In-order data is handed to the caller without copying; only out-of-order segments are
//! buffered, and that buffer is bounded. The first copy of a byte wins: retransmissions that
//! repeat, shorten, extend or overlap earlier data only contribute bytes never seen before.
//! A gap is given up on (counted as missing bytes, then skipped) when the peer acknowledges data
//! past it, when the out-of-order buffer is full, or when the stream is flushed at its end.

use std::collections::BTreeMap;

/// Most bytes held out of order per direction before a gap is declared lost.
pub const MAX_PENDING: usize = 4 << 20;

/// What a direction hands to its consumer, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// Stream bytes starting at `offset`.
    Data { offset: u64, bytes: &'a [u8] },
    /// `len` bytes at `offset` were never captured. `snaplen` is true when they were on the
    /// wire in a captured frame but beyond the capture's snapshot length.
    Gap { offset: u64, len: u64, snaplen: bool },
}

/// How a segment related to what this direction had already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentClass {
    /// Starts exactly where delivery stood, or fills the first hole.
    pub in_order: bool,
    /// Every byte of it was seen before.
    pub duplicate: bool,
    /// Part of it was seen before.
    pub overlap: bool,
    /// Arrived ahead of a hole.
    pub ahead: bool,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct HalfStream {
    /// Sequence number of stream offset 0 (ISN + 1), once known.
    origin: Option<u32>,
    /// Next offset to deliver.
    next: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    missing: u64,
    delivered: u64,
    /// Offset of the FIN, once seen.
    fin: Option<u64>,
}

impl HalfStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a first sequence number has been seen.
    pub fn started(&self) -> bool {
        self.origin.is_some()
    }

    /// Sets the stream origin from a SYN (data starts at `isn + 1`).
    pub fn set_isn(&mut self, isn: u32) {
        if self.origin.is_none() {
            self.origin = Some(isn.wrapping_add(1));
        }
    }

    /// Sets the origin from the first segment of a stream whose SYN was not captured.
    pub fn set_origin_if_unset(&mut self, seq: u32) {
        if self.origin.is_none() {
            self.origin = Some(seq);
        }
    }

    /// Stream offset of a sequence number, unwrapped around the delivery point.
    /// `None` until the origin is known, or for a number that lies before the stream start.
    pub fn offset_of(&self, seq: u32) -> Option<u64> {
        let origin = self.origin?;
        let at_next = origin.wrapping_add(self.next as u32);
        let d = seq.wrapping_sub(at_next) as i32 as i64;
        let off = self.next as i64 + d;
        (off >= 0).then_some(off as u64)
    }

    pub fn next_offset(&self) -> u64 {
        self.next
    }
    pub fn missing_bytes(&self) -> u64 {
        self.missing
    }
    pub fn delivered_bytes(&self) -> u64 {
        self.delivered
    }
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// Records a FIN at `seq` (the FIN occupies the sequence number after the segment's data).
    pub fn fin_at(&mut self, seq: u32) {
        if self.fin.is_none() {
            self.fin = self.offset_of(seq);
        }
    }

    /// Takes one segment's payload. `seg_len` is the length the IP header claims; when the frame
    /// was cut by the snaplen, `data` is shorter and the tail counts as missing.
    pub fn segment(&mut self, seq: u32, data: &[u8], seg_len: u32, out: &mut impl FnMut(Delivery<'_>)) -> SegmentClass {
        let mut class = SegmentClass::default();
        if seg_len == 0 && data.is_empty() {
            return class;
        }
        self.set_origin_if_unset(seq);
        let Some(start) = self.offset_of(seq) else {
            class.duplicate = true;
            return class;
        };
        let claimed = (seg_len as u64).max(data.len() as u64);
        let end = start + claimed;
        if end <= self.next {
            class.duplicate = true;
            return class;
        }
        if start > self.next {
            class.ahead = true;
            self.hold(start, data);
            if self.pending_bytes > MAX_PENDING {
                self.skip_to_pending(out);
            }
            return class;
        }
        class.in_order = true;
        class.overlap = start < self.next;
        let skip = (self.next - start) as usize;
        if skip < data.len() {
            let bytes = &data[skip..];
            out(Delivery::Data { offset: self.next, bytes });
            self.delivered += bytes.len() as u64;
            self.next += bytes.len() as u64;
        }
        if end > self.next {
            // The snaplen cut this segment: its tail was on the wire but not in the file.
            out(Delivery::Gap { offset: self.next, len: end - self.next, snaplen: true });
            self.missing += end - self.next;
            self.next = end;
        }
        self.drain(out);
        class
    }

    /// The peer acknowledged everything before `ack`: any hole below it was lost by the capture,
    /// not by the network, so skip it now rather than wait.
    pub fn acked(&mut self, ack: u32, out: &mut impl FnMut(Delivery<'_>)) {
        let Some(acked) = self.offset_of(ack) else { return };
        // Leave room for the FIN's sequence number.
        let acked = match self.fin {
            Some(f) if acked > f => f,
            _ => acked,
        };
        while let Some((&first, _)) = self.pending.first_key_value() {
            if first <= self.next {
                self.drain(out);
            } else if first < acked {
                self.skip_to_pending(out);
            } else {
                break;
            }
        }
    }

    /// End of stream: skip every remaining hole and deliver what is buffered.
    pub fn flush(&mut self, out: &mut impl FnMut(Delivery<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_pending(out);
        }
    }

    fn hold(&mut self, start: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        match self.pending.get_mut(&start) {
            Some(v) if v.len() >= data.len() => {}
            Some(v) => {
                self.pending_bytes += data.len() - v.len();
                // Keep the bytes seen first; take only the extension.
                let old = v.len();
                v.extend_from_slice(&data[old..]);
            }
            None => {
                self.pending_bytes += data.len();
                self.pending.insert(start, data.to_vec());
            }
        }
    }

    /// Declares the hole before the first buffered segment lost, then delivers what follows.
    fn skip_to_pending(&mut self, out: &mut impl FnMut(Delivery<'_>)) {
        if let Some((&first, _)) = self.pending.first_key_value() {
            if first > self.next {
                let len = first - self.next;
                out(Delivery::Gap { offset: self.next, len, snaplen: false });
                self.missing += len;
                self.next = first;
            }
            self.drain(out);
        }
    }

    /// Delivers buffered segments that have become contiguous.
    fn drain(&mut self, out: &mut impl FnMut(Delivery<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let data = entry.remove();
            self.pending_bytes -= data.len();
            let end = start + data.len() as u64;
            if end > self.next {
                let bytes = &data[(self.next - start) as usize..];
                out(Delivery::Data { offset: self.next, bytes });
                self.delivered += bytes.len() as u64;
                self.next = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(isn: Option<u32>, segs: &[(u32, &[u8])]) -> (Vec<u8>, u64) {
        let mut h = HalfStream::new();
        if let Some(i) = isn {
            h.set_isn(i);
        }
        let mut got = Vec::new();
        let mut sink = |d: Delivery<'_>| {
            if let Delivery::Data { bytes, .. } = d {
                got.extend_from_slice(bytes)
            }
        };
        for (seq, data) in segs {
            h.segment(*seq, data, data.len() as u32, &mut sink);
        }
        h.flush(&mut sink);
        (got, h.missing_bytes())
    }

    #[test]
    fn in_order() {
        assert_eq!(run(Some(99), &[(100, b"abc"), (103, b"def")]), (b"abcdef".to_vec(), 0));
    }

    #[test]
    fn out_of_order() {
        assert_eq!(run(Some(99), &[(103, b"def"), (106, b"g"), (100, b"abc")]), (b"abcdefg".to_vec(), 0));
    }

    #[test]
    fn retransmissions_repeat_shorten_extend_overlap() {
        let segs: &[(u32, &[u8])] = &[
            (100, b"abcd"),
            (100, b"abcd"), // repeat
            (100, b"ab"),   // shorter
            (100, b"abcdef"), // longer
            (104, b"XXghij"), // overlap: first copy of "ef" wins
            (110, b"k"),
        ];
        assert_eq!(run(Some(99), segs), (b"abcdefghijk".to_vec(), 0));
    }

    #[test]
    fn overlapping_out_of_order_segments() {
        let segs: &[(u32, &[u8])] = &[(105, b"fgh"), (103, b"deFG"), (100, b"abc")];
        assert_eq!(run(Some(99), segs), (b"abcdeFGh".to_vec(), 0));
    }

    #[test]
    fn wrap_around() {
        let isn = u32::MAX - 2;
        let segs: &[(u32, &[u8])] = &[(u32::MAX - 1, b"ab"), (0, b"cd"), (2, b"ef")];
        assert_eq!(run(Some(isn), segs), (b"abcdef".to_vec(), 0));
        // Out of order across the wrap.
        let segs: &[(u32, &[u8])] = &[(0, b"cd"), (u32::MAX - 1, b"ab"), (2, b"ef")];
        assert_eq!(run(Some(isn), segs), (b"abcdef".to_vec(), 0));
    }

    #[test]
    fn gap_is_counted_and_reassembly_goes_on() {
        let segs: &[(u32, &[u8])] = &[(100, b"abc"), (106, b"ghi"), (109, b"jk")];
        assert_eq!(run(Some(99), segs), (b"abcghijk".to_vec(), 3));
    }

    #[test]
    fn peer_ack_skips_hole_early() {
        let mut h = HalfStream::new();
        h.set_isn(99);
        let mut log = Vec::new();
        let mut sink = |d: Delivery<'_>| log.push(format!("{d:?}"));
        h.segment(100, b"abc", 3, &mut sink);
        h.segment(106, b"ghi", 3, &mut sink);
        assert_eq!(h.pending_bytes(), 3);
        h.acked(109, &mut sink); // peer has everything up to 109: 103..106 was lost by the capture
        assert_eq!(h.pending_bytes(), 0);
        assert_eq!(h.missing_bytes(), 3);
        assert_eq!(log.len(), 3);
        assert!(log[1].contains("Gap { offset: 3, len: 3, snaplen: false }"));
    }

    #[test]
    fn mid_stream_start_without_syn() {
        assert_eq!(run(None, &[(5000, b"hello"), (5005, b" world")]), (b"hello world".to_vec(), 0));
    }

    #[test]
    fn snaplen_cut_counts_tail_as_missing() {
        let mut h = HalfStream::new();
        h.set_isn(0);
        let mut got = Vec::new();
        let mut sink = |d: Delivery<'_>| {
            if let Delivery::Data { bytes, .. } = d {
                got.extend_from_slice(bytes)
            }
        };
        h.segment(1, b"abc", 10, &mut sink);
        h.segment(11, b"z", 1, &mut sink);
        assert_eq!(got, b"abcz");
        assert_eq!(h.missing_bytes(), 7);
    }

    #[test]
    fn pending_is_bounded() {
        let mut h = HalfStream::new();
        h.set_isn(0);
        let chunk = vec![1u8; 64 * 1024];
        let mut n = 0u64;
        let mut sink = |d: Delivery<'_>| {
            if let Delivery::Data { bytes, .. } = d {
                n += bytes.len() as u64
            }
        };
        // Hole at the start, then far more data than the buffer holds.
        for i in 0..100u32 {
            h.segment(1000 + i * chunk.len() as u32, &chunk, chunk.len() as u32, &mut sink);
            assert!(h.pending_bytes() <= MAX_PENDING);
        }
        h.flush(&mut sink);
        assert_eq!(h.missing_bytes(), 999);
        assert_eq!(n, 100 * chunk.len() as u64);
    }
}
