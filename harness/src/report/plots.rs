//! The report's figures, drawn with plotters' SVG backend (text stays SVG
//! `<text>`, no font library): recovery time per approach (points over a
//! box), residue by kind per approach (grouped bars), and the crash-point
//! outcome strip of explore runs.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{fmt_count, Trial};

/// A figure: drawn (an `<svg>` element), or why it was not.
#[derive(Debug, Clone)]
pub enum Figure {
    Drawn {
        title: String,
        svg: String,
        caption: String,
    },
    NotDrawn {
        title: String,
        reason: String,
    },
}

/// Colour of each registered approach (points, boxes), as it declares it,
/// in registry order; others use [`FALLBACK_COLOURS`].
pub fn approach_colours() -> Vec<(&'static str, (u8, u8, u8))> {
    crate::approach::registry()
        .into_iter()
        .map(|k| (k.as_str(), crate::approach::approach(k).colour()))
        .collect()
}

/// For approaches a run names but this harness does not register (a run
/// from an older or newer harness): picked by the name, so stable.
pub const FALLBACK_COLOURS: [(u8, u8, u8); 3] =
    [(0xa6, 0x56, 0x28), (0xf7, 0x81, 0xbf), (0x4d, 0xaf, 0x4a)];
/// Residue kinds, in the order of [`super::Trial::residue_kinds`], and their colours.
pub const KINDS: [(&str, (u8, u8, u8)); 4] = [
    ("added", (0x1b, 0x9e, 0x77)),
    ("removed", (0xd9, 0x5f, 0x02)),
    ("modified", (0x75, 0x70, 0xb3)),
    ("garbage (collectible)", (0x99, 0x99, 0x99)),
];

const SIZE: (u32, u32) = (600, 380);
const FONT: &str = "sans-serif";

pub fn approach_colour(name: &str) -> RGBColor {
    let (r, g, b) = crate::approach::by_name(name)
        .map(|a| a.colour())
        .unwrap_or_else(|| {
            FALLBACK_COLOURS[name.bytes().map(usize::from).sum::<usize>() % FALLBACK_COLOURS.len()]
        });
    RGBColor(r, g, b)
}

fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
    RGBColor(r, g, b)
}

type DrawResult<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Renders `draw` into an SVG string.
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> DrawResult<()>) -> DrawResult<String> {
    svg_sized(SIZE, draw)
}

