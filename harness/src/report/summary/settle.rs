//! When the study may stop repeating a (scenario, approach): its rows'
//! verdicts decided and its key figures' intervals narrow.

use std::collections::BTreeSet;

use super::{cell, median_figure, CellStatus, ClaimId, Figure, Inputs, Unit};
use crate::checker::Outcome;
use crate::export::TrialRecord;

/// Whether one (scenario, approach)'s rows have settled, for the study's
/// adaptive repetitions: no row errored, every claim they test is decided,
/// and each key figure's 95% interval is narrow (a count within
/// max(1, 25% of the median), a time within max(250 ms, 50%)). A cell no
/// claim judges (an upgrade) settles on its outcome, `recovered` and
/// recovery time instead. `Err` says why it has not.
pub fn settled(records: &[TrialRecord]) -> std::result::Result<(), String> {
    let Some(a) = records.first().map(|r| r.approach) else {
        return Err("no rows".into());
    };
    if let Some(r) = records.iter().find(|r| r.outcome == Outcome::Errored) {
        return Err(format!("rep {} errored", r.rep));
    }
    let inputs = Inputs::of(records, &[]);
    let mut judged_any = false;
    for claim in ClaimId::ALL {
        let c = cell(claim, a, records, &[], &inputs);
        if c.status == CellStatus::NotApplicable {
            continue;
        }
        judged_any = true;
        if c.status == CellStatus::Unknown {
            return Err(format!("{}: undecided", claim.short()));
        }
        if let Some(f) = c.figure {
            narrow(&f).map_err(|why| format!("{}: {why}", claim.short()))?;
        }
    }
    if judged_any {
        return Ok(());
    }
    let same = |f: &dyn Fn(&TrialRecord) -> String| {
        records.iter().map(f).collect::<BTreeSet<_>>().len() == 1
    };
    if !same(&|r| r.outcome.as_str().to_string()) {
        return Err("outcomes differ".into());
    }
    if !same(&|r| r.recovered.as_str().to_string()) {
        return Err("`recovered` differs".into());
    }
    let times: Vec<f64> = records.iter().filter_map(|r| r.recovery_ms).collect();
    match median_figure(times, Unit::Ms) {
        Some(f) => narrow(&f).map_err(|why| format!("recovery time: {why}")),
        None => Ok(()),
    }
}

fn narrow(f: &Figure) -> std::result::Result<(), String> {
    let Some((lo, hi)) = f.ci else { return Ok(()) };
    let width = hi - lo;
    let bound = match f.unit {
        Unit::Count => (0.25 * f.value).max(1.0),
        Unit::Ms => (0.5 * f.value).max(250.0),
        Unit::Share => return Ok(()),
    };
    if width <= bound {
        Ok(())
    } else {
        Err(format!(
            "interval {lo:.0}–{hi:.0} wider than {bound:.0} (n={})",
            f.n
        ))
    }
}
