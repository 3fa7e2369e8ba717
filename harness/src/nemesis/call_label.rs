//! What one syscall call names — its path or paths — and the label that
//! names it the same way in every run. Read from strace's `-y` log by
//! explore's dry run and from a stopped tracee by the kill injector, which
//! includes this file (`#[path]`, std only), so both sides share one table
//! and one normalisation.

/// Where a syscall's names are among its arguments (x86_64 numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// A path argument with no directory descriptor (the legacy calls): as
    /// given, so a relative one stays relative (strace does not decode the
    /// working directory for them either).
    Path(usize),
    /// A directory descriptor and a path resolved against it when relative
    /// (`AT_FDCWD`: the working directory).
    At(usize, usize),
    /// A file descriptor: the file it is open on.
    Fd(usize),
    /// `utimensat`: a path against a descriptor, or the descriptor itself
    /// when the path is NULL.
    AtOrFd(usize, usize),
    /// Text that is not looked up (a symlink's target), kept as written.
    Text(usize),
}

/// The names of a call of `syscall`, in argument order; empty for a call
/// that names nothing (`sync`) or a syscall outside this table, whose crash
/// points are then counted by call number alone.
pub fn names(syscall: &str) -> &'static [Name] {
    use Name::*;
    match syscall {
        "open" | "creat" | "truncate" | "unlink" | "rmdir" | "mkdir" | "chmod" | "chown"
        | "lchown" => &[Path(0)],
        "openat" | "unlinkat" | "mkdirat" | "fchmodat" | "fchownat" => &[At(0, 1)],
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "ftruncate" | "fsync"
        | "fdatasync" | "sync_file_range" | "syncfs" | "fchmod" | "fchown" | "sendfile" => &[Fd(0)],
        "copy_file_range" => &[Fd(2)],
        "rename" | "link" => &[Path(0), Path(1)],
        "renameat" | "renameat2" | "linkat" => &[At(0, 1), At(2, 3)],
        "symlink" => &[Text(0), Path(1)],
        "symlinkat" => &[Text(0), At(1, 2)],
        "utimensat" => &[AtOrFd(0, 1)],
        _ => &[],
    }
}

/// `rel` against the directory `dir` (when `rel` is relative and `dir` is
/// known), then [`lexical`].
pub fn join(dir: Option<&str>, rel: &str) -> String {
    match dir {
        Some(d) if !rel.starts_with('/') => lexical(&format!("{d}/{rel}")),
        _ => lexical(rel),
    }
}

