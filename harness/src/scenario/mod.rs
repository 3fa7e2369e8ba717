//! Scenario files: parsing TOML into the model and validating it, with every
//! error pointing at file:line:col and saying what was expected. Depends only
//! on `vocab`: checks that need another room come in as a [`GuaranteeCheck`].

mod fleet;
pub mod limits;
mod model;
mod package_ref;
mod service;
mod validate;
mod validate_fleet;
mod validate_operation;
mod validate_service;

pub use fleet::{FleetSpec, MAX_NODES};
pub use model::*;
pub use package_ref::{version_key, PackageRef};
pub use service::*;

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::vocab::ApproachKind;

/// Checks one `[[guarantee]]` beyond its shape: its `expect` against the
/// results' columns, its share, its approaches (the scenario's are given).
/// `scenario` does not know the results files, so the loader composes the
/// check in; `verify::load_scenarios` is the loader every command uses.
pub type GuaranteeCheck = dyn Fn(&GuaranteeSpec, &[ApproachKind]) -> Result<(), ParseError>;

/// A scenario file that failed to load, with the place it failed.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    NoLocation { path: PathBuf, message: String },
}

/// A parsed, validated scenario and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub path: PathBuf,
    pub scenario: Scenario,
}

/// Loads every scenario named: files as they are, folders as their `*.toml`
/// files in name order, not recursing (so `run scenarios` leaves the bench
/// set in `scenarios/bench/` alone; name that folder to run it). All files
/// are checked before anything is started, each guarantee through `check`.
pub fn load_all(
    paths: &[PathBuf],
    check: &GuaranteeCheck,
) -> Result<Vec<LoadedScenario>, ScenarioError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| ScenarioError::Read {
                    path: p.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(ScenarioError::NoLocation {
                    path: p.clone(),
                    message: "folder holds no *.toml scenario file".into(),
                });
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        out.push(load(&f, check)?);
    }
    let mut names = std::collections::BTreeMap::new();
    for s in &out {
        if let Some(prev) = names.insert(s.scenario.scenario.name.clone(), s.path.clone()) {
            return Err(ScenarioError::NoLocation {
                path: s.path.clone(),
                message: format!(
                    "scenario name `{}` is also used by {}; names must be unique in a run",
                    s.scenario.scenario.name,
                    prev.display()
                ),
            });
        }
    }
    Ok(out)
}

/// Loads one file, each guarantee through `check`.
pub fn load(path: &Path, check: &GuaranteeCheck) -> Result<LoadedScenario, ScenarioError> {
    use std::io::Read;
    let read_error = |source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    };
    // Read at most one byte past the limit: a huge file (or /dev/zero) is
    // refused without being held in memory.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(limits::MAX_SCENARIO_FILE_BYTES + 1)
                .read_to_string(&mut text)
        })
        .map_err(read_error)?;
    if text.len() as u64 > limits::MAX_SCENARIO_FILE_BYTES {
        return Err(ScenarioError::NoLocation {
            path: path.to_path_buf(),
            message: format!(
                "larger than {} bytes; a scenario file is at most that",
                limits::MAX_SCENARIO_FILE_BYTES
            ),
        });
    }
    let scenario = parse_with(&text, check).map_err(|e| e.at(path, &text))?;
    Ok(LoadedScenario {
        path: path.to_path_buf(),
        scenario,
    })
}

/// An error inside a text, before it is tied to a file name.
#[derive(Debug)]
pub struct ParseError {
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl ParseError {
    pub fn new(span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        ParseError {
            span,
            message: message.into(),
        }
    }

    fn at(self, path: &Path, text: &str) -> ScenarioError {
        match self.span {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                ScenarioError::Invalid {
                    path: path.to_path_buf(),
                    line,
                    col,
                    message: self.message,
                }
            }
            None => ScenarioError::NoLocation {
                path: path.to_path_buf(),
                message: self.message,
            },
        }
    }
}

