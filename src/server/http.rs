//! The HTTP/1.1 static-file instrument: persistent or not, keep-alive timeout and max, pipelined
//! requests answered in order, byte ranges, conditional GET, and limits against hostile clients.
//!
//! It is built to be measured: each response goes out in one write (header block and body
//! together when the body is small), sockets use `TCP_NODELAY`, and a connection is closed
//! with a FIN after the client's bytes were read, never with a RST.
//!
//! Against hostile clients: a strict `Content-Length` (RFC 9112 §6.3), a send timeout between
//! writes (like nginx's `send_timeout`), at most [`FILE_CHUNK`] bytes of a large file in memory
//! per connection, and [`run`] stops on a shutdown signal after in-flight responses finish.

use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::ShutdownSignal;
use crate::proto::http::{find_head_end, MAX_HEAD};

/// A large (uncached) file is read and sent this many bytes at a time: the most of it that a
/// connection holds in memory.
pub const FILE_CHUNK: usize = 64 * 1024;

/// Every behaviour a scenario compares is a switch here.
#[derive(Debug, Clone)]
pub struct HttpServerConfig {
    pub root: PathBuf,
    /// Keep connections open between requests (`Connection: keep-alive`), or close after each.
    pub persistent: bool,
    /// Close a persistent connection after this long without a new request.
    pub keepalive_timeout: Duration,
    /// Close a persistent connection after this many requests.
    pub keepalive_max: u32,
    /// A request's header block must be complete this long after its first byte (slowloris).
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Largest request body accepted (413 beyond).
    pub max_body: u64,
    pub access_log: Option<PathBuf>,
    /// A write that makes no progress for this long closes the connection (nginx's
    /// `send_timeout`): a client that never reads cannot hold its response for ever.
    pub send_timeout: Duration,
    /// How long in-flight responses get to finish at shutdown.
    pub grace: Duration,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            root: PathBuf::from("www"),
            persistent: true,
            keepalive_timeout: Duration::from_secs(5),
            keepalive_max: 100,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body: 1 << 20,
            access_log: None,
            send_timeout: Duration::from_secs(60),
            grace: super::SHUTDOWN_GRACE,
        }
    }
}

/// The access log: CSV, one line per response, flushed as written.
struct AccessLog {
    out: Mutex<Option<std::io::BufWriter<std::fs::File>>>,
}

impl AccessLog {
    fn open(path: Option<&Path>) -> io::Result<Self> {
        let out = match path {
            Some(p) => {
                let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
                use std::io::Write;
                writeln!(f, "timestamp,client,method,target,status,bytes,connection,request")?;
                f.flush()?;
                Some(f)
            }
            None => None,
        };
        Ok(AccessLog { out: Mutex::new(out) })
    }

    #[allow(clippy::too_many_arguments)]
    fn line(&self, peer: SocketAddr, method: &str, target: &str, status: u16, bytes: u64, conn: u64, req: u32) {
        let mut g = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = g.as_mut() {
            use std::io::Write;
            let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let _ = writeln!(f, "{ts:.6},{peer},{},{},{status},{bytes},{conn},{req}", q(method), q(target));
            let _ = f.flush();
        }
    }
}

/// Serves until the listener fails. Each connection runs in its own task.
pub async fn serve(listener: TcpListener, cfg: HttpServerConfig) -> io::Result<()> {
    run(listener, cfg, std::future::pending()).await
}

