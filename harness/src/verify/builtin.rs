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
/// check that calls the state broken.
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
/// fault stopped (killed, or failed under it) pass their checks after it.
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

/// Which claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Atomicity,
    InterruptedTrials,
    InterruptedPoints,
}

impl Claim {
    fn spec(self) -> &'static Spec {
        match self {
            Claim::Atomicity => &ATOMICITY,
            Claim::InterruptedTrials => &INTERRUPTED_TRIALS,
            Claim::InterruptedPoints => &INTERRUPTED_POINTS,
        }
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
        ] {
            assert!(!c.guarantees(a).is_empty());
        }
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
