//! Streaming reader for capture files: classic pcap (µs/ns, both byte orders) and pcapng.
//!
//! The reader pulls bytes from any `Read` (stdin for `tcpdump -w - | wirelab analyze -`) through
//! one reusable buffer, so memory stays flat whatever the file size; a regular file is mapped
//! into memory instead ([`CaptureReader::open_file`]), which saves copying it through `read`. Record framing is
//! delegated to `pcap-file`'s slice parsers; this module adds the buffering, the byte offsets,
//! per-interface timestamp resolution, and sanity limits so that a corrupt length field can never
//! make us allocate gigabytes. Damage ends the stream with a [`Damage`] note naming the offset;
//! everything before it has already been delivered.

use std::borrow::Cow;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use byteorder::{BigEndian, ByteOrder as _, LittleEndian};
use pcap_file::pcap::{PcapHeader, PcapParser};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::blocks::section_header::SectionHeaderOption;
use pcap_file::pcapng::PcapNgParser;
use pcap_file::{Endianness, PcapError, TsResolution};

use super::tandem::{Pace, Tandem};

/// Largest record we accept. tshark's own limit for most link types is 256 KiB; a pcapng block
/// can also carry a big name-resolution or comment block, so blocks get more room.
const MAX_PACKET: usize = 256 * 1024;
const MAX_BLOCK: usize = 16 * 1024 * 1024;
const READ_CHUNK: usize = 1 << 20;

/// Errors that stop a capture from being read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a capture file: {0}")]
    NotACapture(String),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// The file format detected from the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    Pcapng,
}

/// Where and why reading stopped early. Packets before `offset` were all delivered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    pub offset: u64,
    pub reason: String,
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark numbers them.
    pub number: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i128,
    /// LINKTYPE_* value of the interface that captured the frame.
    pub link_type: u32,
    pub interface: u32,
    /// Length on the wire.
    pub orig_len: u32,
    pub data: &'a [u8],
    /// Offset of the record in the file.
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct Interface {
    pub link_type: u32,
    pub name: Option<String>,
    /// Units per second of this interface's timestamps.
    ts_units: u64,
    ts_offset_s: i64,
}

/// The bytes being read: a reusable buffer, or the whole file mapped.
enum Store {
    Vec(Vec<u8>),
    Map(Arc<memmap2::Mmap>),
}

/// A mapped capture file, shared with another thread: frames' bytes can be found in it by
/// address ([`Mapped::range_of`]) instead of being copied.
#[derive(Clone)]
pub struct Mapped(Arc<memmap2::Mmap>);

impl Mapped {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Where `part` lies in the mapping, if it lies in it.
    pub fn range_of(&self, part: &[u8]) -> Option<std::ops::Range<usize>> {
        let base = self.0.as_ptr() as usize;
        let start = (part.as_ptr() as usize).checked_sub(base)?;
        (start + part.len() <= self.0.len()).then(|| start..start + part.len())
    }
}

impl std::ops::Deref for Store {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Store::Vec(v) => v,
            Store::Map(m) => m,
        }
    }
}

enum Kind {
    Pcap { header: PcapHeader },
    Pcapng { parser: PcapNgParser },
}

/// The reader's side of a mapped file's [`Pace`]: when the reader is gone, it holds a
/// [`Tandem`] back no more.
struct Lead(Arc<Pace>);

impl Drop for Lead {
    fn drop(&mut self) {
        self.0.lead_gone();
    }
}

/// A streaming capture reader. Call [`CaptureReader::next_frame`] until it returns `None`,
/// then look at [`CaptureReader::damage`].
pub struct CaptureReader<R: Read> {
    src: R,
    buf: Store,
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    /// Another thread still reads mapped bytes from this offset on: none after it is released.
    release_limit: Option<Arc<AtomicUsize>>,
    /// A mapped file's positions, shared with a [`Tandem`] if there is one: pages below every
    /// reader go back to the kernel.
    lead: Option<Lead>,
    /// Where the reader last told its pace it was.
    told: usize,
    kind: Kind,
    interfaces: Vec<Interface>,
    comments: Vec<String>,
    frames: u64,
    damage: Option<Damage>,
    done: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header and detects the format.
    pub fn new(mut src: R) -> Result<Self, ReadError> {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut end = 0;
        // Fill enough for the headers (or hit EOF).
        while end < 64 * 1024 {
            let n = read_retry(&mut src, &mut buf[end..])?;
            if n == 0 {
                break;
            }
            end += n;
        }
        let eof = end < 64 * 1024;
        Self::with_store(src, Store::Vec(buf), end, eof)
    }

