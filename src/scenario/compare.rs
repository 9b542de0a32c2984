//! The comparison a scenario exists for: its steps of one kind side by side, with the
//! difference between them, and the lesson in one sentence with its numbers.

use super::plan::StepKind;
use super::results::{ms, Metric, StepOutcome, StepResult, Unit};
use crate::render::summary::thousands;
use crate::render::table::Table;

/// The steps compared: two to four steps of one kind (sleeps aside) that all produced a result.
pub fn compared(steps: &[StepOutcome]) -> Option<Vec<&StepOutcome>> {
    let v: Vec<&StepOutcome> = steps.iter().filter(|s| s.kind != StepKind::Sleep).collect();
    let same = v.iter().all(|s| s.kind == v[0].kind && s.result.is_some());
    (same && (2..=4).contains(&v.len()) && v[0].kind != StepKind::Request).then_some(v)
}

fn signed(unit: Unit, d: f64) -> String {
    if unit == Unit::Percent {
        return format!("{d:+.1} points");
    }
    let s = unit.format(d.abs());
    if d > 0.0 {
        format!("+{s}")
    } else if d < 0.0 {
        format!("−{s}")
    } else {
        "0".into()
    }
}

/// One row per metric, one column per step; with two steps, the difference (second − first)
/// and the ratio (second / first).
pub fn side_by_side(steps: &[&StepOutcome]) -> Table {
    let two = steps.len() == 2;
    let mut header: Vec<&str> = vec!["Measured"];
    header.extend(steps.iter().map(|s| s.label.as_str()));
    if two {
        header.extend(["Δ", "ratio"]);
    }
    let mut t = Table::new(&header);
    t.right(&(1..header.len()).collect::<Vec<_>>());
    let per_step: Vec<Vec<Metric>> = steps.iter().map(|s| s.metrics()).collect();
    for (i, m) in per_step[0].iter().enumerate() {
        let values: Vec<Option<f64>> = per_step.iter().map(|ms| ms.get(i).and_then(|x| x.value)).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let mut row = vec![m.name.to_string()];
        row.extend(values.iter().map(|v| v.map_or("-".into(), |v| m.unit.format(v))));
        if two {
            match (values[0], values[1]) {
                (Some(a), Some(b)) => {
                    row.push(signed(m.unit, b - a));
                    row.push(if a != 0.0 && m.unit != Unit::Percent { format!("{:.2}×", b / a) } else { "-".into() });
                }
                _ => row.extend(["-".to_string(), "-".to_string()]),
            }
        }
        t.row(row);
    }
    t
}

fn plural(n: u64, one: &str) -> String {
    format!("{} {one}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// How the later value compares with the first, for a quantity where less is better.
fn versus(first: f64, this: f64, worse: &str, better: &str) -> String {
    if first <= 0.0 || this <= 0.0 {
        return String::new();
    }
    if this >= first {
        format!(" ({:.1}× {worse})", this / first)
    } else {
        format!(" ({:.1}× {better})", first / this)
    }
}

/// The result in one sentence, e.g. "persistent: 1 connection, 1 handshake, page loaded in
/// 62 ms; non-persistent: 21 connections, 21 handshakes, 254 ms (4.1× slower)".
pub fn lesson(steps: &[&StepOutcome]) -> Option<String> {
    let mut parts = vec![];
    let mut first: Option<f64> = None;
    for (i, s) in steps.iter().enumerate() {
        let part = match s.result.as_ref()? {
            StepResult::Fetch(f) => {
                let (conns, hs, time) = match &s.wire {
                    Some(w) if w.connections > 0 => (w.connections, Some(w.handshakes), w.page_load_ms.unwrap_or(f.total_ms)),
                    _ => (f.connections_opened as u64, None, f.total_ms),
                };
                let base = first.get_or_insert(time);
                let hs = hs.map_or(String::new(), |h| format!(", {}", plural(h, "handshake")));
                let when = if i == 0 { format!("page loaded in {} ms", ms(time)) } else { format!("{} ms", ms(time)) };
                format!("{}: {}{hs}, {when}{}", s.label, plural(conns, "connection"), if i > 0 { versus(*base, time, "slower", "faster") } else { String::new() })
            }
            StepResult::DanmakuLoad(d) => {
                let p50 = d.load.latency.p50_ms?;
                let base = first.get_or_insert(p50);
                let when = match i {
                    0 => format!("comments arrived {} ms after posting (p50)", ms(p50)),
                    _ => format!("after {} ms{}", ms(p50), versus(*base, p50, "later", "sooner").replace(" (", ", ").replace(')', "")),
                };
                format!(
                    "{}: {when}, with {} ({} empty) and {} B per comment",
                    s.label,
                    plural(d.load.viewer_requests, "viewer request"),
                    thousands(d.load.empty_polls),
                    d.bytes_per_delivery.map_or("-".into(), |b| thousands(b.round() as u64))
                )
            }
            StepResult::WsEcho(e) => {
                let p50 = e.rtt.p50_ms?;
                let base = first.get_or_insert(p50);
                format!("{}: RTT p50 {} ms{}, {} msg/s", s.label, ms(p50), if i > 0 { versus(*base, p50, "slower", "faster") } else { String::new() }, thousands(e.messages_per_s.round() as u64))
            }
            StepResult::Request(_) | StepResult::Sleep(_) => return None,
        };
        parts.push(part);
    }
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::results::{FetchResult, WireCounts};

    fn fetch(label: &str, conns: u64, wire_ms: f64) -> StepOutcome {
        let mut s = StepOutcome::example(label, StepKind::Fetch);
        s.result = Some(StepResult::Fetch(FetchResult { mode: label.into(), objects: 21, total_ms: wire_ms - 1.0, connections_opened: conns as u32, ..Default::default() }));
        s.wire = Some(WireCounts { connections: conns, handshakes: conns, syn: conns, page_load_ms: Some(wire_ms), ..Default::default() });
        s
    }

    #[test]
    fn the_lesson_and_the_table_say_the_difference() {
        let steps = vec![fetch("persistent", 1, 62.0), fetch("non-persistent", 21, 254.0)];
        let c = compared(&steps).unwrap();
        assert_eq!(lesson(&c).unwrap(), "persistent: 1 connection, 1 handshake, page loaded in 62.0 ms; non-persistent: 21 connections, 21 handshakes, 254.0 ms (4.1× slower)");
        let t = side_by_side(&c).render();
        let row = t.lines().find(|l| l.starts_with("TCP connections")).unwrap();
        assert!(row.contains("+20") && row.contains("21.00×"), "{t}");
        let row = t.lines().find(|l| l.starts_with("page load on the wire")).unwrap();
        assert!(row.contains("+192.0 ms") && row.contains("4.10×"), "{t}");
        assert!(!t.contains("RTT"), "metrics of other kinds are not shown: {t}");
    }

    #[test]
    fn one_step_or_mixed_kinds_are_not_a_comparison() {
        assert!(compared(&[fetch("a", 1, 1.0)]).is_none());
        let mixed = vec![fetch("a", 1, 1.0), StepOutcome::example("b", StepKind::WsEcho)];
        assert!(compared(&mixed).is_none());
    }
}
