//! The scenario loader the commands use: `scenario` parses and validates a
//! file, and each `[[guarantee]]` is compiled here against the results'
//! columns, so no command can take in a guarantee `judge_all` cannot judge.

use std::path::{Path, PathBuf};

use crate::scenario::{self, GuaranteeSpec, LoadedScenario, ParseError, ScenarioError};
use crate::vocab::ApproachKind;

/// Loads every scenario named (files, or folders of `*.toml`: see
/// `scenario::load_all`), guarantees checked.
pub fn load_scenarios(paths: &[PathBuf]) -> Result<Vec<LoadedScenario>, ScenarioError> {
    scenario::load_all(paths, &check_guarantee)
}

/// Loads one scenario file, guarantees checked.
pub fn load_scenario(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    scenario::load(path, &check_guarantee)
}

/// [`compile`](super::compile) as the scenario loader's guarantee check: its
/// error carries the span of the field at fault, which the loader turns into
/// `file:line:col`.
pub fn check_guarantee(
    spec: &GuaranteeSpec,
    scenario_approaches: &[ApproachKind],
) -> Result<(), ParseError> {
    super::compile(spec, scenario_approaches).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;
    use crate::scenario::{line_col, parse_with};

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

    /// Parses `text` with the guarantee check and returns "line:col: message".
    fn error_of(text: &str) -> String {
        let e = parse_with(text, &check_guarantee).expect_err("must be rejected");
        let (line, col) = line_col(text, e.span.expect("located").start);
        format!("{line}:{col}: {}", e.message)
    }

    #[test]
    fn guarantees_are_checked_and_located() {
        let g = |body: &str| format!("{GOOD}\n[[guarantee]]\nname = \"g\"\n{body}\n");
        let s = parse(&g(
            "approaches = [\"nix\"]\nexpect = \"residue_files == 0\"\nin = \"95%\"",
        ))
        .unwrap();
        assert_eq!(s.guarantees.len(), 1);
        // the guarantee's fields start on line 26.
        let e = error_of(&g("expect = \"residu_files == 0\""));
        assert!(
            e.starts_with("26:10: expect: unknown column `residu_files` for source `trials`"),
            "{e}"
        );
        let e = error_of(&g(
            "source = \"crashpoints\"\nexpect = \"trial_wall_ms < 5\"",
        ));
        assert!(
            e.starts_with("27:10:") && e.contains("for source `crashpoints`"),
            "{e}"
        );
        let e = error_of(&g("expect = \"residue_files = 0\""));
        assert!(e.starts_with("26:10: expect: bad operator `=`"), "{e}");
        let e = error_of(&g("expect = \"residue_files == 0\"\nin = \"most\""));
        assert!(e.starts_with("27:6: in = `most`"), "{e}");
        let e = error_of(&g("expect = \"residue_files == 0\"\nin = \"150%\""));
        assert!(e.starts_with("27:6:"), "{e}");
        let only_nix = GOOD.replace("[\"apt\", \"pip\", \"pip-venv\", \"nix\"]", "[\"nix\"]");
        let e = error_of(&format!("{only_nix}\n[[guarantee]]\nname = \"g\"\napproaches = [\"apt\"]\nexpect = \"consistent == true\"\n"));
        assert!(
            e.starts_with(
                "26:15: guarantee `g` is about approach `apt`, which this scenario does not run"
            ),
            "{e}"
        );
        // Unchecked, the same text parses: the check is the loader's.
        assert!(parse(&g("expect = \"residu_files == 0\"")).is_ok());
    }

    #[test]
    fn shipped_scenarios_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let all = load_scenarios(&[dir]).unwrap();
        assert!(all
            .iter()
            .any(|s| s.scenario.scenario.name == "failed-install"));
        assert!(
            all.iter()
                .all(|s| !s.scenario.scenario.name.starts_with("bench-")),
            "the main suite does not recurse into scenarios/bench"
        );
        let bench =
            load_scenarios(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench")])
                .unwrap();
        assert_eq!(bench.len(), 2);
        assert!(bench
            .iter()
            .all(|s| s.scenario.scenario.name.starts_with("bench-")));
    }

    #[test]
    fn a_file_with_a_bad_guarantee_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            format!("{GOOD}\n[[guarantee]]\nname = \"g\"\nexpect = \"residu_files == 0\"\n"),
        )
        .unwrap();
        let e = load_scenario(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:26:10: expect: unknown column", path.display())),
            "{e}"
        );
    }
}
