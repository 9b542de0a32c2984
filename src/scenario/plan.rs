//! Stage 1, plan: a scenario file read and checked into a typed [`Plan`] before anything starts.
//!
//! The TOML is read into "raw" structs whose every value keeps its byte span, so that each
//! error names the file, the line, the column and the key. Then the plan is validated as a
//! whole: unique names, keys that apply to their step or server kind, steps that point at a
//! server of the right kind, numbers in range, a `root` that exists, and expectation paths
//! that exist in the summary schema (with the nearest valid paths suggested).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::expect::{Expectation, Schema};
use crate::client::danmaku_load::Transport;
use crate::client::fetch::Mode;

/// A scenario that failed to load: the file, and where in it.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    At { path: PathBuf, line: usize, column: usize, message: String },
}

/// Where a server listens and what it is.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerSetup {
    Http { root: PathBuf, persistent: bool, keepalive_timeout: Duration, keepalive_max: u32 },
    Ws,
    Danmaku,
}

#[derive(Debug, Clone)]
pub struct ServerPlan {
    pub name: String,
    /// 0: any free port.
    pub port: u16,
    pub setup: ServerSetup,
}

/// What a step does, with its own settings only.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Load a page and its objects; `conditional` reloads it with If-Modified-Since; `linger`
    /// keeps the last connection open (idle) afterwards until the server closes it or the time is up.
    Fetch { path: String, mode: Mode, conditional: bool, linger: Duration },
    WsEcho { path: String, count: u64, size: usize, rate: Option<f64>, binary: bool },
    DanmakuLoad { viewers: usize, senders: usize, rate: f64, transport: Transport, duration: Duration },
    /// One request on a new connection: a method and path with extra header lines, or raw text.
    Request { method: String, path: String, headers: Vec<String>, raw: Option<String> },
    Sleep { duration: Duration },
}

impl Action {
    pub fn kind(&self) -> StepKind {
        match self {
            Action::Fetch { .. } => StepKind::Fetch,
            Action::WsEcho { .. } => StepKind::WsEcho,
            Action::DanmakuLoad { .. } => StepKind::DanmakuLoad,
            Action::Request { .. } => StepKind::Request,
            Action::Sleep { .. } => StepKind::Sleep,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepPlan {
    pub label: String,
    /// Index into [`Plan::servers`] (none for `sleep`).
    pub server: Option<usize>,
    pub repeat: u32,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub struct CapturePlan {
    pub interface: String,
    pub snaplen: i32,
    pub buffer_mib: i32,
}

/// A validated scenario: everything the later stages need, nothing left to check.
#[derive(Debug, Clone)]
pub struct Plan {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub capture: CapturePlan,
    pub servers: Vec<ServerPlan>,
    pub steps: Vec<StepPlan>,
    pub expect: Vec<Expectation>,
    pub allow_drops: u64,
    /// An emulated link between the clients and the servers (loopback without one).
    pub link: Option<LinkPlan>,
}

/// `[link]`: the emulated link's parameters; several RTTs make a sweep (one run per RTT).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    pub rtts: Vec<Duration>,
    /// Every parameter but the RTT (its `rtt` is the first of `rtts`).
    pub config: crate::link::LinkConfig,
}

impl LinkPlan {
    /// The link of sweep point `i`.
    pub fn at(&self, i: usize) -> crate::link::LinkConfig {
        crate::link::LinkConfig { rtt: self.rtts[i], ..self.config.clone() }
    }
}

impl Plan {
    /// The plan for one point of an RTT sweep (itself when there is no sweep).
    pub fn sweep_point(&self, i: usize) -> Plan {
        let mut p = self.clone();
        if let Some(l) = &mut p.link {
            let rtt = l.rtts[i.min(l.rtts.len() - 1)];
            l.rtts = vec![rtt];
            l.config.rtt = rtt;
        }
        p
    }

    /// How many runs a sweep makes (1 without one).
    pub fn sweep_len(&self) -> usize {
        self.link.as_ref().map_or(1, |l| l.rtts.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Http,
    Ws,
    Danmaku,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Http => "http",
            ServerKind::Ws => "ws",
            ServerKind::Danmaku => "danmaku",
        }
    }
    /// Keys a server of this kind takes besides `name`, `kind` and `port`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            ServerKind::Http => &["root", "persistent", "keepalive_timeout", "keepalive_max"],
            ServerKind::Ws | ServerKind::Danmaku => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Fetch,
    WsEcho,
    DanmakuLoad,
    Request,
    Sleep,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Fetch => "fetch",
            StepKind::WsEcho => "ws-echo",
            StepKind::DanmakuLoad => "danmaku-load",
            StepKind::Request => "request",
            StepKind::Sleep => "sleep",
        }
    }
    /// Keys a step of this kind takes besides `kind` and `label`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            StepKind::Fetch => &["server", "repeat", "path", "mode", "conditional", "linger"],
            StepKind::WsEcho => &["server", "repeat", "path", "count", "size", "rate", "binary"],
            StepKind::DanmakuLoad => &["server", "repeat", "viewers", "senders", "rate", "transport", "duration"],
            StepKind::Request => &["server", "repeat", "method", "path", "headers", "raw"],
            StepKind::Sleep => &["duration"],
        }
    }
    /// The server kinds a step of this kind can talk to.
    fn servers(self) -> &'static [ServerKind] {
        match self {
            StepKind::Fetch | StepKind::Request => &[ServerKind::Http, ServerKind::Danmaku],
            StepKind::WsEcho => &[ServerKind::Ws],
            StepKind::DanmakuLoad => &[ServerKind::Danmaku],
            StepKind::Sleep => &[],
        }
    }
}

