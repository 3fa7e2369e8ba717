//! The kill injector's syscall table and seccomp filter: pure data shared
//! by the harness (which syscalls the injector can take) and the injector
//! binary itself, which includes this file (`#[path]`) rather than linking
//! the whole harness library into a tool copied into every fixtures volume.

/// The x86_64 number of a syscall the injector handles: those of explore's
/// families (explore::points::FAMILIES) and `truncate`. Any other name, or
/// another architecture, stays with strace.
pub fn syscall_number(name: &str) -> Option<i64> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    // From the kernel's arch/x86/entry/syscalls/syscall_64.tbl.
    let nr = match name {
        "write" => 1,
        "open" => 2,
        "pwrite64" => 18,
        "writev" => 20,
        "sendfile" => 40,
        "fsync" => 74,
        "fdatasync" => 75,
        "truncate" => 76,
        "ftruncate" => 77,
        "rename" => 82,
        "mkdir" => 83,
        "rmdir" => 84,
        "creat" => 85,
        "link" => 86,
        "unlink" => 87,
        "symlink" => 88,
        "chmod" => 90,
        "fchmod" => 91,
        "chown" => 92,
        "fchown" => 93,
        "lchown" => 94,
        "sync" => 162,
        "openat" => 257,
        "mkdirat" => 258,
        "fchownat" => 260,
        "unlinkat" => 263,
        "renameat" => 264,
        "linkat" => 265,
        "symlinkat" => 266,
        "fchmodat" => 268,
        "sync_file_range" => 277,
        "utimensat" => 280,
        "pwritev" => 296,
        "syncfs" => 306,
        "renameat2" => 316,
        "copy_file_range" => 326,
        "pwritev2" => 328,
        _ => return None,
    };
    Some(nr)
}

/// `AUDIT_ARCH_X86_64`: the filter lets other ABIs' calls through.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// One classic-BPF instruction (the kernel's `struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInstruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_RET | BPF_K.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// The seccomp program: SECCOMP_RET_TRACE for syscall `nr` of the x86_64
/// ABI (a ptrace stop the injector counts), allow everything else.
pub fn seccomp_filter(nr: i64) -> Vec<BpfInstruction> {
    let i = |code, jt, jf, k| BpfInstruction { code, jt, jf, k };
    vec![
        i(BPF_LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        i(BPF_JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        i(BPF_LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        i(BPF_JEQ_K, 0, 1, nr as u32),
        i(BPF_RET_K, 0, 0, SECCOMP_RET_TRACE),
        i(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_agrees_with_libc() {
        assert_eq!(syscall_number("renameat2"), Some(libc::SYS_renameat2));
        assert_eq!(syscall_number("openat"), Some(libc::SYS_openat));
        assert_eq!(
            syscall_number("copy_file_range"),
            Some(libc::SYS_copy_file_range)
        );
        assert_eq!(syscall_number("utimensat"), Some(libc::SYS_utimensat));
        assert_eq!(
            syscall_number("sync_file_range"),
            Some(libc::SYS_sync_file_range)
        );
    }

    #[test]
    fn the_filter_traces_one_syscall_and_allows_the_rest() {
        let f = seccomp_filter(82);
        assert_eq!(f[3].k, 82);
        // A foreign architecture and another number both jump to ALLOW.
        assert_eq!(f[2 + f[1].jf as usize].k, SECCOMP_RET_ALLOW);
        assert_eq!(f[4 + f[3].jf as usize].k, SECCOMP_RET_ALLOW);
        assert_eq!(f[4].k, SECCOMP_RET_TRACE);
        assert_eq!(
            f[0].code,
            libc::BPF_LD as u16 | libc::BPF_W as u16 | libc::BPF_ABS as u16
        );
        assert_eq!(
            f[1].code,
            libc::BPF_JMP as u16 | libc::BPF_JEQ as u16 | libc::BPF_K as u16
        );
        assert_eq!(f[4].code, libc::BPF_RET as u16 | libc::BPF_K as u16);
    }
}