/// Drops empty and `.` components (`/a//./b/` → `/a/b`); `..` is kept:
/// resolving it needs the file system, and both sides only need to agree.
pub fn lexical(path: &str) -> String {
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The label of a call: its names normalised ([`normalise`]), joined by
/// ` -> ` (a rename's source and target). Empty for a call naming nothing.
pub fn label(names: &[String]) -> String {
    names
        .iter()
        .map(|n| normalise(n))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// An operation as crash records and the injector's log name it:
/// `renameat /a/x.tmp -> /a/x #2` (the k-th call on that label), or
/// `sync #3` for a call naming nothing.
pub fn operation_text(syscall: &str, label: &str, k: u64) -> String {
    if label.is_empty() {
        format!("{syscall} #{k}")
    } else {
        format!("{syscall} {label} #{k}")
    }
}

/// Temporary folders: their entries' names are chosen at random by the tool
/// that makes them (`mkdtemp`, Python's `tempfile`).
const TEMP_DIRS: [&str; 3] = ["/tmp/", "/var/tmp/", "/dev/shm/"];

/// A path with what changes from run to run masked, so the same operation
/// has the same label in every run:
/// - runs of 32 or more lowercase letters and digits (store-path hashes,
///   hex uuids and digests) → `*`;
/// - in an entry directly under a temporary folder, the part after its last
///   `-` (the whole entry when it has none) → `*`
///   (`/tmp/pip-install-qkj_9j5y` → `/tmp/pip-install-*`);
/// - Python's `tempfile` names (a prefix, 8 characters of `[a-z0-9_]`, a
///   suffix): the 8 before a `.tmp` suffix (pip's `RECORDk3j_x9q2.tmp`),
///   or after a leading `tmp` (`tmpk3j_x9q2.json`) → `*`;
/// - a component's last `.`/`-` part of exactly 6 letters and digits that
///   mixes digits and letters or upper and lower case (`mkstemp`'s
///   `XXXXXX`) → `*`;
/// - digit runs (pids, counters, `id()`s, `.tmp-PID-RANDOM`) → `#`, except
///   in dotted numbers (versions: `liba-1.0`, `python3.11` keep theirs).
///
/// Over-masking is harmless (the occurrence number still tells calls on
/// one label apart, in the order the process makes them); a random part
/// left unmasked would make the label differ between runs.
pub fn normalise(path: &str) -> String {
    let temp_entry = TEMP_DIRS
        .iter()
        .find(|t| path.starts_with(*t))
        .map(|t| t.matches('/').count());
    path.split('/')
        .enumerate()
        .map(|(i, c)| {
            let c = mask_hashes(c);
            let c = if Some(i) == temp_entry {
                match c.rfind('-') {
                    Some(d) => format!("{}*", &c[..=d]),
                    None => "*".into(),
                }
            } else {
                mask_mkstemp(&mask_python_temp(&c))
            };
            mask_digits(&c)
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn mask_hashes(c: &str) -> String {
    let mut out = String::with_capacity(c.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 32 {
            out.push('*');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in c.chars() {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn mask_python_temp(c: &str) -> String {
    let random = |s: &str| {
        s.len() == 8
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if let Some(stem) = c.strip_suffix(".tmp") {
        if stem.len() > 8
            && stem.is_char_boundary(stem.len() - 8)
            && random(&stem[stem.len() - 8..])
        {
            return format!("{}*.tmp", &stem[..stem.len() - 8]);
        }
    }
    if let Some(rest) = c.strip_prefix("tmp") {
        let end = rest.find('.').unwrap_or(rest.len());
        if random(&rest[..end]) {
            return format!("tmp*{}", &rest[end..]);
        }
    }
    c.to_string()
}

fn mask_mkstemp(c: &str) -> String {
    let Some(cut) = c.rfind(['.', '-']) else {
        return c.to_string();
    };
    let tail = &c[cut + 1..];
    let random = tail.len() == 6 && tail.chars().all(|ch| ch.is_ascii_alphanumeric()) && {
        let has = |f: fn(&char) -> bool| tail.chars().any(|ch| f(&ch));
        (has(char::is_ascii_digit) && has(char::is_ascii_alphabetic))
            || (has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase))
    };
    if random {
        format!("{}*", &c[..=cut])
    } else {
        c.to_string()
    }
}

fn mask_digits(c: &str) -> String {
    let b = c.as_bytes();
    let mut out = String::with_capacity(c.len());
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            let ch = c[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // A dotted number: digits joined to digits by a dot on either side.
        let dotted_before = start >= 2 && b[start - 1] == b'.' && b[start - 2].is_ascii_digit();
        let dotted_after = i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit();
        if dotted_before || dotted_after {
            out.push_str(&c[start..i]);
        } else {
            out.push('#');
        }
    }
    out
}

/// strace's quoted string (`"a\303\251b"`, maybe followed by `...`) → its
/// bytes as text (invalid UTF-8 replaced, as the injector does with what it
/// reads). `None` when `arg` is not a quoted string (`NULL`, a number).
pub fn unquote(arg: &str) -> Option<String> {
    let inner = arg.strip_prefix('"')?;
    let end = inner.rfind('"')?;
    Some(unescape(&inner[..end]))
}

/// C escapes as strace prints them: `\\ \" \n \t \r \v \f`, octal `\NNN`
/// and hex `\xHH`.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let e = b[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'x' => {
                let hex: String = s[i..]
                    .chars()
                    .take(2)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                i += hex.len();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or(b'x'));
            }
            b'0'..=b'7' => {
                let mut v: u32 = (e - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_parts_are_masked_and_versions_kept() {
        let cases = [
            (
                "/tmp/pip-install-qkj_9j5y/liba_209a6dc2e65046dd8e3f28bc0291bd75/setup.py",
                "/tmp/pip-install-*/liba_*/setup.py",
            ),
            ("/tmp/o_pjbz8m", "/tmp/*"),
            (
                "/tmp/nix-build-liba-1.0.drv-0/x",
                "/tmp/nix-build-liba-1.0.drv-*/x",
            ),
            (
                "/nix/store/cj4rs2h8pykwls1vgsc5xm3bl0dg9q7z-liba-1.0/share/liba/part12.dat",
                "/nix/store/*-liba-1.0/share/liba/part#.dat",
            ),
            (
                "/nix/var/nix/profiles/default-3-link.tmp-57-123456",
                "/nix/var/nix/profiles/default-#-link.tmp-#-#",
            ),
            ("/nix/var/nix/temproots/57", "/nix/var/nix/temproots/#"),
            (
                "/usr/lib/python3.11/__pycache__/a.cpython-311.pyc.140234567890",
                "/usr/lib/python3.11/__pycache__/a.cpython-#.pyc.#",
            ),
            (
                "/usr/lib/python3/dist-packages/liba-1.0.dist-info/RECORD",
                "/usr/lib/python#/dist-packages/liba-1.0.dist-info/RECORD",
            ),
            (
                "/var/cache/apt/pkgcache.bin.Ab3dEf",
                "/var/cache/apt/pkgcache.bin.*",
            ),
            ("/var/lib/dpkg/status-new", "/var/lib/dpkg/status-new"),
            ("pipe:[41821]", "pipe:[#]"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise(raw), want, "{raw}");
        }
    }

    #[test]
    fn the_same_operation_in_another_run_has_the_same_label() {
        // Two runs' names of one operation differ only in what tools draw at random.
        let pairs = [
            (
                "/tmp/pip-ephem-wheel-cache-3u9n5pgy/x",
                "/tmp/pip-ephem-wheel-cache-w3zs6f3g/x",
            ),
            ("/tmp/tmpab_cd12e", "/tmp/tmpzzzzzzzz"),
            ("/etc/.passwd.XyZabc", "/etc/.passwd.q1w2e3"),
            (
                "/usr/lib/x/RECORDbc5xqo_a.tmp",
                "/usr/lib/x/RECORDzzzzzzzz.tmp",
            ),
            ("/srv/tmpk3j_x9q2.json", "/srv/tmpabcdefgh.json"),
            (
                "/nix/var/nix/profiles/default-1-link.tmp-50-2046",
                "/nix/var/nix/profiles/default-1-link.tmp-61-99810",
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(normalise(a), normalise(b), "{a} / {b}");
        }
    }

    #[test]
    fn names_are_joined_and_escapes_read() {
        assert_eq!(join(Some("/w"), "a/./b"), "/w/a/b");
        assert_eq!(join(Some("/w"), "/abs//x/"), "/abs/x");
        assert_eq!(join(None, "rel"), "rel");
        assert_eq!(unquote(r#""caf\303\251""#).as_deref(), Some("café"));
        assert_eq!(unquote(r#""a\"b\\c\x41""#).as_deref(), Some("a\"b\\cA"));
        assert_eq!(unquote("NULL"), None);
        assert_eq!(
            label(&["/a/x.tmp-1-2".into(), "/a/x".into()]),
            "/a/x.tmp-#-# -> /a/x"
        );
        assert_eq!(names("renameat2"), &[Name::At(0, 1), Name::At(2, 3)]);
        assert!(names("sync").is_empty());
    }
}