// ---- the file as written, every value with its span ----

type S<T> = Option<Spanned<T>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: Option<String>,
    capture: Option<RawCapture>,
    #[serde(default, rename = "server")]
    servers: Vec<RawServer>,
    #[serde(default, rename = "step")]
    steps: Vec<RawStep>,
    #[serde(default)]
    expect: Vec<Spanned<String>>,
    allow_drops: S<i64>,
    link: Option<RawLink>,
}

/// `rtt_ms = 50` or `rtt_ms = [0, 10, 20, 50, 100]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    rtt_ms: S<OneOrMany>,
    rate_mbit: S<f64>,
    loss: S<f64>,
    queue_packets: S<i64>,
    queue_bytes: S<i64>,
    seed: S<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    interface: S<String>,
    snaplen: S<i64>,
    buffer_mib: S<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Spanned<String>,
    kind: Spanned<ServerKind>,
    port: S<i64>,
    root: S<String>,
    persistent: S<bool>,
    keepalive_timeout: S<f64>,
    keepalive_max: S<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    kind: Spanned<StepKind>,
    label: Spanned<String>,
    server: S<String>,
    repeat: S<i64>,
    path: S<String>,
    mode: S<String>,
    conditional: S<bool>,
    linger: S<f64>,
    count: S<i64>,
    size: S<i64>,
    rate: S<f64>,
    binary: S<bool>,
    viewers: S<i64>,
    senders: S<i64>,
    transport: S<String>,
    duration: S<f64>,
    method: S<String>,
    headers: S<Vec<String>>,
    raw: S<String>,
}

/// The keys present in a table, with their spans, for the "does not apply" check.
macro_rules! present {
    ($raw:expr, $($field:ident),*) => {{
        let mut v: Vec<(&'static str, Range<usize>)> = vec![];
        $( if let Some(x) = &$raw.$field { v.push((stringify!($field), x.span())); } )*
        v
    }};
}

/// Turns byte spans into file:line:column errors.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> PlanError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        PlanError::At { path: self.path.to_path_buf(), line, column, message: message.into() }
    }

    /// The key written at the start of the line holding `offset` (`count = "x"` → `count`).
    fn key_at(&self, offset: usize) -> Option<&str> {
        let start = self.text[..offset.min(self.text.len())].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim().trim_matches('"');
        (!key.is_empty() && !key.starts_with('[') && !key.contains(' ')).then_some(key)
    }

    /// A TOML or type error from the parser, with the key it concerns and a hint for the
    /// mistakes people make.
    fn toml_error(&self, e: toml::de::Error) -> PlanError {
        let span = e.span().unwrap_or(0..0);
        let mut msg = e.message().trim().to_string();
        if let Some(key) = self.key_at(span.start).filter(|k| !msg.contains(&format!("`{k}`"))) {
            msg = format!("key `{key}`: {msg}");
        }
        let line = self.text[span.start.min(self.text.len())..].lines().next().unwrap_or("");
        let this_line = self.text[..span.start.min(self.text.len())].rsplit('\n').next().unwrap_or("").to_string() + line;
        if this_line.contains("==") {
            msg.push_str(" (TOML assigns with a single `=`)");
        }
        self.at(span, msg)
    }
}

