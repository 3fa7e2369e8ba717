//! The study end to end: `study` on two small scenarios (a failed install
//! run as trials in rounds, a crash-only scenario explored) against the real
//! engine; the committed reference study's summary rendered in headless
//! Chromium (the matrix filled and in the first 1400×900 screen); and the
//! README's findings block equal to what `findings` prints from it.

use std::path::{Path, PathBuf};

mod common;
use common::browser::{chromium, decode_png, near, Shot};
use common::{read_csv, repo, run};

const STUDY_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/study-scenarios"
);
/// The first screen the summary is read at.
const SCREEN: (u32, u32) = (1400, 900);

fn reference() -> PathBuf {
    repo().join("results/reference/study")
}

/// The cell colours of summary.html's matrix, by status.
const COLOURS: [(&str, (u8, u8, u8)); 4] = [
    ("holds", (0x2e, 0x8b, 0x57)),
    ("contradicted", (0xc0, 0x39, 0x2b)),
    ("unknown", (0xe6, 0xa7, 0x00)),
    ("not applicable", (0xd9, 0xd9, 0xd9)),
];

/// A matrix cell as the page writes it: status, k and n.
type CellAttrs = (String, Option<usize>, Option<usize>);

/// Every `<td … data-status="S" …>` of the matrix, in order, with its k and n.
fn cells_in(html: &str) -> Vec<CellAttrs> {
    let matrix = &html[html.find("id=\"matrix\"").expect("the matrix")..];
    let matrix = &matrix[..matrix.find("</table>").expect("its end")];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    };
    matrix
        .split("<td ")
        .skip(1)
        .map(|td| {
            let tag = &td[..td.find('>').unwrap()];
            (
                attr(tag, "data-status").expect("every cell has a status"),
                attr(tag, "data-k").map(|k| k.parse().unwrap()),
                attr(tag, "data-n").map(|n| n.parse().unwrap()),
            )
        })
        .collect()
}

