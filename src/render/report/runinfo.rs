//! What the report reads from a run folder's `summary.json`, and the lesson sentence and A/B table built from its steps.
//!
//! The schema below is the report's contract with the scenario runner. Every field has a default,
//! so an older or newer `summary.json` still reads; what is missing is left out of the report.
//!
//! ```json
//! {
//!   "scenario": { "name": "...", "description": "...", "file": "scenarios/x.toml" },
//!   "capture":  { "file": "capture.pcapng", "stats": { "packets": 0, "bytes": 0,
//!                 "kernel_dropped": 0, "interface_dropped": 0 } },
//!   "drops": 0,
//!   "ok": true,
//!   "expectations": [ { "expectation": "tcp.syn = 22", "actual": 22.0, "ok": true, "skipped": false } ],
//!   "steps": {
//!     "<label>": {
//!       "kind": "fetch | ws-echo | danmaku-load | request | sleep",   // inferred if absent
//!       "index": 0,                      // order in the scenario (else: start_rel, then label)
//!       "start_rel": 0.0, "end_rel": 0.1, // the step's window, seconds since the capture began
//!       "total_ms": 62.0, "connections_opened": 1,
//!       "wire": { "connections": 1, "syn": 1, "fin": 2, "rst": 0, "packets": 90,
//!                 "bytes": 510000, "payload_bytes": 500000 },
//!       "latency": { "count": 0, "p50_ms": 3.1, "p95_ms": 7.0, "p99_ms": 9.0,
//!                    "min_ms": 1.0, "max_ms": 12.0, "samples_ms": [ ... ] },  // danmaku-load
//!       "rtt": { ...same... },                                                   // ws-echo
//!       "viewer_requests": 20, "empty_polls": 12, "deliveries": 50,
//!       "viewer_bytes_sent": 0, "viewer_bytes_received": 0,
//!       "error": "..."
//!     }
//!   },
//!   "lesson": "persistent: 1 connection, ..."   // written by the runner with [`lesson`]
//! }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RunInfo {
    pub scenario: ScenarioInfo,
    pub capture: Option<CaptureInfo>,
    pub drops: Option<u64>,
    pub ok: Option<bool>,
    pub interrupted: bool,
    pub expectations: Vec<ExpectationInfo>,
    pub steps: BTreeMap<String, StepInfo>,
    pub lesson: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub file: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CaptureInfo {
    pub file: String,
    pub stats: CaptureStatsInfo,
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CaptureStatsInfo {
    pub packets: u64,
    pub bytes: u64,
    pub kernel_dropped: u64,
    pub interface_dropped: u64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ExpectationInfo {
    pub expectation: String,
    pub actual: Option<f64>,
    pub ok: bool,
    pub skipped: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct StepInfo {
    pub kind: Option<String>,
    pub index: Option<u32>,
    pub start_rel: Option<f64>,
    pub end_rel: Option<f64>,
    pub total_ms: Option<f64>,
    pub connections_opened: Option<u64>,
    pub wire: Option<WireInfo>,
    pub latency: Option<DistInfo>,
    pub rtt: Option<DistInfo>,
    /// `"ws"`, or `{"poll": 500}` (the interval in ms); shown through [`StepInfo::transport_name`].
    pub transport: Option<serde_json::Value>,
    pub mode: Option<String>,
    pub viewer_requests: Option<u64>,
    pub empty_polls: Option<u64>,
    pub deliveries: Option<u64>,
    pub viewer_bytes_sent: Option<u64>,
    pub viewer_bytes_received: Option<u64>,
    pub error: Option<String>,
    /// Page loads over an emulated link: the response-time models beside the measurement.
    pub model: Option<ModelInfo>,
}

/// `steps.<label>.model`: the textbook and slow-start predictions, and the deviations.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ModelInfo {
    pub textbook_ms: Option<f64>,
    pub window_aware_ms: Option<f64>,
    /// The low end of the slow-start range (the receiver's window never limiting).
    pub window_open_ms: Option<f64>,
    pub window_deviation_pct: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct WireInfo {
    pub connections: Option<u64>,
    pub syn: Option<u64>,
    pub fin: Option<u64>,
    pub rst: Option<u64>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    pub payload_bytes: Option<u64>,
    /// First SYN → last byte of the last response, on the wire.
    pub page_load_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DistInfo {
    pub count: Option<u64>,
    pub min_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    /// Every sample, when the runner records them (needed for a true CDF).
    pub samples_ms: Vec<f64>,
}

impl StepInfo {
    /// The step kind, from `kind` or guessed from the fields the client reported.
    pub fn kind(&self) -> &str {
        if let Some(k) = &self.kind {
            return k;
        }
        if self.transport.is_some() || self.viewer_requests.is_some() {
            "danmaku-load"
        } else if self.rtt.is_some() {
            "ws-echo"
        } else if self.mode.is_some() || self.connections_opened.is_some() {
            "fetch"
        } else {
            "other"
        }
    }

    /// The danmaku transport as text: `ws`, `poll 500 ms`.
    pub fn transport_name(&self) -> Option<String> {
        Some(match self.transport.as_ref()? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| if v.is_number() { format!("{k} {v} ms") } else { format!("{k} {v}") }).collect::<Vec<_>>().join(", "),
            v => v.to_string(),
        })
    }

    /// Bytes the viewers exchanged per delivered comment (polling against push).
    pub fn bytes_per_delivery(&self) -> Option<f64> {
        let d = self.deliveries.filter(|d| *d > 0)? as f64;
        Some((self.viewer_bytes_sent.unwrap_or(0) + self.viewer_bytes_received.unwrap_or(0)) as f64 / d)
    }

    /// The step's headline latency: danmaku delivery or echo RTT median.
    pub fn p50_ms(&self) -> Option<f64> {
        self.latency.as_ref().or(self.rtt.as_ref()).and_then(|d| d.p50_ms)
    }
}

impl RunInfo {
    /// Gives steps without an `index` the order of the `[[step]]` tables in the scenario file
    /// named in `scenario.file` (tried as given and relative to `base`), if it can be read.
    pub fn order_from_scenario(&mut self, base: &std::path::Path) {
        if self.steps.values().all(|s| s.index.is_some()) || self.scenario.file.is_empty() {
            return;
        }
        let p = std::path::PathBuf::from(&self.scenario.file);
        let Some(text) = [p.clone(), base.join(&p), base.join("../..").join(&p)].iter().find_map(|c| std::fs::read_to_string(c).ok()) else { return };
        let Ok(doc) = text.parse::<toml::Table>() else { return };
        let Some(steps) = doc.get("step").and_then(|s| s.as_array()) else { return };
        for (i, st) in steps.iter().enumerate() {
            if let Some(label) = st.get("label").and_then(|l| l.as_str()) {
                if let Some(s) = self.steps.get_mut(label) {
                    s.index.get_or_insert(i as u32);
                }
            }
        }
    }

    /// The lesson sentence (the runner's own if it wrote one) and the A/B table of the steps, in
    /// scenario order: what the terminal prints at the end of `run-scenario`. Read a summary with
    /// `serde_json::from_value::<RunInfo>(summary)`.
    pub fn lesson_and_table(&self) -> (Option<String>, AbTable) {
        let steps = self.ordered_steps();
        let cols: Vec<(&str, &StepInfo)> = steps.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        (self.lesson.clone().or_else(|| lesson(&cols)), ab_table(&cols))
    }

    /// Steps that did something measurable, in scenario order.
    pub fn ordered_steps(&self) -> Vec<(&String, &StepInfo)> {
        let mut v: Vec<(&String, &StepInfo)> = self.steps.iter().filter(|(_, s)| s.kind() != "sleep" && s.kind() != "other").collect();
        v.sort_by(|a, b| {
            let key = |s: &StepInfo| (s.index.unwrap_or(u32::MAX), s.start_rel.unwrap_or(f64::MAX));
            let (ka, kb) = (key(a.1), key(b.1));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.0.cmp(b.0))
        });
        v
    }
}

/// One metric across the compared steps.
#[derive(Debug, Clone, Serialize)]
pub struct AbRow {
    pub metric: String,
    /// Display values, one per column ("-" when missing).
    pub cells: Vec<String>,
    pub values: Vec<Option<f64>>,
    /// Last column minus first.
    pub delta: Option<f64>,
    /// Last column over first.
    pub ratio: Option<f64>,
    /// The columns differ by more than 10 %.
    pub differs: bool,
    pub lower_is_better: bool,
}

/// The A/B table: steps (or runs) as columns, metrics as rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AbTable {
    pub columns: Vec<String>,
    pub rows: Vec<AbRow>,
}

