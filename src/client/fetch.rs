//! The page client instrument: fetches a base HTML page and every object it references
//! (img/src, a/href, link/href, script/src, found with a real HTML parser) in one of four
//! connection modes, timing each object.
//!
//! Responses are framed by wirelab's own passive HTTP parser ([`HttpConn`]), the same code that
//! reads them from captures. Requests go out in one write each (all at once when pipelined),
//! on sockets with `TCP_NODELAY`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::proto::http::{HttpConn, Output, Transaction};

/// How the objects are fetched. Printed and serialized as the user writes it:
/// `persistent`, `non-persistent`, `parallel:N`, `pipelined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One connection, one request at a time.
    Persistent,
    /// A new connection per object, `Connection: close`, one at a time.
    NonPersistent,
    /// N non-persistent connections at once.
    Parallel(usize),
    /// One connection, every object request sent at once.
    Pipelined,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Persistent => f.write_str("persistent"),
            Mode::NonPersistent => f.write_str("non-persistent"),
            Mode::Parallel(n) => write!(f, "parallel:{n}"),
            Mode::Pipelined => f.write_str("pipelined"),
        }
    }
}

impl Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "persistent" => Ok(Mode::Persistent),
            "non-persistent" => Ok(Mode::NonPersistent),
            "pipelined" => Ok(Mode::Pipelined),
            "parallel" => Ok(Mode::Parallel(5)),
            p => match p.strip_prefix("parallel:").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Ok(Mode::Parallel(n)),
                _ => Err(format!("unknown mode {s:?}: use persistent, non-persistent, parallel[:N] or pipelined")),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Url(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("I/O error with {addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("{0}")]
    Protocol(String),
    /// A resource limit of this process (file descriptors) is too low for the job.
    #[error("{0}")]
    Limit(String),
}

/// One fetched object.
#[derive(Debug, Clone, Serialize)]
pub struct Object {
    pub path: String,
    pub status: u16,
    /// Body bytes received.
    pub bytes: u64,
    /// Header bytes received (the status line and header block).
    pub header_bytes: u64,
    /// Request sent → response complete, in milliseconds, and both times from the page start.
    pub ms: f64,
    pub start_ms: f64,
    pub end_ms: f64,
    /// 1-based number of the client connection that carried it.
    pub connection: u32,
    #[serde(skip)]
    pub last_modified: Option<String>,
}

/// One pass over a page.
#[derive(Debug, Clone, Serialize)]
pub struct PageReport {
    pub url: String,
    pub mode: Mode,
    pub conditional: bool,
    pub base: Object,
    pub objects: Vec<Object>,
    /// TCP connections opened for the pass.
    pub connections_opened: u32,
    pub bytes: u64,
    pub total_ms: f64,
}

/// The objects a page references, as same-origin paths, in document order, without repeats.
pub fn referenced_objects(html: &str, base: &url::Url) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("img[src], a[href], link[href], script[src]").expect("a valid selector");
    let mut out: Vec<String> = vec![];
    for el in doc.select(&sel) {
        let v = el.value();
        let Some(r) = v.attr("src").or_else(|| v.attr("href")) else { continue };
        let Ok(u) = base.join(r) else { continue };
        if u.scheme() != base.scheme() || u.host() != base.host() || u.port_or_known_default() != base.port_or_known_default() {
            continue;
        }
        let p = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        if p != base.path() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// How long a client waits for the FIN of a server that said `Connection: close`.
const SERVER_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Connections whose server said `Connection: close`, each read to the server's FIN in the
/// background, so the server still closes first (as with HTTP/1.0 clients) while the page load
/// goes on. A response of known length is complete at its last byte, and that is all a client
/// waits for: the FIN may lag it by a round trip (when the response filled the congestion window
/// exactly, the FIN needs one more slot and waits for an ACK), which is TCP's close, not the
/// page load. [`Closing::finish`] awaits them all, off the page-load clock.
#[derive(Default)]
struct Closing(Vec<tokio::task::JoinHandle<()>>);

impl Closing {
    fn add(&mut self, mut c: Conn) {
        self.0.push(tokio::spawn(async move { c.linger(SERVER_CLOSE_WAIT).await }));
    }

    fn extend(&mut self, other: Closing) {
        self.0.extend(other.0);
    }

    async fn finish(self) {
        for h in self.0 {
            let _ = h.await;
        }
    }
}

/// Runs the HTML parser and selector once, off the clock and off the wire, so that their
/// one-time set-up is not charged to whichever measured page load comes first.
pub fn warm_up() {
    let base = url::Url::parse("http://127.0.0.1/").expect("a valid URL");
    let _ = referenced_objects("<html><head><link href=\"a.css\"></head><body><img src=\"b.png\"><a href=\"c\">c</a></body></html>", &base);
}

pub(crate) struct Clock(pub(crate) Instant);
impl Clock {
    pub(crate) fn ns(&self) -> i128 {
        self.0.elapsed().as_nanos() as i128
    }
    fn ms(&self) -> f64 {
        self.0.elapsed().as_nanos() as f64 / 1e6
    }
}

/// One client connection, its responses framed by the passive parser.
pub(crate) struct Conn {
    sock: TcpStream,
    pub(crate) http: HttpConn,
    out: Output,
    number: u32,
    addr: String,
    pub(crate) eof: bool,
}

impl Conn {
    pub(crate) async fn open(addr: &str, number: u32) -> Result<Conn, FetchError> {
        let sock = TcpStream::connect(addr).await.map_err(|source| FetchError::Connect { addr: addr.into(), source })?;
        sock.set_nodelay(true).map_err(|source| FetchError::Io { addr: addr.into(), source })?;
        Ok(Conn { sock, http: HttpConn::new(number, true).without_notes(), out: Output::default(), number, addr: addr.into(), eof: false })
    }

    /// Sends requests in one write.
    pub(crate) async fn send(&mut self, reqs: &[Vec<u8>], clock: &Clock) -> Result<(), FetchError> {
        let all: Vec<u8> = reqs.concat();
        self.http.data(0, clock.ns(), 0, &all, &mut self.out);
        self.sock.write_all(&all).await.map_err(|source| FetchError::Io { addr: self.addr.clone(), source })
    }

    /// Waits, reading and discarding, until the server closes or `time` has passed.
    async fn linger(&mut self, time: std::time::Duration) {
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(time, async {
            while let Ok(k) = self.sock.read(&mut buf).await {
                if k == 0 {
                    break;
                }
            }
        })
        .await;
    }

    /// Reads until `n` responses are complete or the server closes; returns those completed.
    pub(crate) async fn recv(&mut self, n: usize, clock: &Clock) -> Result<Vec<Box<Transaction>>, FetchError> {
        let mut done: Vec<Box<Transaction>> = vec![];
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            for t in self.out.transactions.drain(..).filter(|t| t.status.is_some() && t.complete) {
                // The server will close after this response: send nothing more on this connection.
                if t.response_headers.connection.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("close")) {
                    self.eof = true;
                }
                done.push(t);
            }
            if done.len() >= n || self.eof {
                return Ok(done);
            }
            let k = self.sock.read(&mut buf).await.map_err(|source| FetchError::Io { addr: self.addr.clone(), source })?;
            if k == 0 {
                self.eof = true;
                self.http.fin(1, clock.ns(), 0, &mut self.out);
                continue;
            }
            self.http.data(1, clock.ns(), 0, &buf[..k], &mut self.out);
        }
    }
}

