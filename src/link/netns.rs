//! Named network namespaces (iproute2's `/run/netns`): create, enter on a thread, remove, sweep leftovers.
//!
//! wirelab's namespaces are named `wirelab-<pid>-<n>-<side>`, so a run killed with SIGKILL leaves
//! leftovers that say whose they were; [`sweep_leftovers`] removes those whose process is gone
//! and never those of a live one.

use std::fs::File;
use std::path::Path;
use std::process::Command;

use nix::sched::{setns, CloneFlags};

use super::LinkError;

/// Where iproute2 keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";
/// Every namespace wirelab creates starts with this.
pub const PREFIX: &str = "wirelab-";

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// Fails with the one-line [`LinkError::Privilege`] unless this process may create namespaces
/// and TUN devices (CAP_NET_ADMIN and CAP_SYS_ADMIN, which root has).
pub fn check_privilege() -> Result<(), LinkError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(LinkError::io("reading /proc/self/status"))?;
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()).unwrap_or(0);
    let has = |cap: u32| eff & (1u64 << cap) != 0;
    if has(CAP_NET_ADMIN) && has(CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(LinkError::Privilege)
    }
}

/// Runs `ip ARGS`, turning a failure into an error that quotes iproute2's message.
pub fn ip(args: &[&str]) -> Result<(), LinkError> {
    let out = Command::new("ip").args(args).output().map_err(|e| LinkError::NoIproute(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LinkError::Ip { args: args.join(" "), message: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

/// The name of this process's `n`th namespace on `side` (`srv` or `cli`).
pub fn name(pid: u32, n: u32, side: &str) -> String {
    format!("{PREFIX}{pid}-{n}-{side}")
}

/// The pid in a wirelab namespace's name, if it is one.
pub fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

/// Creates the named namespace and opens it (the handle threads enter it by).
pub fn create(name: &str) -> Result<File, LinkError> {
    ip(&["netns", "add", name])?;
    File::open(Path::new(NETNS_DIR).join(name)).map_err(LinkError::io(format!("opening namespace {name}")))
}

/// Removes the named namespace; one that is already gone is not an error.
pub fn remove(name: &str) -> Result<(), LinkError> {
    if !Path::new(NETNS_DIR).join(name).exists() {
        return Ok(());
    }
    match ip(&["netns", "del", name]) {
        Err(_) if !Path::new(NETNS_DIR).join(name).exists() => Ok(()),
        r => r,
    }
}

/// wirelab's namespaces that exist now.
pub fn list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else { return Vec::new() };
    let mut v: Vec<String> = dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| owner_pid(n).is_some()).collect();
    v.sort();
    v
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the namespaces left by wirelab processes that no longer run (e.g. killed with
/// SIGKILL); returns their names. Namespaces of live processes are left alone.
pub fn sweep_leftovers() -> Vec<String> {
    let me = std::process::id();
    list().into_iter().filter(|n| owner_pid(n).is_some_and(|p| p != me && !alive(p))).filter(|n| remove(n).is_ok()).collect()
}

/// Removes every namespace of process `pid` (for a last-resort clean-up, e.g. on a signal).
pub fn remove_all_of(pid: u32) -> Result<(), LinkError> {
    let mut first_err = None;
    for n in list().into_iter().filter(|n| owner_pid(n) == Some(pid)) {
        if let Err(e) = remove(&n) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Runs `f` on a new thread that has entered the namespace `ns`, and returns what it returns.
/// Sockets and devices opened by `f` belong to that namespace and can be used from any thread.
/// The thread exits afterwards, so no thread of the process stays in the namespace.
pub fn run_in<T: Send, F: FnOnce() -> T + Send>(ns: &File, f: F) -> Result<T, LinkError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| LinkError::Io { what: "entering the namespace (setns)".into(), source: e.into() })?;
            Ok(f())
        })
        .join()
        .map_err(|_| LinkError::Panicked)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid() {
        assert_eq!(name(4321, 0, "srv"), "wirelab-4321-0-srv");
        assert_eq!(owner_pid("wirelab-4321-0-srv"), Some(4321));
        assert_eq!(owner_pid("wirelab-x-0-srv"), None);
        assert_eq!(owner_pid("other-4321"), None);
    }
}
