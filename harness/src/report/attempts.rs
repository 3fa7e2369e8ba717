//! The side effects a failing package's scripts attempted (the same literal
//! paths in every ecosystem) and, per approach, whether they landed or were
//! refused, as whom and why: the evidence of which mechanism decided.

use std::collections::{BTreeMap, BTreeSet};

use super::{ApproachStats, Block};
use crate::history::Phase;

/// What one approach's trials did with one attempted side effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptTally {
    /// Trials (with a history) whose operation attempted it.
    pub attempted: usize,
    /// …in which at least one attempt landed.
    pub landed: usize,
    /// …in which every attempt was refused.
    pub refused: usize,
    /// Trials whose later steps (the recovery playbook) attempted it again.
    pub again_later: usize,
    pub uids: BTreeSet<String>,
    pub errors: BTreeSet<String>,
}

/// `(op, path)` → what one approach's trials did with it.
pub type Tallies = BTreeMap<(String, String), AttemptTally>;

/// The tallies of one approach's data trials.
pub fn tally(g: &ApproachStats) -> Tallies {
    let mut out = Tallies::new();
    for h in g.data.iter().filter_map(|t| t.history.as_ref()) {
        // Per trial: an attempt counts once however often the script ran
        // (pip runs setup.py twice on its legacy path).
        let mut seen: BTreeMap<(String, String), bool> = BTreeMap::new();
        for (_, a) in h.attempts.iter().filter(|(p, _)| *p == Phase::Operation) {
            let key = (a.op.clone(), a.path.clone());
            let t = out.entry(key.clone()).or_default();
            t.uids.insert(a.uid.clone());
            if !a.error.is_empty() {
                t.errors.insert(a.error.clone());
            }
            *seen.entry(key).or_insert(false) |= a.landed;
        }
        for (key, landed) in seen {
            let t = out.get_mut(&key).expect("inserted above");
            t.attempted += 1;
            if landed {
                t.landed += 1;
            } else {
                t.refused += 1;
            }
        }
        let later: BTreeSet<(String, String)> = h
            .attempts
            .iter()
            .filter(|(p, _)| *p != Phase::Operation)
            .map(|(_, a)| (a.op.clone(), a.path.clone()))
            .collect();
        for key in later {
            out.entry(key).or_default().again_later += 1;
        }
    }
    out
}

/// The attempts table and what decided, or nothing when no trial's scripts
/// attempted anything (or trials.jsonl is missing).
pub fn blocks(groups: &[ApproachStats]) -> Vec<Block> {
    let tallies: Vec<(&ApproachStats, Tallies)> = groups.iter().map(|g| (g, tally(g))).collect();
    let keys: BTreeSet<(String, String)> = tallies
        .iter()
        .flat_map(|(_, t)| t.keys().cloned())
        .collect();
    if keys.is_empty() {
        return Vec::new();
    }
    let mut doc = vec![
        Block::Subheading("Attempted side effects".into()),
        Block::Para(
            "Every ecosystem's failing script (maintainer script, setup.py, Nix builder) attempts the same literal paths; \
             each attempt reports from inside the script whether it landed, as which uid, and the error when refused. \
             Cells count trials (with a history) of the failing operation."
                .into(),
        ),
    ];
    let mut head = vec!["attempt".to_string()];
    head.extend(tallies.iter().map(|(g, _)| g.approach.to_string()));
    let rows = keys
        .iter()
        .map(|key| {
            let mut r = vec![format!("{} `{}`", key.0, key.1)];
            r.extend(tallies.iter().map(|(g, t)| cell(t.get(key), g.histories)));
            r
        })
        .collect();
    doc.push(Block::Table { head, rows });
    doc
}