fn request(path: &str, host: &str, close: bool, ims: Option<&str>) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wirelab/{}\r\nAccept: */*\r\n", env!("CARGO_PKG_VERSION"));
    if let Some(d) = ims {
        r.push_str(&format!("If-Modified-Since: {d}\r\n"));
    }
    if close {
        r.push_str("Connection: close\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn object(path: &str, t: &Transaction, conn: u32) -> Object {
    let ms = |v: Option<i128>| v.map_or(0.0, |n| n as f64 / 1e6);
    Object {
        path: path.to_string(),
        status: t.status.unwrap_or(0),
        bytes: t.response_body_bytes,
        header_bytes: t.response_header_bytes,
        ms: t.total_ns().map_or(0.0, |n| n as f64 / 1e6),
        start_ms: ms(t.request_ns),
        end_ms: ms(t.response_last_ns),
        connection: conn,
        last_modified: t.response_headers.last_modified.clone(),
    }
}

/// Fetches on one connection (persistent or pipelined), reopening it if the server closes it
/// (keep-alive max or timeout) while requests are outstanding.
async fn over_one(
    addr: &str,
    host: &str,
    paths: &[String],
    pipelined: bool,
    ims: &(dyn Fn(&str) -> Option<String> + Sync),
    clock: &Clock,
    conn: &mut Option<Conn>,
    opened: &mut u32,
    closing: &mut Closing,
) -> Result<Vec<Object>, FetchError> {
    let mut results = vec![];
    let mut todo: VecDeque<String> = paths.iter().cloned().collect();
    while !todo.is_empty() {
        if conn.as_ref().is_none_or(|c| c.eof) {
            // The server said it closes this one: it is read to its FIN, so that it closes first.
            if let Some(old) = conn.take() {
                closing.add(old);
            }
            *opened += 1;
            *conn = Some(Conn::open(addr, *opened).await?);
        }
        let c = conn.as_mut().expect("opened above");
        let batch: Vec<String> = if pipelined { todo.iter().cloned().collect() } else { vec![todo[0].clone()] };
        let reqs: Vec<Vec<u8>> = batch.iter().map(|p| request(p, host, false, ims(p).as_deref())).collect();
        c.send(&reqs, clock).await?;
        let got = c.recv(batch.len(), clock).await?;
        if got.is_empty() && c.eof && *opened > paths.len() as u32 + 2 {
            return Err(FetchError::Protocol(format!("{addr} keeps closing the connection without answering")));
        }
        for t in got {
            let p = todo.pop_front().expect("a response answers an outstanding request");
            results.push(object(&p, &t, c.number));
        }
    }
    Ok(results)
}

async fn non_persistent(addr: &str, host: &str, path: &str, ims: Option<String>, clock: &Clock, number: u32, closing: &mut Closing) -> Result<Object, FetchError> {
    let mut c = Conn::open(addr, number).await?;
    c.send(&[request(path, host, true, ims.as_deref())], clock).await?;
    let got = c.recv(1, clock).await?;
    let t = got.into_iter().next().ok_or_else(|| FetchError::Protocol(format!("no response for {path}")))?;
    // `Connection: close`: the server closes first; its FIN is read in the background.
    closing.add(c);
    Ok(object(path, &t, number))
}

/// Fetches `url` and its objects in `mode`. With `previous`, sends If-Modified-Since with each
/// object's Last-Modified from that pass (a conditional reload).
pub async fn fetch_page(url: &str, mode: Mode, previous: Option<&PageReport>) -> Result<PageReport, FetchError> {
    fetch_page_lingering(url, mode, previous, std::time::Duration::ZERO).await
}

/// [`fetch_page`], then (persistent and pipelined modes) keeps the connection open and idle for
/// up to `linger`, closing it only after the server does or the time is up: this shows the
/// server's keep-alive timeout on the wire.
pub async fn fetch_page_lingering(url: &str, mode: Mode, previous: Option<&PageReport>, linger: std::time::Duration) -> Result<PageReport, FetchError> {
    let base = url::Url::parse(url).map_err(|e| FetchError::Url(format!("{url}: {e}")))?;
    if base.scheme() != "http" {
        return Err(FetchError::Url(format!("{url}: only http:// URLs are supported")));
    }
    let host = base.host_str().ok_or_else(|| FetchError::Url(format!("{url}: no host")))?.to_string();
    let port = base.port_or_known_default().unwrap_or(80);
    let addr = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{host}:{port}"),
    };
    let host_hdr = match base.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let lm: std::collections::HashMap<String, String> = previous
        .map(|p| std::iter::once(&p.base).chain(p.objects.iter()).filter_map(|o| Some((o.path.clone(), o.last_modified.clone()?))).collect())
        .unwrap_or_default();
    let ims = |p: &str| lm.get(p).cloned();
    let clock = Clock(Instant::now());
    let base_path = match base.query() {
        Some(q) => format!("{}?{q}", base.path()),
        None => base.path().to_string(),
    };
    let mut opened = 0u32;
    let mut conn: Option<Conn> = None;
    let mut closing = Closing::default();
    // The base page first: its HTML says what else to fetch.
    let (base_obj, html) = match mode {
        Mode::Persistent | Mode::Pipelined => {
            opened += 1;
            let mut c = Conn::open(&addr, opened).await?;
            c.http = HttpConn::new(opened, true).without_notes().keep_text(usize::MAX);
            c.send(&[request(&base_path, &host_hdr, false, ims(&base_path).as_deref())], &clock).await?;
            let t = c.recv(1, &clock).await?.into_iter().next().ok_or_else(|| FetchError::Protocol("no response for the base page".into()))?;
            let html = String::from_utf8_lossy(&t.response_body).into_owned();
            // Later responses need no text kept.
            let number = c.number;
            c.http = HttpConn::new(number, false).without_notes();
            c.out = Output::default();
            conn = Some(c);
            (object(&base_path, &t, number), html)
        }
        Mode::NonPersistent | Mode::Parallel(_) => {
            opened += 1;
            let mut c = Conn::open(&addr, opened).await?;
            c.http = HttpConn::new(opened, true).without_notes().keep_text(usize::MAX);
            c.send(&[request(&base_path, &host_hdr, true, ims(&base_path).as_deref())], &clock).await?;
            let t = c.recv(1, &clock).await?.into_iter().next().ok_or_else(|| FetchError::Protocol("no response for the base page".into()))?;
            let base = (object(&base_path, &t, opened), String::from_utf8_lossy(&t.response_body).into_owned());
            closing.add(c);
            base
        }
    };
    // On a conditional reload the base page may come back 304 with no body: reuse the list.
    let paths = match previous {
        Some(p) if html.is_empty() => p.objects.iter().map(|o| o.path.clone()).collect(),
        _ => referenced_objects(&html, &base),
    };
    let mut objects = match mode {
        Mode::Persistent | Mode::Pipelined => over_one(&addr, &host_hdr, &paths, mode == Mode::Pipelined, &ims, &clock, &mut conn, &mut opened, &mut closing).await?,
        Mode::NonPersistent => {
            let mut v = vec![];
            for p in &paths {
                opened += 1;
                v.push(non_persistent(&addr, &host_hdr, p, ims(p), &clock, opened, &mut closing).await?);
            }
            v
        }
        Mode::Parallel(n) => {
            let queue = Arc::new(Mutex::new(paths.iter().cloned().collect::<VecDeque<_>>()));
            let counter = Arc::new(std::sync::atomic::AtomicU32::new(opened));
            let clock = Arc::new(clock);
            let lm = Arc::new(lm.clone());
            let mut tasks = vec![];
            for _ in 0..n.min(paths.len().max(1)) {
                let (queue, counter, clock, lm) = (queue.clone(), counter.clone(), clock.clone(), lm.clone());
                let (addr, host_hdr) = (addr.clone(), host_hdr.clone());
                tasks.push(tokio::spawn(async move {
                    let (mut got, mut closing) = (vec![], Closing::default());
                    loop {
                        let Some(p) = queue.lock().await.pop_front() else { break };
                        let number = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        got.push(non_persistent(&addr, &host_hdr, &p, lm.get(&p).cloned(), &clock, number, &mut closing).await?);
                    }
                    Ok::<_, FetchError>((got, closing))
                }));
            }
            let mut v = vec![];
            for t in tasks {
                let (got, c) = t.await.map_err(|e| FetchError::Protocol(format!("a fetch task failed: {e}")))??;
                v.extend(got);
                closing.extend(c);
            }
            opened = counter.load(std::sync::atomic::Ordering::SeqCst);
            let order: std::collections::HashMap<&String, usize> = paths.iter().enumerate().map(|(i, p)| (p, i)).collect();
            v.sort_by_key(|o| order.get(&o.path).copied().unwrap_or(usize::MAX));
            let total_ms = Clock(clock.0).ms();
            closing.finish().await;
            let bytes = base_obj.bytes + v.iter().map(|o| o.bytes).sum::<u64>();
            return Ok(PageReport { url: url.into(), mode, conditional: previous.is_some(), base: base_obj, objects: v, connections_opened: opened, bytes, total_ms });
        }
    };
    let total_ms = clock.ms();
    closing.finish().await;
    // Close politely: a FIN after the last response. Lingering, leave the connection idle
    // first, until the server closes it (its keep-alive timeout) or the time is up.
    if let Some(mut c) = conn.take() {
        if !linger.is_zero() && !c.eof {
            c.linger(linger).await;
        }
        let _ = c.sock.shutdown().await;
    }
    objects.sort_by_key(|o| paths.iter().position(|p| *p == o.path).unwrap_or(usize::MAX));
    let bytes = base_obj.bytes + objects.iter().map(|o| o.bytes).sum::<u64>();
    Ok(PageReport { url: url.into(), mode, conditional: previous.is_some(), base: base_obj, objects, connections_opened: opened, bytes, total_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("persistent".parse::<Mode>(), Ok(Mode::Persistent));
        assert_eq!("parallel:8".parse::<Mode>(), Ok(Mode::Parallel(8)));
        assert_eq!("parallel".parse::<Mode>(), Ok(Mode::Parallel(5)));
        assert!("parallel:0".parse::<Mode>().is_err());
        assert!("fast".parse::<Mode>().is_err());
    }

    #[test]
    fn objects_from_html() {
        let base = url::Url::parse("http://127.0.0.1:8080/dir/BaseFile.html").unwrap();
        let html = r##"<html><head><link rel="stylesheet" href="s.css"><script src="/app.js"></script></head>
            <body><img src="a.jpg"><img src="a.jpg"><a href="f1.txt">1</a><a href="http://elsewhere.example/x">x</a>
            <a href="#top">top</a><img src="../up.png?v=2"></body></html>"##;
        assert_eq!(referenced_objects(html, &base), ["/dir/s.css", "/app.js", "/dir/a.jpg", "/dir/f1.txt", "/up.png?v=2"]);
    }
}
