//! [`EmulatedLink`]: the two namespaces, their TUN devices and the forwarder, brought up together and torn down on drop.
//!
//! ```no_run
//! use std::time::Duration;
//! use wirelab::link::{EmulatedLink, LinkConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut link = EmulatedLink::up(&LinkConfig { rtt: Duration::from_millis(50), ..Default::default() })?;
//! // A listener in the server namespace, usable from any thread (or tokio, via from_std).
//! let listener = link.server_listener(0)?;
//! let port = listener.local_addr()?.port();
//! // A tokio socket made in the client namespace; it connects from any thread.
//! let socket = link.client_socket()?;
//! // ... socket.connect((link.server_addr(), port).into()).await ...
//! // Or a whole tokio runtime inside a namespace, for async code that opens its own sockets:
//! let rt = link.runtime(wirelab::link::Side::Client, 2)?;
//! // rt.block_on(rt.spawn(async move { tokio::net::TcpStream::connect(...).await }))
//! // A capture on the client's TUN device (raw IP), from inside the client namespace.
//! let cap = link.capture_client(&wirelab::capture::live::LiveConfig::default(), "c.pcapng".as_ref())?;
//! cap.stop()?;
//! link.down()?; // or drop it; both are idempotent
//! # Ok(()) }
//! ```

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{setns, CloneFlags};
use tun_rs::{DeviceBuilder, SyncDevice};

use super::config::LinkConfig;
use super::forward::{Forwarder, LinkStats};
use super::{netns, LinkError};
use crate::capture::live::{LiveCapture, LiveConfig};

/// The server's address, on its TUN device (used only inside wirelab's namespaces).
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The client's address, on its TUN device.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// Both addresses are in this /30, so each side reaches the other through its TUN device.
pub const PREFIX_LEN: u8 = 30;
/// The TUN devices' MTU (an Ethernet-sized link: TCP's MSS is 1460 bytes, 1448 with timestamps).
pub const MTU: u16 = 1500;
/// Packets the kernel may queue on a TUN device for the forwarder to read (the default, 500,
/// overflows in bursts when the forwarder is descheduled on a busy machine).
pub const TUN_TXQUEUE: u32 = 5000;
/// The TUN device in the server namespace.
pub const SERVER_TUN: &str = "wirelab-srv";
/// The TUN device in the client namespace (capture here: link type raw IP).
pub const CLIENT_TUN: &str = "wirelab-cli";

/// TCP congestion control inside both namespaces, in order of preference. Linux's default may be
/// BBR, which paces a connection at its measured delivery rate: an application-limited
/// connection (a page load) then sends far slower than slow start would, and neither the
/// textbook model nor its window-aware variant describes it. CUBIC and Reno share the slow
/// start that [`super::model`] assumes (initial window 10, doubling per round trip).
pub const CONGESTION_CONTROL: &[&str] = &["cubic", "reno"];

/// One end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running emulated link. Dropping it (or [`EmulatedLink::down`]) stops the forwarder,
/// removes the TUN devices and both namespaces.
pub struct EmulatedLink {
    cfg: LinkConfig,
    names: [String; 2],
    ns: [Option<File>; 2],
    forwarder: Option<Forwarder>,
    final_stats: LinkStats,
}