#[test]
fn the_reference_summary_shows_the_filled_matrix_on_its_first_screen() {
    let study = reference();
    assert!(
        study.join("summary.html").is_file(),
        "{} has no summary.html: make it with `mistake-cost study --out {}`",
        study.display(),
        study.display()
    );
    // The committed page is what the harness writes from the committed data.
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path().join("study");
    copy_tree(&study, &dir);
    let out = run(&["summary", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let html = std::fs::read_to_string(dir.join("summary.html")).unwrap();
    assert_eq!(
        html,
        std::fs::read_to_string(study.join("summary.html")).unwrap(),
        "results/reference/study/summary.html is stale: run `mistake-cost summary results/reference/study`"
    );

    // Filled from the data: one cell per approach and claim, each with a
    // status; the atomicity column's k/n recomputed here from trials.csv.
    let cells = cells_in(&html);
    let rows = read_csv(&study.join("trials.csv"));
    let approaches: Vec<String> = {
        let mut seen = Vec::new();
        for r in &rows {
            if !seen.contains(&r["approach"]) {
                seen.push(r["approach"].clone());
            }
        }
        seen
    };
    // One column per claim, a claim judged per service once per service.
    let claims = html.matches("<th><a href=\"#").count();
    assert!(claims >= 6, "{claims} claim columns");
    assert!(
        cells.len() >= approaches.len() * claims,
        "{} cells for {} approaches",
        cells.len(),
        approaches.len()
    );
    assert_eq!(cells.len() % claims, 0);
    assert!(cells
        .iter()
        .all(|(s, _, _)| COLOURS.iter().any(|(name, _)| name == s)));
    let by_row: Vec<&[CellAttrs]> = cells.chunks(claims).collect();
    let order: Vec<String> = html
        .split("<tr data-approach=\"")
        .skip(1)
        .map(|t| t[..t.find('"').unwrap()].to_string())
        .collect();
    for (approach, row) in order.iter().zip(&by_row) {
        let failed: Vec<_> = rows
            .iter()
            .filter(|r| {
                &r["approach"] == approach && r["fault"] == "none" && r["outcome"] == "failed"
            })
            // A configure trial's failed change is a bad configuration,
            // judged by its own claims, not a failed install.
            .filter(|r| r["healthy_before"].is_empty() && r["downtime_ms"].is_empty())
            .collect();
        let (status, k, n) = &row[0];
        if failed.is_empty() {
            assert_eq!(status, "not applicable", "{approach}");
            continue;
        }
        let holding = failed
            .iter()
            .filter(|r| {
                r["residue_files"] == "0"
                    && r["residue_packages"] == "0"
                    && r["consistent"] == "true"
            })
            .count();
        assert_eq!((*k, *n), (Some(holding), Some(failed.len())), "{approach}");
        let expected = if holding == failed.len() {
            "holds"
        } else if failed.iter().any(|r| {
            r["residue_files"] != "0" || r["residue_packages"] != "0" || r["consistent"] == "false"
        }) {
            "contradicted"
        } else {
            "unknown"
        };
        assert_eq!(status, expected, "{approach}");
    }

    // In the first screen: each cell's box (from the live layout at
    // 1400×900) ends above 900 px, and the screenshot shows its colour
    // there. A copy of the page gets a script that writes each cell's box
    // into the DOM; the page itself has no script.
    let probe = dir.join("probe.html");
    std::fs::write(
        &probe,
        html.replace(
            "</body>",
            "<script>for (const td of document.querySelectorAll('#matrix td')) { const r = td.getBoundingClientRect(); \
             td.setAttribute('data-box', [r.left, r.top, r.right, r.bottom].map(Math.round).join(',')); }</script></body>",
        ),
    )
    .unwrap();
    let dom = String::from_utf8(
        chromium(
            &["--dump-dom", &format!("file://{}", probe.display())],
            SCREEN,
        )
        .stdout,
    )
    .unwrap();
    let boxes: Vec<[u32; 4]> = dom
        .split("data-box=\"")
        .skip(1)
        .map(|b| {
            let v: Vec<u32> = b[..b.find('"').unwrap()]
                .split(',')
                .map(|n| n.parse().unwrap())
                .collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect();
    assert_eq!(boxes.len(), cells.len(), "every cell laid out");
    let url = format!("file://{}", dir.join("summary.html").display());
    let shot_path = copy.path().join("summary.png");
    chromium(
        &[&format!("--screenshot={}", shot_path.display()), &url],
        SCREEN,
    );
    let (width, height, pixels) = decode_png(&shot_path);
    assert_eq!((width, height), SCREEN);
    let shot = Shot { width, pixels };
    for ((status, _, _), [left, top, right, bottom]) in cells.iter().zip(&boxes) {
        assert!(
            *bottom <= SCREEN.1 && *right <= SCREEN.0,
            "a {status} cell at {left},{top}–{right},{bottom} is outside the first {}×{} screen",
            SCREEN.0,
            SCREEN.1
        );
        let colour = COLOURS.iter().find(|(n, _)| n == status).unwrap().1;
        let (x, y) = (left + 3, (top + bottom) / 2);
        assert!(
            near(shot.at(x, y), colour),
            "the {status} cell at {x},{y} shows {:?}, not its colour {colour:?}",
            shot.at(x, y)
        );
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_readme_findings_block_is_what_findings_prints() {
    let out = run(&[
        "findings",
        "results/reference/study",
        "--check",
        "README.md",
    ]);
    assert!(
        out.status.success(),
        "README.md's findings block differs from `mistake-cost findings results/reference/study`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = run(&["findings", "results/reference/study"]);
    assert!(printed.status.success());
    let block = String::from_utf8(printed.stdout).unwrap();
    assert!(block.starts_with("<!-- findings:begin -->"));
    assert!(block.trim_end().ends_with("<!-- findings:end -->"));
    assert!(
        block.contains("results/reference/study"),
        "it names its folder"
    );
    // A changed block is caught, with the line.
    let dir = tempfile::tempdir().unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let changed = readme.replacen("| `apt` |", "| `apt` | 1 |", 1);
    assert_ne!(changed, readme, "the block has an apt row");
    std::fs::write(dir.path().join("README.md"), changed).unwrap();
    let out = run(&[
        "findings",
        "results/reference/study",
        "--check",
        dir.path().join("README.md").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("differs"));
}

#[test]
fn a_study_runs_trials_in_rounds_explores_crash_only_scenarios_and_summarises() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("study");
    let out = run(&[
        "study",
        STUDY_FIXTURE,
        "--max-points",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "study exit {:?}", out.status.code());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("study.json")).unwrap())
            .unwrap();
    // The failed install ran as trials: each approach at least min_reps
    // (2) and at most the file's reps (3), with why it stopped.
    let cells = meta["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{cells:?}");
    let rows = read_csv(&out_dir.join("trials.csv"));
    for c in cells {
        let reps = c["reps"].as_u64().unwrap();
        assert!((2..=3).contains(&reps), "{c}");
        assert_eq!(c["max_reps"], 3);
        let why = c["stopped"].as_str().unwrap();
        assert!(why == "decided" || (why == "max reps" && reps == 3), "{c}");
        let n = rows
            .iter()
            .filter(|r| r["approach"] == c["approach"].as_str().unwrap())
            .count() as u64;
        assert_eq!(n, reps, "one row per rep: {c}");
    }
    assert!(rows.iter().all(|r| r["scenario"] == "study-install-fails"));
    // The crash-only scenario was explored, not run.
    let explore = out_dir.join("explore/tiny-kill");
    let points = read_csv(&explore.join("crashpoints.csv"));
    assert!(!points.is_empty());
    assert_eq!(meta["explores"][0]["dir"], "explore/tiny-kill");
    assert!(meta["wall_s"].as_f64().unwrap() > 0.0);
    // The summary reads both: the atomicity and interrupted cells are filled.
    let html = std::fs::read_to_string(out_dir.join("summary.html")).unwrap();
    let cells = cells_in(&html);
    // Two approaches × seven claims (the fleet column since issue 26).
    assert_eq!(cells.len(), 2 * 7);
    let order: Vec<String> = html
        .split("<tr data-approach=\"")
        .skip(1)
        .map(|t| t[..t.find('"').unwrap()].to_string())
        .collect();
    assert_eq!(order, ["apt", "nix"]);
    for (approach, row) in order.iter().zip(cells.chunks(7)) {
        assert_ne!(row[0].0, "not applicable", "atomicity: {row:?}");
        let fired = points
            .iter()
            .filter(|p| &p["approach"] == approach && p["fired"] == "true" && p["error"].is_empty())
            .count();
        assert_eq!(
            row[1].2,
            Some(fired),
            "interrupted, {approach}: every fired point judged"
        );
    }
    assert!(out_dir.join("summary.md").is_file());
    for dir in [&out_dir, &explore] {
        let label = common::run_label(dir);
        assert_eq!(common::containers_with_label(&label), 0, "nothing left");
    }
    // A second study into the same folder is refused.
    let again = run(&["study", STUDY_FIXTURE, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(3));
}