/// Checks that a number is in range (`lo..=hi`), with the key's name in the error.
fn int_in<T: TryFrom<i64>>(loc: &Locator<'_>, key: &str, v: &S<i64>, default: T, lo: i64, hi: i64) -> Result<T, PlanError> {
    let Some(v) = v else { return Ok(default) };
    let n = *v.get_ref();
    if n < lo || n > hi {
        return Err(loc.at(v.span(), format!("`{key}` = {n} is out of range: use {lo} to {hi}")));
    }
    T::try_from(n).map_err(|_| loc.at(v.span(), format!("`{key}` = {n} is out of range")))
}

fn float_in(loc: &Locator<'_>, key: &str, v: &S<f64>, default: f64, lo: f64, hi: f64) -> Result<f64, PlanError> {
    let Some(v) = v else { return Ok(default) };
    let x = *v.get_ref();
    if !x.is_finite() || x < lo || x > hi {
        return Err(loc.at(v.span(), format!("`{key}` = {x} is out of range: use a number from {lo} to {hi}")));
    }
    Ok(x)
}

fn seconds(loc: &Locator<'_>, key: &str, v: &S<f64>, default: f64, lo: f64, hi: f64) -> Result<Duration, PlanError> {
    float_in(loc, key, v, default, lo, hi).map(Duration::from_secs_f64)
}

/// A name used in file names and expectation paths: letters, digits, `-`, `_` (and `.` in
/// scenario names, not leading).
fn check_name(loc: &Locator<'_>, what: &str, v: &Spanned<String>, dots: bool) -> Result<(), PlanError> {
    let s = v.get_ref();
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dots && c == '.'));
    if ok {
        Ok(())
    } else {
        Err(loc.at(v.span(), format!("{what} {s:?} must be 1-64 letters, digits, '-' or '_'{}", if dots { " (or '.', not first)" } else { "" })))
    }
}

fn no_foreign_keys(loc: &Locator<'_>, what: &str, allowed: &[&str], present: &[(&'static str, Range<usize>)]) -> Result<(), PlanError> {
    match present.iter().find(|(k, _)| !allowed.contains(k)) {
        Some((k, span)) => Err(loc.at(
            span.clone(),
            format!("`{k}` does not apply to {what}{}", if allowed.is_empty() { String::new() } else { format!(" (it takes: {})", allowed.join(", ")) }),
        )),
        None => Ok(()),
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read { path: path.into(), source })?;
    let loc = Locator { path, text: &text };
    let raw: RawScenario = toml::from_str(&text).map_err(|e| loc.toml_error(e))?;
    check_name(&loc, "scenario name", &raw.name, true)?;
    // Relative roots are relative to the scenario folder's parent (the repository for
    // files in scenarios/), or to the current directory where that holds them.
    let base = path.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let servers = servers(&loc, &raw.servers, &base)?;
    let steps = steps(&loc, &raw.steps, &raw.servers)?;
    let capture = match &raw.capture {
        None => CapturePlan { interface: "lo".into(), snaplen: 262_144, buffer_mib: 64 },
        Some(c) => CapturePlan {
            interface: c.interface.as_ref().map_or("lo".to_string(), |s| s.get_ref().clone()),
            snaplen: int_in(&loc, "snaplen", &c.snaplen, 262_144, 64, 262_144)?,
            buffer_mib: int_in(&loc, "buffer_mib", &c.buffer_mib, 64, 1, 4096)?,
        },
    };
    let schema = Schema::for_steps(steps.iter().map(|s| (s.label.as_str(), s.action.kind())));
    let mut expect = vec![];
    for e in &raw.expect {
        let x = Expectation::parse(e.get_ref()).map_err(|m| loc.at(e.span(), format!("expectation {:?}: {m}", e.get_ref())))?;
        schema.validate(&x.path).map_err(|m| loc.at(e.span(), format!("expectation {:?}: {m}", e.get_ref())))?;
        expect.push(x);
    }
    Ok(Plan {
        file: path.to_path_buf(),
        name: raw.name.into_inner(),
        description: raw.description.unwrap_or_default(),
        capture,
        servers,
        steps,
        expect,
        allow_drops: int_in(&loc, "allow_drops", &raw.allow_drops, 0, 0, i64::MAX)?,
        link: raw.link.as_ref().map(|l| link(&loc, l)).transpose()?,
    })
}