impl EmulatedLink {
    /// Creates both namespaces, their loopback and TUN devices, addresses and routes, and
    /// starts forwarding through the shaper. First removes the leftovers of wirelab runs that
    /// were killed (their process is gone). On any error, what was made is removed again.
    pub fn up(cfg: &LinkConfig) -> Result<EmulatedLink, LinkError> {
        cfg.validate()?;
        netns::check_privilege()?;
        netns::sweep_leftovers();
        let (pid, n) = (std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut link = EmulatedLink {
            cfg: cfg.clone(),
            names: [netns::name(pid, n, "srv"), netns::name(pid, n, "cli")],
            ns: [None, None],
            forwarder: None,
            final_stats: LinkStats::default(),
        };
        // From here on, an early return drops `link`, which removes whatever exists.
        let mut devices = Vec::new();
        for (i, (addr, tun)) in [(SERVER_ADDR, SERVER_TUN), (CLIENT_ADDR, CLIENT_TUN)].into_iter().enumerate() {
            let ns = netns::create(&link.names[i]);
            let ns = link.ns[i].insert(ns?);
            netns::ip(&["-n", &link.names[i], "link", "set", "lo", "up"])?;
            devices.push(netns::run_in(ns, || make_tun(tun, addr))??);
        }
        let client = devices.pop().expect("two devices");
        let server = devices.pop().expect("two devices");
        link.forwarder = Some(Forwarder::start(cfg, server, client, MTU as usize)?);
        Ok(link)
    }

    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    pub fn server_addr(&self) -> Ipv4Addr {
        SERVER_ADDR
    }

    pub fn client_addr(&self) -> Ipv4Addr {
        CLIENT_ADDR
    }

    /// The namespace's name, for `ip netns exec NAME ...` (e.g. to run a tool on one side).
    pub fn ns_name(&self, side: Side) -> &str {
        &self.names[side as usize]
    }

    /// The TUN device of a side, named as it is inside that side's namespace.
    pub fn tun_name(&self, side: Side) -> &'static str {
        match side {
            Side::Server => SERVER_TUN,
            Side::Client => CLIENT_TUN,
        }
    }

