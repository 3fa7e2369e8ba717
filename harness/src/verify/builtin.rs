//! Built-in guarantees: the claims the report answers, stated as
//! guarantees and judged by the same code as a scenario's `[[guarantee]]`
//! tables. A claim holds for an approach when every guarantee of it holds
//! over that approach's rows; one violated row violates it; otherwise it is
//! unknown (never counted as holding).

use super::{judge_rows, Expect, Filter, Guarantee, Input, Judgement, Share, Source, Verdict};
use crate::vocab::ApproachKind;

/// One claim's guarantees for one approach: `expect`s over the rows that
/// pass every `when`.
struct Spec {
    name: &'static str,
    source: Source,
    when: &'static [&'static str],
    expect: &'static [&'static str],
}

/// "A failed install leaves the system unchanged": failed installs without
/// an injected fault leave no visible file, no package change, and no
/// own check of the package manager that calls the state broken
/// (`consistent`; a scenario's probes are `probes_ok`, a service's health
/// the `healthy_*` columns, and neither is part of this claim).
const ATOMICITY: Spec = Spec {
    name: "a failed install leaves the system unchanged",
    source: Source::Trials,
    when: &["fault == none", "outcome == failed"],
    expect: &[
        "residue_files == 0",
        "residue_packages == 0",
        "consistent != false",
    ],
};

/// "An interrupted operation leaves the old state or the new": trials the
/// fault stopped (killed, or failed under it) pass the package manager's
/// own checks after it (`consistent`).
const INTERRUPTED_TRIALS: Spec = Spec {
    name: "an interrupted operation leaves a consistent state",
    source: Source::Trials,
    when: &[
        "fault != none",
        "outcome != succeeded",
        "outcome != errored",
    ],
    expect: &["consistent == true"],
};

/// The same over crash points whose kill fired: old or new, exactly.
const INTERRUPTED_POINTS: Spec = Spec {
    name: "a crash leaves the old state or the new",
    source: Source::Crashpoints,
    when: &["fired == true"],
    expect: &["state_after_crash != inconsistent"],
};

