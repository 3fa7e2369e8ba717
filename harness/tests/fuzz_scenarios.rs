//! Fuzzes the scenario reader: mutated shipped scenarios and random TOML
//! from the format's keys never panic, every rejection is located inside
//! the text, and whatever is accepted is within the limits.
//! `PROPTEST_CASES=N` sets the case count (default 256 per property).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mistake_cost::scenario::{self, limits, line_col};
use mistake_cost::verify::check_guarantee;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Small enough for CI (a few seconds); the long run sets PROPTEST_CASES.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// The shipped scenario files, read once.
fn shipped() -> &'static [String] {
    static FILES: OnceLock<Vec<String>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut files: Vec<PathBuf> = Vec::new();
        for dir in [root.clone(), root.join("bench")] {
            for e in std::fs::read_dir(&dir).expect("scenarios folder") {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
        }
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    })
}

const HUGE_NUMBERS: &[&str] = &[
    "99999999999999",
    "-1",
    "0",
    "-0",
    "1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999",
    "4294967296",
    "65536",
    "1073741825",
    "86401",
    "100001",
    "1e308",
    "nan",
    "-inf",
    "0x7fffffff",
    "1_000_000",
];

fn long_string() -> String {
    "a".repeat(100_000)
}

const HOSTILE_STRINGS: &[&str] = &[
    "/etc",
    "/tmp/x",
    "../../x",
    "a:b",
    "..",
    ".",
    "",
    " ",
    "a/b",
    "/",
    "é😀",
    "\\u0000",
    "x\\ny",
    "\\t",
    "$(touch /tmp/pwned)",
    "{}",
    "{}{}",
    "%s%n",
    "|#|",
    "/run/mistake-cost/x",
    "C:\\\\x",
    "apt",
    "nix",
    "yum",
    "depa=1.0",
    "depa=",
    "=1.0",
    "residue_files == 0",
    "residue_files >= x",
    "150%",
    "ENOSPC",
    "LONG",
];

/// Lines of the format, some valid, some not, for insertions.
const KEY_LINES: &[&str] = &[
    "[scenario]",
    "[[package]]",
    "[package.fail]",
    "[setup]",
    "[operation]",
    "[[fault]]",
    "[[probe]]",
    "[[guarantee]]",
    "[recovery.apt]",
    "[recovery.yum]",
    "name = \"x\"",
    "name = \"/tmp/x\"",
    "reps = 99999999999999",
    "reps = 0",
    "step_timeout_s = 18446744073709551615",
    "step_timeout_s = 0",
    "files = [{ path = \"f{}\", count = 4294967295, size = 99999999999999 }]",
    "files = [{ path = \"a\", size = -1 }]",
    "kind = \"kill\"",
    "kind = \"syscall\"",
    "kind = \"container-kill\"",
    "random = 4294967295",
    "within_ms = 99999999999999",
    "at_ms = [99999999999999]",
    "at = [0, 65536]",
    "syscalls = [\"rename\"]",
    "errno = \"ENOSPC\"",
    "approaches = []",
    "packages = []",
    "depends = [\"depa\"]",
    "writes = [\"/etc/x\"]",
    "exit_code = 0",
    "command = \"\"",
    "expect = \"residue_files == 0\"",
    "in = \"95%\"",
    "commands = [\"\"]",
    "=",
    "[",
    "\"",
    "x = {",
];

const FLIP_CHARS: &[char] = &[
    '"', '[', ']', '=', '\n', '{', '}', ',', '.', '-', '0', '9', 'a', 'z', ' ', '#', '\'', '\\',
    'é', '😀', '\t', '\r', '\u{0}',
];

/// Byte ranges of numbers (runs of digits) in `text`.
fn numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// Byte ranges of the insides of `"..."` strings on one line each.
fn strings(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let quotes: Vec<usize> = line.match_indices('"').map(|(i, _)| i).collect();
        for pair in quotes.chunks_exact(2) {
            out.push(offset + pair[0] + 1..offset + pair[1]);
        }
        offset += line.len();
    }
    out
}

