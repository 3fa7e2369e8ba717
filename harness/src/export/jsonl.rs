//! trials.jsonl: per trial, its row plus the whole history (every step's
//! command, exit code, output tail and time; the residue paths).

use serde::Serialize;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use super::Exporter;
use crate::checker::TrialRecord;
use crate::history::History;

pub struct JsonlExporter {
    file: File,
}

impl JsonlExporter {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(JsonlExporter {
            file: File::create(path)?,
        })
    }
}

#[derive(Serialize)]
struct Line<'a> {
    record: &'a TrialRecord,
    history: &'a History,
}

impl Exporter for JsonlExporter {
    fn trial(&mut self, record: &TrialRecord, history: &History) -> io::Result<()> {
        let mut line = serde_json::to_vec(&Line { record, history }).map_err(io::Error::other)?;
        line.push(b'\n');
        // One write per line: a line is either wholly there or not at all.
        self.file.write_all(&line)?;
        self.file.flush()
    }
}
