//! The two claims configure trials answer: "a bad configuration is undone
//! in seconds" and "rollback is one command and instant". Each approach's
//! verdict is `verify::builtin`'s (`Claim::BadConfig`, `Claim::Rollback`);
//! this file words it with the numbers of `report::service`.

use std::collections::BTreeSet;

use super::{and_list, as_input, not_covered, undecided_clause, Answer, Status};
use super::{BAD_CONFIG, ROLLBACK};
use crate::report::service::{configure_trials, ServiceStats, DOWNTIME_CAVEAT};
use crate::report::{fmt_ms, Trial};
use crate::verify::builtin::{Claim, INSTANT_MS, UNDONE_WITHIN_MS};
use crate::verify::{Judgement, Verdict};

/// Per approach: its name and the clause that words its verdict.
type Clauses = Vec<(String, String)>;

/// The claim's status, short verdict and sentence from the approaches that
/// hold, that contradict it and that are undecided; None when every
/// approach is undecided. `scope`: "every approach" or a narrower set.
pub(super) fn assemble(
    scope: &str,
    holds: &Clauses,
    broken: &Clauses,
    undecided: &[String],
) -> Option<(Status, String, String)> {
    let clauses = |v: &Clauses| {
        v.iter()
            .map(|(_, c)| c.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let names = |v: &Clauses| and_list(&v.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>());
    Some(
        match (holds.is_empty(), broken.is_empty(), undecided.is_empty()) {
            (true, true, _) => return None,
            (false, true, true) => (
                Status::Holds,
                "holds".into(),
                format!(
                    "The data support the claim for {scope}: {}.",
                    clauses(holds)
                ),
            ),
            (true, false, true) => (
                Status::Contradicted,
                "contradicted".into(),
                format!(
                    "The data contradict the claim for {scope}: {}.",
                    clauses(broken)
                ),
            ),
            (false, true, false) => (
                Status::Mixed,
                format!("holds for {}, undecided for the rest", names(holds)),
                format!(
                    "The data support the claim for {}: {}.",
                    names(holds),
                    clauses(holds)
                ),
            ),
            (true, false, false) => (
                Status::Mixed,
                format!("contradicted for {}, undecided for the rest", names(broken)),
                format!(
                    "The data contradict the claim for {}: {}.",
                    names(broken),
                    clauses(broken)
                ),
            ),
            (false, false, _) => (
                Status::Mixed,
                format!("holds only for {}", names(holds)),
                format!(
                    "The claim holds only for {}: {}; the data contradict it for {}: {}.",
                    names(holds),
                    clauses(holds),
                    names(broken),
                    clauses(broken)
                ),
            ),
        },
    )
}

/// What did not hold, guarantee by guarantee: "`recovered == true`: 2/3 rows hold; 1 violate: …".
fn failing(judgements: &[Judgement]) -> String {
    judgements
        .iter()
        .filter(|j| j.verdict != Verdict::Holds)
        .map(|j| format!("`{}`: {}", j.guarantee.expect, j.evidence_summary(2)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "the service answered again 64 ms (median; …) after the recovery
/// started, at most 204 ms; over the 9 trials where …, 79 ms (median; …)".
fn restore_clause(s: &ServiceStats) -> String {
    let mut c = match (s.restore_ms.sentence(), s.restore_ms.summary) {
        (Some(m), Some(sum)) => format!(
            "the service answered again {m} after the recovery started, at most {}",
            fmt_ms(sum.max)
        ),
        _ => return "no recovery time was measured".into(),
    };
    if let (Some(m), Some(sum)) = (
        s.restore_when_down_ms.sentence(),
        s.restore_when_down_ms.summary,
    ) {
        if sum.n < s.n {
            c.push_str(&format!(
                "; over the {} trials where the change had taken the service down, {m} \
                 (in the others it was still serving: 0 ms)",
                sum.n
            ));
        }
    }
    c
}

/// The judged trials: configure trials and the scenarios they come from.
fn counted_fact(configure: &[&Trial], trials: &[Trial]) -> String {
    let scenarios: BTreeSet<&str> = configure
        .iter()
        .map(|t| t.record.scenario.as_str())
        .collect();
    let errored = trials
        .iter()
        .filter(|t| t.errored() && scenarios.contains(t.record.scenario.as_str()))
        .count();
    format!(
        "Counted: {} configure trials (scenarios {}); not counted: {errored} errored trials of these scenarios.",
        configure.len(),
        and_list(&scenarios.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>())
    )
}

pub(super) fn bad_config(trials: &[Trial]) -> Answer {
    let configure = configure_trials(trials);
    if configure.is_empty() {
        return not_covered(
            BAD_CONFIG,
            "no trial in this run applies a bad configuration to a service (`[operation] kind = \"configure\"`).",
        );
    }
    let records: Vec<_> = trials.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let stats = ServiceStats::of(configure.iter().copied());
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    for s in &stats {
        let (verdict, judgements) = Claim::BadConfig.judge(s.approach, &input);
        let tallies = format!(
            "healthy after recovery in {}/{n}, recovered in {}/{n}",
            s.healthy_after_recovery.yes,
            s.recovered.yes,
            n = s.n
        );
        match verdict {
            Verdict::Holds => holds.push((
                s.approach.to_string(),
                format!("{}: {}; {tallies}", s.approach, restore_clause(s)),
            )),
            Verdict::Violated => broken.push((
                s.approach.to_string(),
                format!(
                    "{}: {tallies}; {} ({})",
                    s.approach,
                    restore_clause(s),
                    failing(&judgements)
                ),
            )),
            Verdict::Unknown => undecided.push(undecided_clause(s.approach.as_str(), &judgements)),
        }
    }
    let Some((status, verdict, sentence)) = assemble("every approach", &holds, &broken, &undecided)
    else {
        return not_covered(
            BAD_CONFIG,
            &format!("undecided for every approach: {}.", undecided.join("; ")),
        );
    };
    let mut facts = vec![format!(
        "What was judged, per approach over its configure trials (verify's built-in guarantee): \
         `healthy_after_recovery == true`, `recovered == true` and `restore_ms <= {}` in every trial; \
         \"in seconds\" is taken as the service answering within {} of the recovery's first command. \
         restore_ms does not include noticing the mistake or choosing the fix.",
        UNDONE_WITHIN_MS,
        fmt_ms(UNDONE_WITHIN_MS)
    )];
    if !undecided.is_empty() {
        facts.push(format!(
            "Undecided (a cell was empty or unknown, or no row qualified): {}.",
            undecided.join("; ")
        ));
    }
    let downtime: Vec<String> = stats
        .iter()
        .filter_map(|s| Some(format!("{} {}", s.approach, s.downtime_ms.sentence()?)))
        .collect();
    if !downtime.is_empty() {
        facts.push(format!(
            "Downtime: {}. {}.",
            and_list(&downtime),
            DOWNTIME_CAVEAT
        ));
    }
    for s in &stats {
        if let Some(r) = s.recovery_text() {
            facts.push(format!("{}'s recovery ran {r}.", s.approach));
        }
    }
    facts.push(counted_fact(&configure, trials));
    Answer {
        claim: BAD_CONFIG,
        status,
        verdict,
        sentence,
        facts,
    }
}

pub(super) fn rollback(trials: &[Trial]) -> Answer {
    let configure = configure_trials(trials);
    if configure.is_empty() {
        return not_covered(
            ROLLBACK,
            "no configure trial (a bad configuration, then the approach's recovery) in this run; \
             the package rollbacks of upgrade scenarios are timed as recovery_ms, not judged against this claim.",
        );
    }
    let stats = ServiceStats::of(configure.iter().copied());
    let has_rollback = |s: &ServiceStats| {
        crate::approach::by_name(s.approach.as_str())
            .and_then(|a| a.generation_rollback())
            .is_some()
    };
    let (with, without): (Vec<&ServiceStats>, Vec<&ServiceStats>) =
        stats.iter().partition(|s| has_rollback(s));
    if with.is_empty() {
        let names: Vec<String> = without.iter().map(|s| s.approach.to_string()).collect();
        return not_covered(
            ROLLBACK,
            &format!(
                "the approaches of its configure trials ({}) have no generation rollback.",
                and_list(&names)
            ),
        );
    }
    let records: Vec<_> = trials.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    for s in &with {
        let (verdict, judgements) = Claim::Rollback.judge(s.approach, &input);
        let healthy = format!(
            "healthy after recovery in {}/{}",
            s.healthy_after_recovery.yes, s.n
        );
        match verdict {
            Verdict::Holds => holds.push((
                s.approach.to_string(),
                format!("{}: {}; {healthy}", s.approach, restore_clause(s)),
            )),
            Verdict::Violated => broken.push((
                s.approach.to_string(),
                format!(
                    "{}: {}; {healthy} ({})",
                    s.approach,
                    restore_clause(s),
                    failing(&judgements)
                ),
            )),
            Verdict::Unknown => undecided.push(undecided_clause(s.approach.as_str(), &judgements)),
        }
    }
    let scope = "every approach with a generation rollback";
    let Some((status, verdict, sentence)) = assemble(scope, &holds, &broken, &undecided) else {
        return not_covered(
            ROLLBACK,
            &format!(
                "undecided for every approach with a generation rollback: {}.",
                undecided.join("; ")
            ),
        );
    };
    let verdict =
        format!("{verdict} (instant measured; the command count is stated below, not judged)");
    let sentence = format!(
        "\"Instant\" measured as `restore_ms` (the recovery's first command → the first healthy probe) of at most {} \
         in every configure trial (`restore_ms <= {INSTANT_MS}`), with the service healthy at the end. {sentence}",
        fmt_ms(INSTANT_MS)
    );
    let mut facts = Vec::new();
    for s in &with {
        let Some(r) = s.recovery_text() else {
            facts.push(format!(
                "One command: unknown for {} (trials.jsonl not found: the recovery's commands are not recorded).",
                s.approach
            ));
            continue;
        };
        let all_one = s.recoveries.keys().all(|c| c.len() == 1);
        facts.push(if all_one {
            format!("One command: {}'s recovery ran {r}.", s.approach)
        } else {
            format!(
                "One command: {}'s recovery ran {r}. The rollback itself is the one command with `--rollback`; \
                 the rest applies the rolled-back configuration to the running service, so the recovery as run \
                 here is not a single command.",
                s.approach
            )
        });
    }
    if !undecided.is_empty() {
        facts.push(format!(
            "Undecided (a cell was empty or unknown, or no row qualified): {}.",
            undecided.join("; ")
        ));
    }
    for o in &without {
        let Some(theirs) = o.restore_ms.sentence() else {
            continue;
        };
        for s in &with {
            let overlap = match (s.restore_ms.ci, o.restore_ms.ci) {
                (Some(a), Some(b)) if a.0 <= b.1 && b.0 <= a.1 => {
                    "the two 95% CIs overlap: these trials show no difference between the medians"
                        .to_string()
                }
                (Some(a), Some(b)) => format!(
                    "the two 95% CIs do not overlap: {} restored faster",
                    if a.1 < b.0 { s.approach } else { o.approach }
                ),
                _ => "a CI is missing".into(),
            };
            facts.push(format!(
                "For comparison, {} (no generation rollback; its recovery ran {}) restored in {theirs}; {overlap}.",
                o.approach,
                o.recovery_text().unwrap_or_else(|| "commands unknown".into()),
            ));
        }
    }
    let downtime: Vec<String> = with
        .iter()
        .filter_map(|s| Some(format!("{} {}", s.approach, s.downtime_ms.sentence()?)))
        .collect();
    if !downtime.is_empty() {
        facts.push(format!(
            "Downtime: {}. {}.",
            and_list(&downtime),
            DOWNTIME_CAVEAT
        ));
    }
    facts.push(counted_fact(&configure, trials));
    Answer {
        claim: ROLLBACK,
        status,
        verdict,
        sentence,
        facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::claims::answer_all;
    use crate::report::Run;

    fn fixture() -> Run {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-bad-config");
        Run::load(&dir).unwrap()
    }

    #[test]
    fn a_real_run_covers_both_claims_with_numbers() {
        let run = fixture();
        let all = answer_all(&run.trials, &[]);
        let (rb, bc) = (&all[2], &all[3]);
        assert_eq!((rb.claim, bc.claim), (ROLLBACK, BAD_CONFIG));
        assert_eq!(bc.status, Status::Holds);
        assert!(
            bc.sentence.contains("nix: the service answered again 64 ms (median; 95% CI 0 ms – 79 ms, n=15) after the recovery started, at most 204 ms"),
            "{}",
            bc.sentence
        );
        assert!(
            bc.sentence.contains("at most 204 ms; over the 9 trials where the change had taken the service down, 79 ms (median; 95% CI 64 ms – 196 ms, n=9, small sample) (in the others"),
            "{}",
            bc.sentence
        );
        assert!(
            !bc.sentence.contains("  ") && !rb.sentence.contains("  "),
            "{}",
            bc.sentence
        );
        assert!(
            bc.sentence
                .contains("healthy after recovery in 15/15, recovered in 15/15"),
            "{}",
            bc.sentence
        );
        let facts = bc.facts.join("\n");
        assert!(
            facts.contains("`restore_ms <= 10000` in every trial"),
            "{facts}"
        );
        assert!(
            facts.contains("a fixed stand-in for an operator noticing"),
            "{facts}"
        );
        assert!(facts.contains("settle_ms`, 1000 ms by default"), "{facts}");

        assert_eq!(rb.status, Status::Holds);
        assert!(rb.verdict.contains("not judged"), "{}", rb.verdict);
        assert!(
            rb.sentence.contains("`restore_ms <= 1000`"),
            "{}",
            rb.sentence
        );
        assert!(
            rb.sentence
                .contains("every approach with a generation rollback: nix:"),
            "{}",
            rb.sentence
        );
        assert!(
            !rb.sentence.contains("apt:"),
            "apt has no generation rollback: {}",
            rb.sentence
        );
        let facts = rb.facts.join("\n");
        assert!(
            facts.contains("the recovery as run here is not a single command"),
            "{facts}"
        );
        assert!(
            facts.contains("For comparison, apt (no generation rollback"),
            "{facts}"
        );
        assert!(facts.contains("the two 95% CIs overlap"), "{facts}");
        // The configure rows are no failed installs.
        assert_eq!(all[0].status, Status::NotCovered, "{}", all[0].sentence);
    }

    #[test]
    fn a_slow_or_missing_restore_never_holds() {
        let mut run = fixture();
        // One nix rollback took 1.5 s: in seconds, but not instant.
        let i = run
            .trials
            .iter()
            .position(|t| {
                t.record.approach.as_str() == "nix" && t.record.scenario == "bad-config-wrong-root"
            })
            .unwrap();
        run.trials[i].record.restore_ms = Some(1500.0);
        assert_eq!(bad_config(&run.trials).status, Status::Holds);
        let rb = rollback(&run.trials);
        assert_eq!(rb.status, Status::Contradicted);
        assert!(
            rb.sentence.contains("1 violate: nix rep"),
            "{}",
            rb.sentence
        );
        // An empty restore cell (the probe never saw the service again) is
        // unknown, and with the service unhealthy at the end, violated.
        let mut run = fixture();
        let j = run
            .trials
            .iter()
            .position(|t| t.record.approach.as_str() == "apt")
            .unwrap();
        run.trials[j].record.restore_ms = None;
        let bc = bad_config(&run.trials);
        assert_eq!(bc.status, Status::Mixed);
        assert_eq!(bc.verdict, "holds for nix, undecided for the rest");
        assert!(
            bc.facts
                .iter()
                .any(|f| f.starts_with("Undecided") && f.contains("restore_ms empty")),
            "{:?}",
            bc.facts
        );
        run.trials[j].record.healthy_after_recovery = Some(false);
        let bc = bad_config(&run.trials);
        assert_eq!(bc.verdict, "holds only for nix");
        assert!(
            bc.sentence.contains("apt: healthy after recovery in 14/15"),
            "{}",
            bc.sentence
        );
        // That service never came back: apt's downtime is a lower bound.
        assert!(
            bc.facts
                .iter()
                .any(|f| f.contains("Downtime: apt ≥ ") && f.contains("1 never came back")),
            "{:?}",
            bc.facts
        );
    }

    #[test]
    fn without_configure_trials_or_a_generation_rollback_neither_is_covered() {
        let mut run = fixture();
        run.trials.retain(|t| t.record.approach.as_str() == "apt");
        let rb = rollback(&run.trials);
        assert_eq!(rb.status, Status::NotCovered);
        assert!(
            rb.sentence.contains("(apt) have no generation rollback"),
            "{}",
            rb.sentence
        );
        assert_eq!(bad_config(&run.trials).status, Status::Holds);
        assert_eq!(bad_config(&[]).status, Status::NotCovered);
        assert_eq!(rollback(&[]).status, Status::NotCovered);
    }
}
