//! Crash points from a traced dry run (the seeded choice of which to
//! explore is `sample`'s).
//!
//! The dry run traces every call of the chosen syscalls with decoded file
//! descriptors (`strace -f -q -Y -y -s 0`); a call is a crash point only if
//! it changed state (see [`TracedCall::changes_state`]). strace's injection
//! (`-e inject=SYSCALL:signal=KILL:when=N`) counts *every* call of that
//! syscall in each process (thread, to be exact), reads included, so a point
//! is (syscall, N) with N the overall call number of a state-changing call in
//! the process that made it: the crash run re-executes the same operation and
//! a process of that name (the kill injector's `--comm`, in the operation's
//! tree or attached to the worker's) reaching its N-th call of that syscall
//! is killed there; processes of other names run on.
//! Points are ordered by when the dry run first reached them, which is the
//! order a crash would meet them.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use crate::nemesis::call_label;

/// Syscall families: each tool's ways of changing state, grouped for
/// reporting and for stratified sampling. A family's syscalls whose name
/// starts with `?` are legacy ones some architectures lack (strace skips an
/// unknown `?name` instead of failing).
pub const FAMILIES: [(&str, &[&str]); 8] = [
    // open/openat/creat that may create or truncate (O_CREAT or O_TRUNC);
    // an open for reading, or for writing without either flag, changes
    // nothing by itself (its writes count in `write`).
    ("create", &["?open", "openat", "?creat"]),
    // Bytes into a regular file (not a pipe, tty, socket, /dev, /proc, /sys
    // or the harness's own output files), or a file's size.
    (
        "write",
        &[
            "write",
            "pwrite64",
            "writev",
            "pwritev",
            "pwritev2",
            "copy_file_range",
            "sendfile",
            "ftruncate",
        ],
    ),
    ("rename", &["?rename", "renameat", "renameat2"]),
    ("unlink", &["?unlink", "unlinkat", "?rmdir"]),
    ("link", &["?link", "linkat", "?symlink", "symlinkat"]),
    ("mkdir", &["?mkdir", "mkdirat"]),
    // Mode, owner and times: dpkg sets them on every unpacked file, Nix
    // canonicalises every store path.
    (
        "metadata",
        &[
            "?chmod",
            "fchmod",
            "fchmodat",
            "?chown",
            "fchown",
            "?lchown",
            "fchownat",
            "utimensat",
        ],
    ),
    (
        "sync",
        &["fsync", "fdatasync", "sync", "syncfs", "sync_file_range"],
    ),
];

/// The family names, in report order.
pub fn family_names() -> Vec<&'static str> {
    FAMILIES.iter().map(|(f, _)| *f).collect()
}

/// The family a syscall belongs to; `other` for one outside every family
/// (chosen with `--syscalls`: each of its successful calls is a point).
pub fn family_of(syscall: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|(_, calls)| calls.iter().any(|c| c.trim_start_matches('?') == syscall))
        .map(|(f, _)| *f)
        .unwrap_or("other")
}

/// Rank of a family in report order (`other` and unknown names last).
pub fn family_rank(family: &str) -> usize {
    FAMILIES
        .iter()
        .position(|(f, _)| *f == family)
        .unwrap_or(FAMILIES.len())
}

/// `--syscalls` items: `@family` stands for its syscalls (legacy ones with
/// strace's `?`), anything else is a syscall name. Duplicates are dropped.
pub fn expand_syscalls(items: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out
            .iter()
            .any(|o| o.trim_start_matches('?') == s.trim_start_matches('?'))
        {
            out.push(s);
        }
    };
    for item in items {
        if let Some(f) = item.strip_prefix('@') {
            let Some((_, calls)) = FAMILIES.iter().find(|(name, _)| *name == f) else {
                return Err(format!(
                    "`@{f}` is not a syscall family (families: {})",
                    family_names().join(", ")
                ));
            };
            calls.iter().for_each(|c| push(c.to_string()));
        } else if item.is_empty()
            || !item
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("`{item}` is not a syscall name or an @family"));
        } else {
            push(item.clone());
        }
    }
    Ok(out)
}

