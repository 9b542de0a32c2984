//! Stages 3 and 5, bind and serve: every server's listening socket first (their ports make the
//! capture filter), then the servers themselves on the run's runtime, each with a shutdown
//! signal so that they stop cleanly once the steps are done.

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::network::Network;
use super::plan::{Plan, ServerSetup};
use super::RunError;
use crate::server;

/// The listening sockets, in the plan's server order.
pub struct Bound {
    listeners: Vec<std::net::TcpListener>,
    pub ports: Vec<u16>,
}

impl Bound {
    /// The BPF filter that captures exactly the scenario's traffic.
    pub fn filter(&self) -> String {
        self.ports.iter().map(|p| format!("tcp port {p}")).collect::<Vec<_>>().join(" or ")
    }
}

pub fn bind(net: &Network, plan: &Plan) -> Result<Bound, RunError> {
    let mut listeners = vec![];
    let mut ports = vec![];
    for s in &plan.servers {
        let l = net.listen(s.port).map_err(|source| RunError::Listen { server: s.name.clone(), port: s.port, source })?;
        ports.push(l.local_addr().map_err(|source| RunError::Listen { server: s.name.clone(), port: s.port, source })?.port());
        listeners.push(l);
    }
    Ok(Bound { listeners, ports })
}

/// Running servers.
pub struct Serving {
    /// Each server's base URL (`http://127.0.0.1:PORT`, `ws://…`), in the plan's order.
    pub urls: Vec<String>,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

pub fn start(rt: &Runtime, net: &Network, plan: &Plan, bound: Bound) -> Result<Serving, RunError> {
    let _guard = rt.enter();
    let mut serving = Serving { urls: vec![], stops: vec![], tasks: vec![] };
    for ((s, l), port) in plan.servers.iter().zip(bound.listeners).zip(bound.ports) {
        let listener = tokio::net::TcpListener::from_std(l).map_err(|source| RunError::Listen { server: s.name.clone(), port, source })?;
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let (scheme, task) = match &s.setup {
            ServerSetup::Http { root, persistent, keepalive_timeout, keepalive_max } => {
                let cfg = server::http::HttpServerConfig {
                    root: root.clone(),
                    persistent: *persistent,
                    keepalive_timeout: *keepalive_timeout,
                    keepalive_max: *keepalive_max,
                    ..Default::default()
                };
                ("http", rt.spawn(server::http::run(listener, cfg, shutdown)))
            }
            ServerSetup::Ws => ("ws", rt.spawn(server::ws::run(listener, Default::default(), shutdown))),
            ServerSetup::Danmaku => ("http", rt.spawn(server::danmaku::run(listener, Default::default(), shutdown))),
        };
        serving.urls.push(format!("{scheme}://{}", std::net::SocketAddr::new(net.server_ip(), port)));
        serving.stops.push(tx);
        serving.tasks.push(task);
    }
    Ok(serving)
}

impl Serving {
    /// Signals every server to stop, lets in-flight responses finish (for at most `grace`),
    /// and returns the errors any server ended with.
    pub fn stop(self, rt: &Runtime, grace: Duration) -> Vec<String> {
        for s in self.stops {
            let _ = s.send(());
        }
        rt.block_on(async {
            let mut errors = vec![];
            for t in self.tasks {
                let abort = t.abort_handle();
                match tokio::time::timeout(grace, t).await {
                    Ok(Ok(Ok(()))) => {}
                    Ok(Ok(Err(e))) => errors.push(e.to_string()),
                    Ok(Err(e)) if e.is_cancelled() => {}
                    Ok(Err(e)) => errors.push(format!("a server task failed: {e}")),
                    Err(_) => abort.abort(),
                }
            }
            errors
        })
    }
}

