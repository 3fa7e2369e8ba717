//! The `expect` of a guarantee: `column OP value`, checked against the
//! columns a source file has, and applied to one cell.

use std::fmt;

/// What a column holds: the results schema's kinds.
pub use crate::export::ColumnKind as Kind;
use crate::export::{Outcome, TriBool};
pub use crate::vocab::Source;

/// The columns a guarantee may test in `source`'s file, in file order:
/// the schema's, less the identity columns (scenario, approach, fault, rep,
/// seed; a crash point's family, syscall, process), which select rows, and
/// `error`, which is free text.
pub fn columns(source: Source) -> impl Iterator<Item = (&'static str, Kind)> {
    crate::export::columns(source)
        .iter()
        .filter(|c| c.kind.testable())
        .map(|c| (c.name, c.kind))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    // Longest first, so `<=` is not read as `<` followed by `=`.
    const ALL: [(&'static str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ord == Equal,
            Op::Ne => ord != Equal,
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Ge => ord != Less,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            Op::ALL
                .iter()
                .find(|(_, o)| o == self)
                .map(|(s, _)| *s)
                .unwrap_or("?"),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Word(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Word(w) => f.write_str(w),
        }
    }
}

/// A parsed, type-checked `column OP value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub column: &'static str,
    pub op: Op,
    pub value: Value,
}

/// What one cell says about an expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellEvidence {
    Holds,
    Violates,
    /// Empty, `unknown`, or not what the column should hold.
    Unknown(String),
}

impl Expect {
    pub fn parse(text: &str, source: Source) -> Result<Expect, String> {
        let t = text.trim();
        let end = t
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(t.len());
        let (name, rest) = t.split_at(end);
        if name.is_empty() {
            return Err(format!(
                "expect `{text}`: expected `column OP value`, like `residue_files == 0`"
            ));
        }
        let Some((column, kind)) = columns(source).find(|(c, _)| *c == name) else {
            let names: Vec<&str> = columns(source).map(|(c, _)| c).collect();
            return Err(format!(
                "expect: unknown column `{name}` for source `{}` (expected one of {})",
                source.as_str(),
                names.join(", ")
            ));
        };
        let rest = rest.trim_start();
        let op_end = rest
            .find(|c: char| !"=!<>".contains(c))
            .unwrap_or(rest.len());
        let (op_text, value_text) = rest.split_at(op_end);
        let Some(&(_, op)) = Op::ALL.iter().find(|(s, _)| *s == op_text) else {
            let shown = if op_text.is_empty() {
                rest.split_whitespace().next().unwrap_or("nothing")
            } else {
                op_text
            };
            return Err(format!(
                "expect: bad operator `{shown}` after `{column}` (expected one of == != < <= > >=)"
            ));
        };
        let value_text = value_text.trim();
        if value_text.is_empty() || value_text.contains(char::is_whitespace) {
            return Err(format!("expect: after `{column} {op}` expected one value (a number or a word), found `{value_text}`"));
        }
        if value_text == TriBool::Unknown.as_str() || value_text == Outcome::Errored.as_str() {
            return Err(format!(
                "expect: `{value_text}` cannot be expected: an {value_text} row is never evidence (it makes the verdict unknown)"
            ));
        }
        let value = match kind {
            Kind::Number => match value_text.parse::<f64>() {
                Ok(n) if n.is_finite() => Value::Number(n),
                _ => {
                    return Err(format!(
                        "expect: `{column}` holds numbers; `{value_text}` is not a number"
                    ))
                }
            },
            Kind::Identity | Kind::Text => unreachable!("only testable columns are listed"),
            Kind::Bool | Kind::Words(_) => {
                let allowed: &[&str] = match kind {
                    Kind::Words(w) => w,
                    _ => &["true", "false"],
                };
                if !allowed.contains(&value_text) {
                    return Err(format!(
                        "expect: `{column}` takes {}, not `{value_text}`",
                        allowed.join(", ")
                    ));
                }
                if !matches!(op, Op::Eq | Op::Ne) {
                    return Err(format!(
                        "expect: `{op}` compares numbers; `{column}` holds words: use == or !="
                    ));
                }
                Value::Word(value_text.to_string())
            }
        };
        Ok(Expect { column, op, value })
    }

