//! Scenario files: the TOML schema (serde, unknown keys refused with file and line) and the
//! expectations checked against a run's JSON summary.

pub mod run;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A scenario: servers, client steps, and what should hold afterwards.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capture: CaptureSpec,
    #[serde(rename = "server", default)]
    pub servers: Vec<ServerSpec>,
    #[serde(rename = "step", default)]
    pub steps: Vec<StepSpec>,
    /// Assertions like `tcp.connections = 21` or `steps.persistent.total_ms < 500`.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Kernel drops tolerated before the run fails.
    #[serde(default)]
    pub allow_drops: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    #[serde(default = "lo")]
    pub interface: String,
    #[serde(default = "snaplen")]
    pub snaplen: i32,
    #[serde(default = "buffer")]
    pub buffer_mib: i32,
}

fn lo() -> String {
    "lo".into()
}
fn snaplen() -> i32 {
    262_144
}
fn buffer() -> i32 {
    64
}

impl Default for CaptureSpec {
    fn default() -> Self {
        CaptureSpec { interface: lo(), snaplen: snaplen(), buffer_mib: buffer() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Http,
    Ws,
    Danmaku,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    pub kind: ServerKind,
    /// 0: any free port (the default).
    #[serde(default)]
    pub port: u16,
    /// HTTP: the directory served (relative to the scenario file's directory's parent, i.e. the
    /// repository root for files in `scenarios/`).
    #[serde(default = "www")]
    pub root: PathBuf,
    #[serde(default = "yes")]
    pub persistent: bool,
    #[serde(default = "five")]
    pub keepalive_timeout: u64,
    #[serde(default = "hundred")]
    pub keepalive_max: u32,
}

fn www() -> PathBuf {
    PathBuf::from("www")
}
fn yes() -> bool {
    true
}
fn five() -> u64 {
    5
}
fn hundred() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Fetch,
    WsEcho,
    DanmakuLoad,
    /// One HTTP request on a new connection: `method`, `path`, `headers`, or `raw` bytes.
    Request,
    Sleep,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub kind: StepKind,
    /// Name used in expectations (`steps.<label>.…`) and the comparison table.
    pub label: String,
    /// The server this step talks to.
    #[serde(default)]
    pub server: String,
    /// fetch: the page; ws-echo: the endpoint (default `/echo`).
    #[serde(default)]
    pub path: String,
    /// fetch: persistent, non-persistent, parallel[:N], pipelined.
    #[serde(default = "persistent")]
    pub mode: String,
    /// fetch: a second, conditional pass (If-Modified-Since).
    #[serde(default)]
    pub conditional: bool,
    #[serde(default = "one")]
    pub repeat: u32,
    /// ws-echo: messages and size; danmaku-load: viewers, senders, rate, transport.
    #[serde(default = "hundred_u64")]
    pub count: u64,
    #[serde(default = "sixty_four")]
    pub size: usize,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default = "ten")]
    pub viewers: usize,
    #[serde(default = "one_usize")]
    pub senders: usize,
    #[serde(default = "ws")]
    pub transport: String,
    /// danmaku-load and sleep: seconds.
    #[serde(default = "two")]
    pub duration: f64,
    /// request: the method (default GET), extra header lines, or the raw request text
    /// (`\r\n` line ends are added) to send instead.
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub raw: Option<String>,
}

fn persistent() -> String {
    "persistent".into()
}
fn one() -> u32 {
    1
}
fn one_usize() -> usize {
    1
}
fn hundred_u64() -> u64 {
    100
}
fn sixty_four() -> usize {
    64
}
fn ten() -> usize {
    10
}
fn ws() -> String {
    "ws".into()
}
fn two() -> f64 {
    2.0
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Scenario {
    /// Reads and checks a scenario file. Errors name the file, the line and the key.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.into(), source })?;
        let sc: Scenario = toml::from_str(&text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| {
                let before = &text[..s.start.min(text.len())];
                (before.matches('\n').count() + 1, before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1)
            });
            ScenarioError::Parse { path: path.into(), line, column, message: e.message().to_string() }
        })?;
        let invalid = |message: String| ScenarioError::Invalid { path: path.into(), message };
        for st in &sc.steps {
            if st.kind != StepKind::Sleep && !sc.servers.iter().any(|s| s.name == st.server) {
                return Err(invalid(format!("step {:?} names server {:?}, which is not defined", st.label, st.server)));
            }
            if st.kind == StepKind::Fetch {
                st.mode.parse::<crate::client::fetch::Mode>().map_err(|e| invalid(format!("step {:?}: {e}", st.label)))?;
            }
        }
        for e in &sc.expect {
            Expectation::parse(e).map_err(|m| invalid(format!("expectation {e:?}: {m}")))?;
        }
        Ok(sc)
    }
}