/// One call of a traced syscall in the dry run's log.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedCall {
    pub pid: u32,
    /// How many times this pid had exited before: a reused pid is a new
    /// process, with strace counting from 1 again.
    pub life: u32,
    pub process: String,
    pub syscall: String,
    /// Top-level arguments as strace printed them (`-y` decoded).
    pub args: Vec<String>,
    /// The return value (`3</tmp/a>`, `0`, `-1 ENOENT (...)`, `?`), or
    /// `None` when the log never says (a call the process died in).
    pub ret: Option<String>,
    /// Wall-clock seconds when the call entered (`-ttt`), if logged.
    pub at: Option<f64>,
    /// The call is from the worker's trace (the Nix daemon's tree), not
    /// the operation's own process tree.
    pub worker: bool,
}

/// Paths whose changes are not the system's state: devices, kernel views
/// and the agent's own files (the operation's stdout and stderr land there).
const NOT_STATE: [&str; 4] = ["/dev/", "/proc/", "/sys/", "/run/mistake-cost/"];

/// `3</tmp/a>` or `AT_FDCWD</w>` → what `-y` decoded (any file: a path,
/// `pipe:[12]`), strace's escapes read.
fn decoded(arg: &str) -> Option<String> {
    let (_, rest) = arg.split_once('<')?;
    Some(call_label::unescape(rest.strip_suffix('>')?))
}

/// `3</tmp/a>` → `/tmp/a`: the path strace's `-y` decodes for an fd.
fn fd_path(arg: &str) -> Option<&str> {
    let (_, rest) = arg.split_once('<')?;
    rest.strip_suffix('>')
}

/// A regular file that is system state, judging by its decoded path
/// (pipes and sockets decode as `pipe:[..]`/`socket:[..]`, not as paths).
fn is_state_file(path: &str) -> bool {
    path.starts_with('/')
        && !path.ends_with(" (deleted)")
        && !NOT_STATE
            .iter()
            .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'))
}

impl TracedCall {
    pub fn family(&self) -> &'static str {
        family_of(&self.syscall)
    }

    /// The files the call names at its entry, as strace's `-y` printed them
    /// ([`call_label::names`] says which arguments): a path argument joined to
    /// its decoded directory descriptor, a descriptor's file. An fd strace
    /// could not decode reads `?`, as the injector reads one it cannot.
    pub fn names(&self) -> Vec<String> {
        use call_label::Name;
        let arg = |i: usize| self.args.get(i).map(String::as_str).unwrap_or("");
        let fd = |i: usize| decoded(arg(i)).unwrap_or_else(|| "?".into());
        let at = |d: usize, p: usize| {
            let path = call_label::unquote(arg(p)).unwrap_or_else(|| "?".into());
            call_label::join(decoded(arg(d)).as_deref(), &path)
        };
        call_label::names(&self.syscall)
            .iter()
            .map(|n| match *n {
                Name::Path(i) => {
                    call_label::lexical(&call_label::unquote(arg(i)).unwrap_or_else(|| "?".into()))
                }
                Name::Text(i) => call_label::unquote(arg(i)).unwrap_or_else(|| "?".into()),
                Name::Fd(i) => fd(i),
                Name::At(d, p) => at(d, p),
                Name::AtOrFd(d, p) if arg(p) == "NULL" => fd(d),
                Name::AtOrFd(d, p) => at(d, p),
            })
            .collect()
    }

    /// [`Self::names`] normalised into the label that names this operation
    /// in every run ([`call_label::label`]).
    pub fn label(&self) -> String {
        call_label::label(&self.names())
    }

    /// Whether the call changed state in the dry run: it succeeded (a failed
    /// call changes nothing; `mkdir -p` fails with EEXIST all the time), and
    /// - `create`: opened with O_CREAT or O_TRUNC (`creat` always), not a
    ///   device or another non-state path;
    /// - `write`: wrote at least one byte (`ftruncate`: succeeded) to a
    ///   regular file that is state (see [`NOT_STATE`]);
    /// - every other family: succeeded.
    pub fn changes_state(&self) -> bool {
        let Some(ret) = self.ret.as_deref() else {
            return false;
        };
        if ret.starts_with('-') || ret.starts_with('?') {
            return false;
        }
        let arg = |i: usize| self.args.get(i).map(String::as_str).unwrap_or("");
        match self.family() {
            "create" => {
                let flags = match self.syscall.as_str() {
                    "creat" => "O_CREAT",
                    "open" => arg(1),
                    _ => arg(2),
                };
                (flags.contains("O_CREAT") || flags.contains("O_TRUNC"))
                    && fd_path(ret).is_none_or(is_state_file)
            }
            "write" => {
                let fd = if self.syscall == "copy_file_range" {
                    arg(2)
                } else {
                    arg(0)
                };
                let wrote = self.syscall == "ftruncate"
                    || ret
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .is_some_and(|n| n > 0);
                wrote && fd_path(fd).is_some_and(is_state_file)
            }
            _ => true,
        }
    }
}

