//! Expectations (`path OP number`), the summary schema they are checked against when a
//! scenario loads, and their outcome after a run.
//!
//! The schema is the summary a run writes, made from an empty capture and an example result of
//! each step's kind, so it cannot drift from what the runner really writes. An object that is
//! empty in that example (`http.status`, `http.methods`, …) is a map whose keys come from the
//! traffic: any one key below it is a valid path, and a key the traffic never had reads as 0.

use serde::Serialize;
use serde_json::Value;

use super::plan::StepKind;
use super::results::StepOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [("<=", Op::Le), (">=", Op::Ge), ("!=", Op::Ne), ("=", Op::Eq), ("<", Op::Lt), (">", Op::Gt)];

    pub fn symbol(self) -> &'static str {
        Op::ALL.iter().find(|(_, o)| *o == self).map_or("=", |(s, _)| s)
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => (a - b).abs() < 1e-9,
            Op::Ne => (a - b).abs() >= 1e-9,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// `path OP value`, e.g. `http.status.304 = 20`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub path: String,
    pub op: Op,
    pub value: f64,
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.path, self.op.symbol(), self.value)
    }
}

/// The outcome of one expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub expectation: String,
    pub actual: Option<f64>,
    pub ok: bool,
    /// Not evaluated: it reads the capture and the run had none (`--no-capture`), or the run
    /// was interrupted before it could be.
    pub skipped: bool,
}

impl Expectation {
    pub fn parse(s: &str) -> Result<Expectation, String> {
        if s.contains("==") {
            return Err("use `=` for equality, not `==`".into());
        }
        for (sym, op) in Op::ALL {
            if let Some((a, b)) = s.split_once(sym) {
                let value = b.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("{:?} is not a number", b.trim()))?;
                let path = a.trim().to_string();
                if path.is_empty() {
                    return Err("no value path before the operator".into());
                }
                return Ok(Expectation { path, op, value });
            }
        }
        Err("expected `path OP number` with OP one of = != < <= > >=".into())
    }

    /// Looks the path up in `doc` and compares. A key missing under a traffic-keyed map reads
    /// as 0 (`http.status.304 = 0`); a value that was not measured (null) fails.
    pub fn check(&self, doc: &Value) -> Checked {
        let mut v = Some(doc);
        for k in self.path.split('.') {
            v = match v {
                Some(Value::Object(m)) => Some(m.get(k).unwrap_or(&Value::Null)),
                _ => None,
            };
        }
        let actual = match v {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::Bool(b)) => Some(*b as u8 as f64),
            Some(Value::Null) if self.missing_reads_as_zero(doc) => Some(0.0),
            _ => None,
        };
        let ok = actual.is_some_and(|a| self.op.holds(a, self.value));
        Checked { expectation: self.to_string(), actual, ok, skipped: false }
    }

    /// The last key is absent from a traffic-keyed map (as opposed to a measured null).
    fn missing_reads_as_zero(&self, doc: &Value) -> bool {
        let Some((parent, last)) = self.path.rsplit_once('.') else { return false };
        let mut v = doc;
        for k in parent.split('.') {
            match v.get(k) {
                Some(x) => v = x,
                None => return false,
            }
        }
        v.as_object().is_some_and(|m| !m.contains_key(last))
    }

    /// Whether the expectation reads the capture's analysis (not a client's own result).
    pub fn needs_capture(&self) -> bool {
        !self.path.starts_with("steps.") || self.path.contains(".wire.")
    }

    pub fn skipped(&self) -> Checked {
        Checked { expectation: self.to_string(), actual: None, ok: true, skipped: true }
    }
}

/// The shape of a run's summary, for checking expectation paths before the run.
pub struct Schema {
    doc: Value,
}

