//! `mistake-cost-inject`: runs a command and SIGKILLs every thread at its
//! k-th call of one syscall, before the call takes effect — what
//! `strace -f -e inject=NAME:signal=KILL:when=K` does, but with a seccomp
//! filter so only that syscall stops the tracee (strace 6.1 drops the
//! injected signal under `--seccomp-bpf`). Copied into the containers
//! through the fixtures volume; Linux x86_64 only.
//!
//! Usage: `mistake-cost-inject --syscall NAME --at K [--comm NAME] [--label LABEL] --log FILE -- PROGRAM [ARG...]`,
//! or `… --attach PID` for a running process (the Nix daemon) and what it
//! forks: no seccomp filter can be added to it from outside, so there every
//! syscall stops it (as `strace -p` does); SIGINT detaches (ptrace lets a
//! dying tracer's tracees go on).
//! With `--comm`, only threads of that command name are killed (every
//! thread's calls are still counted, as strace counts them): explore's
//! crash point is one process's k-th call, not every process's.
//! With `--once`, the first kill is the only one: a crash point is one
//! crash, not also the retry a tool makes after it (pip rebuilding a
//! package another way reaches the same call again).
//! With `--label`, only calls whose file or files have that label count
//! (`call_label.rs`: the paths read from the stopped thread's arguments,
//! its descriptors and working directory, normalised): K is then the k-th
//! call of NAME on that label, the operation explore's dry run found.
//! Every kill is logged as strace does (`TID<comm> +++ killed by SIGKILL +++`),
//! followed by what it hit (`TID<comm> hit NAME LABEL #K`, a tab, the raw
//! paths);
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

#[path = "../nemesis/call_label.rs"]
#[allow(dead_code)]
mod call_label;

use seccomp::{seccomp_filter, syscall_number};