/// `path op value`, e.g. `http.status.304 = 20`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub path: String,
    pub op: String,
    pub value: f64,
}

/// The outcome of one expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub expectation: String,
    pub actual: Option<f64>,
    pub ok: bool,
    /// Not evaluated: it reads the capture and the run had none (`--no-capture`).
    #[serde(default)]
    pub skipped: bool,
}

impl Expectation {
    pub fn parse(s: &str) -> Result<Expectation, String> {
        for op in ["<=", ">=", "!=", "=", "<", ">"] {
            if let Some((a, b)) = s.split_once(op) {
                let value = b.trim().parse::<f64>().map_err(|_| format!("{:?} is not a number", b.trim()))?;
                let path = a.trim().to_string();
                if path.is_empty() {
                    return Err("no value path before the operator".into());
                }
                return Ok(Expectation { path, op: op.to_string(), value });
            }
        }
        Err("expected `path OP number` with OP one of = != < <= > >=".into())
    }

    /// Looks the path up in `doc` (dot-separated keys) and compares.
    pub fn check(&self, doc: &serde_json::Value) -> Checked {
        let mut v = doc;
        for k in self.path.split('.') {
            v = match v.get(k) {
                Some(x) => x,
                None => &serde_json::Value::Null,
            };
        }
        // A missing count reads as zero (e.g. `http.status.304 = 0`).
        let actual = v.as_f64().or_else(|| v.as_bool().map(|b| b as u8 as f64)).or(if v.is_null() { Some(0.0) } else { None });
        let ok = actual.is_some_and(|a| match self.op.as_str() {
            "=" => (a - self.value).abs() < 1e-9,
            "!=" => (a - self.value).abs() >= 1e-9,
            "<" => a < self.value,
            "<=" => a <= self.value,
            ">" => a > self.value,
            _ => a >= self.value,
        });
        Checked { expectation: format!("{} {} {}", self.path, self.op, self.value), actual, ok, skipped: false }
    }

    /// Whether the expectation reads the capture's analysis (not a client's own result).
    pub fn needs_capture(&self) -> bool {
        !self.path.starts_with("steps.") || self.path.contains(".wire.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse_and_check() {
        let doc = serde_json::json!({"tcp": {"connections": 21}, "http": {"status": {"200": 21}}, "steps": {"p": {"total_ms": 12.5}}});
        for (e, ok) in [
            ("tcp.connections = 21", true),
            ("tcp.connections >= 22", false),
            ("http.status.200 = 21", true),
            ("http.status.304 = 0", true),
            ("steps.p.total_ms < 100", true),
            ("steps.p.total_ms > 100", false),
        ] {
            assert_eq!(Expectation::parse(e).unwrap().check(&doc).ok, ok, "{e}");
        }
        assert!(Expectation::parse("tcp.connections ~ 3").is_err());
        assert!(Expectation::parse("tcp.connections = many").is_err());
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let p = std::env::temp_dir().join(format!("wirelab-bad-{}.toml", std::process::id()));
        std::fs::write(&p, "name = \"x\"\n\n[[server]]\nname = \"web\"\nkind = \"http\"\npersistant = true\n").unwrap();
        let e = Scenario::load(&p).unwrap_err().to_string();
        assert!(e.contains(":6:") && e.contains("persistant"), "{e}");
        std::fs::write(&p, "name = \"x\"\n[[step]]\nkind = \"fetch\"\nlabel = \"a\"\nserver = \"nope\"\n").unwrap();
        assert!(Scenario::load(&p).unwrap_err().to_string().contains("\"nope\""));
        std::fs::remove_file(&p).unwrap();
    }
}