fn link(loc: &Locator<'_>, raw: &RawLink) -> Result<LinkPlan, PlanError> {
    use crate::link::{LinkConfig, Queue};
    let max_rtt = crate::link::config::MAX_RTT.as_secs_f64() * 1e3;
    let rtts = match &raw.rtt_ms {
        None => vec![Duration::ZERO],
        Some(v) => {
            let list = match v.get_ref() {
                OneOrMany::One(x) => vec![*x],
                OneOrMany::Many(xs) => xs.clone(),
            };
            if list.is_empty() || list.len() > 50 {
                return Err(loc.at(v.span(), "`rtt_ms` needs 1 to 50 values"));
            }
            let mut out = vec![];
            for x in list {
                if !x.is_finite() || !(0.0..=max_rtt).contains(&x) {
                    return Err(loc.at(v.span(), format!("`rtt_ms` = {x} is out of range: use 0 to {max_rtt}")));
                }
                out.push(Duration::from_secs_f64(x / 1e3));
            }
            out
        }
    };
    let queue = match (&raw.queue_packets, &raw.queue_bytes) {
        (Some(_), Some(b)) => return Err(loc.at(b.span(), "give `queue_packets` or `queue_bytes`, not both")),
        (_, Some(_)) => Queue::Bytes(int_in(loc, "queue_bytes", &raw.queue_bytes, 0, 1500, i64::MAX)?),
        (p, None) => Queue::Packets(int_in(loc, "queue_packets", p, 1000, 1, 1_000_000)?),
    };
    let rate = raw.rate_mbit.as_ref().map(|_| float_in(loc, "rate_mbit", &raw.rate_mbit, 0.0, 0.012, 100_000.0)).transpose()?;
    let config = LinkConfig {
        rtt: rtts[0],
        rate_bps: rate.map(|r| (r * 1e6).round() as u64),
        loss: float_in(loc, "loss", &raw.loss, 0.0, 0.0, 0.99)?,
        queue,
        seed: int_in(loc, "seed", &raw.seed, 1, 0, i64::MAX)?,
    };
    Ok(LinkPlan { rtts, config })
}

fn servers(loc: &Locator<'_>, raw: &[RawServer], base: &Path) -> Result<Vec<ServerPlan>, PlanError> {
    let mut out: Vec<ServerPlan> = vec![];
    for s in raw {
        check_name(loc, "server name", &s.name, false)?;
        if out.iter().any(|o| &o.name == s.name.get_ref()) {
            return Err(loc.at(s.name.span(), format!("a server named {:?} is already defined", s.name.get_ref())));
        }
        let kind = *s.kind.get_ref();
        no_foreign_keys(loc, &format!("a {} server", kind.name()), kind.keys(), &present!(s, root, persistent, keepalive_timeout, keepalive_max))?;
        let setup = match kind {
            ServerKind::Http => {
                let (given, span) = match &s.root {
                    Some(r) => (PathBuf::from(r.get_ref()), r.span()),
                    None => (PathBuf::from("www"), s.name.span()),
                };
                let root = if given.is_absolute() || given.is_dir() { given.clone() } else { base.join(&given) };
                if std::fs::read_dir(&root).is_err() {
                    return Err(loc.at(span, format!("root {} is not a readable directory (looked for {})", given.display(), root.display())));
                }
                ServerSetup::Http {
                    root,
                    persistent: s.persistent.as_ref().is_none_or(|p| *p.get_ref()),
                    keepalive_timeout: seconds(loc, "keepalive_timeout", &s.keepalive_timeout, 5.0, 0.001, 86_400.0)?,
                    keepalive_max: int_in(loc, "keepalive_max", &s.keepalive_max, 100, 1, 1_000_000)?,
                }
            }
            ServerKind::Ws => ServerSetup::Ws,
            ServerKind::Danmaku => ServerSetup::Danmaku,
        };
        out.push(ServerPlan { name: s.name.get_ref().clone(), port: int_in(loc, "port", &s.port, 0, 0, 65_535)?, setup });
    }
    Ok(out)
}

