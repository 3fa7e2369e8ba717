//! The dry run's "fault": no fault at all, the operation traced. Every call
//! of the chosen syscalls is logged with its process, time, decoded file
//! descriptors and result; `explore` turns the logs into crash points.

use std::time::Duration;

use super::strace::{around_worker, strace_command, Strace};
use super::{Injected, Sandboxed, WORKER_STRACE_KILLED};
use crate::docker::DockerError;

/// Where a traced operation's strace writes inside the container.
pub const TRACE_LOG: &str = "/run/mistake-cost/trace.log";
/// …and the worker's (the Nix daemon's) strace.
pub const WORKER_TRACE_LOG: &str = "/run/mistake-cost/trace-worker.log";

/// Runs `command` traced. A worker strace that had to be killed is an
/// error: its log may be cut short, and a cut trace would hide points.
pub(super) async fn inject<S: Sandboxed>(
    on: &S,
    syscalls: &[String],
    command: String,
    timeout: Duration,
) -> Result<Injected, DockerError> {
    let worker = on
        .worker_pid_file()
        .map(|pid_file| (pid_file, WORKER_TRACE_LOG));
    let traced = strace_count(&command, syscalls, TRACE_LOG, worker);
    let step = on.run(traced, timeout, None).await?;
    if step.stderr_tail.contains(WORKER_STRACE_KILLED) {
        return Err(DockerError::Other(format!(
            "{WORKER_STRACE_KILLED} (the trace may be cut short)"
        )));
    }
    Ok(Injected {
        step,
        killed: Vec::new(),
        hit: Vec::new(),
    })
}

/// The tracing-only wrapper of a dry run: every call of the set, with the
/// pid and command name of the process that made it, its time, its decoded
/// file descriptors and return value, and every process's exit. With a
/// worker (`Some((pid file, its log))`), the worker is traced the same way
/// into its own log; `explore` (its `points::merge_traces`) joins them.
pub fn strace_count(
    command: &str,
    syscalls: &[String],
    log: &str,
    worker: Option<(&str, &str)>,
) -> String {
    let strace = |log, seccomp_bpf| Strace {
        log,
        trace: syscalls,
        inject: None,
        decode_fds: true,
        quiet_exits: false,
        timestamps: true,
        seccomp_bpf,
    };
    let client = strace_command(&strace(log, true), command);
    match worker {
        None => client,
        Some((pid_file, worker_log)) => {
            around_worker(pid_file, &strace(worker_log, false), &client)
        }
    }
}
