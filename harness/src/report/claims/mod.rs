//! Answers to the claims of the design notes, computed from the trials (and
//! an explore run's crash points): one sentence per claim with the numbers
//! behind it, plus the measured caveats. A claim the run has no data for is
//! said to be not covered. Whether a claim holds for an approach is not
//! decided here: `verify::builtin` states each claim as guarantees and
//! `verify` judges them, exactly as it judges a scenario's own; this file
//! words the verdicts and adds the numbers.

use std::collections::BTreeSet;

use super::{by_approach, fmt_count, fmt_ms, ApproachStats, Trial};
use crate::checker::Outcome;
use crate::explore::CrashPointRecord;
use crate::export::TriBool;
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::rows::Table;
use crate::verify::{Input, Verdict};

mod fleet;
mod interrupted;
mod isolation;
mod service;
mod try_again;
use interrupted::interrupted_with_points;

/// Records as the results file they come from, for `verify`'s judge.
fn as_input<R: serde::Serialize>(file: &str, records: &[R]) -> Input {
    match Table::from_records(std::path::Path::new(file), records) {
        Ok(t) => Input::Table(t),
        Err(e) => Input::Missing(e.to_string()),
    }
}

/// An approach whose verdict is unknown: what left it undecided.
fn undecided_clause(a: &str, judgements: &[crate::verify::Judgement]) -> String {
    let why: Vec<String> = judgements
        .iter()
        .filter(|j| j.verdict == Verdict::Unknown)
        .map(|j| format!("`{}`: {}", j.guarantee.expect, j.evidence_summary(2)))
        .collect();
    format!("{a}: {}", why.join("; "))
}

/// The claims under test, as the design notes word them.
pub const ATOMICITY: &str = "A failed install leaves the system unchanged (atomicity).";
pub const INTERRUPTED: &str =
    "An operation interrupted at any instant leaves the old state or the new, never a mix.";
pub const ROLLBACK: &str = "Rollback is one command and instant.";
pub const BAD_CONFIG: &str = "A bad configuration is undone in seconds.";
pub const ISOLATION: &str = "Project shells do not touch the global system (isolation).";
pub const TRY_AGAIN: &str =
    "\"Just try again\": after a failure, an alternative installs without cleanup.";
pub const FLEET: &str = "A fleet rolls back in seconds.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Holds,
    Contradicted,
    /// Holds for some approaches, not for others.
    Mixed,
    NotCovered,
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub claim: &'static str,
    /// What part of the data the answer is about, when the claim is
    /// answered in parts (a bad configuration: per service).
    pub scope: Option<String>,
    pub status: Status,
    /// Short verdict: "holds", "contradicted", "holds only for nix", "not covered by this run".
    pub verdict: String,
    /// The answer, one sentence with its numbers.
    pub sentence: String,
    /// Caveats and related measured facts, one sentence each.
    pub facts: Vec<String>,
}

impl Answer {
    /// The claim, and the part it is about: "A bad configuration is undone
    /// in seconds: sshd".
    pub fn title(&self) -> String {
        match &self.scope {
            Some(s) => format!("{}: {s}", self.claim.trim_end_matches('.')),
            None => self.claim.to_string(),
        }
    }
}

/// `points`: an explore run's crash points (empty for a plain run).
pub fn answer_all(trials: &[Trial], points: &[CrashPointRecord]) -> Vec<Answer> {
    let mut out = vec![
        atomicity(trials),
        interrupted_with_points(trials, points),
        service::rollback(trials),
    ];
    out.extend(service::bad_config(trials));
    out.extend([try_again::try_again(trials), isolation::isolation(trials)]);
    out.push(fleet::fleet(trials));
    out
}

fn not_covered(claim: &'static str, why: &str) -> Answer {
    Answer {
        claim,
        scope: None,
        status: Status::NotCovered,
        verdict: "not covered by this run".into(),
        sentence: format!("Not covered by this run: {why}"),
        facts: Vec::new(),
    }
}

/// "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A summary's median as a count, or `?` without data.
fn median_text(s: Option<stats::Summary>) -> String {
    s.map(|s| fmt_count(s.median)).unwrap_or_else(|| "?".into())
}

