//! run.json: what ran and how it ended, beside the results. One type: the
//! run session writes it, the report, `verify` and `compare` read it. Every
//! field a run.json may lack is optional, so older runs still load.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::docker::environment::Environment;
use crate::docker::SecurityProfile;
use crate::error::Result;

/// How the run ended: `running` while it runs; `killed` when a later start
/// found it still `running` with its process gone (SIGKILL, power loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    Interrupted,
    Failed,
    Killed,
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
            RunStatus::Killed => "killed",
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The run id, also the results folder's default name.
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// The plan seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// `--reps`, when given (null: each scenario's own).
    #[serde(default)]
    pub reps: Option<u32>,
    /// Trials or crash points run at once.
    #[serde(default)]
    pub jobs: Option<u16>,
    /// The scenario files, as given.
    #[serde(default)]
    pub scenarios: Vec<String>,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub harness_version: Option<String>,
    /// Shared by every container of the run. Absent in runs made before
    /// the profile was recorded (they used Docker's defaults).
    #[serde(default)]
    pub security_profile: Option<SecurityProfile>,
    #[serde(default)]
    pub security_profile_detail: Option<String>,
    /// Approach name → how it is configured under that profile. Keyed by
    /// name, so the file lists them alphabetically as it always has.
    #[serde(default)]
    pub approaches: BTreeMap<String, String>,
    /// Tool versions and image ids, read from the images themselves.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// Earlier runs whose rows this folder also holds (`run --resume`),
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_from: Vec<String>,
    /// The engines trials ran on (`--engine`), when more than the default
    /// one: the `engine` column's names, their URLs and job limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<EngineMeta>,
    /// The results format of this folder's files ([`FORMAT_VERSION`] when
    /// written by this harness); absent: 1. Read it with [`RunMeta::format`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    /// The harness's git commit ([`HARNESS_COMMIT`]); absent in older runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_commit: Option<String>,
}

/// The results format this harness writes. 1: files without a
/// `format_version`. 2: `consistent` is the package manager's own checks
/// alone (probes in `probes_ok`, the service's health in `healthy_*`);
/// `residue_files` (and every `*_files` column) counts non-directory
/// paths, directories in `residue_dirs`; `detect_ms` starts when the change
/// command returned (`change_ms` is the command's own time) and a service
/// that never came back is `downtime_censored`; seeds are below 2^53; times
/// are rounded to µs (3 decimals of ms). 3: a successful install's or
/// upgrade's `recovered` compares its end state with a clean install of
/// the new state (columns `clean_diff_files`, `clean_diff_packages`; the
/// history's `retry` comparison is now `clean`). 4: a crash point is an
/// operation: crashpoints.csv's `point` counts the process's calls of the
/// syscall on the operation's file (named in the new `operation` column,
/// with `hit` and `mismatch`), no longer all its calls of the syscall.
/// 5: configure scenarios from files: `wanted_edit_lost` is read in the
/// files the wanted edit changed (not in nginx's response headers), new
/// columns `recovery`, `data_lost` and `service`. 6: rollout scenarios,
/// columns `nodes` … `fleet_residue_files` (empty in other rows).
pub const FORMAT_VERSION: u32 = 6;

/// The harness's git commit at build time (`build.rs`): `unknown` without
/// git, `-dirty` when its tracked files differed from the commit.
pub const HARNESS_COMMIT: &str = env!("MISTAKE_COST_COMMIT");

/// One engine of a run, as run.json records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineMeta {
    pub name: String,
    pub url: String,
    pub jobs: u16,
}

impl RunMeta {
    /// The results format of the folder (1 when run.json does not say).
    pub fn format(&self) -> u32 {
        self.format_version.unwrap_or(1)
    }

    /// Reads `dir/run.json`; the one reader every command uses.
    pub fn read(dir: &Path) -> Result<RunMeta> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| crate::error::Error::io(format!("reading {}", path.display()), e))?;
        serde_json::from_str(&text).map_err(|e| {
            crate::error::Error::Usage(format!(
                "garbled {}:{}:{}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }

    /// [`RunMeta::read`], or None when the folder has no run.json.
    pub fn read_if_present(dir: &Path) -> Result<Option<RunMeta>> {
        if dir.join("run.json").is_file() {
            Self::read(dir).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Writes `dir/run.json` atomically: never half-written.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plain data serializes");
        super::write_atomic(&dir.join("run.json"), &(text + "\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_run_json_loads_and_new_fields_round_trip() {
        let old: RunMeta = serde_json::from_str(
            r#"{"run_id":"r","status":"finished","seed":1,"reps":null,"jobs":2,
                "scenarios":["scenarios/a.toml"],"started":"t","harness_version":"0.1.0"}"#,
        )
        .unwrap();
        assert_eq!(old.status, Some(RunStatus::Finished));
        assert_eq!((old.seed, old.reps, old.jobs), (Some(1), None, Some(2)));
        assert!(old.security_profile.is_none() && old.environment.is_none());
        assert_eq!(old.format(), 1, "no format_version: format 1");
        let new = RunMeta {
            format_version: Some(FORMAT_VERSION),
            harness_commit: Some(HARNESS_COMMIT.into()),
            security_profile: Some(SecurityProfile::Default),
            approaches: [("apt".to_string(), "apt-get".to_string())].into(),
            ..old
        };
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains(r#""security_profile":"default""#), "{text}");
        assert!(
            text.contains(&format!(r#""format_version":{FORMAT_VERSION}"#)),
            "{text}"
        );
        assert!(!HARNESS_COMMIT.is_empty());
        assert_eq!(serde_json::from_str::<RunMeta>(&text).unwrap(), new);
    }

    #[test]
    fn every_committed_run_json_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["../results/reference", "tests/fixtures"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path().join("run.json");
                if p.is_file() {
                    let text = std::fs::read_to_string(&p).unwrap();
                    let meta: RunMeta = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    assert!(meta.run_id.is_some(), "{}", p.display());
                    if dir.starts_with("../results") {
                        // Written by today's session: the type writes it back byte for byte.
                        let again = serde_json::to_string_pretty(&meta).unwrap() + "\n";
                        assert!(again == text, "{} does not round-trip", p.display());
                    }
                }
            }
        }
    }
}