/// Serves until `shutdown` completes; then stops accepting, lets in-flight responses finish
/// (idle keep-alive connections close at once) for at most `cfg.grace`, and returns.
pub async fn run(listener: TcpListener, cfg: HttpServerConfig, shutdown: impl std::future::Future<Output = ()> + Send) -> io::Result<()> {
    let root = cfg.root.canonicalize()?;
    let log = Arc::new(AccessLog::open(cfg.access_log.as_deref())?);
    let cfg = Arc::new(HttpServerConfig { root, ..cfg });
    let cache = Arc::new(FileCache::default());
    cache.prewarm(&cfg.root);
    let ids = AtomicU64::new(0);
    let grace = cfg.grace;
    super::accept_loop(listener, "serve http", grace, shutdown, move |sock, peer, stop| {
        let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
        let (cfg, log, cache) = (cfg.clone(), log.clone(), cache.clone());
        async move {
            let _ = connection(sock, peer, id, &cfg, &log, &cache, stop).await;
        }
    })
    .await
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    None,
    Bytes(Vec<u8>),
    /// A range of a small file held in the cache.
    Cached { data: Arc<[u8]>, start: usize, len: usize },
    File { path: PathBuf, start: u64, len: u64 },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::None => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Cached { len, .. } => *len as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// Files up to this size are kept in memory (re-read when their mtime or size changes).
const CACHE_FILE: u64 = 1 << 20;
const CACHE_TOTAL: usize = 64 << 20;

struct Cached {
    mtime: SystemTime,
    len: u64,
    data: Arc<[u8]>,
    headers: Arc<FileHeaders>,
}

/// The headers that depend only on the file: computed once per version of it.
struct FileHeaders {
    content_type: String,
    last_modified: String,
    etag: String,
    mtime_s: u64,
}

fn file_headers(path: &Path, meta: &std::fs::Metadata) -> FileHeaders {
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    let mtime_s = mtime.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let ctype = mime_guess::from_path(path).first_or_octet_stream().essence_str().to_string();
    FileHeaders {
        content_type: if ctype.starts_with("text/") { format!("{ctype}; charset=utf-8") } else { ctype },
        last_modified: http_date(mtime),
        etag: format!("\"{mtime_s:x}-{:x}\"", meta.len()),
        mtime_s,
    }
}

/// Small files by path, validated against the file's metadata on every request.
#[derive(Default)]
pub struct FileCache {
    files: Mutex<std::collections::HashMap<PathBuf, Cached>>,
}

impl FileCache {
    /// Loads the small files under `root` (up to the cache's size), so that the first request
    /// for a file costs what later ones cost: a warm-up must not distort a measurement.
    pub fn prewarm(&self, root: &Path) {
        let mut dirs = vec![root.to_path_buf()];
        let mut loaded = 0usize;
        while let Some(d) = dirs.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    dirs.push(e.path());
                } else if ft.is_file() {
                    if let Ok(meta) = e.metadata() {
                        if meta.len() <= CACHE_FILE && loaded + meta.len() as usize <= CACHE_TOTAL / 2 {
                            loaded += meta.len() as usize;
                            let _ = self.get(&e.path(), &meta);
                        }
                    }
                }
            }
        }
    }

    /// The file's headers, and its bytes when it is small enough to keep.
    fn get(&self, path: &Path, meta: &std::fs::Metadata) -> (Arc<FileHeaders>, Option<Arc<[u8]>>) {
        let (Ok(mtime), true) = (meta.modified(), meta.len() <= CACHE_FILE) else {
            return (Arc::new(file_headers(path, meta)), None);
        };
        let mut g = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = g.get(path) {
            if c.mtime == mtime && c.len == meta.len() {
                return (c.headers.clone(), Some(c.data.clone()));
            }
        }
        let headers = Arc::new(file_headers(path, meta));
        let data: Arc<[u8]> = match std::fs::read(path) {
            Ok(d) if d.len() as u64 == meta.len() => d.into(),
            // Missing or changing under us: serve from the file instead.
            _ => return (headers, None),
        };
        let total: usize = g.values().map(|c| c.data.len()).sum();
        if total + data.len() > CACHE_TOTAL {
            g.clear();
        }
        g.insert(path.to_path_buf(), Cached { mtime, len: meta.len(), data: data.clone(), headers: headers.clone() });
        (headers, Some(data))
    }
}

