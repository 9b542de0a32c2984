//! `wirelab capture`: a live capture into a pcapng file until a duration or Ctrl-C.

use anyhow::Result;

use wirelab::capture::live::{LiveCapture, LiveConfig};
use wirelab::render::summary::thousands;

use super::args::CaptureArgs;
use super::{exit, runtime};

pub fn capture(a: CaptureArgs) -> Result<u8> {
    let CaptureArgs { interface, filter, output, duration, snaplen, buffer_mib } = a;
    let comment = format!("wirelab capture on {interface}, filter {filter:?}, started {}", httpdate::fmt_http_date(std::time::SystemTime::now()));
    let cfg = LiveConfig { interface: interface.clone(), filter, snaplen, buffer_bytes: buffer_mib.saturating_mul(1 << 20), comment };
    let cap = LiveCapture::start(&cfg, &output)?;
    let until = match duration {
        Some(d) => format!("{d} s; Ctrl-C stops early"),
        None => "Ctrl-C stops".into(),
    };
    eprintln!("wirelab: capturing on {interface} into {} ({until})", output.display());
    runtime(1)?.block_on(async {
        match duration {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs_f64(d.max(0.0))) => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    let st = cap.stop()?;
    eprintln!(
        "wirelab: {} packets ({} bytes) written to {}; kernel dropped {}",
        thousands(st.packets),
        thousands(st.bytes),
        output.display(),
        st.kernel_dropped + st.interface_dropped
    );
    Ok(exit::OK)
}