    fn with_store(src: R, buf: Store, end: usize, eof: bool) -> Result<Self, ReadError> {
        let head = &buf[..end];
        if head.len() < 4 {
            return Err(ReadError::NotACapture(format!("file is only {} bytes long", head.len())));
        }
        let magic = BigEndian::read_u32(&head[..4]);
        let (kind, consumed, interfaces, comments) = match magic {
            0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 => {
                let (rem, parser) = PcapParser::new(head).map_err(|e| bad_header("pcap", e))?;
                let header = parser.header();
                let iface = Interface {
                    link_type: u32::from(header.datalink),
                    name: None,
                    ts_units: match header.ts_resolution {
                        TsResolution::MicroSecond => 1_000_000,
                        TsResolution::NanoSecond => 1_000_000_000,
                    },
                    ts_offset_s: 0,
                };
                (Kind::Pcap { header }, head.len() - rem.len(), vec![iface], vec![])
            }
            0x0a0d0d0a => {
                let (rem, parser) = PcapNgParser::new(head).map_err(|e| bad_header("pcapng", e))?;
                let comments = section_comments(&parser);
                (Kind::Pcapng { parser }, head.len() - rem.len(), vec![], comments)
            }
            _ => {
                return Err(ReadError::NotACapture(format!(
                    "unknown magic number 0x{magic:08x} (expected pcap or pcapng)"
                )))
            }
        };
        let lead = matches!(buf, Store::Map(_)).then(|| Lead(Pace::new()));
        Ok(CaptureReader {
            src,
            buf,
            start: consumed,
            end,
            eof,
            buf_offset: 0,
            release_limit: None,
            lead,
            told: 0,
            kind,
            interfaces,
            comments,
            frames: 0,
            damage: None,
            done: false,
        })
    }

    pub fn format(&self) -> Format {
        match self.kind {
            Kind::Pcap { .. } => Format::Pcap,
            Kind::Pcapng { .. } => Format::Pcapng,
        }
    }

    /// Interfaces seen so far (pcap files have exactly one).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Section comments seen so far (pcapng only).
    pub fn comments(&self) -> &[String] {
        &self.comments
    }

    /// Why reading stopped early, if it did.
    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    /// The mapped file, when the capture is read from one.
    pub fn mapped(&self) -> Option<Mapped> {
        match &self.buf {
            Store::Map(m) => Some(Mapped(m.clone())),
            Store::Vec(_) => None,
        }
    }

    /// Mapped bytes at and after `limit`'s offset are still read elsewhere: the reader gives
    /// pages back to the kernel only below it.
    pub fn limit_release(&mut self, limit: Arc<AtomicUsize>) {
        self.release_limit = Some(limit);
    }