struct Args {
    syscall: String,
    at: u64,
    comm: Option<String>,
    /// `--label`: count only calls on this label.
    label: Option<String>,
    /// `--once`: kill at the first thread that reaches the point, no other.
    once: bool,
    log: String,
    /// `--attach PID`: a running process (the Nix daemon) and everything it
    /// forks from now on, instead of a program to start.
    attach: Option<libc::pid_t>,
    program: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut syscall, mut at, mut log, mut comm, mut attach) = (None, None, None, None, None);
    let mut label = None;
    let mut once = false;
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .cloned()
                .ok_or(format!("{} needs a value", args[i]))
        };
        match args[i].as_str() {
            "--syscall" => syscall = Some(value()?),
            "--at" => {
                let v = value()?;
                at = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or(format!("--at {v}: not a positive number"))?,
                )
            }
            "--log" => log = Some(value()?),
            "--comm" => comm = Some(value()?),
            "--label" => label = Some(value()?),
            "--attach" => {
                let v = value()?;
                attach = Some(
                    v.parse::<libc::pid_t>()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or(format!("--attach {v}: not a pid"))?,
                )
            }
            "--once" => {
                once = true;
                i += 1;
                continue;
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
        label,
        once,
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
        .map(|a| {
            CString::new(a.as_bytes()).unwrap_or_else(|_| fail("an argument holds a NUL byte"))
        })
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
    let message =
        b"mistake-cost-inject: could not install the seccomp filter or exec the program\n";
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
/// thread has the wanted name; with a label, only calls on it count.
struct Counter {
    syscall: String,
    at: u64,
    comm: Option<String>,
    label: Option<String>,
    /// Kill no more once one kill fired (`--once`).
    once: bool,
    fired: bool,
    calls: HashMap<libc::pid_t, u64>,
    log: std::fs::File,
}

impl Counter {
    /// One call of the syscall by `tid`, stopped before it runs, with its
    /// arguments; true when the thread was killed there (it must then not
    /// be resumed).
    fn call(&mut self, tid: libc::pid_t, args: &[u64; 6]) -> bool {
        if self.once && self.fired {
            return false;
        }
        let names = match &self.label {
            Some(want) => {
                let names = read_names(tid, &self.syscall, args);
                if call_label::label(&names) != *want {
                    return false;
                }
                names
            }
            None => Vec::new(),
        };
        let n = self.calls.entry(tid).or_insert(0);
        *n += 1;
        if *n != self.at {
            return false;
        }
        let name = comm(tid);
        if self.comm.as_ref().is_some_and(|c| *c != name) {
            return false;
        }
        let operation =
            call_label::operation_text(&self.syscall, self.label.as_deref().unwrap_or(""), self.at);
        let _ = writeln!(self.log, "{tid}<{name}> +++ killed by SIGKILL +++");
        let _ = writeln!(
            self.log,
            "{tid}<{name}> hit {operation}\t{}",
            names.join(" -> ")
        );
        // SAFETY: signalling our own tracee, stopped before its call.
        unsafe { libc::syscall(libc::SYS_tkill, tid, libc::SIGKILL) };
        self.fired = true;
        true
    }
}

/// The call's names as strace's `-y` shows them (`call_label::names` says
/// which arguments): strings read from the thread's memory, descriptors
/// and the working directory through /proc. What cannot be read is `?`.
fn read_names(tid: libc::pid_t, syscall: &str, args: &[u64; 6]) -> Vec<String> {
    use call_label::Name;
    let fd = |i: usize| link(tid, &format!("fd/{}", args[i] as i32));
    let at = |d: usize, p: usize| {
        let path = read_string(tid, args[p]).unwrap_or_else(|| "?".into());
        if path.starts_with('/') {
            return call_label::lexical(&path);
        }
        let dir = if args[d] as i32 == libc::AT_FDCWD {
            link(tid, "cwd")
        } else {
            link(tid, &format!("fd/{}", args[d] as i32))
        };
        call_label::join((dir != "?").then_some(dir.as_str()), &path)
    };
    call_label::names(syscall)
        .iter()
        .map(|n| match *n {
            Name::Path(i) => {
                call_label::lexical(&read_string(tid, args[i]).unwrap_or_else(|| "?".into()))
            }
            Name::Text(i) => read_string(tid, args[i]).unwrap_or_else(|| "?".into()),
            Name::Fd(i) => fd(i),
            Name::AtOrFd(d, p) if args[p] == 0 => fd(d),
            Name::At(d, p) | Name::AtOrFd(d, p) => at(d, p),
        })
        .collect()
}

/// `/proc/TID/<what>`'s target (an fd's file, the working directory).
fn link(tid: libc::pid_t, what: &str) -> String {
    std::fs::read_link(format!("/proc/{tid}/{what}"))
        .map(|p| {
            String::from_utf8_lossy(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))
                .into_owned()
        })
        .unwrap_or_else(|_| "?".into())
}

