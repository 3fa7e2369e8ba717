//! The summary written three ways from one `Summary`: summary.md,
//! a self-contained summary.html whose first screen is the matrix, and the
//! README's findings block (`mistake-cost findings`).

use super::{AttemptsRow, Cell, CellStatus, ClaimRow, Figure, Summary, Unit};
use crate::report::html::{escape as esc, inline};
use crate::report::{fmt_count, fmt_ms};

/// The lines around the README's generated block.
pub const BEGIN: &str = "<!-- findings:begin -->";
pub const END: &str = "<!-- findings:end -->";

/// Known upstream reports behind a measured caveat: (approach prefix,
/// what the rows show, the report). Shown only when the rows show it.
const UPSTREAM: &[(&str, &str, &str)] = &[(
    "pip",
    "`~`-prefixed folders left in site-packages (pip's stash of a half-removed distribution)",
    "pypa/pip#11849",
)];

fn figure_text(f: &Figure) -> String {
    let one = |v: f64| match f.unit {
        Unit::Count => fmt_count(v),
        Unit::Ms => fmt_ms(v),
        Unit::Share => format!("{:.0}%", v * 100.0),
    };
    let unit = match f.unit {
        Unit::Count => " paths",
        Unit::Ms => "",
        Unit::Share => " old or new",
    };
    match f.ci {
        Some((lo, hi)) if (hi - lo).abs() > 1e-9 => {
            format!("{}{unit} [{}–{}]", one(f.value), one(lo), one(hi))
        }
        _ => format!("{}{unit}", one(f.value)),
    }
}

fn symbol(s: CellStatus) -> &'static str {
    match s {
        CellStatus::Holds => "✓",
        CellStatus::Contradicted => "✗",
        CellStatus::NotApplicable => "–",
        CellStatus::Unknown => "?",
    }
}

/// A cell as one line of text: "✗ contradicted 0/3 · 34 [30–36]".
fn cell_text(c: &Cell) -> String {
    if c.status == CellStatus::NotApplicable {
        return "–".into();
    }
    let mut s = format!(
        "{} {} {}/{}",
        symbol(c.status),
        c.status.as_str(),
        c.holding,
        c.judged
    );
    if let Some(f) = &c.figure {
        s.push_str(&format!(" · {}", figure_text(f)));
    }
    s
}