    /// A second reader of the mapped file, kept in step with this one (for a digest of the
    /// whole file, say): it reads the pages this reader maps. `None` when the capture is not
    /// read from a mapped file, or a tandem exists already.
    pub fn tandem(&mut self) -> Option<Tandem> {
        match (&self.buf, &self.lead) {
            (Store::Map(map), Some(Lead(pace))) => Pace::tandem(pace, map),
            _ => None,
        }
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn position(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    fn stop(&mut self, reason: impl Into<String>) {
        self.damage = Some(Damage { offset: self.position(), reason: reason.into() });
        self.done = true;
    }

    /// Makes sure at least `need` bytes are buffered after `start`. Returns false at EOF.
    fn fill(&mut self, need: usize) -> io::Result<bool> {
        if let (Store::Map(map), Some(Lead(pace))) = (&self.buf, &self.lead) {
            // Keep the resident set flat: the pace gives consumed pages back every few MiB.
            if self.start >= self.told + (1 << 20) {
                self.told = self.start;
                let limit = self.release_limit.as_ref().map_or(usize::MAX, |l| l.load(Ordering::Acquire));
                pace.lead(map, self.start, self.start.min(limit));
            }
            if self.end - self.start < need {
                pace.lead_gone();
            }
        }
        if self.end - self.start >= need {
            return Ok(true);
        }
        // A mapped file is all there already.
        let Store::Vec(buf) = &mut self.buf else { return Ok(false) };
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.buf_offset += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if buf.len() < need {
            buf.resize(need.next_power_of_two(), 0);
        }
        while self.end < need && !self.eof {
            let n = read_retry(&mut self.src, &mut buf[self.end..])?;
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
        Ok(self.end >= need)
    }

    /// Returns the next frame, or `None` at the end of the capture (clean or damaged).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        loop {
            if self.done {
                return Ok(None);
            }
            match self.kind {
                Kind::Pcap { .. } => return self.next_pcap(),
                Kind::Pcapng { .. } => match self.next_pcapng_step()? {
                    Step::Frame(s, e, meta) => {
                        return Ok(Some(Frame { data: &self.buf[s..e], ..meta }));
                    }
                    Step::Again => continue,
                },
            }
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        let Kind::Pcap { header, .. } = &self.kind else { unreachable!() };
        let big = header.endianness == Endianness::Big;
        let snaplen = header.snaplen as usize;
        if !self.fill(16)? {
            if self.end > self.start {
                self.stop(format!("truncated record header ({} of 16 bytes)", self.end - self.start));
            } else {
                self.done = true;
            }
            return Ok(None);
        }
        let h = &self.buf[self.start..self.start + 16];
        let rd = |b: &[u8]| if big { BigEndian::read_u32(b) } else { LittleEndian::read_u32(b) };
        let (ts_sec, ts_frac, incl, orig) = (rd(&h[0..4]), rd(&h[4..8]), rd(&h[8..12]) as usize, rd(&h[12..16]));
        if incl > MAX_PACKET.max(snaplen.min(16 * MAX_PACKET)) {
            self.stop(format!("corrupt record: captured length {incl} is larger than any real packet"));
            return Ok(None);
        }
        let units = self.interfaces[0].ts_units;
        if ts_frac as u64 >= units {
            self.stop(format!("corrupt record: timestamp fraction {ts_frac} out of range"));
            return Ok(None);
        }
        if !self.fill(16 + incl)? {
            self.stop(format!("truncated packet: record needs {} bytes, {} present", 16 + incl, self.end - self.start));
            return Ok(None);
        }
        let offset = self.position();
        let s = self.start + 16;
        self.start = s + incl;
        self.frames += 1;
        let ts_ns = ts_sec as i128 * 1_000_000_000 + ts_frac as i128 * (1_000_000_000 / units) as i128;
        Ok(Some(Frame {
            number: self.frames,
            ts_ns,
            link_type: self.interfaces[0].link_type,
            interface: 0,
            orig_len: orig.max(incl as u32),
            data: &self.buf[s..s + incl],
            offset,
        }))
    }

    fn next_pcapng_step(&mut self) -> Result<Step, ReadError> {
        if !self.fill(8)? {
            if self.end > self.start {
                self.stop(format!("truncated block header ({} bytes)", self.end - self.start));
            } else {
                self.done = true;
            }
            return Ok(Step::Again);
        }
        let Kind::Pcapng { parser } = &self.kind else { unreachable!() };
        let head = &self.buf[self.start..self.start + 8];
        let btype_be = BigEndian::read_u32(&head[..4]);
        let big = if btype_be == 0x0a0d0d0a {
            // A new section: its byte order is in its own magic.
            if !self.fill(12)? {
                self.stop("truncated section header");
                return Ok(Step::Again);
            }
            BigEndian::read_u32(&self.buf[self.start + 8..self.start + 12]) == 0x1a2b3c4d
        } else {
            parser.section().endianness == Endianness::Big
        };
        let head = &self.buf[self.start..self.start + 8];
        let (btype, blen) = if big {
            (BigEndian::read_u32(&head[..4]), BigEndian::read_u32(&head[4..8]) as usize)
        } else {
            (LittleEndian::read_u32(&head[..4]), LittleEndian::read_u32(&head[4..8]) as usize)
        };
        if blen < 12 || blen % 4 != 0 || blen > MAX_BLOCK {
            self.stop(format!("corrupt block: type 0x{btype:08x} with length {blen}"));
            return Ok(Step::Again);
        }
        if !self.fill(blen)? {
            self.stop(format!("truncated block: needs {blen} bytes, {} present", self.end - self.start));
            return Ok(Step::Again);
        }
        let offset = self.position();
        let block_start = self.start;
        let Kind::Pcapng { parser } = &mut self.kind else { unreachable!() };
        let res = parser.next_raw_block(&self.buf[block_start..block_start + blen]);
        let raw = match res {
            Ok((_, raw)) => raw,
            Err(e) => {
                let msg = format!("corrupt block: {e}");
                self.stop(msg);
                return Ok(Step::Again);
            }
        };
        self.start = block_start + blen;
        let body_start = block_start + 8;
        let body_len = match &raw.body {
            Cow::Borrowed(b) => b.len(),
            Cow::Owned(b) => b.len(),
        };
        let rd = |b: &[u8]| if big { BigEndian::read_u32(b) } else { LittleEndian::read_u32(b) };
        match btype {
            0x0a0d0d0a => {
                self.interfaces.clear();
                self.comments.extend(section_comments(parser));
                Ok(Step::Again)
            }
            0x00000001 => {
                if let Some(idb) = parser.interfaces().last() {
                    let mut ts_units = 1_000_000u64;
                    let mut ts_offset_s = 0i64;
                    let mut name = None;
                    for opt in &idb.options {
                        match opt {
                            InterfaceDescriptionOption::IfTsResol(r) => {
                                ts_units = if r & 0x80 != 0 {
                                    1u64.checked_shl((r & 0x7f) as u32).unwrap_or(1_000_000)
                                } else {
                                    10u64.checked_pow(*r as u32).unwrap_or(1_000_000)
                                };
                            }
                            InterfaceDescriptionOption::IfTsOffset(o) => ts_offset_s = *o as i64,
                            InterfaceDescriptionOption::IfName(n) => name = Some(n.to_string()),
                            _ => {}
                        }
                    }
                    self.interfaces.push(Interface {
                        link_type: u32::from(idb.linktype),
                        name,
                        ts_units: ts_units.max(1),
                        ts_offset_s,
                    });
                }
                Ok(Step::Again)
            }
            // Enhanced Packet Block: parse the fixed fields ourselves (fast, and a bad option
            // elsewhere in the block must not lose the packet).
            0x00000006 => {
                let body = &self.buf[body_start..body_start + body_len];
                if body.len() < 20 {
                    self.stop("corrupt enhanced packet block: body too short");
                    return Ok(Step::Again);
                }
                let iface = rd(&body[0..4]);
                let ts = ((rd(&body[4..8]) as u64) << 32) | rd(&body[8..12]) as u64;
                let cap = rd(&body[12..16]) as usize;
                let orig = rd(&body[16..20]);
                if 20 + cap > body.len() {
                    self.stop(format!("corrupt enhanced packet block: captured length {cap} exceeds block"));
                    return Ok(Step::Again);
                }
                self.packet_step(iface, ts, orig, body_start + 20, cap, offset)
            }
            // Simple Packet Block: interface 0, no timestamp.
            0x00000003 => {
                let body = &self.buf[body_start..body_start + body_len];
                if body.len() < 4 {
                    self.stop("corrupt simple packet block");
                    return Ok(Step::Again);
                }
                let orig = rd(&body[0..4]);
                let cap = (orig as usize).min(body.len() - 4);
                self.packet_step(0, 0, orig, body_start + 4, cap, offset)
            }
            // Obsolete Packet Block.
            0x00000002 => {
                let body = &self.buf[body_start..body_start + body_len];
                if body.len() < 20 {
                    self.stop("corrupt packet block");
                    return Ok(Step::Again);
                }
                let iface = if big { BigEndian::read_u16(&body[0..2]) } else { LittleEndian::read_u16(&body[0..2]) };
                let ts = ((rd(&body[4..8]) as u64) << 32) | rd(&body[8..12]) as u64;
                let cap = (rd(&body[12..16]) as usize).min(body.len() - 20);
                let orig = rd(&body[16..20]);
                self.packet_step(iface as u32, ts, orig, body_start + 20, cap, offset)
            }
            _ => Ok(Step::Again),
        }
    }

    fn packet_step(&mut self, iface: u32, ts: u64, orig: u32, s: usize, cap: usize, offset: u64) -> Result<Step, ReadError> {
        let Some(i) = self.interfaces.get(iface as usize) else {
            self.stop(format!("packet refers to interface {iface}, but only {} are described", self.interfaces.len()));
            return Ok(Step::Again);
        };
        let units = i.ts_units as i128;
        let ts_ns = (ts as i128 / units) * 1_000_000_000
            + (ts as i128 % units) * 1_000_000_000 / units
            + i.ts_offset_s as i128 * 1_000_000_000;
        self.frames += 1;
        Ok(Step::Frame(
            s,
            s + cap,
            Frame {
                number: self.frames,
                ts_ns,
                link_type: i.link_type,
                interface: iface,
                orig_len: orig.max(cap as u32),
                data: &[],
                offset,
            },
        ))
    }
}

impl CaptureReader<std::fs::File> {
    /// Opens a capture file, mapping it into memory when it is a regular file (falling back
    /// to buffered reads otherwise). The file must not shrink while it is being read.
    pub fn open_file(file: std::fs::File) -> Result<Self, ReadError> {
        let len = file.metadata()?.len();
        if file.metadata()?.is_file() && len > 0 && len <= usize::MAX as u64 {
            // SAFETY: the map is read-only and lives as long as the reader; wirelab only reads
            // capture files, and a capture that is still being written only grows.
            if let Ok(map) = unsafe { memmap2::MmapOptions::new().map(&file) } {
                let _ = map.advise(memmap2::Advice::Sequential);
                return Self::with_store(file, Store::Map(Arc::new(map)), len as usize, true);
            }
        }
        Self::new(file)
    }
}

enum Step {
    Frame(usize, usize, Frame<'static>),
    Again,
}

fn section_comments(parser: &PcapNgParser) -> Vec<String> {
    parser
        .section()
        .options
        .iter()
        .filter_map(|o| match o {
            SectionHeaderOption::Comment(c) => Some(c.to_string()),
            _ => None,
        })
        .collect()
}

fn bad_header(what: &str, e: PcapError) -> ReadError {
    match e {
        PcapError::IncompleteBuffer => ReadError::NotACapture(format!("{what} file header is truncated")),
        e => ReadError::NotACapture(format!("{what} file header is invalid: {e}")),
    }
}

fn read_retry<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match src.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(magic: u32, big: bool, linktype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let put32 = |v: &mut Vec<u8>, x: u32| v.extend(if big { x.to_be_bytes() } else { x.to_le_bytes() });
        put32(&mut v, magic);
        v.extend(if big { 2u16.to_be_bytes() } else { 2u16.to_le_bytes() });
        v.extend(if big { 4u16.to_be_bytes() } else { 4u16.to_le_bytes() });
        put32(&mut v, 0);
        put32(&mut v, 0);
        put32(&mut v, 65535);
        put32(&mut v, linktype);
        v
    }

    fn record(big: bool, sec: u32, frac: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [sec, frac, data.len() as u32, data.len() as u32] {
            v.extend(if big { x.to_be_bytes() } else { x.to_le_bytes() });
        }
        v.extend(data);
        v
    }

    #[test]
    fn mapped_file_reads_like_a_stream() {
        let mut f = pcap_header(0xa1b2c3d4, false, 1);
        f.extend(record(false, 1, 0, b"hello"));
        f.extend(record(false, 2, 0, b"world!!"));
        let cut = f.len() - 3;
        let path = std::env::temp_dir().join(format!("wirelab-map-{}.pcap", std::process::id()));
        std::fs::write(&path, &f[..cut]).unwrap();
        let mut r = CaptureReader::open_file(std::fs::File::open(&path).unwrap()).unwrap();
        assert!(matches!(r.buf, Store::Map(_)));
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"hello");
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.damage().unwrap().offset, 24 + 16 + 5);
        std::fs::remove_file(&path).unwrap();
    }

