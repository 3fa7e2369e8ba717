//! Labels on every Docker object the harness creates. `mistake-cost.run`
//! names the run; the owner labels let a later start tell a dead run's
//! leftovers from a live run's containers.

use std::collections::HashMap;
use std::fmt;

pub const RUN_LABEL: &str = "mistake-cost.run";
pub const PID_LABEL: &str = "mistake-cost.pid";
pub const HOST_LABEL: &str = "mistake-cost.host";

/// A run's identity: `<UTC timestamp>-<8 hex chars>`, also the default name
/// of its results folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(pub String);

impl RunId {
    pub fn new() -> Self {
        let now = time::OffsetDateTime::now_utc();
        let stamp = now
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_else(|_| "run".into());
        let salt = blake3::hash(format!("{:?}{}", now, std::process::id()).as_bytes());
        RunId(format!("{stamp}-{}", &salt.to_hex()[..8]))
    }

    /// Labels for an object this process creates now.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (RUN_LABEL.to_string(), self.0.clone()),
            (PID_LABEL.to_string(), std::process::id().to_string()),
            (HOST_LABEL.to_string(), hostname()),
        ])
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
