//! The report's side for explore runs: reads crashpoints.csv (and
//! points.json for how many points each dry run found), adds up each
//! approach's crash points, and writes their table and outcome strip.

use std::collections::BTreeMap;
use std::path::Path;

use super::plots::{self, StripCell, StripRow};
use super::{approach_rank, fmt_count, fmt_ms, Block, Tally};
use crate::error::{Error, Result};
use crate::explore::points::{family_of, family_rank};
use crate::explore::points_file;
use crate::explore::state::State;
use crate::explore::CrashPointRecord;
use crate::export::ApproachKind;
use crate::stats::{self, Summary, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};

/// A record's family; rows from before families had none, so their syscall names it.
pub fn record_family(r: &CrashPointRecord) -> &str {
    if r.family.is_empty() {
        family_of(&r.syscall)
    } else {
        &r.family
    }
}

/// What an explore folder holds, as far as the report uses it.
#[derive(Debug, Clone, Default)]
pub struct CrashData {
    pub records: Vec<CrashPointRecord>,
    /// (scenario, approach) → crash points its dry run found (points.json).
    pub found: BTreeMap<(String, String), usize>,
    /// (scenario, approach) → syscall family → points found (points.json).
    pub found_by_family: BTreeMap<(String, String), BTreeMap<String, usize>>,
    /// (scenario, approach) → exit code of the undisturbed (traced) operation.
    pub dry_exit: BTreeMap<(String, String), i64>,
    /// (scenario, approach) → points the second dry run did not reproduce
    /// (never sampled).
    pub unsteady: BTreeMap<(String, String), usize>,
    pub points_json: bool,
    /// Lines of crashpoints.jsonl, when present.
    pub jsonl_lines: Option<usize>,
}

impl CrashData {
    /// Reads `dir/crashpoints.csv` (required) and, when present,
    /// points.json and crashpoints.jsonl (only counted: the table needs no history).
    pub fn load(dir: &Path) -> Result<CrashData> {
        let csv_path = dir.join("crashpoints.csv");
        let records: Vec<CrashPointRecord> = super::read_rows(&csv_path)?;
        let mut data = CrashData {
            records,
            ..Default::default()
        };
        let only_scenario = {
            let mut names: Vec<&str> = data.records.iter().map(|r| r.scenario.as_str()).collect();
            names.dedup();
            (names.len() == 1).then(|| names[0].to_string())
        };
        let entries = points_file::read_if_present(dir).map_err(|e| match e {
            Error::Usage(m) => Error::Usage(format!("report: {m}")),
            e => e,
        })?;
        if let Some(entries) = entries {
            for e in &entries {
                // Explore crashes one scenario; older files may not name it.
                let scenario = e
                    .scenario()
                    .map(str::to_string)
                    .or_else(|| only_scenario.clone())
                    .unwrap_or_default();
                let key = (scenario, e.approach.to_string());
                data.found.insert(key.clone(), e.points.len());
                data.unsteady
                    .insert(key.clone(), e.points.iter().filter(|p| p.unsteady).count());
                let mut families = BTreeMap::new();
                for p in &e.points {
                    // Files from before families name only the syscall.
                    let family = match p.family.as_str() {
                        "" => family_of(&p.syscall).to_string(),
                        f => f.to_string(),
                    };
                    *families.entry(family).or_insert(0) += 1;
                }
                data.found_by_family.insert(key.clone(), families);
                if let Some(exit) = e.dry_exit() {
                    data.dry_exit.insert(key, exit);
                }
            }
            data.points_json = true;
        }
        let jsonl = dir.join("crashpoints.jsonl");
        if jsonl.is_file() {
            let text = std::fs::read_to_string(&jsonl)
                .map_err(|e| Error::io(format!("reading {}", jsonl.display()), e))?;
            data.jsonl_lines = Some(text.lines().filter(|l| !l.trim().is_empty()).count());
        }
        Ok(data)
    }

    pub fn scenarios(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.records {
            if !out.contains(&r.scenario.as_str()) {
                out.push(&r.scenario);
            }
        }
        out
    }

