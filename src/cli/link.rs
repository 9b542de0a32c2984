//! `wirelab link`: an emulated link (RTT, rate, loss) between two network namespaces, held up
//! until Ctrl-C, SIGTERM or `--duration`, then torn down.

use std::io::{self, Write};

use anyhow::{Context, Result};

use super::args::LinkArgs;
use super::{exit, runtime};

pub fn link(a: LinkArgs) -> Result<u8> {
    use wirelab::link::{EmulatedLink, LinkConfig, Queue, Side};
    let queue = match (a.queue_packets, a.queue_bytes) {
        (_, Some(b)) => Queue::Bytes(b),
        (p, None) => Queue::Packets(p.unwrap_or(1000)),
    };
    let rtt = std::time::Duration::try_from_secs_f64(a.rtt_ms / 1e3).context("bad --rtt-ms")?;
    let cfg = LinkConfig { rtt, rate_bps: a.rate_mbit.map(|r| (r * 1e6) as u64), loss: a.loss, queue, seed: a.seed };
    let mut link = EmulatedLink::up(&cfg)?;
    let capture = match &a.capture {
        Some(p) => Some(link.capture_client(&Default::default(), p)?),
        None => None,
    };
    let mut out = io::stdout().lock();
    for (label, side, addr) in [("server", Side::Server, link.server_addr()), ("client", Side::Client, link.client_addr())] {
        writeln!(out, "{label}: ns {} addr {addr} tun {}", link.ns_name(side), link.tun_name(side))?;
    }
    writeln!(out, "link up: {}; Ctrl-C stops", cfg.describe())?;
    out.flush()?;
    runtime(1)?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let forever = std::time::Duration::from_secs(u64::MAX / 4);
        tokio::select! {
            _ = tokio::time::sleep(a.duration.map_or(forever, |d| std::time::Duration::from_secs_f64(d.max(0.0)))) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })?;
    let cap = capture.map(|c| c.stop()).transpose()?;
    link.down()?;
    let st = link.stats();
    let (s2c, c2s) = (st.server_to_client, st.client_to_server);
    writeln!(
        out,
        "link down: server->client {} packets ({} lost, {} queue drops), client->server {} packets ({} lost, {} queue drops){}",
        s2c.packets,
        s2c.lost,
        s2c.queue_drops,
        c2s.packets,
        c2s.lost,
        c2s.queue_drops,
        cap.map(|c| format!("; captured {} packets", c.packets)).unwrap_or_default()
    )?;
    Ok(exit::OK)
}