/// The Date header, formatted once per second.
fn date_now() -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    LAST.with(|l| {
        let mut l = l.borrow_mut();
        if l.0 != secs {
            *l = (secs, http_date(now));
        }
        l.1.clone()
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn error(status: u16) -> Response {
    let text = format!("<!doctype html><title>{status} {r}</title><h1>{status} {r}</h1>\n", r = reason(status));
    Response { status, headers: vec![("Content-Type", "text/html; charset=utf-8".into())], body: Body::Bytes(text.into_bytes()) }
}

/// What the request asked for, once parsed.
struct Request {
    method: String,
    target: String,
    minor: u8,
    close: bool,
    keep_alive: bool,
    if_modified_since: Option<String>,
    if_none_match: Option<String>,
    range: Option<String>,
    content_length: u64,
}

enum Parsed {
    Ok(Request, usize),
    Reply(Response),
}

fn parse(head: &[u8], cfg: &HttpServerConfig) -> Parsed {
    let mut headers = vec![httparse::EMPTY_HEADER; cfg.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(n)) => {
            let get = |name: &str| req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| String::from_utf8_lossy(h.value).trim().to_string());
            let conn = get("connection").unwrap_or_default().to_ascii_lowercase();
            let content_length = match content_length(req.headers) {
                Ok(n) => n.unwrap_or(0),
                Err(()) => return Parsed::Reply(error(400)),
            };
            if get("transfer-encoding").is_some() {
                // This instrument serves files; a chunked request body is refused plainly.
                return Parsed::Reply(error(400));
            }
            Parsed::Ok(
                Request {
                    method: req.method.unwrap_or("").to_string(),
                    target: req.path.unwrap_or("/").to_string(),
                    minor: req.version.unwrap_or(1),
                    close: conn.split(',').any(|t| t.trim() == "close"),
                    keep_alive: conn.split(',').any(|t| t.trim() == "keep-alive"),
                    if_modified_since: get("if-modified-since"),
                    if_none_match: get("if-none-match"),
                    range: get("range"),
                    content_length,
                },
                n,
            )
        }
        Err(httparse::Error::TooManyHeaders) => Parsed::Reply(error(431)),
        Err(httparse::Error::Version) => Parsed::Reply(error(505)),
        _ => Parsed::Reply(error(400)),
    }
}

/// The request's `Content-Length` (RFC 9112 §6.3): every field and every comma-separated
/// member must be the same plain decimal number (no sign, no leading zeros, no spaces inside);
/// anything else is `Err` (400). `None` without the field.
#[allow(clippy::result_unit_err)] // the only error is "400", said by the caller
pub fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, ()> {
    let mut found: Option<u64> = None;
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-length")) {
        let v = std::str::from_utf8(h.value).map_err(|_| ())?;
        for member in v.split(',') {
            let m = member.trim_matches([' ', '\t']);
            let plain = !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) && (m == "0" || !m.starts_with('0'));
            let n: u64 = if plain { m.parse().map_err(|_| ())? } else { return Err(()) };
            if found.is_some_and(|f| f != n) {
                return Err(());
            }
            found = Some(n);
        }
    }
    Ok(found)
}

/// Maps a request target to a file under `root`, refusing anything that leaves it. Returns the
/// path and its metadata (from the same system call when no symlink is involved).
fn resolve(root: &Path, target: &str) -> Result<(PathBuf, std::fs::Metadata), u16> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().map_err(|_| 400u16)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(400);
    }
    let mut rel = PathBuf::new();
    for c in Path::new(decoded.trim_start_matches('/')).components() {
        match c {
            Component::Normal(p) => rel.push(p),
            Component::CurDir => {}
            // `..` (however it was encoded) or an absolute part: outside the root.
            _ => return Err(403),
        }
    }
    // `root` is canonical, so only the components below it can lead elsewhere. Check those
    // for symlinks (usually one lstat) and canonicalize only when there is one.
    let mut full = root.to_path_buf();
    let mut linked = false;
    let mut meta = std::fs::symlink_metadata(root).map_err(|_| 404u16)?;
    for c in rel.components() {
        full.push(c);
        meta = std::fs::symlink_metadata(&full).map_err(|_| 404u16)?;
        linked |= meta.file_type().is_symlink();
    }
    if linked {
        full = full.canonicalize().map_err(|_| 404u16)?;
        // A symlink that leads out of the root is refused.
        if !full.starts_with(root) {
            return Err(403);
        }
        meta = std::fs::metadata(&full).map_err(|_| 404u16)?;
    }
    if meta.is_dir() {
        let (index, m) = resolve(root, &format!("{}/index.html", rel.display()))?;
        return Ok((index, m));
    }
    // `/file.html/` names a directory that is not there (404, as nginx answers).
    if decoded.ends_with('/') {
        return Err(404);
    }
    Ok((full, meta))
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// One byte range of `len` bytes, from a `Range` header; `Err` when unsatisfiable.
fn range(spec: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = spec.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: serve the whole file (allowed by RFC 9110 §14.2)
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len.saturating_sub(1))
    } else {
        let start: u64 = a.parse().ok()?;
        let end: u64 = if b.is_empty() { len.saturating_sub(1) } else { b.parse::<u64>().ok()?.min(len.saturating_sub(1)) };
        (start, end)
    };
    if len == 0 || r.0 >= len || r.0 > r.1 {
        return Some(Err(()));
    }
    Some(Ok(r))
}

