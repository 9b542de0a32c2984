//! Stage 2, network: where the servers listen, where the clients connect from, and which
//! interface the capture watches. Loopback today; an emulated link plugs in here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::plan::Plan;
use super::RunError;

/// The network a run uses.
#[derive(Debug)]
pub enum Network {
    /// 127.0.0.1, captured on the loopback interface the scenario names (default `lo`).
    Loopback { interface: String },
}

impl Network {
    pub fn up(plan: &Plan) -> Result<Network, RunError> {
        Ok(Network::Loopback { interface: plan.capture.interface.clone() })
    }

    /// The address servers listen on and clients connect to.
    pub fn server_ip(&self) -> IpAddr {
        match self {
            Network::Loopback { .. } => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// A listening socket for a server, on `port` (0: any free port).
    pub fn listen(&self, port: u16) -> std::io::Result<std::net::TcpListener> {
        let l = std::net::TcpListener::bind(SocketAddr::new(self.server_ip(), port))?;
        l.set_nonblocking(true)?;
        Ok(l)
    }

    pub fn capture_interface(&self) -> &str {
        match self {
            Network::Loopback { interface } => interface,
        }
    }

    /// For the capture's comment and the report.
    pub fn describe(&self) -> String {
        match self {
            Network::Loopback { interface } => format!("loopback ({interface})"),
        }
    }
}
