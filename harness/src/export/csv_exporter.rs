//! trials.csv: one row per trial, header first, flushed after every row.

use std::fs::File;
use std::io;
use std::path::Path;

use super::Exporter;
use crate::checker::TrialRecord;
use crate::history::History;

pub struct CsvExporter {
    writer: csv::Writer<File>,
}

impl CsvExporter {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(CsvExporter {
            writer: csv::Writer::from_writer(File::create(path)?),
        })
    }
}

impl Exporter for CsvExporter {
    fn trial(&mut self, record: &TrialRecord, _: &History) -> io::Result<()> {
        self.writer.serialize(record).map_err(io::Error::other)?;
        self.writer.flush()
    }
}