    /// The client's TUN device, where the scenario captures (link type raw IP).
    pub fn client_tun_name(&self) -> &'static str {
        CLIENT_TUN
    }

    /// Runs `f` on a thread inside the side's namespace: sockets it creates (listeners,
    /// connected streams, unconnected tokio `TcpSocket`s) live there and can be used from
    /// any thread afterwards.
    pub fn in_ns<T: Send, F: FnOnce() -> T + Send>(&self, side: Side, f: F) -> Result<T, LinkError> {
        netns::run_in(self.ns[side as usize].as_ref().ok_or(LinkError::Down)?, f)
    }

    pub fn in_server_ns<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, LinkError> {
        self.in_ns(Side::Server, f)
    }

    pub fn in_client_ns<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, LinkError> {
        self.in_ns(Side::Client, f)
    }

    /// A TCP listener on the server address (`port` 0 picks a free one), in the server
    /// namespace. For tokio: `set_nonblocking(true)`, then `tokio::net::TcpListener::from_std`.
    pub fn server_listener(&self, port: u16) -> Result<std::net::TcpListener, LinkError> {
        self.in_server_ns(|| std::net::TcpListener::bind(SocketAddrV4::new(SERVER_ADDR, port)))?
            .map_err(LinkError::io(format!("binding {SERVER_ADDR}:{port} in the server namespace")))
    }

    /// An unconnected tokio TCP socket made in the client namespace: `socket.connect(addr)`
    /// from any thread of a runtime then goes through the emulated link.
    pub fn client_socket(&self) -> Result<tokio::net::TcpSocket, LinkError> {
        self.in_client_ns(tokio::net::TcpSocket::new_v4)?.map_err(LinkError::io("creating a socket in the client namespace"))
    }

    /// A multi-threaded tokio runtime whose worker and blocking threads all run inside the
    /// side's namespace, so that unchanged async code (`TcpListener::bind`,
    /// `TcpStream::connect`, the bundled servers and clients) opens its sockets there. Only
    /// tasks run on those threads: start the work with `rt.spawn(..)` and await its handle
    /// (the future given to `block_on` itself runs on the calling thread, in its namespace).
    pub fn runtime(&self, side: Side, worker_threads: usize) -> Result<tokio::runtime::Runtime, LinkError> {
        let ns = std::sync::Arc::new(self.ns[side as usize].as_ref().ok_or(LinkError::Down)?.try_clone().map_err(LinkError::io("duplicating the namespace handle"))?);
        let name = self.names[side as usize].clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name(format!("wirelab-{}", if side == Side::Server { "srv" } else { "cli" }))
            .on_thread_start(move || {
                // The namespace exists (`up` entered it already); failing here would put a
                // thread of the runtime in the wrong namespace, so it must not go unnoticed.
                if let Err(e) = setns(&*ns, CloneFlags::CLONE_NEWNET) {
                    panic!("cannot enter network namespace {name}: {e}");
                }
            })
            .enable_all()
            .build()
            .map_err(LinkError::io("starting a runtime in the namespace"))
    }

    /// Starts a libpcap capture on the client's TUN device. libpcap opens a device by name in
    /// the calling thread's namespace, so the capture is opened from a thread inside the client
    /// namespace; the capture thread keeps that handle. `cfg.interface` is replaced by the TUN
    /// device's name, and the link's parameters are appended to the pcapng comment.
    pub fn capture_client(&self, cfg: &LiveConfig, path: &Path) -> Result<LiveCapture, LinkError> {
        let mut cfg = cfg.clone();
        cfg.interface = CLIENT_TUN.into();
        let link = format!("wirelab emulated link: {}", self.cfg.describe());
        cfg.comment = if cfg.comment.is_empty() { link } else { format!("{}; {link}", cfg.comment) };
        Ok(self.in_client_ns(|| LiveCapture::start(&cfg, path))??)
    }

    /// Both directions' packet, byte and drop counters so far.
    pub fn stats(&self) -> LinkStats {
        self.forwarder.as_ref().map_or(self.final_stats, Forwarder::stats)
    }

    pub fn is_up(&self) -> bool {
        self.ns.iter().any(Option::is_some)
    }

    /// Stops forwarding, closes the TUN devices (which removes them) and removes both
    /// namespaces. Safe to call more than once, and after a partial `up`.
    pub fn down(&mut self) -> Result<(), LinkError> {
        if let Some(f) = self.forwarder.take() {
            self.final_stats = f.stop();
        }
        let mut first_err = None;
        for i in 0..2 {
            if let Some(ns) = self.ns[i].take() {
                drop(ns);
                if let Err(e) = netns::remove(&self.names[i]) {
                    first_err.get_or_insert(e);
                }
            } else if let Err(e) = netns::remove(&self.names[i]) {
                // A namespace `ip netns add` made before failing to report it.
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for EmulatedLink {
    fn drop(&mut self) {
        let _ = self.down();
    }
}

/// Inside a namespace: TCP's congestion control set to [`CONGESTION_CONTROL`], no IPv6 (so the
/// capture holds only the traffic under study, no router solicitations), then the TUN device
/// with its address, up. (`/proc/sys/net` shows the namespace of the thread that opens it.)
fn make_tun(name: &str, addr: Ipv4Addr) -> Result<SyncDevice, LinkError> {
    // The first that this namespace may use (only a "non-restricted" one may be a non-initial
    // namespace's default, and the host's allowed list may hold only reno); if none, the
    // kernel's default stays and the link still works.
    for cc in CONGESTION_CONTROL {
        if std::fs::write("/proc/sys/net/ipv4/tcp_congestion_control", cc).is_ok() {
            break;
        }
    }
    for knob in ["all", "default"] {
        // Absent when the kernel has no IPv6: then there is nothing to silence.
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"), "1");
    }
    DeviceBuilder::new()
        .name(name)
        .mtu(MTU)
        .tx_queue_len(TUN_TXQUEUE)
        .ipv4(addr, PREFIX_LEN, None)
        .enable(true)
        .build_sync()
        .map_err(LinkError::io(format!("creating TUN device {name}")))
}

impl From<crate::capture::live::CaptureError> for LinkError {
    fn from(e: crate::capture::live::CaptureError) -> Self {
        LinkError::Capture(e.to_string())
    }
}