struct Metric {
    name: &'static str,
    unit: &'static str,
    get: fn(&StepInfo) -> Option<f64>,
}

const METRICS: &[Metric] = &[
    Metric { name: "TCP connections", unit: "", get: |s| s.wire.as_ref()?.connections.map(|v| v as f64) },
    Metric { name: "handshakes (SYN)", unit: "", get: |s| s.wire.as_ref()?.syn.map(|v| v as f64) },
    Metric { name: "FIN", unit: "", get: |s| s.wire.as_ref()?.fin.map(|v| v as f64) },
    Metric { name: "RST", unit: "", get: |s| s.wire.as_ref()?.rst.map(|v| v as f64) },
    Metric { name: "packets", unit: "", get: |s| s.wire.as_ref()?.packets.map(|v| v as f64) },
    Metric { name: "bytes on the wire", unit: "B", get: |s| s.wire.as_ref()?.bytes.map(|v| v as f64) },
    Metric { name: "connections opened by the client", unit: "", get: |s| s.connections_opened.map(|v| v as f64) },
    Metric { name: "time", unit: "ms", get: |s| s.total_ms },
    Metric { name: "page load on the wire", unit: "ms", get: |s| s.wire.as_ref()?.page_load_ms },
    Metric { name: "model: textbook (Kurose & Ross)", unit: "ms", get: |s| s.model.as_ref()?.textbook_ms },
    Metric { name: "model: with TCP slow start", unit: "ms", get: |s| s.model.as_ref()?.window_aware_ms },
    Metric { name: "model: slow start, receive window open", unit: "ms", get: |s| s.model.as_ref().and_then(|m| m.window_open_ms.filter(|&o| Some(o) != m.window_aware_ms)) },
    Metric { name: "latency p50", unit: "ms", get: |s| s.p50_ms() },
    Metric { name: "latency p95", unit: "ms", get: |s| s.latency.as_ref().or(s.rtt.as_ref()).and_then(|d| d.p95_ms) },
    Metric { name: "viewer requests", unit: "", get: |s| s.viewer_requests.map(|v| v as f64) },
    Metric { name: "empty polls", unit: "", get: |s| s.empty_polls.map(|v| v as f64) },
    Metric { name: "bytes per delivered comment", unit: "B", get: |s| s.bytes_per_delivery() },
];