fn svg_sized(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> DrawResult<()>,
) -> DrawResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// A key (coloured square + label per entry) along the top edge; returns
/// each square's left edge, so a caller can draw a different mark over one.
fn legend(
    root: &DrawingArea<SVGBackend, Shift>,
    entries: &[(String, RGBColor)],
) -> DrawResult<Vec<i32>> {
    let mut x = 70;
    let mut at = Vec::new();
    for (label, colour) in entries {
        at.push(x);
        root.draw(&Rectangle::new([(x, 10), (x + 12, 22)], colour.filled()))
            .map_err(err)?;
        root.draw(&Text::new(
            label.clone(),
            (x + 17, 16),
            (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
        x += 17 + 7 * label.chars().count() as i32 + 18;
    }
    Ok(at)
}

/// Approach names (and n) under each category of a chart whose x axis is
/// the category index.
fn category_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    at: impl Fn(f64) -> (i32, i32),
    names: &[(String, usize)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, (name, n)) in names.iter().enumerate() {
        let (px, py) = at(i as f64);
        root.draw(&Text::new(
            name.clone(),
            (px, py + 8),
            (FONT, 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        root.draw(&Text::new(
            format!("n={n}"),
            (px, py + 26),
            (FONT, 12)
                .into_font()
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(())
}

/// Figure 1: recovery time per approach. Every trial is a point, jittered
/// sideways deterministically (golden-ratio steps), over a box from the
/// first to the third quartile with the median; whiskers reach min and max.
pub fn recovery_time(groups: &[(String, Vec<f64>)]) -> Figure {
    let title = "Recovery time per approach".to_string();
    if groups.iter().all(|(_, v)| v.is_empty()) {
        return Figure::NotDrawn {
            title,
            reason: "no trial measured a recovery time".into(),
        };
    }
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0_f64, f64::max);
    let (scale, unit) = if max >= 2000.0 {
        (1000.0, "s")
    } else {
        (1.0, "ms")
    };
    let top = if max > 0.0 { max / scale * 1.12 } else { 1.0 };
    let n = groups.len() as f64;
    let drawn = svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_top(20)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..n - 0.5, -top * 0.03..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(6)
            .y_desc(format!("recovery playbook time ({unit})"))
            .y_label_formatter(&|v| {
                if unit == "s" {
                    format!("{v:.1}")
                } else {
                    format!("{v:.0}")
                }
            })
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        for (i, (approach, values)) in groups.iter().enumerate() {
            let c = approach_colour(approach);
            let x = i as f64;
            let ys: Vec<f64> = values.iter().map(|v| v / scale).collect();
            if let Some(s) = crate::stats::Summary::of(&ys) {
                let w = 0.27;
                chart
                    .draw_series([
                        PathElement::new(vec![(x, s.min), (x, s.q1)], c.stroke_width(1)),
                        PathElement::new(vec![(x, s.q3), (x, s.max)], c.stroke_width(1)),
                        PathElement::new(
                            vec![(x - w / 2.0, s.min), (x + w / 2.0, s.min)],
                            c.stroke_width(1),
                        ),
                        PathElement::new(
                            vec![(x - w / 2.0, s.max), (x + w / 2.0, s.max)],
                            c.stroke_width(1),
                        ),
                    ])
                    .map_err(err)?;
                chart
                    .draw_series([Rectangle::new(
                        [(x - w, s.q1), (x + w, s.q3)],
                        c.mix(0.15).filled(),
                    )])
                    .map_err(err)?;
                chart
                    .draw_series([Rectangle::new(
                        [(x - w, s.q1), (x + w, s.q3)],
                        c.stroke_width(2),
                    )])
                    .map_err(err)?;
                chart
                    .draw_series([PathElement::new(
                        vec![(x - w, s.median), (x + w, s.median)],
                        BLACK.stroke_width(3),
                    )])
                    .map_err(err)?;
                chart
                    .draw_series([Text::new(
                        format!("median {}", super::fmt_ms(s.median * scale)),
                        (x, s.max + top * 0.035),
                        (FONT, 13)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(err)?;
            }
            chart
                .draw_series(ys.iter().enumerate().flat_map(|(k, y)| {
                    let jitter = (((k as f64 + 0.5) * 0.618_033_988_75).fract() - 0.5) * 0.36;
                    [
                        Circle::new((x + jitter, *y), 5, c.filled()),
                        Circle::new((x + jitter, *y), 5, WHITE.stroke_width(1)),
                    ]
                }))
                .map_err(err)?;
        }
        let names: Vec<(String, usize)> =
            groups.iter().map(|(a, v)| (a.clone(), v.len())).collect();
        category_labels(root, |x| chart.backend_coord(&(x, -top * 0.03)), &names).map_err(err)?;
        Ok(())
    });
    match drawn {
        Ok(svg) => Figure::Drawn {
            title,
            svg,
            caption: "Wall time of each approach's recovery playbook, measured inside the container (0 when nothing visible \
                      changed and no playbook ran). Dots: trials; box: quartiles; black bar: median; whiskers: min to max."
                .into(),
        },
        Err(e) => Figure::NotDrawn { title, reason: format!("plotting failed: {e}") },
    }
}

/// Figure 2: residue by kind per approach. One group of bars per approach:
/// the median per trial of visible paths added, removed and modified, and of
/// garbage paths, each labelled with its value; whiskers from min to max.
pub fn residue_by_kind(groups: &[(String, Vec<[f64; 4]>)], source: &str) -> Figure {
    let title = "Residue by kind per approach, right after the failure".to_string();
    if groups.iter().all(|(_, v)| v.is_empty()) {
        return Figure::NotDrawn {
            title,
            reason: "no trial measured its residue".into(),
        };
    }
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter().flat_map(|k| k.iter().copied()))
        .fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let n = groups.len() as f64;
    let drawn = svg(|root| {
        legend(
            root,
            &KINDS
                .iter()
                .map(|(k, c)| (k.to_string(), rgb(*c)))
                .collect::<Vec<_>>(),
        )?;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_top(34)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(6)
            .y_desc("paths (median per trial)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        let bar = 0.19;
        for (i, (_, trials)) in groups.iter().enumerate() {
            for (k, (_, colour)) in KINDS.iter().enumerate() {
                let values: Vec<f64> = trials.iter().map(|t| t[k]).collect();
                let Some(s) = crate::stats::Summary::of(&values) else {
                    continue;
                };
                let x0 = i as f64 - 2.0 * bar + k as f64 * bar + 0.01;
                let (x1, xc) = (x0 + bar - 0.02, x0 + (bar - 0.02) / 2.0);
                chart
                    .draw_series([Rectangle::new(
                        [(x0, 0.0), (x1, s.median)],
                        rgb(*colour).filled(),
                    )])
                    .map_err(err)?;
                if s.max > s.min {
                    // Along the bar's right edge, clear of the value on top.
                    let xw = x1 - 0.012;
                    let grey = RGBColor(80, 80, 80).stroke_width(1);
                    chart
                        .draw_series([
                            PathElement::new(vec![(xw, s.min), (xw, s.max)], grey),
                            PathElement::new(vec![(xw - 0.025, s.max), (xw, s.max)], grey),
                        ])
                        .map_err(err)?;
                }
                chart
                    .draw_series([Text::new(
                        fmt_count(s.median),
                        (xc - 0.01, s.median + top * 0.005),
                        (FONT, 12)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(err)?;
            }
        }
        let names: Vec<(String, usize)> =
            groups.iter().map(|(a, v)| (a.clone(), v.len())).collect();
        category_labels(root, |x| chart.backend_coord(&(x, 0.0)), &names).map_err(err)?;
        Ok(())
    });
    match drawn {
        Ok(svg) => Figure::Drawn {
            title,
            svg,
            caption: format!(
                "Paths that differ between the snapshot before the operation and the one after it: visible residue by kind, \
                 and collectible garbage counted apart. Bars: median per trial (value on top); grey whiskers at the right edge: min to max. Source: {source}."
            ),
        },
        Err(e) => Figure::NotDrawn { title, reason: format!("plotting failed: {e}") },
    }
}

/// What one explored crash point left, as the strip colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripCell {
    Old,
    New,
    Inconsistent,
    /// The crash run never reached the point: the operation ran undisturbed.
    NotFired,
    /// A harness or Docker problem: no data.
    Errored,
}

/// The strip's colours, in legend order. Errored cells are white with a
/// dark cross, so they never read as a state.
pub const STRIP_COLOURS: [(&str, (u8, u8, u8)); 5] = [
    ("old", (0x1a, 0x98, 0x50)),
    ("new", (0x91, 0xbf, 0xdb)),
    ("inconsistent", (0xd7, 0x30, 0x27)),
    ("kill never fired", (0xc8, 0xc8, 0xc8)),
    ("errored", (0x30, 0x30, 0x30)),
];

impl StripCell {
    pub fn colour(self) -> (u8, u8, u8) {
        STRIP_COLOURS[self as usize].1
    }
}

/// One approach's row: (point index, cell) per explored point, and how many
/// points its dry run found (when known).
#[derive(Debug, Clone)]
pub struct StripRow {
    pub approach: String,
    pub found: Option<usize>,
    pub cells: Vec<(usize, StripCell)>,
}

/// Figure 3, the crash-point outcome strip: the point index (order of first
/// occurrence in the dry run) on x, one row per approach, one cell per
/// explored point coloured by the state the crash left.
pub fn crash_point_strip(rows: &[StripRow]) -> Figure {
    let title = "Crash-point outcome strip".to_string();
    if rows.iter().all(|r| r.cells.is_empty()) {
        return Figure::NotDrawn {
            title,
            reason: "no crash point was explored".into(),
        };
    }
    let last = rows
        .iter()
        .flat_map(|r| {
            r.cells
                .iter()
                .map(|(i, _)| *i)
                .chain(r.found.map(|f| f.saturating_sub(1)))
        })
        .max()
        .unwrap_or(0);
    let span = last as f64 + 1.0;
    let n = rows.len() as f64;
    let height = 150 + 46 * rows.len() as u32;
    let drawn = svg_sized((SIZE.0, height), |root| {
        let at = legend(
            root,
            &STRIP_COLOURS
                .iter()
                .map(|(k, c)| (k.to_string(), rgb(*c)))
                .collect::<Vec<_>>(),
        )?;
        // The errored key is the cross its cells get, not a filled square.
        let x = at[StripCell::Errored as usize];
        let dark = rgb(StripCell::Errored.colour()).stroke_width(2);
        root.draw(&Rectangle::new([(x, 10), (x + 12, 22)], WHITE.filled()))
            .map_err(err)?;
        root.draw(&Rectangle::new([(x, 10), (x + 12, 22)], dark))
            .map_err(err)?;
        root.draw(&PathElement::new(vec![(x, 10), (x + 12, 22)], dark))
            .map_err(err)?;
        root.draw(&PathElement::new(vec![(x, 22), (x + 12, 10)], dark))
            .map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_top(34)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(104)
            .build_cartesian_2d(-0.5..span - 0.5, 0.0..n)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(8)
            .x_desc("crash point index (order of first occurrence in the dry run)")
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        // Thin cells stay visible when a dry run found thousands of points.
        // One point's width in pixels, from the whole axis in f64: the
        // pixel distance of one index is 0 in integers once there are more
        // points than pixels (every cell was then drawn the row's width).
        let axis_px = (chart.backend_coord(&(span - 0.5, 0.0)).0
            - chart.backend_coord(&(-0.5, 0.0)).0) as f64;
        let unit_px = axis_px / span;
        let half = if unit_px * 0.8 < 6.0 {
            3.0 / unit_px.max(1e-9)
        } else {
            0.4
        };
        for (k, row) in rows.iter().enumerate() {
            // The first approach on top.
            let y = n - 1.0 - k as f64;
            let (y0, y1) = (y + 0.18, y + 0.82);
            if let Some(found) = row.found {
                // The stretch of points the dry run found, explored or not.
                chart
                    .draw_series([Rectangle::new(
                        [(-0.5, y0 - 0.08), (found as f64 - 0.5, y0 - 0.03)],
                        RGBColor(150, 150, 150).filled(),
                    )])
                    .map_err(err)?;
            }
            for (index, cell) in &row.cells {
                let x = *index as f64;
                let corners = [(x - half, y0), (x + half, y1)];
                match cell {
                    StripCell::Errored => {
                        chart
                            .draw_series([Rectangle::new(corners, WHITE.filled())])
                            .map_err(err)?;
                        let dark = rgb(cell.colour()).stroke_width(2);
                        chart
                            .draw_series([
                                PathElement::new(vec![(x - half, y0), (x + half, y1)], dark),
                                PathElement::new(vec![(x - half, y1), (x + half, y0)], dark),
                                PathElement::new(
                                    vec![
                                        (x - half, y0),
                                        (x + half, y0),
                                        (x + half, y1),
                                        (x - half, y1),
                                        (x - half, y0),
                                    ],
                                    dark,
                                ),
                            ])
                            .map_err(err)?;
                    }
                    _ => {
                        chart
                            .draw_series([Rectangle::new(corners, rgb(cell.colour()).filled())])
                            .map_err(err)?;
                    }
                }
            }
            let (px, py) = chart.backend_coord(&(-0.5, y + 0.5));
            let label = (FONT, 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Bottom));
            root.draw(&Text::new(row.approach.clone(), (px - 10, py + 1), label))
                .map_err(err)?;
            let found = row
                .found
                .map(|f| format!("{} of {f}", row.cells.len()))
                .unwrap_or_else(|| format!("{} explored", row.cells.len()));
            let small = (FONT, 12)
                .into_font()
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Right, VPos::Top));
            root.draw(&Text::new(found, (px - 10, py + 3), small))
                .map_err(err)?;
        }
        Ok(())
    });
    match drawn {
        Ok(svg) => Figure::Drawn {
            title,
            svg,
            caption: "Each cell is one explored crash point (SIGKILL at a process's k-th call of a syscall), at its index among the \
                      points the dry run found, coloured by the state right after the crash: old, new or inconsistent; grey when the \
                      kill never fired (the operation ran undisturbed); a cross when the point errored (no data). The thin grey line \
                      under a row spans the points its dry run found; the label says how many were explored."
                .into(),
        },
        Err(e) => Figure::NotDrawn { title, reason: format!("plotting failed: {e}") },
    }
}

/// The strip's place in a trials-only report: it is drawn from an explore
/// run's crash points, never from trials, so the note says where to get them.
pub fn crash_point_strip_note(trials: &[&Trial]) -> Figure {
    let title = "Crash-point outcome strip".to_string();
    let faulted = trials.iter().filter(|t| t.record.fault != "none").count();
    let reason = if faulted == 0 {
        "not drawn: every trial in this scenario ran with fault `none`, so there are no crash points to show. \
         `mistake-cost explore` on this scenario writes crashpoints.csv, which fills this strip."
            .to_string()
    } else {
        format!(
            "not drawn: {faulted} trials with injected faults are in this scenario, but the strip is drawn from an explore run's \
             crash points (crashpoints.csv from `mistake-cost explore`), not from trials; their outcomes and consistency are in the table above."
        )
    };
    Figure::NotDrawn { title, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex((r, g, b): (u8, u8, u8)) -> String {
        format!("#{r:02X}{g:02X}{b:02X}")
    }

    #[test]
    fn strip_draws_every_kind_of_cell_and_its_key() {
        let rows = vec![
            StripRow {
                approach: "apt".into(),
                found: Some(3000),
                cells: vec![
                    (0, StripCell::Old),
                    (1500, StripCell::Inconsistent),
                    (2999, StripCell::NotFired),
                ],
            },
            StripRow {
                approach: "nix".into(),
                found: None,
                cells: vec![(0, StripCell::New), (5, StripCell::Errored)],
            },
        ];
        let Figure::Drawn { svg, .. } = crash_point_strip(&rows) else {
            panic!("not drawn")
        };
        let svg_upper = svg.to_ascii_uppercase();
        for (name, colour) in STRIP_COLOURS {
            assert!(
                svg_upper.contains(&hex(colour)),
                "{name}'s colour {} missing",
                hex(colour)
            );
        }
        for text in [
            "apt",
            "nix",
            "3 of 3000",
            "2 explored",
            "old",
            "kill never fired",
            "errored",
            "crash point index",
        ] {
            assert!(
                svg.contains(&format!(">{text}<")) || svg.contains(text),
                "text {text:?} missing"
            );
        }
        // Errored cells are crosses (paths), never a filled square of a state.
        assert!(
            svg.matches("<polyline").count() + svg.matches("<path").count() >= 4,
            "crosses are drawn as lines"
        );
        // Each cell at its own x, a few pixels wide: apt's `old` cell at 0
        // and `inconsistent` cell at 1500 of 3000 (the legend's keys are
        // above the plot, y < 30).
        let cells = |colour: (u8, u8, u8)| -> Vec<(f64, f64)> {
            svg.split("<rect")
                .skip(1)
                .filter(|r| r.to_ascii_uppercase().contains(&hex(colour)))
                .filter_map(|r| {
                    let attr = |name: &str| -> Option<f64> {
                        let rest = &r[r.find(&format!(" {name}=\""))? + name.len() + 3..];
                        rest[..rest.find('"')?].parse().ok()
                    };
                    (attr("y")? > 30.0).then_some((attr("x")?, attr("width")?))
                })
                .collect()
        };
        let colour = |c: StripCell| c.colour();
        let (old, mixed) = (cells(colour(StripCell::Old)), cells(colour(StripCell::Inconsistent)));
        assert_eq!((old.len(), mixed.len()), (1, 1), "{old:?} {mixed:?}");
        let ((x0, w0), (x1, w1)) = (old[0], mixed[0]);
        assert!(x1 > x0 + 100.0, "cells at their own x: {x0} vs {x1}");
        assert!(w0 < 20.0 && w1 < 20.0, "a cell is not the row's width: {w0}, {w1}");
        let empty = crash_point_strip(&[StripRow {
            approach: "nix".into(),
            found: Some(3),
            cells: vec![],
        }]);
        assert!(matches!(empty, Figure::NotDrawn { .. }));
    }
}
