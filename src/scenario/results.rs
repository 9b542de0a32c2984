//! Step results: one typed record per step kind, the wire counts the capture attributes to the
//! step, and the metrics each kind reports (its progress line, the side-by-side table, `--repeat`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::StepKind;
use crate::client::danmaku_load::LoadReport;
use crate::client::fetch::PageReport;
use crate::client::request::RequestReport;
use crate::client::ws_echo::EchoReport;
use crate::render::summary::thousands;

/// A page load (and its conditional reload, when asked for).
#[derive(Debug, Clone, Default, Serialize)]
pub struct FetchResult {
    /// As written in the scenario: persistent, non-persistent, parallel:N, pipelined.
    pub mode: String,
    /// The base page and every object it references.
    pub objects: u64,
    /// Body bytes received (first load).
    pub bytes: u64,
    /// The first load, by the client's clock.
    pub total_ms: f64,
    /// The conditional reload, by the client's clock (null without one).
    pub reload_ms: Option<f64>,
    /// TCP connections the client opened, over every pass.
    pub connections_opened: u32,
    /// Responses by status code, over every pass.
    pub status: BTreeMap<String, u64>,
    /// Every pass in full: per-object timings and connections.
    pub pages: Vec<PageReport>,
}

/// A danmaku load, with the cost of each delivered comment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DanmakuResult {
    #[serde(flatten)]
    pub load: LoadReport,
    /// Viewer bytes (both ways) per delivered comment.
    pub bytes_per_delivery: Option<f64>,
}

impl From<LoadReport> for DanmakuResult {
    fn from(load: LoadReport) -> Self {
        let bytes_per_delivery = (load.deliveries > 0).then(|| (load.viewer_bytes_sent + load.viewer_bytes_received) as f64 / load.deliveries as f64);
        DanmakuResult { load, bytes_per_delivery }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SleepResult {
    pub seconds: f64,
}

/// What a step measured, by kind.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum StepResult {
    Fetch(FetchResult),
    WsEcho(EchoReport),
    DanmakuLoad(DanmakuResult),
    Request(RequestReport),
    Sleep(SleepResult),
}

/// The capture's view of one step: the connections that began while it ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WireCounts {
    pub connections: u64,
    pub handshakes: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    /// Connections whose first close (FIN or RST) came from the client, or from the server.
    pub closed_by_client: u64,
    pub closed_by_server: u64,
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub http_requests: u64,
    /// First SYN → last byte of the last HTTP response, on the wire (null: no HTTP response).
    pub page_load_ms: Option<f64>,
}

/// One step's outcome, as summary.json holds it under `steps.<label>`.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    #[serde(skip)]
    pub label: String,
    /// The step's place in the scenario (0-based).
    pub index: usize,
    /// The step's window in seconds since the capture's first packet (null without a capture).
    pub start_rel: Option<f64>,
    pub end_rel: Option<f64>,
    #[serde(serialize_with = "kind_name")]
    pub kind: StepKind,
    #[serde(flatten)]
    pub result: Option<StepResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `repeat = N` on the step: the runs before the last (the last is `result`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earlier_runs: Vec<StepResult>,
    pub wire: Option<WireCounts>,
    /// The response-time models beside the measurement (fetch steps over an emulated link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<super::model::ModelResult>,
    /// Wall-clock window (ns since the epoch) the step ran in, for wire attribution.
    #[serde(skip)]
    pub window: (i128, i128),
}

fn kind_name<S: serde::Serializer>(k: &StepKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

/// How a metric's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Count,
    Bytes,
    PerSecond,
    MegabytesPerSecond,
    Percent,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{} ms", ms(v)),
            Unit::Count => thousands(v.round() as u64),
            Unit::Bytes => format!("{} B", thousands(v.round() as u64)),
            Unit::PerSecond => format!("{}/s", thousands(v.round() as u64)),
            Unit::MegabytesPerSecond => format!("{v:.2} MB/s"),
            Unit::Percent => format!("{v:+.1}%"),
        }
    }
}

