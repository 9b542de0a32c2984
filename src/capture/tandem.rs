//! A second reader of a mapped capture file, kept in step with the [`CaptureReader`]: a
//! digest of the whole file reads the pages the analysis faults in (each page is mapped once,
//! not twice), and pages go back to the kernel once both readers have passed them.
//!
//! Neither runs more than [`WINDOW`] bytes ahead of the other, so the resident set stays flat;
//! each side waits only for the other to move, and a side that is done or gone stops holding
//! the other back. A reader without a tandem releases its pages through the same [`Pace`].
//!
//! [`CaptureReader`]: super::CaptureReader

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How far one reader may run ahead of the other.
pub const WINDOW: usize = 16 << 20;
/// The tandem reader's unit of work.
const CHUNK: usize = 4 << 20;
/// Pages go back to the kernel this many bytes at a time.
const RELEASE_STEP: usize = 8 << 20;
/// A position that holds nobody back: its reader is done or gone.
const GONE: usize = usize::MAX;

/// The two readers' positions, shared.
#[derive(Debug)]
pub(crate) struct Pace {
    /// Where the capture reader reads (for pacing).
    reading: AtomicUsize,
    /// Below this the capture reader and its consumers are done with the mapping.
    lead_done: AtomicUsize,
    /// Below this the tandem reader is done ([`GONE`] while there is none).
    tail_done: AtomicUsize,
    /// Pages below this went back to the kernel.
    released: AtomicUsize,
}

impl Pace {
    /// The pace of a reader with no tandem yet.
    pub(crate) fn new() -> Arc<Pace> {
        Arc::new(Pace { reading: AtomicUsize::new(0), lead_done: AtomicUsize::new(0), tail_done: AtomicUsize::new(GONE), released: AtomicUsize::new(0) })
    }

    /// A tandem reader of `map` from its first byte; `None` while another one reads it.
    pub(crate) fn tandem(pace: &Arc<Pace>, map: &Arc<memmap2::Mmap>) -> Option<Tandem> {
        pace.tail_done.compare_exchange(GONE, 0, Ordering::AcqRel, Ordering::Acquire).ok()?;
        Some(Tandem { map: map.clone(), step: pace.clone() })
    }

    /// The capture reader is at `reading`, done below `done`: publish it, wait while it is
    /// more than a [`WINDOW`] ahead of the tandem reader, and give back what both passed.
    pub(crate) fn lead(&self, map: &memmap2::Mmap, reading: usize, done: usize) {
        self.reading.store(reading, Ordering::Release);
        self.lead_done.store(done, Ordering::Release);
        while reading > self.tail_done.load(Ordering::Acquire).saturating_add(WINDOW) {
            std::thread::sleep(Duration::from_micros(100));
        }
        self.release(map);
    }

    /// The capture reader reads no more (the end of the file, a stop, or it was dropped).
    pub(crate) fn lead_gone(&self) {
        self.reading.store(GONE, Ordering::Release);
    }

    /// Gives back the pages below both readers' done positions, a step at a time. Either
    /// reader may call it: the shared mark hands each range to exactly one of them.
    fn release(&self, map: &memmap2::Mmap) {
        let both = self.lead_done.load(Ordering::Acquire).min(self.tail_done.load(Ordering::Acquire)).min(map.len());
        let upto = both & !4095;
        let from = self.released.load(Ordering::Acquire);
        if upto < from + RELEASE_STEP {
            return;
        }
        let from = self.released.fetch_max(upto, Ordering::AcqRel);
        if upto > from {
            // SAFETY: both readers are done below `upto`; on a read-only file mapping
            // MADV_DONTNEED only drops the pages from this process (a later read would fault
            // them in again from the page cache).
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, upto - from) };
        }
    }
}

/// The tandem reader: the whole mapped file, in order, alongside the capture reader
/// ([`CaptureReader::tandem`](super::CaptureReader::tandem)).
pub struct Tandem {
    map: Arc<memmap2::Mmap>,
    step: Arc<Pace>,
}

impl Tandem {
    /// The file's length.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Calls `f` with every byte of the file, in order, a few MiB at a time, never more than
    /// a [`WINDOW`] ahead of the capture reader.
    pub fn for_each_chunk(self, mut f: impl FnMut(&[u8])) {
        let mut at = 0;
        while at < self.map.len() {
            let end = (at + CHUNK).min(self.map.len());
            while end > self.step.reading.load(Ordering::Acquire).saturating_add(WINDOW) {
                std::thread::sleep(Duration::from_micros(100));
            }
            f(&self.map[at..end]);
            at = end;
            self.step.tail_done.store(at, Ordering::Release);
            self.step.release(&self.map);
        }
    }
}

impl Drop for Tandem {
    /// Done or gone (a panic in `f` included): the capture reader no longer waits for it.
    fn drop(&mut self) {
        self.step.tail_done.store(GONE, Ordering::Release);
        self.step.release(&self.map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of(bytes: &[u8]) -> (Arc<memmap2::Mmap>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("wirelab-tandem-{}-{}", std::process::id(), bytes.len()));
        std::fs::write(&path, bytes).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        (Arc::new(unsafe { memmap2::MmapOptions::new().map(&f).unwrap() }), path)
    }

    #[test]
    fn the_tandem_reads_every_byte_in_order_while_the_lead_moves() {
        let bytes: Vec<u8> = (0..(3 * WINDOW + 12345)).map(|i| (i * 7 % 251) as u8).collect();
        let (map, path) = map_of(&bytes);
        let step = Pace::new();
        let t = Pace::tandem(&step, &map).unwrap();
        let got = std::thread::scope(|s| {
            let h = s.spawn(move || {
                let mut got = Vec::new();
                t.for_each_chunk(|c| got.extend_from_slice(c));
                got
            });
            // The lead, 1 MiB at a time; it never gets a window ahead of the tandem.
            let mut at = 0;
            while at < map.len() {
                at = (at + (1 << 20)).min(map.len());
                step.lead(&map, at, at);
                assert!(at <= step.tail_done.load(Ordering::Acquire).saturating_add(WINDOW));
            }
            step.lead_gone();
            h.join().unwrap()
        });
        assert!(got == bytes);
        assert!(step.released.load(Ordering::Acquire) >= map.len() - RELEASE_STEP - 4096);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_lead_that_stops_early_or_a_tandem_that_is_dropped_holds_nobody_back() {
        let bytes = vec![1u8; 2 * WINDOW + 5];
        let (map, path) = map_of(&bytes);
        // The lead reads 1 MiB and stops: the tandem still reads to the end.
        let step = Pace::new();
        step.lead(&map, 1 << 20, 1 << 20);
        step.lead_gone();
        let mut n = 0;
        Pace::tandem(&step, &map).unwrap().for_each_chunk(|c| n += c.len());
        assert_eq!(n, bytes.len());
        // A tandem dropped unread: the lead reads to the end without waiting.
        let step = Pace::new();
        drop(Pace::tandem(&step, &map).unwrap());
        step.lead(&map, map.len(), map.len());
        assert_eq!(step.released.load(Ordering::Acquire), map.len() & !4095);
        std::fs::remove_file(path).unwrap();
    }
}
