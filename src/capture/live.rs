//! Live capture: a libpcap capture thread writing pcapng (pcap-file) as packets arrive.
//!
//! The interface is opened with a large kernel buffer and without immediate mode (TPACKET_V3
//! blocks, flushed every 100 ms by the read timeout), timestamps in nanoseconds, and a BPF
//! filter. Stopping waits for the last block to flush, then breaks libpcap's loop from outside
//! (a quiet interface can block a read indefinitely) and reads the kernel's statistics. The
//! file is flushed after every quiet spell, so it is a valid pcapng up to the last flush even
//! if the process dies.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};
use serde::Serialize;

/// How long a TPACKET_V3 block may wait before libpcap hands it over.
const BLOCK_TIMEOUT_MS: i32 = 100;

#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub interface: String,
    /// A BPF filter, e.g. `tcp port 8080 or tcp port 9001`.
    pub filter: String,
    pub snaplen: i32,
    pub buffer_bytes: i32,
    /// Written in the section header, so the capture explains itself in Wireshark.
    pub comment: String,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig { interface: "lo".into(), filter: String::new(), snaplen: 262_144, buffer_bytes: 64 << 20, comment: String::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no permission to capture on {interface}: run it with sudo, or allow this binary once with `sudo setcap cap_net_raw,cap_net_admin+eip {exe}`")]
    Permission { interface: String, exe: String },
    #[error("cannot capture on {interface}: {message}")]
    Open { interface: String, message: String },
    #[error("bad capture filter {filter:?}: {message}")]
    Filter { filter: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("capture failed: {0}")]
    Read(String),
}

/// What the capture saw, with libpcap's own counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    /// libpcap's `ps_recv` (on Linux `lo` each packet is counted twice) and drops.
    pub kernel_received: u32,
    pub kernel_dropped: u32,
    pub interface_dropped: u32,
}

/// A running capture.
pub struct LiveCapture {
    thread: Option<JoinHandle<Result<CaptureStats, CaptureError>>>,
    breaker: pcap::BreakLoop,
    stop: Arc<AtomicBool>,
}

fn is_permission(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("permission") || m.contains("operation not permitted") || m.contains("eperm")
}

impl LiveCapture {
    /// Opens the interface, writes the pcapng headers and starts the capture thread. When this
    /// returns, the capture is running.
    pub fn start(cfg: &LiveConfig, path: &Path) -> Result<LiveCapture, CaptureError> {
        let open_err = |e: pcap::Error| {
            let message = e.to_string();
            if is_permission(&message) {
                let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "wirelab".into());
                CaptureError::Permission { interface: cfg.interface.clone(), exe }
            } else {
                CaptureError::Open { interface: cfg.interface.clone(), message }
            }
        };
        let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
            .map_err(open_err)?
            .snaplen(cfg.snaplen)
            .buffer_size(cfg.buffer_bytes)
            .timeout(BLOCK_TIMEOUT_MS)
            .immediate_mode(false)
            .precision(pcap::Precision::Nano)
            .open()
            .map_err(open_err)?;
        if !cfg.filter.is_empty() {
            cap.filter(&cfg.filter, true).map_err(|e| CaptureError::Filter { filter: cfg.filter.clone(), message: e.to_string() })?;
        }
        let werr = |e: &dyn std::fmt::Display| CaptureError::Write { path: path.to_path_buf(), message: e.to_string() };
        let file = File::create(path).map_err(|e| werr(&e))?;
        let section = SectionHeaderBlock {
            endianness: Endianness::native(),
            major_version: 1,
            minor_version: 0,
            section_length: -1,
            options: vec![
                SectionHeaderOption::Comment(Cow::Owned(cfg.comment.clone())),
                SectionHeaderOption::UserApplication(Cow::Owned(format!("wirelab {}", env!("CARGO_PKG_VERSION")))),
                SectionHeaderOption::OS(Cow::Owned(std::env::consts::OS.to_string())),
            ],
        };
        let mut w = PcapNgWriter::with_section_header(BufWriter::with_capacity(1 << 20, file), section).map_err(|e| werr(&e))?;
        let mut options = vec![InterfaceDescriptionOption::IfName(Cow::Owned(cfg.interface.clone())), InterfaceDescriptionOption::IfTsResol(9)];
        // An empty if_filter option is invalid pcapng (readers reject the file): omit it.
        if !cfg.filter.is_empty() {
            options.push(InterfaceDescriptionOption::IfFilter(Cow::Owned(cfg.filter.clone().into_bytes())));
        }
        let idb = InterfaceDescriptionBlock { linktype: DataLink::from(cap.get_datalink().0 as u32), snaplen: cfg.snaplen as u32, options };
        w.write_pcapng_block(idb).map_err(|e| werr(&e))?;
        w.get_mut().flush().map_err(|e| werr(&e))?;
        let breaker = cap.breakloop_handle();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let path2 = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("wirelab-capture".into())
            .spawn(move || {
                let werr = |e: &dyn std::fmt::Display| CaptureError::Write { path: path2.clone(), message: e.to_string() };
                let mut st = CaptureStats::default();
                loop {
                    match cap.next_packet() {
                        Ok(p) => {
                            let ts = Duration::new(p.header.ts.tv_sec as u64, p.header.ts.tv_usec as u32);
                            let epb = EnhancedPacketBlock { interface_id: 0, timestamp: ts, original_len: p.header.len, data: Cow::Borrowed(p.data), options: vec![] };
                            w.write_pcapng_block(epb).map_err(|e| werr(&e))?;
                            st.packets += 1;
                            st.bytes += p.header.len as u64;
                        }
                        Err(pcap::Error::TimeoutExpired) => {
                            w.get_mut().flush().map_err(|e| werr(&e))?;
                            if stop2.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                        Err(pcap::Error::NoMorePackets) => break,
                        Err(e) => return Err(CaptureError::Read(e.to_string())),
                    }
                }
                if let Ok(s) = cap.stats() {
                    st.kernel_received = s.received;
                    st.kernel_dropped = s.dropped;
                    st.interface_dropped = s.if_dropped;
                }
                w.get_mut().flush().map_err(|e| werr(&e))?;
                Ok(st)
            })
            .map_err(|e| CaptureError::Read(e.to_string()))?;
        Ok(LiveCapture { thread: Some(thread), breaker, stop })
    }

    /// Lets the last kernel block flush, stops the thread and returns the statistics.
    pub fn stop(mut self) -> Result<CaptureStats, CaptureError> {
        std::thread::sleep(Duration::from_millis(3 * BLOCK_TIMEOUT_MS as u64));
        self.stop.store(true, Ordering::SeqCst);
        self.breaker.breakloop();
        let t = self.thread.take().expect("running");
        t.join().map_err(|_| CaptureError::Read("the capture thread panicked".into()))?
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            self.breaker.breakloop();
            let _ = t.join();
        }
    }
}
