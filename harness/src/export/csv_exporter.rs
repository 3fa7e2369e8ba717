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
        Self::open(path, false)
    }

    /// `append`: after the rows already in `path` (a cut last row dropped;
    /// the header written only into an empty file), else a new file.
    pub fn open(path: &Path, append: bool) -> io::Result<Self> {
        let (file, empty) = super::open_results_file(path, append)?;
        Ok(CsvWriter {
            writer: csv::WriterBuilder::new()
                .has_headers(empty)
                .from_writer(file),
            record: PhantomData,
        })
    }

    /// Writes one row, flushes it and syncs it to disk: an interrupted run,
    /// or a machine that loses power, keeps complete rows.
    pub fn write(&mut self, record: &R) -> io::Result<()> {
        self.writer.serialize(record).map_err(io::Error::other)?;
        self.writer.flush()?;
        self.writer.get_ref().sync_data()
    }
}

impl<R: Record> Exporter<R> for CsvWriter<R> {
    /// A new row: its times rounded to µs (`export::round_times`). `write`
    /// itself writes a record as it is (rows read back from older files).
    fn export(&mut self, record: &R, _: &History) -> io::Result<()> {
        self.write(&super::with_times_rounded(record)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{CrashPointRecord, TrialRecord};

    /// Each row is on disk as soon as it is written, header first: what an
    /// interrupted run or explore leaves behind.
    #[test]
    fn rows_are_flushed_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let reference = |name: &str| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../results/reference")
                .join(name)
        };
        fn first_two<R: Record>(src: &Path, out: &Path) {
            let rows: Vec<R> = csv::Reader::from_path(src)
                .unwrap()
                .deserialize()
                .take(2)
                .map(|r| r.unwrap())
                .collect();
            let mut w = CsvWriter::<R>::create(out).unwrap();
            for (i, r) in rows.iter().enumerate() {
                w.write(r).unwrap();
                let text = std::fs::read_to_string(out).unwrap();
                assert_eq!(text.lines().count(), i + 2, "header and {} rows", i + 1);
            }
        }
        first_two::<TrialRecord>(
            &reference("failed-install-r5/trials.csv"),
            &dir.path().join("trials.csv"),
        );
        first_two::<CrashPointRecord>(
            &reference("kill-during-install-explore/crashpoints.csv"),
            &dir.path().join("crashpoints.csv"),
        );
    }
}