    /// A tandem reads the whole file while the reader reads frames (here a file several
    /// tandem windows long), and only a mapped reader has one.
    #[test]
    fn a_tandem_reads_the_file_beside_the_reader() {
        let mut f = pcap_header(0xa1b2c3d4, false, 1);
        let payload = vec![0x5a; 60_000];
        while f.len() < 3 * crate::capture::tandem::WINDOW {
            f.extend(record(false, 1, 0, &payload));
        }
        let path = std::env::temp_dir().join(format!("wirelab-tandem-reader-{}.pcap", std::process::id()));
        std::fs::write(&path, &f).unwrap();
        let mut r = CaptureReader::open_file(std::fs::File::open(&path).unwrap()).unwrap();
        let t = r.tandem().unwrap();
        assert!(r.tandem().is_none(), "one tandem");
        let (frames, got) = std::thread::scope(|s| {
            let h = s.spawn(move || {
                let mut got = Vec::with_capacity(t.len());
                t.for_each_chunk(|c| got.extend_from_slice(c));
                got
            });
            let mut n = 0;
            while r.next_frame().unwrap().is_some() {
                n += 1;
            }
            (n, h.join().unwrap())
        });
        assert_eq!(frames, (f.len() - 24) / (16 + payload.len()));
        assert!(got == f);
        assert!(CaptureReader::new(&f[..]).unwrap().tandem().is_none());
        std::fs::remove_file(&path).unwrap();
    }