    pub fn in_scenario(&self, scenario: &str) -> Vec<&CrashPointRecord> {
        self.records
            .iter()
            .filter(|r| r.scenario == scenario)
            .collect()
    }
}

/// One approach's explored crash points. The state percentages count only
/// points whose kill fired: a point the crash run never reached left the
/// operation undisturbed, so it says nothing about interruption.
#[derive(Debug, Clone)]
pub struct CrashStats<'a> {
    pub approach: ApproachKind,
    pub all: Vec<&'a CrashPointRecord>,
    pub fired: Vec<&'a CrashPointRecord>,
    pub not_fired: Vec<&'a CrashPointRecord>,
    pub errored: Vec<&'a CrashPointRecord>,
    /// Fired, but the kill hit another operation than the dry run's
    /// (`mismatch`): not attributed to the point, counted apart.
    pub mismatched: Vec<&'a CrashPointRecord>,
    /// old, new, inconsistent, unjudged among `fired`.
    pub states: [usize; 4],
    pub recovered: Tally,
    pub playbook_ran: usize,
    pub recovery_ms: Option<Summary>,
    pub recovery_ci: Option<(f64, f64)>,
    pub residue_files: Option<Summary>,
    pub found: Option<usize>,
    /// Found points the explored ones stand for through their classes
    /// (each distinct class's size once); `None` for rows without classes.
    pub represented: Option<usize>,
    /// Points found per syscall family (points.json).
    pub found_by_family: Option<BTreeMap<String, usize>>,
    pub dry_exit: Option<i64>,
    /// Found points a second dry run did not reproduce (points.json).
    pub unsteady: usize,
}

fn state_slot(s: Option<State>) -> usize {
    match s {
        Some(State::Old) => 0,
        Some(State::New) => 1,
        Some(State::Inconsistent) => 2,
        None => 3,
    }
}

impl<'a> CrashStats<'a> {
    pub fn of(
        approach: ApproachKind,
        all: Vec<&'a CrashPointRecord>,
        found: Option<usize>,
        dry_exit: Option<i64>,
    ) -> CrashStats<'a> {
        let errored: Vec<&CrashPointRecord> = all
            .iter()
            .copied()
            .filter(|r| !r.error.is_empty())
            .collect();
        let fired: Vec<&CrashPointRecord> = all
            .iter()
            .copied()
            .filter(|r| r.error.is_empty() && r.fired && r.mismatch.is_empty())
            .collect();
        let mismatched: Vec<&CrashPointRecord> = all
            .iter()
            .copied()
            .filter(|r| r.error.is_empty() && r.fired && !r.mismatch.is_empty())
            .collect();
        let not_fired: Vec<&CrashPointRecord> = all
            .iter()
            .copied()
            .filter(|r| r.error.is_empty() && !r.fired)
            .collect();
        let mut states = [0; 4];
        for r in &fired {
            states[state_slot(r.state_after_crash)] += 1;
        }
        let recovery: Vec<f64> = fired
            .iter()
            .filter(|r| r.playbook_ran)
            .filter_map(|r| r.recovery_ms)
            .collect();
        let residue: Vec<f64> = fired
            .iter()
            .filter_map(|r| r.residue_files.map(|v| v as f64))
            .collect();
        CrashStats {
            approach,
            states,
            recovered: Tally::of(fired.iter().map(|r| r.recovered)),
            playbook_ran: fired.iter().filter(|r| r.playbook_ran).count(),
            recovery_ms: Summary::of(&recovery),
            recovery_ci: stats::bootstrap_median_ci(
                &recovery,
                BOOTSTRAP_SEED,
                BOOTSTRAP_RESAMPLES,
                0.95,
            ),
            residue_files: Summary::of(&residue),
            found,
            represented: represented(&all),
            found_by_family: None,
            dry_exit,
            unsteady: 0,
            all,
            fired,
            not_fired,
            errored,
            mismatched,
        }
    }

    /// "old 2, new 1" for the points whose kill never fired.
    pub fn not_fired_states(&self) -> String {
        let mut counts = [0; 4];
        for r in &self.not_fired {
            counts[state_slot(r.state_after_crash)] += 1;
        }
        let parts: Vec<String> = ["old", "new", "inconsistent", "unjudged"]
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        parts.join(", ")
    }

    /// Explored points of one family.
    pub fn explored_in(&self, family: &str) -> usize {
        self.all
            .iter()
            .filter(|r| record_family(r) == family)
            .count()
    }

    /// "all 12 found", "8 of 1432 found (seeded sample)", or with classes
    /// "49 of 4109 found, representing all 4109 by class".
    pub fn explored_of_found(&self) -> String {
        match (self.found, self.represented) {
            (Some(m), Some(r)) if self.all.len() < m => {
                let r = if r >= m {
                    format!("all {m}")
                } else {
                    format!("{r} of them")
                };
                format!("{} of {m} found, representing {r} by class", self.all.len())
            }
            _ => explored_of_found(self.all.len(), self.found),
        }
    }
}