/// Applies one mutation chosen by `(kind, a, b)` to `text`.
fn mutate(text: &str, kind: u8, a: usize, b: usize) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let i = a % lines.len();
    match kind % 7 {
        0 => {
            lines.remove(i);
        }
        1 => lines.insert(i, lines[i].clone()),
        2 => {
            let files = shipped();
            let other: Vec<&str> = files[b % files.len()].split('\n').collect();
            lines[i] = other[(b / 7) % other.len()].to_string();
        }
        3 => {
            let chars: Vec<char> = text.chars().collect();
            if chars.is_empty() {
                return text.to_string();
            }
            let mut chars = chars;
            let at = a % chars.len();
            chars[at] = FLIP_CHARS[b % FLIP_CHARS.len()];
            return chars.into_iter().collect();
        }
        4 => {
            let found = numbers(text);
            if found.is_empty() {
                return text.to_string();
            }
            let r = found[a % found.len()].clone();
            return format!(
                "{}{}{}",
                &text[..r.start],
                HUGE_NUMBERS[b % HUGE_NUMBERS.len()],
                &text[r.end..]
            );
        }
        5 => {
            let found = strings(text);
            if found.is_empty() {
                return text.to_string();
            }
            let r = found[a % found.len()].clone();
            let v = HOSTILE_STRINGS[b % HOSTILE_STRINGS.len()];
            let v = if v == "LONG" {
                long_string()
            } else {
                v.to_string()
            };
            return format!("{}{v}{}", &text[..r.start], &text[r.end..]);
        }
        _ => lines.insert(i, KEY_LINES[b % KEY_LINES.len()].to_string()),
    }
    lines.join("\n")
}

/// Parsing and validation with the loader's guarantee check: an accepted
/// scenario is within the limits; a rejection points inside the text.
fn check(text: &str) -> Result<(), TestCaseError> {
    match scenario::parse_with(text, &check_guarantee) {
        Ok(s) => {
            let name = &s.scenario.name;
            prop_assert!(limits::valid_scenario_name(name), "{name}");
            let root = Path::new("/tmp/mistake-cost-fuzz");
            let dir = limits::scratch_dir(root, name).unwrap();
            prop_assert_eq!(dir.parent(), Some(root));
            prop_assert!((1..=limits::MAX_REPS).contains(&s.scenario.reps));
            prop_assert!((1..=limits::MAX_STEP_TIMEOUT_S).contains(&s.scenario.step_timeout_s));
            prop_assert!(s.trial_count(None) <= limits::MAX_TRIALS);
            prop_assert!(s.packages.len() <= limits::MAX_PACKAGES);
            let mut bytes = 0u64;
            for p in &s.packages {
                for f in &p.files {
                    prop_assert!(f.size <= limits::MAX_FILE_SIZE);
                    prop_assert!(f.count.unwrap_or(1) <= limits::MAX_COUNT);
                    bytes += f.size * u64::from(f.count.unwrap_or(1));
                }
            }
            prop_assert!(bytes <= limits::MAX_PAYLOAD_BYTES);
            for f in &s.faults {
                prop_assert!(f.random <= limits::MAX_RANDOM);
                prop_assert!(f.within_ms <= limits::MAX_FAULT_MS);
                prop_assert!(f.at_ms.iter().all(|&x| x <= limits::MAX_FAULT_MS));
                prop_assert!(f
                    .at
                    .iter()
                    .all(|&x| (1..=limits::MAX_SYSCALL_AT).contains(&x)));
            }
        }
        Err(e) => {
            let Some(span) = e.span.clone() else {
                return Err(TestCaseError::fail(format!(
                    "rejected without a location: {}\n--- text:\n{text}",
                    e.message
                )));
            };
            prop_assert!(span.start <= text.len(), "span {span:?} past the end");
            prop_assert!(
                text.is_char_boundary(span.start),
                "span {span:?} inside a character"
            );
            let (line, col) = line_col(text, span.start);
            let lines: Vec<&str> = text.split('\n').collect();
            prop_assert!(
                line >= 1 && line <= lines.len(),
                "line {line} of {}",
                lines.len()
            );
            let width = lines[line - 1].chars().count();
            prop_assert!(
                col >= 1 && col <= width + 1,
                "{line}:{col}, line is {width} wide"
            );
            prop_assert!(!e.message.trim().is_empty());
        }
    }
    Ok(())
}

