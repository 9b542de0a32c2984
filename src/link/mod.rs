//! Link emulation without netem: two network namespaces joined by TUN devices, with a user-space shaper (delay, rate, loss) between them.
//!
//! The kernel here has no netem qdisc, so the link is emulated the way mahimahi's `mm-delay` and
//! `mm-link` do it: every packet leaves one namespace through a TUN device, wirelab reads it,
//! holds it in a [`shaper::Shaper`] (a drop-tail queue drained at the link rate, then a fixed
//! one-way delay, and seeded random loss) and writes it into the other namespace's TUN device at
//! its release time. SYN and SYN-ACK go through the same path, so a handshake costs one RTT.
//!
//! ```text
//!  server ns (wirelab-<pid>-<n>-srv)                  client ns (wirelab-<pid>-<n>-cli)
//!  10.77.0.1/30 on TUN "wirelab-srv"  <-- shaper -->  10.77.0.2/30 on TUN "wirelab-cli"
//! ```
//!
//! * [`config`]: [`LinkConfig`] and its validation.
//! * [`shaper`]: the pure core, driven by a clock it is given (unit-tested with a fake one).
//! * [`netns`]: namespaces: create, enter on a thread, remove, and sweep the leftovers of killed runs.
//! * [`forward`]: the I/O loop, one thread per direction.
//! * [`topology`]: [`EmulatedLink`], which ties them together and tears down on drop.
//! * [`model`]: the Kurose & Ross response-time model and its window-aware variant.

pub mod config;
pub mod forward;
pub mod model;
pub mod netns;
pub mod shaper;
pub mod topology;

pub use config::{LinkConfig, Queue};
pub use forward::LinkStats;
pub use topology::{EmulatedLink, Side};

/// What can go wrong bringing a link up, using it, or tearing it down.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("link emulation needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces and TUN devices: run it with sudo")]
    Privilege,
    #[error("bad link configuration: {0}")]
    Config(String),
    #[error("`ip` (iproute2) is needed for link emulation and could not be run: {0}")]
    NoIproute(String),
    #[error("`ip {args}` failed: {message}")]
    Ip { args: String, message: String },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{0}")]
    Capture(String),
    #[error("the link is down")]
    Down,
    #[error("a thread inside the namespace panicked")]
    Panicked,
}

impl LinkError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LinkError {
        let what = what.into();
        move |source| LinkError::Io { what, source }
    }
}
