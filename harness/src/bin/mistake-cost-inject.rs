//! `mistake-cost-inject`: runs a command and SIGKILLs every thread at its
//! k-th call of one syscall, before the call takes effect — what
//! `strace -f -e inject=NAME:signal=KILL:when=K` does, but with a seccomp
//! filter so only that syscall stops the tracee (strace 6.1 drops the
//! injected signal under `--seccomp-bpf`). Copied into the containers
//! through the fixtures volume; Linux x86_64 only.
//!
//! Usage: `mistake-cost-inject --syscall NAME --at K [--comm NAME] --log FILE -- PROGRAM [ARG...]`,
//! or `… --attach PID` for a running process (the Nix daemon) and what it
//! forks: no seccomp filter can be added to it from outside, so there every
//! syscall stops it (as `strace -p` does); SIGINT detaches (ptrace lets a
//! dying tracer's tracees go on).
//! With `--comm`, only threads of that command name are killed (every
//! thread's calls are still counted, as strace counts them): explore's
//! crash point is one process's k-th call, not every process's.
//! Every kill is logged as strace does (`TID<comm> +++ killed by SIGKILL +++`);
//! the exit status is the program's (128 + signal when one ended it), after
//! every traced process has ended, as with `strace -f`. Exit 125: bad
//! usage or a tracing failure before the program ran. `--check` alone
//! exits 0: the binary loads and runs in this container.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::Write;

#[path = "../nemesis/seccomp.rs"]
#[allow(dead_code)]
mod seccomp;

use seccomp::{seccomp_filter, syscall_number};

struct Args {
    syscall: String,
    at: u64,
    comm: Option<String>,
    log: String,
    /// `--attach PID`: a running process (the Nix daemon) and everything it
    /// forks from now on, instead of a program to start.
    attach: Option<libc::pid_t>,
    program: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut syscall, mut at, mut log, mut comm, mut attach) = (None, None, None, None, None);
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().ok_or(format!("{} needs a value", args[i]));
        match args[i].as_str() {
            "--syscall" => syscall = Some(value()?),
            "--at" => {
                let v = value()?;
                at = Some(v.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("--at {v}: not a positive number"))?)
            }
            "--log" => log = Some(value()?),
            "--comm" => comm = Some(value()?),
            "--attach" => {
                let v = value()?;
                attach = Some(v.parse::<libc::pid_t>().ok().filter(|&p| p > 0).ok_or(format!("--attach {v}: not a pid"))?)
            }
            "--" => break,
            other => return Err(format!("unexpected argument {other}")),
        }
        i += 2;
    }
    let program: Vec<String> = args.get(i + 1..).unwrap_or_default().to_vec();
    if program.is_empty() == attach.is_none() {
        return Err("give either --attach PID or a program after --".into());
    }
    Ok(Args {
        syscall: syscall.ok_or("--syscall is required")?,
        at: at.ok_or("--at is required")?,
        comm,
        attach,
        log: log.ok_or("--log is required")?,
        program,
    })
}

fn fail(message: &str) -> ! {
    eprintln!("mistake-cost-inject: {message}");
    std::process::exit(125)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Forks the program as a tracee with the filter installed; returns its pid
/// stopped at its initial SIGSTOP, before exec.
fn spawn(program: &[String], nr: i64) -> libc::pid_t {
    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls.
    let argv: Vec<CString> = program
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_else(|_| fail("an argument holds a NUL byte")))
        .collect();
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut prog: Vec<libc::sock_filter> = seccomp_filter(nr)
        .into_iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    let message = b"mistake-cost-inject: could not install the seccomp filter or exec the program\n";
    // SAFETY: the child calls only async-signal-safe functions before exec
    // or _exit; the parent continues as a single-threaded program.
    unsafe {
        match libc::fork() {
            -1 => fail(&format!("fork: {}", std::io::Error::last_os_error())),
            0 => {
                if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == -1 {
                    libc::_exit(125);
                }
                libc::raise(libc::SIGSTOP);
                // As `strace --seccomp-bpf` (the dry run that found the points) does.
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog) == 0 {
                    libc::execvp(argv_ptrs[0], argv_ptrs.as_ptr());
                }
                libc::write(2, message.as_ptr().cast(), message.len());
                libc::_exit(125);
            }
            child => child,
        }
    }
}

