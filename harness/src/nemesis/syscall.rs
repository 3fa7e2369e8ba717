//! The `syscall` fault family: the k-th call of each named syscall, per
//! process, is killed (SIGKILL) or fails with an errno — in the operation's
//! process tree and in the approach's worker, if it has one.

use std::time::Duration;

use super::injector;
use super::strace::{around_worker, around_worker_with, strace_command, Strace};
use super::{Fault, Injected, Sandboxed};
use crate::docker::DockerError;
use crate::scenario::FaultSpec;

/// Concrete faults of one `syscall` spec: one per `at`.
pub(super) fn expand(spec: &FaultSpec) -> Vec<Fault> {
    let names: Vec<String> = spec.syscalls.iter().map(|s| s.get_ref().clone()).collect();
    spec.at
        .iter()
        .map(|&n| Fault::Syscall {
            syscalls: names.clone(),
            at: n,
            errno: spec.errno.as_ref().map(|e| e.get_ref().clone()),
        })
        .collect()
}

/// Runs `command` under the fault. A kill fired when strace's logs say a
/// process was killed (the tool's exit status may hide it).
pub(super) async fn inject<S: Sandboxed>(
    on: &S,
    syscalls: &[String],
    at: u64,
    errno: Option<&str>,
    command: String,
    timeout: Duration,
) -> Result<Injected, DockerError> {
    let wrapped = strace_wrap_for(on.worker_pid_file(), &command, syscalls, at, errno);
    let mut step = on.run(wrapped, timeout, None).await?;
    let mut killed = Vec::new();
    if errno.is_none() {
        killed = injected_kills(on).await?;
        mark_kills(&mut step, &killed);
    }
    Ok(Injected {
        step,
        killed,
        hit: Vec::new(),
    })
}

/// A kill that fired is part of the operation's record: when, and whom.
fn mark_kills(step: &mut crate::history::Step, killed: &[String]) {
    if !killed.is_empty() {
        step.fault_fired_ms = Some(step.ms);
        step.command = format!("{} [nemesis killed: {}]", step.command, killed.join(", "));
    }
}

/// An explore crash point, as [`super::Fault::CrashPoint`] holds it.
#[derive(Debug, Clone, Copy)]
pub struct Point<'a> {
    /// The call the injector kills at.
    pub target: injector::Target<'a>,
    /// In the worker's tree (the injector attaches to the worker), else in
    /// the operation's.
    pub in_worker: bool,
}

/// Runs `command` crashed at `point`; the kill fired when a log says so.
pub(super) async fn inject_point<S: Sandboxed>(
    on: &S,
    point: &Point<'_>,
    command: String,
    timeout: Duration,
) -> Result<Injected, DockerError> {
    let wrapped =
        crash_point_wrap(on.worker_pid_file(), &command, point).map_err(DockerError::Other)?;
    let mut step = on.run(wrapped, timeout, None).await?;
    let log = on.read_files(&[INJECT_LOG, WORKER_INJECT_LOG]).await?;
    let killed = killed_processes(&log);
    let hit = hit_operations(&log);
    mark_kills(&mut step, &killed);
    if !hit.is_empty() {
        step.command = format!(
            "{} [hit: {}]",
            step.command,
            hit.iter()
                .map(|h| format!("{} ({})", h.operation, h.paths))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(Injected {
        step,
        killed,
        hit: hit.into_iter().map(|h| h.operation).collect(),
    })
}

/// What the injector's log says a kill hit: `TID<comm> hit OPERATION`, a
/// tab, the raw paths.
pub struct Hit {
    /// `syscall label #k`, as explore names a crash point's operation.
    pub operation: String,
    /// The call's paths before normalisation.
    pub paths: String,
}

/// Every hit line of an injector's log, in order.
pub fn hit_operations(log: &str) -> Vec<Hit> {
    log.lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("> hit ")?;
            let (operation, paths) = rest.split_once('\t').unwrap_or((rest, ""));
            Some(Hit {
                operation: operation.to_string(),
                paths: paths.to_string(),
            })
        })
        .collect()
}

