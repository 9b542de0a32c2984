//! Stages 4 and 7, capture and drain: a libpcap capture of exactly the scenario's ports, started
//! before the first client, and stopped once the last packets have been written.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::network::Network;
use super::plan::Plan;
use super::RunError;
use crate::capture::live::{CaptureStats, LiveCapture, LiveConfig};


/// A capture in progress.
pub struct Recording {
    live: LiveCapture,
    pub path: PathBuf,
    pub filter: String,
}

/// A finished capture.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    pub file: PathBuf,
    pub interface: String,
    pub filter: String,
    pub stats: CaptureStats,
}

impl Recorded {
    pub fn drops(&self) -> u64 {
        self.stats.kernel_dropped as u64 + self.stats.interface_dropped as u64
    }
}

pub fn start(net: &Network, plan: &Plan, filter: String, path: &Path) -> Result<Recording, RunError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| RunError::Output { path: dir.to_path_buf(), source })?;
    }
    let cfg = LiveConfig {
        interface: net.capture_interface().to_string(),
        filter: filter.clone(),
        snaplen: plan.capture.snaplen,
        buffer_bytes: plan.capture.buffer_mib.saturating_mul(1 << 20),
        comment: format!(
            "wirelab {} scenario {} ({}) on {}, started {}",
            env!("CARGO_PKG_VERSION"),
            plan.name,
            plan.file.display(),
            net.describe(),
            httpdate::fmt_http_date(SystemTime::now())
        ),
    };
    let live = net.capture(&cfg, path)?;
    Ok(Recording { live, path: path.to_path_buf(), filter })
}

impl Recording {
    /// Waits for the last packets to be written, stops the capture and closes the file.
    pub fn drain(self, net: &Network) -> Result<Recorded, RunError> {
        let stats = self.live.stop()?;
        super::output::chown_to_sudo_user(&self.path);
        Ok(Recorded { file: self.path, interface: net.capture_interface().to_string(), filter: self.filter, stats })
    }
}