fn handle(req: &Request, cfg: &HttpServerConfig, cache: &FileCache) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        let mut r = error(405);
        r.headers.push(("Allow", "GET, HEAD".into()));
        return r;
    }
    if req.content_length > cfg.max_body {
        return error(413);
    }
    let (path, meta) = match resolve(&cfg.root, &req.target) {
        Ok((p, m)) if m.is_file() => (p, m),
        Ok(_) => return error(404),
        Err(code) => return error(code),
    };
    let len = meta.len();
    let (fh, cached) = cache.get(&path, &meta);
    let (etag, mtime_s) = (fh.etag.clone(), fh.mtime_s);
    let mut headers = vec![
        ("Content-Type", fh.content_type.clone()),
        ("Last-Modified", fh.last_modified.clone()),
        ("ETag", etag.clone()),
        ("Accept-Ranges", "bytes".into()),
    ];
    // Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    let not_modified = match (&req.if_none_match, &req.if_modified_since) {
        (Some(inm), _) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        (None, Some(ims)) => httpdate::parse_http_date(ims).map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() >= mtime_s).unwrap_or(false),
        _ => false,
    };
    if not_modified {
        headers.retain(|(n, _)| *n != "Content-Type" && *n != "Accept-Ranges");
        return Response { status: 304, headers, body: Body::None };
    }
    if let Some(spec) = &req.range {
        match range(spec, len) {
            Some(Ok((a, b))) => {
                headers.push(("Content-Range", format!("bytes {a}-{b}/{len}")));
                let body = match cached {
                    Some(data) => Body::Cached { data, start: a as usize, len: (b - a + 1) as usize },
                    None => Body::File { path, start: a, len: b - a + 1 },
                };
                return Response { status: 206, headers, body };
            }
            Some(Err(())) => {
                let mut r = error(416);
                r.headers.push(("Content-Range", format!("bytes */{len}")));
                return r;
            }
            None => {}
        }
    }
    let body = match cached {
        Some(data) => Body::Cached { start: 0, len: data.len(), data },
        None => Body::File { path, start: 0, len },
    };
    Response { status: 200, headers, body }
}

/// Writes the response: the header block and (small) body in one write.
async fn send(sock: &mut TcpStream, r: &Response, head_only: bool, close: bool, left: u32, cfg: &HttpServerConfig) -> io::Result<u64> {
    let t = cfg.send_timeout;
    use std::fmt::Write as _;
    let body_len = r.body.len();
    let mut head = String::with_capacity(320);
    let _ = write!(head, "HTTP/1.1 {} {}\r\nDate: {}\r\nServer: wirelab/{}\r\n", r.status, reason(r.status), date_now(), env!("CARGO_PKG_VERSION"));
    for (n, v) in &r.headers {
        let _ = write!(head, "{n}: {v}\r\n");
    }
    if r.status != 304 {
        let _ = write!(head, "Content-Length: {body_len}\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n\r\n");
    } else {
        let _ = write!(head, "Connection: keep-alive\r\nKeep-Alive: timeout={}, max={left}\r\n\r\n", cfg.keepalive_timeout.as_secs());
    }
    let mut out = head.into_bytes();
    if head_only {
        write_all(sock, &out, t).await?;
        return Ok(0);
    }
    match &r.body {
        Body::None => {}
        Body::Bytes(b) => out.extend_from_slice(b),
        Body::Cached { data, start, len } => {
            // One writev: the header block and the cached body, without copying the body.
            write_both(sock, &out, &data[*start..*start + *len], t).await?;
            return Ok(*len as u64);
        }
        Body::File { path, start, len } => {
            // Large (uncached) files: plain blocking reads on this thread. The page cache
            // answers them, and a hop to a thread pool would cost more than it saves.
            use std::io::{Read, Seek};
            let mut f = std::fs::File::open(path)?;
            f.seek(std::io::SeekFrom::Start(*start))?;
            let first = (*len).min(FILE_CHUNK as u64) as usize;
            let at = out.len();
            out.resize(at + first, 0);
            f.read_exact(&mut out[at..])?;
            write_all(sock, &out, t).await?;
            let mut sent = first as u64;
            if sent < *len {
                let mut buf = out;
                buf.resize(FILE_CHUNK, 0);
                while sent < *len {
                    let n = ((*len - sent) as usize).min(buf.len());
                    f.read_exact(&mut buf[..n])?;
                    write_all(sock, &buf[..n], t).await?;
                    sent += n as u64;
                }
            }
            return Ok(sent);
        }
    }
    write_all(sock, &out, t).await?;
    Ok(body_len)
}