fn steps(loc: &Locator<'_>, raw: &[RawStep], servers: &[RawServer]) -> Result<Vec<StepPlan>, PlanError> {
    let mut out: Vec<StepPlan> = vec![];
    for st in raw {
        check_name(loc, "step label", &st.label, false)?;
        if out.iter().any(|o| &o.label == st.label.get_ref()) {
            return Err(loc.at(st.label.span(), format!("a step labelled {:?} is already defined", st.label.get_ref())));
        }
        let kind = *st.kind.get_ref();
        let keys = present!(st, server, repeat, path, mode, conditional, linger, count, size, rate, binary, viewers, senders, transport, duration, method, headers, raw);
        no_foreign_keys(loc, &format!("a {} step", kind.name()), kind.keys(), &keys)?;
        let server = match (&st.server, kind) {
            (_, StepKind::Sleep) => None,
            (None, _) => return Err(loc.at(st.label.span(), format!("step {:?} needs `server = \"…\"`", st.label.get_ref()))),
            (Some(name), _) => {
                let Some(i) = servers.iter().position(|s| s.name.get_ref() == name.get_ref()) else {
                    return Err(loc.at(name.span(), format!("step {:?} names server {:?}, which is not defined", st.label.get_ref(), name.get_ref())));
                };
                let sk = *servers[i].kind.get_ref();
                if !kind.servers().contains(&sk) {
                    let want: Vec<_> = kind.servers().iter().map(|k| k.name()).collect();
                    return Err(loc.at(name.span(), format!("a {} step needs a {} server; {:?} is a {} server", kind.name(), want.join(" or "), name.get_ref(), sk.name())));
                }
                Some(i)
            }
        };
        out.push(StepPlan { label: st.label.get_ref().clone(), server, repeat: int_in(loc, "repeat", &st.repeat, 1, 1, 1000)?, action: action(loc, st, kind)? });
    }
    Ok(out)
}

