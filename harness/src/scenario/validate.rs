//! Checks that serde cannot express: names that must exist, acyclic
//! dependencies, names every ecosystem accepts, safe file paths.

use serde_spanned::Spanned;
use std::collections::BTreeSet;

use super::validate_operation::{validate_experiment, validate_operation, validate_retry};
use super::{limits, GuaranteeCheck, PackageRef, ParseError, Scenario};
use crate::vocab::{ApproachKind, ATTEMPT_SEP, ERRNOS, RESERVED_FILES};

pub(super) fn err<T>(at: &Spanned<T>, message: impl Into<String>) -> ParseError {
    ParseError::new(Some(at.span()), message)
}

/// Paths a failing script may not target: the harness's own scratch,
/// fixtures and agent, and what the engine or kernel manages. Snapshots
/// never look there (snapshot::classify::excluded), so an attempt would go
/// unmeasured or disturb the harness.
const HARNESS_PATHS: [&str; 11] = [
    "/run/mistake-cost",
    "/fixtures",
    "/usr/local/lib/mistake-cost",
    "/proc",
    "/sys",
    "/dev",
    "/sbin/docker-init",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/nix/var/nix/daemon-socket",
];

/// Checks `s`; each guarantee also goes through `check_guarantee`, at the
/// place in the order it always had, so a file with several mistakes
/// reports the same first one whoever composes the check.
pub fn validate(s: &Scenario, check_guarantee: &GuaranteeCheck) -> Result<(), ParseError> {
    // Empty approaches, reps out of 1..=MAX_REPS and every other per-field
    // bound are refused while reading (limits.rs), located at the value.
    let mut seen_approaches = BTreeSet::new();
    for a in &s.scenario.approaches {
        if !seen_approaches.insert(*a.get_ref()) {
            return Err(err(
                a,
                format!("approach `{}` is listed twice", a.get_ref()),
            ));
        }
    }
    validate_operation(s)?;
    if let Some(p) = s.packages.get(limits::MAX_PACKAGES) {
        return Err(err(
            &p.name,
            format!(
                "more than {} [[package]] tables; a scenario declares at most that many",
                limits::MAX_PACKAGES
            ),
        ));
    }

    let mut declared = BTreeSet::new();
    // Generated files and their bytes over the whole scenario: everything is
    // built in memory and written three times (apt, pip, Nix).
    let (mut total_files, mut total_bytes) = (0u64, 0u64);
    for p in &s.packages {
        let name = p.name.get_ref();
        if !valid_name(name) {
            return Err(err(
                &p.name,
                format!("package name `{name}`: expected lowercase letters and digits, starting with a letter (a name apt, pip and Nix all accept)"),
            ));
        }
        if !valid_version(&p.version) {
            return Err(err(
                &p.name,
                format!(
                    "package `{name}`: version `{}`: expected numbers separated by dots, like 1.0",
                    p.version
                ),
            ));
        }
        // Several versions of one name are allowed (an upgrade needs two);
        // the same version twice is not.
        if !declared.insert((name.clone(), super::version_key(&p.version))) {
            return Err(err(
                &p.name,
                format!("package `{name}` version {} is declared twice", p.version),
            ));
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for f in &p.files {
            let pattern = f.path.get_ref();
            // Before the pattern is expanded, so a huge total costs nothing.
            let n = u64::from(f.count.unwrap_or(1));
            total_files += n;
            total_bytes = total_bytes.saturating_add(n.saturating_mul(f.size));
            if total_files > limits::MAX_FILES {
                return Err(err(&f.path, format!("the scenario's files come to {total_files} here; at most {} in all (see scenarios/README.md, Limits)", limits::MAX_FILES)));
            }
            if total_bytes > limits::MAX_PAYLOAD_BYTES {
                return Err(err(&f.path, format!("the scenario's files come to {total_bytes} bytes here; at most {} in all (see scenarios/README.md, Limits)", limits::MAX_PAYLOAD_BYTES)));
            }
            if pattern.len() > 1024 {
                return Err(err(&f.path, "file path: at most 1024 bytes"));
            }
            match f.count {
                Some(_) if pattern.matches("{}").count() != 1 => {
                    return Err(err(&f.path, format!("file path `{pattern}`: with `count`, expected exactly one `{{}}` for the number")))
                }
                None if pattern.contains("{}") => return Err(err(&f.path, format!("file path `{pattern}`: `{{}}` needs `count = N`"))),
                _ => {}
            }
            for path in f.paths() {
                if path.is_empty()
                    || path.starts_with('/')
                    || path
                        .split('/')
                        .any(|c| c.is_empty() || c == "." || c == "..")
                {
                    return Err(err(&f.path, format!("file path `{path}`: expected a relative path without `.`, `..` or empty parts")));
                }
                if RESERVED_FILES.contains(&path.as_str()) {
                    return Err(err(&f.path, format!("file path `{path}`: reserved for the file every package carries; choose another name")));
                }
                if seen.contains(&path) {
                    return Err(err(
                        &f.path,
                        format!("file `{path}` is listed twice in package `{name}`"),
                    ));
                }
                // A file may not be another file's folder, either way round.
                let below = format!("{path}/");
                let clash = seen
                    .range(below.clone()..)
                    .next()
                    .filter(|o| o.starts_with(&below))
                    .cloned()
                    .or_else(|| {
                        path.match_indices('/')
                            .map(|(i, _)| &path[..i])
                            .find(|prefix| seen.contains(*prefix))
                            .map(str::to_string)
                    });
                if let Some(o) = clash {
                    return Err(err(
                        &f.path,
                        format!(
                            "file `{path}` and file `{o}` cannot both exist: one would be a folder"
                        ),
                    ));
                }
                seen.insert(path);
            }
        }
        let mut commands = BTreeSet::new();
        for b in &p.bin {
            let c = b.get_ref();
            if !valid_command(c) {
                return Err(err(b, format!("bin `{c}`: expected a command name of lowercase letters, digits and `-`, starting with a letter, at most 64 bytes")));
            }
            if !commands.insert(c.clone()) {
                return Err(err(
                    b,
                    format!("bin `{c}` is listed twice in package `{name}`"),
                ));
            }
        }
        if let Some(fail) = &p.fail {
            let mut attempted = BTreeSet::new();
            for (op, w) in fail.attempts() {
                let path = w.get_ref();
                let field = match op {
                    super::AttemptOp::Write => "fail.writes",
                    super::AttemptOp::Append => "fail.appends",
                    super::AttemptOp::Remove => "fail.removes",
                };
                if !path.starts_with('/')
                    || path
                        .split('/')
                        .skip(1)
                        .any(|c| c.is_empty() || c == "." || c == "..")
                {
                    return Err(err(w, format!("{field} `{path}`: expected an absolute path without `.`, `..` or empty parts")));
                }
                if path.chars().any(|c| c.is_control())
                    || path.contains(ATTEMPT_SEP)
                    || path.len() > 1024
                {
                    return Err(err(w, format!("{field}: a path must hold no tab, newline or other control character, no `|#|` (the attempt log's separator), and be at most 1024 bytes")));
                }
                if let Some(area) = HARNESS_PATHS
                    .iter()
                    .find(|a| path == **a || path.starts_with(&format!("{a}/")))
                {
                    return Err(err(w, format!(
                        "{field} `{path}`: `{area}` belongs to the harness or the container engine (scratch, fixtures, agent, kernel file systems); \
                         an attempt there is never measured. Pick a path of the system under test, e.g. /etc/{name}.conf"
                    )));
                }
                if !attempted.insert(path.clone()) {
                    return Err(err(w, format!("{field} `{path}`: this path is already attempted by package `{name}` (each path once)")));
                }
            }
            if fail.exit_code == 0 {
                return Err(ParseError::new(
                    Some(p.name.span()),
                    format!("package `{name}`: fail.exit_code must not be 0"),
                ));
            }
        }
    }
    for p in &s.packages {
        for d in &p.depends {
            check_ref(s, d, "dependency")?;
            if PackageRef::parse(d.get_ref()).name == *p.name.get_ref() {
                return Err(err(d, "a package cannot depend on itself"));
            }
        }
    }
    if let Some(cycle_at) = find_cycle(s) {
        return Err(err(
            &cycle_at.name,
            format!(
                "package `{}` is part of a dependency cycle",
                cycle_at.name.get_ref()
            ),
        ));
    }
    for r in s.setup.install.iter().chain(&s.operation.packages) {
        check_ref(s, r, "package")?;
    }
    validate_retry(s)?;
    validate_experiment(s)?;
    if *s.operation.kind.get_ref() == super::OperationKind::Upgrade {
        let before = s.closure_specs(&s.setup_refs());
        for r in &s.operation.packages {
            let target = s
                .resolve(&PackageRef::parse(r.get_ref()))
                .expect("checked above");
            match before
                .iter()
                .find(|p| p.name.get_ref() == target.name.get_ref())
            {
                None => {
                    return Err(err(
                        r,
                        format!(
                            "upgrade of `{}`: the set-up does not install any version of it",
                            target.name.get_ref()
                        ),
                    ))
                }
                Some(old) if old.version == target.version => {
                    return Err(err(
                        r,
                        format!(
                            "upgrade of `{}`: the set-up already installs version {}",
                            target.name.get_ref(),
                            old.version
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    for p in &s.probes {
        for a in &p.approaches {
            if !seen_approaches.contains(a.get_ref()) {
                return Err(err(
                    a,
                    format!(
                        "probe `{}` is for approach `{}`, which this scenario does not run",
                        p.name,
                        a.get_ref()
                    ),
                ));
            }
        }
    }
    let mut faults = 0u64;
    for f in &s.faults {
        validate_fault(f)?;
        faults += f.at_ms.len() as u64 + u64::from(f.random) + f.at.len() as u64;
        if faults > limits::MAX_FAULTS {
            return Err(err(&f.kind, format!("the faults come to {faults} here; a scenario has at most {} (every offset and call number is one)", limits::MAX_FAULTS)));
        }
    }
    if s.trial_count(None) > limits::MAX_TRIALS {
        let at = s
            .faults
            .last()
            .map(|f| f.kind.span())
            .unwrap_or_else(|| s.scenario.approaches[0].span());
        return Err(ParseError::new(
            Some(at),
            format!(
                "{} trials (approaches × faults × reps); a scenario has at most {}",
                s.trial_count(None),
                limits::MAX_TRIALS
            ),
        ));
    }
    let mut guarantee_names = BTreeSet::new();
    for g in &s.guarantees {
        check_guarantee(g, &s.approaches())?;
        // JUnit tells test cases apart by name.
        if !guarantee_names.insert(g.name.get_ref().trim().to_string()) {
            return Err(err(
                &g.name,
                format!("guarantee `{}` is declared twice", g.name.get_ref()),
            ));
        }
    }
    for (key, playbook) in &s.recovery {
        match key.get_ref().parse::<ApproachKind>() {
            Ok(a) if seen_approaches.contains(&a) => {}
            Ok(a) => {
                return Err(err(
                    key,
                    format!("[recovery.{a}] is for an approach this scenario does not run"),
                ))
            }
            Err(_) => {
                return Err(err(
                    key,
                    format!(
                        "[recovery.{}]: expected one of {}",
                        key.get_ref(),
                        ApproachKind::names()
                    ),
                ))
            }
        }
        if playbook.commands.iter().any(|c| c.trim().is_empty()) {
            return Err(err(key, "recovery commands must not be empty"));
        }
    }
    Ok(())
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.len() <= 64
}

fn valid_command(c: &str) -> bool {
    c.len() <= 64
        && c.starts_with(|ch: char| ch.is_ascii_lowercase())
        && c.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()))
}

/// A reference (`name` or `name=version`) must name a declared package,
/// and must carry a version when the file declares several.
pub(super) fn check_ref(s: &Scenario, r: &Spanned<String>, what: &str) -> Result<(), ParseError> {
    let pr = PackageRef::parse(r.get_ref());
    if s.package(&pr.name).is_none() {
        return Err(err(
            r,
            format!("{what} `{}` is not declared with [[package]]", pr.name),
        ));
    }
    match &pr.version {
        Some(v) if s.resolve(&pr).is_none() => Err(err(
            r,
            format!("{what} `{}`: version {v} is not declared", pr.name),
        )),
        None if s.has_versions(&pr.name) => Err(err(
            r,
            format!(
                "{what} `{}`: several versions are declared; say which, like `{}={}`",
                pr.name,
                pr.name,
                s.package(&pr.name)
                    .map(|p| p.version.as_str())
                    .unwrap_or("1.0")
            ),
        )),
        _ => Ok(()),
    }
}

fn find_cycle(s: &Scenario) -> Option<&super::PackageSpec> {
    // Depth-first search with colours: 1 = on the stack, 2 = done; keyed by
    // (name, version) since versions of one name are distinct packages.
    type Key = (String, String);
    fn dfs<'a>(
        s: &'a Scenario,
        p: &'a super::PackageSpec,
        colour: &mut std::collections::BTreeMap<Key, u8>,
    ) -> Option<&'a super::PackageSpec> {
        let key = (p.name.get_ref().clone(), p.version.clone());
        match colour.get(&key) {
            Some(1) => return Some(p),
            Some(_) => return None,
            None => {}
        }
        colour.insert(key.clone(), 1);
        for d in &p.depends {
            if let Some(dep) = s.resolve(&PackageRef::parse(d.get_ref())) {
                if let Some(c) = dfs(s, dep, colour) {
                    return Some(c);
                }
            }
        }
        colour.insert(key, 2);
        None
    }
    let mut colour = std::collections::BTreeMap::new();
    s.packages.iter().find_map(|p| dfs(s, p, &mut colour))
}

fn validate_fault(f: &super::FaultSpec) -> Result<(), ParseError> {
    use super::FaultKind;
    let kind = *f.kind.get_ref();
    let name = match kind {
        FaultKind::Kill => "kill",
        FaultKind::Syscall => "syscall",
        FaultKind::ContainerKill => "container-kill",
    };
    // Fields of other kinds are mistakes, not silently ignored.
    let stray: Vec<&str> = [
        ("signal", f.signal.is_some() && kind != FaultKind::Kill),
        ("random", f.random != 0 && kind != FaultKind::Kill),
        ("within_ms", f.within_ms != 0 && kind != FaultKind::Kill),
        ("at_ms", !f.at_ms.is_empty() && kind == FaultKind::Syscall),
        (
            "syscalls",
            !f.syscalls.is_empty() && kind != FaultKind::Syscall,
        ),
        ("at", !f.at.is_empty() && kind != FaultKind::Syscall),
        ("errno", f.errno.is_some() && kind != FaultKind::Syscall),
    ]
    .into_iter()
    .filter_map(|(field, bad)| bad.then_some(field))
    .collect();
    if !stray.is_empty() {
        return Err(err(
            &f.kind,
            format!("a `{name}` fault does not take {}", stray.join(", ")),
        ));
    }
    match kind {
        FaultKind::Kill => {
            if f.at_ms.is_empty() && f.random == 0 {
                return Err(err(
                    &f.kind,
                    "a `kill` fault needs `at_ms = [...]` or `random = N` with `within_ms`",
                ));
            }
            if f.random > 0 && f.within_ms == 0 {
                return Err(err(
                    &f.kind,
                    "`random` needs `within_ms` > 0 (the window the offsets are drawn from)",
                ));
            }
        }
        FaultKind::Syscall => {
            if f.syscalls.is_empty() {
                return Err(err(
                    &f.kind,
                    "a `syscall` fault needs `syscalls = [\"rename\", ...]`",
                ));
            }
            for sc in &f.syscalls {
                let n = sc.get_ref();
                if n.is_empty()
                    || !n
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return Err(err(
                        sc,
                        format!("syscall `{n}`: expected a syscall name like rename, write, fsync"),
                    ));
                }
            }
            if f.at.is_empty() || f.at.contains(&0) {
                return Err(err(
                    &f.kind,
                    "a `syscall` fault needs `at = [...]`: call numbers, counted from 1",
                ));
            }
            if let Some(e) = &f.errno {
                if !ERRNOS.contains(&e.get_ref().as_str()) {
                    return Err(err(
                        e,
                        format!(
                            "errno `{}`: expected one of {}",
                            e.get_ref(),
                            ERRNOS.join(", ")
                        ),
                    ));
                }
            }
        }
        FaultKind::ContainerKill => {
            if f.at_ms.is_empty() {
                return Err(err(
                    &f.kind,
                    "a `container-kill` fault needs `at_ms = [...]`",
                ));
            }
        }
    }
    Ok(())
}