/// The rows of configure trials: the probe saw the service before the
/// change (every other row leaves the service columns empty), and the
/// trial did not error (a harness problem is not data).
const CONFIGURE_ROWS: &[&str] = &[r#"healthy_before != """#, "outcome != errored"];

/// "In seconds", as the guarantee bounds it: the service answers again
/// within 10 s of the recovery's start (`restore_ms`).
pub const UNDONE_WITHIN_MS: f64 = 10_000.0;
/// "Instant", as the guarantee bounds it: within 1 s (`restore_ms`).
pub const INSTANT_MS: f64 = 1_000.0;

/// "A bad configuration is undone in seconds": after the approach's
/// recovery the service is healthy, the trial is back to a known-good
/// state, and the service answered within [`UNDONE_WITHIN_MS`] of the
/// recovery's start.
const BAD_CONFIG: Spec = Spec {
    name: "a bad configuration is undone in seconds",
    source: Source::Trials,
    when: CONFIGURE_ROWS,
    expect: &[
        "healthy_after_recovery == true",
        "recovered == true",
        "restore_ms <= 10000",
    ],
};

/// "Rollback is one command and instant", for approaches with a generation
/// rollback: the service answered within [`INSTANT_MS`] of the recovery's
/// start and is healthy at the end. (How many commands ran is no column:
/// the report reads it from the histories.)
const ROLLBACK: Spec = Spec {
    name: "a rollback restores the service instantly",
    source: Source::Trials,
    when: CONFIGURE_ROWS,
    expect: &["restore_ms <= 1000", "healthy_after_recovery == true"],
};

/// "Just try again": in retry scenarios (rows with a `retry_outcome`),
/// the second install succeeds and ends where a clean install of the same
/// packages does (`recovered`, see `checker::retry_recovered`).
const TRY_AGAIN: Spec = Spec {
    name: "after a failure, installing again without clean-up ends where a clean install does",
    source: Source::Trials,
    when: &[r#"retry_outcome != """#, "outcome != errored"],
    expect: &["retry_outcome == succeeded", "recovered == true"],
};

/// "Project shells do not touch the global system": in experiment rows,
/// the projects left no visible path outside their folders and the store.
/// (Side by side is reported beside it: it is the second half of the
/// claim only where a scenario has a second project.)
const ISOLATION: Spec = Spec {
    name: "a project leaves nothing on the global system",
    source: Source::Trials,
    when: &[r#"experiment_ok != """#, "outcome != errored"],
    expect: &[
        "global_residue_files == 0",
        "path_commands == 0",
        "experiment_ok == true",
    ],
};

/// "A fleet rolls back in seconds": in rollout rows where the policy rolled
/// the fleet back, every node serves, answers a fresh SSH connection and
/// holds a known configuration at the end, and every node served again
/// within [`UNDONE_WITHIN_MS`] of the fleet rollback's start.
const FLEET: Spec = Spec {
    name: "the fleet is back to known-good within 10 s",
    source: Source::Trials,
    when: &[
        r#"nodes != """#,
        "outcome != errored",
        "playbook_ran == true",
    ],
    expect: &[
        "fleet_restore_ms <= 10000",
        "nodes_unhealthy_after_recovery == 0",
        "nodes_unreachable_after_recovery == 0",
        "nodes_mixed == 0",
    ],
};

/// Which claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Atomicity,
    InterruptedTrials,
    InterruptedPoints,
    BadConfig,
    Rollback,
    TryAgain,
    Isolation,
    Fleet,
}

impl Claim {
    fn spec(self) -> &'static Spec {
        match self {
            Claim::Atomicity => &ATOMICITY,
            Claim::InterruptedTrials => &INTERRUPTED_TRIALS,
            Claim::InterruptedPoints => &INTERRUPTED_POINTS,
            Claim::BadConfig => &BAD_CONFIG,
            Claim::Rollback => &ROLLBACK,
            Claim::TryAgain => &TRY_AGAIN,
            Claim::Isolation => &ISOLATION,
            Claim::Fleet => &FLEET,
        }
    }

    /// The `expect`s of the claim, as text (`restore_ms <= 1000`).
    pub fn expects(self) -> &'static [&'static str] {
        self.spec().expect
    }

    pub fn source(self) -> Source {
        self.spec().source
    }

    /// The claim's guarantees about approach `a`.
    pub fn guarantees(self, a: ApproachKind) -> Vec<Guarantee> {
        let spec = self.spec();
        let when: Vec<Filter> = spec
            .when
            .iter()
            .map(|w| Filter::parse(w, spec.source).expect("built-in filters parse"))
            .collect();
        spec.expect
            .iter()
            .map(|e| Guarantee {
                name: spec.name.to_string(),
                approaches: vec![a],
                source: spec.source,
                expect: Expect::parse(e, spec.source).expect("built-in expectations parse"),
                share: Share::All,
                when: when.clone(),
            })
            .collect()
    }

    /// The claim's verdict for `a` over `input` (every scenario's rows), and
    /// each guarantee's judgement as its evidence.
    pub fn judge(self, a: ApproachKind, input: &Input) -> (Verdict, Vec<Judgement>) {
        let judgements: Vec<Judgement> = self
            .guarantees(a)
            .into_iter()
            .map(|g| judge_rows(None, g, input))
            .collect();
        (merge(judgements.iter().map(|j| j.verdict)), judgements)
    }
}