/// `PID<comm> rest` → (pid, comm, rest).
fn split_who(line: &str) -> Option<(u32, &str, &str)> {
    let (pid, rest) = line.split_once('<')?;
    let pid = pid.trim().parse::<u32>().ok()?;
    let (comm, rest) = rest.split_once("> ")?;
    Some((pid, comm, rest))
}

/// `1795655861.483301 rest` → (Some(time), rest); a line without `-ttt`'s
/// time as it is.
fn split_time(rest: &str) -> (Option<f64>, &str) {
    match rest.split_once(' ') {
        Some((t, after))
            if t.contains('.') && t.chars().all(|c| c.is_ascii_digit() || c == '.') =>
        {
            (t.parse().ok(), after)
        }
        _ => (None, rest),
    }
}

/// The calls of several traces of one operation (the client's, a worker's)
/// in the order they entered, by their `-ttt` times; calls of one trace keep
/// their order. Pids are the container's, shared by the traces, so a call's
/// (pid, life) stays its process's (a pid reused across the two traces
/// within one operation would merge two processes' counts: pids wrap only
/// after 4 million forks).
pub fn merge_traces(texts: &[&str], syscalls: &[String]) -> Vec<TracedCall> {
    // The first trace is the operation's; any other a worker's.
    let mut calls: Vec<TracedCall> = texts
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            parse_trace(t, syscalls).into_iter().map(move |mut c| {
                c.worker = i > 0;
                c
            })
        })
        .collect();
    calls.sort_by(|a, b| {
        a.at.unwrap_or(f64::MAX)
            .total_cmp(&b.at.unwrap_or(f64::MAX))
    });
    calls
}

