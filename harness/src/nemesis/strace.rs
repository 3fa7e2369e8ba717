//! strace, the tool behind the syscall faults and explore's dry run: its
//! argument list (built in one place), the wrapper around a command, and a
//! second strace attached to a worker process (the Nix daemon).

/// How strace is run around an operation. [`strace_args`] is the one place
/// its argument list is built; the trials' syscall faults, explore's dry
/// runs and its crash runs all go through it.
///
/// A daemon doing the work (a multi-user Nix's `nix-daemon` writes the store,
/// the client `nix-env` only talks to it) is outside the traced tree: a
/// second strace with the same options is attached to it (`-p`, with `-f`
/// following its per-connection forks) for the operation's duration.
#[derive(Debug, Clone, Copy)]
pub struct Strace<'a> {
    /// The log file inside the container.
    pub log: &'a str,
    /// Syscalls traced (strace names; `?name` tolerates one the architecture lacks).
    pub trace: &'a [String],
    /// `Some((n, errno))`: inject at every process's n-th call of each traced
    /// syscall, SIGKILL when `errno` is `None`.
    pub inject: Option<(u64, Option<&'a str>)>,
    /// `-y -s 0`: decode file descriptors to paths, print no data buffers
    /// (the dry run decides from them which calls changed state).
    pub decode_fds: bool,
    /// `-qq` (no exit lines) rather than `-q`; the dry run needs the exits
    /// to tell a reused pid from the process before it.
    pub quiet_exits: bool,
    /// `-ttt`: a wall-clock time on every line, so two traces of one run
    /// (a client's and a worker's) merge in order.
    pub timestamps: bool,
    /// `--seccomp-bpf`: only the traced syscalls stop the tracee, which
    /// makes a traced pip install ~5× faster. For pure tracing only: strace
    /// 6.1 drops an injected signal under it (`inject=…:signal=KILL` lets
    /// the call through; checked in the images), and it cannot attach (`-p`).
    pub seccomp_bpf: bool,
}

/// strace's arguments up to (not including) `--`.
pub fn strace_args(s: &Strace) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "strace".into(),
        "-f".into(),
        if s.quiet_exits { "-qq" } else { "-q" }.into(),
        "-Y".into(),
    ];
    if s.seccomp_bpf && s.inject.is_none() {
        a.push("--seccomp-bpf".into());
    }
    if s.decode_fds {
        a.extend(["-y".into(), "-s".into(), "0".into()]);
    }
    if s.timestamps {
        a.push("-ttt".into());
    }
    a.extend(["-o".into(), s.log.to_string()]);
    let set = s.trace.join(",");
    a.extend(["-e".into(), format!("trace={set}")]);
    if let Some((at, errno)) = s.inject {
        let action = match errno {
            Some(e) => format!("error={e}"),
            None => "signal=KILL".to_string(),
        };
        a.extend(["-e".into(), format!("inject={set}:{action}:when={at}")]);
    }
    a
}

/// `strace ARGS -- sh -c COMMAND` as one shell command line. strace's exit
/// status is its tracee's, so a killed operation still reads as 137.
pub fn strace_command(s: &Strace, command: &str) -> String {
    format!(
        "{} -- sh -c {}",
        quoted(strace_args(s)).join(" "),
        shell_quote(command)
    )
}

/// Arguments as shell words: plain ones as they are, others single-quoted.
pub(super) fn quoted(args: Vec<String>) -> Vec<String> {
    let plain = |a: &str| {
        a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=,:/.".contains(c))
    };
    args.into_iter()
        .map(|a| if plain(&a) { a } else { shell_quote(&a) })
        .collect()
}

/// What [`around_worker`] prints when the worker's strace had to be killed:
/// its log may then miss its last lines.
pub const WORKER_STRACE_KILLED: &str =
    "mistake-cost: the worker's strace did not detach within 5 s and was killed";

/// `command` with a second strace (`worker`'s options) attached to the
/// worker whose pid `pid_file` holds, from before the command starts until
/// after it ends (then detached with SIGINT; once seen hanging in an
/// explore run after a kill, so after 5 s it is SIGKILLed, which detaches
/// its tracees too). The attach is awaited through
/// the worker's `TracerPid`, so the command's first call is already seen;
/// an attach that never happens is exit 126, which the checker reads as
/// "unknown" rather than as the operation's own failure.
pub(super) fn around_worker(pid_file: &str, worker: &Strace, command: &str) -> String {
    let attach = format!("{} -p \"$w\"", quoted(strace_args(worker)).join(" "));
    around_worker_with(pid_file, worker.log, &attach, command)
}

/// [`around_worker`] with any attaching tracer: `attach` is its command
/// line, where `"$w"` is the worker's pid; `log` is removed first.
pub(super) fn around_worker_with(pid_file: &str, log: &str, attach: &str, command: &str) -> String {
    let log = shell_quote(log);
    let killed_note = shell_quote(WORKER_STRACE_KILLED);
    format!(
        "rm -f {log}; w=$(cat {pid_file}) || exit 125; {attach} & s=$!; \
         i=0; until grep -qs '^TracerPid:[[:space:]]*[1-9]' /proc/$w/status; do \
         i=$((i+1)); [ $i -gt 500 ] && {{ echo \"the tracer did not attach to the worker (pid $w) within 5 s\" >&2; kill $s 2>/dev/null; exit 126; }}; sleep 0.01; done; \
         {command}; rc=$?; kill -INT $s 2>/dev/null; \
         i=0; while kill -0 $s 2>/dev/null; do i=$((i+1)); [ $i -gt 500 ] && {{ echo {killed_note} >&2; kill -KILL $s; }}; sleep 0.01; done; \
         wait $s; exit $rc"
    )
}

/// Single-quotes `s` for sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