/// A TOML value as text: usually of the type `key` takes (so cross-checks
/// are reached), sometimes anything.
/// In a `clean` text every value comes from the valid part of its pool
/// (the first `valid` items), so those texts reach the cross-checks.
fn value(table: &str, key: &str, clean: bool, r: &mut impl FnMut() -> usize) -> String {
    let cut =
        |list: &'static [&'static str], valid: usize| if clean { &list[..valid] } else { list };
    let pick = |list: &[&str], n: usize| list[n % list.len()].to_string();
    let s = |v: &str| format!("{v:?}");
    let names = ["a", "b", "depa", "fastmath", "t", "gen"];
    let approaches = cut(
        &[
            "apt",
            "ansible",
            "pip",
            "pip-venv",
            "npm-global",
            "nix",
            "nix-single-user",
            "nix-profile",
            "yum",
        ],
        8,
    );
    if !clean && r().is_multiple_of(12) {
        return match r() % 4 {
            0 => pick(HUGE_NUMBERS, r()),
            1 => {
                let h = pick(HOSTILE_STRINGS, r());
                if h == "LONG" {
                    s(&long_string())
                } else {
                    s(&h)
                }
            }
            2 => "true".into(),
            _ => format!("[{}]", pick(HUGE_NUMBERS, r())),
        };
    }
    let list = |r: &mut dyn FnMut() -> usize, of: &[&str]| {
        // Mostly one to three items: an empty list is rejected early.
        let n = if !clean && r().is_multiple_of(8) {
            0
        } else {
            1 + r() % 3
        };
        let items: Vec<String> = (0..n)
            .map(|_| format!("{:?}", of[r() % of.len()]))
            .collect();
        format!("[{}]", items.join(", "))
    };
    let small = |r: &mut dyn FnMut() -> usize| (r() % 5).to_string();
    match key {
        "name" => s(&pick(&names, r())),
        "version" => s(&pick(cut(&["1.0", "2.0", "1.10", "1", "1.x"], 4), r())),
        "description" | "command" => s(&pick(&["x", "true", "python3 -c 1"], r())),
        "approaches" => list(r, approaches),
        "reps" | "step_timeout_s" | "random" | "exit_code" | "within_ms" if clean => {
            (1 + r() % 4).to_string()
        }
        "reps" | "step_timeout_s" | "random" | "exit_code" | "within_ms" => small(r),
        "depends" | "install" | "packages" => list(r, &["a", "b", "depa", "a=1.0", "b=2.0"]),
        "files" => {
            let n = r() % 3;
            let items: Vec<String> = (0..n)
                .map(|_| {
                    let path = pick(
                        cut(
                            &["lib/a.dat", "f{}", "x/y", "a", "a/b", "VERSION", "../a"],
                            5,
                        ),
                        r(),
                    );
                    let mut t = format!("{{ path = {path:?}");
                    if r().is_multiple_of(2) {
                        t += &format!(
                            ", size = {}",
                            pick(cut(&["0", "10", "1073741824", "1073741825"], 3), r())
                        );
                    }
                    if r().is_multiple_of(2) {
                        t += &format!(
                            ", count = {}",
                            pick(cut(&["1", "3", "10000", "0", "10001"], 3), r())
                        );
                    }
                    t + " }"
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        "step" | "apt" | "pip" | "nix" => s(&pick(
            cut(&["build", "configure", "build", "unpack"], 3),
            r(),
        )),
        "writes" | "appends" | "removes" => {
            list(r, cut(&["/etc/x.conf", "/etc/y", "etc/z", "/proc/x"], 2))
        }
        "kind" if table == "[operation]" => s(&pick(
            cut(&["install", "install", "upgrade", "upgrade", "kill"], 4),
            r(),
        )),
        "kind" => s(&pick(
            cut(
                &[
                    "kill",
                    "syscall",
                    "container-kill",
                    "kill",
                    "syscall",
                    "container-kill",
                    "boom",
                ],
                6,
            ),
            r(),
        )),
        "signal" => s(&pick(cut(&["KILL", "TERM", "KILL", "TERM", "HUP"], 4), r())),
        "at_ms" => format!("[{}, {}]", small(r), small(r)),
        "at" => format!("[{}, {}]", 1 + r() % 3, 1 + r() % 5),
        "syscalls" => list(r, cut(&["rename", "fsync", "write", "Bad"], 3)),
        "errno" => s(&pick(cut(&["ENOSPC", "EIO", "EBADF"], 2), r())),
        "source" => s(&pick(
            cut(&["trials", "crashpoints", "trials", "journal"], 3),
            r(),
        )),
        "expect" => s(&pick(
            cut(
                &["residue_files == 0", "consistent == true", "x == 1", "=="],
                2,
            ),
            r(),
        )),
        "in" => s(&pick(cut(&["all", "95%", "101%", "x"], 2), r())),
        "commands" => list(r, cut(&["dpkg --configure -a", "true", ""], 2)),
        _ => small(r),
    }
}

/// A random scenario text: tables of the format with random subsets of
/// their keys (plus, now and then, a key that does not exist).
fn random_toml(seeds: &[u32]) -> String {
    let mut i = 0usize;
    let mut r = || {
        let v = seeds[i % seeds.len()] as usize;
        i += 1;
        v.wrapping_add(i / seeds.len())
    };
    const TABLES: &[(&str, &[&str])] = &[
        (
            "[scenario]",
            &[
                "name",
                "description",
                "approaches",
                "reps",
                "step_timeout_s",
            ],
        ),
        ("[[package]]", &["name", "version", "depends", "files"]),
        (
            "[package.fail]",
            &[
                "step",
                "apt",
                "pip",
                "nix",
                "writes",
                "appends",
                "removes",
                "exit_code",
            ],
        ),
        ("[setup]", &["install"]),
        ("[operation]", &["kind", "packages"]),
        (
            "[[fault]]",
            &[
                "kind",
                "signal",
                "at_ms",
                "random",
                "within_ms",
                "syscalls",
                "at",
                "errno",
            ],
        ),
        ("[[probe]]", &["name", "command", "approaches"]),
        (
            "[[guarantee]]",
            &["name", "approaches", "source", "expect", "in"],
        ),
        ("[recovery.apt]", &["commands"]),
        ("[recovery.nix]", &["commands"]),
    ];
    // The usual order, each table present or not, so many texts get as far
    // as validation; now and then one more table anywhere (maybe twice).
    // Half the texts are clean: valid values only, the tables a scenario
    // needs, faults with their kind's keys; they get to the cross-checks.
    let clean = r().is_multiple_of(2);
    let mut order: Vec<usize> = Vec::new();
    if clean || r() % 10 != 0 {
        order.push(0);
    }
    for _ in 0..r() % 4 {
        // A package, now and then with its [package.fail].
        let with_fail = r().is_multiple_of(3);
        order.extend(if with_fail { &[1, 2][..] } else { &[1][..] });
    }
    // (table, percent of texts that have it): set-up, operation, two
    // faults, probe, guarantee, recoveries.
    for (table, percent) in [
        (3, 30),
        (4, 90),
        (5, 50),
        (5, 25),
        (6, 30),
        (7, 30),
        (8, 20),
        (9, 20),
    ] {
        if r() % 100 < percent {
            order.push(table);
        }
    }
    if clean && !order.contains(&4) {
        order.push(4);
    }
    if !clean && r().is_multiple_of(6) {
        let at = r() % (order.len() + 1);
        order.insert(at, r() % TABLES.len());
    }
    let mut t = String::new();
    for n in order {
        let (header, keys) = TABLES[n];
        t += header;
        t += "\n";
        if clean && header == "[[fault]]" {
            t += [
                "kind = \"kill\"\nat_ms = [5, 40]\n",
                "kind = \"kill\"\nsignal = \"TERM\"\nrandom = 2\nwithin_ms = 100\n",
                "kind = \"syscall\"\nsyscalls = [\"rename\"]\nat = [1, 3]\nerrno = \"EIO\"\n",
                "kind = \"container-kill\"\nat_ms = [7]\n",
            ][r() % 4];
            t += "\n";
            continue;
        }
        for key in keys.iter() {
            // Keys a table needs are nearly always there, others half the time.
            let required = matches!(
                *key,
                "name" | "version" | "kind" | "expect" | "commands" | "packages"
            ) || (*key == "approaches" && header == "[scenario]")
                || (*key == "step" && header == "[package.fail]");
            if (clean && required) || r() % 100 < if required { 95 } else { 50 } {
                let v = value(header, key, clean, &mut r);
                t += &format!("{key} = {v}\n");
            }
        }
        if !clean && r().is_multiple_of(12) {
            t += "colour = \"red\"\n";
        }
        t += "\n";
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// (a) Shipped scenarios with one to four mutations.
    #[test]
    fn mutated_shipped_scenarios_are_rejected_located_or_accepted_within_limits(
        file in 0usize..64,
        mutations in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..5),
    ) {
        let files = shipped();
        let mut text = files[file % files.len()].clone();
        for (kind, a, b) in mutations {
            text = mutate(&text, kind, a, b);
        }
        check(&text)?;
    }

    /// (b) Random TOML built from the format's keys.
    #[test]
    fn random_toml_from_the_formats_keys_never_panics(
        seeds in proptest::collection::vec(any::<u32>(), 32..256),
    ) {
        check(&random_toml(&seeds))?;
    }
}

/// The shipped files themselves are accepted: the mutations start from
/// valid texts.
#[test]
fn shipped_files_are_valid() {
    assert!(shipped().len() >= 6, "four suite files and the bench set");
    for text in shipped() {
        scenario::parse_with(text, &check_guarantee).expect("shipped scenario");
    }
}
