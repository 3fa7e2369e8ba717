//! The summary's two commands: `summary` writes a study folder's pages
//! again from its data; `findings` prints the README's block, or checks a
//! file's block against it.

use std::path::Path;

use super::render::{self, findings_block, render_html, render_markdown};
use super::Summary;
use crate::error::{Error, Result};

/// `mistake-cost summary STUDY_DIR`: summary.md and summary.html again.
pub fn summary_command(dir: &Path) -> Result<i32> {
    let s = Summary::load(dir)?;
    for (name, text) in [
        ("summary.md", render_markdown(&s)),
        ("summary.html", render_html(&s)),
    ] {
        let path = dir.join(name);
        crate::export::write_atomic(&path, &text)?;
        println!("wrote {}", path.display());
    }
    Ok(crate::error::exit::OK)
}

/// `mistake-cost findings [STUDY_DIR] [--check FILE]`: prints the block,
/// or compares `FILE`'s block with it (0 equal, 1 differs or is missing).
pub fn findings_command(dir: &Path, check: Option<&Path>) -> Result<i32> {
    let block = findings_block(&Summary::load(dir)?, &dir.display().to_string());
    let Some(file) = check else {
        print!("{block}");
        return Ok(crate::error::exit::OK);
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
    match block_in(&text) {
        Some(found) if found == block => {
            println!(
                "{}: the findings block matches {}",
                file.display(),
                dir.display()
            );
            Ok(crate::error::exit::OK)
        }
        Some(found) => {
            let line = found
                .lines()
                .zip(block.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(found.lines().count().min(block.lines().count()));
            eprintln!(
                "{}: the findings block differs from `mistake-cost findings {}` (first at its line {}); replace it with that output",
                file.display(),
                dir.display(),
                line + 1
            );
            Ok(1)
        }
        None => {
            eprintln!(
                "{}: no block between `{}` and `{}`",
                file.display(),
                render::BEGIN,
                render::END
            );
            Ok(1)
        }
    }
}

/// The text from the begin marker's line through the end marker's line.
fn block_in(text: &str) -> Option<String> {
    let start = text.find(render::BEGIN)?;
    let end = start + text[start..].find(render::END)? + render::END.len();
    let end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    Some(text[start..end].to_string())
}
