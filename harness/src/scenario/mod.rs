//! Scenario files: parsing TOML into the model and validating it, with every
//! error pointing at file:line:col and saying what was expected.

mod model;
mod validate;

pub use model::*;

use std::ops::Range;
use std::path::{Path, PathBuf};

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
    Invalid { path: PathBuf, line: usize, col: usize, message: String },
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
/// files in name order. All files are checked before anything is started.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<LoadedScenario>, ScenarioError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| ScenarioError::Read { path: p.clone(), source })?
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
        out.push(load(&f)?);
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

pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
    let scenario = parse(&text).map_err(|e| e.at(path, &text))?;
    Ok(LoadedScenario { path: path.to_path_buf(), scenario })
}

/// An error inside a text, before it is tied to a file name.
#[derive(Debug)]
pub struct ParseError {
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl ParseError {
    pub fn new(span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        ParseError { span, message: message.into() }
    }

    fn at(self, path: &Path, text: &str) -> ScenarioError {
        match self.span {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                ScenarioError::Invalid { path: path.to_path_buf(), line, col, message: self.message }
            }
            None => ScenarioError::NoLocation { path: path.to_path_buf(), message: self.message },
        }
    }
}

/// Parses and validates a scenario text.
pub fn parse(text: &str) -> Result<Scenario, ParseError> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| {
        // toml's message repeats the source excerpt; keep its first line only.
        let message = e.message().lines().next().unwrap_or("invalid TOML").trim().to_string();
        ParseError::new(e.span(), message)
    })?;
    validate::validate(&scenario)?;
    Ok(scenario)
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}
