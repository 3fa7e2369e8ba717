//! Configure trials (a bad configuration of a real service, then the
//! approach's recovery): per scenario × approach, what the health probe saw.
//! A configure trial is a row whose service columns are filled
//! (`healthy_before`, `downtime_ms`, …; empty in every other row).

use std::collections::BTreeMap;

use super::{by_approach, fmt_count, fmt_ms, Block, Tally, Trial};
use crate::export::{ApproachKind, TriBool, TrialRecord};
use crate::stats::{self, Summary, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};

/// Whether a row is a configure trial's: the probe measured the service.
pub fn is_configure(t: &Trial) -> bool {
    t.record.healthy_before.is_some() || t.record.downtime_ms.is_some()
}

/// One time column over a set of trials: its summary and the bootstrap CI
/// of its median (the report's one way, `stats`), how many trials left it
/// empty, and how many of its values are lower bounds (`censored`: the
/// service never came back, so its `downtime_ms` went on past the probe's
/// last sample). With any censored value the median and its CI are lower
/// bounds too, and the text says so with "≥".
#[derive(Debug, Clone, Copy, Default)]
pub struct Metric {
    pub summary: Option<Summary>,
    pub ci: Option<(f64, f64)>,
    pub empty: usize,
    pub censored: usize,
}

impl Metric {
    fn of(values: impl IntoIterator<Item = Option<f64>>) -> Metric {
        Metric::censored_of(values.into_iter().map(|v| (v, false)))
    }

    /// Values each with whether it is only a lower bound.
    fn censored_of(values: impl IntoIterator<Item = (Option<f64>, bool)>) -> Metric {
        let mut v = Vec::new();
        let (mut empty, mut censored) = (0, 0);
        for (x, lower_bound) in values {
            match x {
                Some(x) => {
                    v.push(x);
                    censored += usize::from(lower_bound);
                }
                None => empty += 1,
            }
        }
        Metric {
            summary: Summary::of(&v),
            ci: stats::bootstrap_median_ci(&v, BOOTSTRAP_SEED, BOOTSTRAP_RESAMPLES, 0.95),
            empty,
            censored,
        }
    }

    /// "≥ " when the figures are lower bounds.
    fn bound(&self) -> &'static str {
        if self.censored > 0 {
            "≥ "
        } else {
            ""
        }
    }

    /// "; 2 never came back" inside the sample label, when censored.
    fn censored_note(&self) -> String {
        match self.censored {
            0 => String::new(),
            k => format!("; {k} never came back"),
        }
    }

    /// "74 ms [57 – 96 ms] (n=15)", "≥ 2.1 s [...] (n=3, small sample; 1
    /// never came back)", or `none` when nothing was measured.
    pub fn text(&self, none: &str) -> String {
        match (self.summary, self.ci) {
            (Some(s), Some((lo, hi))) => {
                let label = stats::sample_label(s.n);
                format!(
                    "{b}{} [{b}{} – {}] {}{})",
                    fmt_ms(s.median),
                    fmt_ms(lo),
                    fmt_ms(hi),
                    label.trim_end_matches(')'),
                    self.censored_note(),
                    b = self.bound(),
                )
            }
            _ => none.to_string(),
        }
    }

    /// "74 ms (median; 95% CI 57 ms – 96 ms, n=15)" for a sentence.
    pub fn sentence(&self) -> Option<String> {
        let (s, (lo, hi)) = (self.summary?, self.ci?);
        Some(format!(
            "{b}{} (median; 95% CI {b}{} – {}, {}{})",
            fmt_ms(s.median),
            fmt_ms(lo),
            fmt_ms(hi),
            stats::sample_label(s.n).trim_matches(['(', ')']),
            self.censored_note(),
            b = self.bound(),
        ))
    }
}

/// The row's `downtime_ms` is a lower bound: the service never came back.
/// Files from before `downtime_censored` say it by a service unhealthy at
/// the end of a recovery.
fn censored(t: &Trial) -> bool {
    t.record
        .downtime_censored
        .unwrap_or(t.record.healthy_after_recovery == Some(false))
}

