//! points.json: per approach, what its dry run found and which points the
//! crash runs took. One type for the explore command that writes it and
//! the report that reads it; fields added since the first explore runs
//! have defaults, so old folders still load.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use super::classes::PointClass;
use super::points::CrashPoint;
use crate::approach::ApproachKind;
use crate::error::{Error, Result};
use crate::history::{History, Phase};

/// One approach's dry run and selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunRecord {
    pub approach: ApproachKind,
    /// The syscalls traced (`--syscalls`, expanded).
    #[serde(default)]
    pub syscalls: Vec<String>,
    /// `--max-points` (None: every class's share).
    #[serde(default)]
    pub max_points: Option<u32>,
    /// `--per-class`.
    #[serde(default)]
    pub per_class: Option<u32>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Syscall family → points found and selected.
    #[serde(default)]
    pub families: BTreeMap<String, FamilyCount>,
    /// The selected points' indices.
    #[serde(default)]
    pub selected: Vec<usize>,
    /// Points whose class has a selected point.
    #[serde(default)]
    pub represented: Option<usize>,
    #[serde(default)]
    pub classes: Vec<PointClass>,
    /// Every point the dry run found.
    pub points: Vec<CrashPoint>,
    /// The undisturbed, traced operation's history.
    #[serde(default)]
    pub dry_run: Option<History>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyCount {
    pub found: usize,
    pub selected: usize,
}

impl DryRunRecord {
    /// The dry run's scenario, when its history is there.
    pub fn scenario(&self) -> Option<&str> {
        self.dry_run.as_ref().map(|h| h.scenario.as_str())
    }

    /// The exit code of the undisturbed operation.
    pub fn dry_exit(&self) -> Option<i64> {
        self.dry_run
            .as_ref()?
            .steps
            .iter()
            .find(|s| s.phase == Phase::Operation)
            .map(|s| s.exit_code)
    }
}

/// Writes `dir/points.json` atomically.
pub fn write(dir: &Path, records: &[DryRunRecord]) -> Result<()> {
    let text = serde_json::to_string_pretty(records).expect("plain data serializes");
    crate::export::write_atomic(&dir.join("points.json"), &(text + "\n"))
}

/// Reads `dir/points.json`; None when there is none.
pub fn read_if_present(dir: &Path) -> Result<Option<Vec<DryRunRecord>>> {
    let path = dir.join("points.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Usage(format!(
            "garbled points.json: {}:{}:{}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed points.json loads, the oldest (approach, points and
    /// the dry run only) too.
    #[test]
    fn every_committed_points_json_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        let mut dirs = vec![
            root.join("tests/fixtures/explore-kill-during-install"),
            root.join("../results/reference/study/explore/kill-during-install"),
        ];
        for e in std::fs::read_dir(root.join("../results/reference")).unwrap() {
            dirs.push(e.unwrap().path());
        }
        for dir in dirs {
            let Some(records) = read_if_present(&dir).unwrap_or_else(|e| panic!("{e}")) else {
                continue;
            };
            assert!(!records.is_empty(), "{}", dir.display());
            for r in &records {
                assert!(
                    r.dry_exit().is_some(),
                    "{}: {:?}",
                    dir.display(),
                    r.approach
                );
                let found: usize = r.families.values().map(|f| f.found).sum();
                assert!(r.families.is_empty() || found == r.points.len());
            }
            seen += 1;
        }
        assert!(seen >= 3, "{seen} points.json found");
    }

    #[test]
    fn a_garbled_file_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("points.json"),
            "[{\"approach\": \"apt\",\n \"points\": 3}]",
        )
        .unwrap();
        let e = read_if_present(dir.path()).unwrap_err().to_string();
        assert!(e.contains("points.json:2:"), "{e}");
    }
}
