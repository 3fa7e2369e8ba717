//! A results file read column by column (trials.csv or crashpoints.csv),
//! so a guarantee names any column and older files with fewer columns
//! still load: a missing column makes a guarantee unknown, not the file bad.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Row {
    /// Line in the file (the header is line 1), for evidence.
    pub line: u64,
    pub cells: Vec<String>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Table> {
        let (bytes, cut) = crate::export::read_complete(path)
            .map_err(|e| Error::Usage(format!("verify: reading {}: {e}", path.display())))?;
        if let Some(w) = cut {
            eprintln!("warning: {w}");
        }
        Self::parse(csv::Reader::from_reader(bytes.as_slice()), path)
    }

    /// Typed records as the table their CSV file would be: the report's
    /// built-in claims are judged by the same code as a file's guarantees.
    /// `path` names the file the rows stand for, for evidence.
    pub fn from_records<R: serde::Serialize>(path: &Path, records: &[R]) -> Result<Table> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in records {
            w.serialize(r)
                .map_err(|e| Error::Usage(format!("verify: serializing a row: {e}")))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::Usage(format!("verify: serializing rows: {e}")))?;
        Self::parse(csv::Reader::from_reader(bytes.as_slice()), path)
    }

    fn parse<Rd: std::io::Read>(mut reader: csv::Reader<Rd>, path: &Path) -> Result<Table> {
        let bad = |e: csv::Error| {
            let at = e
                .position()
                .map(|p| format!(":{}", p.line()))
                .unwrap_or_default();
            Error::Usage(format!("verify: garbled {}{at}: {e}", path.display()))
        };
        let headers: Vec<String> = reader
            .headers()
            .map_err(bad)?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(bad)?;
            rows.push(Row {
                line: rec.position().map(|p| p.line()).unwrap_or(0),
                cells: rec.iter().map(str::to_owned).collect(),
            });
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            rows,
        })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    pub fn cell<'a>(&self, row: &'a Row, column: Option<usize>) -> &'a str {
        column
            .and_then(|i| row.cells.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cells_by_name_and_locates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.csv");
        std::fs::write(&p, "scenario,approach,residue_files\ns,nix,0\ns,apt,34\n").unwrap();
        let t = Table::read(&p).unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].line, 3);
        assert_eq!(t.cell(&t.rows[1], t.column("residue_files")), "34");
        assert_eq!(t.cell(&t.rows[1], t.column("nope")), "");
        std::fs::write(&p, "scenario,approach\ns,nix\ns\n").unwrap();
        let e = Table::read(&p).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::BAD_INPUT);
        assert!(e.to_string().contains("trials.csv:3"), "{e}");
    }
}