fn tri(v: Option<bool>) -> TriBool {
    match v {
        Some(true) => TriBool::True,
        Some(false) => TriBool::False,
        None => TriBool::Unknown,
    }
}

/// One approach's configure trials (errored ones excluded, counted apart).
#[derive(Debug, Clone)]
pub struct ServiceStats {
    pub approach: ApproachKind,
    /// Non-errored configure trials.
    pub n: usize,
    pub errored: usize,
    pub healthy_after_change: Tally,
    pub detect_ms: Metric,
    pub downtime_ms: Metric,
    pub restore_ms: Metric,
    /// `restore_ms` of the trials whose service was down when the recovery
    /// started (`healthy_after_change` false): the recoveries that had
    /// something to bring back.
    pub restore_when_down_ms: Metric,
    pub healthy_after_recovery: Tally,
    pub recovered: Tally,
    /// The recovery lost the wanted edit (configure scenarios; unknown for
    /// a package site, which has none).
    pub wanted_edit_lost: Tally,
    /// A known row was missing or changed after the recovery (a service
    /// holding data; unknown elsewhere).
    pub data_lost: Tally,
    pub final_files: Option<Summary>,
    pub final_packages: Option<Summary>,
    /// Trials whose probe never failed (no `detect_ms`).
    pub never_failed: usize,
    /// The longest gap between two probe samples in any trial (trials.jsonl).
    pub max_gap_ms: Option<f64>,
    /// Each sequence of recovery commands (trials.jsonl) and its trials.
    pub recoveries: BTreeMap<Vec<String>, usize>,
    /// Trials with a history in trials.jsonl.
    pub histories: usize,
}

impl ServiceStats {
    pub fn of<'a>(trials: impl IntoIterator<Item = &'a Trial>) -> Vec<ServiceStats> {
        by_approach(trials)
            .into_iter()
            .map(|g| {
                let data = &g.data;
                let rec = |f: &dyn Fn(&Trial) -> Option<f64>| Metric::of(data.iter().map(|t| f(t)));
                let mut recoveries = BTreeMap::new();
                let mut histories = 0;
                let mut max_gap: Option<f64> = None;
                for h in data.iter().filter_map(|t| t.history.as_ref()) {
                    histories += 1;
                    *recoveries.entry(h.recovery_commands.clone()).or_insert(0) += 1;
                    if let Some(gap) = h.probe_max_gap_ms {
                        max_gap = Some(max_gap.map_or(gap, |m| m.max(gap)));
                    }
                }
                let summary = |f: &dyn Fn(&Trial) -> Option<usize>| {
                    Summary::of(
                        &data
                            .iter()
                            .filter_map(|t| f(t).map(|v| v as f64))
                            .collect::<Vec<_>>(),
                    )
                };
                ServiceStats {
                    approach: g.approach,
                    n: data.len(),
                    errored: g.all.len() - data.len(),
                    healthy_after_change: Tally::of(
                        data.iter().map(|t| tri(t.record.healthy_after_change)),
                    ),
                    detect_ms: rec(&|t| t.record.detect_ms),
                    downtime_ms: Metric::censored_of(
                        data.iter().map(|t| (t.record.downtime_ms, censored(t))),
                    ),
                    restore_ms: rec(&|t| t.record.restore_ms),
                    restore_when_down_ms: Metric::of(
                        data.iter()
                            .filter(|t| t.record.healthy_after_change == Some(false))
                            .map(|t| t.record.restore_ms),
                    ),
                    healthy_after_recovery: Tally::of(
                        data.iter().map(|t| tri(t.record.healthy_after_recovery)),
                    ),
                    recovered: Tally::of(data.iter().map(|t| t.record.recovered)),
                    wanted_edit_lost: Tally::of(
                        data.iter().map(|t| tri(t.record.wanted_edit_lost)),
                    ),
                    data_lost: Tally::of(data.iter().map(|t| tri(t.record.data_lost))),
                    final_files: summary(&|t| t.record.final_residue_files),
                    final_packages: summary(&|t| t.record.final_residue_packages),
                    never_failed: data.iter().filter(|t| t.record.detect_ms.is_none()).count(),
                    max_gap_ms: max_gap,
                    recoveries,
                    histories,
                }
            })
            .collect()
    }

    /// "`a` then `b` in 15/15" per distinct sequence; None without histories.
    pub fn recovery_text(&self) -> Option<String> {
        if self.histories == 0 {
            return None;
        }
        let mut seqs: Vec<(&Vec<String>, &usize)> = self.recoveries.iter().collect();
        seqs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = seqs
            .iter()
            .map(|(cmds, k)| {
                let what = if cmds.is_empty() {
                    "no recovery command".to_string()
                } else {
                    format!(
                        "{} command{} ({})",
                        cmds.len(),
                        if cmds.len() == 1 { "" } else { "s" },
                        cmds.iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", then ")
                    )
                };
                format!("{what} in {k}/{}", self.histories)
            })
            .collect();
        Some(parts.join("; "))
    }
}