fn cell(t: Option<&AttemptTally>, histories: usize) -> String {
    let Some(t) = t.filter(|t| t.attempted > 0) else {
        return format!("not attempted (0/{histories})");
    };
    let mut parts = Vec::new();
    if t.landed > 0 {
        parts.push(format!("landed {}/{histories}", t.landed));
    }
    if t.refused > 0 {
        parts.push(format!("refused {}/{histories}", t.refused));
    }
    let missing = histories.saturating_sub(t.attempted);
    if missing > 0 {
        parts.push(format!("not attempted {missing}/{histories}"));
    }
    let uids = t.uids.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut s = format!("{} (uid {uids})", parts.join(", "));
    if !t.errors.is_empty() {
        let errors: Vec<String> = t
            .errors
            .iter()
            .map(|e| short_error(e))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        s.push_str(&format!(": {}", errors.join("; ")));
    }
    if t.again_later > 0 {
        s.push_str(&format!(
            "; attempted again by the playbook in {}/{histories}",
            t.again_later
        ));
    }
    s
}

/// The errno text of a refusal, however the script's language worded it
/// (`sh: 3: cannot create /etc/x: Permission denied`, `[Errno 13]
/// Permission denied: '/etc/x'`); anything else cut at 80 characters.
fn short_error(e: &str) -> String {
    const ERRNO_TEXTS: [&str; 10] = [
        "Permission denied",
        "Operation not permitted",
        "Read-only file system",
        "No such file or directory",
        "Not a directory",
        "Is a directory",
        "File exists",
        "No space left on device",
        "Directory not empty",
        "Device or resource busy",
    ];
    match ERRNO_TEXTS.iter().find(|t| e.contains(*t)) {
        Some(t) => t.to_string(),
        None => e.chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Attempt;
    use crate::report::{HistoryView, Trial};

    fn trial(approach: &str, rep: u32, attempts: &[(&str, bool, &str)]) -> Trial {
        let record = crate::report::claims::tests::record(approach, rep, 1, 0, 0, "true", 0.0);
        let attempts = attempts
            .iter()
            .map(|(phase, landed, error)| {
                let a = Attempt {
                    op: "write".into(),
                    path: "/etc/x.conf".into(),
                    landed: *landed,
                    uid: if *landed { "0" } else { "30001" }.into(),
                    error: error.to_string(),
                };
                let phase: Phase = serde_json::from_str(&format!("\"{phase}\"")).unwrap();
                (phase, a)
            })
            .collect();
        Trial {
            record,
            history: Some(HistoryView {
                attempts,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn an_attempt_counts_once_per_trial_and_the_playbook_apart() {
        // pip runs setup.py twice; apt's playbook runs the postinst again.
        let trials = [
            trial(
                "pip",
                1,
                &[("operation", true, ""), ("operation", true, "")],
            ),
            trial("pip", 2, &[("operation", true, ""), ("recovery", true, "")]),
            trial("pip", 3, &[]),
        ];
        let g = ApproachStats::of("pip".parse().unwrap(), trials.iter().collect());
        let t = &tally(&g)[&("write".to_string(), "/etc/x.conf".to_string())];
        assert_eq!(
            (t.attempted, t.landed, t.refused, t.again_later),
            (2, 2, 0, 1)
        );
        assert_eq!(
            cell(Some(t), g.histories),
            "landed 2/3, not attempted 1/3 (uid 0); attempted again by the playbook in 1/3"
        );
    }

    #[test]
    fn refusals_show_the_uid_and_the_errno_text() {
        let trials = [
            trial(
                "nix",
                1,
                &[(
                    "operation",
                    false,
                    "sh: 3: cannot create /etc/x.conf: Permission denied",
                )],
            ),
            trial(
                "nix",
                2,
                &[(
                    "operation",
                    false,
                    "[Errno 13] Permission denied: '/etc/x.conf'",
                )],
            ),
        ];
        let g = ApproachStats::of("nix".parse().unwrap(), trials.iter().collect());
        let doc = blocks(&[g]);
        let Some(Block::Table { rows, .. }) = doc.last() else {
            panic!("{doc:?}")
        };
        assert_eq!(
            rows[0],
            vec![
                "write `/etc/x.conf`",
                "refused 2/2 (uid 30001): Permission denied"
            ]
        );
    }

    #[test]
    fn no_attempts_no_section() {
        let trials = [trial("apt", 1, &[])];
        assert!(blocks(&[ApproachStats::of(
            "apt".parse().unwrap(),
            trials.iter().collect()
        )])
        .is_empty());
    }
}
