//! The kill injector (`mistake-cost-inject`, src/bin): SIGKILL at a
//! thread's k-th call of one syscall (on one file, for explore's points),
//! as `strace -e inject=…:signal=KILL` does, but under a seccomp filter so
//! only that syscall stops the tracee.
//! Here: how it is shipped into containers (the fixtures volume) and the
//! command around it; its syscall table and filter are in `seccomp.rs`.

use std::io;
use std::path::{Path, PathBuf};

use super::strace::shell_quote;

/// The binary's file name, next to the harness's own executable.
pub const FILE_NAME: &str = "mistake-cost-inject";
/// Where it lands in a scenario's fixtures folder, hence at
/// `/fixtures/.tools/` in every sandbox (docker::fixtures).
pub const TOOLS_DIR: &str = ".tools";
/// Its path inside a container.
pub const IN_CONTAINER: &str = "/fixtures/.tools/mistake-cost-inject";

pub use super::seccomp::{seccomp_filter, syscall_number};

/// The injector built with this harness: next to its executable (an
/// installed or `cargo build` binary), or one folder up (a test binary in
/// target/*/deps).
pub fn host_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(FILE_NAME), dir.parent()?.join(FILE_NAME)]
        .into_iter()
        .find(|p| p.is_file())
}

/// Copies the injector into a fixtures folder; false when there is none
/// to copy (crash runs then use strace: the same points, slower).
pub fn ship(fixtures_dir: &Path) -> io::Result<bool> {
    let Some(binary) = host_binary() else {
        return Ok(false);
    };
    let tools = fixtures_dir.join(TOOLS_DIR);
    std::fs::create_dir_all(&tools)?;
    std::fs::copy(&binary, tools.join(FILE_NAME))?;
    Ok(true)
}

/// `command` killed at every thread's `at`-th call of `syscall`, by the
/// injector when the container has it and it runs there (`--check`), else
/// by `strace_fallback` (the same kill through strace). The log has
/// strace's kill lines either way.
pub fn wrap(command: &str, syscall: &str, at: u64, log: &str, strace_fallback: &str) -> String {
    format!(
        "if {IN_CONTAINER} --check 2>/dev/null; then {}; else {strace_fallback}; fi",
        invocation(
            syscall,
            at,
            None,
            log,
            &format!("-- sh -c {}", shell_quote(command))
        )
    )
}

/// Explore's crash point as the injector takes it: the first thread named
/// `process` to reach its `at`-th call of `syscall` on `label` (every call
/// of it counted when the label is empty) is killed, and no other.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub syscall: &'a str,
    pub at: u64,
    pub process: &'a str,
    pub label: &'a str,
}

/// `command` crashed at `target` (explore's crash points). No strace
/// fallback: strace can neither tell processes apart nor count per file,
/// so a missing injector is exit 126, which the checker reads as
/// "unknown", never as a crash that did not fire.
pub fn targeted(command: &str, target: &Target, log: &str) -> String {
    format!(
        "{} {}",
        present_or_126(),
        invocation(
            target.syscall,
            target.at,
            Some(target),
            log,
            &format!("-- sh -c {}", shell_quote(command))
        )
    )
}

/// The injector attached to a running worker whose pid is in `$w`
/// (nemesis::strace's `around_worker_with` supplies it).
pub fn attach_command(target: &Target, log: &str) -> String {
    invocation(
        target.syscall,
        target.at,
        Some(target),
        log,
        "--attach \"$w\"",
    )
}

/// The one place the injector's command line is built; `to` is
/// `-- sh -c …` or `--attach …`, last.
fn invocation(syscall: &str, at: u64, target: Option<&Target>, log: &str, to: &str) -> String {
    let comm = target
        .map(|t| format!(" --comm {}", shell_quote(t.process)))
        .unwrap_or_default();
    let label = target
        .filter(|t| !t.label.is_empty())
        .map(|t| format!(" --label {}", shell_quote(t.label)))
        .unwrap_or_default();
    // A crash point is one crash; a scenario's fault kills every process
    // reaching its k-th call, as strace does.
    let once = if target.is_some() { " --once" } else { "" };
    format!(
        "{IN_CONTAINER} --syscall {syscall} --at {at}{once}{comm}{label} --log {} {to}",
        shell_quote(log)
    )
}

/// A shell guard: exit 126 with a message when the container lacks the
/// injector (its fixtures volume was filled without it).
pub fn present_or_126() -> String {
    format!(
        "{IN_CONTAINER} --check 2>/dev/null || {{ echo 'mistake-cost: {IN_CONTAINER} is missing or cannot run in this container' >&2; exit 126; }};"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_every_family_syscall() {
        for (_, calls) in crate::explore::points::FAMILIES {
            for c in calls {
                assert!(syscall_number(c.trim_start_matches('?')).is_some(), "{c}");
            }
        }
        assert_eq!(syscall_number("getdents64"), None);
    }

    #[test]
    fn the_wrapper_falls_back_to_strace() {
        let w = wrap("echo 'x'", "rename", 3, "/run/l", "strace X");
        assert_eq!(
            w,
            "if /fixtures/.tools/mistake-cost-inject --check 2>/dev/null; then /fixtures/.tools/mistake-cost-inject --syscall rename --at 3 --log '/run/l' -- sh -c 'echo '\\''x'\\'''; else strace X; fi"
        );
    }
}
