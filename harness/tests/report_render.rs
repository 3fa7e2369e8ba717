//! The report end to end: the built binary writes report.md and report.html
//! for copies of a real run and a real explore run, and headless Chromium
//! renders the HTML: the plots must be in the screenshot's pixels and their
//! SVG in the live DOM.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mistake_cost::report::plots::{approach_colours, StripCell, KINDS};

mod common;
use common::browser::{self, decode_png, Shot};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/run-failed-install"
);
const EXPLORE_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/explore-kill-during-install"
);
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2400;

fn report(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mistake-cost"))
        .arg("report")
        .args(args)
        .output()
        .expect("start mistake-cost");
    eprintln!(
        "--- mistake-cost report {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh copy of the fixture run (the fixture itself is never written).
fn copy_of_fixture() -> tempfile::TempDir {
    copy_of(FIXTURE, &["trials.csv", "trials.jsonl"])
}

fn copy_of(fixture: &str, files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in files {
        std::fs::copy(Path::new(fixture).join(f), dir.path().join(f)).expect("copy fixture");
    }
    dir
}

fn chromium(args: &[&str]) -> Output {
    browser::chromium(args, (WIDTH, HEIGHT))
}

#[test]
fn report_renders_in_a_browser_with_its_plots() {
    let run = copy_of_fixture();
    let dir = run.path().to_str().unwrap();
    let out = report(&[dir]);
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<String> = std::fs::read_dir(run.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".tmp-")),
        "no temp file left behind: {names:?}"
    );

    let md = std::fs::read_to_string(run.path().join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(run.path().join("report.html")).expect("report.html");
    for needle in [
        "**Holds only for nix.**",
        "nix left 0 visible files and 0 changed packages in 5/5 failed installs",
        "(but 67 garbage paths, median, until `nix-store --gc`)",
        "apt left 34 visible files and 4 changed packages in 5/5, and `dpkg --audit` failed in 5/5",
        "nix 67 until `nix-store --gc`",
        "leaving `/etc/fastmath.conf` in 5/5",
        "(n=5, small sample)",
        "ChaCha8 seed 24301",
        "| recovery time vs best (nix) | n/a: best is 0 (+586 ms) |",
        "Not covered by this run",
        "run.json not found",
        "**Figure: Crash-point outcome strip**: not drawn",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    for text in [&md, &html] {
        assert!(
            !text.contains("NaN") && !text.contains("inf×") && !text.contains("∞"),
            "no NaN/inf in a report"
        );
    }
    assert!(
        !html.contains("<script") && !html.contains("<link") && !html.contains("src=\""),
        "self-contained: no scripts, links or sources"
    );

    let url = format!("file://{}", run.path().join("report.html").display());

    // The live DOM: both plots are inline SVG with their text as <text>.
    let dom = String::from_utf8(chromium(&["--dump-dom", &url]).stdout).expect("DOM is UTF-8");
    assert_eq!(dom.matches("<svg").count(), 2, "two SVG plots in the DOM");
    let texts: Vec<&str> = dom
        .split("<text")
        .skip(1)
        .map(|t| {
            t.split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("")
                .trim()
        })
        .collect();
    for label in [
        "apt",
        "pip",
        "pip-venv",
        "nix",
        "n=5",
        "median 586 ms",
        "67",
        "added",
        "garbage (collectible)",
    ] {
        assert!(
            texts.contains(&label),
            "SVG <text> {label:?} missing from the DOM; texts: {texts:?}"
        );
    }
    assert!(
        dom.matches("<rect").count() >= 20,
        "bars and boxes are <rect> elements"
    );
    assert!(dom.contains("<circle"), "trials are <circle> points");

    // The pixels: the plots really rendered.
    let shot_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_render.png");
    let _ = std::fs::remove_file(&shot_path);
    chromium(&[&format!("--screenshot={}", shot_path.display()), &url]);
    eprintln!("screenshot: {}", shot_path.display());
    let (width, height, pixels) = decode_png(&shot_path);
    assert_eq!((width, height), (WIDTH, HEIGHT));
    let shot = Shot { width, pixels };
    let white = shot
        .pixels
        .iter()
        .filter(|p| **p == [255, 255, 255])
        .count();
    assert!(
        white > shot.pixels.len() / 2,
        "a white page, not a blank or error screen"
    );

    // Residue bars: "added" (green) is only in the plot; its box locates it.
    let (added, bbox) = shot.find(KINDS[0].1, 0..height);
    let (x0, y0, x1, y1) = bbox.expect("no 'added' bars in the screenshot");
    assert!(
        added > 2000,
        "{added} green pixels: the 'added' bars are missing or tiny"
    );
    assert!(
        x1 - x0 > 150 && y1 - y0 > 60,
        "bars span {x0},{y0}–{x1},{y1}: too small"
    );
    // The plots' band: both figures sit side by side around those bars.
    let band = y0.saturating_sub(250)..(y1 + 40).min(height);
    eprintln!("'added' bars: {added} px in {x0},{y0}–{x1},{y1}; plots' band rows {band:?}");
    let (garbage, _) = shot.find(KINDS[3].1, band.clone());
    assert!(
        garbage > 2000,
        "{garbage} grey pixels: the garbage bars are missing"
    );
    let (modified, _) = shot.find(KINDS[2].1, band.clone());
    assert!(modified > 30, "{modified} pixels of apt's 2 modified paths");
    eprintln!("garbage bars: {garbage} px; modified: {modified} px");
    // The fixture run's approaches, each in the colour it declares.
    let fixture_approaches = ["apt", "pip", "pip-venv", "nix"];
    for (approach, colour) in approach_colours()
        .into_iter()
        .filter(|(a, _)| fixture_approaches.contains(a))
    {
        let (n, bbox) = shot.find(colour, band.clone());
        eprintln!("{approach}: {n} px in the band");
        assert!(
            n > 100,
            "{approach}: only {n} pixels of its colour in the plots' band {band:?}"
        );
        let (ax0, _, _, _) = bbox.unwrap();
        assert!(
            ax0 < x0,
            "{approach}'s recovery points lie in the left-hand plot"
        );
    }
}

#[test]
fn explore_report_renders_its_outcome_strip() {
    let run = copy_of(
        EXPLORE_FIXTURE,
        &[
            "crashpoints.csv",
            "crashpoints.jsonl",
            "points.json",
            "run.json",
        ],
    );
    let dir = run.path().to_str().unwrap();
    let out = report(&[dir]);
    assert_eq!(out.status.code(), Some(0));
    let md = std::fs::read_to_string(run.path().join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(run.path().join("report.html")).expect("report.html");
    // The fixture's own numbers (crashpoints.csv, points.json): nix 7 points
    // found, 4 explored (old, inconsistent, inconsistent, new); pip 24, 4
    // explored (old, inconsistent ×3).
    for needle in [
        "8 crash points in crashpoints.csv (8 whose kill fired, 0 errored and excluded)",
        "| metric | pip | nix |",
        "| crash points found (dry run) | 24 | 7 |",
        "| kill fired / never fired / errored | 4 / 0 / 0 | 4 / 0 / 0 |",
        "| old after the crash | 25% (1/4) | 25% (1/4) |",
        "| new after the crash | 0% (0/4) | 25% (1/4) |",
        "| inconsistent after the crash | 75% (3/4) | 50% (2/4) |",
        "(n=3, small sample)",
        "**Contradicted.**",
        "nix was left old or new after 2/4 crash points whose kill fired (old 1, new 1, inconsistent 2)",
        "pip was left old or new after 1/4 crash points whose kill fired (old 1, new 0, inconsistent 3)",
        "**Figure: Crash-point outcome strip** (an SVG plot in report.html)",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    assert!(
        !md.contains("not drawn"),
        "every figure of an explore report is drawn"
    );
    assert!(
        !html.contains("NaN") && !html.contains("<script"),
        "no NaN, no scripts"
    );

    let url = format!("file://{}", run.path().join("report.html").display());
    let dom = String::from_utf8(chromium(&["--dump-dom", &url]).stdout).expect("DOM is UTF-8");
    assert_eq!(dom.matches("<svg").count(), 1, "one SVG figure: the strip");
    let texts: Vec<&str> = dom
        .split("<text")
        .skip(1)
        .map(|t| {
            t.split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("")
                .trim()
        })
        .collect();
    for label in [
        "pip",
        "nix",
        "4 of 24",
        "4 of 7",
        "old",
        "new",
        "inconsistent",
        "kill never fired",
        "errored",
    ] {
        assert!(
            texts.contains(&label),
            "SVG <text> {label:?} missing from the DOM; texts: {texts:?}"
        );
    }

    let shot_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_render_explore.png");
    let _ = std::fs::remove_file(&shot_path);
    chromium(&[&format!("--screenshot={}", shot_path.display()), &url]);
    eprintln!("screenshot: {}", shot_path.display());
    let (width, height, pixels) = decode_png(&shot_path);
    let shot = Shot { width, pixels };
    let cells = |c: StripCell| shot.rects(c.colour(), height, 25..=200);
    // Keys: squares in the figure's top band, above the first row.
    let keys = |c: StripCell, top: u32| {
        shot.rects(c.colour(), height, 9..=16)
            .into_iter()
            .filter(|k| k.1 + 120 > top && k.3 < top && k.2 - k.0 >= 8)
            .count()
    };
    let (old, new, mixed, not_fired) = (
        cells(StripCell::Old),
        cells(StripCell::New),
        cells(StripCell::Inconsistent),
        cells(StripCell::NotFired),
    );
    eprintln!("strip cells (x0, y0, x1, y1): old {old:?}, new {new:?}, inconsistent {mixed:?}, never fired {not_fired:?}");
    // One cell per explored point: old at index 0 of pip and of nix,
    // inconsistent 3 × pip and 2 × nix, one new (nix), none never fired.
    assert_eq!(old.len(), 2, "{old:?}");
    assert_eq!(mixed.len(), 5, "{mixed:?}");
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(
        not_fired.is_empty(),
        "every kill fired in the fixture: {not_fired:?}"
    );
    let (pip_row, nix_row) = (old[0], old[1]);
    assert_eq!(
        (pip_row.0, pip_row.2),
        (nix_row.0, nix_row.2),
        "index 0 at the same x in both rows"
    );
    assert!(pip_row.3 < nix_row.1, "pip's row above nix's");
    for c in [
        StripCell::Old,
        StripCell::New,
        StripCell::Inconsistent,
        StripCell::NotFired,
    ] {
        assert_eq!(
            keys(c, pip_row.1),
            1,
            "{c:?}: its legend key is not above the strip"
        );
    }
    let row_of = |r: &(u32, u32, u32, u32)| {
        if r.1.abs_diff(pip_row.1) <= 2 {
            "pip"
        } else if r.1.abs_diff(nix_row.1) <= 2 {
            "nix"
        } else {
            "?"
        }
    };
    assert_eq!(row_of(&new[0]), "nix");
    let mut rows: Vec<&str> = mixed.iter().map(row_of).collect();
    rows.sort();
    assert_eq!(rows, ["nix", "nix", "pip", "pip", "pip"]);
    // The shared index axis: pip's last point (23 of 24) lies far right of
    // nix's last (6 of 7), and every cell right of index 0.
    let pip_last = mixed
        .iter()
        .filter(|r| row_of(r) == "pip")
        .map(|r| r.2)
        .max()
        .unwrap();
    assert!(
        pip_last > new[0].2 + 150,
        "pip's index 23 at {pip_last}, nix's index 6 at {}",
        new[0].2
    );
    assert!(
        mixed.iter().chain(&new).all(|r| r.0 > pip_row.2),
        "index 0 is the leftmost"
    );
}

#[test]
fn bad_input_is_exit_code_3_with_a_clear_message() {
    let run = copy_of_fixture();
    let dir = run.path().to_str().unwrap();

    let out = report(&[dir, "--format", "md,pdf"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format 'pdf'"));

    let out = report(&["/nonexistent/run-folder"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    let csv = std::fs::read_to_string(run.path().join("trials.csv")).unwrap();
    let garbled: Vec<String> = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 3 {
                l.replacen(",failed,", ",exploded,", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(run.path().join("trials.csv"), garbled.join("\n")).unwrap();
    let out = report(&[dir]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trials.csv:4: column `outcome`: unknown variant `exploded`"),
        "{err}"
    );
    assert!(
        !run.path().join("report.html").exists(),
        "nothing written on bad input"
    );

    std::fs::remove_file(run.path().join("trials.csv")).unwrap();
    let out = report(&[dir]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trials.csv not found"));

    // --format md alone writes only report.md.
    let run = copy_of_fixture();
    let out = report(&[run.path().to_str().unwrap(), "--format", "md"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(run.path().join("report.md").exists() && !run.path().join("report.html").exists());
}
