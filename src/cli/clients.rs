//! The bundled clients: `wirelab fetch`, `wirelab ws-echo` and `wirelab danmaku-load`, each
//! printing its measurements as text or JSON.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use wirelab::client::fetch::{self, FetchError, PageReport};
use wirelab::render::summary::thousands;

use super::args::{DanmakuLoadArgs, FetchArgs, WsEchoArgs};
use super::{exit, runtime};

/// Writes `value` as pretty JSON, or as text with `text`, to stdout.
fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<u8> {
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        writeln!(out, "{}", wirelab::render::json::to_pretty_rounded(value)?)?;
    } else {
        text(&mut out)?;
    }
    out.flush()?;
    Ok(exit::OK)
}

pub fn fetch(a: FetchArgs) -> Result<u8> {
    let FetchArgs { url, mode, if_modified_since, json } = a;
    let pages = runtime(1)?.block_on(async {
        let first = fetch::fetch_page(&url, mode, None).await?;
        let mut pages = vec![first];
        if if_modified_since {
            let again = fetch::fetch_page(&url, mode, Some(&pages[0])).await?;
            pages.push(again);
        }
        Ok::<_, FetchError>(pages)
    })?;
    print(json, &pages, |out| pages.iter().try_for_each(|p| print_page(out, p)))
}

fn print_page(out: &mut dyn Write, r: &PageReport) -> io::Result<()> {
    let label = if r.conditional { " (conditional reload)" } else { "" };
    writeln!(out, "{} {}{label}", r.url, r.mode)?;
    for o in std::iter::once(&r.base).chain(r.objects.iter()) {
        let name = o.path.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&o.path);
        let what = if o.status == 200 || o.status == 206 { "done".to_string() } else { o.status.to_string() };
        writeln!(out, "  {name:<16} {what:<5} {:>9} B  {:>8.1} ms  conn {}", thousands(o.bytes), o.ms, o.connection)?;
    }
    writeln!(
        out,
        "Total Time {:.1} ms · {} objects · {} B · {} TCP connection{}",
        r.total_ms,
        r.objects.len() + 1,
        thousands(r.bytes),
        r.connections_opened,
        if r.connections_opened == 1 { "" } else { "s" }
    )
}

pub fn ws_echo(a: WsEchoArgs) -> Result<u8> {
    let WsEchoArgs { url, count, size, rate, binary, connections, json } = a;
    let r = runtime(1)?.block_on(wirelab::client::ws_echo::run_many(&url, count, size, rate, binary, connections.max(1)))?;
    print(json, &r, |out| {
        let d = &r.rtt;
        writeln!(
            out,
            "{} messages of {} B to {} over {} connection{}: RTT p50 {:.3} ms · p95 {:.3} ms · p99 {:.3} ms · max {:.3} ms · {:.0} msg/s · {:.2} MB/s",
            r.messages,
            r.size,
            r.url,
            r.connections,
            if r.connections == 1 { "" } else { "s" },
            d.p50_ms.unwrap_or(0.0),
            d.p95_ms.unwrap_or(0.0),
            d.p99_ms.unwrap_or(0.0),
            d.max_ms.unwrap_or(0.0),
            r.messages_per_s,
            r.mb_per_s
        )
    })
}

pub fn danmaku_load(a: DanmakuLoadArgs) -> Result<u8> {
    let DanmakuLoadArgs { url, video, viewers, transport, senders, rate, duration, json } = a;
    let load = wirelab::client::danmaku_load::run(&url, &video, viewers, transport, senders, rate, Duration::from_secs_f64(duration));
    let r = runtime(0)?.block_on(load)?;
    print(json, &r, |out| {
        let l = &r.latency;
        writeln!(
            out,
            "{}: {} viewers, {} comments sent, {}/{} deliveries\nlatency p50 {:.1} ms · p95 {:.1} ms · max {:.1} ms\nviewer requests {} ({} empty polls) · viewer bytes sent {} · received {}",
            r.transport,
            r.viewers,
            r.comments_sent,
            r.deliveries,
            r.expected_deliveries,
            l.p50_ms.unwrap_or(0.0),
            l.p95_ms.unwrap_or(0.0),
            l.max_ms.unwrap_or(0.0),
            r.viewer_requests,
            r.empty_polls,
            thousands(r.viewer_bytes_sent),
            thousands(r.viewer_bytes_received)
        )
    })
}