/// Each distinct class's size once; `None` when a row has no class.
fn represented(rows: &[&CrashPointRecord]) -> Option<usize> {
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        classes.insert(r.class.as_str(), r.class_points?);
    }
    (!classes.is_empty()).then(|| classes.values().sum())
}

/// "all 12 found", "8 of 1432 found (seeded sample)", or without points.json
/// only what was explored.
pub fn explored_of_found(explored: usize, found: Option<usize>) -> String {
    match found {
        Some(m) if explored >= m => format!("all {m} found"),
        Some(m) => format!("{explored} of {m} found (seeded sample)"),
        None => format!("{explored} (points found unknown)"),
    }
}

/// Crash points grouped by approach, in the report's approach order.
pub fn by_approach<'a>(
    records: impl IntoIterator<Item = &'a CrashPointRecord>,
    data: &CrashData,
) -> Vec<CrashStats<'a>> {
    let mut groups: BTreeMap<(usize, ApproachKind), Vec<&CrashPointRecord>> = BTreeMap::new();
    let mut scenario = None;
    for r in records {
        scenario.get_or_insert_with(|| r.scenario.clone());
        groups.entry(approach_rank(r.approach)).or_default().push(r);
    }
    let scenario = scenario.unwrap_or_default();
    groups
        .into_iter()
        .map(|((_, a), rs)| {
            let key = (scenario.clone(), a.to_string());
            let mut g = CrashStats::of(
                a,
                rs,
                data.found.get(&key).copied(),
                data.dry_exit.get(&key).copied(),
            );
            g.found_by_family = data.found_by_family.get(&key).cloned();
            g.unsteady = data.unsteady.get(&key).copied().unwrap_or(0);
            g
        })
        .collect()
}

/// "50% (2/4)"; "—" with nothing to count.
pub fn frac(k: usize, n: usize) -> String {
    if n == 0 {
        "—".into()
    } else {
        format!("{:.0}% ({k}/{n})", 100.0 * k as f64 / n as f64)
    }
}