/// The JSON Schema of the scenario format, generated from the model's
/// types (field names, kinds, defaults, documentation and the numeric
/// limits), for editors: `scenarios/scenario.schema.json` is this text.
/// Cross-references (declared packages, unique names) are beyond it:
/// `validate` checks those.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

/// Parses and validates a scenario text, each guarantee through `check`.
/// Approach names are looked up in `vocab`'s table (the built-ins, and any
/// approach registered at run time).
pub fn parse_with(text: &str, check: &GuaranteeCheck) -> Result<Scenario, ParseError> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| {
        // toml's message repeats the source excerpt; keep its first line only.
        let message = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_string();
        ParseError::new(e.span(), message)
    })?;
    validate::validate(&scenario, check)?;
    Ok(scenario)
}

/// Parses and validates a scenario text whose guarantees are checked for
/// their shape only (fields, names): for tests and texts the harness writes
/// itself. Files come in through the loader, which checks them whole.
pub fn parse(text: &str) -> Result<Scenario, ParseError> {
    parse_with(text, &|_, _| Ok(()))
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    // An offset past the end or inside a character must not panic the
    // error report: it is clamped back to the character it falls in.
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed copy for editors is what the types generate: a field
    /// added to the model without regenerating it fails here.
    #[test]
    fn the_committed_json_schema_is_the_generated_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scenario.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            committed.trim_end(),
            json_schema(),
            "regenerate: mistake-cost schema > scenarios/scenario.schema.json"
        );
        let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
        let header = &schema["$defs"]["Header"];
        assert_eq!(
            header["additionalProperties"], false,
            "unknown fields are refused"
        );
        assert_eq!(header["properties"]["reps"]["maximum"], limits::MAX_REPS);
        assert_eq!(
            header["properties"]["step_timeout_s"]["maximum"],
            limits::MAX_STEP_TIMEOUT_S
        );
        let file = &schema["$defs"]["FileSpec"]["properties"];
        assert_eq!(file["size"]["maximum"], limits::MAX_FILE_SIZE);
        assert_eq!(file["count"]["maximum"], limits::MAX_COUNT);
    }

    const GOOD: &str = r#"
[scenario]
name = "t"
approaches = ["apt", "pip", "pip-venv", "nix"]

[[package]]
name = "depa"
version = "1.0"
files = [{ path = "lib/a.dat", size = 10 }]

[[package]]
name = "fastmath"
version = "1.0"
depends = ["depa"]
[package.fail]
step = "build"
apt = "configure"
writes = ["/etc/fastmath.conf"]

