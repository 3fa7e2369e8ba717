//! A results CSV (trials.csv, crashpoints.csv): one typed record a row,
//! the header first (written by the csv crate from the record's fields,
//! which `Record::COLUMNS` lists), flushed after every row.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::path::Path;

use super::schema::Record;
use super::Exporter;
use crate::history::History;

pub struct CsvWriter<R> {
    writer: csv::Writer<File>,
    record: PhantomData<fn(&R)>,
}

impl<R: Record> CsvWriter<R> {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(CsvWriter {
            writer: csv::Writer::from_writer(File::create(path)?),
            record: PhantomData,
        })
    }

    /// Writes one row and flushes it: an interrupted run keeps complete rows.
    pub fn write(&mut self, record: &R) -> io::Result<()> {
        self.writer.serialize(record).map_err(io::Error::other)?;
        self.writer.flush()
    }
}

impl<R: Record> Exporter<R> for CsvWriter<R> {
    fn export(&mut self, record: &R, _: &History) -> io::Result<()> {
        self.write(record)
    }
}