    /// Judges one cell. An empty or `unknown` cell is unknown evidence,
    /// never holding.
    pub fn judge(&self, cell: &str) -> CellEvidence {
        let cell = cell.trim();
        if cell.is_empty() {
            return CellEvidence::Unknown("empty".into());
        }
        if cell == TriBool::Unknown.as_str() {
            return CellEvidence::Unknown(cell.into());
        }
        let holds = match &self.value {
            Value::Number(want) => match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => self.op.holds(v.total_cmp(want)),
                _ => return CellEvidence::Unknown(format!("`{cell}` is not a number")),
            },
            Value::Word(want) => {
                let eq = cell == want;
                if self.op == Op::Eq {
                    eq
                } else {
                    !eq
                }
            }
        };
        if holds {
            CellEvidence::Holds
        } else {
            CellEvidence::Violates
        }
    }
}

/// A row filter of a guarantee (`when`): `column == word` or `!=`, on any
/// column of the source, identity columns included (`fault == none`,
/// `outcome == failed`). `""` stands for the empty cell: `downtime_ms !=
/// ""` admits the rows that measured it (a configure trial's service
/// columns are empty in every other row). Rows that fail a filter are not
/// evidence at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub column: &'static str,
    pub equal: bool,
    pub value: String,
}

impl Filter {
    pub fn parse(text: &str, source: Source) -> Result<Filter, String> {
        let t = text.trim();
        let (column, equal, value) = if let Some((c, v)) = t.split_once("!=") {
            (c, false, v)
        } else if let Some((c, v)) = t.split_once("==") {
            (c, true, v)
        } else {
            return Err(format!(
                "when `{text}`: expected `column == value` or `column != value`, like `outcome == failed`"
            ));
        };
        let (name, value) = (column.trim(), value.trim());
        let Some(col) = crate::export::column(source, name) else {
            let names: Vec<&str> = crate::export::columns(source)
                .iter()
                .map(|c| c.name)
                .collect();
            return Err(format!(
                "when: unknown column `{name}` for source `{}` (expected one of {})",
                source.as_str(),
                names.join(", ")
            ));
        };
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(format!(
                "when: after `{name} {}` expected one word (or `\"\"` for an empty cell), found `{value}`",
                if equal { "==" } else { "!=" }
            ));
        }
        Ok(Filter {
            column: col.name,
            equal,
            // `""`: the empty cell.
            value: if value == EMPTY {
                String::new()
            } else {
                value.to_string()
            },
        })
    }

    pub fn admits(&self, cell: &str) -> bool {
        (cell.trim() == self.value) == self.equal
    }
}

