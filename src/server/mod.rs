//! The bundled servers: instruments that produce the behaviours the scenarios compare.
//!
//! All three share the plumbing here: an accept loop that backs off on errors (logging the
//! first one), a shutdown signal every connection can watch, a bounded grace period for
//! in-flight responses, and a fan-out with bounded per-subscriber queues.

pub mod danmaku;
pub mod fanout;
pub mod http;
pub mod ws;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long in-flight connections get to finish once shutdown is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a connection task sees of the server's shutdown: `is_set` once asked, and a future
/// that completes then.
#[derive(Clone)]
pub struct ShutdownSignal(watch::Receiver<bool>);

impl ShutdownSignal {
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when shutdown is asked for (at once if it already was).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}

/// Accepts connections until `shutdown` completes, running `handle` for each in a task of its
/// own; then stops listening, tells the connections, gives them `grace` to finish and returns.
/// An accept error (out of descriptors, say) is logged once per run of errors, and the loop
/// sleeps (10 ms doubling up to 1 s) before trying again, so it never spins.
pub(crate) async fn accept_loop<H, Fut>(listener: TcpListener, what: &'static str, grace: Duration, shutdown: impl Future<Output = ()> + Send, handle: H) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::ZERO;
    let mut failures = 0u64;
    // One log line per run of errors, and at most one a minute.
    let mut last_log: Option<std::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            // Reap finished connections so the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    if failures > 1 && last_log.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                        eprintln!("wirelab: {what}: accepting again after {failures} accept errors in a row");
                    }
                    failures = 0;
                    backoff = Duration::ZERO;
                    tasks.spawn(handle(sock, peer, ShutdownSignal(rx.clone())));
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 && last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        last_log = Some(std::time::Instant::now());
                        let hint = if e.raw_os_error() == Some(24) { " (out of file descriptors: raise `ulimit -n`)" } else { "" };
                        eprintln!("wirelab: {what}: accept failed: {e}{hint}; backing off");
                    }
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut shutdown => break,
                    }
                }
            },
        }
    }
    drop(listener);
    let _ = tx.send(true);
    let drained = tokio::time::timeout(grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!("wirelab: {what}: {} connection(s) still open after the {:?} grace period; closing them", tasks.len(), grace);
        tasks.shutdown().await;
    }
    Ok(())
}
