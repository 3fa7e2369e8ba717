//! The generator: turns scenarios into a seeded list of trials. Every
//! approach of a repetition gets the same trial seed (matched faults), and
//! the approach order inside a repetition is shuffled by the run seed so no
//! approach always runs first on a warm or cold machine.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use crate::approach::ApproachKind;
use crate::nemesis::{self, Fault};
use crate::scenario::LoadedScenario;

#[derive(Debug, Clone)]
pub struct Trial {
    /// Position in the plan, 0-based; also names the trial's container.
    pub index: usize,
    pub scenario: Arc<LoadedScenario>,
    pub approach: ApproachKind,
    pub rep: u32,
    pub seed: u64,
    /// The injected fault, the same for every approach.
    pub fault: Fault,
    /// A configure trial's recovery (`backup`, `rollback`, …); None for
    /// other operations. When a scenario lists several for an approach,
    /// each gets trials of its own, and `scenario` names only that one.
    pub recovery: Option<&'static str>,
}

impl Trial {
    /// A history holding who the trial is and nothing else yet.
    pub fn blank_history(&self) -> crate::history::History {
        let mut h = crate::history::History::new(
            self.scenario.scenario.scenario.name.clone(),
            self.approach,
            self.fault.to_string(),
            self.rep,
            self.seed,
        );
        h.recovery = self.recovery.map(String::from);
        h.service_name = self
            .scenario
            .scenario
            .service
            .as_ref()
            .map(|s| s.service().as_str().to_string());
        h
    }

    /// `scenario approach (recovery) rep N`, for progress lines.
    pub fn label(&self) -> String {
        let recovery = self.recovery.map_or(String::new(), |r| format!(" ({r})"));
        format!(
            "{} {}{recovery} rep {}",
            self.scenario.scenario.scenario.name, self.approach, self.rep
        )
    }
}

/// The approach's variants in `s`: one per recovery a configure scenario
/// names for it (each with a scenario naming only that recovery, so
/// everything downstream runs it), else the approach as it is.
fn variants(
    s: &Arc<LoadedScenario>,
    approach: ApproachKind,
) -> Vec<(Option<&'static str>, Arc<LoadedScenario>)> {
    use crate::scenario::{OperationKind, Recoveries};
    let name = approach.as_str();
    let Some(spec) = s.scenario.service.as_ref().filter(|_| {
        matches!(
            s.scenario.operation.kind.get_ref(),
            OperationKind::Configure | OperationKind::Rollout
        )
    }) else {
        return vec![(None, s.clone())];
    };
    let offered = match s.scenario.operation.kind.get_ref() {
        OperationKind::Rollout => crate::vocab::fleet_methods(name),
        _ => crate::vocab::config_recoveries(name),
    }
    .unwrap_or_default();
    let named = spec.named_recoveries(name);
    if named.len() <= 1 {
        return vec![(spec.recovery_among(name, offered), s.clone())];
    }
    named
        .iter()
        .filter_map(|n| offered.iter().find(|o| *o == n).copied())
        .map(|r| {
            let mut one = (**s).clone();
            if let Some(spec) = one.scenario.service.as_mut() {
                for (k, v) in spec.recovery.iter_mut() {
                    if k.get_ref() == name {
                        *v = serde_spanned::Spanned::new(v.span(), Recoveries::One(r.to_string()));
                    }
                }
            }
            (Some(r), Arc::new(one))
        })
        .collect()
}

/// Repetition-major: every scenario's first repetition, then every
/// scenario's second, and so on. A pair's repetitions are then far apart, so
/// the set-up image its first trial starts (`runner::setup_image`) is
/// usually ready for the next; a run stopped early has every scenario.
pub fn plan(scenarios: &[Arc<LoadedScenario>], reps: Option<u32>, seed: u64) -> Vec<Trial> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cells: Vec<(&Arc<LoadedScenario>, u32, Vec<Fault>)> = scenarios
        .iter()
        .map(|s| {
            let name = &s.scenario.scenario.name;
            let faults = nemesis::expand(&s.scenario.faults, trial_seed(seed, name, u32::MAX));
            (s, reps.unwrap_or(s.scenario.scenario.reps), faults)
        })
        .collect();
    let most = cells.iter().map(|(_, r, _)| *r).max().unwrap_or(0);
    let mut trials = Vec::new();
    for rep in 0..most {
        for (s, reps, faults) in &cells {
            if rep >= *reps {
                continue;
            }
            for fault in faults {
                let trial_seed =
                    trial_seed(seed, &format!("{}\0{fault}", s.scenario.scenario.name), rep);
                let mut order: Vec<(ApproachKind, Option<&'static str>, Arc<LoadedScenario>)> = s
                    .scenario
                    .approaches()
                    .into_iter()
                    .flat_map(|a| variants(s, a).into_iter().map(move |(r, s)| (a, r, s)))
                    .collect();
                order.shuffle(&mut rng);
                for (approach, recovery, scenario) in order {
                    trials.push(Trial {
                        index: trials.len(),
                        scenario,
                        approach,
                        rep,
                        seed: trial_seed,
                        fault: fault.clone(),
                        recovery,
                    });
                }
            }
        }
    }
    trials
}

