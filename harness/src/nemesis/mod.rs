//! The nemesis: faults injected into the operation under test. Each fault
//! family is one file here — how its scenario spec expands (seeded, at plan
//! time, so every approach gets the same faults), how it is injected through
//! the small `Sandboxed` interface, and its label in the results.

mod container_kill;
pub mod call_label;
pub mod injector;
pub mod seccomp;
mod signal;
mod strace;
mod syscall;
mod trace;

pub use strace::{shell_quote, strace_args, strace_command, Strace, WORKER_STRACE_KILLED};
pub use syscall::{
    crash_point_wrap, hit_operations, Hit, injected_kills, killed_processes, strace_wrap, strace_wrap_for, Point,
    INJECT_LOG, WORKER_INJECT_LOG,
};
pub use injector::Target;
pub use trace::{strace_count, TRACE_LOG, WORKER_TRACE_LOG};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::docker::DockerError;
use crate::history::Step;
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
    /// Explore's crash point: SIGKILL at the `at`-th call of `syscall`,
    /// counted per thread. Only threads named `process` are killed (the
    /// kill injector's `--comm`): in the operation's own tree, or in the
    /// worker's (`in_worker`: the Nix daemon and its builders; the injector
    /// attached to the daemon), where the operation's tree then runs
    /// undisturbed. Never expanded from a scenario.
    CrashPoint {
        syscall: String,
        at: u64,
        process: String,
        in_worker: bool,
        /// The file or files of the call (`call_label`): `at` counts the
        /// calls on it. Empty: every call of the syscall counts.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        label: String,
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
            Fault::CrashPoint {
                syscall,
                at,
                process,
                in_worker,
                label,
            } => {
                let tree = if *in_worker { "worker/" } else { "" };
                write!(f, "syscall:{syscall}#{at}:KILL@{tree}{process}")?;
                if !label.is_empty() {
                    write!(f, ":{label}")?;
                }
                Ok(())
            }
            Fault::ContainerKill { at_ms } => write!(f, "container-kill@{at_ms}ms"),
            Fault::Trace { syscalls } => write!(f, "trace:{}", syscalls.join("+")),
        }
    }
}

/// Expands fault specs into concrete faults, each family its own specs;
/// random offsets come from `seed` and the spec's position, so they are
/// the same for every approach and every repetition. No spec: one
/// `Fault::None`.
pub fn expand(specs: &[FaultSpec], seed: u64) -> Vec<Fault> {
    if specs.is_empty() {
        return vec![Fault::None];
    }
    specs
        .iter()
        .enumerate()
        .flat_map(|(i, spec)| match spec.kind.get_ref() {
            FaultKind::Kill => signal::expand(spec, i, seed),
            FaultKind::Syscall => syscall::expand(spec),
            FaultKind::ContainerKill => container_kill::expand(spec),
        })
        .collect()
}

/// What the operation's run under a fault produced.
pub struct Injected {
    pub step: Step,
    /// The processes an injected kill ended (empty when none fired).
    pub killed: Vec<String>,
    /// What explore's crash-point kill hit, as the injector logged it
    /// (`syscall label #k`); empty for other faults.
    pub hit: Vec<String>,
}

/// What a fault needs from the sandbox the operation runs in. The runner
/// implements it on a Docker sandbox; a fault family uses only this.
pub trait Sandboxed: Sync {
    /// Runs one command through the in-container agent, timed inside, as an
    /// operation step; `agent_option` is passed to the agent (`--kill-after`).
    fn run(
        &self,
        command: String,
        timeout: Duration,
        agent_option: Option<String>,
    ) -> impl Future<Output = Result<Step, DockerError>> + Send;

    /// The files' contents, concatenated; a missing file reads as empty.
    fn read_files(
        &self,
        paths: &[&str],
    ) -> impl Future<Output = Result<String, DockerError>> + Send;