/// Splits `args) = ret` (the text after `name(`) at top-level commas, aware
/// of strings, brackets and `-y`'s `<path>` decorations. Returns the
/// arguments and what follows the closing parenthesis, or `None` when the
/// call is not closed on this line (`<unfinished ...>`).
fn split_args(text: &str) -> Option<(Vec<String>, &str)> {
    let mut args = Vec::new();
    let (mut depth, mut start) = (1usize, 0usize);
    let (mut in_str, mut escaped, mut in_angle) = (false, false, false);
    for (i, c) in text.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        if in_angle {
            in_angle = c != '>';
            continue;
        }
        match c {
            '"' => in_str = true,
            '<' => in_angle = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    let last = text[start..i].trim();
                    if !last.is_empty() || !args.is_empty() {
                        args.push(last.to_string());
                    }
                    return Some((args, &text[i + 1..]));
                }
            }
            ',' if depth == 1 => {
                args.push(text[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// Parses a `strace -f -q -Y -y` log: `PID<comm> name(args...) = ret`.
/// A call split by another process's line (`name(args <unfinished ...>`,
/// then `<... name resumed>rest`) is one call, counted where it entered;
/// `+++ exited`/`+++ killed` lines end a process (its pid may come back as a
/// new one); signal lines are skipped. Only calls of `syscalls` are kept
/// (names may carry strace's `?`).
pub fn parse_trace(text: &str, syscalls: &[String]) -> Vec<TracedCall> {
    let wanted = |name: &str| syscalls.iter().any(|s| s.trim_start_matches('?') == name);
    let mut out: Vec<TracedCall> = Vec::new();
    let mut life: HashMap<u32, u32> = HashMap::new();
    // pid → (index in `out`, the entry half of the line after `name(`).
    let mut pending: HashMap<u32, (usize, String)> = HashMap::new();
    let finish = |call: &mut TracedCall, text: &str| {
        if let Some((args, after)) = split_args(text) {
            call.args = args;
            call.ret = after
                .trim_start()
                .strip_prefix('=')
                .map(|r| r.trim().to_string());
        }
    };
    for line in text.lines() {
        let Some((pid, comm, rest)) = split_who(line) else {
            continue;
        };
        let (at, rest) = split_time(rest);
        if rest.starts_with("+++ ") {
            pending.remove(&pid);
            *life.entry(pid).or_insert(0) += 1;
            continue;
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            if let Some((i, head)) = pending.remove(&pid) {
                finish(&mut out[i], &format!("{head}{tail}"));
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if name.starts_with("---") || !wanted(name) {
            continue;
        }
        let mut call = TracedCall {
            pid,
            life: life.get(&pid).copied().unwrap_or(0),
            process: comm.to_string(),
            syscall: name.to_string(),
            args: Vec::new(),
            ret: None,
            at,
            worker: false,
        };
        if let Some(head) = args.strip_suffix("<unfinished ...>") {
            pending.insert(pid, (out.len(), head.trim_end().to_string()));
        } else {
            finish(&mut call, args);
        }
        out.push(call);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashPoint {
    /// Rank by first occurrence in the dry run (0-based).
    pub index: usize,
    pub syscall: String,
    /// The syscall's family (`create`, `write`, ...; `other` outside them).
    #[serde(default)]
    pub family: String,
    /// The call number the crash run kills at: the k-th call of `syscall`
    /// on [`Self::label`] in a process, every call counted (reads and
    /// failures too).
    pub k: u64,
    /// The process whose k-th call changed state, first in the dry run (its
    /// command name).
    pub process: String,
    /// Which of that process's state-changing calls of `syscall` on the
    /// label it was (the 1st that created a file may be its 3rd openat of it).
    #[serde(default)]
    pub change: u64,
    /// A process that reached its own k-th call of `syscall` earlier in the
    /// dry run at a call that changed nothing: strace kills it there too,
    /// first. `None` when the state-changing call is the first to reach k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reached_by: Option<String>,
    /// The file the state-changing call changed in the dry run
    /// ([`super::classes::changed_path`]); its shape decides the point's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The call was in the worker's tree (the Nix daemon and its builders),
    /// where the crash run attaches the injector to the worker; else in the
    /// operation's tree. Either way only `process` is killed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_worker: bool,
    /// The call's file or files as the crash run finds them again
    /// ([`TracedCall::label`]): `k` counts calls on this label. Empty for a
    /// call naming nothing, and in files from before labels, where `k` is
    /// the process's call number of `syscall`.
    #[serde(default)]
    pub label: String,
    /// Another dry run of the same operation did not make this point: it
    /// is not sampled ([`mark_unsteady`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsteady: bool,
}

impl CrashPoint {
    /// Tree, process and operation: what makes two runs' points the same.
    fn identity(&self) -> (bool, &str, String) {
        (self.in_worker, self.process.as_str(), self.operation())
    }
    /// The operation, as crash records name it: `renameat /a/x.tmp -> /a/x #2`
    /// (the k-th call on that label), or `sync #3` for a call naming nothing.
    pub fn operation(&self) -> String {
        operation_text(&self.syscall, &self.label, self.k)
    }
}

/// [`CrashPoint::operation`]'s text (`call_label::operation_text`, which
/// the kill injector's log uses too).
pub use crate::nemesis::call_label::operation_text;

/// Every crash point of the dry run, in order of first occurrence. A point
/// is an operation: (tree, process name, syscall, label, k) where the label
/// names the file or files of the call ([`TracedCall::label`]) and k counts
/// that process's calls of the syscall on that label, every call counted
/// (reads and failures too), as the kill injector counts them at each call's
/// entry. Other files' calls do not move k, so a worker whose call counts
/// vary from run to run (the Nix daemon) still has the same points. A
/// syscall that names nothing (`sync`) has an empty label: k is then the
/// process's call number of that syscall, as strace counts. The crash run
/// kills only threads of that command name, in that tree (the operation's,
/// or a worker's): dpkg's and apt-get's writes to one file are two points.
pub fn points(calls: &[TracedCall]) -> Vec<CrashPoint> {
    // (pid, life, syscall, label) → (all calls, state-changing calls).
    let mut per_process: HashMap<(u32, u32, &str, String), (u64, u64)> = HashMap::new();
    // (syscall, label, k, worker's tree or not, process name).
    type Key<'a> = (&'a str, String, u64, bool, &'a str);
    let mut seen: HashMap<Key, ()> = HashMap::new();
    let mut reached_first: HashMap<Key, &str> = HashMap::new();
    let mut out = Vec::new();
    for c in calls {
        let label = c.label();
        let n = per_process
            .entry((c.pid, c.life, c.syscall.as_str(), label.clone()))
            .or_insert((0, 0));
        n.0 += 1;
        let key = (c.syscall.as_str(), label, n.0, c.worker, c.process.as_str());
        if !c.changes_state() {
            reached_first.entry(key).or_insert(c.process.as_str());
            continue;
        }
        n.1 += 1;
        let (k, change) = *n;
        if seen.insert(key.clone(), ()).is_none() {
            out.push(CrashPoint {
                index: out.len(),
                syscall: c.syscall.clone(),
                family: c.family().to_string(),
                k,
                process: c.process.clone(),
                change,
                first_reached_by: reached_first.get(&key).map(|p| p.to_string()),
                target: super::classes::changed_path(c),
                in_worker: c.worker,
                label: key.1,
                unsteady: false,
            });
        }
    }
    out
}

/// Marks the points of `first` that a second dry run (`second`) does not
/// make (the same tree, process and operation): when the Nix daemon
/// checkpoints its database in one run and not the other, or writes its
/// log a few more times, those calls are unsteady. Only the missing points
/// are: marking every point on a file whose counts differ would take a
/// busy file's hundred steady writes out in one explore and not the next,
/// moving the sample more than the few it guards against. Returns how many
/// were marked.
pub fn mark_unsteady(first: &mut [CrashPoint], second: &[CrashPoint]) -> usize {
    let other: std::collections::HashSet<(bool, &str, String)> =
        second.iter().map(|p| p.identity()).collect();
    let mut n = 0;
    for p in first.iter_mut() {
        let (w, pr, op) = p.identity();
        p.unsteady = !other.contains(&(w, pr, op));
        n += p.unsteady as usize;
    }
    n
}

/// Points per family, in report order.
pub fn count_by_family<'a>(
    families: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<(usize, String), usize> {
    let mut out = BTreeMap::new();
    for f in families {
        *out.entry((family_rank(f), f.to_string())).or_insert(0) += 1;
    }
    out
}

/// "create 12, write 300" from [`count_by_family`].
pub fn family_counts_line(counts: &BTreeMap<(usize, String), usize>) -> String {
    counts
        .iter()
        .map(|((_, f), n)| format!("{f} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `strace -f -q -Y -y -s 0 -e trace=<the default families> -- sh -c '...'`
    /// on a Debian host: a shell redirect, mv, ln -s, mkdir -p (and a failing
    /// mkdir), cp (copy_file_range), rm, rmdir, chmod, and python writing,
    /// fsyncing, copying (sendfile), replacing and unlinking a file.
    const LOG: &str = include_str!("testdata/strace-y.log");
    /// Two python threads writing two files: strace splits their calls into
    /// `<unfinished ...>` / `<... write resumed>` halves; each thread's
    /// last call never resumes (the excerpt ends).
    const THREADS: &str = include_str!("testdata/strace-y-threads.log");

    fn default_set() -> Vec<String> {
        expand_syscalls(
            &family_names()
                .iter()
                .map(|f| format!("@{f}"))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn changing(text: &str) -> Vec<(String, String)> {
        parse_trace(text, &default_set())
            .into_iter()
            .filter(|c| c.changes_state())
            .map(|c| {
                (
                    c.process.clone(),
                    format!("{}({})", c.syscall, c.args.join(", ")),
                )
            })
            .collect()
    }

    #[test]
    fn families_expand_and_names_are_checked() {
        let s = expand_syscalls(&["@rename".into(), "fsync".into(), "renameat".into()]).unwrap();
        assert_eq!(s, vec!["?rename", "renameat", "renameat2", "fsync"]);
        assert!(expand_syscalls(&["@nope".into()])
            .unwrap_err()
            .contains("not a syscall family"));
        assert!(expand_syscalls(&["rm -rf".into()]).is_err());
        assert_eq!(family_of("renameat2"), "rename");
        assert_eq!(family_of("rmdir"), "unlink");
        assert_eq!(family_of("chdir"), "other");
    }

    #[test]
    fn parses_real_strace_lines_with_decoded_fds() {
        let calls = parse_trace(LOG, &default_set());
        let cp = calls
            .iter()
            .find(|c| c.syscall == "copy_file_range")
            .unwrap();
        assert_eq!(cp.args[2], "4</tmp/st-d/w/z>");
        assert_eq!(cp.ret.as_deref(), Some("3"));
        let mkdir = calls
            .iter()
            .filter(|c| c.syscall == "mkdir")
            .map(|c| c.ret.clone().unwrap())
            .collect::<Vec<_>>();
        assert_eq!(mkdir, vec!["0", "0", "-1 EEXIST (File exists)"]);
        let sendfile = calls.iter().find(|c| c.syscall == "sendfile").unwrap();
        assert_eq!(
            sendfile.args,
            vec![
                "4</tmp/st-d/w/t9>",
                "3</tmp/st-d/w/t0>",
                "[0] => [5000]",
                "8388608"
            ]
        );
        // `cat` and `mv` exited: the pids of later processes start a new life.
        assert!(calls.iter().all(|c| c.life == 0), "no pid was reused here");
        // Only the chosen syscalls.
        assert!(parse_trace(LOG, &["rename".into()])
            .iter()
            .all(|c| c.syscall == "rename"));
    }

    #[test]
    fn only_state_changing_calls_count() {
        let got = changing(LOG);
        let want = [
            (
                "sh",
                r#"openat(AT_FDCWD</tmp/st-d/w>, "a", O_WRONLY|O_CREAT|O_TRUNC, 0666)"#,
            ),
            ("sh", r#"write(1</tmp/st-d/w/a>, ""..., 3)"#),
            (
                "mv",
                r#"renameat2(AT_FDCWD</tmp/st-d/w>, "a", AT_FDCWD</tmp/st-d/w>, "c", RENAME_NOREPLACE)"#,
            ),
            ("ln", r#"symlinkat("c", AT_FDCWD</tmp/st-d/w>, "d")"#),
            ("mkdir", r#"mkdir("x", 0777)"#),
            ("mkdir", r#"mkdir("y", 0777)"#),
            (
                "cp",
                r#"openat(AT_FDCWD</tmp/st-d/w>, "z", O_WRONLY|O_CREAT|O_EXCL, 0755)"#,
            ),
            (
                "cp",
                r#"copy_file_range(3</etc/hostname>, NULL, 4</tmp/st-d/w/z>, NULL, 9223372035781033984, 0)"#,
            ),
            ("rm", r#"unlinkat(AT_FDCWD</tmp/st-d/w>, "d", 0)"#),
            ("rmdir", r#"rmdir("x/y")"#),
            ("chmod", r#"fchmodat(AT_FDCWD</tmp/st-d/w>, "z", 0600)"#),
            (
                "python3",
                r#"openat(AT_FDCWD</tmp/st-d/w>, "t0", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666)"#,
            ),
            ("python3", r#"write(3</tmp/st-d/w/t0>, ""..., 5000)"#),
            ("python3", r#"fsync(3</tmp/st-d/w/t0>)"#),
            (
                "python3",
                r#"openat(AT_FDCWD</tmp/st-d/w>, "t9", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666)"#,
            ),
            (
                "python3",
                r#"sendfile(4</tmp/st-d/w/t9>, 3</tmp/st-d/w/t0>, [0] => [5000], 8388608)"#,
            ),
            ("python3", r#"rename("t9", "t8")"#),
            ("python3", r#"unlink("t8")"#),
            // The shell's `echo done` into the host file it was redirected to.
            ("sh", r#"write(1</tmp/st-d/out4>, ""..., 5)"#),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want);
        // Left out: reads, `> /dev/null` (O_CREAT on a device), cat's write
        // to /dev/null, the failing mkdir, copy_file_range/sendfile at EOF (0 bytes).
    }

    #[test]
    fn writes_to_pipes_and_the_agents_files_are_not_state() {
        let line = |fd: &str| format!("5<sh> write(1<{fd}>, \"\"..., 3) = 3\n");
        for fd in [
            "pipe:[41821]",
            "socket:[77]",
            "/dev/pts/0",
            "/run/mistake-cost/out.12.0",
            "/tmp/x (deleted)",
        ] {
            assert!(changing(&line(fd)).is_empty(), "{fd}");
        }
        assert_eq!(changing(&line("/var/lib/dpkg/status-new")).len(), 1);
        // A failed write or open changes nothing.
        assert!(changing(
            "5<sh> write(3</etc/x>, \"\"..., 3) = -1 ENOSPC (No space left on device)\n"
        )
        .is_empty());
    }

    #[test]
    fn split_calls_are_joined_and_an_unresumed_call_is_unknown() {
        let calls = parse_trace(THREADS, &default_set());
        assert_eq!(calls.len(), 11);
        let t1: Vec<Option<&str>> = calls
            .iter()
            .filter(|c| c.pid == 2256 && c.syscall == "write")
            .map(|c| c.ret.as_deref())
            .collect();
        assert_eq!(t1, vec![Some("5000"), Some("5000"), Some("5000"), None]);
        assert_eq!(calls[4].args[0], "4</tmp/st-d/w/t1>");
        assert!(
            !calls[10].changes_state(),
            "never resumed: not known to have changed anything"
        );
    }

    #[test]
    fn a_point_is_the_kth_call_on_its_label_in_its_process() {
        let calls = parse_trace(LOG, &default_set());
        let p = points(&calls);
        // Every point's k counts again: that process's calls of the syscall
        // on the same label, reads and failures included.
        for pt in &p {
            let found = calls
                .iter()
                .filter(|c| c.syscall == pt.syscall && c.label() == pt.label)
                .scan(HashMap::new(), |n: &mut HashMap<(u32, u32), u64>, c| {
                    let e = n.entry((c.pid, c.life)).or_insert(0);
                    *e += 1;
                    Some((c, *e))
                })
                .find(|(c, k)| *k == pt.k && c.changes_state() && c.process == pt.process);
            assert!(found.is_some(), "{pt:?}");
        }
        assert_eq!(
            p.iter().map(|c| c.index).collect::<Vec<_>>(),
            (0..p.len()).collect::<Vec<_>>()
        );
        // The shell's and python's writes are points of their files; the
        // shell's `echo done` into out4 is another file's first write.
        assert_eq!(
            p.iter()
                .filter(|c| c.family == "write")
                .map(|c| (c.process.as_str(), c.operation()))
                .collect::<Vec<_>>(),
            vec![
                ("sh", "write /tmp/st-*/w/a #1".to_string()),
                ("cp", "copy_file_range /tmp/st-*/w/z #1".to_string()),
                ("python3", "write /tmp/st-*/w/t# #1".to_string()),
                ("python3", "sendfile /tmp/st-*/w/t# #1".to_string()),
                ("sh", "write /tmp/st-*/out# #1".to_string()),
            ]
        );
        // Two paths for a rename; a legacy call's relative path stays as written.
        let ops: Vec<String> = p.iter().map(|c| c.operation()).collect();
        assert!(
            ops.contains(&"renameat2 /tmp/st-*/w/a -> /tmp/st-*/w/c #1".to_string()),
            "{ops:?}"
        );
        assert!(ops.contains(&"rename t# -> t# #1".to_string()), "{ops:?}");
        assert!(
            ops.contains(&"symlinkat c -> /tmp/st-*/w/d #1".to_string()),
            "{ops:?}"
        );
    }

    #[test]
    fn counting_is_per_process_and_restarts_for_a_reused_pid() {
        let log = "\
7<sh> openat(AT_FDCWD</>, \"a\", O_RDONLY|O_CLOEXEC) = 3</a>
7<sh> openat(AT_FDCWD</>, \"a\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</a>
8<sh> openat(AT_FDCWD</>, \"a\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</a>
7<sh> +++ exited with 0 +++
7<cp> openat(AT_FDCWD</>, \"/a\", O_RDONLY|O_CLOEXEC) = 3</a>
7<cp> openat(AT_FDCWD</>, \"a\", O_WRONLY|O_CREAT|O_EXCL, 0755) = 4</a>
";
        let p = points(&parse_trace(log, &default_set()));
        let keys: Vec<(u64, &str, Option<&str>)> = p
            .iter()
            .map(|c| (c.k, c.process.as_str(), c.first_reached_by.as_deref()))
            .collect();
        // Point 1 is pid 8's first openat of /a, though pid 7 (a read) got
        // there first; the reused pid 7, now cp, counts from 1 again: its
        // 2nd openat of /a is cp's point (2), not sh's nor a 4th.
        assert_eq!(
            keys,
            vec![(2, "sh", None), (1, "sh", Some("sh")), (2, "cp", None)]
        );
    }

    #[test]
    fn points_another_dry_run_does_not_reproduce_are_unsteady() {
        let point = |index: usize, syscall: &str, label: &str, k: u64| CrashPoint {
            index,
            syscall: syscall.into(),
            family: family_of(syscall).into(),
            k,
            process: "nix-daemon".into(),
            change: k,
            first_reached_by: None,
            target: None,
            in_worker: true,
            label: label.into(),
            unsteady: false,
        };
        let db = "/nix/var/nix/db/db.sqlite";
        let mut first = vec![
            point(0, "pwrite64", "/nix/var/nix/db/db.sqlite-wal", 1),
            point(1, "pwrite64", db, 1),
            point(2, "pwrite64", db, 2),
            point(3, "pwrite64", db, 3),
            point(4, "fdatasync", db, 1),
            point(5, "sync", "", 1),
        ];
        // The other run checkpointed fewer pages and made no sync.
        let second = vec![
            point(0, "pwrite64", "/nix/var/nix/db/db.sqlite-wal", 1),
            point(1, "pwrite64", db, 1),
            point(2, "pwrite64", db, 2),
            point(3, "fdatasync", db, 1),
        ];
        assert_eq!(mark_unsteady(&mut first, &second), 2);
        let steady: Vec<usize> = first
            .iter()
            .filter(|p| !p.unsteady)
            .map(|p| p.index)
            .collect();
        assert_eq!(
            steady,
            vec![0, 1, 2, 4],
            "the third page and the sync are unsteady"
        );
        let mut same = second.clone();
        assert_eq!(mark_unsteady(&mut same, &second), 0);
    }

    #[test]
    fn a_worker_trace_merges_with_the_client_trace_in_time_order() {
        let client = "10<nix-env> 100.000001 openat(AT_FDCWD</>, \"/root/a\", O_WRONLY|O_CREAT, 0644) = 3</root/a>\n\
                      10<nix-env> 100.000300 rename(\"/root/a\", \"/root/b\") = 0\n";
        let worker = "20<nix-daemon> 100.000200 openat(AT_FDCWD</>, \"/nix/store/x\", O_WRONLY|O_CREAT, 0644) = 4</nix/store/x>\n\
                      20<nix-daemon> 100.000250 +++ exited with 0 +++\n";
        let calls = merge_traces(&[client, worker], &default_set());
        let order: Vec<(u32, &str)> = calls.iter().map(|c| (c.pid, c.syscall.as_str())).collect();
        assert_eq!(order, vec![(10, "openat"), (20, "openat"), (10, "rename")]);
        assert_eq!(calls[1].at, Some(100.0002));
        // Each tree's first openat is a point of its own: the crash run
        // kills in one tree only.
        let p = points(&calls);
        assert_eq!(
            p.iter()
                .map(|p| (p.syscall.as_str(), p.k, p.process.as_str(), p.in_worker))
                .collect::<Vec<_>>(),
            vec![
                ("openat", 1, "nix-env", false),
                ("openat", 1, "nix-daemon", true),
                ("rename", 1, "nix-env", false)
            ]
        );
        // Untimed lines parse as before.
        assert_eq!(
            parse_trace("5<sh> unlink(\"/etc/x\") = 0\n", &default_set())[0].at,
            None
        );
    }
}
