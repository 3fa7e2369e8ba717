//! The nemesis: faults injected into the operation under test. A scenario's
//! fault specs expand (seeded) into concrete faults at plan time, so every
//! approach gets exactly the same ones; here they become commands or
//! actions on the container.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::scenario::{FaultKind, FaultSpec, Signal};

/// Errnos a `syscall` fault may inject.
pub use crate::vocab::ERRNOS;

/// One concrete fault of a trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    None,
    /// Signal to the operation's process group `at_ms` after it started
    /// (timed by the agent inside the container).
    Kill {
        signal: SignalName,
        at_ms: u64,
    },
    /// The `at`-th call of each syscall in `syscalls`, counted per process
    /// (strace's counting), is killed or fails with `errno`.
    Syscall {
        syscalls: Vec<String>,
        at: u64,
        errno: Option<String>,
    },
    /// The container is killed `at_ms` after the operation started, then
    /// started again.
    ContainerKill {
        at_ms: u64,
    },
    /// No fault: the operation runs traced, every call of `syscalls` logged
    /// to [`TRACE_LOG`] (and a worker's to [`WORKER_TRACE_LOG`]). Explore's
    /// dry run; never expanded from a scenario.
    Trace {
        syscalls: Vec<String>,
    },
}

/// Where a traced operation's strace writes inside the container.
pub const TRACE_LOG: &str = "/run/mistake-cost/trace.log";
/// …and the worker's (the Nix daemon's) strace.
pub const WORKER_TRACE_LOG: &str = "/run/mistake-cost/trace-worker.log";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalName {
    KILL,
    TERM,
}

impl From<Signal> for SignalName {
    fn from(s: Signal) -> Self {
        match s {
            Signal::Kill => SignalName::KILL,
            Signal::Term => SignalName::TERM,
        }
    }
}

impl fmt::Display for Fault {
    /// The `fault` column: short, unique per fault, sortable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => f.write_str("none"),
            Fault::Kill { signal, at_ms } => write!(f, "kill:{signal:?}@{at_ms}ms"),
            Fault::Syscall {
                syscalls,
                at,
                errno,
            } => {
                write!(
                    f,
                    "syscall:{}#{at}:{}",
                    syscalls.join("+"),
                    errno.as_deref().unwrap_or("KILL")
                )
            }
            Fault::ContainerKill { at_ms } => write!(f, "container-kill@{at_ms}ms"),
            Fault::Trace { syscalls } => write!(f, "trace:{}", syscalls.join("+")),
        }
    }
}

/// Expands fault specs into concrete faults; random offsets come from
/// `seed` and the spec's position, so they are the same for every approach
/// and every repetition. No spec: one `Fault::None`.
pub fn expand(specs: &[FaultSpec], seed: u64) -> Vec<Fault> {
    if specs.is_empty() {
        return vec![Fault::None];
    }
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match spec.kind.get_ref() {
            FaultKind::Kill => {
                let signal = spec.signal.unwrap_or(Signal::Kill).into();
                let mut offsets = spec.at_ms.clone();
                let mut rng = ChaCha8Rng::seed_from_u64(
                    seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                offsets
                    .extend((0..spec.random).map(|_| rng.random_range(0..spec.within_ms.max(1))));
                out.extend(
                    offsets
                        .into_iter()
                        .map(|at_ms| Fault::Kill { signal, at_ms }),
                );
            }
            FaultKind::Syscall => {
                let names: Vec<String> =
                    spec.syscalls.iter().map(|s| s.get_ref().clone()).collect();
                out.extend(spec.at.iter().map(|&n| Fault::Syscall {
                    syscalls: names.clone(),
                    at: n,
                    errno: spec.errno.as_ref().map(|e| e.get_ref().clone()),
                }));
            }
            FaultKind::ContainerKill => out.extend(
                spec.at_ms
                    .iter()
                    .map(|&at_ms| Fault::ContainerKill { at_ms }),
            ),
        }
    }
    out
}

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
}

/// strace's arguments up to (not including) `--`.
pub fn strace_args(s: &Strace) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "strace".into(),
        "-f".into(),
        if s.quiet_exits { "-qq" } else { "-q" }.into(),
        "-Y".into(),
    ];
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
fn quoted(args: Vec<String>) -> Vec<String> {
    let plain = |a: &str| {
        a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=,:/.".contains(c))
    };
    args.into_iter()
        .map(|a| if plain(&a) { a } else { shell_quote(&a) })
        .collect()
}

