//! `wirelab follow`: one connection's bytes (or HTTP messages) in delivery order.

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;

use anyhow::{Context, Result};

use wirelab::analysis::{self, Detail, Observed, Observer, CONTINUE};
use wirelab::render::follow::{self, Collector, FollowFormat};
use wirelab::tcp::Conn;

use super::args::FollowArgs;
use super::{analyze_input, open_capture, warn_damage};

/// The endpoints of one connection, from its row when it becomes final.
struct Endpoints {
    stream: u32,
    nodes: Option<(SocketAddr, SocketAddr)>,
}

impl Observer for Endpoints {
    fn connection(&mut self, c: &Conn) -> Observed {
        if c.index == self.stream {
            self.nodes = Some((c.a, c.b));
        }
        CONTINUE
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn detail(&mut self, _: u32) -> Detail {
        Detail::LEAST
    }
}

pub fn follow(a: FollowArgs) -> Result<u8> {
    let FollowArgs { file, stream, format } = a;
    let opened = open_capture(&file)?;
    let name = opened.name;
    let mut obs = (Collector::new(stream), Endpoints { stream, nodes: None });
    let opts = analysis::Options {
        keep_http_text: (format == FollowFormat::Http).then_some(stream),
        no_packet_notes: true,
        // Only the endpoints of the one followed are needed.
        conversation_rows: Some(0),
        ..Default::default()
    };
    let s = analyze_input(opened.input, &mut obs, &opts).with_context(|| format!("reading {name}"))?;
    let (obs, endpoints) = obs;
    let Some(nodes) = endpoints.nodes else {
        let n = s.tcp.connections;
        anyhow::bail!("{name} has {n} TCP connections (0..{}); there is no stream {stream}", n.saturating_sub(1));
    };
    let nodes = Some(nodes);
    let mut out = BufWriter::new(io::stdout().lock());
    if format == FollowFormat::Http {
        follow::render_http(&mut out, stream, nodes, &obs.transactions, &obs.messages)?;
    } else {
        follow::render(&mut out, format, stream, nodes, &obs.chunks)?;
    }
    out.flush()?;
    Ok(warn_damage(&s, &name))
}
