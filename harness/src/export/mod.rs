//! The results files: their typed records and columns (`schema`), run.json
//! (`run_meta`), and the exporters that write each trial or crash point as
//! soon as it is judged (a CSV row, a JSONL line with the full history).
//! Every write is flushed, so an interrupted run leaves complete rows only.
//! Whole files (reports, JUnit) go through `write_atomic`.

mod csv_exporter;
mod jsonl;
pub mod run_meta;
pub mod schema;

pub use csv_exporter::CsvWriter;
pub use jsonl::JsonlExporter;
pub use run_meta::{RunMeta, RunStatus};
pub use schema::{
    column, columns, ApproachKind, Column, ColumnKind, CrashPointRecord, FaultLabel, Outcome,
    Record, Source, State, TriBool, TrialRecord,
};

use std::path::Path;

use crate::error::{Error, Result};
use crate::history::History;

/// Where each judged record goes (hyperfine's exporters: one typed result,
/// every file). `R` is the file's record: a trial or a crash point.
pub trait Exporter<R>: Send {
    fn export(&mut self, record: &R, history: &History) -> std::io::Result<()>;
}

/// Writes `path` through a temp file in the same folder and a rename, so a
/// reader never sees a half-written report, JUnit file or run.json.
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
