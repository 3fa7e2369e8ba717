//! Renders the report's blocks as Markdown (report.md). Figures are SVG and
//! live in report.html; here each gets its title, caption, and a pointer.

use super::claims::Status;
use super::plots::Figure;
use super::Block;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(doc: &[Block]) -> String {
    let mut out = String::new();
    for block in doc {
        match block {
            Block::Title(t) => out.push_str(&format!("# {t}\n\n")),
            Block::Heading(t) => out.push_str(&format!("## {t}\n\n")),
            Block::Subheading(t) => out.push_str(&format!("### {t}\n\n")),
            Block::Para(t) => out.push_str(&format!("{t}\n\n")),
            Block::List(items) => {
                for i in items {
                    out.push_str(&format!("- {i}\n"));
                }
                out.push('\n');
            }
            Block::Table { head, rows } => {
                out.push_str(&format!(
                    "| {} |\n",
                    head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
                ));
                out.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
                for r in rows {
                    out.push_str(&format!(
                        "| {} |\n",
                        r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    ));
                }
                out.push('\n');
            }
            Block::Claim(a) => {
                if a.status == Status::NotCovered {
                    out.push_str(&format!("- *{}* {}\n\n", a.title(), a.sentence));
                    continue;
                }
                out.push_str(&format!(
                    "### {}\n\n**{}.** {}\n\n",
                    a.title(),
                    capitalise(&a.verdict),
                    a.sentence
                ));
                for f in &a.facts {
                    out.push_str(&format!("- {f}\n"));
                }
                if !a.facts.is_empty() {
                    out.push('\n');
                }
            }
            Block::Figures(figures) => {
                for f in figures {
                    match f {
                        Figure::Drawn { title, caption, .. } => out.push_str(&format!(
                            "**Figure: {title}** (an SVG plot in report.html). {caption}\n\n"
                        )),
                        Figure::NotDrawn { title, reason } => {
                            out.push_str(&format!("**Figure: {title}**: {reason}\n\n"))
                        }
                    }
                }
            }
        }
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
