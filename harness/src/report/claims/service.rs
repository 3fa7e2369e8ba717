//! The two claims configure trials answer: "a bad configuration is undone
//! in seconds" and "rollback is one command and instant". Each approach's
//! verdict is `verify::builtin`'s (`Claim::BadConfig`, `Claim::Rollback`);
//! this file words it with the numbers of `report::service`.

use std::collections::BTreeSet;

use super::{and_list, as_input, not_covered, undecided_clause, Answer, Status};
use super::{BAD_CONFIG, ROLLBACK};
use crate::report::service::{
    configure_trials, service_of, services, variants, ServiceStats, Variant, DOWNTIME_CAVEAT,
};
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

/// "A bad configuration is undone in seconds", one answer per service the
/// configure trials probed: a fix that is instant for nginx says nothing
/// about PostgreSQL.
pub(super) fn bad_config(trials: &[Trial]) -> Vec<Answer> {
    let configure = configure_trials(trials);
    if configure.is_empty() {
        return vec![not_covered(
            BAD_CONFIG,
            "no trial in this run applies a bad configuration to a service (`[operation] kind = \"configure\"`).",
        )];
    }
    services(&configure)
        .into_iter()
        .map(|service| {
            let mine: Vec<&Trial> = configure
                .iter()
                .copied()
                .filter(|t| service_of(&t.record) == Some(service))
                .collect();
            Answer {
                scope: Some(service.to_string()),
                ..bad_config_of(&mine, trials)
            }
        })
        .collect()
}

