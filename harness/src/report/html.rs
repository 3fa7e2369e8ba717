//! Renders the report's blocks as one self-contained HTML page (report.html):
//! inline CSS, inline SVG plots, no scripts and no external assets, so it
//! reads the same offline.

use super::claims::Status;
use super::plots::{approach_colour, Figure};
use super::Block;

const CSS: &str = r#"
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d1d1f; background: #fff; margin: 0; }
main { max-width: 1260px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.55em; margin: .2em 0 .3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: .15em; margin: 1.2em 0 .5em; }
h3 { font-size: 1em; margin: 0 0 .2em; }
p { margin: .35em 0 .6em; }
.meta { color: #444; font-size: 14px; }
code { font: .88em ui-monospace, "DejaVu Sans Mono", monospace; background: #f1f1f1; padding: 0 .25em; border-radius: 3px; white-space: nowrap; }
table { border-collapse: collapse; margin: .5em 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 3px 10px; text-align: left; vertical-align: top; }
thead th { background: #f4f4f4; }
tbody th { font-weight: normal; color: #333; background: #fafafa; white-space: nowrap; }
td { font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: .7em; height: .7em; border-radius: 2px; margin-right: .35em; vertical-align: baseline; }
ul { margin: .3em 0 .6em; padding-left: 1.3em; }
li { margin: .15em 0; }
.claim { border-left: 5px solid #9e9e9e; padding: 5px 12px; margin: 8px 0; background: #fafafa; }
.claim.holds { border-color: #2e7d32; } .claim.contradicted { border-color: #b71c1c; } .claim.mixed { border-color: #ef6c00; }
.claim ul { font-size: 14px; color: #333; margin-bottom: .2em; }
.claim p { margin: .2em 0; }
.badge { display: inline-block; font-size: .82em; font-weight: 600; padding: 0 .5em; border-radius: 3px; color: #fff; background: #757575; margin-right: .4em; }
.holds .badge { background: #2e7d32; } .contradicted .badge { background: #b71c1c; } .mixed .badge { background: #ef6c00; }
.uncovered { font-size: 14px; color: #555; margin: 4px 0 8px; }
.uncovered li { margin: 0; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; margin: .6em 0; }
figure { margin: 0; flex: 1 1 560px; max-width: 615px; border: 1px solid #e2e2e2; border-radius: 4px; padding: 8px 10px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-weight: 600; margin-bottom: 2px; }
.cap { font-size: 13px; color: #555; margin: 4px 0 0; }
.nodraw { font-size: 14px; color: #555; flex-basis: 100%; max-width: none; background: #fafafa; }
"#;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text and turns `code spans` into `<code>`.
pub fn inline(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(part))
            } else {
                escape(part)
            }
        })
        .collect()
}

/// A table header cell; approach columns get their plot colour as a swatch.
fn head_cell(h: &str) -> String {
    if crate::approach::by_name(h).is_some() {
        let c = approach_colour(h);
        format!(
            "<th><span class=\"swatch\" style=\"background:#{:02x}{:02x}{:02x}\"></span>{}</th>",
            c.0,
            c.1,
            c.2,
            escape(h)
        )
    } else {
        format!("<th>{}</th>", inline(h))
    }
}

pub fn render(doc: &[Block]) -> String {
    let title = doc
        .iter()
        .find_map(|b| {
            if let Block::Title(t) = b {
                Some(t.as_str())
            } else {
                None
            }
        })
        .unwrap_or("mistake-cost report");
    let mut body = String::new();
    let mut uncovered: Vec<String> = Vec::new();
    let flush = |body: &mut String, uncovered: &mut Vec<String>| {
        if !uncovered.is_empty() {
            body.push_str("<ul class=\"uncovered\">\n");
            for u in uncovered.drain(..) {
                body.push_str(&format!("<li>{u}</li>\n"));
            }
            body.push_str("</ul>\n");
        }
    };
    for (i, block) in doc.iter().enumerate() {
        if !matches!(block, Block::Claim(a) if a.status == Status::NotCovered) {
            flush(&mut body, &mut uncovered);
        }
        match block {
            Block::Title(t) => body.push_str(&format!("<h1>{}</h1>\n", inline(t))),
            Block::Heading(t) => body.push_str(&format!("<h2>{}</h2>\n", inline(t))),
            Block::Subheading(t) => body.push_str(&format!("<h3>{}</h3>\n", inline(t))),
            Block::Para(t) => {
                let class = if i < 3 { " class=\"meta\"" } else { "" };
                body.push_str(&format!("<p{class}>{}</p>\n", inline(t)))
            }
            Block::List(items) => {
                body.push_str("<ul>\n");
                for it in items {
                    body.push_str(&format!("<li>{}</li>\n", inline(it)));
                }
                body.push_str("</ul>\n");
            }
            Block::Table { head, rows } => {
                body.push_str("<table>\n<thead><tr>");
                for h in head {
                    body.push_str(&head_cell(h));
                }
                body.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    body.push_str("<tr>");
                    for (j, c) in r.iter().enumerate() {
                        if j == 0 {
                            body.push_str(&format!("<th scope=\"row\">{}</th>", inline(c)));
                        } else {
                            body.push_str(&format!("<td>{}</td>", inline(c)));
                        }
                    }
                    body.push_str("</tr>\n");
                }
                body.push_str("</tbody>\n</table>\n");
            }
            Block::Claim(a) => {
                if a.status == Status::NotCovered {
                    uncovered.push(format!(
                        "<em>{}</em> {}",
                        inline(&a.title()),
                        inline(&a.sentence)
                    ));
                    continue;
                }
                let class = match a.status {
                    Status::Holds => "holds",
                    Status::Contradicted => "contradicted",
                    Status::Mixed => "mixed",
                    Status::NotCovered => "",
                };
                body.push_str(&format!(
                    "<section class=\"claim {class}\">\n<h3>{}</h3>\n<p><span class=\"badge\">{}</span>{}</p>\n",
                    inline(&a.title()),
                    escape(&a.verdict),
                    inline(&a.sentence)
                ));
                if !a.facts.is_empty() {
                    body.push_str("<ul>\n");
                    for f in &a.facts {
                        body.push_str(&format!("<li>{}</li>\n", inline(f)));
                    }
                    body.push_str("</ul>\n");
                }
                body.push_str("</section>\n");
            }
            Block::Figures(figures) => {
                body.push_str("<div class=\"figures\">\n");
                for f in figures {
                    match f {
                        Figure::Drawn { title, svg, caption } => body.push_str(&format!(
                            "<figure>\n<figcaption>{}</figcaption>\n{}\n<p class=\"cap\">{}</p>\n</figure>\n",
                            inline(title),
                            svg_element(svg),
                            inline(caption)
                        )),
                        Figure::NotDrawn { title, reason } => body.push_str(&format!(
                            "<figure class=\"nodraw\"><figcaption>{}</figcaption><p>{}</p></figure>\n",
                            inline(title),
                            inline(reason)
                        )),
                    }
                }
                body.push_str("</div>\n");
            }
        }
    }
    flush(&mut body, &mut uncovered);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// plotters' SVG as an inline element: without an XML declaration, with a role.
fn svg_element(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].replacen("<svg", "<svg role=\"img\"", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_code_spans_kept() {
        assert_eq!(
            inline("a <b> & `x<y`"),
            "a &lt;b&gt; &amp; <code>x&lt;y</code>"
        );
        let html = render(&[Block::Title("r <1>".into()), Block::Para("p".into())]);
        assert!(html.contains("<title>r &lt;1&gt;</title>"));
        assert!(!html.contains("http"), "no external assets");
    }
}