/// The checks that judged the state invalid, with counts: "`dpkg --audit` failed in 5/5".
fn failed_checks(g: &ApproachStats) -> Option<String> {
    let n = g.data.len();
    if g.checks_failed.is_empty() {
        return (g.consistent.no > 0)
            .then(|| format!("its own checks failed in {}/{n}", g.consistent.no));
    }
    let parts: Vec<String> = g
        .checks_failed
        .iter()
        .map(|(c, k)| format!("`{c}` failed in {k}/{n}"))
        .collect();
    Some(and_list(&parts))
}

fn checks_named(g: &ApproachStats) -> String {
    if g.checks_run.is_empty() {
        "its checks".into()
    } else {
        and_list(
            &g.checks_run
                .keys()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>(),
        )
    }
}

/// Whether one approach's failed operations left the system unchanged:
/// no visible residue, no package change, and no check judged it broken.
fn unchanged(g: &ApproachStats) -> usize {
    g.data
        .iter()
        .filter(|t| {
            t.record.residue_files == Some(0)
                && t.record.residue_packages == Some(0)
                && t.record.consistent != TriBool::False
        })
        .count()
}

fn atomicity(all: &[Trial]) -> Answer {
    // A configure trial's failed operation is a bad configuration, not a
    // failed install: its own claims answer it (`service`); a rollout's is
    // the fleet's (`fleet`).
    let installs: Vec<Trial> = all
        .iter()
        .filter(|t| !super::service::is_configure(t) && t.record.nodes.is_none())
        .cloned()
        .collect();
    if installs.is_empty() && !all.is_empty() {
        return not_covered(
            ATOMICITY,
            "its trials apply configurations to a service; none is an install.",
        );
    }
    let trials = &installs[..];
    let clean: Vec<&Trial> = trials.iter().filter(|t| t.record.fault == "none").collect();
    let failed: Vec<&Trial> = clean
        .iter()
        .copied()
        .filter(|t| t.record.outcome == Outcome::Failed)
        .collect();
    if trials.is_empty() {
        return not_covered(ATOMICITY, "it has no trials (crash points interrupt an install that would succeed; none is a failed install).");
    }
    if clean.is_empty() {
        return not_covered(
            ATOMICITY,
            "every trial in it ran with an injected fault; none is a plain failed install.",
        );
    }
    if failed.is_empty() {
        let ok = clean
            .iter()
            .filter(|t| t.record.outcome == Outcome::Succeeded)
            .count();
        let errored = clean.iter().filter(|t| t.errored()).count();
        return not_covered(
            ATOMICITY,
            &format!("no operation failed in this run's trials without an injected fault ({ok} succeeded, {errored} errored)."),
        );
    }
    let groups = by_approach(failed.iter().copied());
    let records: Vec<_> = trials.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let mut holds = Vec::new();
    let mut broken = Vec::new();
    let mut undecided = Vec::new();
    for g in &groups {
        let n = g.data.len();
        let u = unchanged(g);
        let (verdict, judgements) = Claim::Atomicity.judge(g.approach, &input);
        if verdict == Verdict::Unknown {
            undecided.push(undecided_clause(g.approach.as_str(), &judgements));
        } else if verdict == Verdict::Holds {
            let checks = if g.consistent.yes == n {
                format!(", with {} passing in {n}/{n}", checks_named(g))
            } else {
                String::new()
            };
            let garbage = match g.garbage {
                Some(s) if s.max > 0.0 => {
                    let gc = until_gc(g.approach.as_str());
                    format!(" (but {} garbage paths, median,{gc})", fmt_count(s.median))
                }
                _ => String::new(),
            };
            holds.push((
                g.approach.to_string(),
                format!("{} left 0 visible files and 0 changed packages in {n}/{n} failed installs{garbage}{checks}", g.approach),
            ));
        } else {
            let max = match g.residue_files {
                Some(s) if s.max > s.median => format!(" (max {})", fmt_count(s.max)),
                _ => String::new(),
            };
            let (files, packages) = (
                median_text(g.residue_files),
                median_text(g.residue_packages),
            );
            let mut clause = if u == 0 {
                format!(
                    "{} left {files} visible files{max} and {packages} changed packages in {n}/{n}",
                    g.approach
                )
            } else {
                format!("{} changed the system in {}/{n}, leaving {files} visible files{max} and {packages} changed packages", g.approach, n - u)
            };
            if let Some(c) = failed_checks(g) {
                clause.push_str(&format!(", and {c}"));
            } else if g.consistent.yes == n {
                clause.push_str(&format!(", although {} passed in {n}/{n}", checks_named(g)));
            }
            broken.push((g.approach.to_string(), clause));
        }
    }
    let clauses = |v: &[(String, String)]| {
        v.iter()
            .map(|(_, c)| c.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let names =
        |v: &[(String, String)]| and_list(&v.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>());
    if holds.is_empty() && broken.is_empty() {
        return not_covered(
            ATOMICITY,
            &format!("undecided for every approach: {}.", undecided.join("; ")),
        );
    }
    let (status, verdict, sentence) = if broken.is_empty() && undecided.is_empty() {
        (
            Status::Holds,
            "holds".to_string(),
            format!(
                "The data support the claim for every approach: {}.",
                clauses(&holds)
            ),
        )
    } else if holds.is_empty() && undecided.is_empty() {
        (
            Status::Contradicted,
            "contradicted".to_string(),
            format!("The data contradict the claim for every approach (medians over the failed installs): {}.", clauses(&broken)),
        )
    } else if broken.is_empty() {
        (
            Status::Mixed,
            format!("holds for {}, undecided for the rest", names(&holds)),
            format!(
                "The data support the claim for {}: {}.",
                names(&holds),
                clauses(&holds)
            ),
        )
    } else if holds.is_empty() {
        (
            Status::Mixed,
            format!(
                "contradicted for {}, undecided for the rest",
                names(&broken)
            ),
            format!(
                "The data contradict the claim for {} (medians over the failed installs): {}.",
                names(&broken),
                clauses(&broken)
            ),
        )
    } else {
        (
            Status::Mixed,
            format!("holds only for {}", names(&holds)),
            format!(
                "The claim holds only for {}: {}; the data contradict it for {} (medians over the failed installs): {}.",
                names(&holds),
                clauses(&holds),
                names(&broken),
                clauses(&broken)
            ),
        )
    };

    let mut facts = Vec::new();
    if !undecided.is_empty() {
        facts.push(format!(
            "Undecided (a row was unknown or errored, or none qualified): {}.",
            undecided.join("; ")
        ));
    }
    // Garbage, never hidden.
    let garbage: Vec<String> = groups
        .iter()
        .filter_map(|g| {
            let s = g.garbage?;
            let gc = until_gc(g.approach.as_str());
            let after = g
                .final_garbage
                .map(|f| format!(" ({} after the playbook)", fmt_count(f.median)))
                .unwrap_or_default();
            Some(format!("{} {}{gc}{after}", g.approach, fmt_count(s.median)))
        })
        .collect();
    if !garbage.is_empty() {
        facts.push(format!(
            "Garbage, counted apart from the visible residue (collectible paths, median per failed install): {}.",
            and_list(&garbage)
        ));
    }
    if let Some(f) = attempts_fact(&groups) {
        facts.push(f);
    }
    // Checks that passed on a changed system.
    for g in &groups {
        let n = g.data.len();
        let changed = n - unchanged(g);
        if changed > 0 && g.consistent.yes == n {
            let named = if g.checks_run.is_empty() {
                String::new()
            } else {
                format!(" ({})", checks_named(g))
            };
            facts.push(format!(
                "{}'s own checks{named} passed in {n}/{n} although it left {} visible files and {} changed packages (median): \
                 a passing check is not an unchanged system.",
                g.approach,
                median_text(g.residue_files),
                median_text(g.residue_packages)
            ));
        }
    }
    // Recovery.
    let recovery: Vec<String> = groups
        .iter()
        .map(|g| {
            let n = g.data.len();
            if g.playbook_ran == 0 {
                return format!(
                    "{} needed no playbook in {n}/{n} (nothing visible changed)",
                    g.approach
                );
            }
            let time = match (g.recovery_ms, g.recovery_ci) {
                (Some(s), Some((lo, hi))) => {
                    format!(
                        " in {} (median; 95% CI {} – {}, {})",
                        fmt_ms(s.median),
                        fmt_ms(lo),
                        fmt_ms(hi),
                        stats::sample_label(s.n).trim_matches(['(', ')'])
                    )
                }
                _ => String::new(),
            };
            let mut s = format!(
                "{}'s playbook ran in {}/{n}{time} and recovered {}/{n}",
                g.approach, g.playbook_ran, g.recovered.yes
            );
            let mut left: Vec<(&String, &usize)> = g.leftovers.iter().collect();
            left.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            if !left.is_empty() {
                let shown: Vec<String> = left
                    .iter()
                    .take(2)
                    .map(|(p, k)| format!("`{p}` in {k}/{n}"))
                    .collect();
                let more = if left.len() > 2 {
                    format!(" and {} more paths", left.len() - 2)
                } else {
                    String::new()
                };
                s.push_str(&format!(", leaving {}{more}", and_list(&shown)));
            } else if let Some(f) = g.final_files.filter(|f| f.max > 0.0) {
                s.push_str(&format!(
                    ", leaving {} visible files (median)",
                    fmt_count(f.median)
                ));
            }
            s
        })
        .collect();
    facts.push(format!("Recovery: {}.", recovery.join("; ")));
    // Time cost.
    let op: Vec<String> = groups
        .iter()
        .filter_map(|g| Some(format!("{} {}", g.approach, fmt_ms(g.operation_ms?.median))))
        .collect();
    if !op.is_empty() {
        facts.push(format!(
            "Time cost of the failing install itself (median, timed in the container): {}.",
            and_list(&op)
        ));
    }
    // What was left out.
    let errored = clean.iter().filter(|t| t.errored()).count();
    let succeeded = clean
        .iter()
        .filter(|t| t.record.outcome == Outcome::Succeeded)
        .count();
    let killed = clean
        .iter()
        .filter(|t| t.record.outcome == Outcome::Killed)
        .count();
    let scenarios: BTreeSet<&str> = failed.iter().map(|t| t.record.scenario.as_str()).collect();
    facts.push(format!(
        "Counted: {} trials whose operation failed with no injected fault (scenario {}); not counted: {errored} errored, {succeeded} whose install succeeded, {killed} killed.",
        failed.len(),
        and_list(&scenarios.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>())
    ));
    Answer {
        claim: ATOMICITY,
        scope: None,
        status,
        verdict,
        sentence,
        facts,
    }
}

/// Which mechanism decided: the same attempted side effects landed for some
/// approaches and were refused for others (as which uid, with which error).
fn attempts_fact(groups: &[ApproachStats]) -> Option<String> {
    let mut landed = Vec::new();
    let mut refused = Vec::new();
    let mut total = BTreeSet::new();
    for g in groups {
        let t = super::attempts::tally(g);
        total.extend(t.keys().cloned());
        let (l, r, n) = t.values().fold((0, 0, 0), |(l, r, n), a| {
            (l + a.landed, r + a.refused, n + a.attempted)
        });
        if l > 0 {
            landed.push(format!("{} ({l}/{n})", g.approach));
        }
        if r > 0 {
            let uids: BTreeSet<&String> = t.values().flat_map(|a| a.uids.iter()).collect();
            let uids = uids.into_iter().cloned().collect::<Vec<_>>().join(", ");
            refused.push(format!("{} ({r}/{n}, as uid {uids})", g.approach));
        }
    }
    if total.is_empty() {
        return None;
    }
    let mut s = format!(
        "Attempted side effects (the failing scripts tried the same {} path operation{} in every approach; counted once per path and trial; \
         see the scenario's table): ",
        total.len(),
        if total.len() == 1 { "" } else { "s" }
    );
    s.push_str(&match (landed.is_empty(), refused.is_empty()) {
        (false, false) => format!(
            "they landed for {} and were refused for {}",
            and_list(&landed),
            and_list(&refused)
        ),
        (false, true) => format!("they landed for every approach: {}", and_list(&landed)),
        (true, false) => format!(
            "they were refused for every approach: {}",
            and_list(&refused)
        ),
        (true, true) => "none was recorded".into(),
    });
    s.push_str(". Whether an attempt lands is decided by how each approach runs the script (the Set-up table), not by the script.");
    Some(s)
}

/// ` until `<gc>`` for an approach with a garbage collector, else nothing.
fn until_gc(approach: &str) -> String {
    crate::approach::by_name(approach)
        .and_then(|a| a.gc_command())
        .map(|gc| format!(" until `{gc}`"))
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::checker::TrialRecord;

    /// A failed-install row, shared with the other report tests.
    pub(crate) fn record(
        approach: &str,
        rep: u32,
        files: usize,
        packages: usize,
        garbage: usize,
        consistent: &str,
        recovery_ms: f64,
    ) -> TrialRecord {
        TrialRecord {
            scenario: "failed-install".into(),
            approach: crate::approach::kind(approach),
            fault: "none".into(),
            rep,
            seed: 7,
            outcome: Outcome::Failed,
            consistent: consistent.parse().unwrap(),
            residue_files: Some(files),
            residue_added: Some(files),
            residue_removed: Some(0),
            residue_modified: Some(0),
            residue_packages: Some(packages),
            garbage_paths: Some(garbage),
            attempts_landed: Some(0),
            attempts_refused: Some(0),
            playbook_ran: files > 0 || packages > 0,
            recovery_ms: Some(recovery_ms),
            recovered: if files == 0 && packages == 0 {
                TriBool::True
            } else {
                TriBool::False
            },
            final_residue_files: Some(usize::from(files > 0)),
            final_residue_packages: Some(0),
            final_garbage_paths: Some(garbage),
            operation_ms: Some(100.0),
            trial_wall_ms: 1000.0,
            overhead_ms: 500.0,
            error: String::new(),
            healthy_before: None,
            healthy_after_change: None,
            detect_ms: None,
            downtime_ms: None,
            restore_ms: None,
            healthy_after_recovery: None,
            wanted_edit_lost: None,
            engine: String::new(),
            retry_outcome: None,
            retry_ms: None,
            retry_diff_files: None,
            retry_diff_packages: None,
            experiment_ok: None,
            side_by_side: None,
            global_residue_files: None,
            path_commands: None,
            probes_ok: None,
            residue_dirs: None,
            final_residue_dirs: None,
            change_ms: None,
            downtime_censored: None,
            clean_diff_files: None,
            clean_diff_packages: None,
            recovery: String::new(),
            data_lost: None,
            service: String::new(),
            nodes: None,
            broken: None,
            nodes_changed: None,
            nodes_unhealthy_after_change: None,
            fleet_change_ms: None,
            fleet_detect_ms: None,
            fleet_restore_ms: None,
            node_downtime_ms: None,
            nodes_unhealthy_after_recovery: None,
            nodes_unreachable_after_recovery: None,
            nodes_mixed: None,
            fleet_residue_files: None,
        }
    }

    fn trials(records: Vec<TrialRecord>) -> Vec<Trial> {
        records
            .into_iter()
            .map(|record| Trial {
                record,
                history: None,
            })
            .collect()
    }

    fn set(nix_files: usize) -> Vec<Trial> {
        let mut r = Vec::new();
        for rep in 0..3 {
            r.push(record("apt", rep, 34, 4, 6, "false", 500.0 + rep as f64));
            r.push(record("nix", rep, nix_files, 0, 67, "true", 0.0));
        }
        trials(r)
    }

    /// A check that could not decide leaves the approach undecided: it is
    /// neither counted as holding nor as contradicting (verify's rule).
    #[test]
    fn an_unknown_check_leaves_the_approach_undecided() {
        let mut r = Vec::new();
        for rep in 0..3 {
            r.push(record("apt", rep, 34, 4, 6, "false", 500.0));
            r.push(record(
                "nix",
                rep,
                0,
                0,
                0,
                if rep == 1 { "unknown" } else { "true" },
                0.0,
            ));
        }
        let a = atomicity(&trials(r));
        assert_eq!(a.status, Status::Mixed);
        assert!(a.verdict.contains("undecided"), "{}", a.verdict);
        assert!(!a.sentence.contains("nix left"), "{}", a.sentence);
        assert!(
            a.facts.iter().any(|f| f.starts_with("Undecided")
                && f.contains("nix")
                && f.contains("consistent != false")),
            "{:?}",
            a.facts
        );
    }

    #[test]
    fn atomicity_holds_only_where_nothing_visible_changed_and_garbage_is_said() {
        let a = atomicity(&set(0));
        assert_eq!(a.status, Status::Mixed);
        assert_eq!(a.verdict, "holds only for nix");
        assert!(
            a.sentence
                .contains("nix left 0 visible files and 0 changed packages in 3/3 failed installs"),
            "{}",
            a.sentence
        );
        assert!(
            a.sentence
                .contains("(but 67 garbage paths, median, until `nix-store --gc`)"),
            "{}",
            a.sentence
        );
        assert!(a.sentence.contains("contradict it for apt (medians over the failed installs): apt left 34 visible files and 4 changed packages in 3/3"), "{}", a.sentence);
        assert!(a.sentence.contains("contradict"), "{}", a.sentence);
        assert!(
            a.sentence.contains("its own checks failed in 3/3"),
            "{}",
            a.sentence
        );
        let facts = a.facts.join("\n");
        assert!(facts.contains("nix 67 until `nix-store --gc`"), "{facts}");
        assert!(facts.contains("nix needed no playbook in 3/3"), "{facts}");
        assert!(
            facts.contains("apt's playbook ran in 3/3 in 501 ms (median; 95% CI"),
            "{facts}"
        );
        assert!(facts.contains("n=3, small sample"), "{facts}");
    }

    #[test]
    fn nix_with_visible_residue_is_not_called_atomic() {
        let a = atomicity(&set(2));
        assert_eq!(a.status, Status::Contradicted);
        assert!(!a.sentence.contains("holds"), "{}", a.sentence);
        assert!(
            a.sentence
                .contains("contradict the claim for every approach"),
            "{}",
            a.sentence
        );
        assert!(a.sentence.contains("nix left 2 visible files and 0 changed packages in 3/3, although its checks passed in 3/3"), "{}", a.sentence);
        assert!(a.facts.iter().any(|f| f.contains("nix's own checks passed in 3/3 although it left 2 visible files and 0 changed packages")), "{:?}", a.facts);
    }

    #[test]
    fn residue_in_one_trial_of_three_is_enough_to_contradict() {
        let mut t = set(0);
        t[1].record.residue_files = Some(5);
        t[1].record.residue_added = Some(5);
        let a = atomicity(&t);
        assert_eq!(a.status, Status::Contradicted);
        assert!(!a.sentence.contains("holds"), "{}", a.sentence);
        assert!(a.sentence.contains("nix changed the system in 1/3, leaving 0 visible files (max 5) and 0 changed packages"), "{}", a.sentence);
    }

    #[test]
    fn all_atomic_holds_and_errored_or_uncovered_claims_say_so() {
        let mut r: Vec<TrialRecord> = (0..2)
            .map(|rep| record("nix", rep, 0, 0, 5, "true", 0.0))
            .collect();
        let mut e = record("nix", 9, 0, 0, 0, "unknown", 0.0);
        e.outcome = Outcome::Errored;
        e.error = "docker went away".into();
        r.push(e);
        let all = answer_all(&trials(r), &[]);
        assert_eq!(all[0].status, Status::Holds);
        assert!(
            all[0].sentence.contains("in 2/2 failed installs"),
            "errored trial excluded: {}",
            all[0].sentence
        );
        assert!(all[0]
            .facts
            .iter()
            .any(|f| f.contains("not counted: 1 errored")));
        assert_eq!(all[1].status, Status::NotCovered);
        assert!(all
            .iter()
            .skip(2)
            .all(|a| a.status == Status::NotCovered
                && a.sentence.starts_with("Not covered by this run")));
        let none = answer_all(&[], &[]);
        assert_eq!(none[0].status, Status::NotCovered);
    }

    #[test]
    fn interrupted_operations_are_judged_by_consistency() {
        let mut r = set(0);
        for t in &mut r {
            t.record.fault = "syscall:rename#3:KILL".into();
            t.record.outcome = Outcome::Killed;
        }
        r[0].record.consistent = TriBool::True;
        r[5].record.outcome = Outcome::Succeeded;
        let a = interrupted_with_points(&r, &[]);
        assert_eq!(a.status, Status::Mixed);
        assert!(
            a.sentence
                .contains("apt was consistent after 1/3 interrupted operations (unchanged in 0/3)"),
            "{}",
            a.sentence
        );
        assert!(
            a.sentence
                .contains("nix was consistent after 2/2 interrupted operations (unchanged in 2/2)"),
            "{}",
            a.sentence
        );
        assert!(
            a.facts[1].contains("not counted: 1 that completed despite the fault"),
            "{:?}",
            a.facts
        );
        assert_eq!(
            atomicity(&r).status,
            Status::NotCovered,
            "faulted trials are not failed installs"
        );
    }

    #[test]
    fn crash_points_answer_the_interrupted_claim_exactly() {
        use crate::explore::state::State;
        let p = |a: &str, i: usize, fired: bool, st: State, ms: f64| CrashPointRecord {
            scenario: "kill-during-install".into(),
            approach: a.parse().unwrap(),
            fault: format!("syscall:rename#{i}:KILL").into(),
            family: "rename".into(),
            syscall: "rename".into(),
            point: i as u64,
            index: i,
            process: "x".into(),
            class: String::new(),
            class_points: None,
            engine: String::new(),
            operation: String::new(),
            hit: String::new(),
            mismatch: String::new(),
            fired,
            state_after_crash: Some(st),
            consistent: TriBool::True,
            residue_files: Some(0),
            residue_packages: Some(0),
            garbage_paths: Some(0),
            playbook_ran: st == State::Inconsistent,
            recovered: TriBool::True,
            state_after_recovery: Some(State::Old),
            recovery_ms: Some(ms),
            final_residue_files: Some(0),
            point_wall_ms: 1.0,
            error: String::new(),
        };
        let points = vec![
            p("nix", 0, true, State::Old, 0.0),
            p("nix", 1, true, State::New, 0.0),
            p("nix", 2, false, State::New, 0.0),
            p("pip", 0, true, State::Old, 0.0),
            p("pip", 1, true, State::Inconsistent, 900.0),
        ];
        let a = &answer_all(&[], &points)[1];
        assert_eq!(a.status, Status::Mixed);
        assert!(a.sentence.contains("nix was left old or new after 2/2 crash points whose kill fired (old 1, new 1, inconsistent 0)"), "{}", a.sentence);
        assert!(
            a.sentence
                .contains("contradict it for the others: pip was left old or new after 1/2"),
            "{}",
            a.sentence
        );
        let facts = a.facts.join("\n");
        assert!(
            facts.contains("not counted: 1 whose kill never fired"),
            "{facts}"
        );
        assert!(
            facts.contains("pip recovered 1/1 inconsistent crashes in 900 ms"),
            "{facts}"
        );
        assert!(facts.contains("Small sample"), "{facts}");
        // Trials that held do not hide a crash point that did not.
        let mut r = set(0);
        for t in &mut r {
            t.record.fault = "syscall:rename#3:KILL".into();
            t.record.outcome = Outcome::Killed;
            t.record.consistent = TriBool::True;
        }
        let both = interrupted_with_points(&r, &points);
        assert_eq!(both.status, Status::Mixed, "{}", both.sentence);
        assert!(
            both.sentence.contains("apt was consistent after 3/3"),
            "{}",
            both.sentence
        );
        let none = interrupted_with_points(&[], &[p("nix", 0, false, State::New, 0.0)]);
        assert_eq!(none.status, Status::NotCovered);
        assert!(
            none.sentence
                .contains("none of the 1 explored crash points fired"),
            "{}",
            none.sentence
        );
    }
}
