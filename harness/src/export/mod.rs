//! Exporters write each trial as soon as it is judged: trials.csv (one row
//! per trial) and trials.jsonl (the full history). Every write is flushed,
//! so an interrupted run leaves complete rows only.

mod csv_exporter;
mod jsonl;

pub use csv_exporter::CsvExporter;
pub use jsonl::JsonlExporter;

use crate::checker::TrialRecord;
use crate::history::History;

pub trait Exporter: Send {
    fn trial(&mut self, record: &TrialRecord, history: &History) -> std::io::Result<()>;
}
