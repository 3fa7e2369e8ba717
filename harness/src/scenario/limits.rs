//! Bounds on every number and name a scenario file gives (documented in
//! scenarios/README.md). Per-field bounds run while serde reads the value,
//! so toml locates the error at it; totals are checked in `validate`.

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_spanned::Spanned;
use std::path::{Component, Path, PathBuf};

use crate::vocab::ApproachKind;

/// A scenario file is read whole into memory: bigger is refused unread.
pub const MAX_SCENARIO_FILE_BYTES: u64 = 1 << 20;
/// One generated file's size: each is built in memory three times over.
pub const MAX_FILE_SIZE: u64 = 1 << 30;
/// All generated files of a scenario together (size × count, every package).
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 30;
/// `count` of one file pattern.
pub const MAX_COUNT: u32 = 10_000;
/// Generated files of a scenario over all packages.
pub const MAX_FILES: u64 = 100_000;
/// `[[package]]` tables of a scenario (dependency walks recurse per package).
pub const MAX_PACKAGES: usize = 1_000;
/// `reps`, and `--reps` on the command line.
pub const MAX_REPS: u32 = 1_000;
/// `step_timeout_s`: one day.
pub const MAX_STEP_TIMEOUT_S: u64 = 86_400;
/// `at_ms` offsets and `within_ms`: one day in milliseconds.
pub const MAX_FAULT_MS: u64 = 86_400_000;
/// `random` offsets of one kill fault.
pub const MAX_RANDOM: u32 = 1_000;
/// `at` call numbers: strace's `when=` takes 1..=65535.
pub const MAX_SYSCALL_AT: u64 = 65_535;
/// Entries of one `at_ms` or `at` list.
pub const MAX_FAULT_POINTS: usize = 1_000;
/// Concrete faults of a scenario (every offset and call number).
pub const MAX_FAULTS: u64 = 1_000;
/// Trials of one scenario: approaches × faults × reps.
pub const MAX_TRIALS: u64 = 100_000;
/// Longest scenario name (it names containers and a scratch folder).
pub const MAX_NAME_LEN: usize = 64;

/// The rule scenario names follow, as error messages state it.
pub const NAME_RULE: &str =
    "1 to 64 of a-z 0-9 . _ -, starting with a letter or digit, no `..` (it names a folder and containers)";

/// Whether `name` is a safe scenario name: `^[a-z0-9][a-z0-9._-]{0,63}$`
/// without `..`, so it can never be a path of more than one part, `.` or
/// `..`, nor hold a `:` that would split a bind-mount spec.
pub fn valid_scenario_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && name.len() <= MAX_NAME_LEN
        && !name.contains("..")
}

/// The scenario's own folder under `root`. The name is checked again and
/// the joined path must be `root` plus exactly one normal component:
/// whatever reaches here, nothing outside `root` is ever written.
pub fn scratch_dir(root: &Path, name: &str) -> Result<PathBuf, String> {
    let rel = Path::new(name);
    let mut parts = rel.components();
    let one_normal = matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none();
    if !valid_scenario_name(name) || !one_normal {
        return Err(format!(
            "scenario name `{}`: expected {NAME_RULE}",
            name.escape_debug()
        ));
    }
    let dir = root.join(rel);
    if dir.parent() != Some(root) {
        return Err(format!(
            "scenario folder {} is not directly under {}",
            dir.display(),
            root.display()
        ));
    }
    Ok(dir)
}

/// An integer in `lo..=hi`, read as TOML's i64 so a negative or huge value
/// gets the same message as one just out of range.
fn bounded<'de, D: Deserializer<'de>>(d: D, lo: u64, hi: u64, what: &str) -> Result<u64, D::Error> {
    let v = i64::deserialize(d)?;
    match u64::try_from(v) {
        Ok(u) if (lo..=hi).contains(&u) => Ok(u),
        _ => Err(D::Error::custom(format!(
            "{what} = {v}: expected {lo}..={hi} (see scenarios/README.md, Limits)"
        ))),
    }
}