/// The operation with a crash point around it: the kill injector, limited
/// to the point's process name, in the operation's tree; or, for a point in
/// the worker's tree, the injector attached to the worker (every syscall
/// stops it there, as under strace) and the operation itself untraced.
pub fn crash_point_wrap(
    worker_pid_file: Option<&str>,
    command: &str,
    point: &Point,
) -> Result<String, String> {
    if !point.in_worker {
        return Ok(injector::targeted(command, &point.target, INJECT_LOG));
    }
    let pid_file = worker_pid_file.ok_or_else(|| {
        format!(
            "crash point {}#{} is in a worker's tree, but this approach has no worker",
            point.target.syscall, point.target.at
        )
    })?;
    let attach = injector::attach_command(&point.target, WORKER_INJECT_LOG);
    Ok(format!(
        "{} {}",
        injector::present_or_126(),
        around_worker_with(pid_file, WORKER_INJECT_LOG, &attach, command)
    ))
}

/// The processes a syscall fault's SIGKILL ended (empty: it never fired).
pub async fn injected_kills<S: Sandboxed>(on: &S) -> Result<Vec<String>, DockerError> {
    // The worker's log exists only when the approach has a worker.
    let log = on.read_files(&[INJECT_LOG, WORKER_INJECT_LOG]).await?;
    Ok(killed_processes(&log))
}

/// The operation command with a syscall fault wrapped around it. A kill at
/// one syscall the injector knows goes through it (only that syscall stops
/// the tracee); errors, and several syscalls at once, through strace.
pub fn strace_wrap(command: &str, syscalls: &[String], at: u64, errno: Option<&str>) -> String {
    let strace = strace_command(
        &Strace {
            log: INJECT_LOG,
            trace: syscalls,
            inject: Some((at, errno)),
            decode_fds: false,
            quiet_exits: true,
            timestamps: false,
            seccomp_bpf: false,
        },
        command,
    );
    match (syscalls, errno) {
        ([one], None) if injector::syscall_number(one.trim_start_matches('?')).is_some() => {
            injector::wrap(
                command,
                one.trim_start_matches('?'),
                at,
                INJECT_LOG,
                &strace,
            )
        }
        _ => strace,
    }
}

/// Where a syscall fault's strace writes its trace inside the container.
pub const INJECT_LOG: &str = "/run/mistake-cost/strace.log";
/// The trace of a worker process (the Nix daemon) the fault also reaches.
pub const WORKER_INJECT_LOG: &str = "/run/mistake-cost/strace-worker.log";

/// [`strace_wrap`], and when the approach's work is done by a long-lived
/// worker (the Nix daemon, pid in `worker_pid_file`), the same injection
/// attached to it as well: the point (syscall, k) then kills every traced
/// process at its k-th call, client and daemon alike.
pub fn strace_wrap_for(
    worker_pid_file: Option<&str>,
    command: &str,
    syscalls: &[String],
    at: u64,
    errno: Option<&str>,
) -> String {
    let client = strace_wrap(command, syscalls, at, errno);
    match worker_pid_file {
        None => client,
        Some(pid_file) => around_worker(
            pid_file,
            &Strace {
                log: WORKER_INJECT_LOG,
                trace: syscalls,
                inject: Some((at, errno)),
                decode_fds: false,
                quiet_exits: true,
                timestamps: false,
                seccomp_bpf: false,
            },
            &client,
        ),
    }
}

/// The processes an injected SIGKILL ended, from a `strace -f -Y` log
/// (`PID<comm> +++ killed by SIGKILL +++`). strace exits with the status
/// of the process it started, which may well survive a killed child (apt
/// reports dpkg's death and exits 100): the log is what says it fired.
pub fn killed_processes(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("+++ killed by SIGKILL"))
        .filter_map(|l| {
            l.split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(comm, _)| comm.to_string())
        })
        // A multi-threaded process reports each thread's death.
        .fold(Vec::new(), |mut seen, comm| {
            if !seen.contains(&comm) {
                seen.push(comm);
            }
            seen
        })
}