/// The crash-point part of one scenario: a table per approach, notes, the strip.
pub fn scenario_blocks(doc: &mut Vec<Block>, scenario: &str, data: &CrashData, with_heading: bool) {
    let records = data.in_scenario(scenario);
    let groups = by_approach(records.iter().copied(), data);
    if with_heading {
        doc.push(Block::Heading(format!("Scenario `{scenario}`")));
    }
    doc.push(Block::Subheading("Crash points (explore)".into()));
    doc.push(Block::Para(format!(
        "Crash points explored, from crashpoints.csv: {}. A crash point is a call that changed state in the traced dry run \
         (a file created or truncated, bytes written to a regular file, a rename, unlink, link, mkdir, metadata change or sync; \
         reads and failed calls are not points); a point is an operation: the k-th call of a syscall on one file (or two: a rename's) by one \
         process, the paths with what changes between runs masked (`*` for random names and hashes, `#` for numbers outside versions). \
         Each explored one was crashed (SIGKILL to the process that made the call, at its k-th call of that syscall on that file, all \
         its calls on the file counted; in a worker's tree too only processes of that name are killed, by the injector attached to the \
         worker; rows without an operation come from older runs, where k counted all the process's calls of the syscall) in a fresh container; \
         the state after it is `old` (visible files and packages identical to before, checks passing), `new` (identical to the dry run's \
         clean result) or `inconsistent` (anything else, or a failing check). Percentages count the points whose kill fired.",
        groups.iter().map(|g| format!("{} {}", g.approach, g.explored_of_found())).collect::<Vec<_>>().join(", ")
    )));

    let mut head = vec!["metric".to_string()];
    head.extend(groups.iter().map(|g| g.approach.to_string()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&CrashStats) -> String| {
        let mut r = vec![label.to_string()];
        r.extend(groups.iter().map(f));
        rows.push(r);
    };
    let dash = || "—".to_string();
    row("crash points found (dry run)", &|g| match g.found {
        Some(n) => n.to_string(),
        None if data.points_json => "— (not in points.json)".into(),
        None => "— (no points.json)".into(),
    });
    if groups.iter().any(|g| g.unsteady > 0) {
        row(
            "unsteady points (a second dry run differed; not sampled)",
            &|g| g.unsteady.to_string(),
        );
    }
    row("undisturbed operation (dry run) exit code", &|g| {
        g.dry_exit.map(|c| c.to_string()).unwrap_or_else(dash)
    });
    row("points explored", &|g| g.explored_of_found());
    // Per syscall family, every family any approach has points in.
    let mut families: Vec<String> = Vec::new();
    for g in &groups {
        let found = g.found_by_family.iter().flat_map(|m| m.keys().cloned());
        let explored = g.all.iter().map(|r| record_family(r).to_string());
        for f in found.chain(explored) {
            if !families.contains(&f) {
                families.push(f);
            }
        }
    }
    families.sort_by_key(|f| (family_rank(f), f.clone()));
    for f in &families {
        row(&format!("`{f}` points: explored / found"), &|g| {
            let found = g
                .found_by_family
                .as_ref()
                .map(|m| m.get(f).copied().unwrap_or(0));
            let explored = g.explored_in(f);
            match found {
                Some(m) => format!("{explored} / {m}"),
                None => format!("{explored} / —"),
            }
        });
    }
    row("kill fired / never fired / errored", &|g| {
        format!(
            "{} / {} / {}",
            g.fired.len(),
            g.not_fired.len(),
            g.errored.len()
        )
    });
    if groups.iter().any(|g| !g.mismatched.is_empty()) {
        row("kill hit another operation (unknown)", &|g| {
            g.mismatched.len().to_string()
        });
    }
    row("old after the crash", &|g| frac(g.states[0], g.fired.len()));
    row("new after the crash", &|g| frac(g.states[1], g.fired.len()));
    row("inconsistent after the crash", &|g| {
        frac(g.states[2], g.fired.len())
    });
    row("residue files after the crash, median / max", &|g| {
        g.residue_files
            .map(|s| format!("{} / {}", fmt_count(s.median), fmt_count(s.max)))
            .unwrap_or_else(dash)
    });
    row("playbook ran", &|g| {
        format!("{}/{}", g.playbook_ran, g.fired.len())
    });
    row("recovered (old or new at the end)", &|g| {
        g.recovered.percent()
    });
    row(
        "recovery time, median [95% CI]",
        &|g| match (g.recovery_ms, g.recovery_ci) {
            (Some(s), Some((lo, hi))) => format!(
                "{} [{} – {}] {}",
                fmt_ms(s.median),
                fmt_ms(lo),
                fmt_ms(hi),
                stats::sample_label(s.n)
            ),
            _ => "— (no playbook ran)".into(),
        },
    );
    row("kill never fired (state)", &|g| {
        if g.not_fired.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", g.not_fired.len(), g.not_fired_states())
        }
    });
    row("point wall time, median", &|g| {
        let walls: Vec<f64> = g
            .all
            .iter()
            .filter(|r| r.error.is_empty())
            .map(|r| r.point_wall_ms)
            .collect();
        stats::median(&walls).map(fmt_ms).unwrap_or_else(dash)
    });
    doc.push(Block::Table { head, rows });

    let sampled: Vec<String> = groups
        .iter()
        .filter(|g| g.found.is_some_and(|m| g.all.len() < m))
        .map(|g| g.approach.to_string())
        .collect();
    let mut notes = Vec::new();
    let by_class: Vec<String> = groups
        .iter()
        .filter(|g| g.found.is_some_and(|m| g.all.len() < m) && g.represented.is_some())
        .map(|g| g.approach.to_string())
        .collect();
    if !by_class.is_empty() {
        notes.push(format!(
            "Pruned, not exhaustive, for {}: the dry run's points were grouped into classes (one process's changes of one \
             syscall family in one region of the file system, e.g. dpkg writing one package's folder) and a seeded sample \
             of each class was crashed; \"representing\" counts the points of the classes explored. A class is a claim of \
             similarity: points of one class were not each crashed, and may differ.",
            by_class.join(", ")
        ));
    }
    let sampled: Vec<String> = sampled
        .into_iter()
        .filter(|a| !by_class.contains(a))
        .collect();
    if !sampled.is_empty() {
        notes.push(format!(
            "Sampled, not exhaustive, for {}: --max-points chose a seeded sample per syscall family (each family with points \
             gets a share, within it the first point, then one point per file in the order of a hash of the seed and the file, then further calls on a file by a hash of their operation); \
             the other points found were not crashed.",
            sampled.join(", ")
        ));
    }
    notes.push(
        "Recovery time is the approach's playbook, timed inside the container; it runs only after an inconsistent crash \
         (old and new states need none), so its median is over those points alone."
            .to_string(),
    );
    let small: Vec<String> = groups
        .iter()
        .filter(|g| g.fired.len() < stats::SMALL_SAMPLE)
        .map(|g| format!("{} ({})", g.approach, g.fired.len()))
        .collect();
    if !small.is_empty() {
        notes.push(format!(
            "Small samples: fewer than {} fired crash points for {}; the percentages are counts, not estimates of a rate.",
            stats::SMALL_SAMPLE,
            small.join(", ")
        ));
    }
    for g in &groups {
        if g.dry_exit.is_some_and(|c| c != 0) {
            notes.push(format!(
                "{}'s undisturbed operation did not succeed in the dry run (exit {}): no crash can leave it `new`.",
                g.approach,
                g.dry_exit.unwrap_or_default()
            ));
        }
    }
    let errored: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.errored
                .iter()
                .map(|r| format!("{} {}: {}", g.approach, r.fault, r.error))
        })
        .collect();
    if errored.is_empty() {
        notes.push("No crash point errored: every row above is data.".into());
    } else {
        notes.push(format!(
            "{} errored crash points are excluded from every metric above ({}).",
            errored.len(),
            errored.join("; ")
        ));
    }
    doc.push(Block::List(notes));

    let strip: Vec<StripRow> = groups
        .iter()
        .map(|g| StripRow {
            approach: g.approach.to_string(),
            found: g.found,
            cells: g
                .all
                .iter()
                .map(|r| {
                    let cell = if !r.error.is_empty() {
                        StripCell::Errored
                    } else if !r.fired {
                        StripCell::NotFired
                    } else {
                        match r.state_after_crash {
                            Some(State::Old) => StripCell::Old,
                            Some(State::New) => StripCell::New,
                            Some(State::Inconsistent) => StripCell::Inconsistent,
                            None => StripCell::Errored,
                        }
                    };
                    (r.index, cell)
                })
                .collect(),
        })
        .collect();
    doc.push(Block::Figures(vec![plots::crash_point_strip(&strip)]));
    doc.push(Block::Subheading("Each point explored".into()));
    doc.push(Block::Table {
        head: [
            "approach",
            "#",
            "process",
            "operation",
            "after the crash",
            "after recovery",
        ]
        .map(String::from)
        .to_vec(),
        rows: groups
            .iter()
            .flat_map(|g| g.all.iter().map(|r| point_row(r)))
            .collect(),
    });
}