/// The thread's command name, as strace's `-Y` prints it.
fn comm(tid: libc::pid_t) -> String {
    std::fs::read_to_string(format!("/proc/{tid}/comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn cont(tid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: plain ptrace request on a tracee; ESRCH (it died meanwhile) is fine.
    unsafe {
        libc::ptrace(libc::PTRACE_CONT, tid, 0, signal as libc::c_long);
    }
}

/// strace's `when=K`, per traced thread: a new thread or process starts at
/// zero, exec keeps the count. Kills (and logs) at the k-th call when the
/// thread has the wanted name.
struct Counter {
    at: u64,
    comm: Option<String>,
    calls: HashMap<libc::pid_t, u64>,
    log: std::fs::File,
}

impl Counter {
    /// One call of the syscall by `tid`, stopped before it runs; true when
    /// the thread was killed there (it must then not be resumed).
    fn call(&mut self, tid: libc::pid_t) -> bool {
        let n = self.calls.entry(tid).or_insert(0);
        *n += 1;
        if *n != self.at {
            return false;
        }
        let name = comm(tid);
        if self.comm.as_ref().is_some_and(|c| *c != name) {
            return false;
        }
        let _ = writeln!(self.log, "{tid}<{name}> +++ killed by SIGKILL +++");
        // SAFETY: signalling our own tracee, stopped before its call.
        unsafe { libc::syscall(libc::SYS_tkill, tid, libc::SIGKILL) };
        true
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--check`: exit 0 if this binary runs here at all. It is built on
    // the host and dynamically linked: a container whose C library is
    // older than the host's may not load it, and that must read as "no
    // injector" (the wrappers test it first), never as the program failing.
    if args == ["--check"] {
        std::process::exit(0);
    }
    let args = parse_args(&args).unwrap_or_else(|e| fail(&e));
    let nr = syscall_number(&args.syscall)
        .unwrap_or_else(|| fail(&format!("unknown syscall {}", args.syscall)));
    let log = std::fs::File::create(&args.log)
        .unwrap_or_else(|e| fail(&format!("creating {}: {e}", args.log)));
    let counter = Counter {
        at: args.at,
        comm: args.comm.clone(),
        calls: HashMap::new(),
        log,
    };
    match args.attach {
        Some(pid) => attach(pid, nr, counter),
        None => run_program(&args.program, nr, counter),
    }
}

/// A signal for the tracee (delivered as it is) or a group-stop (resumed:
/// no operation here uses job control).
fn pending_signal(tid: libc::pid_t, signal: libc::c_int) -> libc::c_int {
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: info is a valid siginfo_t buffer.
    let is_signal = unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, tid, 0, &mut info) } == 0;
    if is_signal {
        signal
    } else {
        0
    }
}

fn run_program(program: &[String], nr: i64, mut counter: Counter) -> ! {
    let root = spawn(program, nr);
    let mut status = 0;
    // SAFETY: waitpid/ptrace on our own child.
    unsafe {
        if libc::waitpid(root, &mut status, libc::__WALL) != root || !libc::WIFSTOPPED(status) {
            fail("the program did not stop for tracing");
        }
        let options = libc::PTRACE_O_TRACESECCOMP
            | libc::PTRACE_O_TRACEFORK
            | libc::PTRACE_O_TRACEVFORK
            | libc::PTRACE_O_TRACECLONE
            | libc::PTRACE_O_TRACEEXEC
            | libc::PTRACE_O_EXITKILL;
        if libc::ptrace(libc::PTRACE_SETOPTIONS, root, 0, options as libc::c_long) == -1 {
            fail(&format!("PTRACE_SETOPTIONS: {}", std::io::Error::last_os_error()));
        }
    }
    cont(root, 0);

    // Threads whose initial SIGSTOP (auto-attach) was already swallowed.
    let mut attached: HashSet<libc::pid_t> = HashSet::from([root]);
    let mut root_status = None;
    loop {
        // SAFETY: waiting for any tracee.
        let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if tid == -1 {
            match errno() {
                libc::EINTR => continue,
                _ => break, // ECHILD: every traced process has ended
            }
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            counter.calls.remove(&tid);
            attached.remove(&tid);
            if tid == root {
                root_status = Some(status);
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let signal = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xffff;
        if signal == libc::SIGTRAP && event != 0 {
            if event == libc::PTRACE_EVENT_SECCOMP && counter.call(tid) {
                continue;
            }
            cont(tid, 0);
            continue;
        }
        if signal == libc::SIGSTOP && attached.insert(tid) {
            cont(tid, 0);
            continue;
        }
        cont(tid, pending_signal(tid, signal));
    }
    let _ = counter.log.flush();
    let code = match root_status {
        Some(s) if libc::WIFEXITED(s) => libc::WEXITSTATUS(s),
        Some(s) if libc::WIFSIGNALED(s) => 128 + libc::WTERMSIG(s),
        _ => 125,
    };
    std::process::exit(code)
}

/// `struct ptrace_syscall_info` up to the entry's syscall number.
#[repr(C)]
#[derive(Default)]
struct SyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    nr: u64,
    args: [u64; 6],
}

const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;

fn resume(tid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: plain ptrace request on a tracee; ESRCH (it died meanwhile) is fine.
    unsafe {
        libc::ptrace(libc::PTRACE_SYSCALL, tid, 0, signal as libc::c_long);
    }
}

/// Seizes every thread of `pid`, then follows it and its new children at
/// every syscall stop until killed (SIGINT from the wrapper: the kernel
/// detaches and resumes the tracees of a tracer that dies).
fn attach(pid: libc::pid_t, nr: i64, mut counter: Counter) -> ! {
    // Started in the background by a non-interactive shell, which ignores
    // SIGINT for it: the wrapper's `kill -INT` must still end (detach) us.
    // SAFETY: resetting a disposition before any other thread exists.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    let options = libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC;
    let threads: Vec<libc::pid_t> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap_or_else(|e| fail(&format!("reading /proc/{pid}/task: {e}")))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for tid in threads {
        // SAFETY: attaching to a process of this container (we are root).
        unsafe {
            if libc::ptrace(libc::PTRACE_SEIZE, tid, 0, options as libc::c_long) == -1 {
                fail(&format!("PTRACE_SEIZE {tid}: {}", std::io::Error::last_os_error()));
            }
            libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0, 0);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for any tracee.
        let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if tid == -1 {
            match errno() {
                libc::EINTR => continue,
                _ => std::process::exit(0), // every traced process ended
            }
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            counter.calls.remove(&tid);
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let signal = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xffff;
        if signal == (libc::SIGTRAP | 0x80) {
            let mut info = SyscallInfo::default();
            // SAFETY: info is large enough for the entry form the kernel writes.
            let got = unsafe {
                libc::ptrace(
                    libc::PTRACE_GET_SYSCALL_INFO,
                    tid,
                    std::mem::size_of::<SyscallInfo>(),
                    &mut info,
                )
            };
            if got > 0
                && info.op == PTRACE_SYSCALL_INFO_ENTRY
                && info.nr == nr as u64
                && counter.call(tid)
            {
                continue;
            }
            resume(tid, 0);
        } else if event != 0 {
            // fork/vfork/clone/exec events, the seize interrupt and a new
            // child's first stop (PTRACE_EVENT_STOP); a group-stop is
            // resumed too.
            resume(tid, 0);
        } else {
            resume(tid, pending_signal(tid, signal));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_arguments() {
        let a: Vec<String> = "--syscall rename --at 3 --log /run/l --comm dpkg -- sh -c true"
            .split(' ')
            .map(String::from)
            .collect();
        let p = parse_args(&a).unwrap();
        assert_eq!((p.syscall.as_str(), p.at, p.log.as_str()), ("rename", 3, "/run/l"));
        assert_eq!(p.program, ["sh", "-c", "true"]);
        assert_eq!(p.comm.as_deref(), Some("dpkg"));
        assert!(parse_args(&["--at".into(), "0".into(), "--".into(), "x".into()]).is_err());
        assert!(parse_args(&["--syscall".into(), "rename".into()]).is_err());
    }
}