/// The configure trials of `trials`, or nothing.
pub fn configure_trials(trials: &[Trial]) -> Vec<&Trial> {
    trials.iter().filter(|t| is_configure(t)).collect()
}

/// The service a row probed: its `service` column, or nginx for a service
/// row from before the column (nginx was the only service then); None for
/// a row without a service.
pub fn service_of(r: &TrialRecord) -> Option<&str> {
    if !r.service.is_empty() {
        Some(&r.service)
    } else if r.healthy_before.is_some() || r.downtime_ms.is_some() {
        Some("nginx")
    } else {
        None
    }
}

/// The services `trials` probed, in a fixed order.
pub fn services<'a>(trials: &[&'a Trial]) -> Vec<&'a str> {
    let set: std::collections::BTreeSet<&str> = trials
        .iter()
        .filter_map(|t| service_of(&t.record))
        .collect();
    set.into_iter().collect()
}

/// One approach run with one recovery: its label ("apt (backup)" when the
/// approach ran several recoveries in the trials grouped, else "apt"), its
/// figures and its trials.
pub struct Variant<'a> {
    pub label: String,
    pub stats: ServiceStats,
    pub trials: Vec<&'a Trial>,
}

/// Configure trials grouped by approach (in the report's order) and then
/// by recovery (in order of first appearance).
pub fn variants<'a>(trials: &[&'a Trial]) -> Vec<Variant<'a>> {
    let mut out = Vec::new();
    for s in ServiceStats::of(trials.iter().copied()) {
        let mine: Vec<&Trial> = trials
            .iter()
            .copied()
            .filter(|t| t.record.approach == s.approach)
            .collect();
        let mut recoveries: Vec<&str> = Vec::new();
        for t in &mine {
            if !recoveries.contains(&t.record.recovery.as_str()) {
                recoveries.push(&t.record.recovery);
            }
        }
        if recoveries.len() <= 1 {
            out.push(Variant {
                label: s.approach.to_string(),
                stats: s,
                trials: mine,
            });
            continue;
        }
        for r in recoveries {
            let group: Vec<&Trial> = mine
                .iter()
                .copied()
                .filter(|t| t.record.recovery == r)
                .collect();
            // Rows without a configuration recovery watch a service
            // through a package upgrade: the package's recovery ran.
            let r = if r.is_empty() { "package recovery" } else { r };
            for stats in ServiceStats::of(group.iter().copied()) {
                out.push(Variant {
                    label: format!("{} ({r})", s.approach),
                    stats,
                    trials: group.clone(),
                });
            }
        }
    }
    out
}