fn show(v: f64, unit: &str) -> String {
    let n = if v.fract().abs() < 1e-9 && v.abs() < 1e15 {
        crate::render::summary::thousands(v as u64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// Builds the A/B table from two or more named steps (or runs), first column as the baseline.
pub fn ab_table(steps: &[(&str, &StepInfo)]) -> AbTable {
    let mut rows = vec![];
    for m in METRICS {
        let values: Vec<Option<f64>> = steps.iter().map(|(_, s)| (m.get)(s)).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let (first, last) = (values.first().copied().flatten(), values.last().copied().flatten());
        let delta = first.zip(last).map(|(a, b)| b - a);
        let ratio = first.zip(last).filter(|(a, _)| *a != 0.0).map(|(a, b)| b / a);
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let (lo, hi) = present.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        let differs = present.len() >= 2 && hi - lo > 0.1 * hi.abs().max(lo.abs()) && hi != lo;
        rows.push(AbRow {
            metric: m.name.to_string(),
            cells: values.iter().map(|v| v.map(|v| show(v, m.unit)).unwrap_or_else(|| "-".into())).collect(),
            values,
            delta,
            ratio,
            differs,
            lower_is_better: true,
        });
    }
    AbTable { columns: steps.iter().map(|(n, _)| n.to_string()).collect(), rows }
}

impl AbTable {
    /// The table as terminal text, with Δ and ratio columns.
    pub fn to_text(&self) -> String {
        let mut head: Vec<&str> = vec!["Metric"];
        head.extend(self.columns.iter().map(String::as_str));
        head.extend(["Δ", "ratio"]);
        let mut t = crate::render::table::Table::new(&head);
        t.right(&(1..head.len()).collect::<Vec<_>>());
        for r in &self.rows {
            let mut cells = vec![format!("{}{}", if r.differs { "* " } else { "  " }, r.metric)];
            cells.extend(r.cells.iter().cloned());
            cells.push(r.delta.map(|d| format!("{d:+.1}")).unwrap_or_else(|| "-".into()));
            cells.push(r.ratio.map(|q| format!("{q:.2}×")).unwrap_or_else(|| "-".into()));
            t.row(cells);
        }
        t.render()
    }
}

/// "1 connection", "21 connections": the count with thousands separators, and its noun.
pub(super) fn plural(n: f64, one: &str, many: &str) -> String {
    let n = n.round() as u64;
    format!("{} {}", crate::render::summary::thousands(n), if n == 1 { one } else { many })
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn speed(base: f64, v: f64) -> Option<String> {
    if base <= 0.0 || v <= 0.0 {
        return None;
    }
    let r = v / base;
    if r >= 1.1 {
        Some(format!(" ({r:.1}× slower)"))
    } else if r <= 1.0 / 1.1 {
        Some(format!(" ({:.1}× faster)", 1.0 / r))
    } else {
        Some(" (about the same)".into())
    }
}

/// The lesson: one sentence with the numbers, e.g. "persistent: 1 connection, 1 handshake, page
/// loaded in 62 ms; non-persistent: 21 connections, 21 handshakes, 254 ms (4.1× slower)".
/// The first step is the baseline. `None` with fewer than two comparable steps.
pub fn lesson(steps: &[(&str, &StepInfo)]) -> Option<String> {
    if steps.len() < 2 {
        return None;
    }
    let mut parts = vec![];
    let base_time = steps[0].1.total_ms;
    let base_lat = steps[0].1.p50_ms();
    for (i, (name, s)) in steps.iter().enumerate() {
        let mut bits = vec![];
        match s.kind() {
            "danmaku-load" => {
                if let Some(r) = s.viewer_requests {
                    bits.push(plural(r as f64, "viewer request", "viewer requests"));
                }
                if let Some(e) = s.empty_polls.filter(|e| *e > 0) {
                    bits.push(plural(e as f64, "empty poll", "empty polls"));
                }
                if let Some(b) = s.bytes_per_delivery() {
                    bits.push(format!("{b:.0} B per delivered comment"));
                }
                if let Some(p) = s.p50_ms() {
                    let cmp = if i > 0 { base_lat.and_then(|b| speed(b, p)).unwrap_or_default() } else { String::new() };
                    bits.push(format!("median delivery {}{cmp}", ms(p)));
                }
            }
            "ws-echo" => {
                if let Some(p) = s.p50_ms() {
                    let cmp = if i > 0 { base_lat.and_then(|b| speed(b, p)).unwrap_or_default() } else { String::new() };
                    bits.push(format!("median echo RTT {}{cmp}", ms(p)));
                }
            }
            _ => {
                let w = s.wire.as_ref();
                if let Some(c) = w.and_then(|w| w.connections).or(s.connections_opened) {
                    bits.push(plural(c as f64, "connection", "connections"));
                }
                if let Some(h) = w.and_then(|w| w.syn) {
                    bits.push(plural(h as f64, "handshake", "handshakes"));
                }
                if let Some(t) = s.total_ms {
                    let cmp = if i > 0 { base_time.and_then(|b| speed(b, t)).unwrap_or_default() } else { String::new() };
                    let what = if i == 0 && s.kind() == "fetch" { "page loaded in " } else { "" };
                    bits.push(format!("{what}{}{cmp}", ms(t)));
                }
            }
        }
        if bits.is_empty() {
            continue;
        }
        parts.push(format!("{name}: {}", bits.join(", ")));
    }
    (parts.len() >= 2).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(conns: u64, ms: f64) -> StepInfo {
        StepInfo {
            mode: Some("x".into()),
            total_ms: Some(ms),
            connections_opened: Some(conns),
            wire: Some(WireInfo { connections: Some(conns), syn: Some(conns), fin: Some(2 * conns), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn the_lesson_of_persistent_against_non_persistent() {
        let (a, b) = (fetch(1, 62.0), fetch(21, 254.0));
        let s = lesson(&[("persistent", &a), ("non-persistent", &b)]).unwrap();
        assert_eq!(s, "persistent: 1 connection, 1 handshake, page loaded in 62.0 ms; non-persistent: 21 connections, 21 handshakes, 254 ms (4.1× slower)");
        assert_eq!(lesson(&[("persistent", &a)]), None);
    }

    #[test]
    fn the_lesson_of_polling_against_push() {
        let poll = StepInfo {
            transport: Some(serde_json::json!({"poll": 500})),
            viewer_requests: Some(20),
            empty_polls: Some(8),
            deliveries: Some(50),
            viewer_bytes_sent: Some(4000),
            viewer_bytes_received: Some(16000),
            latency: Some(DistInfo { p50_ms: Some(240.0), ..Default::default() }),
            ..Default::default()
        };
        let ws = StepInfo { transport: Some(serde_json::json!("ws")), viewer_requests: Some(5), deliveries: Some(50), viewer_bytes_received: Some(5000), latency: Some(DistInfo { p50_ms: Some(2.0), ..Default::default() }), ..Default::default() };
        let s = lesson(&[("poll", &poll), ("ws", &ws)]).unwrap();
        assert_eq!(s, "poll: 20 viewer requests, 8 empty polls, 400 B per delivered comment, median delivery 240 ms; ws: 5 viewer requests, 100 B per delivered comment, median delivery 2.00 ms (120.0× faster)");
    }

    #[test]
    fn ab_rows_have_delta_ratio_and_highlight_differences() {
        let (a, b) = (fetch(1, 62.0), fetch(21, 254.0));
        let t = ab_table(&[("persistent", &a), ("non-persistent", &b)]);
        let conns = t.rows.iter().find(|r| r.metric == "TCP connections").unwrap();
        assert_eq!(conns.cells, vec!["1", "21"]);
        assert_eq!(conns.delta, Some(20.0));
        assert_eq!(conns.ratio, Some(21.0));
        assert!(conns.differs);
        assert!(t.rows.iter().all(|r| r.metric != "latency p50"), "rows with no values are left out");
        let text = t.to_text();
        assert!(text.contains("* TCP connections") && text.contains("21.00×"), "{text}");
    }

    #[test]
    fn summary_json_reads_with_missing_and_unknown_fields() {
        let j = r#"{"scenario":{"name":"s"},"steps":{"b":{"total_ms":5,"connections_opened":2,"extra":1},"a":{"index":0,"mode":"persistent"},"z":{}},"future":true}"#;
        let r: RunInfo = serde_json::from_str(j).unwrap();
        assert_eq!(r.scenario.name, "s");
        let order: Vec<&str> = r.ordered_steps().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(order, vec!["a", "b"], "indexed steps first; steps with nothing measured left out");
        let (l, t) = r.lesson_and_table();
        assert_eq!(t.columns, vec!["a", "b"]);
        assert_eq!(l, None, "step a measured nothing to compare");
    }
}