    /// Kills the container, starts it again and waits for the approach's
    /// services (as after a reboot: the checks need them).
    fn kill_and_restart(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// The pid file of the approach's worker process (the Nix daemon), which
    /// syscall faults and traces must reach besides the client.
    fn worker_pid_file(&self) -> Option<&'static str>;
}

/// Runs `command` (the operation) on `on` under `fault`.
pub async fn inject<S: Sandboxed>(
    on: &S,
    fault: &Fault,
    command: String,
    timeout: Duration,
) -> Result<Injected, DockerError> {
    match fault {
        Fault::None => Ok(Injected {
            step: on.run(command, timeout, None).await?,
            killed: Vec::new(),
            hit: Vec::new(),
        }),
        Fault::Kill { signal, at_ms } => {
            signal::inject(on, *signal, *at_ms, command, timeout).await
        }
        Fault::Syscall {
            syscalls,
            at,
            errno,
        } => syscall::inject(on, syscalls, *at, errno.as_deref(), command, timeout).await,
        Fault::CrashPoint {
            syscall,
            at,
            process,
            in_worker,
            label,
        } => {
            let point = syscall::Point {
                target: injector::Target {
                    syscall,
                    at: *at,
                    process,
                    label,
                },
                in_worker: *in_worker,
            };
            syscall::inject_point(on, &point, command, timeout).await
        }
        Fault::ContainerKill { at_ms } => {
            container_kill::inject(on, *at_ms, command, timeout).await
        }
        Fault::Trace { syscalls } => trace::inject(on, syscalls, command, timeout).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

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
        let injector = "12<dpkg> +++ killed by SIGKILL +++\n12<dpkg> hit renameat /a/x.tmp-#-# -> /a/x #2\t/a/x.tmp-5-77 -> /a/x\n";
        let hits = syscall::hit_operations(injector);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].operation, "renameat /a/x.tmp-#-# -> /a/x #2");
        assert_eq!(hits[0].paths, "/a/x.tmp-5-77 -> /a/x");
    }

    #[test]
    fn a_crash_point_in_a_worker_needs_one() {
        let p = Point { target: injector::Target { syscall: "openat", at: 5, process: "nix-daemon", label: "/nix/store/*-a" }, in_worker: true };
        assert!(crash_point_wrap(None, "true", &p).unwrap_err().contains("no worker"));
        let attached = crash_point_wrap(Some("/run/w.pid"), "true", &p).unwrap();
        assert!(attached.contains("--once --comm 'nix-daemon' --label '/nix/store/*-a' --log"), "{attached}");
        let label = Fault::CrashPoint {
            syscall: "openat".into(),
            at: 5,
            process: "dpkg".into(),
            in_worker: false,
            label: "/var/lib/dpkg/status-new".into(),
        };
        assert_eq!(label.to_string(), "syscall:openat#5:KILL@dpkg:/var/lib/dpkg/status-new");
        // Two processes of a worker's tree at the same call are two points.
        let in_worker = Fault::CrashPoint {
            syscall: "openat".into(),
            at: 5,
            process: "cp".into(),
            in_worker: true,
            label: String::new(),
        };
        assert_eq!(in_worker.to_string(), "syscall:openat#5:KILL@worker/cp");
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
            "strace -f -q -Y --seccomp-bpf -y -s 0 -ttt -o /run/t.log -e 'trace=?rename,openat' -- sh -c 'true'"
        );
        // A worker is traced into its own log, attached before the client starts.
        let both = strace_count(
            "true",
            &["openat".into()],
            "/run/t.log",
            Some(("/run/w.pid", "/run/w.log")),
        );
        assert!(both.starts_with("rm -f '/run/w.log'; w=$(cat /run/w.pid) || exit 125; strace -f -q -Y -y -s 0 -ttt -o /run/w.log -e trace=openat -p \"$w\" & s=$!;"), "{both}");
        // The worker is attached (`-p`): no --seccomp-bpf there.
        assert!(both.contains("; strace -f -q -Y --seccomp-bpf -y -s 0 -ttt -o /run/t.log -e trace=openat -- sh -c 'true'; rc=$?; kill -INT $s"), "{both}");
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
            // One syscall, a kill: the injector, or strace without it.
            strace_wrap_for(None, command, &set[..1], 3, None),
            // Explore's crash points: in the operation's tree, in the worker's.
            crash_point_wrap(
                None,
                command,
                &Point { target: injector::Target { syscall: "rename", at: 3, process: "it's", label: "/a b/it's #x" }, in_worker: false },
            )
            .unwrap(),
            crash_point_wrap(
                Some("/run/w.pid"),
                command,
                &Point { target: injector::Target { syscall: "rename", at: 3, process: "nix-daemon", label: "" }, in_worker: true },
            )
            .unwrap(),
            strace_wrap_for(Some("/run/w.pid"), command, &set[1..], 3, None),
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