    fn all(bytes: &[u8]) -> (Vec<(u64, i128, Vec<u8>)>, Option<Damage>) {
        let mut r = CaptureReader::new(bytes).unwrap();
        let mut out = vec![];
        while let Some(f) = r.next_frame().unwrap() {
            out.push((f.number, f.ts_ns, f.data.to_vec()));
        }
        (out, r.damage().cloned())
    }

    #[test]
    fn pcap_micro_and_nano_both_orders() {
        for (magic, big, mult) in [(0xa1b2c3d4u32, false, 1000i128), (0xa1b2c3d4, true, 1000), (0xa1b23c4d, false, 1), (0xa1b23c4d, true, 1)] {
            let mut f = pcap_header(magic, big, 1);
            f.extend(record(big, 10, 5, b"abc"));
            f.extend(record(big, 11, 7, b"de"));
            let (frames, dmg) = all(&f);
            assert_eq!(dmg, None);
            assert_eq!(frames.len(), 2);
            assert_eq!(frames[0].1, 10_000_000_000 + 5 * mult);
            assert_eq!(frames[1].2, b"de");
        }
    }

    #[test]
    fn truncated_record_reports_offset_and_keeps_earlier_frames() {
        let mut f = pcap_header(0xa1b2c3d4, false, 1);
        f.extend(record(false, 1, 0, b"hello"));
        let cut = f.len() as u64;
        f.extend(record(false, 2, 0, b"world!!"));
        f.truncate(f.len() - 3);
        let (frames, dmg) = all(&f);
        assert_eq!(frames.len(), 1);
        let d = dmg.unwrap();
        assert_eq!(d.offset, cut);
        assert!(d.reason.contains("truncated"), "{}", d.reason);
    }

