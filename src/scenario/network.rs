//! Stage 2, network: where the servers listen, where the clients connect from, and which
//! interface the capture watches. Loopback without a `[link]`; with one, an emulated link
//! between two network namespaces (servers in one, clients in the other, the capture on the
//! client's TUN device, so that it shows on-wire timing as the client sees it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use tokio::runtime::Runtime;

use super::plan::Plan;
use super::RunError;
use crate::capture::live::{LiveCapture, LiveConfig};
use crate::link::{EmulatedLink, LinkConfig, Side};

/// The network a run uses.
pub enum Network {
    /// 127.0.0.1, captured on the loopback interface the scenario names (default `lo`).
    Loopback { interface: String },
    /// An emulated link; it is torn down when the network is dropped.
    Link(Box<EmulatedLink>),
}

impl Network {
    pub fn up(plan: &Plan) -> Result<Network, RunError> {
        Ok(match &plan.link {
            None => Network::Loopback { interface: plan.capture.interface.clone() },
            Some(l) => Network::Link(Box::new(EmulatedLink::up(&l.at(0))?)),
        })
    }

    /// The address servers listen on and clients connect to.
    pub fn server_ip(&self) -> IpAddr {
        match self {
            Network::Loopback { .. } => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Network::Link(l) => IpAddr::V4(l.server_addr()),
        }
    }

    /// A listening socket for a server, on `port` (0: any free port), in the servers' network.
    pub fn listen(&self, port: u16) -> std::io::Result<std::net::TcpListener> {
        let l = match self {
            Network::Loopback { .. } => std::net::TcpListener::bind(SocketAddr::new(self.server_ip(), port))?,
            Network::Link(link) => link.server_listener(port).map_err(std::io::Error::other)?,
        };
        l.set_nonblocking(true)?;
        Ok(l)
    }

    /// The servers' runtime: its threads (and so the servers' sockets) live in their network.
    pub fn server_runtime(&self) -> Result<Runtime, RunError> {
        match self {
            Network::Loopback { .. } => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(RunError::Runtime),
            Network::Link(l) => Ok(l.runtime(Side::Server, 2)?),
        }
    }

    /// The clients' runtime, one thread as a client process has, in the clients' network.
    /// Work must be spawned on it (a `block_on` future runs on the caller's thread).
    pub fn client_runtime(&self) -> Result<Runtime, RunError> {
        match self {
            Network::Loopback { .. } => tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(RunError::Runtime),
            Network::Link(l) => Ok(l.runtime(Side::Client, 1)?),
        }
    }

    /// Starts the capture where the client sees the traffic.
    pub fn capture(&self, cfg: &LiveConfig, path: &Path) -> Result<LiveCapture, RunError> {
        match self {
            Network::Loopback { .. } => Ok(LiveCapture::start(cfg, path)?),
            Network::Link(l) => Ok(l.capture_client(cfg, path)?),
        }
    }

    pub fn capture_interface(&self) -> &str {
        match self {
            Network::Loopback { interface } => interface,
            Network::Link(l) => l.client_tun_name(),
        }
    }

    /// The emulated link's parameters (none on loopback).
    pub fn link(&self) -> Option<&LinkConfig> {
        match self {
            Network::Loopback { .. } => None,
            Network::Link(l) => Some(l.config()),
        }
    }

    pub fn rtt(&self) -> Duration {
        self.link().map_or(Duration::ZERO, |l| l.rtt)
    }

    /// For the capture's comment and the report.
    pub fn describe(&self) -> String {
        match self {
            Network::Loopback { interface } => format!("loopback ({interface})"),
            Network::Link(l) => format!("emulated link ({})", l.config().describe()),
        }
    }
}
