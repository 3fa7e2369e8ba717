//! The matrix's cells and the study's stopping rule, from rows made here.
use super::*;
use crate::export::{FaultLabel, TriBool};

fn row(approach: &str, fault: &str, outcome: Outcome, residue: usize) -> TrialRecord {
    let mut r: TrialRecord = serde_json::from_value(serde_json::json!({
        "scenario": "s", "approach": approach, "fault": fault, "rep": 0, "seed": 1,
        "outcome": outcome.as_str(), "consistent": "true", "residue_files": residue,
        "residue_added": residue, "residue_removed": 0, "residue_modified": 0,
        "residue_packages": 0, "garbage_paths": 0, "playbook_ran": false,
        "recovery_ms": 0.0, "recovered": "true", "final_residue_files": 0,
        "final_residue_packages": 0, "final_garbage_paths": 0, "operation_ms": 1.0,
        "trial_wall_ms": 1.0, "overhead_ms": 0.0, "error": ""
    }))
    .unwrap();
    r.fault = FaultLabel::from(fault);
    r
}

fn summary(records: Vec<TrialRecord>) -> Summary {
    let trials = records
        .into_iter()
        .map(|record| Trial {
            record,
            history: None,
        })
        .collect();
    let run = Run {
        dir: PathBuf::from("x"),
        meta: None,
        trials,
        trials_csv: true,
        jsonl: super::super::JsonlState::Missing,
        crash: None,
    };
    let data = StudyData {
        run: Some(run),
        points: Vec::new(),
        explores: Vec::new(),
    };
    Summary::of(Path::new("x"), data, None)
}

#[test]
fn cells_follow_the_rows() {
    let mut unknown = row("nix", "none", Outcome::Failed, 0);
    unknown.consistent = TriBool::Unknown;
    let mut bad_config = row("ansible", "none", Outcome::Failed, 1);
    bad_config.healthy_before = Some(true);
    let s = summary(vec![
        bad_config,
        row("apt", "none", Outcome::Failed, 34),
        row("apt", "none", Outcome::Failed, 30),
        row("nix", "none", Outcome::Failed, 0),
        unknown,
        row("pip", "none", Outcome::Failed, 0),
        row("pip", "none", Outcome::Failed, 2),
    ]);
    let names: Vec<&str> = s.approaches.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        names,
        ["apt", "ansible", "pip", "nix"],
        "the registry's order"
    );
    let atomicity = &s.rows[0];
    assert_eq!(atomicity.claim, ClaimId::Atomicity);
    let [apt, ansible, pip, nix] = &atomicity.cells[..] else {
        panic!("four cells")
    };
    assert_eq!(
        ansible.status,
        CellStatus::NotApplicable,
        "a failed configuration change is no failed install"
    );
    assert_eq!(
        (apt.status, apt.holding, apt.judged),
        (CellStatus::Contradicted, 0, 2)
    );
    assert_eq!(apt.figure.unwrap().value, 32.0);
    assert_eq!(
        (pip.status, pip.holding, pip.judged),
        (CellStatus::Contradicted, 1, 2)
    );
    assert_eq!(
        (nix.status, nix.holding, nix.judged),
        (CellStatus::Unknown, 1, 2),
        "an unknown check leaves it undecided, never held"
    );
    // No retry, experiment or faulted rows: not applicable.
    for r in [&s.rows[1], &s.rows[4], &s.rows[5]] {
        assert!(
            r.cells
                .iter()
                .all(|c| c.status == CellStatus::NotApplicable),
            "{:?}",
            r.claim
        );
    }
}

#[test]
fn a_cell_settles_once_decided_and_narrow() {
    let apt = |residue| row("apt", "none", Outcome::Failed, residue);
    assert_eq!(settled(&[apt(34), apt(34)]), Ok(()));
    let wide = settled(&[apt(4), apt(40)]).unwrap_err();
    assert!(wide.contains("interval"), "{wide}");
    let mut unknown = apt(0);
    unknown.consistent = TriBool::Unknown;
    assert!(settled(&[apt(0), unknown])
        .unwrap_err()
        .contains("undecided"));
    let mut errored = apt(0);
    errored.outcome = Outcome::Errored;
    assert!(settled(&[apt(0), errored]).unwrap_err().contains("errored"));
    // No claim judges a succeeded upgrade: outcome, recovered and the
    // recovery time must agree.
    let mut up = row("apt", "none", Outcome::Succeeded, 3);
    up.recovery_ms = Some(400.0);
    let mut slow = up.clone();
    slow.recovery_ms = Some(4000.0);
    assert_eq!(settled(&[up.clone(), up.clone()]), Ok(()));
    assert!(settled(&[up, slow]).is_err());
}

#[test]
fn rollback_applies_only_where_generations_exist() {
    assert!(!applies(ClaimId::Rollback, crate::approach::kind("apt")));
    assert!(applies(ClaimId::Rollback, crate::approach::kind("nix")));
    assert!(applies(ClaimId::BadConfig, crate::approach::kind("apt")));
}