/// All hold → holds; any violated → violated; else unknown.
pub fn merge(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    verdicts.into_iter().max().unwrap_or(Verdict::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::rows::Table;

    fn table(text: &str) -> Input {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.csv");
        std::fs::write(&p, text).unwrap();
        Input::Table(Table::read(&p).unwrap())
    }

    #[test]
    fn every_built_in_guarantee_parses() {
        let a = crate::approach::kind("apt");
        for c in [
            Claim::Atomicity,
            Claim::InterruptedTrials,
            Claim::InterruptedPoints,
            Claim::BadConfig,
            Claim::Rollback,
            Claim::TryAgain,
            Claim::Isolation,
            Claim::Fleet,
        ] {
            assert!(!c.guarantees(a).is_empty());
        }
        // The bounds the report words are the ones judged.
        let bound = |c: Claim| {
            c.guarantees(a)
                .into_iter()
                .find(|g| g.expect.column == "restore_ms")
                .map(|g| g.expect.value)
        };
        use crate::verify::expect::Value;
        assert_eq!(
            bound(Claim::BadConfig),
            Some(Value::Number(UNDONE_WITHIN_MS))
        );
        assert_eq!(bound(Claim::Rollback), Some(Value::Number(INSTANT_MS)));
    }

    /// The real bad-configuration run: every configure row of both
    /// approaches recovered, healthy, well within the bounds; the rows of
    /// other trials (empty service columns) are not evidence.
    #[test]
    fn bad_config_claims_judge_configure_rows_of_a_real_run() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/run-bad-config/trials.csv");
        let real = Input::Table(Table::read(&dir).unwrap());
        for a in ["apt", "nix"] {
            let (v, js) = Claim::BadConfig.judge(crate::approach::kind(a), &real);
            assert_eq!(v, Verdict::Holds, "{a}: {:?}", js);
            assert!(js.iter().all(|j| j.counts.holding == 15), "{a}");
        }
        let (v, js) = Claim::Rollback.judge(crate::approach::kind("nix"), &real);
        assert_eq!(v, Verdict::Holds);
        assert_eq!(js[0].counts.holding, 15);

        let input = table(
            "scenario,approach,fault,outcome,recovered,error,healthy_before,restore_ms,healthy_after_recovery\n\
             s,nix,none,failed,true,,true,74.5,true\n\
             s,nix,none,failed,true,,true,1200,true\n\
             f,nix,none,failed,true,,,,\n\
             s,nix,none,errored,unknown,docker went away,,,\n\
             s,apt,none,failed,true,,true,,false\n\
             s,apt,none,failed,true,,true,50,true\n",
        );
        let nix = crate::approach::kind("nix");
        // 1.2 s is in seconds but not instant.
        assert_eq!(Claim::BadConfig.judge(nix, &input).0, Verdict::Holds);
        let (v, js) = Claim::Rollback.judge(nix, &input);
        assert_eq!(v, Verdict::Violated);
        assert_eq!(
            js[0].counts,
            crate::verify::Counts {
                holding: 1,
                violating: 1,
                unknown: 0
            },
            "the row without service columns and the errored row are not evidence"
        );
        // A service that never came back: no restore time (unknown), and
        // unhealthy at the end (violated): never counted as holding.
        let (v, js) = Claim::BadConfig.judge(crate::approach::kind("apt"), &input);
        assert_eq!(v, Verdict::Violated);
        let restore = js
            .iter()
            .find(|j| j.guarantee.expect.column == "restore_ms")
            .unwrap();
        assert_eq!((restore.counts.holding, restore.counts.unknown), (1, 1));
        assert_eq!(restore.verdict, Verdict::Unknown);
    }

    #[test]
    fn atomicity_is_judged_over_failed_unfaulted_rows_only() {
        let (apt, nix) = (crate::approach::kind("apt"), crate::approach::kind("nix"));
        let input = table(
            "scenario,approach,fault,outcome,consistent,residue_files,residue_packages,error\n\
             s,apt,none,failed,true,34,4,\n\
             s,nix,none,failed,true,0,0,\n\
             s,nix,none,succeeded,true,9,1,\n\
             s,nix,kill:KILL@5ms,killed,false,3,0,\n\
             t,nix,none,failed,unknown,0,0,\n",
        );
        let (v, js) = Claim::Atomicity.judge(apt, &input);
        assert_eq!(v, Verdict::Violated);
        assert_eq!(js[0].counts.violating, 1);
        // nix: the succeeded and the faulted rows are not evidence; the
        // unknown check in scenario t makes the claim unknown, not held.
        let (v, js) = Claim::Atomicity.judge(nix, &input);
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(js[0].counts.holding, 2);
        assert_eq!(js[2].counts.unknown, 1);
    }

    #[test]
    fn try_again_is_judged_over_retry_rows_only() {
        let (apt, nix) = (crate::approach::kind("apt"), crate::approach::kind("nix"));
        let input = table(
            "scenario,approach,fault,outcome,recovered,error,retry_outcome\n\
             r,apt,none,failed,false,,failed\n\
             r,apt,none,failed,true,,succeeded\n\
             r,nix,none,failed,true,,succeeded\n\
             r,nix,none,errored,unknown,engine gone,\n\
             f,nix,none,failed,false,,\n",
        );
        let (v, js) = Claim::TryAgain.judge(apt, &input);
        assert_eq!(v, Verdict::Violated);
        assert_eq!(js[0].counts.violating, 1, "the failed retry");
        let (v, js) = Claim::TryAgain.judge(nix, &input);
        assert_eq!(v, Verdict::Holds, "rows without a retry are not evidence");
        assert_eq!(js[1].counts.holding, 1);
    }

    #[test]
    fn no_matching_row_is_unknown_with_a_note() {
        let input = table(
            "scenario,approach,fault,outcome,consistent,residue_files,residue_packages,error\n\
             s,apt,none,succeeded,true,34,4,\n",
        );
        let (v, js) = Claim::Atomicity.judge(crate::approach::kind("apt"), &input);
        assert_eq!(v, Verdict::Unknown);
        assert!(
            js[0].notes.iter().any(|n| n.contains("no row passes")),
            "{:?}",
            js[0].notes
        );
    }

    #[test]
    fn merging_ranks_violated_over_unknown_over_holds() {
        use Verdict::*;
        assert_eq!(merge([Holds, Holds]), Holds);
        assert_eq!(merge([Holds, Unknown]), Unknown);
        assert_eq!(merge([Unknown, Violated, Holds]), Violated);
        assert_eq!(merge([]), Unknown);
    }
}