/// A NUL-terminated string at `addr` in the thread's memory (at most
/// PATH_MAX bytes), read as strace reads it: `process_vm_readv` a page at a
/// time (so an unmapped next page does not fail the read), and where that
/// is refused (Docker's default seccomp profile allows it only with
/// CAP_SYS_PTRACE) word by word with PTRACE_PEEKDATA, which a tracer may
/// always use. `None` where strace, too, would print the bare address.
fn read_string(tid: libc::pid_t, addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let bytes = match read_vm(tid, addr) {
        Ok(b) => b,
        Err(libc::EPERM | libc::ENOSYS) => read_peek(tid, addr)?,
        Err(_) => return None,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn read_vm(tid: libc::pid_t, addr: u64) -> Result<Vec<u8>, i32> {
    const PAGE: u64 = 4096;
    let mut out: Vec<u8> = Vec::new();
    let mut at = addr;
    while out.len() < libc::PATH_MAX as usize {
        let len = (PAGE - at % PAGE) as usize;
        let mut buf = vec![0u8; len];
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: reading another process's memory into our own buffer of `len` bytes.
        let got = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
        if got <= 0 {
            return Err(if got == 0 { libc::EFAULT } else { errno() });
        }
        let got = &buf[..got as usize];
        match got.iter().position(|&b| b == 0) {
            Some(end) => {
                out.extend_from_slice(&got[..end]);
                return Ok(out);
            }
            None => out.extend_from_slice(got),
        }
        at += got.len() as u64;
    }
    Err(libc::ENAMETOOLONG)
}

fn read_peek(tid: libc::pid_t, addr: u64) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut at = addr;
    while out.len() < libc::PATH_MAX as usize {
        // PEEKDATA returns the word itself: -1 is a valid word, so errno tells.
        // SAFETY: clearing errno, then a plain ptrace read of our stopped tracee.
        let word = unsafe {
            *libc::__errno_location() = 0;
            libc::ptrace(libc::PTRACE_PEEKDATA, tid, at as *mut libc::c_void, 0)
        };
        if word == -1 && errno() != 0 {
            return None;
        }
        for b in word.to_ne_bytes() {
            if b == 0 {
                return Some(out);
            }
            out.push(b);
        }
        at += std::mem::size_of::<libc::c_long>() as u64;
    }
    None
}

/// The stopped thread's syscall arguments (`PTRACE_GET_SYSCALL_INFO`, at a
/// syscall-entry or seccomp stop), with the syscall number.
fn syscall_args(tid: libc::pid_t) -> Option<(u64, [u64; 6])> {
    let mut info = SyscallInfo::default();
    // SAFETY: info is large enough for the entry and seccomp forms the kernel writes.
    let got = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            tid,
            std::mem::size_of::<SyscallInfo>(),
            &mut info,
        )
    };
    (got > 0 && (info.op == PTRACE_SYSCALL_INFO_ENTRY || info.op == PTRACE_SYSCALL_INFO_SECCOMP))
        .then_some((info.nr, info.args))
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
        syscall: args.syscall.clone(),
        at: args.at,
        comm: args.comm.clone(),
        label: args.label.clone(),
        once: args.once,
        fired: false,
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
            fail(&format!(
                "PTRACE_SETOPTIONS: {}",
                std::io::Error::last_os_error()
            ));
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
            // Only the filtered syscall stops here; its arguments come with it.
            if event == libc::PTRACE_EVENT_SECCOMP {
                let args = syscall_args(tid).map(|(_, a)| a).unwrap_or_default();
                if counter.call(tid, &args) {
                    continue;
                }
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

/// `struct ptrace_syscall_info`'s entry and seccomp forms (the same layout
/// up to the arguments).
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
    /// The seccomp form's filter data (the entry form ends before it).
    ret_data: u32,
    pad2: u32,
}

const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

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
                fail(&format!(
                    "PTRACE_SEIZE {tid}: {}",
                    std::io::Error::last_os_error()
                ));
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
            if let Some((call_nr, args)) = syscall_args(tid) {
                if call_nr == nr as u64 && counter.call(tid, &args) {
                    continue;
                }
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
        let a: Vec<String> =
            "--syscall rename --at 3 --once --log /run/l --comm dpkg --label /a -- sh -c true"
                .split(' ')
                .map(String::from)
                .collect();
        let p = parse_args(&a).unwrap();
        assert_eq!(
            (p.syscall.as_str(), p.at, p.log.as_str()),
            ("rename", 3, "/run/l")
        );
        assert_eq!(p.program, ["sh", "-c", "true"]);
        assert_eq!(p.comm.as_deref(), Some("dpkg"));
        assert_eq!(p.label.as_deref(), Some("/a"));
        assert!(p.once);
        assert!(parse_args(&["--at".into(), "0".into(), "--".into(), "x".into()]).is_err());
        assert!(parse_args(&["--syscall".into(), "rename".into()]).is_err());
    }
}