    #[test]
    fn absurd_length_is_damage_not_allocation() {
        let mut f = pcap_header(0xa1b2c3d4, false, 1);
        let mut r = record(false, 1, 0, b"x");
        r[8..12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        f.extend(r);
        let (frames, dmg) = all(&f);
        assert!(frames.is_empty());
        assert_eq!(dmg.unwrap().offset, 24);
    }

    #[test]
    fn not_a_capture() {
        assert!(matches!(CaptureReader::new(&b"hello world, this is text"[..]), Err(ReadError::NotACapture(_))));
        assert!(matches!(CaptureReader::new(&b""[..]), Err(ReadError::NotACapture(_))));
        assert!(matches!(CaptureReader::new(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0][..]), Err(ReadError::NotACapture(_))));
    }

    fn block(btype: u32, body: &[u8]) -> Vec<u8> {
        let mut b = body.to_vec();
        while b.len() % 4 != 0 {
            b.push(0);
        }
        let len = (b.len() + 12) as u32;
        let mut v = Vec::new();
        v.extend(btype.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(b);
        v.extend(len.to_le_bytes());
        v
    }

    #[test]
    fn pcapng_two_interfaces_with_resolutions() {
        let mut f = block(0x0a0d0d0a, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        // IDB 0: ethernet, default µs. IDB 1: raw IP, ns (if_tsresol = 9).
        f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        f.extend(block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
        let epb = |iface: u32, ts: u64, data: &[u8]| {
            let mut b = Vec::new();
            b.extend(iface.to_le_bytes());
            b.extend(((ts >> 32) as u32).to_le_bytes());
            b.extend((ts as u32).to_le_bytes());
            b.extend((data.len() as u32).to_le_bytes());
            b.extend((data.len() as u32).to_le_bytes());
            b.extend(data);
            block(6, &b)
        };
        f.extend(epb(0, 1_500_000, b"abc"));
        f.extend(epb(1, 2_000_000_001, b"xy"));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!((a.link_type, a.ts_ns, a.data), (1, 1_500_000_000, &b"abc"[..]));
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!((b.link_type, b.ts_ns, b.data), (101, 2_000_000_001, &b"xy"[..]));
        assert!(r.next_frame().unwrap().is_none());
        assert!(r.damage().is_none());
        // Packet for an undeclared interface is damage, not a panic.
        f.extend(epb(7, 0, b"z"));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        while r.next_frame().unwrap().is_some() {}
        assert!(r.damage().unwrap().reason.contains("interface 7"));
    }
}