/// The seed of (scenario, rep): independent of the approach and of the
/// other scenarios in the run, so a trial can be reproduced alone. Its low
/// 53 bits (`vocab::MAX_SEED`): every reader of trials.csv loads it exactly.
pub fn trial_seed(run_seed: u64, scenario: &str, rep: u32) -> u64 {
    let h = blake3::hash(format!("{run_seed}\0{scenario}\0{rep}").as_bytes());
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes")) & crate::vocab::MAX_SEED
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;
    use std::path::PathBuf;

    fn scenario() -> Arc<LoadedScenario> {
        let text = r#"
[scenario]
name = "t"
approaches = ["apt", "pip", "pip-venv", "nix"]
reps = 2
[[package]]
name = "a"
version = "1.0"
[operation]
kind = "install"
packages = ["a"]
"#;
        Arc::new(LoadedScenario {
            path: PathBuf::from("t.toml"),
            scenario: parse(text).unwrap(),
        })
    }

    #[test]
    fn every_approach_of_a_rep_shares_its_seed() {
        let t = plan(&[scenario()], Some(3), 7);
        assert_eq!(t.len(), 12);
        for rep in 0..3 {
            let seeds: Vec<u64> = t.iter().filter(|x| x.rep == rep).map(|x| x.seed).collect();
            assert_eq!(seeds.len(), 4);
            assert!(seeds.iter().all(|s| *s == seeds[0]));
        }
        assert_ne!(t[0].seed, t[4].seed);
    }

    #[test]
    fn trial_seeds_stay_below_2_pow_53() {
        let seeds: Vec<u64> = (0..200).map(|rep| trial_seed(u64::MAX, "t", rep)).collect();
        assert!(seeds.iter().all(|s| *s <= crate::vocab::MAX_SEED));
        // Not all small: the mask keeps the high bits' spread below 2^53.
        assert!(seeds.iter().any(|s| *s > 1 << 52));
        assert!(crate::vocab::parse_seed("9007199254740991").is_ok());
        let e = crate::vocab::parse_seed("9007199254740992").unwrap_err();
        assert!(
            e.contains("2^53") && e.contains("R, pandas and DuckDB"),
            "{e}"
        );
        assert!(crate::vocab::parse_seed("-1").is_err());
    }

    #[test]
    fn same_seed_same_plan_and_reps_default_from_file() {
        let a = plan(&[scenario()], None, 42);
        let b = plan(&[scenario()], None, 42);
        assert_eq!(a.len(), 8);
        let key = |t: &Vec<Trial>| {
            t.iter()
                .map(|x| (x.approach, x.rep, x.seed))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        let c = plan(&[scenario()], None, 43);
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn repetitions_come_in_rounds_across_scenarios() {
        let mut other = (*scenario()).clone();
        other.scenario.scenario.name = "u".into();
        other.scenario.scenario.reps = 3;
        let t = plan(&[scenario(), Arc::new(other)], None, 1);
        // t: 2 reps × 4 approaches, u: 3 × 4.
        assert_eq!(t.len(), 20);
        let reps: Vec<u32> = t.iter().map(|x| x.rep).collect();
        assert!(reps.windows(2).all(|w| w[0] <= w[1]), "{reps:?}");
        let names: Vec<&str> = t[..8]
            .iter()
            .map(|x| x.scenario.scenario.scenario.name.as_str())
            .collect();
        assert_eq!(names, ["t", "t", "t", "t", "u", "u", "u", "u"]);
        assert!(t[16..]
            .iter()
            .all(|x| x.scenario.scenario.scenario.name == "u"));
        assert!(t.iter().enumerate().all(|(i, x)| x.index == i));
    }
}