/// The answer over one service's configure trials: each approach judged
/// apart, and each recovery of an approach that ran several.
fn bad_config_of(configure: &[&Trial], trials: &[Trial]) -> Answer {
    let variants = variants(configure);
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    for v in &variants {
        let records: Vec<_> = v.trials.iter().map(|t| t.record.clone()).collect();
        let input = as_input("trials.csv", &records);
        let (verdict, judgements) = Claim::BadConfig.judge(v.stats.approach, &input);
        let s = &v.stats;
        let tallies = format!(
            "healthy after recovery in {}/{n}, recovered in {}/{n}",
            s.healthy_after_recovery.yes,
            s.recovered.yes,
            n = s.n
        );
        let who = &v.label;
        match verdict {
            Verdict::Holds => holds.push((
                who.clone(),
                format!("{who}: {}; {tallies}", restore_clause(s)),
            )),
            Verdict::Violated => broken.push((
                who.clone(),
                format!(
                    "{who}: {tallies}; {} ({})",
                    restore_clause(s),
                    failing(&judgements)
                ),
            )),
            Verdict::Unknown => undecided.push(undecided_clause(who, &judgements)),
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
        "What was judged, per approach (and per recovery, where an approach ran several) over its configure trials \
         (verify's built-in guarantee): `healthy_after_recovery == true`, `recovered == true` and `restore_ms <= {}` in every trial; \
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
    let downtime: Vec<String> = variants
        .iter()
        .filter_map(|v| Some(format!("{} {}", v.label, v.stats.downtime_ms.sentence()?)))
        .collect();
    if !downtime.is_empty() {
        facts.push(format!(
            "Downtime: {}. {}.",
            and_list(&downtime),
            DOWNTIME_CAVEAT
        ));
    }
    if let Some(data) = data_fact(&variants) {
        facts.push(data);
    }
    for v in &variants {
        if let Some(r) = v.stats.recovery_text() {
            facts.push(format!("{}'s recovery ran {r}.", v.label));
        }
    }
    facts.push(counted_fact(configure, trials));
    Answer {
        claim: BAD_CONFIG,
        scope: None,
        status,
        verdict,
        sentence,
        facts,
    }
}

/// Which recovery lost data the service held (PostgreSQL's known rows),
/// or that none did; None for a service without data.
fn data_fact(variants: &[Variant]) -> Option<String> {
    if variants
        .iter()
        .all(|v| v.stats.data_lost.yes + v.stats.data_lost.no == 0)
    {
        return None;
    }
    let tally = |v: &Variant| {
        let t = &v.stats.data_lost;
        let unknown = match t.unknown {
            0 => String::new(),
            k => format!(", {k} unknown"),
        };
        format!("{} {}/{}{unknown}", v.label, t.yes, v.stats.n)
    };
    let lost: Vec<String> = variants
        .iter()
        .filter(|v| v.stats.data_lost.yes > 0)
        .map(tally)
        .collect();
    let all: Vec<String> = variants.iter().map(tally).collect();
    Some(if lost.is_empty() {
        format!(
            "Data: no recovery lost data; every known row the set-up wrote was there, unchanged, after each recovery \
             (trials with a row missing or changed: {}).",
            and_list(&all)
        )
    } else {
        format!(
            "Data: the recovery lost known rows the set-up wrote in {} (trials with a row missing or changed: {}).",
            and_list(&lost),
            and_list(&all)
        )
    })
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
        scope: None,
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

    /// The bad-configuration answer of a run with one service.
    fn one(trials: &[Trial]) -> Answer {
        let mut all = bad_config(trials);
        assert_eq!(all.len(), 1, "one service, one answer");
        all.remove(0)
    }

    #[test]
    fn each_service_is_answered_apart_and_the_recovery_that_lost_data_is_named() {
        let run = fixture();
        let mut trials = run.trials.clone();
        // The same measurements, as a second service holding data, where
        // apt ran two recoveries and one of them lost a row once.
        let mut pg: Vec<Trial> = run
            .trials
            .iter()
            .filter(|t| t.record.scenario == "bad-config-wrong-root")
            .cloned()
            .collect();
        for t in &mut pg {
            t.record.scenario = "bad-config-pg".into();
            t.record.service = "postgresql".into();
            t.record.data_lost = Some(false);
        }
        let apt: Vec<usize> = (0..pg.len())
            .filter(|&i| pg[i].record.approach.as_str() == "apt")
            .collect();
        pg[apt[0]].record.recovery = "backup".into();
        pg[apt[0]].record.data_lost = Some(true);
        for &i in &apt[1..] {
            pg[i].record.recovery = "etckeeper".into();
        }
        trials.extend(pg);
        let answers = bad_config(&trials);
        let scopes: Vec<_> = answers.iter().map(|a| a.scope.clone().unwrap()).collect();
        assert_eq!(scopes, ["nginx", "postgresql"]);
        let (nginx, pg) = (&answers[0], &answers[1]);
        assert_eq!(
            pg.title(),
            "A bad configuration is undone in seconds: postgresql"
        );
        assert!(
            pg.facts
                .iter()
                .any(|f| f.contains("Counted: 6 configure trials (scenarios `bad-config-pg`)")),
            "{:?}",
            pg.facts
        );
        assert!(
            nginx
                .facts
                .iter()
                .any(|f| f.contains("Counted: 30 configure trials")),
            "{:?}",
            nginx.facts
        );
        // apt's recoveries are judged apart, and the one that lost data is named.
        assert!(pg.sentence.contains("apt (backup): "), "{}", pg.sentence);
        assert!(pg.sentence.contains("apt (etckeeper): "), "{}", pg.sentence);
        let data = pg.facts.iter().find(|f| f.starts_with("Data:")).unwrap();
        assert!(
            data.contains("lost known rows the set-up wrote in apt (backup) 1/1 (")
                && data.contains("apt (etckeeper) 0/2")
                && data.contains("nix 0/3"),
            "{data}"
        );
        assert!(
            !nginx.facts.iter().any(|f| f.starts_with("Data:")),
            "nginx holds no data: {:?}",
            nginx.facts
        );
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
        assert_eq!(one(&run.trials).status, Status::Holds);
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
        let bc = one(&run.trials);
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
        let bc = one(&run.trials);
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
        assert_eq!(one(&run.trials).status, Status::Holds);
        assert_eq!(one(&[]).status, Status::NotCovered);
        assert_eq!(rollback(&[]).status, Status::NotCovered);
    }
}