[operation]
kind = "install"
packages = ["fastmath"]
"#;

    /// Parses `text` and returns "line:col: message" of the error.
    fn error_of(text: &str) -> String {
        let e = parse(text).expect_err("must be rejected");
        match e.at(Path::new("x.toml"), text) {
            ScenarioError::Invalid {
                line, col, message, ..
            } => format!("{line}:{col}: {message}"),
            other => other.to_string(),
        }
    }

    #[test]
    fn a_good_file_parses_with_defaults() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.scenario.reps, 3);
        assert_eq!(s.approaches().len(), 4);
        let fail = s.package("fastmath").unwrap().fail.as_ref().unwrap();
        assert_eq!(fail.exit_code, 1);
        assert_eq!(fail.step_for(Ecosystem::Apt), FailStep::Configure);
        assert_eq!(fail.step_for(Ecosystem::Nix), FailStep::Build);
        assert_eq!(
            s.new_packages(),
            vec!["depa".to_string(), "fastmath".to_string()]
        );
    }

    #[test]
    fn unknown_field_is_located_and_named() {
        let e = error_of(&GOOD.replace(
            "version = \"1.0\"\nfiles",
            "version = \"1.0\"\ncolour = \"red\"\nfiles",
        ));
        assert!(e.starts_with("9:1: unknown field `colour`"), "{e}");
        assert!(e.contains("expected one of"), "{e}");
    }

    #[test]
    fn wrong_types_and_bad_enums_are_located() {
        let e = error_of(&GOOD.replace("\"pip-venv\", \"nix\"]", "\"pip-venv\", \"yum\"]"));
        assert!(
            e.starts_with("4:41:") && e.contains("unknown variant `yum`"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("size = 10", "size = \"big\""));
        assert!(e.starts_with("9:39:") && e.contains("expected i64"), "{e}");
        let e = error_of(&GOOD.replace("step = \"build\"", "step = \"unpack\""));
        assert!(
            e.contains("unknown variant `unpack`") && e.contains("build"),
            "{e}"
        );
    }

    /// Issue 10: names and numbers out of bounds are located at the value
    /// and say the rule; totals at the entry that crosses them.
    #[test]
    fn bounds_are_located_at_the_value() {
        for (from, to, at, says) in [
            ("name = \"t\"", "name = \"/tmp/x\"", "3:8:", "a-z 0-9 . _ -"),
            ("name = \"t\"", "name = \"../../x\"", "3:8:", "no `..`"),
            (
                "name = \"t\"",
                "name = \"a:b\"",
                "3:8:",
                "scenario name `a:b`",
            ),
            (
                "size = 10",
                "size = 99999999999999",
                "9:39:",
                "size = 99999999999999: expected 0..=1073741824",
            ),
            ("size = 10", "size = -5", "9:39:", "size = -5: expected"),
            (
                "size = 10",
                "size = 10, count = 0",
                "9:51:",
                "count = 0: expected 1..=10000",
            ),
            (
                "size = 10",
                "size = 10, count = 4294967296",
                "9:51:",
                "count = 4294967296",
            ),
            (
                "nix\"]\n",
                "nix\"]\nreps = 1001\n",
                "5:8:",
                "reps = 1001: expected 1..=1000",
            ),
            ("nix\"]\n", "nix\"]\nreps = 0\n", "5:8:", "reps = 0"),
            (
                "nix\"]\n",
                "nix\"]\nstep_timeout_s = 86401\n",
                "5:18:",
                "expected 1..=86400",
            ),
            (
                "nix\"]\n",
                "nix\"]\nstep_timeout_s = 0\n",
                "5:18:",
                "step_timeout_s = 0",
            ),
            (
                "approaches = [\"apt\", \"pip\", \"pip-venv\", \"nix\"]",
                "approaches = []",
                "4:14:",
                "at least one",
            ),
            (
                "packages = [\"fastmath\"]",
                "packages = []",
                "22:12:",
                "at least one package",
            ),
        ] {
            let e = error_of(&GOOD.replacen(from, to, 1));
            assert!(e.starts_with(at) && e.contains(says), "{to}: {e}");
        }
        let faults = |body: &str| format!("{GOOD}\n[[fault]]\n{body}\n");
        for (body, at, says) in [
            (
                "kind = \"kill\"\nrandom = 1001\nwithin_ms = 5",
                "26:10:",
                "random = 1001: expected 0..=1000",
            ),
            (
                "kind = \"kill\"\nrandom = 1\nwithin_ms = 86400001",
                "27:13:",
                "within_ms",
            ),
            ("kind = \"kill\"\nat_ms = [1, -1]", "26:9:", "at_ms: -1"),
            (
                "kind = \"syscall\"\nsyscalls = [\"rename\"]\nat = [65536]",
                "27:6:",
                "at: 65536: expected 1..=65535",
            ),
        ] {
            let e = error_of(&faults(body));
            assert!(e.starts_with(at) && e.contains(says), "{body}: {e}");
        }
        // 1000 faults pass, the 1001st is refused at its [[fault]]; 3 reps
        // × 4 approaches × 1000 faults is over the trial bound too, but the
        // fault bound is met first.
        let offsets = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let many = faults(&format!("kind = \"container-kill\"\nat_ms = [{}]\n\n[[fault]]\nkind = \"container-kill\"\nat_ms = [{}]", offsets(1000), offsets(1)));
        let e = error_of(&many);
        assert!(e.starts_with("29:8:") && e.contains("1001 here"), "{e}");
        let trials = faults(&format!(
            "kind = \"container-kill\"\nat_ms = [{}]",
            offsets(1000)
        ))
        .replace("nix\"]\n", "nix\"]\nreps = 30\n");
        let e = error_of(&trials);
        assert!(e.starts_with("26:8:") && e.contains("120000 trials"), "{e}");
        // Totals over packages: 2 × 600 MiB pass the per-file bound, not
        // the scenario's.
        let big = GOOD.replace(
            "size = 10 }]",
            "size = 629145600 }, { path = \"lib/b.dat\", size = 629145600 }]",
        );
        let e = error_of(&big);
        assert!(
            e.starts_with("9:61:") && e.contains("at most 1073741824 in all"),
            "{e}"
        );
        let files = GOOD.replace(
            "files = [{ path = \"lib/a.dat\", size = 10 }]",
            &format!(
                "files = [{}]",
                (0..11)
                    .map(|i| format!("{{ path = \"d{i}/f{{}}\", count = 10000, size = 0 }}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        assert!(error_of(&files).contains("at most 100000 in all"));
    }

    #[test]
    fn broken_toml_is_located() {
        let e = error_of("[scenario\nname = 1\n");
        assert!(e.starts_with("1:"), "{e}");
    }

    #[test]
    fn cross_references_are_checked() {
        let e = error_of(&GOOD.replace("depends = [\"depa\"]", "depends = [\"depz\"]"));
        assert!(e.starts_with("14:12: dependency `depz`"), "{e}");
        let e = error_of(&GOOD.replace("packages = [\"fastmath\"]", "packages = [\"nope\"]"));
        assert!(e.contains("package `nope` is not declared"), "{e}");
        let e = error_of(&GOOD.replace(
            "name = \"depa\"\nversion = \"1.0\"",
            "name = \"depa\"\nversion = \"1.0\"\ndepends = [\"fastmath\"]",
        ));
        assert!(e.contains("dependency cycle"), "{e}");
        let e = error_of(&format!("{GOOD}\n[recovery.yum]\ncommands = [\"x\"]\n"));
        assert!(e.contains("[recovery.yum]"), "{e}");
    }

    #[test]
    fn names_paths_and_versions_every_ecosystem_accepts() {
        assert!(
            error_of(&GOOD.replace("name = \"depa\"", "name = \"Dep_A\"")).contains("lowercase")
        );
        assert!(error_of(
            &GOOD.replace("version = \"1.0\"\nfiles", "version = \"1.0-beta\"\nfiles")
        )
        .contains("version"));
        assert!(error_of(&GOOD.replace("lib/a.dat", "../etc/passwd")).contains("relative path"));
        assert!(error_of(&GOOD.replace("lib/a.dat", "VERSION")).contains("reserved"));
        assert!(
            error_of(&GOOD.replace("/etc/fastmath.conf", "etc/fastmath.conf")).contains("absolute")
        );
        let twice = GOOD.replace(
            "files = [{ path = \"lib/a.dat\", size = 10 }]",
            "files = [{ path = \"lib/a\" }, { path = \"lib/a/b\" }]",
        );
        assert!(error_of(&twice).contains("one would be a folder"));
    }

    #[test]
    fn probes_name_their_approaches() {
        let s = parse(&format!("{GOOD}\n[[probe]]\nname = \"imports\"\ncommand = \"python3 -c 1\"\napproaches = [\"pip\"]\n")).unwrap();
        assert_eq!(s.probes.len(), 1);
        let only_nix = GOOD.replace("[\"apt\", \"pip\", \"pip-venv\", \"nix\"]", "[\"nix\"]");
        let e = error_of(&format!("{only_nix}\n[[probe]]\nname = \"imports\"\ncommand = \"true\"\napproaches = [\"pip\"]\n"));
        assert!(e.contains("probe `imports` is for approach `pip`"), "{e}");
    }

    /// GOOD with depa also at 2.0, fastmath pinned to depa 1.0.
    fn two_versions() -> String {
        GOOD.replace("depends = [\"depa\"]", "depends = [\"depa=1.0\"]")
            + "\n[[package]]\nname = \"depa\"\nversion = \"2.0\"\n"
    }

    #[test]
    fn several_versions_need_pinned_references() {
        let s = parse(&two_versions()).unwrap();
        assert_eq!(
            s.package("depa").unwrap().version,
            "2.0",
            "a plain name means the highest version"
        );
        let pinned = s.closure_specs(&s.operation_refs());
        assert_eq!(
            pinned
                .iter()
                .map(|p| PackageRef::of(p).to_string())
                .collect::<Vec<_>>(),
            ["depa=1.0", "fastmath=1.0"]
        );
        let e =
            error_of(&two_versions().replace("depends = [\"depa=1.0\"]", "depends = [\"depa\"]"));
        assert!(
            e.starts_with("14:12: dependency `depa`: several versions are declared; say which"),
            "{e}"
        );
        let e = error_of(&two_versions().replace("depa=1.0", "depa=3.0"));
        assert!(
            e.contains("dependency `depa`: version 3.0 is not declared"),
            "{e}"
        );
        let e =
            error_of(&(two_versions() + "\n[[package]]\nname = \"depa\"\nversion = \"2.00\"\n"));
        assert!(
            e.contains("package `depa` version 2.00 is declared twice"),
            "{e}"
        );
        assert!(version_key("1.10") > version_key("1.9"));
    }

    #[test]
    fn an_upgrade_needs_another_version_installed_by_the_set_up() {
        let upgrade = two_versions()
            .replace(
                "kind = \"install\"\npackages = [\"fastmath\"]",
                "kind = \"upgrade\"\npackages = [\"depa=2.0\"]",
            )
            .replace(
                "[operation]",
                "[setup]\ninstall = [\"fastmath\"]\n\n[operation]",
            );
        let s = parse(&upgrade).unwrap();
        assert_eq!(*s.operation.kind.get_ref(), OperationKind::Upgrade);
        assert!(
            s.new_packages().is_empty(),
            "an upgrade brings no new names"
        );
        let same = upgrade.replace("packages = [\"depa=2.0\"]", "packages = [\"depa=1.0\"]");
        assert!(
            error_of(&same).contains("upgrade of `depa`: the set-up already installs version 1.0")
        );
        let nothing = upgrade.replace("install = [\"fastmath\"]", "install = []");
        assert!(error_of(&nothing)
            .contains("upgrade of `depa`: the set-up does not install any version of it"));
    }

    /// The shape of a `[[guarantee]]` is checked here; its expression,
    /// share and approaches by the loader's check (see `verify`'s tests).
    #[test]
    fn guarantee_shape_is_checked_and_located() {
        let g = |body: &str| format!("{GOOD}\n[[guarantee]]\nname = \"g\"\n{body}\n");
        let s = parse(&g(
            "approaches = [\"nix\"]\nexpect = \"residue_files == 0\"\nin = \"95%\"",
        ))
        .unwrap();
        assert_eq!(s.guarantees.len(), 1);
        // the guarantee's fields start on line 26.
        let e = error_of(&g("source = \"journal\"\nexpect = \"consistent == true\""));
        assert!(
            e.starts_with("26:10:") && e.contains("unknown variant `journal`"),
            "{e}"
        );
        let e = error_of(&g("expect = \"consistent == true\"\ncolour = 1"));
        assert!(e.starts_with("27:1: unknown field `colour`"), "{e}");
        let twice = format!(
            "{}[[guarantee]]\nname = \"g\"\nexpect = \"consistent == true\"\n",
            g("expect = \"consistent == true\"")
        );
        assert!(error_of(&twice).contains("guarantee `g` is declared twice"));
    }

    /// A valid scenario as TOML text, from random parts: packages in two
    /// versions or one, dependencies on earlier packages only (acyclic),
    /// failures, faults, probes, guarantees and playbook overrides.
    fn arb_scenario_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let package = (
            1u8..4,
            proptest::option::of(1u32..5),
            0u64..5000,
            any::<bool>(),
            proptest::option::of(any::<bool>()),
        );
        (proptest::collection::vec(package, 1..5), any::<bool>(), proptest::collection::vec(0u64..3000, 0..3), 0u32..3, any::<bool>()).prop_map(
            |(packages, two_versions, at_ms, syscall_at, extras)| {
                let mut t = String::from("[scenario]\nname = \"gen\"\napproaches = [\"apt\", \"pip\", \"pip-venv\", \"nix\"]\nreps = 2\n");
                let last = packages.len() - 1;
                for (i, (minor, count, size, dep, fail)) in packages.iter().enumerate() {
                    let versions: &[&str] = if two_versions && i == last { &["1.0", "2.0"] } else { &["1.0"] };
                    for v in versions {
                        t += &format!("\n[[package]]\nname = \"p{i}\"\nversion = \"{v}.{minor}\"\n");
                        if *dep && i > 0 {
                            t += &format!("depends = [\"p{}\"]\n", i - 1);
                        }
                        t += &match count {
                            Some(n) => format!("files = [{{ path = \"share/f{{}}.dat\", count = {n}, size = {size} }}]\n"),
                            None => format!("files = [{{ path = \"share/one.dat\", size = {size} }}]\n"),
                        };
                        if let Some(build) = fail {
                            t += &format!("[package.fail]\nstep = \"{}\"\nnix = \"configure\"\nwrites = [\"/etc/p{i}.conf\"]\nexit_code = 7\n", if *build { "build" } else { "configure" });
                        }
                    }
                }
                let (kind, op, setup) = if two_versions {
                    ("upgrade", format!("p{last}=2.0.{}", packages[last].0), format!("install = [\"p{last}=1.0.{}\"]", packages[last].0))
                } else {
                    ("install", format!("p{last}"), "install = []".to_string())
                };
                t += &format!("\n[setup]\n{setup}\n\n[operation]\nkind = \"{kind}\"\npackages = [\"{op}\"]\n");
                if !at_ms.is_empty() {
                    t += &format!("\n[[fault]]\nkind = \"kill\"\nsignal = \"TERM\"\nat_ms = {at_ms:?}\n");
                }
                if syscall_at > 0 {
                    t += &format!("\n[[fault]]\nkind = \"syscall\"\nsyscalls = [\"rename\", \"fsync\"]\nat = [{syscall_at}]\n");
                }
                if extras {
                    t += "\n[[probe]]\nname = \"imports\"\ncommand = \"python3 -c 1\"\napproaches = [\"pip\"]\n";
                    t += "\n[recovery.apt]\ncommands = [\"dpkg --configure -a\"]\n";
                    t += "\n[[guarantee]]\nname = \"nix leaves nothing\"\napproaches = [\"nix\"]\nexpect = \"residue_files == 0\"\nin = \"95%\"\n";
                }
                t
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// parse → serialize → parse gives the same scenario, and the
        /// serialized form is stable (the model loses nothing in TOML).
        #[test]
        fn scenarios_round_trip_through_serde(text in arb_scenario_text()) {
            let a = parse(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}\n{text}")))?;
            let once = toml::to_string(&a).unwrap();
            let b = parse(&once).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}\n{once}")))?;
            proptest::prop_assert_eq!(&a, &b);
            proptest::prop_assert_eq!(once, toml::to_string(&b).unwrap());
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 0), (1, 1));
        assert_eq!(line_col("é", 1), (1, 1), "inside a character");
        assert_eq!(line_col("a\nb", 99), (2, 2), "past the end");
    }
}