/// How a `when` names the empty cell.
const EMPTY: &str = "\"\"";

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.equal { "==" } else { "!=" };
        let value = if self.value.is_empty() {
            EMPTY
        } else {
            &self.value
        };
        write!(f, "{} {op} {value}", self.column)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.column, self.op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_spaces() {
        let e = Expect::parse("residue_files == 0", Source::Trials).unwrap();
        assert_eq!(
            (e.column, e.op, e.value.clone()),
            ("residue_files", Op::Eq, Value::Number(0.0))
        );
        assert_eq!(
            Expect::parse("recovery_ms<=1500.5", Source::Trials)
                .unwrap()
                .op,
            Op::Le
        );
        assert_eq!(
            Expect::parse(" consistent != false ", Source::Trials)
                .unwrap()
                .value,
            Value::Word("false".into())
        );
        assert_eq!(
            Expect::parse("state_after_crash != inconsistent", Source::Crashpoints)
                .unwrap()
                .column,
            "state_after_crash"
        );
        assert_eq!(
            Expect::parse("residue_files == 0", Source::Trials)
                .unwrap()
                .to_string(),
            "residue_files == 0"
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        let e = |t: &str, s| Expect::parse(t, s).unwrap_err();
        assert!(e("residu_files == 0", Source::Trials)
            .contains("unknown column `residu_files` for source `trials`"));
        assert!(
            e("state_after_crash == old", Source::Trials).contains("unknown column"),
            "a crashpoints column in trials"
        );
        assert!(e("trial_wall_ms < 5", Source::Crashpoints).contains("unknown column"));
        assert!(e("residue_files = 0", Source::Trials).contains("bad operator `=`"));
        assert!(e("residue_files =< 0", Source::Trials).contains("bad operator `=<`"));
        assert!(e("residue_files 0", Source::Trials).contains("bad operator `0`"));
        assert!(e("residue_files == none", Source::Trials).contains("not a number"));
        assert!(e("residue_files == 1 2", Source::Trials).contains("one value"));
        assert!(e("residue_files ==", Source::Trials).contains("one value"));
        assert!(e("consistent == maybe", Source::Trials).contains("takes true, false"));
        assert!(e("consistent < true", Source::Trials).contains("use == or !="));
        assert!(e("consistent == unknown", Source::Trials).contains("never evidence"));
        assert!(e("outcome != errored", Source::Trials).contains("never evidence"));
        assert!(e("== 0", Source::Trials).contains("column OP value"));
        assert!(e("residue_files == inf", Source::Trials).contains("not a number"));
    }

    #[test]
    fn filters_take_any_column_and_compare_words() {
        let f = Filter::parse("outcome == failed", Source::Trials).unwrap();
        assert!(f.admits("failed") && !f.admits("succeeded"));
        let g = Filter::parse(" fault!=none ", Source::Trials).unwrap();
        assert!(g.admits("kill:KILL@5ms") && !g.admits("none"));
        assert_eq!(g.to_string(), "fault != none");
        assert!(Filter::parse("outcome != errored", Source::Trials).is_ok());
        assert!(Filter::parse("fired == true", Source::Crashpoints).is_ok());
        let e = |t: &str| Filter::parse(t, Source::Trials).unwrap_err();
        assert!(e("outcome = failed").contains("expected `column == value`"));
        assert!(e("outcom == failed").contains("unknown column `outcom`"));
        assert!(e("outcome == ").contains("one word"));
        assert!(e("state_after_crash == old").contains("unknown column"));
        // `""` is the empty cell: configure trials fill the service columns.
        let measured = Filter::parse(r#"downtime_ms != """#, Source::Trials).unwrap();
        assert!(measured.admits("0.0") && measured.admits("1492.2"));
        assert!(!measured.admits("") && !measured.admits(" "));
        assert_eq!(measured.to_string(), r#"downtime_ms != """#);
        let unmeasured = Filter::parse(r#"healthy_before == """#, Source::Trials).unwrap();
        assert!(unmeasured.admits("") && !unmeasured.admits("true"));
        assert!(e(r#"downtime_ms != "" x"#).contains("one word"));
    }

    #[test]
    fn cells_are_judged_and_unknowns_never_hold() {
        let e = Expect::parse("residue_files <= 2", Source::Trials).unwrap();
        assert_eq!(e.judge("0"), CellEvidence::Holds);
        assert_eq!(e.judge("2.0"), CellEvidence::Holds);
        assert_eq!(e.judge("3"), CellEvidence::Violates);
        assert!(matches!(e.judge(""), CellEvidence::Unknown(_)));
        assert!(matches!(e.judge("unknown"), CellEvidence::Unknown(_)));
        assert!(matches!(e.judge("NaN"), CellEvidence::Unknown(_)));
        let w = Expect::parse("recovered == true", Source::Trials).unwrap();
        assert_eq!(w.judge("true"), CellEvidence::Holds);
        assert_eq!(w.judge("false"), CellEvidence::Violates);
        assert!(matches!(w.judge("unknown"), CellEvidence::Unknown(_)));
        let n = Expect::parse("state_after_crash != inconsistent", Source::Crashpoints).unwrap();
        assert_eq!(n.judge("old"), CellEvidence::Holds);
        assert_eq!(n.judge("inconsistent"), CellEvidence::Violates);
        for (op, want) in [
            ("==", [false, true, false]),
            ("!=", [true, false, true]),
            ("<", [true, false, false]),
            ("<=", [true, true, false]),
            (">", [false, false, true]),
            (">=", [false, true, true]),
        ] {
            let e = Expect::parse(&format!("garbage_paths {op} 5"), Source::Trials).unwrap();
            let got: Vec<bool> = ["4", "5", "6"]
                .iter()
                .map(|c| e.judge(c) == CellEvidence::Holds)
                .collect();
            assert_eq!(got, want, "{op}");
        }
    }
}
