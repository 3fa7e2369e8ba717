//! The results files: their typed records and columns (`schema`), run.json
//! (`run_meta`), and the exporters that write each trial or crash point as
//! soon as it is judged (a CSV row, a JSONL line with the full history).
//! Every write is flushed, so an interrupted run leaves complete rows only.
//! Whole files (reports, JUnit) go through `write_atomic`.

mod csv_exporter;
mod jsonl;
pub mod run_meta;
pub mod schema;
pub mod study_meta;

pub use csv_exporter::CsvWriter;
pub use jsonl::JsonlExporter;
pub use run_meta::{EngineMeta, RunMeta, RunStatus};
pub use schema::{
    column, columns, ApproachKind, Column, ColumnKind, CrashPointRecord, FaultLabel, Outcome,
    Record, Source, State, TriBool, TrialRecord,
};
pub use study_meta::StudyMeta;

use std::path::Path;

use crate::error::{Error, Result};
use crate::history::History;

/// Where each judged record goes (hyperfine's exporters: one typed result,
/// every file). `R` is the file's record: a trial or a crash point.
pub trait Exporter<R>: Send {
    fn export(&mut self, record: &R, history: &History) -> std::io::Result<()>;
}

/// Times as the clock can tell them: every number under a key `ms` or
/// `*_ms` in `v` (a record or a history, at any depth) rounded to µs, 3
/// decimals. Applied by the exporters to every row and history they write,
/// so no measurement needs rounding where it is taken.
pub fn round_times(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::Number(n) if key == "ms" || key.ends_with("_ms") => {
                        if let Some(r) = n
                            .as_f64()
                            .filter(|x| n.is_f64() && x.is_finite())
                            .and_then(|x| {
                                serde_json::Number::from_f64((x * 1000.0).round() / 1000.0)
                            })
                        {
                            *n = r;
                        }
                    }
                    other => round_times(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(round_times),
        _ => {}
    }
}

/// `record` with its times rounded ([`round_times`]).
pub(crate) fn with_times_rounded<R: Record>(record: &R) -> std::io::Result<R> {
    let mut v = serde_json::to_value(record).map_err(std::io::Error::other)?;
    round_times(&mut v);
    serde_json::from_value(v).map_err(std::io::Error::other)
}

/// A results file's complete lines. A writer killed mid-row can leave the
/// last line without its newline: that line is dropped and the returned
/// warning says so (the caller prints it), so one cut row does not make
/// the whole file unreadable.
pub fn read_complete(path: &Path) -> std::io::Result<(Vec<u8>, Option<String>)> {
    let mut bytes = std::fs::read(path)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok((bytes, None));
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let cut = bytes.len() - keep;
    let line = bytes[..keep].iter().filter(|b| **b == b'\n').count() + 1;
    bytes.truncate(keep);
    Ok((
        bytes,
        Some(format!(
            "{}:{line}: the last line is incomplete ({cut} bytes, no newline: the writer was killed mid-row); ignored",
            path.display()
        )),
    ))
}

/// A results file to write rows into: new (truncated), or with `append`
/// the existing one less an incomplete last line. With whether it is empty
/// (a CSV then needs its header).
pub(crate) fn open_results_file(
    path: &Path,
    append: bool,
) -> std::io::Result<(std::fs::File, bool)> {
    if !append || !path.exists() {
        return Ok((std::fs::File::create(path)?, true));
    }
    let (complete, cut) = read_complete(path)?;
    if let Some(w) = cut {
        eprintln!("warning: {w}");
    }
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(complete.len() as u64)?;
    let mut file = file;
    use std::io::Seek;
    file.seek(std::io::SeekFrom::End(0))?;
    Ok((file, complete.is_empty()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_last_line_is_dropped_with_its_location() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.csv");
        std::fs::write(&p, "a,b\n1,2\n3,").unwrap();
        let (bytes, warning) = read_complete(&p).unwrap();
        assert_eq!(bytes, b"a,b\n1,2\n");
        let w = warning.unwrap();
        assert!(
            w.contains("trials.csv:3") && w.contains("incomplete"),
            "{w}"
        );
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        assert_eq!(read_complete(&p).unwrap(), (b"a,b\n1,2\n".to_vec(), None));
        std::fs::write(&p, "").unwrap();
        assert_eq!(read_complete(&p).unwrap(), (Vec::new(), None));
    }

    #[test]
    fn written_times_are_rounded_to_microseconds() {
        let dir = tempfile::tempdir().unwrap();
        let reference = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../results/reference/failed-install-r5/trials.csv");
        let mut record: TrialRecord = csv::Reader::from_path(reference)
            .unwrap()
            .deserialize()
            .next()
            .unwrap()
            .unwrap();
        record.operation_ms = Some(15.724776);
        record.overhead_ms = 1085.6747490000002;
        record.residue_files = Some(3);
        let mut h = History::new("s", record.approach, "none", 0, 1);
        h.timings.wall_ms = 0.1 + 0.2;
        h.steps.push(crate::history::Step {
            phase: crate::history::Phase::Operation,
            check: None,
            check_kind: None,
            command: "x".into(),
            exit_code: 0,
            ms: 2.0000004,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            quiet: false,
            fault_fired_ms: Some(1.23456),
            attempts: Vec::new(),
            started_ns: Some(123_456_789_123),
        });
        let (csv_path, jsonl_path) = (dir.path().join("t.csv"), dir.path().join("t.jsonl"));
        CsvWriter::<TrialRecord>::create(&csv_path)
            .unwrap()
            .export(&record, &h)
            .unwrap();
        JsonlExporter::<TrialRecord>::create(&jsonl_path)
            .unwrap()
            .export(&record, &h)
            .unwrap();
        let csv = std::fs::read_to_string(&csv_path).unwrap();
        let row = csv.lines().nth(1).unwrap();
        assert!(
            row.contains(",15.725,") && row.contains(",1085.675,"),
            "{row}"
        );
        let line = std::fs::read_to_string(&jsonl_path).unwrap();
        for want in [
            "\"operation_ms\":15.725",
            "\"wall_ms\":0.3,",
            "\"ms\":2.0,",
            "\"fault_fired_ms\":1.235",
            "\"started_ns\":123456789123",
            "\"residue_files\":3",
        ] {
            assert!(line.contains(want), "{want} in {line}");
        }
    }
}