/// The operation command with a syscall fault wrapped around it.
pub fn strace_wrap(command: &str, syscalls: &[String], at: u64, errno: Option<&str>) -> String {
    strace_command(
        &Strace {
            log: INJECT_LOG,
            trace: syscalls,
            inject: Some((at, errno)),
            decode_fds: false,
            quiet_exits: true,
            timestamps: false,
        },
        command,
    )
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
            },
            &client,
        ),
    }
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
fn around_worker(pid_file: &str, worker: &Strace, command: &str) -> String {
    let args = quoted(strace_args(worker)).join(" ");
    let log = shell_quote(worker.log);
    let killed_note = shell_quote(WORKER_STRACE_KILLED);
    format!(
        "rm -f {log}; w=$(cat {pid_file}) || exit 125; {args} -p \"$w\" & s=$!; \
         i=0; until grep -qs '^TracerPid:[[:space:]]*[1-9]' /proc/$w/status; do \
         i=$((i+1)); [ $i -gt 500 ] && {{ echo \"strace did not attach to the worker (pid $w) within 5 s\" >&2; kill $s 2>/dev/null; exit 126; }}; sleep 0.01; done; \
         {command}; rc=$?; kill -INT $s 2>/dev/null; \
         i=0; while kill -0 $s 2>/dev/null; do i=$((i+1)); [ $i -gt 500 ] && {{ echo {killed_note} >&2; kill -KILL $s; }}; sleep 0.01; done; \
         wait $s; exit $rc"
    )
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
    let strace = |log| Strace {
        log,
        trace: syscalls,
        inject: None,
        decode_fds: true,
        quiet_exits: false,
        timestamps: true,
    };
    let client = strace_command(&strace(log), command);
    match worker {
        None => client,
        Some((pid_file, worker_log)) => around_worker(pid_file, &strace(worker_log), &client),
    }
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approach::parse_scenario as parse;

    fn specs(faults: &str) -> Vec<FaultSpec> {
        let text = format!(
            "[scenario]\nname='f'\napproaches=['nix']\n[[package]]\nname='a'\nversion='1'\n[operation]\nkind='install'\npackages=['a']\n{faults}"
        );
        parse(&text).unwrap().faults
    }

    #[test]
    fn no_fault_spec_means_one_undisturbed_trial() {
        assert_eq!(expand(&[], 1), vec![Fault::None]);
    }

    #[test]
    fn random_offsets_are_seeded_and_bounded() {
        let s = specs("[[fault]]\nkind='kill'\nat_ms=[5]\nrandom=4\nwithin_ms=1000\n");
        let a = expand(&s, 9);
        assert_eq!(a.len(), 5);
        assert_eq!(
            a[0],
            Fault::Kill {
                signal: SignalName::KILL,
                at_ms: 5
            }
        );
        assert!(a
            .iter()
            .all(|f| matches!(f, Fault::Kill { at_ms, .. } if *at_ms < 1000)));
        assert_eq!(a, expand(&s, 9));
        assert_ne!(a, expand(&s, 10));
    }

    #[test]
    fn labels_name_the_fault() {
        let s = specs("[[fault]]\nkind='syscall'\nsyscalls=['write']\nat=[3]\nerrno='ENOSPC'\n[[fault]]\nkind='container-kill'\nat_ms=[250]\n");
        let labels: Vec<String> = expand(&s, 1).iter().map(|f| f.to_string()).collect();
        assert_eq!(
            labels,
            vec!["syscall:write#3:ENOSPC", "container-kill@250ms"]
        );
    }

    #[test]
    fn kills_are_read_from_the_log() {
        let log = "12<dpkg> rename(\"a\", \"b\") = ? <INJECTED>\n12<dpkg> +++ killed by SIGKILL +++\n11<apt-get> +++ exited with 100 +++\n";
        assert_eq!(killed_processes(log), vec!["dpkg".to_string()]);
        assert!(killed_processes("11<apt-get> +++ exited with 0 +++\n").is_empty());
    }

    #[test]
    fn strace_wrapping_quotes_the_command() {
        let w = strace_wrap("echo 'hi'", &["rename".into(), "renameat2".into()], 4, None);
        assert_eq!(
            w,
            r"strace -f -qq -Y -o /run/mistake-cost/strace.log -e trace=rename,renameat2 -e inject=rename,renameat2:signal=KILL:when=4 -- sh -c 'echo '\''hi'\'''"
        );
        // `?` is a shell glob: quoted.
        let dry = strace_count(
            "true",
            &["?rename".into(), "openat".into()],
            "/run/t.log",
            None,
        );
        assert_eq!(
            dry,
            "strace -f -q -Y -y -s 0 -ttt -o /run/t.log -e 'trace=?rename,openat' -- sh -c 'true'"
        );
        // A worker is traced into its own log, attached before the client starts.
        let both = strace_count(
            "true",
            &["openat".into()],
            "/run/t.log",
            Some(("/run/w.pid", "/run/w.log")),
        );
        assert!(both.starts_with("rm -f '/run/w.log'; w=$(cat /run/w.pid) || exit 125; strace -f -q -Y -y -s 0 -ttt -o /run/w.log -e trace=openat -p \"$w\" & s=$!;"), "{both}");
        assert!(both.contains("; strace -f -q -Y -y -s 0 -ttt -o /run/t.log -e trace=openat -- sh -c 'true'; rc=$?; kill -INT $s"), "{both}");
    }

    /// The wrappers are shell built by hand: each must at least parse
    /// (`sh -n`), with a worker and without, whatever the command holds.
    #[test]
    fn every_wrapper_is_valid_shell() {
        let set = ["rename".to_string(), "?renameat2".to_string()];
        let command = "nix-env -i -A 'a b' && echo \"it's\" $x";
        let wrappers = [
            strace_wrap_for(None, command, &set, 3, None),
            strace_wrap_for(
                Some("/run/mistake-cost/w.pid"),
                command,
                &set,
                3,
                Some("ENOSPC"),
            ),
            strace_count(command, &set, "/run/t.log", None),
            strace_count(
                command,
                &set,
                "/run/t.log",
                Some(("/run/w.pid", "/run/w.log")),
            ),
        ];
        for w in wrappers {
            let o = std::process::Command::new("sh")
                .args(["-n", "-c", &w])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{w}\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
