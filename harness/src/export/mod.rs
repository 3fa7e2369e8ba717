//! Exporters write each trial as soon as it is judged: trials.csv (one row
//! per trial) and trials.jsonl (the full history). Every write is flushed,
//! so an interrupted run leaves complete rows only. Whole files (reports,
//! JUnit) go through `write_atomic`.

mod csv_exporter;
mod jsonl;

pub use csv_exporter::CsvExporter;
pub use jsonl::JsonlExporter;

use std::path::Path;

use crate::checker::TrialRecord;
use crate::error::{Error, Result};
use crate::history::History;

pub trait Exporter: Send {
    fn trial(&mut self, record: &TrialRecord, history: &History) -> std::io::Result<()>;
}

/// Writes `path` through a temp file in the same folder and a rename, so a
/// reader never sees a half-written report or JUnit file.
pub fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("writing {}", path.display()), e)
    })
}
