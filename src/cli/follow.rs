//! `wirelab follow`: one connection's bytes (or HTTP messages) in delivery order.

use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};

use wirelab::analysis;
use wirelab::render::follow::{self, Collector, FollowFormat};

use super::args::FollowArgs;
use super::{analyze_input, open_capture, warn_damage};

pub fn follow(a: FollowArgs) -> Result<u8> {
    let FollowArgs { file, stream, format } = a;
    let opened = open_capture(&file)?;
    let name = opened.name;
    let mut obs = Collector::new(stream);
    let opts = analysis::Options { keep_http_text: (format == FollowFormat::Http).then_some(stream), no_packet_notes: true };
    let s = analyze_input(opened.input, &mut obs, &opts).with_context(|| format!("reading {name}"))?;
    let Some(conn) = s.conversations.get(stream as usize) else {
        let n = s.conversations.len();
        anyhow::bail!("{name} has {n} TCP connections (0..{}); there is no stream {stream}", n.saturating_sub(1));
    };
    let nodes = Some((conn.a, conn.b));
    let mut out = BufWriter::new(io::stdout().lock());
    if format == FollowFormat::Http {
        follow::render_http(&mut out, stream, nodes, &obs.transactions, &obs.messages)?;
    } else {
        follow::render(&mut out, format, stream, nodes, &obs.chunks)?;
    }
    out.flush()?;
    Ok(warn_damage(&s, &name))
}
