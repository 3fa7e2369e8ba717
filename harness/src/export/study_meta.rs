//! study.json: what a `study` ran and how long each part took, so the
//! summary can say how many trials each cell used and why it stopped, and
//! the study's own cost is published from data.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{Error, Result};

/// One (scenario, approach) of the study's trials: the repetitions it used
/// and why it stopped there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellReps {
    pub scenario: String,
    pub approach: String,
    /// Repetitions run (each repetition is one trial per fault).
    pub reps: u32,
    /// The scenario's own `reps`, the most the study runs.
    pub max_reps: u32,
    /// `decided` (verdicts known, key figure's interval narrow), `max reps`,
    /// or `interrupted`.
    pub stopped: String,
}

/// A scenario the study crashed systematically instead of running its
/// timed faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplorePart {
    pub scenario: String,
    /// Its folder, relative to the study's.
    pub dir: String,
    pub max_points: u32,
    pub exit_code: i32,
    pub wall_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyMeta {
    pub format_version: u32,
    pub harness_version: String,
    pub seed: u64,
    /// The scenario files and folders given.
    pub scenarios: Vec<String>,
    pub started: String,
    #[serde(default)]
    pub finished: Option<String>,
    /// Repetitions every cell ran before any could stop.
    pub min_reps: u32,
    #[serde(default)]
    pub rounds: u32,
    #[serde(default)]
    pub cells: Vec<CellReps>,
    /// Wall time of the trials' part (every round), seconds.
    #[serde(default)]
    pub trials_wall_s: f64,
    #[serde(default)]
    pub explores: Vec<ExplorePart>,
    /// The whole study, seconds (images already built or not: see
    /// `images_built`).
    #[serde(default)]
    pub wall_s: f64,
    /// Images were built during the study (a cold start): its wall time
    /// then includes the builds.
    #[serde(default)]
    pub images_built: bool,
}

pub const FILE_NAME: &str = "study.json";
/// study.json's own format (bumped when a field changes meaning).
pub const FORMAT_VERSION: u32 = 1;

impl StudyMeta {
    pub fn read_if_present(dir: &Path) -> Result<Option<StudyMeta>> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Usage(format!("garbled {}: {e}", path.display())))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plain data serializes");
        super::write_atomic(&dir.join(FILE_NAME), &(text + "\n"))
    }
}
