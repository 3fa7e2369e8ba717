//! The report's figures, drawn with plotters' SVG backend (text stays SVG
//! `<text>`, no font library): recovery time per approach (points over a
//! box), residue by kind per approach (grouped bars), and the crash-point strip.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{fmt_count, Trial};

/// A figure: drawn (an `<svg>` element), or why it was not.
#[derive(Debug, Clone)]
pub enum Figure {
    Drawn { title: String, svg: String, caption: String },
    NotDrawn { title: String, reason: String },
}

/// Colour of each known approach (points, boxes); others use [`FALLBACK_COLOURS`].
pub const APPROACH_COLOURS: [(&str, (u8, u8, u8)); 4] =
    [("apt", (0xe4, 0x1a, 0x1c)), ("pip", (0xff, 0x7f, 0x00)), ("pip-venv", (0x98, 0x4e, 0xa3)), ("nix", (0x37, 0x7e, 0xb8))];
pub const FALLBACK_COLOURS: [(u8, u8, u8); 3] = [(0xa6, 0x56, 0x28), (0xf7, 0x81, 0xbf), (0x4d, 0xaf, 0x4a)];
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
    let (r, g, b) = APPROACH_COLOURS
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| FALLBACK_COLOURS[name.bytes().map(usize::from).sum::<usize>() % FALLBACK_COLOURS.len()]);
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
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// A key (coloured square + label per entry) along the top edge.
fn legend(root: &DrawingArea<SVGBackend, Shift>, entries: &[(String, RGBColor)]) -> DrawResult<()> {
    let mut x = 70;
    for (label, colour) in entries {
        root.draw(&Rectangle::new([(x, 10), (x + 12, 22)], colour.filled())).map_err(err)?;
        root.draw(&Text::new(label.clone(), (x + 17, 16), (FONT, 13).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center))))
            .map_err(err)?;
        x += 17 + 7 * label.chars().count() as i32 + 18;
    }
    Ok(())
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
        root.draw(&Text::new(name.clone(), (px, py + 8), (FONT, 15).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top))))?;
        root.draw(&Text::new(format!("n={n}"), (px, py + 26), (FONT, 12).into_font().color(&RGBColor(90, 90, 90)).pos(Pos::new(HPos::Center, VPos::Top))))?;
    }
    Ok(())
}

/// Figure 1: recovery time per approach. Every trial is a point, jittered
/// sideways deterministically (golden-ratio steps), over a box from the
/// first to the third quartile with the median; whiskers reach min and max.
pub fn recovery_time(groups: &[(String, Vec<f64>)]) -> Figure {
    let title = "Recovery time per approach".to_string();
    if groups.iter().all(|(_, v)| v.is_empty()) {
        return Figure::NotDrawn { title, reason: "no trial measured a recovery time".into() };
    }
    let max = groups.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0_f64, f64::max);
    let (scale, unit) = if max >= 2000.0 { (1000.0, "s") } else { (1.0, "ms") };
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
            .y_label_formatter(&|v| if unit == "s" { format!("{v:.1}") } else { format!("{v:.0}") })
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
            if let Some(s) = super::stats::Summary::of(&ys) {
                let w = 0.27;
                chart
                    .draw_series([
                        PathElement::new(vec![(x, s.min), (x, s.q1)], c.stroke_width(1)),
                        PathElement::new(vec![(x, s.q3), (x, s.max)], c.stroke_width(1)),
                        PathElement::new(vec![(x - w / 2.0, s.min), (x + w / 2.0, s.min)], c.stroke_width(1)),
                        PathElement::new(vec![(x - w / 2.0, s.max), (x + w / 2.0, s.max)], c.stroke_width(1)),
                    ])
                    .map_err(err)?;
                chart.draw_series([Rectangle::new([(x - w, s.q1), (x + w, s.q3)], c.mix(0.15).filled())]).map_err(err)?;
                chart.draw_series([Rectangle::new([(x - w, s.q1), (x + w, s.q3)], c.stroke_width(2))]).map_err(err)?;
                chart.draw_series([PathElement::new(vec![(x - w, s.median), (x + w, s.median)], BLACK.stroke_width(3))]).map_err(err)?;
                chart
                    .draw_series([Text::new(
                        format!("median {}", super::fmt_ms(s.median * scale)),
                        (x, s.max + top * 0.035),
                        (FONT, 13).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(err)?;
            }
            chart
                .draw_series(ys.iter().enumerate().flat_map(|(k, y)| {
                    let jitter = (((k as f64 + 0.5) * 0.618_033_988_75).fract() - 0.5) * 0.36;
                    [Circle::new((x + jitter, *y), 5, c.filled()), Circle::new((x + jitter, *y), 5, WHITE.stroke_width(1))]
                }))
                .map_err(err)?;
        }
        let names: Vec<(String, usize)> = groups.iter().map(|(a, v)| (a.clone(), v.len())).collect();
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
        return Figure::NotDrawn { title, reason: "no trial measured its residue".into() };
    }
    let max = groups.iter().flat_map(|(_, v)| v.iter().flat_map(|k| k.iter().copied())).fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let n = groups.len() as f64;
    let drawn = svg(|root| {
        legend(root, &KINDS.iter().map(|(k, c)| (k.to_string(), rgb(*c))).collect::<Vec<_>>())?;
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
                let Some(s) = super::stats::Summary::of(&values) else { continue };
                let x0 = i as f64 - 2.0 * bar + k as f64 * bar + 0.01;
                let (x1, xc) = (x0 + bar - 0.02, x0 + (bar - 0.02) / 2.0);
                chart.draw_series([Rectangle::new([(x0, 0.0), (x1, s.median)], rgb(*colour).filled())]).map_err(err)?;
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
                        (FONT, 12).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(err)?;
            }
        }
        let names: Vec<(String, usize)> = groups.iter().map(|(a, v)| (a.clone(), v.len())).collect();
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

/// Figure 3, the crash-point outcome strip: per approach, one cell per
/// injected crash point (the trial's `fault`), coloured by outcome and
/// consistency. It needs trials whose `fault` is not `none`; a run without
/// them gets a note instead of a figure, never made-up cells.
pub fn crash_point_strip(trials: &[&Trial]) -> Figure {
    let title = "Crash-point outcome strip".to_string();
    let faulted = trials.iter().filter(|t| t.record.fault != "none").count();
    let reason = if faulted == 0 {
        "not drawn: every trial in this scenario ran with fault `none`, so there are no crash points to show. \
         Runs with injected crash points will fill this strip."
            .to_string()
    } else {
        format!(
            "not drawn: {faulted} trials with injected faults are in this scenario, but this version of the report does not draw \
             the strip yet; their outcomes and consistency are in the table above."
        )
    };
    Figure::NotDrawn { title, reason }
}