/// The study folder's own name: the page reads the same wherever the
/// folder is copied.
fn folder_name(s: &Summary) -> String {
    s.dir
        .canonicalize()
        .unwrap_or_else(|_| s.dir.clone())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn provenance(s: &Summary) -> String {
    let mut parts = vec![format!(
        "{} trials, {} crash points, {} errored",
        s.trials, s.points, s.errored
    )];
    if let Some(m) = &s.meta {
        match (m.harness_commit.as_deref(), m.harness_version.as_deref()) {
            (Some(c), _) => {
                let (hash, dirty) = c.split_once('-').unwrap_or((c, ""));
                let dirty = if dirty.is_empty() {
                    String::new()
                } else {
                    format!("-{dirty}")
                };
                parts.push(format!("harness {}{dirty}", &hash[..hash.len().min(12)]));
            }
            (None, Some(v)) => parts.push(format!("harness {v}")),
            (None, None) => {}
        }
        if let Some(started) = m.started.as_deref() {
            parts.push(format!("started {started}"));
        }
    }
    if let Some(st) = &s.study {
        parts.push(format!(
            "study {:.1} min{}",
            st.wall_s / 60.0,
            if st.images_built {
                " (images built in it)"
            } else {
                ""
            }
        ));
    }
    parts.join(", ")
}

const LEGEND: &str = "✓ holds (every row judged holds) · ✗ contradicted (a row violates it) · ? unknown (rows left it undecided) · – not applicable (no row of that approach tests it). k/n: rows holding every guarantee of the claim / rows judged. The key figure follows, with its 95% interval in brackets (bootstrap of the median; Wilson for a share).";

/// The matrix as a Markdown table, approaches as rows and claims as columns.
fn matrix_markdown(s: &Summary) -> String {
    let mut out = String::from("| approach |");
    for r in &s.rows {
        out.push_str(&format!(" {} |", r.short()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(s.rows.len()));
    out.push('\n');
    for (i, a) in s.approaches.iter().enumerate() {
        out.push_str(&format!("| `{a}` |"));
        for r in &s.rows {
            out.push_str(&format!(" {} |", cell_text(&r.cells[i])));
        }
        out.push('\n');
    }
    out.push_str("\nKey figures: ");
    out.push_str(&key_figures(s));
    out.push_str(".\n");
    out
}

/// What each claim's key figure is, once per claim (a claim judged per
/// service has several rows).
fn key_figures(s: &Summary) -> String {
    let mut seen = Vec::new();
    for r in &s.rows {
        if !seen.contains(&r.claim) {
            seen.push(r.claim);
        }
    }
    seen.iter()
        .map(|c| format!("{}: {}", c.short(), c.figure_label()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A row's section heading: the claim, and the service a row per service is about.
fn row_title(r: &ClaimRow) -> String {
    match &r.service {
        Some(service) => format!("{}: {service}", r.claim.text().trim_end_matches('.')),
        None => r.claim.text().to_string(),
    }
}

fn attempts_sentence(r: &AttemptsRow) -> String {
    let who = r.uids.iter().cloned().collect::<Vec<_>>().join(", ");
    let refused = match &r.example_error {
        Some(e) => format!("{} refused ({e})", r.refused),
        None => format!("{} refused", r.refused),
    };
    format!(
        "`{}`: run as uid {who} in {} trials; {} landed, {refused}",
        r.approach, r.trials, r.landed
    )
}

/// Caveats the rows show that have a known upstream report.
fn upstream_caveats(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let Some(run) = super::StudyData::load(&s.dir).ok().and_then(|d| d.run) else {
        return out;
    };
    for (prefix, what, issue) in UPSTREAM {
        let seen: std::collections::BTreeSet<String> = run
            .trials
            .iter()
            .filter(|t| t.record.approach.as_str().starts_with(prefix))
            .filter(|t| {
                t.history.as_ref().is_some_and(|h| {
                    [&h.residue_after_failure, &h.residue_after_recovery]
                        .into_iter()
                        .flatten()
                        .any(|r| r.visible_paths().any(|p| p.contains("/~")))
                })
            })
            .map(|t| t.record.approach.to_string())
            .collect();
        if !seen.is_empty() {
            out.push(format!(
                "{} ({}): {what}; upstream: {issue}.",
                seen.into_iter().collect::<Vec<_>>().join(", "),
                "seen in this study's residue"
            ));
        }
    }
    out
}

/// summary.md: the matrix first, then per claim the answer and caveats.
pub fn render_markdown(s: &Summary) -> String {
    let mut out = format!(
        "# mistake-cost study: {}\n\n{}\n\n",
        folder_name(s),
        provenance(s)
    );
    out.push_str(&matrix_markdown(s));
    out.push_str(&format!("\n{LEGEND}\n"));
    if !s.attempts.is_empty() {
        out.push_str("\n## Who ran the attempted writes\n\n");
        out.push_str("The failing scripts attempt the same writes in every ecosystem; what decides whether they land is the mechanism under test (root, a build user, the sandbox, an unprivileged user).\n\n");
        for r in &s.attempts {
            out.push_str(&format!("- {}\n", attempts_sentence(r)));
        }
    }
    for r in &s.rows {
        out.push_str(&format!("\n## {}\n\n", row_title(r)));
        if let Some(a) = s.answer(r) {
            out.push_str(&format!("**{}.** {}\n", a.verdict, a.sentence));
            for f in &a.facts {
                out.push_str(&format!("\n- {f}"));
            }
            out.push('\n');
        }
    }
    let caveats = upstream_caveats(s);
    if !caveats.is_empty() {
        out.push_str("\n## Known upstream issues\n\n");
        for c in caveats {
            out.push_str(&format!("- {c}\n"));
        }
    }
    out.push_str(&cost_markdown(s));
    out
}

/// The study's cost in one sentence and its explore runs, one line each:
/// the same words in summary.md and summary.html.
fn cost_text(st: &crate::export::StudyMeta) -> (String, Vec<String>) {
    let sentence = format!(
        "{:.1} min in all ({:.1} min of trials in {} round(s), {} explore run(s)); every cell ran at least {} repetition(s) and stopped once its verdicts were decided and its key figure's interval narrow, or at the scenario's `reps`.",
        st.wall_s / 60.0,
        st.trials_wall_s / 60.0,
        st.rounds,
        st.explores.len(),
        st.min_reps
    );
    let explores = st
        .explores
        .iter()
        .map(|e| {
            format!(
                "explore {} (`--max-points {}`): {:.1} min, exit {}, `{}`",
                e.scenario,
                e.max_points,
                e.wall_s / 60.0,
                e.exit_code,
                e.dir
            )
        })
        .collect();
    (sentence, explores)
}

fn cost_markdown(s: &Summary) -> String {
    let Some(st) = &s.study else {
        return String::new();
    };
    let (sentence, explores) = cost_text(st);
    let mut out = format!(
        "\n## What the study cost\n\n{sentence}\n\n| scenario | approach | reps | of | stopped |\n|---|---|---|---|---|\n"
    );
    for c in &st.cells {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.scenario, c.approach, c.reps, c.max_reps, c.stopped
        ));
    }
    for e in explores {
        out.push_str(&format!("\n{e}"));
    }
    out.push('\n');
    out
}

/// The README's block: the matrix and one line per claim, between the
/// markers, naming the folder it was generated from.
pub fn findings_block(s: &Summary, shown_dir: &str) -> String {
    let mut out = format!(
        "{BEGIN}\n<!-- generated by `mistake-cost findings {shown_dir}`; a test compares it with that output: do not edit by hand -->\n\nFrom `{shown_dir}` ({}).\n\n",
        provenance(s)
    );
    out.push_str(&matrix_markdown(s));
    out.push_str(&format!("\n{LEGEND}\n\n"));
    for r in &s.rows {
        if let Some(a) = s.answer(r) {
            out.push_str(&format!("- **{}** {}\n", r.short(), a.verdict));
        }
    }
    if !s.attempts.is_empty() {
        out.push_str("\nWho ran the failing scripts' attempted writes: ");
        out.push_str(
            &s.attempts
                .iter()
                .map(attempts_sentence)
                .collect::<Vec<_>>()
                .join("; "),
        );
        out.push_str(".\n");
    }
    out.push_str(&format!(
        "\nThe whole page: `{shown_dir}/summary.md` (and `summary.html`).\n{END}\n"
    ));
    out
}

// ---------------------------------------------------------------- HTML

fn class(s: CellStatus) -> &'static str {
    match s {
        CellStatus::Holds => "holds",
        CellStatus::Contradicted => "contradicted",
        CellStatus::NotApplicable => "na",
        CellStatus::Unknown => "unknown",
    }
}

fn cell_html(anchor: &str, c: &Cell) -> String {
    if c.status == CellStatus::NotApplicable {
        return "<td class=\"na\" data-status=\"not applicable\">–</td>".into();
    }
    let figure = c
        .figure
        .as_ref()
        .map(|f| format!("<span class=\"fig\">{}</span>", esc(&figure_text(f))))
        .unwrap_or_default();
    format!(
        "<td class=\"{}\" data-status=\"{}\" data-k=\"{}\" data-n=\"{}\"><a href=\"#{}\"><b>{} {}</b> <span class=\"kn\">{}/{}</span>{figure}</a></td>",
        class(c.status),
        c.status.as_str(),
        c.holding,
        c.judged,
        anchor,
        symbol(c.status),
        c.status.as_str(),
        c.holding,
        c.judged
    )
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1a1a1a;max-width:1360px}
h1{font-size:20px;margin:0 0 4px}
.prov{color:#555;font-size:12px;margin:0 0 10px}
table.matrix{border-collapse:collapse;table-layout:fixed;width:100%}
.matrix th,.matrix td{border:1px solid #fff;padding:4px 6px;font-size:12px;vertical-align:top}
.matrix thead th{background:#333;color:#fff;text-align:left;font-weight:600}
.matrix th.ap{width:130px;background:#eee;color:#111;text-align:left}
.matrix td a{color:inherit;text-decoration:none;display:block}
.matrix .fig{display:block;font-size:11px}
.matrix .kn{font-weight:normal}
td.holds{background:#2e8b57;color:#fff}
td.contradicted{background:#c0392b;color:#fff}
td.unknown{background:#e6a700;color:#111}
td.na{background:#d9d9d9;color:#555;text-align:center}
.legend{font-size:12px;color:#444;margin:6px 0 0}
h2{font-size:16px;margin:28px 0 6px;border-top:1px solid #ddd;padding-top:12px}
code{background:#f2f2f2;padding:0 3px}
table.cost{border-collapse:collapse;font-size:12px}
table.cost td,table.cost th{border:1px solid #ddd;padding:2px 6px}
";

/// summary.html: self-contained (no script, no external file); the matrix
/// is the first thing under a two-line header.
pub fn render_html(s: &Summary) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mistake-cost study</title><style>{STYLE}</style></head><body>\n<h1>Does Nix make mistakes cheap? Claims × approaches</h1>\n<p class=\"prov\">{} · {}</p>\n",
        esc(&folder_name(s)),
        esc(&provenance(s))
    );
    out.push_str("<table class=\"matrix\" id=\"matrix\"><thead><tr><th class=\"ap\">approach</th>");
    for r in &s.rows {
        out.push_str(&format!(
            "<th><a href=\"#{}\" style=\"color:#fff\">{}</a></th>",
            r.anchor(),
            esc(&r.short())
        ));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (i, a) in s.approaches.iter().enumerate() {
        out.push_str(&format!(
            "<tr data-approach=\"{a}\"><th class=\"ap\">{a}</th>"
        ));
        for r in &s.rows {
            out.push_str(&cell_html(&r.anchor(), &r.cells[i]));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    out.push_str(&format!("<p class=\"legend\">{}</p>\n", esc(LEGEND)));
    out.push_str(&format!(
        "<p class=\"legend\">Key figures: {}.</p>\n",
        esc(&key_figures(s))
    ));
    if !s.attempts.is_empty() {
        out.push_str("<h2 id=\"attempts\">Who ran the attempted writes</h2><p>The failing scripts attempt the same writes in every ecosystem; what decides whether they land is the mechanism under test (root, a build user, the sandbox, an unprivileged user).</p><ul>");
        for r in &s.attempts {
            out.push_str(&format!("<li>{}</li>", inline(&attempts_sentence(r))));
        }
        out.push_str("</ul>\n");
    }
    for r in &s.rows {
        out.push_str(&format!(
            "<h2 id=\"{}\">{}</h2>\n",
            r.anchor(),
            esc(&row_title(r))
        ));
        if let Some(a) = s.answer(r) {
            out.push_str(&format!(
                "<p><b>{}.</b> {}</p>",
                esc(&a.verdict),
                inline(&a.sentence)
            ));
            if !a.facts.is_empty() {
                out.push_str("<ul>");
                for f in &a.facts {
                    out.push_str(&format!("<li>{}</li>", inline(f)));
                }
                out.push_str("</ul>");
            }
            out.push('\n');
        }
    }
    let caveats = upstream_caveats(s);
    if !caveats.is_empty() {
        out.push_str("<h2 id=\"upstream\">Known upstream issues</h2><ul>");
        for c in caveats {
            out.push_str(&format!("<li>{}</li>", inline(&c)));
        }
        out.push_str("</ul>\n");
    }
    if let Some(st) = &s.study {
        let (sentence, explores) = cost_text(st);
        out.push_str(&format!(
            "<h2 id=\"cost\">What the study cost</h2><p>{}</p><table class=\"cost\"><tr><th>scenario</th><th>approach</th><th>reps</th><th>of</th><th>stopped</th></tr>",
            inline(&sentence)
        ));
        for c in &st.cells {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.scenario),
                esc(&c.approach),
                c.reps,
                c.max_reps,
                esc(&c.stopped)
            ));
        }
        out.push_str("</table>\n");
        for e in explores {
            out.push_str(&format!("<p>{}</p>\n", inline(&e)));
        }
    }
    out.push_str("</body></html>\n");
    out
}