fn action(loc: &Locator<'_>, st: &RawStep, kind: StepKind) -> Result<Action, PlanError> {
    let text = |v: &S<String>, d: &str| v.as_ref().map_or(d.to_string(), |s| s.get_ref().clone());
    Ok(match kind {
        StepKind::Fetch => Action::Fetch {
            path: text(&st.path, "/BaseFile.html"),
            mode: match &st.mode {
                None => Mode::Persistent,
                Some(m) => m.get_ref().parse().map_err(|e: String| loc.at(m.span(), e))?,
            },
            conditional: st.conditional.as_ref().is_some_and(|c| *c.get_ref()),
            linger: seconds(loc, "linger", &st.linger, 0.0, 0.0, 600.0)?,
        },
        StepKind::WsEcho => Action::WsEcho {
            path: text(&st.path, "/echo"),
            count: int_in(loc, "count", &st.count, 100, 1, 10_000_000)?,
            size: int_in(loc, "size", &st.size, 64, 0, 64 << 20)?,
            rate: st.rate.as_ref().map(|_| float_in(loc, "rate", &st.rate, 0.0, 0.001, 1e6)).transpose()?,
            binary: st.binary.as_ref().is_some_and(|b| *b.get_ref()),
        },
        StepKind::DanmakuLoad => Action::DanmakuLoad {
            viewers: int_in(loc, "viewers", &st.viewers, 10, 1, 10_000)?,
            senders: int_in(loc, "senders", &st.senders, 1, 1, 1_000)?,
            rate: float_in(loc, "rate", &st.rate, 5.0, 0.001, 10_000.0)?,
            transport: match &st.transport {
                None => Transport::Ws,
                Some(t) => t.get_ref().parse().map_err(|e: String| loc.at(t.span(), e))?,
            },
            duration: seconds(loc, "duration", &st.duration, 2.0, 0.001, 3_600.0)?,
        },
        StepKind::Request => Action::Request {
            method: text(&st.method, "GET"),
            path: text(&st.path, "/"),
            headers: st.headers.as_ref().map_or(vec![], |h| h.get_ref().clone()),
            raw: st.raw.as_ref().map(|r| r.get_ref().clone()),
        },
        StepKind::Sleep => Action::Sleep { duration: seconds(loc, "duration", &st.duration, 1.0, 0.0, 3_600.0)? },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text` as `dir/scenarios/t.toml` with a `www/` beside `scenarios/`.
    fn load_text(text: &str) -> Result<Plan, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wirelab-plan-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("scenarios")).unwrap();
        std::fs::create_dir_all(dir.join("www")).unwrap();
        let p = dir.join("scenarios/t.toml");
        std::fs::write(&p, text).unwrap();
        let r = load(&p).map_err(|e| e.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    const WEB: &str = "name = \"t\"\n[[server]]\nname = \"web\"\nkind = \"http\"\n";

    fn err(text: &str) -> String {
        load_text(text).expect_err("should be refused")
    }

    #[test]
    fn a_good_file_becomes_a_typed_plan() {
        let p = load_text(&format!("{WEB}keepalive_timeout = 1\n[[step]]\nkind = \"fetch\"\nlabel = \"a\"\nserver = \"web\"\nmode = \"parallel:4\"\nlinger = 2.5\n[[step]]\nkind = \"sleep\"\nlabel = \"z\"\nduration = 0.5\n")).unwrap();
        assert!(matches!(&p.servers[0].setup, ServerSetup::Http { keepalive_timeout, .. } if *keepalive_timeout == Duration::from_secs(1)));
        assert_eq!(p.steps[0].action, Action::Fetch { path: "/BaseFile.html".into(), mode: Mode::Parallel(4), conditional: false, linger: Duration::from_millis(2500) });
        assert_eq!(p.steps[0].server, Some(0));
        assert_eq!(p.steps[1].action, Action::Sleep { duration: Duration::from_millis(500) });
    }

    #[test]
    fn unknown_and_foreign_keys_name_file_line_and_key() {
        let e = err(&format!("{WEB}persistant = true\n"));
        assert!(e.contains("t.toml:5:") && e.contains("persistant"), "{e}");
        let e = err(&format!("{WEB}[[step]]\nkind = \"fetch\"\nlabel = \"a\"\nserver = \"web\"\nviewers = 3\n"));
        assert!(e.contains(":9:") && e.contains("`viewers` does not apply to a fetch step"), "{e}");
        let e = err("name = \"t\"\n[[server]]\nname = \"w\"\nkind = \"ws\"\nroot = \"www\"\n");
        assert!(e.contains(":5:") && e.contains("`root` does not apply to a ws server"), "{e}");
    }

    #[test]
    fn names_are_unique_and_steps_point_at_the_right_kind() {
        let e = err(&format!("{WEB}[[server]]\nname = \"web\"\nkind = \"ws\"\n"));
        assert!(e.contains(":6:") && e.contains("already defined"), "{e}");
        let e = err(&format!("{WEB}[[step]]\nkind = \"sleep\"\nlabel = \"a\"\n[[step]]\nkind = \"sleep\"\nlabel = \"a\"\n"));
        assert!(e.contains(":10:") && e.contains("already defined"), "{e}");
        let e = err(&format!("{WEB}[[step]]\nkind = \"ws-echo\"\nlabel = \"e\"\nserver = \"web\"\n"));
        assert!(e.contains(":8:") && e.contains("needs a ws server") && e.contains("http server"), "{e}");
        let e = err(&format!("{WEB}[[step]]\nkind = \"fetch\"\nlabel = \"a\"\nserver = \"nope\"\n"));
        assert!(e.contains("\"nope\"") && e.contains("not defined"), "{e}");
    }

    #[test]
    fn type_errors_name_their_key() {
        let e = err(&format!("{WEB}[[step]]\nkind = \"ws-echo\"\nlabel = \"e\"\nserver = \"web\"\ncount = \"many\"\n"));
        assert!(e.contains(":9:") && e.contains("`count`"), "{e}");
        let e = err("name == \"t\"\n");
        assert!(e.contains(":1:") && e.contains("single `=`"), "{e}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_not_panicked_on() {
        for (key, v) in [("duration", "-1"), ("duration", "nan"), ("duration", "1e300"), ("duration", "inf")] {
            let e = err(&format!("name = \"t\"\n[[step]]\nkind = \"sleep\"\nlabel = \"s\"\n{key} = {v}\n"));
            assert!(e.contains(":5:") && e.contains("out of range"), "{key} = {v}: {e}");
        }
        let e = err("name = \"t\"\n[[server]]\nname = \"w\"\nkind = \"ws\"\n[[step]]\nkind = \"ws-echo\"\nlabel = \"e\"\nserver = \"w\"\nsize = 18446744073709551615\n");
        assert!(e.contains(":9:"), "{e}");
        let e = err("name = \"t\"\n[[server]]\nname = \"w\"\nkind = \"ws\"\nport = 70000\n");
        assert!(e.contains(":5:") && e.contains("out of range"), "{e}");
    }

    #[test]
    fn a_name_cannot_escape_the_output_folder() {
        for bad in ["../../x", "a/b", ".hidden", ""] {
            let e = err(&format!("name = {bad:?}\n"));
            assert!(e.contains(":1:") && e.contains("scenario name"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_link_sweeps_its_rtts() {
        let p = load_text("name = \"t\"\n[link]\nrtt_ms = [0, 20, 100]\nrate_mbit = 10\nloss = 0.01\nqueue_packets = 100\n").unwrap();
        let l = p.link.as_ref().unwrap();
        assert_eq!(l.rtts, [Duration::ZERO, Duration::from_millis(20), Duration::from_millis(100)]);
        assert_eq!(l.config.rate_bps, Some(10_000_000));
        assert_eq!(p.sweep_len(), 3);
        assert_eq!(p.sweep_point(2).link.unwrap().config.rtt, Duration::from_millis(100));
        let e = err("name = \"t\"\n[link]\nrtt_ms = [20, -5]\n");
        assert!(e.contains(":3:") && e.contains("out of range"), "{e}");
        let e = err("name = \"t\"\n[link]\nrtt_ms = 20\nloss = 1.5\n");
        assert!(e.contains(":4:") && e.contains("`loss`"), "{e}");
        let e = err("name = \"t\"\n[link]\ndelay = 20\n");
        assert!(e.contains(":3:") && e.contains("delay"), "{e}");
    }

    #[test]
    fn a_missing_root_is_a_set_up_error() {
        let e = err("name = \"t\"\n[[server]]\nname = \"web\"\nkind = \"http\"\nroot = \"no-such-dir\"\n");
        assert!(e.contains(":5:") && e.contains("not a readable directory"), "{e}");
    }

    #[test]
    fn expectations_are_checked_against_the_schema() {
        let base = format!("{WEB}[[step]]\nkind = \"fetch\"\nlabel = \"p\"\nserver = \"web\"\n");
        let e = err(&format!("expect = [\"tcp.conections = 0\"]\n{base}"));
        assert!(e.contains(":1:") && e.contains("tcp.connections"), "{e}");
        let e = err(&format!("expect = [\"tcp.connections == 1\"]\n{base}"));
        assert!(e.contains("use `=`"), "{e}");
        let e = err(&format!("expect = [\"steps.p.latency.p50_ms < 3\"]\n{base}"));
        assert!(e.contains("steps.p."), "{e}");
        load_text(&format!("expect = [\"tcp.connections = 1\", \"http.status.304 = 0\", \"steps.p.wire.connections = 1\", \"steps.p.total_ms < 500\"]\n{base}")).unwrap();
    }
}