/// One explored point: who, which operation (syscall and paths), and the
/// states it left.
fn point_row(r: &CrashPointRecord) -> Vec<String> {
    let state = |s: Option<State>| s.map(|s| s.to_string()).unwrap_or_else(|| "—".into());
    let operation = if r.operation.is_empty() {
        format!("{} (call {} of the process)", r.syscall, r.point)
    } else {
        format!("`{}`", r.operation)
    };
    let (after, end) = if !r.error.is_empty() {
        (format!("errored: {}", r.error), "—".into())
    } else if !r.mismatch.is_empty() {
        (format!("unknown: {}", r.mismatch), "—".into())
    } else if !r.fired {
        (
            format!("{} (kill never fired)", state(r.state_after_crash)),
            state(r.state_after_recovery),
        )
    } else {
        (state(r.state_after_crash), state(r.state_after_recovery))
    };
    vec![
        r.approach.to_string(),
        r.index.to_string(),
        r.process.clone(),
        operation,
        after,
        end,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::TriBool;

    pub(crate) fn point(
        approach: &str,
        index: usize,
        fired: bool,
        state: Option<State>,
        recovery_ms: f64,
        error: &str,
    ) -> CrashPointRecord {
        let inconsistent = state == Some(State::Inconsistent);
        CrashPointRecord {
            scenario: "kill-during-install".into(),
            approach: approach.parse().unwrap(),
            fault: format!("syscall:rename#{}:KILL", index + 1).into(),
            family: "rename".into(),
            syscall: "rename".into(),
            point: index as u64 + 1,
            index,
            process: "dpkg".into(),
            class: String::new(),
            class_points: None,
            engine: String::new(),
            operation: String::new(),
            hit: String::new(),
            mismatch: String::new(),
            fired,
            state_after_crash: state,
            consistent: TriBool::from(!inconsistent),
            residue_files: Some(if inconsistent { 12 } else { 0 }),
            residue_packages: Some(0),
            garbage_paths: Some(0),
            playbook_ran: inconsistent,
            recovered: TriBool::True,
            state_after_recovery: state.map(|_| State::Old),
            recovery_ms: Some(recovery_ms),
            final_residue_files: Some(0),
            point_wall_ms: 2000.0,
            error: error.into(),
        }
    }

    #[test]
    fn states_count_fired_points_only_and_errors_are_apart() {
        let rs = [
            point("apt", 0, true, Some(State::Old), 0.0, ""),
            point("apt", 3, true, Some(State::Inconsistent), 800.0, ""),
            point("apt", 7, false, Some(State::New), 0.0, ""),
            point("apt", 9, false, None, 0.0, "docker went away"),
        ];
        let data = CrashData {
            found: [(("kill-during-install".into(), "apt".into()), 12)].into(),
            ..Default::default()
        };
        let g = &by_approach(rs.iter(), &data)[0];
        assert_eq!(
            (g.fired.len(), g.not_fired.len(), g.errored.len()),
            (2, 1, 1)
        );
        assert_eq!(g.states, [1, 0, 1, 0]);
        assert_eq!(g.found, Some(12));
        assert_eq!(
            g.recovery_ms.unwrap().median,
            800.0,
            "only points whose playbook ran"
        );
        assert_eq!(g.not_fired_states(), "new 1");
        assert_eq!(frac(1, 2), "50% (1/2)");
        assert_eq!(frac(0, 0), "—");
    }

    #[test]
    fn classes_count_each_class_once_toward_the_points_represented() {
        let with_class = |i: usize, class: &str, size: usize| {
            let mut r = point("apt", i, true, Some(State::Old), 0.0, "");
            r.class = class.into();
            r.class_points = Some(size);
            r
        };
        let data = CrashData {
            found: [(("kill-during-install".into(), "apt".into()), 40)].into(),
            ..Default::default()
        };
        // Two picks of one class of 30, one of a class of 10.
        let rs = [
            with_class(0, "dpkg rename /usr/share/a", 30),
            with_class(5, "dpkg rename /usr/share/a", 30),
            with_class(31, "dpkg write /var/lib/dpkg", 10),
        ];
        let g = &by_approach(rs.iter(), &data)[0];
        assert_eq!(g.represented, Some(40));
        assert_eq!(
            g.explored_of_found(),
            "3 of 40 found, representing all 40 by class"
        );
        let g = &by_approach(rs[..2].iter(), &data)[0];
        assert_eq!(
            g.explored_of_found(),
            "2 of 40 found, representing 30 of them by class"
        );
        // Rows from before classes: no claim of representation.
        let old = [point("apt", 0, true, Some(State::Old), 0.0, "")];
        let g = &by_approach(old.iter(), &data)[0];
        assert_eq!(g.represented, None);
        assert_eq!(g.explored_of_found(), "1 of 40 found (seeded sample)");
    }

    #[test]
    fn reads_a_folder_with_points_json() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = csv::Writer::from_path(dir.path().join("crashpoints.csv")).unwrap();
        w.serialize(point("nix", 0, true, Some(State::Old), 0.0, ""))
            .unwrap();
        w.serialize(point("nix", 2, false, None, 0.0, "boom"))
            .unwrap();
        w.flush().unwrap();
        // The oldest files: approach, points (without `family`) and the dry run.
        let nix = crate::approach::kind("nix");
        let dry = crate::history::History::new("kill-during-install", nix, "none", 0, 0);
        let mut dry = serde_json::to_value(dry).unwrap();
        dry["steps"] = serde_json::json!([{"phase": "operation", "command": "nix-env -i app",
            "exit_code": 0, "ms": 1.0, "stdout_tail": "", "stderr_tail": ""}]);
        let point = |index, syscall: &str, family: &str| serde_json::json!({"index": index, "syscall": syscall, "family": family, "k": 1, "process": "nix"});
        let entry = serde_json::json!([{
            "approach": "nix",
            "points": [point(0, "rename", "rename"), point(1, "write", "write"), point(2, "renameat", "")],
            "dry_run": dry,
        }]);
        std::fs::write(dir.path().join("points.json"), entry.to_string()).unwrap();
        let d = CrashData::load(dir.path()).unwrap();
        assert_eq!(d.records.len(), 2);
        assert_eq!(d.records[1].state_after_crash, None);
        assert_eq!(
            d.found[&("kill-during-install".to_string(), "nix".to_string())],
            3
        );
        assert_eq!(
            d.dry_exit[&("kill-during-install".to_string(), "nix".to_string())],
            0
        );
        let mut doc = Vec::new();
        scenario_blocks(&mut doc, "kill-during-install", &d, true);
        let md = super::super::markdown::render(&doc);
        assert!(md.contains("| crash points found (dry run) | 3 |"), "{md}");
        // Never a sample presented as exhaustive; per family, an older point without `family` by its syscall.
        assert!(
            md.contains("| points explored | 2 of 3 found (seeded sample) |"),
            "{md}"
        );
        assert!(md.contains("nix 2 of 3 found (seeded sample)"), "{md}");
        assert!(
            md.contains("| `write` points: explored / found | 0 / 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| `rename` points: explored / found | 2 / 2 |"),
            "{md}"
        );
        assert!(
            md.find("`write` points").unwrap() < md.find("`rename` points").unwrap(),
            "family order: {md}"
        );
        assert!(md.contains("Sampled, not exhaustive, for nix"), "{md}");
        assert!(
            md.contains("| kill fired / never fired / errored | 1 / 0 / 1 |"),
            "{md}"
        );
        assert!(md.contains("| old after the crash | 100% (1/1) |"), "{md}");
        assert!(md.contains("nix syscall:rename#3:KILL: boom"), "{md}");
        assert!(md.contains("Small samples"), "{md}");

        std::fs::write(dir.path().join("points.json"), "{").unwrap();
        let err = CrashData::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("garbled points.json"), "{err}");
    }
}