/// Writes all of `buf`; `TimedOut` when one write makes no progress within `t`.
async fn write_all(sock: &mut TcpStream, buf: &[u8], t: Duration) -> io::Result<()> {
    write_both(sock, buf, &[], t).await
}

/// Writes `a` then `b` with vectored writes (a single `writev` when the socket takes it all);
/// `TimedOut` when one write makes no progress within `t`.
async fn write_both(sock: &mut TcpStream, mut a: &[u8], mut b: &[u8], t: Duration) -> io::Result<()> {
    while !a.is_empty() || !b.is_empty() {
        let n = tokio::time::timeout(t, sock.write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)])).await.map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n >= a.len() {
            b = &b[n - a.len()..];
            a = &[];
        } else {
            a = &a[n..];
        }
    }
    Ok(())
}

/// Closes with a FIN: stop writing, then read what the client still sends (so the kernel has
/// no unread bytes that would turn the close into a RST), for at most a second.
async fn close(mut sock: TcpStream) {
    let _ = sock.shutdown().await;
    // On the heap: a buffer in the future itself would be copied each time the future moves.
    let mut sink = vec![0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline.into(), sock.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}

async fn connection(mut sock: TcpStream, peer: SocketAddr, id: u64, cfg: &HttpServerConfig, log: &AccessLog, cache: &FileCache, mut stop: ShutdownSignal) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut served: u32 = 0;
    let limit = cfg.max_header_bytes.min(MAX_HEAD);
    loop {
        // Wait for a whole header block. An idle persistent connection closes after the
        // keep-alive timeout; a started header block must finish within the header timeout.
        let mut first_byte: Option<Instant> = (!buf.is_empty()).then(Instant::now);
        let end = loop {
            let skip = buf.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
            buf.drain(..skip);
            let end = find_head_end(&buf);
            if end.unwrap_or(buf.len()) > limit {
                let r = error(431);
                let _ = send(&mut sock, &r, false, true, 0, cfg).await;
                log.line(peer, "-", "-", 431, r.body.len(), id, served + 1);
                close(sock).await;
                return Ok(());
            }
            if let Some(end) = end {
                break end;
            }
            let deadline = match first_byte {
                Some(t) => t + cfg.header_timeout,
                None if served == 0 => Instant::now() + cfg.header_timeout,
                None => Instant::now() + cfg.keepalive_timeout,
            };
            // Read straight into `buf` (no buffer inside the future: it would be copied each
            // time the future moves, a cost per connection).
            buf.reserve(8192);
            // At shutdown, a connection between requests closes; one in a request goes on.
            let idle = first_byte.is_none();
            let read = tokio::select! {
                r = tokio::time::timeout_at(deadline.into(), sock.read_buf(&mut buf)) => r,
                _ = stop.wait(), if idle => {
                    close(sock).await;
                    return Ok(());
                }
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
                Ok(Ok(_)) => {
                    first_byte.get_or_insert_with(Instant::now);
                }
                Err(_) => {
                    if first_byte.is_some() {
                        let r = error(408);
                        let _ = send(&mut sock, &r, false, true, 0, cfg).await;
                        log.line(peer, "-", "-", 408, r.body.len(), id, served + 1);
                    }
                    close(sock).await;
                    return Ok(());
                }
            }
        };
        served += 1;
        let (req, consumed) = match parse(&buf[..end], cfg) {
            Parsed::Ok(r, n) => (r, n),
            Parsed::Reply(r) => {
                let _ = send(&mut sock, &r, false, true, 0, cfg).await;
                log.line(peer, "-", "-", r.status, r.body.len(), id, served);
                close(sock).await;
                return Ok(());
            }
        };
        buf.drain(..consumed);
        // Read (and discard) a request body so that the connection stays in step.
        if req.content_length > 0 && req.content_length <= cfg.max_body {
            let mut left = req.content_length;
            let have = (buf.len() as u64).min(left);
            buf.drain(..have as usize);
            left -= have;
            let mut chunk = vec![0u8; 8192];
            while left > 0 {
                let n = match tokio::time::timeout(cfg.header_timeout, sock.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => n,
                    _ => return Ok(()),
                };
                let used = (n as u64).min(left) as usize;
                left -= used as u64;
                buf.extend_from_slice(&chunk[used..n]);
            }
        }
        let resp = handle(&req, cfg, cache);
        let wants_close = req.close || (req.minor == 0 && !req.keep_alive);
        let close_now = !cfg.persistent || wants_close || served >= cfg.keepalive_max || resp.status == 413 || stop.is_set();
        let sent = send(&mut sock, &resp, req.method == "HEAD", close_now, cfg.keepalive_max.saturating_sub(served), cfg).await?;
        log.line(peer, &req.method, &req.target, resp.status, sent, id, served);
        if close_now {
            close(sock).await;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused_however_encoded() {
        let root = std::env::temp_dir().join(format!("wirelab-root-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        let root = root.canonicalize().unwrap();
        let code = |t: &str| resolve(&root, t).map(|_| ()).unwrap_err();
        assert!(resolve(&root, "/sub/a.txt").is_ok());
        assert!(resolve(&root, "/sub/./a.txt?x=1").is_ok());
        for bad in ["/../etc/passwd", "/sub/../../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd", "/sub/%2e%2e/%2e%2e/x"] {
            assert_eq!(code(bad), 403, "{bad}");
        }
        assert_eq!(code("/a%00b"), 400);
        assert_eq!(code("/nope.txt"), 404);
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink("/etc/hostname", root.join("out"));
            assert_eq!(code("/out"), 403, "a symlink out of the root");
            let _ = std::os::unix::fs::symlink(root.join("sub"), root.join("inside"));
            assert!(resolve(&root, "/inside/a.txt").is_ok(), "a symlink inside the root is followed");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn content_length_is_strict() {
        let cl = |vals: &[&str]| {
            let hs: Vec<httparse::Header> = vals.iter().map(|v| httparse::Header { name: "Content-Length", value: v.as_bytes() }).collect();
            content_length(&hs)
        };
        assert_eq!(cl(&[]), Ok(None));
        assert_eq!(cl(&["0"]), Ok(Some(0)));
        assert_eq!(cl(&["33"]), Ok(Some(33)));
        assert_eq!(cl(&["33", "33"]), Ok(Some(33)));
        assert_eq!(cl(&["33, 33"]), Ok(Some(33)));
        for bad in [&["5", "6"][..], &["+33"], &["033"], &["-1"], &["3 3"], &[""], &["5, 6"], &["0x10"], &["99999999999999999999999"]] {
            assert_eq!(cl(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn a_trailing_slash_after_a_file_is_404() {
        let root = std::env::temp_dir().join(format!("wirelab-slash-{}", std::process::id()));
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("f.html"), "f").unwrap();
        std::fs::write(root.join("d/index.html"), "i").unwrap();
        let root = root.canonicalize().unwrap();
        assert!(resolve(&root, "/f.html").is_ok());
        assert_eq!(resolve(&root, "/f.html/").map(|_| ()).unwrap_err(), 404);
        assert!(resolve(&root, "/d/").is_ok());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-99", 1000), Some(Ok((0, 99))));
        assert_eq!(range("bytes=900-", 1000), Some(Ok((900, 999))));
        assert_eq!(range("bytes=-100", 1000), Some(Ok((900, 999))));
        assert_eq!(range("bytes=990-2000", 1000), Some(Ok((990, 999))));
        assert_eq!(range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(range("bytes=5-1", 1000), Some(Err(())));
        assert_eq!(range("bytes=0-1,5-6", 1000), None);
        assert_eq!(range("items=0-1", 1000), None);
    }
}
