//! trials.jsonl, crashpoints.jsonl: per trial or crash point, its row plus
//! the whole history (every step's command, exit code, output tail and
//! time; the residue paths).

use serde::Serialize;
use std::fs::File;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::path::Path;

use super::schema::Record;
use super::Exporter;
use crate::history::History;

pub struct JsonlExporter<R> {
    file: File,
    record: PhantomData<fn(&R)>,
}

impl<R: Record> JsonlExporter<R> {
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::open(path, false)
    }

    /// `append`: after the lines already in `path` (a cut last line dropped).
    pub fn open(path: &Path, append: bool) -> io::Result<Self> {
        Ok(JsonlExporter {
            file: super::open_results_file(path, append)?.0,
            record: PhantomData,
        })
    }
}

#[derive(Serialize)]
struct Line<'a, R> {
    record: &'a R,
    history: &'a History,
}

impl<R: Record> Exporter<R> for JsonlExporter<R> {
    fn export(&mut self, record: &R, history: &History) -> io::Result<()> {
        let mut value = serde_json::to_value(Line { record, history }).map_err(io::Error::other)?;
        super::round_times(&mut value);
        let mut line = serde_json::to_vec(&value).map_err(io::Error::other)?;
        line.push(b'\n');
        // One write per line: a line is either wholly there or not at all.
        self.file.write_all(&line)?;
        self.file.flush()?;
        self.file.sync_data()
    }
}
