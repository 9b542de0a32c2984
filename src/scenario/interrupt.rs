//! Ctrl-C during a scenario run. The first SIGINT asks every stage to wind up: steps stop, the
//! capture is finalized, the analysis stops where it is, and the report says `interrupted`.
//! A second SIGINT exits at once with status 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A shared "stop now" flag, set by SIGINT.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the SIGINT handlers (once per process is enough; each call adds a pair).
    pub fn install() -> std::io::Result<Interrupt> {
        let flag = Arc::new(AtomicBool::new(false));
        // Registered first, so that it sees the flag as the previous SIGINT left it.
        signal_hook::flag::register_conditional_shutdown(signal_hook::consts::SIGINT, 130, flag.clone())?;
        signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
        Ok(Interrupt(flag))
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Resolves once the flag is set.
    pub async fn wait(&self) {
        while !self.is_set() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A test seam: with `WIRELAB_PAUSE_BEFORE=<stage>[,<stage>…]`, pauses before each named
    /// stage so that a test can send SIGINT at that exact moment: until a Ctrl-C comes, or for
    /// 5 s when one had come already (time for a second).
    pub fn test_pause(&self, stage: &str) {
        if std::env::var("WIRELAB_PAUSE_BEFORE").is_ok_and(|s| s.split(',').any(|x| x == stage)) {
            eprintln!("(paused before {stage})");
            let (was, t0) = (self.is_set(), std::time::Instant::now());
            while (was || !self.is_set()) && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