impl Schema {
    /// The summary of a run of these steps: an empty capture's analysis, each step's example
    /// result, and the run's own fields.
    pub fn for_steps<'a>(steps: impl Iterator<Item = (&'a str, StepKind)>) -> Schema {
        let mut doc = super::analyze::empty_analysis_json();
        let steps: serde_json::Map<String, Value> =
            steps.map(|(label, kind)| (label.to_string(), serde_json::to_value(StepOutcome::example(label, kind)).unwrap_or(Value::Null))).collect();
        doc["steps"] = Value::Object(steps);
        doc["drops"] = Value::from(0);
        Schema { doc }
    }

    /// Ok if `path` names a value in the schema; otherwise says what the nearest paths are.
    pub fn validate(&self, path: &str) -> Result<(), String> {
        let mut v = &self.doc;
        let keys: Vec<&str> = path.split('.').collect();
        for (i, k) in keys.iter().enumerate() {
            match v {
                // A traffic-keyed map: exactly one more key.
                Value::Object(m) if m.is_empty() => {
                    return if i + 1 == keys.len() { Ok(()) } else { Err(self.unknown(path)) };
                }
                Value::Object(m) => match m.get(*k) {
                    Some(x) => v = x,
                    None => return Err(self.unknown(path)),
                },
                _ => return Err(self.unknown(path)),
            }
        }
        match v {
            Value::Object(m) if !m.is_empty() => {
                let mut names: Vec<_> = m.keys().map(|k| format!("{path}.{k}")).collect();
                names.truncate(6);
                Err(format!("{path} is a group of values, not a number; pick one, e.g. {}", names.join(", ")))
            }
            Value::Array(_) | Value::String(_) => Err(format!("{path} is not a number")),
            _ => Ok(()),
        }
    }

    fn unknown(&self, path: &str) -> String {
        let mut all = vec![];
        leaves(&self.doc, String::new(), &mut all);
        let mut scored: Vec<(usize, &String)> = all.iter().map(|p| (strsim::levenshtein(p, path), p)).collect();
        scored.sort();
        let near: Vec<&str> = scored.iter().take(3).map(|(_, p)| p.as_str()).collect();
        format!("{path} is not in the summary; did you mean {}?", near.join(", "))
    }
}

/// Every number-valued path (with `<key>` for traffic-keyed maps).
fn leaves(v: &Value, prefix: String, out: &mut Vec<String>) {
    let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(m) if m.is_empty() => out.push(join("<key>")),
        Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, join(k), out)),
        Value::Array(_) | Value::String(_) => {}
        _ => out.push(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse_and_check() {
        let doc = serde_json::json!({"tcp": {"connections": 21}, "http": {"status": {"200": 21}}, "steps": {"p": {"total_ms": 12.5, "latency": {"p50_ms": null}}}});
        for (e, ok) in [
            ("tcp.connections = 21", true),
            ("tcp.connections >= 22", false),
            ("http.status.200 = 21", true),
            ("http.status.304 = 0", true),
            ("steps.p.total_ms < 100", true),
            ("steps.p.total_ms > 100", false),
            // Not measured is not zero.
            ("steps.p.latency.p50_ms < 100", false),
        ] {
            assert_eq!(Expectation::parse(e).unwrap().check(&doc).ok, ok, "{e}");
        }
        assert!(Expectation::parse("tcp.connections ~ 3").is_err());
        assert!(Expectation::parse("tcp.connections = many").is_err());
        assert!(Expectation::parse("tcp.connections = nan").is_err());
        assert!(Expectation::parse("tcp.connections == 3").unwrap_err().contains("use `=`"));
        assert_eq!(Expectation::parse("a.b<=3").unwrap().to_string(), "a.b <= 3");
    }

    #[test]
    fn the_schema_knows_every_path_and_suggests_the_nearest() {
        let s = Schema::for_steps([("p", StepKind::Fetch), ("w", StepKind::DanmakuLoad)].into_iter());
        for ok in ["tcp.connections", "tcp.syn", "http.status.304", "http.methods.GET", "websocket.opcodes.text", "steps.p.total_ms", "steps.p.wire.connections", "steps.w.latency.p50_ms", "drops"] {
            s.validate(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = s.validate("tcp.conections").unwrap_err();
        assert!(e.contains("did you mean tcp.connections"), "{e}");
        assert!(s.validate("steps.q.total_ms").is_err());
        assert!(s.validate("steps.p.latency.p50_ms").is_err(), "a fetch step has no latency");
        assert!(s.validate("tcp").unwrap_err().contains("group"));
        assert!(s.validate("http.status.200.x").is_err());
    }
}