fn to_u32<E: serde::de::Error>(v: u64) -> Result<u32, E> {
    u32::try_from(v).map_err(|_| E::custom(format!("{v} does not fit in 32 bits")))
}

pub(super) fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let n = String::deserialize(d)?;
    if valid_scenario_name(&n) {
        Ok(n)
    } else {
        let shown: String = n.chars().take(80).collect();
        Err(D::Error::custom(format!(
            "scenario name `{}`: expected {NAME_RULE}",
            shown.escape_debug()
        )))
    }
}

pub(super) fn reps<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    to_u32(bounded(d, 1, MAX_REPS.into(), "reps")?)
}

pub(super) fn step_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    bounded(d, 1, MAX_STEP_TIMEOUT_S, "step_timeout_s")
}

pub(super) fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    bounded(d, 0, MAX_FILE_SIZE, "size")
}

pub(super) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(Some(to_u32(bounded(d, 1, MAX_COUNT.into(), "count")?)?))
}

pub(super) fn random<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    to_u32(bounded(d, 0, MAX_RANDOM.into(), "random")?)
}

pub(super) fn within_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    bounded(d, 0, MAX_FAULT_MS, "within_ms")
}

/// A list of integers, each in `lo..=hi`, at most [`MAX_FAULT_POINTS`].
fn bounded_list<'de, D: Deserializer<'de>>(
    d: D,
    lo: u64,
    hi: u64,
    what: &str,
) -> Result<Vec<u64>, D::Error> {
    let v = Vec::<i64>::deserialize(d)?;
    if v.len() > MAX_FAULT_POINTS {
        return Err(D::Error::custom(format!(
            "{what}: {} entries; expected at most {MAX_FAULT_POINTS}",
            v.len()
        )));
    }
    v.into_iter()
        .map(|x| match u64::try_from(x) {
            Ok(u) if (lo..=hi).contains(&u) => Ok(u),
            _ => Err(D::Error::custom(format!(
                "{what}: {x}: expected {lo}..={hi} (see scenarios/README.md, Limits)"
            ))),
        })
        .collect()
}

pub(super) fn at_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    bounded_list(d, 0, MAX_FAULT_MS, "at_ms")
}

pub(super) fn at<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    bounded_list(d, 1, MAX_SYSCALL_AT, "at")
}

pub(super) fn approaches<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Spanned<ApproachKind>>, D::Error> {
    let v = Vec::<Spanned<ApproachKind>>::deserialize(d)?;
    if v.is_empty() {
        return Err(D::Error::custom(
            "approaches: expected at least one of apt, pip, pip-venv, nix",
        ));
    }
    Ok(v)
}

pub(super) fn packages<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Spanned<String>>, D::Error> {
    let v = Vec::<Spanned<String>>::deserialize(d)?;
    if v.is_empty() {
        return Err(D::Error::custom("packages: expected at least one package"));
    }
    Ok(v)
}

/// A file's declared content: at most 64 KiB.
pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let t = Option::<String>::deserialize(d)?;
    if t.as_ref().is_some_and(|t| t.len() > 65536) {
        return Err(D::Error::custom("text: at most 65536 bytes"));
    }
    Ok(t)
}

/// A string with something other than white space in it.
pub(super) fn non_blank<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(D::Error::custom("expected a non-empty value"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers_and_stay_one_folder_under_the_root() {
        for ok in [
            "failed-install",
            "a",
            "0x",
            "a.b_c-d",
            "a".repeat(64).as_str(),
        ] {
            assert!(valid_scenario_name(ok), "{ok}");
            let root = Path::new("/tmp/mistake-cost-r");
            assert_eq!(scratch_dir(root, ok).unwrap(), root.join(ok));
        }
        for bad in [
            "",
            "/tmp/x",
            "../../x",
            "a:b",
            "..",
            ".",
            "a..b",
            "A",
            "-a",
            ".a",
            "a/b",
            "a b",
            "é",
            "a".repeat(65).as_str(),
            "a\0b",
        ] {
            assert!(!valid_scenario_name(bad), "{bad}");
            assert!(scratch_dir(Path::new("/tmp/r"), bad).is_err(), "{bad}");
        }
    }
}