/// The errored trials of the scenarios that have configure trials: they
/// carry no service columns, so they are counted by scenario.
fn errored_in(trials: &[Trial], scenarios: &[&str]) -> Vec<String> {
    trials
        .iter()
        .filter(|t| t.errored() && scenarios.contains(&t.record.scenario.as_str()))
        .map(|t| {
            format!(
                "`{}` {} rep {}: {}",
                t.record.scenario, t.record.approach, t.record.rep, t.record.error
            )
        })
        .collect()
}

/// What `downtime_ms` includes, said wherever it is shown.
pub const DOWNTIME_CAVEAT: &str = "`downtime_ms` counts the probe's failures during the change, a reaction window \
     after it that is the same for every approach (`settle_ms`, 1000 ms by default), and from the recovery's start on; \
     the harness's own snapshot and checks in between are not counted (trials.jsonl's `service.failing_total_ms` has \
     every failing moment). The reaction window is a fixed stand-in for an operator noticing, so `restore_ms` \
     (recovery start → first healthy probe) is the comparable recovery number";

/// The section, or nothing when the run has no configure trials.
pub fn blocks(trials: &[Trial]) -> Vec<Block> {
    let configure = configure_trials(trials);
    if configure.is_empty() {
        return Vec::new();
    }
    let mut scenarios: Vec<&str> = Vec::new();
    for t in &configure {
        if !scenarios.contains(&t.record.scenario.as_str()) {
            scenarios.push(&t.record.scenario);
        }
    }
    let mut doc = vec![Block::Heading(
        "Bad configurations of a real service".into(),
    )];
    let all = ServiceStats::of(configure.iter().copied());
    let gap = all
        .iter()
        .filter_map(|s| s.max_gap_ms)
        .max_by(f64::total_cmp)
        .map(|g| format!(" (the longest gap between two samples after a change: {}, the resolution of the times below)", fmt_ms(g)))
        .unwrap_or_else(|| " (trials.jsonl not found: the probe's resolution is unknown)".into());
    doc.push(Block::Para(format!(
        "{} configure trials in {} scenarios (one bad configuration each): the service (nginx, sshd or PostgreSQL) starts on its good \
         configuration and a health probe samples it (the scenario's probes: an HTTP request, a TCP connect or a command such as an \
         SSH login){gap}; the bad configuration is applied, \
         then the approach's recovery runs. `detect_ms`: the change command's return → first failing probe (0 when it failed while the \
         command ran, empty when it never failed); \
         `downtime_ms`: time the probe failed during the change and the reaction window, and after the recovery started (\"≥\": some service \
         never came back, so its downtime is a lower bound and so are the median and CI); `restore_ms`: recovery start → \
         first healthy probe (0 when the service was still serving, empty when it never came back); wanted edit lost: the recovery dropped an earlier good change \
         made after apt's backup copy was taken (unknown without one); data lost: a row PostgreSQL held was missing or changed after the \
         recovery (unknown for services without data). An approach with several recoveries has a row for each. Times are medians [95% CI]. \
         Note: {DOWNTIME_CAVEAT}.",
        configure.len(),
        scenarios.len()
    )));
    let head: Vec<String> = [
        "scenario",
        "approach",
        "n",
        "healthy right after the change",
        "detect_ms",
        "downtime_ms",
        "restore_ms",
        "healthy after recovery",
        "recovered",
        "wanted edit lost",
        "data lost",
        "left after recovery: files / packages, median (max files)",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for scenario in &scenarios {
        let of_scenario: Vec<&Trial> = configure
            .iter()
            .copied()
            .filter(|t| t.record.scenario == *scenario)
            .collect();
        let cells: Vec<(String, ServiceStats)> = variants(&of_scenario)
            .into_iter()
            .map(|v| (v.label, v.stats))
            .collect();
        for (label, s) in cells {
            let never = match (s.detect_ms.summary, s.never_failed) {
                (_, 0) => String::new(),
                (None, k) => format!("— (never failed: {k}/{})", s.n),
                (Some(_), k) => format!("; never failed in {k}"),
            };
            let detect = match s.detect_ms.summary {
                None => never,
                Some(_) => format!("{}{never}", s.detect_ms.text("—")),
            };
            let left = match (s.final_files, s.final_packages) {
                (Some(f), Some(p)) => format!(
                    "{} / {} ({})",
                    fmt_count(f.median),
                    fmt_count(p.median),
                    fmt_count(f.max)
                ),
                _ => "—".into(),
            };
            rows.push(vec![
                format!("`{scenario}`"),
                label,
                s.n.to_string(),
                s.healthy_after_change.percent(),
                detect,
                s.downtime_ms.text("—"),
                s.restore_ms.text("—"),
                s.healthy_after_recovery.percent(),
                s.recovered.percent(),
                s.wanted_edit_lost.percent(),
                s.data_lost.percent(),
                left,
            ]);
        }
    }
    doc.push(Block::Table { head, rows });

    let mut notes = Vec::new();
    let every = variants(&configure);
    let per_approach: Vec<String> = every
        .iter()
        .map(|v| {
            let s = &v.stats;
            format!(
                "{} restore_ms {}, and {} over the trials where the service was down when the recovery started; downtime_ms {}",
                v.label,
                s.restore_ms.text("—"),
                s.restore_when_down_ms.text("— (never down)"),
                s.downtime_ms.text("—")
            )
        })
        .collect();
    notes.push(format!(
        "Over every bad configuration, per approach: {}.",
        per_approach.join("; ")
    ));
    let never: Vec<String> = all
        .iter()
        .filter(|s| s.never_failed > 0)
        .map(|s| format!("{} {}/{}", s.approach, s.never_failed, s.n))
        .collect();
    if !never.is_empty() {
        notes.push(format!(
            "The probe never failed after the change in {} trials: the service kept answering the old configuration \
             (restore_ms is 0 there; these trials are in the medians).",
            never.join(", ")
        ));
    }
    for v in &every {
        if let Some(r) = v.stats.recovery_text() {
            notes.push(format!("{}'s recovery ran {r} (trials.jsonl).", v.label));
        }
    }
    let errored = errored_in(trials, &scenarios);
    if errored.is_empty() {
        notes.push("No trial of these scenarios errored: every row above is data.".into());
    } else {
        notes.push(format!(
            "{} errored trials of these scenarios are excluded from the table ({}).",
            errored.len(),
            errored.join("; ")
        ));
    }
    doc.push(Block::List(notes));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{document, markdown, Run};

    pub(crate) fn fixture() -> Run {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-bad-config");
        Run::load(&dir).unwrap()
    }

    #[test]
    fn the_section_shows_each_scenario_and_approach_of_a_real_run() {
        let run = fixture();
        let md = markdown::render(&document(&run));
        assert!(
            md.contains("## Bad configurations of a real service"),
            "{md}"
        );
        assert!(md.contains("30 configure trials in 5 scenarios"), "{md}");
        assert!(
            md.contains("(the longest gap between two samples after a change: 44 ms"),
            "{md}"
        );
        assert!(
            md.contains("a fixed stand-in for an operator noticing"),
            "{md}"
        );
        // wrong-root, nix: the probe failed 345–369 ms after the change, the
        // rollback brought it back in 180–204 ms (medians of 3 with CIs).
        assert!(
            md.contains(
                "| `bad-config-wrong-root` | nix | 3 | 0% (0/3) | 347 ms [345 ms – 369 ms] (n=3, small sample) \
                 | 1.73 s [1.72 s – 1.74 s] (n=3, small sample) | 196 ms [180 ms – 204 ms] (n=3, small sample) \
                 | 100% (3/3) | 100% (3/3) | 0% (0/3, 3 unknown) | 0% (0/3, 3 unknown) | 0 / 0 (0) |"
            ),
            "{md}"
        );
        // A syntax error is refused by `nginx -t`: the old workers keep serving.
        assert!(
            md.contains("| `bad-config-syntax-error` | apt | 3 | 100% (3/3) | — (never failed: 3/3) | 0 ms [0 ms – 0 ms]"),
            "{md}"
        );
        assert!(
            md.contains("The probe never failed after the change in apt 6/15, nix 6/15 trials"),
            "{md}"
        );
        assert!(
            md.contains("nix's recovery ran 2 commands (`nix-env -p /nix/var/nix/profiles/system --rollback`, then `sh /fixtures/service/apply.sh`) in 15/15 (trials.jsonl)"),
            "{md}"
        );
        assert!(md.contains("No trial of these scenarios errored"), "{md}");
        assert!(
            md.contains("nix restore_ms 64 ms [0 ms – 79 ms] (n=15), and 79 ms [64 ms – 196 ms] (n=9, small sample) over the trials where the service was down"),
            "{md}"
        );
        assert!(!md.contains("   "), "no stray runs of spaces: {md}");
        // The section sits between the claims and the scenarios.
        let (claims, section, first) = (
            md.find("## Claims").unwrap(),
            md.find("## Bad configurations").unwrap(),
            md.find("## Scenario `").unwrap(),
        );
        assert!(claims < section && section < first);
        // HTML renders the same blocks.
        let html = crate::report::html::render(&document(&run));
        assert!(html.contains("<h2>Bad configurations of a real service</h2>"));
        assert!(html.contains("<td>196 ms [180 ms – 204 ms] (n=3, small sample)</td>"));
    }

    #[test]
    fn a_service_that_never_came_back_shows_its_downtime_as_a_lower_bound() {
        let mut run = fixture();
        run.trials.retain(|t| {
            t.record.scenario == "bad-config-wrong-root" && t.record.approach.as_str() == "apt"
        });
        let plain = markdown::render(&blocks(&run.trials));
        assert!(!plain.contains("| ≥ "), "{plain}");
        run.trials[0].record.restore_ms = None;
        run.trials[0].record.downtime_censored = Some(true);
        let s = &ServiceStats::of(run.trials.iter())[0];
        assert_eq!(s.downtime_ms.censored, 1);
        let text = s.downtime_ms.text("—");
        assert!(
            text.starts_with("≥ ") && text.contains("; 1 never came back)"),
            "{text}"
        );
        assert!(s.downtime_ms.sentence().unwrap().starts_with("≥ "));
        let md = markdown::render(&blocks(&run.trials));
        assert!(md.contains("| ≥ "), "{md}");
        // A file from before the column: unhealthy at the end says it.
        run.trials[0].record.downtime_censored = None;
        run.trials[0].record.healthy_after_recovery = Some(false);
        assert_eq!(
            ServiceStats::of(run.trials.iter())[0].downtime_ms.censored,
            1
        );
    }

    #[test]
    fn no_configure_trial_no_section_and_empty_cells_are_not_numbers() {
        let mut run = fixture();
        for t in &mut run.trials {
            t.record.healthy_before = None;
            t.record.downtime_ms = None;
        }
        assert!(blocks(&run.trials).is_empty());
        let mut run = fixture();
        run.trials.retain(|t| {
            t.record.scenario == "bad-config-wrong-root" && t.record.approach.as_str() == "apt"
        });
        run.trials[0].record.restore_ms = None;
        run.trials[0].record.healthy_after_recovery = None;
        run.trials[1].record.outcome = crate::checker::Outcome::Errored;
        run.trials[1].record.error = "docker went away".into();
        let s = &ServiceStats::of(run.trials.iter())[0];
        assert_eq!((s.n, s.errored), (2, 1));
        assert_eq!(s.restore_ms.summary.unwrap().n, 1);
        assert_eq!(s.restore_ms.empty, 1);
        assert_eq!(s.healthy_after_recovery.percent(), "50% (1/2, 1 unknown)");
        let md = markdown::render(&blocks(&run.trials));
        assert!(
            md.contains("1 errored trials of these scenarios are excluded"),
            "{md}"
        );
    }
}