/// Milliseconds with the precision that matters at their size.
pub fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// One number a step measured: its path under `steps.<label>`, a name for people, its value.
#[derive(Debug, Clone)]
pub struct Metric {
    pub key: &'static str,
    pub name: &'static str,
    pub value: Option<f64>,
    pub unit: Unit,
}

fn m(key: &'static str, name: &'static str, value: impl Into<Option<f64>>, unit: Unit) -> Metric {
    Metric { key, name, value: value.into(), unit }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

impl StepResult {
    /// What the client measured, in the order people read it.
    pub fn metrics(&self) -> Vec<Metric> {
        use Unit::*;
        match self {
            StepResult::Fetch(f) => vec![
                m("total_ms", "page load, client clock", f.total_ms, Ms),
                m("reload_ms", "conditional reload, client clock", f.reload_ms, Ms),
                m("objects", "objects", f.objects as f64, Count),
                m("connections_opened", "client connections", f.connections_opened as f64, Count),
            ],
            StepResult::WsEcho(e) => vec![
                m("messages", "messages echoed", e.messages as f64, Count),
                m("rtt.p50_ms", "RTT p50", e.rtt.p50_ms, Ms),
                m("rtt.p99_ms", "RTT p99", e.rtt.p99_ms, Ms),
                m("messages_per_s", "messages per second", e.messages_per_s, PerSecond),
                m("mb_per_s", "throughput", e.mb_per_s, MegabytesPerSecond),
            ],
            StepResult::DanmakuLoad(d) => vec![
                m("deliveries", "deliveries", d.load.deliveries as f64, Count),
                m("expected_deliveries", "deliveries expected", d.load.expected_deliveries as f64, Count),
                m("latency.p50_ms", "delivery latency p50", d.load.latency.p50_ms, Ms),
                m("latency.p95_ms", "delivery latency p95", d.load.latency.p95_ms, Ms),
                m("viewer_requests", "viewer requests", d.load.viewer_requests as f64, Count),
                m("empty_polls", "empty polls", d.load.empty_polls as f64, Count),
                m("bytes_per_delivery", "viewer bytes per delivered comment", d.bytes_per_delivery, Bytes),
            ],
            StepResult::Request(r) => vec![m("status", "status", r.status as f64, Count), m("total_ms", "response time", r.total_ms, Ms), m("bytes", "bytes received", r.bytes as f64, Bytes)],
            StepResult::Sleep(s) => vec![m("seconds", "seconds", s.seconds, Count)],
        }
    }

    /// One line saying what the step measured.
    pub fn headline(&self) -> String {
        match self {
            StepResult::Fetch(f) => {
                let mut s = format!("{} ms · {} · {}", ms(f.total_ms), plural(f.objects, "object", "objects"), plural(f.connections_opened as u64, "connection", "connections"));
                if let Some(r) = f.reload_ms {
                    s += &format!(" · reload {} ms", ms(r));
                }
                s
            }
            StepResult::WsEcho(e) => format!(
                "{} · RTT p50 {} ms · p99 {} ms · {} msg/s",
                plural(e.messages, "message", "messages"),
                ms(e.rtt.p50_ms.unwrap_or(0.0)),
                ms(e.rtt.p99_ms.unwrap_or(0.0)),
                thousands(e.messages_per_s.round() as u64)
            ),
            StepResult::DanmakuLoad(d) => {
                let l = &d.load;
                format!(
                    "{}/{} deliveries · latency p50 {} ms · p95 {} ms · {} ({} empty polls) · {} per comment",
                    thousands(l.deliveries),
                    thousands(l.expected_deliveries),
                    ms(l.latency.p50_ms.unwrap_or(0.0)),
                    ms(l.latency.p95_ms.unwrap_or(0.0)),
                    plural(l.viewer_requests, "viewer request", "viewer requests"),
                    thousands(l.empty_polls),
                    d.bytes_per_delivery.map_or("-".into(), |b| format!("{} B", thousands(b.round() as u64)))
                )
            }
            StepResult::Request(r) => match r.status {
                0 => format!("no response ({} ms)", ms(r.total_ms)),
                _ => format!("{} ({} ms)", r.status_line, ms(r.total_ms)),
            },
            StepResult::Sleep(s) => format!("slept {} s", s.seconds),
        }
    }
}

impl WireCounts {
    pub fn metrics(&self) -> Vec<Metric> {
        use Unit::*;
        vec![
            m("wire.page_load_ms", "page load on the wire (first SYN → last byte)", self.page_load_ms, Ms),
            m("wire.connections", "TCP connections", self.connections as f64, Count),
            m("wire.handshakes", "handshakes", self.handshakes as f64, Count),
            m("wire.fin", "FIN", self.fin as f64, Count),
            m("wire.rst", "RST", self.rst as f64, Count),
            m("wire.closed_by_server", "closed first by the server", self.closed_by_server as f64, Count),
            m("wire.packets", "packets", self.packets as f64, Count),
            m("wire.bytes", "bytes on the wire", self.bytes as f64, Bytes),
        ]
    }
}

impl StepOutcome {
    /// An outcome with every field a step of `kind` reports, for the expectation schema.
    pub fn example(label: &str, kind: StepKind) -> StepOutcome {
        let result = match kind {
            StepKind::Fetch => StepResult::Fetch(FetchResult::default()),
            StepKind::WsEcho => StepResult::WsEcho(EchoReport::default()),
            StepKind::DanmakuLoad => StepResult::DanmakuLoad(DanmakuResult::default()),
            StepKind::Request => StepResult::Request(RequestReport::default()),
            StepKind::Sleep => StepResult::Sleep(SleepResult::default()),
        };
        let model = (kind == StepKind::Fetch).then(super::model::ModelResult::default);
        StepOutcome { label: label.into(), index: 0, start_rel: Some(0.0), end_rel: Some(0.0), kind, result: Some(result), error: None, earlier_runs: vec![], wire: Some(WireCounts::default()), model, window: (0, 0) }
    }

    /// The client's metrics, then the wire's (none for a sleep).
    pub fn metrics(&self) -> Vec<Metric> {
        let mut v = self.result.as_ref().map(StepResult::metrics).unwrap_or_default();
        if self.kind != StepKind::Sleep {
            if let Some(w) = &self.wire {
                let mut wire = w.metrics();
                // A page load's two clocks side by side: the client's, then the wire's.
                if self.kind == StepKind::Fetch && !v.is_empty() {
                    v.insert(1, wire.remove(0));
                }
                v.extend(wire);
            }
        }
        if let Some(m) = &self.model {
            use Unit::*;
            let at = 2.min(v.len());
            let mut rows = vec![
                self::m("model.textbook_ms", "model: textbook (Kurose & Ross)", m.textbook_ms, Ms),
                self::m("model.window_aware_ms", "model: with TCP slow start", m.window_aware_ms, Ms),
            ];
            if m.window_open_rtts != m.window_rtts {
                rows.push(self::m("model.window_open_ms", "model: slow start, receive window open", m.window_open_ms, Ms));
            }
            rows.push(self::m("model.window_deviation_pct", "measured vs slow-start model", m.window_deviation_pct, Percent));
            v.splice(at..at, rows);
        }
        v
    }

    pub fn headline(&self) -> String {
        match (&self.result, &self.error) {
            (_, Some(e)) => format!("failed: {e}"),
            (Some(r), None) => r.headline(),
            (None, None) => "interrupted".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headlines_use_the_users_words() {
        let f = StepResult::Fetch(FetchResult { mode: "non-persistent".into(), objects: 21, total_ms: 254.04, connections_opened: 21, ..Default::default() });
        assert_eq!(f.headline(), "254.0 ms · 21 objects · 21 connections");
        let one = StepResult::Fetch(FetchResult { objects: 1, total_ms: 0.5, connections_opened: 1, ..Default::default() });
        assert_eq!(one.headline(), "0.500 ms · 1 object · 1 connection");
        let out = StepOutcome { label: "x".into(), index: 0, start_rel: None, end_rel: None, kind: StepKind::Fetch, result: Some(f), error: None, earlier_runs: vec![], wire: None, model: None, window: (0, 0) };
        let j = serde_json::to_value(&out).unwrap();
        assert_eq!(j["kind"], "fetch");
        assert_eq!(j["connections_opened"], 21);
    }
}
